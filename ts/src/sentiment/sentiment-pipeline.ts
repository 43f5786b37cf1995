/**
 * News → Sentiment messages through a scorer, with:
 * - a cache by content hash (model + title + summary), also shared by
 *   concurrent requests for the same content (one request in flight);
 * - bounded concurrency (default 4 scoring calls at once);
 * - bounded retries with exponential backoff (honouring Retry-After) for
 *   retryable failures (429, timeouts, 5xx, network, invalid output,
 *   refusals); then the item goes to `onReject` (the dead-letter path) with
 *   the reason. `process()` never throws, so one bad item never blocks others;
 * - metrics: latency, tokens, errors, cache hits/misses, rejects.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { validate } from '../contracts/codec.ts';
import { Sentiment as SentimentSchema, type DeadLetter, type News, type Sentiment } from '../contracts/messages.ts';
import { counterOnce, histogramOnce } from '../news/news-metrics.ts';
import { contentKey, memorySentimentCache, type SentimentCache } from './sentiment-cache.ts';
import { ScorerError, type ScorerErrorKind, type SentimentOutput, type SentimentScorer } from './sentiment-output.ts';

export interface RejectedNews {
  news: News;
  /** Error kind of the last attempt (rate_limit, timeout, server, invalid_output, refusal, client, ...). */
  kind: ScorerErrorKind;
  reason: string;
  attempts: number;
}

export interface SentimentPipelineOptions {
  scorer: SentimentScorer;
  logger: Logger;
  /** Dead-letter path: called once per item that could not be scored. */
  onReject: (r: RejectedNews) => void | Promise<void>;
  cache?: SentimentCache;
  /** Scoring calls at once; default 4. */
  concurrency?: number;
  /** Attempts per item including the first; default 4. */
  maxAttempts?: number;
  /** First retry delay; default 1 s; doubles per attempt. */
  backoffBaseMs?: number;
  /** Retry delay cap (also caps Retry-After); default 30 s. */
  backoffMaxMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** When given, only these tickers become Sentiment messages. */
  coins?: readonly string[];
}

export const sentimentMetrics = () => ({
  latency: histogramOnce(
    'tickcast_llm_request_seconds',
    'Latency of one sentiment scoring call (LLM request or lexicon), by model and outcome',
    ['model', 'outcome'] as const,
    [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  ),
  tokens: counterOnce('tickcast_llm_tokens_total', 'LLM tokens used, by model and kind (prompt, completion)', [
    'model',
    'kind',
  ] as const),
  errors: counterOnce('tickcast_llm_errors_total', 'Failed scoring calls, by model and kind', ['model', 'kind'] as const),
  cacheHits: counterOnce('tickcast_sentiment_cache_hits_total', 'News items scored from the content-hash cache', [
    'model',
  ] as const),
  cacheMisses: counterOnce('tickcast_sentiment_cache_misses_total', 'News items that needed a scoring call', [
    'model',
  ] as const),
  rejected: counterOnce('tickcast_sentiment_rejected_total', 'News items sent to the dead-letter path, by kind', [
    'model',
    'kind',
  ] as const),
  scores: counterOnce('tickcast_sentiment_scores_total', 'Sentiment messages produced, by model', ['model'] as const),
});

/** The Sentiment messages of one scored item: one per coin (first entry wins on duplicates). */
export function toSentiments(news: News, output: SentimentOutput, model: string, coins?: readonly string[]): Sentiment[] {
  const allowed = coins ? new Set(coins) : undefined;
  const seen = new Set<string>();
  const out: Sentiment[] = [];
  for (const c of output.coins) {
    if (seen.has(c.coin) || (allowed && !allowed.has(c.coin))) continue;
    seen.add(c.coin);
    const msg: Sentiment = {
      news_id: news.id,
      coin: c.coin,
      score: c.score,
      model,
      ts_ms: news.published_ms,
      reason: c.reason.slice(0, 500),
    };
    if (validate(SentimentSchema, msg).ok) out.push(msg);
  }
  return out;
}

type Outcome = { ok: true; output: SentimentOutput } | { ok: false; error: ScorerError; attempts: number };

export class SentimentPipeline {
  private readonly cache: SentimentCache;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly inflight = new Map<string, Promise<Outcome>>();
  private readonly waiters: (() => void)[] = [];
  private active = 0;
  private readonly m = sentimentMetrics();

  constructor(private readonly o: SentimentPipelineOptions) {
    this.cache = o.cache ?? memorySentimentCache();
    this.concurrency = o.concurrency ?? 4;
    if (!(this.concurrency >= 1)) throw new RangeError('concurrency must be >= 1');
    this.maxAttempts = Math.max(1, o.maxAttempts ?? 4);
    this.backoffBaseMs = o.backoffBaseMs ?? 1000;
    this.backoffMaxMs = o.backoffMaxMs ?? 30_000;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get model(): string {
    return this.o.scorer.model;
  }

  /** Scoring calls running now (never above `concurrency`). */
  get activeCalls(): number {
    return this.active;
  }

  /** Score one news item. Resolves with its Sentiment messages ([] when rejected or no coin concerned). */
  async process(news: News): Promise<Sentiment[]> {
    const output = await this.scoreContent(news);
    if (!output.ok) {
      const reason = `${output.error.kind}: ${output.error.message} (after ${output.attempts} attempt${output.attempts === 1 ? '' : 's'})`;
      this.m.rejected.inc({ model: this.model, kind: output.error.kind });
      this.o.logger.warn({ news_id: news.id, kind: output.error.kind, reason }, 'sentiment: item dead-lettered');
      try {
        await this.o.onReject({ news, kind: output.error.kind, reason, attempts: output.attempts });
      } catch (e) {
        this.o.logger.error({ err: e, news_id: news.id }, 'sentiment: reject callback failed');
      }
      return [];
    }
    const msgs = toSentiments(news, output.output, this.model, this.o.coins);
    if (msgs.length) this.m.scores.inc({ model: this.model }, msgs.length);
    return msgs;
  }

  /** The scorer's output for an item's content (cache → in-flight → scoring with retries). */
  async scoreContent(news: Pick<News, 'title' | 'summary'>): Promise<Outcome> {
    const key = contentKey(this.model, news.title, news.summary);
    const cached = this.cache.get(key);
    if (cached) {
      this.m.cacheHits.inc({ model: this.model });
      return { ok: true, output: cached };
    }
    const pending = this.inflight.get(key);
    if (pending) {
      this.m.cacheHits.inc({ model: this.model });
      return pending;
    }
    this.m.cacheMisses.inc({ model: this.model });
    const p = this.scoreWithRetries(news).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    const out = await p;
    if (out.ok) this.cache.set(key, out.output);
    return out;
  }

  private async scoreWithRetries(news: Pick<News, 'title' | 'summary'>): Promise<Outcome> {
    let last: ScorerError | undefined;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      await this.acquire();
      const t0 = performance.now();
      try {
        const r = await this.o.scorer.score({ title: news.title, summary: news.summary });
        this.m.latency.observe({ model: this.model, outcome: 'ok' }, (performance.now() - t0) / 1000);
        this.countTokens(r.usage);
        return { ok: true, output: r.output };
      } catch (e) {
        const err = e instanceof ScorerError ? e : new ScorerError('client', (e as Error)?.message ?? String(e), false);
        this.m.latency.observe({ model: this.model, outcome: err.kind }, (performance.now() - t0) / 1000);
        this.m.errors.inc({ model: this.model, kind: err.kind });
        if (err.usage) this.countTokens(err.usage);
        last = err;
      } finally {
        this.release();
      }
      if (!last.retryable || attempt === this.maxAttempts) return { ok: false, error: last, attempts: attempt };
      const backoff = Math.min(this.backoffMaxMs, Math.max(this.backoffBaseMs * 2 ** (attempt - 1), last.retryAfterMs ?? 0));
      this.o.logger.debug({ kind: last.kind, attempt, backoff }, 'sentiment: retrying');
      await this.sleep(backoff);
    }
    return { ok: false, error: last ?? new ScorerError('client', 'no attempt made', false), attempts: this.maxAttempts };
  }

  private countTokens(u: { prompt_tokens: number; completion_tokens: number }): void {
    if (u.prompt_tokens) this.m.tokens.inc({ model: this.model, kind: 'prompt' }, u.prompt_tokens);
    if (u.completion_tokens) this.m.tokens.inc({ model: this.model, kind: 'completion' }, u.completion_tokens);
  }

  private async acquire(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
    // The releaser handed its slot over: `active` stays the same.
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }
}

/** A rejected item as the `dlq.news` message of the contract (topic `news`, source `sentiment`). */
export function rejectedToDeadLetter(r: RejectedNews, nowMs: number): DeadLetter {
  return {
    topic: 'news',
    payload: JSON.stringify(r.news).slice(0, 64 * 1024),
    reason: r.reason,
    source: 'sentiment',
    ts_ms: Math.floor(nowMs),
  };
}
