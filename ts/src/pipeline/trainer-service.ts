/**
 * The trainer service of the embedded run: when a pair has no production
 * model (of a target: price, volatility, range, direction), train one in the background (from the feature store when it holds
 * enough history, else from the bundled real candle sample) and promote it if
 * it beats the persistence baseline. The predictor picks it up without a
 * restart. In production the trainer runs as `tickcast train` (CronJob/Job).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Service } from '../services/runner.ts';
import type { Config } from '../config/config.ts';
import { bootstrapModel, bootstrapOtherTargets } from '../training/bootstrap.ts';
import { registryOf } from '../registry/index.ts';

export const BUNDLED_CANDLES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../data/sample/candles');

export function trainerService(config: Config): Service {
  let running: Promise<void> | null = null;
  return {
    name: 'trainer',
    async start(ctx) {
      running = (async () => {
        const registry = registryOf(config);
        try {
          const stores = await ctx.stores();
          // The price model of every pair first (the predictions stream waits for it), then the other targets.
          for (const pair of config.pairs) {
            if (ctx.signal.aborted) return;
            ctx.logger.info({ pair }, 'checking for a production model (training one on the bundled sample if none)');
            const out = await bootstrapModel({ registry, stores, pair, sampleDir: BUNDLED_CANDLES, logger: ctx.logger });
            ctx.logger.info({ pair, outcome: out.kind, ...(out.kind === 'trained' ? { production: out.production } : {}), ...(out.kind === 'exists' ? { version: out.version } : {}), ...(out.kind === 'no_data' ? { reason: out.reason } : {}) }, 'model bootstrap done');
          }
          for (const pair of config.pairs) {
            if (ctx.signal.aborted) return;
            const production = await bootstrapOtherTargets({ registry, stores, pair, sampleDir: BUNDLED_CANDLES, logger: ctx.logger });
            ctx.logger.info({ pair, production }, 'target models bootstrap done (volatility, range, direction)');
          }
        } catch (err) {
          ctx.logger.error({ err }, 'model bootstrap failed');
        } finally {
          await registry.close();
        }
      })();
    },
    async stop() {
      // A training run in progress finishes on its own; shutdown waits for it a little, not for ever.
      await Promise.race([running, new Promise((r) => setTimeout(r, 5000).unref())]);
    },
  };
}
