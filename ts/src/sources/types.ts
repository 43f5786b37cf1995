/**
 * The interface every exchange trade source implements, independent of the bus.
 * A service wires a source to the `trades` stream (and its rejects to `dlq.trades`).
 */
import type { Trade, TradeHeartbeat } from '../contracts/messages.ts';

/** Where a source delivers its output. */
export interface TradeSink {
  /**
   * A batch of validated trades, in exchange order per pair. The source awaits the
   * promise before it delivers the next batch (back-pressure).
   */
  trades(batch: Trade[]): Promise<void>;
  /** Input that did not become a trade: the raw text as received and why (`<kind>: <detail>`). */
  reject(raw: string, reason: string): void;
  /**
   * The source's event clock for a pair (see TradeHeartbeat), in order with the
   * trades: sent only once every trade before it is delivered. Optional: a sink
   * that has no use for it (a backfill, a collector) leaves it out.
   */
  heartbeat?(hb: TradeHeartbeat): Promise<void>;
  /**
   * A sink with a bounded buffer: true while it is full. A live source that
   * cannot wait (an exchange connection) then stops reading and, once
   * `whenRoom` resolves, fetches what it missed from the exchange's history.
   */
  full?(): boolean;
  /** Resolves when a full sink has room again. */
  whenRoom?(): Promise<void>;
}

export interface TradeSource {
  /** Short label, used in logs and in metric labels (`kraken-ws`, `binance-ws`, `replay`, ...). */
  readonly name: string;
  /**
   * Produce into `sink` until the source ends: a finite source (file, backfill) at the end
   * of its input, a live source after stop(). Rejects only on an unrecoverable error
   * (e.g. a file that cannot be read, an exchange error that retrying cannot fix).
   */
  run(sink: TradeSink): Promise<void>;
  /** Ask the source to end; resolves once run() has returned. Idempotent. */
  stop(): Promise<void>;
}

/** Wall clock in epoch ms (injectable for tests). */
export type Clock = () => number;
/** Wait `ms`; resolves early (without throwing) when `signal` aborts. Injectable for tests. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const systemClock: Clock = () => Date.now();

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** A sink that collects everything; handy for CLIs and tests. */
export class CollectingSink implements TradeSink {
  readonly received: Trade[] = [];
  readonly rejected: { raw: string; reason: string }[] = [];
  async trades(batch: Trade[]): Promise<void> {
    for (const t of batch) this.received.push(t);
  }
  reject(raw: string, reason: string): void {
    this.rejected.push({ raw, reason });
  }
}
