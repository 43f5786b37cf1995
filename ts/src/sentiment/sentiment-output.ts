/**
 * What a sentiment scorer (LLM or lexicon) answers for one news item: one
 * TypeBox schema gives the static type, the runtime validator of LLM output,
 * and (stripped to the keywords strict structured output accepts) the JSON
 * schema sent as `response_format`.
 *
 * - `overall`: the item's market sentiment in [-1, 1] (used by the evaluation,
 *   whose datasets are labelled per headline, not per coin);
 * - `coins`: one entry per coin the item concerns (ticker, score in [-1, 1], a
 *   one-line reason); coins not concerned are omitted.
 */
import { Type, type Static, type TSchema } from '../contracts/typebox.ts';

export const CoinScore = Type.Object(
  {
    coin: Type.String({ pattern: '^[A-Z0-9]{2,16}$', description: 'Coin ticker in upper case, e.g. BTC, ETH, SOL' }),
    score: Type.Number({
      minimum: -1,
      maximum: 1,
      description: 'Sentiment for this coin from -1 (very bearish) to 1 (very bullish); 0 neutral',
    }),
    reason: Type.String({ minLength: 1, maxLength: 300, description: 'One line: why this score' }),
  },
  { additionalProperties: false },
);
export type CoinScore = Static<typeof CoinScore>;

export const SentimentOutput = Type.Object(
  {
    overall: Type.Number({
      minimum: -1,
      maximum: 1,
      description: 'Overall market sentiment of the item from -1 (very bearish) to 1 (very bullish); 0 neutral',
    }),
    coins: Type.Array(CoinScore, {
      maxItems: 20,
      description: 'Only the coins the item concerns; omit coins it does not concern; empty when none',
    }),
  },
  { $id: 'SentimentOutput', additionalProperties: false },
);
export type SentimentOutput = Static<typeof SentimentOutput>;

const WIRE_KEYS = new Set(['type', 'properties', 'required', 'items', 'additionalProperties', 'description', 'enum']);

/**
 * The JSON schema for `response_format: { type: 'json_schema', strict: true }`:
 * the TypeBox schema reduced to the keywords every OpenAI-compatible server
 * accepts in strict mode (bounds are checked afterwards by the validator and
 * are stated in the descriptions). Every object lists all its properties as
 * required and forbids others, as strict mode demands.
 */
export function strictWireSchema(schema: TSchema): Record<string, unknown> {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (!WIRE_KEYS.has(k)) continue;
      if (k === 'properties') {
        out[k] = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([pk, pv]) => [pk, walk(pv)]));
      } else out[k] = walk(v);
    }
    if (out.type === 'object' && out.properties) {
      out.required = Object.keys(out.properties as object);
      out.additionalProperties = false;
    }
    return out;
  };
  return walk(JSON.parse(JSON.stringify(schema))) as Record<string, unknown>;
}

/** Token usage of one scoring call (0 for the lexicon). */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface ScoreRequest {
  title: string;
  summary: string;
}

export interface ScoreResult {
  output: SentimentOutput;
  usage: TokenUsage;
}

export type ScorerErrorKind =
  | 'rate_limit'
  | 'timeout'
  | 'server'
  | 'network'
  | 'invalid_output'
  | 'refusal'
  | 'client';

/** A failed scoring call, with whether trying again may help. */
export class ScorerError extends Error {
  /** Tokens the failed call still used (an invalid answer is paid for too). */
  usage?: TokenUsage;
  constructor(
    readonly kind: ScorerErrorKind,
    message: string,
    readonly retryable: boolean,
    /** Server's Retry-After, when it sent one (ms). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ScorerError';
  }
}

/** One scoring backend: an LLM through the openai SDK, or the lexicon. One call = at most one request. */
export interface SentimentScorer {
  /** Model name written into `Sentiment.model` (e.g. `gpt-4o-mini`, `lexicon-v1`). */
  readonly model: string;
  readonly kind: 'llm' | 'lexicon';
  score(req: ScoreRequest): Promise<ScoreResult>;
}
