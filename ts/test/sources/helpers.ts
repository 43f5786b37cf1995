/** Shared bits of the source tests. */
import { pino } from 'pino';
import type { Trade } from '../../src/contracts/messages.ts';
import type { TradeSink } from '../../src/sources/types.ts';
import type { TapeTrade } from '../fixtures/kraken-tape.ts';

export const silentLogger = pino({ level: process.env.TICKCAST_TEST_LOG ?? 'silent' });

/** The trade a tape entry must become, written out plainly (independent of the parsers). */
export function expectedTrade(t: TapeTrade): Trade {
  return { exchange: 'kraken', pair: t.pair, trade_id: String(t.id), price: Number(t.price), qty: Number(t.qty), side: t.side, ts_ms: Math.floor(t.us / 1000) };
}

/** Collects output and lets a test wait for a condition on it. */
export class WaitingSink implements TradeSink {
  readonly received: Trade[] = [];
  readonly rejected: { raw: string; reason: string }[] = [];
  private waiters: { cond: () => boolean; resolve: () => void }[] = [];

  async trades(batch: Trade[]): Promise<void> {
    this.received.push(...batch);
    this.check();
  }
  reject(raw: string, reason: string): void {
    this.rejected.push({ raw, reason });
    this.check();
  }
  /** Resolves when cond() holds; rejects with `what` after timeoutMs (a hang guard, not a timing assertion). */
  until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; received ${this.received.length}, rejected ${this.rejected.length}`)), timeoutMs);
      this.waiters.push({ cond, resolve: () => (clearTimeout(t), resolve()) });
    });
  }
  private check(): void {
    this.waiters = this.waiters.filter((w) => (w.cond() ? (w.resolve(), false) : true));
  }
}

export const byPair = (trades: Trade[], pair: string): Trade[] => trades.filter((t) => t.pair === pair);
