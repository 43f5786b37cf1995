/**
 * An LLM sentiment scorer through the official `openai` SDK: chat completions
 * with strict structured output (`response_format: json_schema`), so it works
 * with OpenAI and OpenAI-compatible servers (Ollama, vLLM, llama.cpp server).
 * One `score()` call makes exactly one HTTP request (SDK retries off): retries,
 * backoff and dead-lettering belong to the pipeline. The answer is validated
 * against the TypeBox `SentimentOutput` schema; anything else is a ScorerError.
 */
import OpenAI from 'openai';
import { validate } from '../contracts/codec.ts';
import {
  ScorerError,
  SentimentOutput,
  strictWireSchema,
  type ScoreRequest,
  type ScoreResult,
  type SentimentScorer,
} from './sentiment-output.ts';

export interface LlmScorerOptions {
  /** e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1 (Ollama). */
  baseURL: string;
  model: string;
  /** Some local servers ignore the key; the SDK still requires a string. */
  apiKey?: string;
  /** Per-request timeout (ms); default 30 s. */
  timeoutMs?: number;
  /** Most output tokens; default 400. */
  maxTokens?: number;
  /** Coins the model may name; listed in the prompt. */
  coins?: readonly string[];
}

export const SYSTEM_PROMPT = (coins: readonly string[]) =>
  [
    'You rate the market sentiment of one crypto/finance news item for traders.',
    'Answer only with JSON matching the schema.',
    '"overall": sentiment of the item for the market from -1 (very bearish) to 1 (very bullish), 0 if neutral or unclear.',
    '"coins": one entry per cryptocurrency the item is about, with its upper-case ticker, a score from -1 to 1 for that coin\'s price, and a one-line reason.',
    'Omit coins the item does not concern; use an empty list when it concerns none.',
    `Prefer these tickers: ${coins.join(', ')}.`,
  ].join('\n');

const WIRE_SCHEMA = strictWireSchema(SentimentOutput);

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const v = headers?.get('retry-after');
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const d = Date.parse(v);
  return Number.isFinite(d) ? Math.max(0, d - Date.now()) : undefined;
}

/** Map an SDK error to a ScorerError. */
export function scorerErrorOf(e: unknown): ScorerError {
  if (e instanceof ScorerError) return e;
  if (e instanceof OpenAI.APIConnectionTimeoutError) return new ScorerError('timeout', 'request timed out', true);
  if (e instanceof OpenAI.APIConnectionError) return new ScorerError('network', e.message, true);
  if (e instanceof OpenAI.RateLimitError) {
    return new ScorerError('rate_limit', `HTTP 429: ${e.message}`, true, retryAfterMs(e.headers));
  }
  if (e instanceof OpenAI.APIError) {
    const st = e.status ?? 0;
    if (st >= 500 || st === 408 || st === 409) return new ScorerError('server', `HTTP ${st}: ${e.message}`, true);
    return new ScorerError('client', `HTTP ${st}: ${e.message}`, false);
  }
  return new ScorerError('network', (e as Error)?.message ?? String(e), true);
}

/** Validate the assistant's text against SentimentOutput (tickers upper-cased first). */
export function parseSentimentOutput(content: string): SentimentOutput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (e) {
    throw new ScorerError('invalid_output', `malformed JSON: ${(e as Error).message}`, true);
  }
  const coins = (parsed as { coins?: unknown })?.coins;
  if (Array.isArray(coins)) {
    for (const c of coins) {
      if (c && typeof c === 'object' && typeof (c as { coin?: unknown }).coin === 'string') {
        (c as { coin: string }).coin = (c as { coin: string }).coin.trim().toUpperCase();
      }
    }
  }
  const v = validate(SentimentOutput, parsed);
  if (!v.ok) throw new ScorerError('invalid_output', v.reason, true);
  return v.value;
}

export function llmScorer(o: LlmScorerOptions): SentimentScorer {
  const client = new OpenAI({
    baseURL: o.baseURL,
    apiKey: o.apiKey || 'not-needed',
    timeout: o.timeoutMs ?? 30_000,
    maxRetries: 0,
  });
  const coins = o.coins ?? ['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'BNB', 'LTC'];
  const system = SYSTEM_PROMPT(coins);
  return {
    model: o.model,
    kind: 'llm',
    async score(req: ScoreRequest): Promise<ScoreResult> {
      let res: OpenAI.Chat.Completions.ChatCompletion;
      try {
        res = await client.chat.completions.create({
          model: o.model,
          temperature: 0,
          max_tokens: o.maxTokens ?? 400,
          messages: [
            { role: 'system', content: system },
            { role: 'user', content: `Title: ${req.title}\nSummary: ${req.summary || '(none)'}` },
          ],
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'news_sentiment', strict: true, schema: WIRE_SCHEMA },
          },
        });
      } catch (e) {
        throw scorerErrorOf(e);
      }
      const choice = res.choices[0];
      const usage = {
        prompt_tokens: res.usage?.prompt_tokens ?? 0,
        completion_tokens: res.usage?.completion_tokens ?? 0,
      };
      try {
        if (!choice) throw new ScorerError('invalid_output', 'no choices in response', true);
        const msg = choice.message;
        if (msg.refusal) throw new ScorerError('refusal', `refused: ${msg.refusal.slice(0, 200)}`, true);
        if (choice.finish_reason === 'length') throw new ScorerError('invalid_output', 'output cut at max_tokens', true);
        if (choice.finish_reason === 'content_filter') throw new ScorerError('refusal', 'content filter', true);
        if (typeof msg.content !== 'string' || msg.content.trim() === '') {
          throw new ScorerError('invalid_output', 'empty content', true);
        }
        return { output: parseSentimentOutput(msg.content), usage };
      } catch (e) {
        const err = scorerErrorOf(e);
        err.usage = usage;
        throw err;
      }
    },
  };
}
