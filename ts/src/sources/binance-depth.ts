/**
 * Binance spot order books: the `<symbol>@depth@100ms` diff stream (combined endpoint) plus the
 * REST snapshot `GET /api/v3/depth?symbol=&limit=`, synchronised by Binance's rules in the Rust
 * book (@tickcast/book BinanceDepthBook): events are buffered until a snapshot is loaded, events
 * with `u <= lastUpdateId` dropped, the first applied one must straddle `lastUpdateId + 1`, then
 * every `U` must be the previous `u + 1`. A gap (or a snapshot older than the stream) fetches a
 * new snapshot; a disconnect ends the books. Closed minutes of book features go out as
 * BookFeatures (event time `E` is the clock).
 *
 * `BinanceBooks` is the pure part (frames and snapshots in, messages and snapshot requests
 * out); `BinanceDepthSource` is the I/O around it.
 */
import type { Logger } from 'pino';
import { BinanceDepthBook } from '@tickcast/book';
import type { BookFeatures } from '../contracts/messages.ts';
import { backoffDelayMs, type BackoffOptions } from './backoff.ts';
import { BINANCE_EXCHANGE, BINANCE_WS_URL } from './binance.ts';
import { BINANCE_PRECISION, parseDepthDiff, parseDepthSnapshot, type DepthSnapshot } from './binance-depth-frames.ts';
import { bookMessage, bookMessagesTotal, bookResyncsTotal, type BookSink } from './book-output.ts';
import { reconnectsTotal } from './metrics.ts';
import { binanceStreamSymbol, normalizeBinanceSymbol } from './pairs.ts';
import { realSleep, systemClock, type Clock, type Sleep } from './types.ts';
import { WsConnection } from './ws-connection.ts';

export const BINANCE_REST_URL = 'https://api.binance.com';

export interface BinanceBookStep {
  messages: BookFeatures[];
  /** Pairs that need a (new) REST snapshot. */
  needSnapshot: string[];
  rejects: string[];
  /** Event time of the frame, when it was a depth event. */
  eventMs?: number;
}

/** The books of the followed pairs (pure). */
export class BinanceBooks {
  private readonly books = new Map<string, BinanceDepthBook>();
  /** Pairs with a snapshot request outstanding. */
  readonly pending = new Set<string>();

  constructor(readonly pairs: readonly string[]) {
    for (const p of pairs) this.books.set(p, new BinanceDepthBook({ pricePrecision: BINANCE_PRECISION, qtyPrecision: BINANCE_PRECISION }));
  }

  book(pair: string): BinanceDepthBook | undefined {
    return this.books.get(pair);
  }

  private step(): BinanceBookStep {
    return { messages: [], needSnapshot: [], rejects: [] };
  }

  private drain(pair: string, n: number, step: BinanceBookStep): void {
    if (n > 0) for (const m of this.books.get(pair)!.drainMinutes()) step.messages.push(bookMessage(BINANCE_EXCHANGE, pair, m));
  }

  private want(pair: string, step: BinanceBookStep): void {
    if (!this.pending.has(pair)) {
      this.pending.add(pair);
      step.needSnapshot.push(pair);
    }
  }

  /** One frame of the combined stream. */
  onFrame(text: string): BinanceBookStep {
    const step = this.step();
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      step.rejects.push(`malformed_json: ${(e as Error).message}`);
      return step;
    }
    if (typeof msg === 'object' && msg !== null && 'result' in msg && 'id' in msg) return step; // ack
    const p = parseDepthDiff(msg);
    if (!p.ok) {
      step.rejects.push(`bad_frame: ${p.detail}`);
      return step;
    }
    const d = p.value;
    const pair = normalizeBinanceSymbol(d.symbol);
    const book = pair === null ? undefined : this.books.get(pair);
    if (pair === null || !book) {
      step.rejects.push(`unknown_pair: depth for ${d.symbol}`);
      return step;
    }
    let outcome: string;
    try {
      outcome = book.onDiff(d.eventMs, d.firstId, d.lastId, d.bids, d.asks);
    } catch (e) {
      step.rejects.push(`bad_frame: ${pair} ${(e as Error).message}`);
      this.drain(pair, 1, step);
      if (!book.synced) this.want(pair, step);
      return step;
    }
    if (outcome === 'applied') bookMessagesTotal().inc({ source: 'binance-depth', pair });
    if (outcome === 'gap') bookResyncsTotal().inc({ source: 'binance-depth', pair, cause: 'gap' });
    if (outcome === 'buffered' || outcome === 'gap') this.want(pair, step);
    this.drain(pair, book.advance(d.eventMs), step);
    step.eventMs = d.eventMs;
    return step;
  }

  /** A REST snapshot for a pair, received when the stream was at `tMs`. */
  onSnapshot(pair: string, tMs: number, s: DepthSnapshot): BinanceBookStep {
    const step = this.step();
    this.pending.delete(pair);
    const book = this.books.get(pair)!;
    const r = book.onSnapshot(tMs, s.lastUpdateId, s.bids, s.asks);
    if (r !== 'synced') {
      bookResyncsTotal().inc({ source: 'binance-depth', pair, cause: r });
      this.want(pair, step);
    }
    this.drain(pair, 1, step);
    return step;
  }

  /** The stream was lost at `tMs`: every book ends. */
  invalidateAll(tMs: number): BookFeatures[] {
    const step = this.step();
    for (const [pair, b] of this.books) this.drain(pair, b.invalidate(tMs), step);
    this.pending.clear();
    return step.messages;
  }
}

export interface BinanceDepthSourceOptions {
  pairs: string[];
  logger: Logger;
  /** WebSocket base (default wss://stream.binance.com:9443). */
  url?: string;
  /** REST base (default https://api.binance.com). */
  restBaseUrl?: string;
  /** Snapshot depth (`limit`), default 1000. */
  snapshotLimit?: number;
  deadAfterMs?: number;
  backoff?: BackoffOptions;
  clock?: Clock;
  sleep?: Sleep;
  random?: () => number;
  fetch?: typeof fetch;
  sourceName?: string;
}

export class BinanceDepthSource {
  readonly name: string;
  readonly books: BinanceBooks;
  readonly stats = { connections: 0, snapshots: 0 };
  private readonly abort = new AbortController();
  private conn: WsConnection | null = null;
  private running: Promise<void> | null = null;
  private readonly clock: Clock;
  /** Event time of the latest frame (Binance's clock). */
  private lastEventMs = 0;

  constructor(private readonly opts: BinanceDepthSourceOptions) {
    this.name = opts.sourceName ?? 'binance-depth';
    this.clock = opts.clock ?? systemClock;
    for (const p of opts.pairs) if (normalizeBinanceSymbol(binanceStreamSymbol(p)) !== p) throw new Error(`BinanceDepthSource: pair ${p} is not in our form (BASE/QUOTE)`);
    this.books = new BinanceBooks(opts.pairs);
  }

  get streamUrl(): string {
    const base = (this.opts.url ?? BINANCE_WS_URL).replace(/\/+$/, '');
    return `${base}/stream?streams=${this.opts.pairs.map((p) => `${binanceStreamSymbol(p)}@depth@100ms`).join('/')}`;
  }

  run(sink: BookSink): Promise<void> {
    this.running ??= this.loop(sink);
    return this.running;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.conn?.close('stopped');
    await this.running?.catch(() => undefined);
  }

  private async loop(sink: BookSink): Promise<void> {
    const sleep = this.opts.sleep ?? realSleep;
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      let cause = 'connect_failed';
      let detail = '';
      try {
        this.conn = await WsConnection.open(this.streamUrl, { deadAfterMs: this.opts.deadAfterMs ?? 60_000 });
        this.stats.connections++;
        attempt = 0;
        for (;;) {
          const ev = await this.conn.next();
          if (ev.type === 'closed') {
            cause = ev.cause;
            detail = ev.detail;
            break;
          }
          sink.rawFrame?.(this.name, this.clock(), ev.text);
          await this.deliver(this.books.onFrame(ev.text), sink, ev.text);
        }
      } catch (e) {
        detail = (e as Error).message;
      } finally {
        this.conn?.close('stopped');
        this.conn = null;
      }
      const ended = this.books.invalidateAll(this.lastEventMs);
      if (ended.length) await sink.bookFeatures(ended);
      if (this.abort.signal.aborted) break;
      const delay = backoffDelayMs(attempt++, { baseMs: 500, maxMs: 30_000, ...this.opts.backoff }, this.opts.random);
      reconnectsTotal().inc({ source: this.name, cause });
      this.opts.logger.warn({ cause, detail, delay_ms: delay }, 'binance depth ws disconnected; reconnecting');
      await sleep(delay, this.abort.signal);
    }
  }

  private async deliver(step: BinanceBookStep, sink: BookSink, raw: string): Promise<void> {
    for (const r of step.rejects) sink.reject(raw, r);
    if (step.eventMs !== undefined) this.lastEventMs = Math.max(this.lastEventMs, step.eventMs);
    for (const pair of step.needSnapshot) void this.snapshot(pair, sink);
    if (step.messages.length) await sink.bookFeatures(step.messages);
  }

  /** Fetch a REST snapshot for a pair (retried with backoff) and load it. */
  private async snapshot(pair: string, sink: BookSink): Promise<void> {
    const sleep = this.opts.sleep ?? realSleep;
    const base = (this.opts.restBaseUrl ?? BINANCE_REST_URL).replace(/\/+$/, '');
    const url = `${base}/api/v3/depth?symbol=${binanceStreamSymbol(pair).toUpperCase()}&limit=${this.opts.snapshotLimit ?? 1000}`;
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      try {
        const res = await (this.opts.fetch ?? fetch)(url, { signal: this.abort.signal });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const text = await res.text();
        sink.rawFrame?.(`${this.name}-snapshot:${pair}`, this.clock(), text);
        const p = parseDepthSnapshot(JSON.parse(text));
        if (!p.ok) throw new Error(`bad snapshot: ${p.detail}`);
        this.stats.snapshots++;
        await this.deliver(this.books.onSnapshot(pair, this.lastEventMs, p.value), sink, text);
        return;
      } catch (e) {
        if (this.abort.signal.aborted) return;
        const delay = backoffDelayMs(attempt, { baseMs: 250, maxMs: 10_000 }, this.opts.random);
        this.opts.logger.warn({ pair, err: (e as Error).message, delay_ms: delay }, 'binance depth snapshot failed; retrying');
        await sleep(delay, this.abort.signal);
      }
    }
  }
}
