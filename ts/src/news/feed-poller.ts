/**
 * Polls a list of feeds on an interval: conditional GET, parse, drop items
 * already sent (shared cursor, so the same story in two feeds goes out once),
 * emit the rest oldest first, then commit ids + validators and save the cursor.
 *
 * Each feed has its own schedule. A failed fetch (HTTP error, timeout, network,
 * unparseable or truncated body, or a failed emit) is logged, counted in
 * `tickcast_news_fetch_errors_total{feed,kind}` and retried after an
 * exponential backoff (base·2^(failures-1), capped); the other feeds are not
 * affected. Time is injected (`clock`); `tick()` is the whole state machine
 * step and tests drive it by hand.
 */
import type { Logger } from 'pino';
import type { News } from '../contracts/messages.ts';
import { parseCryptoPanicPosts } from './cryptopanic.ts';
import { FeedFetchError, type FeedFetcher } from './feed-fetcher.ts';
import type { NewsCursor } from './news-cursor.ts';
import { newsMetrics } from './news-metrics.ts';
import type { EmitNews, FeedSpec, NewsSource } from './news-source.ts';
import { FeedParseError, parseFeedItems } from './parse-feed.ts';

export interface FeedPollerOptions {
  feeds: readonly FeedSpec[];
  fetcher: FeedFetcher;
  cursor: NewsCursor;
  /** Persists the cursor after each committed batch (e.g. saveNewsCursor to the data dir). */
  saveCursor?: (cursor: NewsCursor) => void;
  logger: Logger;
  clock?: () => number;
  /** Time between successful polls of one feed; default 60 s. */
  intervalMs?: number;
  /** Per-request timeout; default 15 s. */
  timeoutMs?: number;
  /** First retry delay after a failure; default 5 s. Doubles per consecutive failure. */
  backoffBaseMs?: number;
  /** Retry delay cap; default 15 min. */
  backoffMaxMs?: number;
  /** How often the running loop checks for due feeds; default 1 s. */
  loopMs?: number;
}

export type PollOutcome =
  | { feed: string; outcome: 'ok'; emitted: number; skipped: number }
  | { feed: string; outcome: 'not_modified' }
  | { feed: string; outcome: 'error'; kind: string; message: string; retryInMs: number };

interface FeedState {
  spec: FeedSpec;
  nextDueMs: number;
  failures: number;
  busy: boolean;
}

export class FeedPoller implements NewsSource {
  readonly name = 'feeds';
  private readonly states: FeedState[];
  private readonly pending = new Set<string>();
  private readonly clock: () => number;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly metrics = newsMetrics();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private emit: EmitNews | undefined;

  constructor(private readonly o: FeedPollerOptions) {
    const names = new Set<string>();
    for (const f of o.feeds) {
      if (names.has(f.name)) throw new Error(`duplicate feed name: ${f.name}`);
      names.add(f.name);
    }
    this.clock = o.clock ?? Date.now;
    this.intervalMs = o.intervalMs ?? 60_000;
    this.timeoutMs = o.timeoutMs ?? 15_000;
    this.backoffBaseMs = o.backoffBaseMs ?? 5_000;
    this.backoffMaxMs = o.backoffMaxMs ?? 15 * 60_000;
    this.states = o.feeds.map((spec) => ({ spec, nextDueMs: 0, failures: 0, busy: false }));
  }

  /** Feeds due at `now` (not currently being fetched). */
  dueFeeds(now: number = this.clock()): string[] {
    return this.states.filter((s) => !s.busy && s.nextDueMs <= now).map((s) => s.spec.name);
  }

  /** When each feed is next due, and its consecutive failures. */
  schedule(): Record<string, { nextDueMs: number; failures: number }> {
    return Object.fromEntries(this.states.map((s) => [s.spec.name, { nextDueMs: s.nextDueMs, failures: s.failures }]));
  }

  /** Poll every due feed concurrently; each feed's failure stays its own. */
  async tick(emit: EmitNews = this.emitOrThrow()): Promise<PollOutcome[]> {
    const now = this.clock();
    const due = this.states.filter((s) => !s.busy && s.nextDueMs <= now);
    return Promise.all(due.map((s) => this.pollState(s, emit)));
  }

  /** Poll one feed now, regardless of its schedule. */
  async pollFeed(name: string, emit: EmitNews = this.emitOrThrow()): Promise<PollOutcome> {
    const s = this.states.find((x) => x.spec.name === name);
    if (!s) throw new Error(`unknown feed: ${name}`);
    return this.pollState(s, emit);
  }

  start(emit: EmitNews): void {
    if (this.timer) return;
    this.emit = emit;
    const loop = () => {
      this.running = this.tick(emit)
        .catch((e) => this.o.logger.error({ err: e }, 'news poll loop failed'))
        .finally(() => {
          if (this.emit) this.timer = setTimeout(loop, this.o.loopMs ?? 1000);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.emit = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private emitOrThrow(): EmitNews {
    if (!this.emit) throw new Error('FeedPoller: pass an emit function or start() first');
    return this.emit;
  }

  private async pollState(s: FeedState, emit: EmitNews): Promise<PollOutcome> {
    const feed = s.spec.name;
    s.busy = true;
    let claimed: string[] = [];
    try {
      const validators = this.o.cursor.validators(feed);
      const res = await this.o.fetcher.fetch(s.spec.url, validators, this.timeoutMs);
      const now = this.clock();
      if (res.status === 'not-modified') {
        this.succeeded(s, now);
        this.metrics.fetches.inc({ feed, outcome: 'not_modified' });
        return { feed, outcome: 'not_modified' };
      }
      const parsed =
        s.spec.format === 'cryptopanic' ? parseCryptoPanicPosts(res.body, now) : parseFeedItems(res.body, feed, now);
      const fresh = new Map<string, News>();
      for (const it of parsed.items) {
        if (!this.o.cursor.has(it.id) && !this.pending.has(it.id) && !fresh.has(it.id)) fresh.set(it.id, it);
      }
      const batch = [...fresh.values()].sort((a, b) => a.published_ms - b.published_ms || (a.id < b.id ? -1 : 1));
      claimed = batch.map((n) => n.id);
      for (const id of claimed) this.pending.add(id);
      if (batch.length > 0) {
        try {
          await emit(batch);
        } catch (e) {
          throw new EmitError((e as Error).message);
        }
      }
      this.o.cursor.markSeen(claimed);
      this.o.cursor.setValidators(feed, res.validators);
      this.o.saveCursor?.(this.o.cursor);
      this.succeeded(s, this.clock());
      this.metrics.fetches.inc({ feed, outcome: 'ok' });
      if (batch.length) this.metrics.items.inc({ feed }, batch.length);
      this.o.logger.debug({ feed, emitted: batch.length, skipped: parsed.skipped }, 'news feed polled');
      return { feed, outcome: 'ok', emitted: batch.length, skipped: parsed.skipped };
    } catch (e) {
      const kind =
        e instanceof FeedFetchError || e instanceof FeedParseError ? e.kind : e instanceof EmitError ? 'emit' : 'other';
      s.failures++;
      const retryInMs = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (s.failures - 1));
      s.nextDueMs = this.clock() + retryInMs;
      this.metrics.fetchErrors.inc({ feed, kind });
      this.metrics.fetches.inc({ feed, outcome: 'error' });
      const message = (e as Error).message;
      this.o.logger.warn({ feed, kind, err: message, failures: s.failures, retryInMs }, 'news feed fetch failed; will retry');
      return { feed, outcome: 'error', kind, message, retryInMs };
    } finally {
      for (const id of claimed) this.pending.delete(id);
      s.busy = false;
    }
  }

  private succeeded(s: FeedState, now: number): void {
    s.failures = 0;
    s.nextDueMs = now + this.intervalMs;
  }
}

class EmitError extends Error {}
