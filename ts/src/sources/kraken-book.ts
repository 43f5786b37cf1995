/**
 * Kraken WebSocket v2 order books (`book` channel, depth 10 by default) for the followed pairs,
 * on a connection of their own beside the trade source (kraken-ws.ts), turned into per-minute
 * book features.
 *
 *   connect ─► subscribe `instrument` ─► precisions known ─► subscribe `book` (depth, snapshot)
 *      ▲                                                         │ every message: apply, truncate,
 *      │                                                         ▼ verify CRC32 (@tickcast/book)
 *   backoff ◄── close / dead ◄───────────────────────────── live ──mismatch──► count, unsubscribe +
 *                                                                              subscribe that pair
 *
 * Kraken v2 sends prices and quantities as JSON numbers; the checksum is rebuilt from the
 * pair's `price_precision` / `qty_precision` of the `instrument` channel. A message whose
 * checksum fails never reaches the features (the Rust book empties itself and refuses updates
 * until the new snapshot). A disconnect ends every book (features stop until the next
 * snapshot). Message time: the update's `timestamp`; snapshots (which carry none) take the
 * receive time. Minutes close on message times and, on Kraken's heartbeats, on Kraken's clock
 * estimated as the heartbeat's receive time minus the least (receive - timestamp) seen: every
 * input is a frame and its receive time, so a recording replays to the same features.
 *
 * `KrakenBooks` is the pure part (frames in, messages and resubscribe requests out);
 * `KrakenBookSource` is the I/O around it.
 */
import type { Logger } from 'pino';
import { KrakenBook } from '@tickcast/book';
import type { BookFeatures } from '../contracts/messages.ts';
import { backoffDelayMs, type BackoffOptions } from './backoff.ts';
import { bookChecksumFailuresTotal, bookMessage, bookMessagesTotal, bookResyncsTotal, type BookSink } from './book-output.ts';
import { parseKrakenBookFrame, type KrakenBookFrame, type KrakenInstrument } from './kraken-book-frames.ts';
import { KRAKEN_EXCHANGE } from './kraken-ws-frames.ts';
import { reconnectsTotal } from './metrics.ts';
import { realSleep, systemClock, type Clock, type Sleep } from './types.ts';
import { KRAKEN_WS_V2_URL } from './kraken-ws.ts';
import { WsConnection } from './ws-connection.ts';

export const KRAKEN_BOOK_DEPTHS = [10, 25, 100, 500, 1000] as const;

/** What one frame did. */
export interface KrakenBookStep {
  messages: BookFeatures[];
  /** Pairs to (re)subscribe: new precision, or a checksum failure. */
  resubscribe: string[];
  /** Refused input: `<kind>: <detail>`. */
  rejects: string[];
  /** Checksum failures in this frame, by pair. */
  failures: string[];
}

/** The books of the followed pairs (pure: no socket, no clock). */
export class KrakenBooks {
  private readonly books = new Map<string, KrakenBook>();
  private readonly precision = new Map<string, KrakenInstrument>();
  /** The least (receive ms - message timestamp ms) seen: our clock minus Kraken's. */
  clockOffsetMs: number | null = null;

  constructor(
    readonly pairs: readonly string[],
    readonly depth = 10,
  ) {
    if (!KRAKEN_BOOK_DEPTHS.includes(depth as (typeof KRAKEN_BOOK_DEPTHS)[number])) throw new Error(`kraken book depth ${depth} is not one of ${KRAKEN_BOOK_DEPTHS.join(', ')}`);
  }

  /** Pairs with a known precision. */
  get ready(): string[] {
    return this.pairs.filter((p) => this.books.has(p));
  }

  synced(pair: string): boolean {
    return this.books.get(pair)?.synced ?? false;
  }

  checksumFailures(pair: string): number {
    return this.books.get(pair)?.checksumFailures ?? 0;
  }

  /** Best `n` levels of a pair, flat `[price, qty, ...]`. */
  top(pair: string, n: number): { bids: Float64Array; asks: Float64Array } | null {
    const b = this.books.get(pair);
    return b ? { bids: b.bids(n), asks: b.asks(n) } : null;
  }

  /** One frame received at `recvMs`. */
  onFrame(text: string, recvMs: number): KrakenBookStep {
    return this.on(parseKrakenBookFrame(text), recvMs);
  }

  on(f: KrakenBookFrame, recvMs: number): KrakenBookStep {
    const step: KrakenBookStep = { messages: [], resubscribe: [], rejects: [], failures: [] };
    if (f.kind === 'reject') step.rejects.push(f.detail);
    else if (f.kind === 'heartbeat') {
      // Kraken's clock at this frame: close the minutes it has passed.
      const t = recvMs - (this.clockOffsetMs ?? 0);
      for (const [pair, b] of this.books) this.drain(pair, b, b.advance(t), step);
    } else if (f.kind === 'instruments') {
      for (const ins of f.pairs) {
        if (!this.pairs.includes(ins.symbol)) continue;
        const old = this.precision.get(ins.symbol);
        if (old && old.pricePrecision === ins.pricePrecision && old.qtyPrecision === ins.qtyPrecision) continue;
        const prev = this.books.get(ins.symbol);
        if (prev) this.drain(ins.symbol, prev, prev.invalidate(recvMs), step);
        this.precision.set(ins.symbol, ins);
        this.books.set(ins.symbol, new KrakenBook({ pricePrecision: ins.pricePrecision, qtyPrecision: ins.qtyPrecision, depth: this.depth }));
        step.resubscribe.push(ins.symbol);
      }
    } else if (f.kind === 'book') {
      for (const r of f.rejects) {
        step.rejects.push(r.detail);
        // A malformed entry of a followed pair: our book can no longer match Kraken's.
        const b = r.symbol === null ? undefined : this.books.get(r.symbol);
        if (b && r.symbol !== null) {
          this.drain(r.symbol, b, b.invalidate(recvMs), step);
          step.resubscribe.push(r.symbol);
        }
      }
      for (const d of f.data) {
        const book = this.books.get(d.symbol);
        if (!book) {
          step.rejects.push(`unknown_pair: book for ${d.symbol} (not followed, or no precision yet)`);
          continue;
        }
        if (d.tsMs !== null) {
          const off = recvMs - d.tsMs;
          if (this.clockOffsetMs === null || off < this.clockOffsetMs) this.clockOffsetMs = off;
        }
        const t = d.tsMs ?? recvMs;
        try {
          const n = book.onMessage(t, f.snapshot, d.bids, d.asks, d.checksum);
          bookMessagesTotal().inc({ source: 'kraken-book', pair: d.symbol });
          if (n > 0) this.drain(d.symbol, book, n, step);
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === 'E_NOT_SYNCED') continue; // updates between a failure and the new snapshot
          if (code === 'E_CHECKSUM_MISMATCH') step.failures.push(d.symbol);
          else step.rejects.push(`bad_frame: ${d.symbol} ${(e as Error).message}`);
          this.drain(d.symbol, book, 1, step);
          if (!step.resubscribe.includes(d.symbol)) step.resubscribe.push(d.symbol);
        }
      }
    }
    return step;
  }

  /** Closes the minutes ending at or before `tMs` (Kraken's clock) on every book. */
  advance(tMs: number): BookFeatures[] {
    const step: KrakenBookStep = { messages: [], resubscribe: [], rejects: [], failures: [] };
    for (const [pair, b] of this.books) this.drain(pair, b, b.advance(tMs), step);
    return step.messages;
  }

  /** The feed was lost at `tMs`: every book ends (a snapshot restarts it). */
  invalidateAll(tMs: number): BookFeatures[] {
    const step: KrakenBookStep = { messages: [], resubscribe: [], rejects: [], failures: [] };
    for (const [pair, b] of this.books) this.drain(pair, b, b.invalidate(tMs), step);
    return step.messages;
  }

  private drain(pair: string, book: KrakenBook, n: number, step: KrakenBookStep): void {
    if (n === 0) return;
    for (const m of book.drainMinutes()) step.messages.push(bookMessage(KRAKEN_EXCHANGE, pair, m));
  }
}

export interface KrakenBookSourceOptions {
  pairs: string[];
  logger: Logger;
  /** Subscribed depth: 10 (default), 25, 100, 500 or 1000. */
  depth?: number;
  /** Default wss://ws.kraken.com/v2. */
  url?: string;
  /** No frame for this long = dead. Default 10 s. */
  deadAfterMs?: number;
  backoff?: BackoffOptions;
  clock?: Clock;
  sleep?: Sleep;
  random?: () => number;
  /** Metric label. Default 'kraken-book'. */
  sourceName?: string;
}

export class KrakenBookSource {
  readonly name: string;
  readonly books: KrakenBooks;
  private readonly abort = new AbortController();
  private conn: WsConnection | null = null;
  private running: Promise<void> | null = null;
  private readonly clock: Clock;
  private reqId = 0;
  /** Book subscriptions sent on this connection. */
  private readonly subscribed = new Set<string>();
  /** Completed connections, resubscribes after a failure; for tests and logs. */
  readonly stats = { connections: 0, resubscribes: 0 };

  constructor(private readonly opts: KrakenBookSourceOptions) {
    this.name = opts.sourceName ?? 'kraken-book';
    this.clock = opts.clock ?? systemClock;
    this.books = new KrakenBooks(opts.pairs, opts.depth ?? 10);
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

  private kraken(): number {
    return this.clock() - (this.books.clockOffsetMs ?? 0);
  }

  private async loop(sink: BookSink): Promise<void> {
    const sleep = this.opts.sleep ?? realSleep;
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      let cause = 'connect_failed';
      let detail = '';
      try {
        this.conn = await WsConnection.open(this.opts.url ?? KRAKEN_WS_V2_URL, { deadAfterMs: this.opts.deadAfterMs ?? 10_000 });
        this.stats.connections++;
        this.subscribed.clear();
        attempt = 0;
        this.send({ method: 'subscribe', params: { channel: 'instrument', snapshot: true } });
        // Books of pairs whose precision is already known: subscribe at once.
        if (this.books.ready.length) this.subscribe(this.books.ready);
        for (;;) {
          const ev = await this.conn.next();
          if (ev.type === 'closed') {
            cause = ev.cause;
            detail = ev.detail;
            break;
          }
          await this.onFrame(ev.text, sink);
        }
      } catch (e) {
        detail = (e as Error).message;
      } finally {
        this.conn?.close('stopped');
        this.conn = null;
      }
      const ended = this.books.invalidateAll(this.kraken());
      if (ended.length) await sink.bookFeatures(ended);
      if (this.abort.signal.aborted) break;
      const delay = backoffDelayMs(attempt++, { baseMs: 500, maxMs: 30_000, ...this.opts.backoff }, this.opts.random);
      reconnectsTotal().inc({ source: this.name, cause });
      this.opts.logger.warn({ cause, detail, delay_ms: delay }, 'kraken book ws disconnected; reconnecting');
      await sleep(delay, this.abort.signal);
    }
  }

  private send(msg: Record<string, unknown>): void {
    this.conn?.send(JSON.stringify({ ...msg, req_id: ++this.reqId }));
  }

  /** Subscribes the pairs' books; a pair already subscribed is unsubscribed first (a fresh snapshot follows). */
  private subscribe(pairs: string[]): void {
    const again = pairs.filter((p) => this.subscribed.has(p));
    if (again.length) this.send({ method: 'unsubscribe', params: { channel: 'book', symbol: again, depth: this.books.depth } });
    this.send({ method: 'subscribe', params: { channel: 'book', symbol: pairs, depth: this.books.depth, snapshot: true } });
    for (const p of pairs) this.subscribed.add(p);
  }

  private async onFrame(text: string, sink: BookSink): Promise<void> {
    const recv = this.clock();
    sink.rawFrame?.(this.name, recv, text);
    const f = parseKrakenBookFrame(text);
    if (f.kind === 'other') return;
    const step = this.books.on(f, recv);
    for (const r of step.rejects) sink.reject(text, r);
    for (const pair of step.failures) {
      bookChecksumFailuresTotal().inc({ source: this.name, pair });
      this.opts.logger.warn({ pair, failures: this.books.checksumFailures(pair) }, 'kraken book checksum mismatch: resubscribing the pair');
    }
    if (step.resubscribe.length) {
      for (const pair of step.resubscribe.filter((p) => this.subscribed.has(p))) {
        this.stats.resubscribes++;
        bookResyncsTotal().inc({ source: this.name, pair, cause: step.failures.includes(pair) ? 'checksum' : f.kind === 'instruments' ? 'precision' : 'bad_frame' });
      }
      this.subscribe(step.resubscribe);
    }
    if (step.messages.length) await sink.bookFeatures(step.messages);
  }
}
