/**
 * The candles service: `trades` -> Rust aggregator -> `candles`.
 * Late trades (their window already closed) go to dlq.trades with the reason
 * and are counted: reported, never merged, never silently dropped.
 *
 * Quiet market: when a pair's trades stop, its last window must still close.
 * The service estimates the pair's event clock as the last trade's event time
 * plus the wall time elapsed since that trade arrived, and advances the
 * watermark to that minus the grace period. Live, that is the wall clock plus
 * grace; in a fast replay it never closes a window early.
 */
import type { Candle, Trade } from '../contracts/messages.ts';
import { Topics } from '../contracts/messages.ts';
import type { Service, ServiceContext } from '../services/runner.ts';
import type { Subscription } from '../bus/index.ts';
import { CandleStage, type StageOutput } from './candle-stage.ts';
import { candlesClosed, duplicateTrades, lastCandleEnd, lateTrades } from './metrics.ts';

export interface CandlesServiceOptions {
  intervalS?: number;
  graceMs?: number;
  /** How often the quiet-market check runs. Default 1000 ms; 0 disables it (tests, pure event time). */
  quietCheckMs?: number;
  /** Consumer group. Default `candles`. */
  group?: string;
  /** Wall clock (tests). */
  clock?: () => number;
}

export function candlesService(opts: CandlesServiceOptions = {}): Service {
  const stage = new CandleStage({ intervalS: opts.intervalS ?? 60, graceMs: opts.graceMs ?? 5000 });
  const clock = opts.clock ?? Date.now;
  const arrivals = new Map<string, { eventMs: number; wallMs: number }>();
  let sub: Subscription | null = null;
  let timer: NodeJS.Timeout | null = null;
  let chain: Promise<void> = Promise.resolve();
  let ctxRef: ServiceContext | null = null;

  /** Publish in the order the stage produced (one chain, so pairs stay ordered). */
  const emit = (out: StageOutput | { candles: Candle[] }): Promise<void> => {
    const ctx = ctxRef as ServiceContext;
    const job = async () => {
      if (out.candles.length > 0) {
        await ctx.bus.publish('candles', out.candles);
        for (const c of out.candles) {
          candlesClosed().inc({ pair: c.pair, filled: String(c.filled) });
          lastCandleEnd().set({ pair: c.pair }, c.window_end_ms / 1000);
          ctx.logger.info(
            { pair: c.pair, window_end: new Date(c.window_end_ms).toISOString(), close: c.close, volume: c.volume, trades: c.trade_count, filled: c.filled },
            'candle closed',
          );
        }
      }
      if ('late' in out) {
        const dead = [
          ...out.late.map((l) => ({
            t: l.trade,
            reason: `late: window starting ${new Date(l.window_start_ms).toISOString()} already closed${l.duplicate ? ' (and the trade id was seen before)' : ''}`,
          })),
          ...out.rejected.map((r) => ({ t: r.trade, reason: `rejected by aggregator: ${r.reason}` })),
        ];
        for (const l of out.late) lateTrades().inc({ pair: l.trade.pair });
        if (dead.length > 0) {
          await ctx.bus.deadLetter(
            Topics.trades.name,
            dead.map((d) => ({ key: d.t.pair, payload: JSON.stringify(d.t), reason: d.reason, source: 'candles' })),
          );
          ctx.logger.warn({ count: dead.length, first: dead[0]?.reason }, 'trades reported to dlq.trades');
        }
        if (out.duplicates > 0) duplicateTrades().inc({ pair: 'all' }, out.duplicates);
      }
    };
    chain = chain.then(job, job);
    return chain;
  };

  return {
    name: 'candles',
    async start(ctx) {
      ctxRef = ctx;
      sub = await ctx.bus.consume({
        group: opts.group ?? 'candles',
        topics: ['trades'],
        fromBeginning: true,
        handler: async (t: Trade) => {
          arrivals.set(t.pair, { eventMs: Math.max(t.ts_ms, arrivals.get(t.pair)?.eventMs ?? 0), wallMs: clock() });
          await emit(stage.push(t));
        },
      });
      const every = opts.quietCheckMs ?? 1000;
      if (every > 0) timer = setInterval(() => {
        const now = clock();
        for (const [pair, a] of arrivals) {
          const eventNow = a.eventMs + (now - a.wallMs);
          const closed = stage.advance(eventNow - stage.graceMs, pair);
          if (closed.length > 0) void emit({ candles: closed }).catch((err) => ctx.logger.error({ err }, 'publishing candles failed'));
        }
      }, every);
      timer?.unref();
      ctx.logger.info({ interval_s: stage.intervalS, grace_ms: stage.graceMs }, 'candles service consuming trades');
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await sub?.stop();
      sub = null;
      await chain.catch(() => undefined);
      const s = stage.stats();
      ctxRef?.logger.info(s, 'candles service stopped');
    },
  };
}
