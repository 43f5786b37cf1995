/**
 * `apiService`: the API as a runner Service. It serves the REST API, the
 * websocket, the docs and the dashboard on TICKCAST_API_PORT (default 8000;
 * the runner's ops port keeps its own /metrics /healthz /readyz, and the API
 * port exposes them too, so a load balancer can probe the port it routes to;
 * with API keys configured, /metrics on the API port needs a key).
 *
 * It consumes `predictions`, `candles` and `prediction-errors` from the bus
 * into the live cache and the websocket. Every API replica must see every
 * message, so each uses its own consumer group (`api-<hostname>`), starting at
 * the end of the streams; on start it warms the cache from the stores.
 * `GET /v1/models/production` reads the model registry of the configuration
 * (the folder or Elasticsearch registry the trainer and the predictor use).
 */
import { hostname } from 'node:os';
import type { Service, ServiceContext } from '../services/runner.ts';
import type { Subscription } from '../bus/index.ts';
import { LiveCache } from './live-cache.ts';
import { historyFromStore } from './history.ts';
import { bookFeaturesFromStore } from './book-features.ts';
import { apiSettingsOf } from './api-config.ts';
import { startApiServer, type ApiServer } from './api-server.ts';
import { monitoringSource } from './monitoring.ts';
import type { ProductionModelProvider } from './schemas.ts';
import { registryModels } from './production-model.ts';
import { registryOf, type ModelRegistry } from '../registry/index.ts';
import type { LiveFeed } from './api-plugin.ts';
import type { Stores } from '../stores/types.ts';

/** Rows per series and pair kept in memory for the websocket snapshot. */
const RECENT = 360;
const CANDLE_INTERVAL_S = 60;

export interface ApiServiceOptions {
  /** Where the production model comes from. Default: the model registry of the configuration (the one the predictor reads). */
  models?: ProductionModelProvider;
}

/** Fill the cache with what the stores already hold (best effort: a store failure is logged, not fatal). */
async function warm(cache: LiveCache, stores: Stores, feed: LiveFeed): Promise<void> {
  for (const pair of cache.pairs) {
    const [preds, errs, candles] = await Promise.all([
      stores.predictions.predictions.range({ pair }, { order: 'desc', limit: RECENT }),
      stores.predictions.errors.range({ pair }, { order: 'desc', limit: RECENT }),
      stores.features.candles.range({ pair, interval_s: CANDLE_INTERVAL_S }, { order: 'desc', limit: RECENT }),
    ]);
    for (const c of candles.reverse()) feed.candle(c);
    for (const p of preds.reverse()) feed.prediction(p);
    for (const e of errs.reverse()) feed.predictionError(e);
  }
}

export function apiService(opts: ApiServiceOptions = {}): Service {
  let server: ApiServer | null = null;
  let registry: ModelRegistry | null = null;
  const subs: Subscription[] = [];
  return {
    name: 'api',
    async start(ctx: ServiceContext) {
      const settings = apiSettingsOf(ctx.config);
      const stores = await ctx.stores();
      const cache = new LiveCache({ pairs: ctx.config.pairs, recent: RECENT });
      const models = opts.models ?? registryModels((registry = registryOf(ctx.config)));
      server = await startApiServer(
        {
          logger: ctx.logger,
          cache,
          history: historyFromStore(stores.predictions),
          models,
          monitoring: monitoringSource(stores.predictions),
          book: bookFeaturesFromStore(stores.features),
          staleAfterMs: settings.staleAfterMs,
          readiness: { bus: () => ctx.bus.isReady() },
          apiKeys: settings.apiKeys,
          rateLimit: settings.rateLimitPerMin > 0 ? { max: settings.rateLimitPerMin, timeWindowMs: 60_000 } : null,
          trustProxy: settings.trustProxy,
          corsOrigins: settings.corsOrigins,
          ...(settings.cursorSecret !== null ? { cursorSecret: settings.cursorSecret } : {}),
        },
        { host: settings.host, port: settings.port },
      );
      const live = server.app.live;
      try {
        await warm(cache, stores, live);
      } catch (err) {
        ctx.logger.warn({ err }, 'could not warm the live cache from the stores; it fills from the streams');
      }
      const group = `api-${hostname()}`;
      subs.push(
        await ctx.bus.consume({ group, topics: ['predictions'], handler: (m) => live.prediction(m) }),
        await ctx.bus.consume({ group: `${group}-candles`, topics: ['candles'], handler: (m) => live.candle(m) }),
        await ctx.bus.consume({ group: `${group}-errors`, topics: ['predictionErrors'], handler: (m) => live.predictionError(m) }),
      );
      ctx.logger.info(
        {
          api: server.url,
          docs: `${server.url}/docs`,
          dashboard: `${server.url}/`,
          websocket: `${server.url.replace(/^http/, 'ws')}/v1/ws`,
          api_keys: settings.apiKeys.length > 0,
          rate_limit_per_min: settings.rateLimitPerMin,
          cors_origins: settings.corsOrigins,
          trusted_proxies: settings.trustProxy,
        },
        `API on ${server.url}: docs ${server.url}/docs, dashboard ${server.url}/`,
      );
    },
    async stop() {
      await Promise.all(subs.splice(0).map((s) => s.stop()));
      await server?.close();
      server = null;
      await registry?.close();
      registry = null;
    },
  };
}
