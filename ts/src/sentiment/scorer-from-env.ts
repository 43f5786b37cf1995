/**
 * Pick the sentiment scorer from the LLM settings of the configuration
 * (ts/src/config/config.ts validates them):
 * - TICKCAST_LLM_BASE_URL (OpenAI-compatible endpoint, e.g.
 *   https://api.openai.com/v1 or http://127.0.0.1:11434/v1 for Ollama),
 * - TICKCAST_LLM_MODEL (e.g. gpt-4o-mini, llama3.1:8b),
 * - TICKCAST_LLM_API_KEY (optional for local servers),
 * - TICKCAST_LLM_TIMEOUT_MS (default 30000).
 * With no model configured (the embedded default) the lexicon scorer fills in
 * and one log line says how to configure an LLM.
 */
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../config/config.ts';
import { lexiconScorer, LEXICON_MODEL } from './lexicon-scorer.ts';
import { llmScorer } from './llm-scorer.ts';
import type { SentimentScorer } from './sentiment-output.ts';

export const LLM_HOWTO =
  'set TICKCAST_LLM_MODEL and TICKCAST_LLM_BASE_URL (any OpenAI-compatible server, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1 for Ollama) and TICKCAST_LLM_API_KEY if it needs one';

/** The LLM settings of a configuration. */
export interface LlmSettings {
  baseUrl?: string;
  model?: string;
  apiKey?: string;
  timeoutMs?: number;
}

export function llmSettingsOf(c: Config): LlmSettings {
  return {
    ...(c.llmBaseUrl ? { baseUrl: c.llmBaseUrl } : {}),
    ...(c.llmModel ? { model: c.llmModel } : {}),
    ...(c.llmApiKey ? { apiKey: c.llmApiKey } : {}),
    timeoutMs: c.llmTimeoutMs,
  };
}

/** The scorer of an environment's configuration (validated by the one schema; a wrong value throws its ConfigError). */
export function scorerFromEnv(env: Record<string, string | undefined>, logger: Logger): SentimentScorer {
  return scorerFor(llmSettingsOf(loadConfig({ env })), logger);
}

export function scorerFor(llm: LlmSettings, logger: Logger): SentimentScorer {
  const model = llm.model?.trim();
  const apiKey = llm.apiKey?.trim();
  let baseURL = llm.baseUrl?.trim();
  if (!model) {
    if (baseURL || apiKey) logger.warn('TICKCAST_LLM_BASE_URL/API_KEY set but TICKCAST_LLM_MODEL is not: using the lexicon');
    logger.info(`sentiment: no LLM configured, scoring with ${LEXICON_MODEL}; to use an LLM, ${LLM_HOWTO}`);
    return lexiconScorer();
  }
  if (!baseURL) {
    if (!apiKey) throw new Error(`TICKCAST_LLM_MODEL=${model} needs TICKCAST_LLM_BASE_URL or TICKCAST_LLM_API_KEY`);
    baseURL = 'https://api.openai.com/v1';
  }
  logger.info({ model, baseURL }, 'sentiment: scoring with an LLM');
  return llmScorer({ baseURL, model, apiKey, ...(llm.timeoutMs !== undefined ? { timeoutMs: llm.timeoutMs } : {}) });
}
