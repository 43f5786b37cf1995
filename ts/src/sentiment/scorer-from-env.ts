/**
 * Pick the sentiment scorer from the environment:
 * - TICKCAST_LLM_BASE_URL (OpenAI-compatible endpoint, e.g.
 *   https://api.openai.com/v1 or http://127.0.0.1:11434/v1 for Ollama),
 * - TICKCAST_LLM_MODEL (e.g. gpt-4o-mini, llama3.1:8b),
 * - TICKCAST_LLM_API_KEY (optional for local servers),
 * - TICKCAST_LLM_TIMEOUT_MS (optional, default 30000).
 * With no model configured (the embedded default) the lexicon scorer fills in
 * and one log line says how to configure an LLM.
 */
import type { Logger } from 'pino';
import { lexiconScorer, LEXICON_MODEL } from './lexicon-scorer.ts';
import { llmScorer } from './llm-scorer.ts';
import type { SentimentScorer } from './sentiment-output.ts';

export const LLM_HOWTO =
  'set TICKCAST_LLM_MODEL and TICKCAST_LLM_BASE_URL (any OpenAI-compatible server, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1 for Ollama) and TICKCAST_LLM_API_KEY if it needs one';

export function scorerFromEnv(env: Record<string, string | undefined>, logger: Logger): SentimentScorer {
  const model = env.TICKCAST_LLM_MODEL?.trim();
  const apiKey = env.TICKCAST_LLM_API_KEY?.trim();
  let baseURL = env.TICKCAST_LLM_BASE_URL?.trim();
  if (!model) {
    if (baseURL || apiKey) logger.warn('TICKCAST_LLM_BASE_URL/API_KEY set but TICKCAST_LLM_MODEL is not: using the lexicon');
    logger.info(`sentiment: no LLM configured, scoring with ${LEXICON_MODEL}; to use an LLM, ${LLM_HOWTO}`);
    return lexiconScorer();
  }
  if (!baseURL) {
    if (!apiKey) throw new Error(`TICKCAST_LLM_MODEL=${model} needs TICKCAST_LLM_BASE_URL or TICKCAST_LLM_API_KEY`);
    baseURL = 'https://api.openai.com/v1';
  }
  const timeout = Number(env.TICKCAST_LLM_TIMEOUT_MS ?? '');
  logger.info({ model, baseURL }, 'sentiment: scoring with an LLM');
  return llmScorer({ baseURL, model, apiKey, ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMs: timeout } : {}) });
}
