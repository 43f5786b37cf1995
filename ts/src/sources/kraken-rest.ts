/**
 * Kraken REST trades: GET /0/public/Trades?pair=XBTUSD&since=<cursor>, paged with `last`.
 * Response: {"error":[],"result":{"XXBTZUSD":[[price,volume,time,side b/s,ordertype,misc,trade_id],...],"last":"<ns>"}}.
 * `since` is exclusive: the page holds trades after the cursor; `last` is the cursor of the next page.
 *
 * The client retries with exponential backoff and jitter on rate limits
 * ("EAPI:Rate limit exceeded", "EGeneral:Too many requests", HTTP 429), on service errors
 * (HTTP 5xx, "EService:Unavailable"/"EService:Busy") and on network errors; any other
 * exchange error is final (a KrakenApiError).
 */
import type { Logger } from 'pino';
import { backoffDelayMs, type BackoffOptions } from './backoff.ts';
import { krakenRestPair, normalizeKrakenPair } from './pairs.ts';
import { restRetriesTotal, tradesTotal } from './metrics.ts';
import { checkTrade, rejectInput, secondsToUs, usToMs, type CheckOptions } from './trade-check.ts';
import { KRAKEN_EXCHANGE, type FrameReject, type SequencedTrade } from './kraken-ws-frames.ts';
import { realSleep, systemClock, type Clock, type Sleep, type TradeSink, type TradeSource } from './types.ts';

export const KRAKEN_REST_URL = 'https://api.kraken.com';

export class KrakenApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'KrakenApiError';
  }
}

export interface KrakenTradesPage {
  /** Our pair name. */
  pair: string;
  trades: SequencedTrade[];
  rejects: FrameReject[];
  /** Cursor for the next page (ns since epoch, as a decimal string). */
  last: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const RETRYABLE = ['EAPI:Rate limit exceeded', 'EGeneral:Too many requests', 'EService:Unavailable', 'EService:Busy', 'EGeneral:Temporary lockout'];

/** Parse a (successful) Trades response body. Rows that are not valid trades become rejects. */
export function parseKrakenTradesResponse(body: unknown, check: CheckOptions): KrakenTradesPage {
  if (!isObj(body)) throw new KrakenApiError('bad_response', 'response is not a JSON object');
  const errors = Array.isArray(body.error) ? body.error.map(String) : [];
  if (errors.length) throw new KrakenApiError(errors[0]!, errors.join('; '));
  const result = body.result;
  if (!isObj(result)) throw new KrakenApiError('bad_response', 'response has no result object');
  const keys = Object.keys(result).filter((k) => k !== 'last');
  if (keys.length !== 1) throw new KrakenApiError('bad_response', `expected one pair in result, got ${JSON.stringify(keys)}`);
  const key = keys[0]!;
  const pair = normalizeKrakenPair(key);
  if (!pair) throw new KrakenApiError('bad_response', `unknown pair ${key}`);
  const rows = result[key];
  if (!Array.isArray(rows)) throw new KrakenApiError('bad_response', `result.${key} is not an array`);
  const last = typeof result.last === 'string' || typeof result.last === 'number' ? String(result.last) : '';
  if (!/^\d+$/.test(last)) throw new KrakenApiError('bad_response', `bad last cursor ${JSON.stringify(result.last)}`);
  const trades: SequencedTrade[] = [];
  const rejects: FrameReject[] = [];
  for (const row of rows) {
    const raw = JSON.stringify(row);
    if (!Array.isArray(row) || row.length < 7) {
      rejects.push({ raw, kind: 'bad_frame', detail: 'trade row is not [price,volume,time,side,ordertype,misc,trade_id]' });
      continue;
    }
    const [price, qty, time, side, , , id] = row as unknown[];
    if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) {
      rejects.push({ raw, kind: 'bad_timestamp', detail: `time ${JSON.stringify(time)}` });
      continue;
    }
    if (side !== 'b' && side !== 's') {
      rejects.push({ raw, kind: 'bad_side', detail: `side ${JSON.stringify(side)}` });
      continue;
    }
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      rejects.push({ raw, kind: 'bad_trade_id', detail: `trade_id ${JSON.stringify(id)}` });
      continue;
    }
    const tsUs = secondsToUs(time);
    const c = checkTrade({ exchange: KRAKEN_EXCHANGE, pair, trade_id: id, price, qty, side: side === 'b' ? 'buy' : 'sell', ts_ms: usToMs(tsUs) }, check);
    if (!c.ok) rejects.push({ raw, kind: c.kind, detail: c.detail });
    else trades.push({ trade: c.value, seq: id, tsUs });
  }
  return { pair, trades, rejects, last };
}

export interface KrakenRestOptions {
  /** Default https://api.kraken.com (tests point it at a local server). */
  baseUrl?: string;
  logger: Logger;
  clock?: Clock;
  sleep?: Sleep;
  random?: () => number;
  /** Retry backoff; default base 1000 ms, max 30 s. */
  backoff?: BackoffOptions;
  /** Attempts per page before giving up. Default 10. */
  maxAttempts?: number;
  /** Reject trades more than this far ahead of the clock. Default 5 min. */
  maxFutureMs?: number;
  /** Per-request timeout. Default 15 s. */
  timeoutMs?: number;
  /** Metric label. Default 'kraken-rest'. */
  sourceName?: string;
}

export class KrakenRestClient {
  private readonly baseUrl: string;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly source: string;

  constructor(private readonly opts: KrakenRestOptions) {
    this.baseUrl = (opts.baseUrl ?? KRAKEN_REST_URL).replace(/\/+$/, '');
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.source = opts.sourceName ?? 'kraken-rest';
  }

  /** One page of trades after `since` (ns cursor; omitted = Kraken's most recent 1000), retried as documented above. */
  async tradesPage(pair: string, since?: string, signal?: AbortSignal): Promise<KrakenTradesPage> {
    const url = new URL(`${this.baseUrl}/0/public/Trades`);
    url.searchParams.set('pair', krakenRestPair(pair));
    if (since !== undefined) url.searchParams.set('since', since);
    const maxAttempts = this.opts.maxAttempts ?? 10;
    for (let attempt = 0; ; attempt++) {
      let cause: string;
      let detail: string;
      try {
        const res = await fetch(url, { signal: AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs ?? 15_000), ...(signal ? [signal] : [])]) });
        const text = await res.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const errors = isObj(body) && Array.isArray(body.error) ? body.error.map(String) : [];
        if (res.status === 429 || errors.some((e) => RETRYABLE.some((r) => e.startsWith(r)))) {
          cause = 'rate_limit';
          detail = `HTTP ${res.status} ${errors.join('; ')}`;
        } else if (res.status >= 500) {
          cause = 'http_5xx';
          detail = `HTTP ${res.status}`;
        } else if (res.status !== 200) {
          throw new KrakenApiError(`http_${res.status}`, `GET ${url.pathname}: HTTP ${res.status} ${text.slice(0, 200)}`);
        } else if (body === undefined) {
          cause = 'bad_body';
          detail = `unparseable body ${text.slice(0, 100)}`;
        } else {
          return parseKrakenTradesResponse(body, { nowMs: this.clock(), maxFutureMs: this.opts.maxFutureMs ?? 300_000 });
        }
      } catch (e) {
        if (e instanceof KrakenApiError) throw e;
        if (signal?.aborted) throw e;
        cause = 'network';
        detail = (e as Error).message;
      }
      if (attempt + 1 >= maxAttempts) throw new KrakenApiError('retries_exhausted', `GET ${url.pathname} ${pair}: gave up after ${maxAttempts} attempts (${cause}: ${detail})`);
      restRetriesTotal().inc({ source: this.source, cause });
      const delay = backoffDelayMs(attempt, { baseMs: 1000, maxMs: 30_000, ...this.opts.backoff }, this.random);
      this.opts.logger.warn({ pair, since, attempt, cause, detail, delay_ms: delay }, 'kraken REST retry');
      await this.sleep(delay, signal);
      if (signal?.aborted) throw new Error('aborted');
    }
  }
}

export interface KrakenBackfillOptions extends KrakenRestOptions {
  pairs: string[];
  /** Start cursor: trades strictly after this instant, epoch ms. */
  sinceMs: number;
  /** Stop after the first page that reaches this instant (epoch ms). Default: until caught up (an empty page). */
  untilMs?: number;
}

/**
 * Backfill from REST: pages each pair from `sinceMs` until caught up or `untilMs`,
 * emitting each page as a batch, de-duplicated by trade id (Kraken's ids are sequential per pair).
 */
export class KrakenRestBackfillSource implements TradeSource {
  readonly name: string;
  private readonly client: KrakenRestClient;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;

  constructor(private readonly opts: KrakenBackfillOptions) {
    this.name = opts.sourceName ?? 'kraken-rest';
    this.client = new KrakenRestClient(opts);
  }

  run(sink: TradeSink): Promise<void> {
    this.running ??= this.backfill(sink);
    return this.running;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private async backfill(sink: TradeSink): Promise<void> {
    for (const pair of this.opts.pairs) {
      let cursor = `${BigInt(Math.floor(this.opts.sinceMs)) * 1_000_000n}`;
      let lastSeq = -1;
      const untilUs = this.opts.untilMs === undefined ? Infinity : this.opts.untilMs * 1000;
      while (!this.abort.signal.aborted) {
        let page: KrakenTradesPage;
        try {
          page = await this.client.tradesPage(pair, cursor, this.abort.signal);
        } catch (e) {
          if (this.abort.signal.aborted) return;
          throw e;
        }
        for (const r of page.rejects) rejectInput(sink, this.name, r.raw, r.kind, r.detail);
        const fresh = page.trades.filter((t) => t.seq > lastSeq && t.tsUs <= untilUs).sort((a, b) => a.seq - b.seq);
        if (fresh.length) {
          lastSeq = fresh[fresh.length - 1]!.seq;
          tradesTotal().inc({ source: this.name, pair }, fresh.length);
          await sink.trades(fresh.map((t) => t.trade));
        }
        const reachedEnd = page.trades.length === 0 || page.trades.some((t) => t.tsUs >= untilUs) || BigInt(page.last) <= BigInt(cursor);
        if (reachedEnd) break;
        cursor = page.last;
      }
    }
  }
}
