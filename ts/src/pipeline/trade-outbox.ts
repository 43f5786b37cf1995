/**
 * The ingest outbox: what a trade source produced and the broker has not
 * acknowledged yet, in order, bounded. A source hands trades and heartbeats
 * to it (a TradeSink); one pump publishes them in order and, when the broker
 * is away, retries without giving up (backoff doubling up to `retryMaxMs`):
 * the outage is logged once when it starts and once when it ends (with its
 * length) and counted. Nothing is dropped because the broker is away.
 *
 * Bounded: at `capacityTrades` queued messages it is `full()`. A live source
 * then stops taking trades and heals the gap from the exchange's history once
 * `whenRoom()` resolves (below half the capacity); a file replay simply waits
 * (`trades()` resolves only when there is room).
 */
import type { Logger } from 'pino';
import type { Trade, TradeEvent, TradeHeartbeat } from '../contracts/messages.ts';
import type { TradeSink } from '../sources/types.ts';
import { realSleep, type Sleep } from '../sources/types.ts';
import { ingestOutages, ingestPublishFailures, ingestOutboxSize } from './metrics.ts';

export interface TradeOutboxOptions {
  /** Publish messages in order; throws when the broker did not take them. */
  publish: (events: TradeEvent[]) => Promise<void>;
  /** Rejected input (forwarded as is). */
  reject: (raw: string, reason: string) => void;
  logger: Logger;
  /** Messages held at most (default 100 000). */
  capacityTrades?: number;
  /** Messages per publish call (default 1000). */
  maxBatch?: number;
  /** First retry delay (default 200 ms); doubles up to retryMaxMs (default 5 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Metric label (the source). */
  source?: string;
  sleep?: Sleep;
  clock?: () => number;
}

export class TradeOutbox implements TradeSink {
  private queue: TradeEvent[] = [];
  private readonly capacity: number;
  private readonly abort = new AbortController();
  private pumping: Promise<void> | null = null;
  private outageSince: number | null = null;
  private failures = 0;
  /** add() waiting for room (below capacity); whenRoom() waiting for half. */
  private roomWaiters: (() => void)[] = [];
  private halfWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private readonly sleep: Sleep;
  private readonly clock: () => number;
  private readonly label: string;

  constructor(private readonly opts: TradeOutboxOptions) {
    this.capacity = Math.max(1, opts.capacityTrades ?? 100_000);
    this.sleep = opts.sleep ?? realSleep;
    this.clock = opts.clock ?? Date.now;
    this.label = opts.source ?? 'ingest';
  }

  trades(batch: Trade[]): Promise<void> {
    return this.add(batch);
  }

  heartbeat(hb: TradeHeartbeat): Promise<void> {
    return this.add([hb]);
  }

  reject(raw: string, reason: string): void {
    this.opts.reject(raw, reason);
  }

  full(): boolean {
    return this.queue.length >= this.capacity;
  }

  whenRoom(): Promise<void> {
    if (this.queue.length < this.capacity / 2 || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((r) => this.halfWaiters.push(r));
  }

  /** Messages waiting for the broker. */
  size(): number {
    return this.queue.length;
  }

  /** False while publishing fails (the broker is away): for readiness. */
  healthy(): boolean {
    return this.outageSince === null;
  }

  /** Resolves once everything queued so far is published (or the outbox is closed). */
  idle(): Promise<void> {
    if (this.queue.length === 0 || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stop publishing (what is queued stays unpublished); wakes every waiter. */
  close(): void {
    this.abort.abort();
    this.wake();
  }

  private async add(events: TradeEvent[]): Promise<void> {
    if (this.abort.signal.aborted) throw new Error('the trade outbox is closed');
    while (this.queue.length >= this.capacity) {
      await new Promise<void>((r) => this.roomWaiters.push(r));
      if (this.abort.signal.aborted) throw new Error('the trade outbox is closed');
    }
    for (const e of events) this.queue.push(e);
    ingestOutboxSize().set({ source: this.label }, this.queue.length);
    this.pumping ??= this.pump().finally(() => {
      this.pumping = null;
    });
  }

  private wake(): void {
    const closed = this.abort.signal.aborted;
    if (this.queue.length < this.capacity || closed) for (const r of this.roomWaiters.splice(0)) r();
    if (this.queue.length < this.capacity / 2 || closed) for (const r of this.halfWaiters.splice(0)) r();
    if (this.queue.length === 0 || closed) for (const r of this.idleWaiters.splice(0)) r();
  }

  private async pump(): Promise<void> {
    const log = this.opts.logger;
    const maxBatch = this.opts.maxBatch ?? 1000;
    const base = this.opts.retryBaseMs ?? 200;
    const max = this.opts.retryMaxMs ?? 5000;
    let attempt = 0;
    while (this.queue.length > 0 && !this.abort.signal.aborted) {
      const batch = this.queue.slice(0, maxBatch);
      try {
        await this.opts.publish(batch);
      } catch (err) {
        this.failures++;
        ingestPublishFailures().inc({ source: this.label });
        if (this.outageSince === null) {
          this.outageSince = this.clock();
          ingestOutages().inc({ source: this.label });
          log.warn({ err, queued: this.queue.length }, 'publishing trades failed (broker away?): holding them in order and retrying until it is back');
        } else log.debug({ err, attempt, queued: this.queue.length }, 'publishing trades failed again; retrying');
        await this.sleep(Math.min(max, base * 2 ** Math.min(attempt++, 20)), this.abort.signal);
        continue;
      }
      attempt = 0;
      const held = this.queue.length;
      this.queue.splice(0, batch.length);
      ingestOutboxSize().set({ source: this.label }, this.queue.length);
      if (this.outageSince !== null) {
        log.warn({ outage_ms: this.clock() - this.outageSince, failed_attempts: this.failures, held }, 'publishing trades works again: the held trades follow in order');
        this.outageSince = null;
        this.failures = 0;
      }
      this.wake();
    }
    this.wake();
  }
}
