/**
 * The features service: `candles` -> Rust feature set -> `features.technical`
 * and the feature store (candles and feature rows, upserted by natural key,
 * so a replay or a restart never duplicates).
 *
 * On the first candle of a pair it warms the pair's feature set with the
 * pair's stored candles before that candle, so features after a restart equal
 * those of an uninterrupted run.
 */
import type { Candle } from '../contracts/messages.ts';
import type { Service, ServiceContext } from '../services/runner.ts';
import type { Subscription } from '../bus/index.ts';
import { FeatureStage, DEFAULT_FEATURES } from './feature-stage.ts';
import { duplicateCandles, featureRows, lastFeatureEnd } from './metrics.ts';

export interface FeaturesServiceOptions {
  intervalS?: number;
  features?: readonly string[];
  group?: string;
}

export function featuresService(opts: FeaturesServiceOptions = {}): Service {
  const stage = new FeatureStage(opts.intervalS ?? 60, opts.features ?? DEFAULT_FEATURES);
  let sub: Subscription | null = null;
  let ctxRef: ServiceContext | null = null;

  async function onCandle(c: Candle): Promise<void> {
    const ctx = ctxRef as ServiceContext;
    const stores = await ctx.stores();
    if (!stage.knows(c.pair)) {
      const history = await stores.features.candles.range({ pair: c.pair, interval_s: c.interval_s }, { to_ms: c.window_end_ms - 1, order: 'asc' });
      const fed = stage.warm(c.pair, history);
      if (fed > 0) ctx.logger.info({ pair: c.pair, candles: fed }, 'feature set warmed from stored candles');
    }
    const res = await stores.features.candles.write([c]);
    if (res.rejected.length > 0) throw new Error(`candle not stored: ${res.rejected[0]?.error.message}`);
    const out = stage.onCandle(c);
    if (out.kind === 'duplicate') {
      duplicateCandles().inc({ pair: c.pair });
      return;
    }
    if (out.kind === 'other_interval') return;
    const row = out.row;
    const w = await stores.features.technical.write([row]);
    if (w.rejected.length > 0) throw new Error(`feature row not stored: ${w.rejected[0]?.error.message}`);
    await ctx.bus.publish('featuresTechnical', [row]);
    featureRows().inc({ pair: row.pair });
    lastFeatureEnd().set({ pair: row.pair }, row.window_end_ms / 1000);
    const ready = Object.values(row.features).filter((v) => v !== null).length;
    ctx.logger.info(
      { pair: row.pair, window_end: new Date(row.window_end_ms).toISOString(), ready: `${ready}/${stage.names.length}`, rsi_14: row.features['rsi_14'] ?? null },
      'features stored',
    );
  }

  return {
    name: 'features',
    async start(ctx) {
      ctxRef = ctx;
      sub = await ctx.bus.consume({ group: opts.group ?? 'features', topics: ['candles'], fromBeginning: true, handler: onCandle });
      ctx.logger.info({ features: stage.names.length }, 'features service consuming candles');
    },
    async stop() {
      await sub?.stop();
      sub = null;
    },
  };
}
