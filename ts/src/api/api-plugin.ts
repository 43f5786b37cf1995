/**
 * The tickcast API as a fastify plugin (STYLE.md 11): REST routes, OpenAPI
 * document and /docs, the /v1/ws websocket on the same HTTP server, the
 * dashboard page, and /healthz /readyz /metrics. `buildApi(deps)` makes a
 * fastify instance with it; only the server entry (api-server.ts) listens.
 *
 * Live data (latest prediction per pair, recent candles and errors) is served
 * from a LiveCache fed through `app.live` (the API service calls it from the
 * bus consumers); history comes from the prediction store; GET /v1/monitoring
 * (the live prediction-error summary) from a MonitoringProvider (monitoring.ts);
 * GET /v1/features/book (order-book features per minute) from the feature store
 * (book-features.ts).
 *
 * Access control (off unless configured; off in the embedded mode), decided
 * on the route that matched (access-control.ts):
 *  - apiKeys: when non-empty, every route (REST and websocket) needs the
 *    header `x-api-key: <key>` (the websocket also accepts `?api_key=<key>`,
 *    since browsers cannot set headers there), except the public ones: the
 *    dashboard page, /docs, /healthz and /readyz. /metrics then needs a key
 *    too (the ops port serves it to Prometheus).
 *  - rateLimit: per client (the verified API key, else the client address),
 *    at most `max` REST requests per `timeWindowMs`, failed authentications
 *    included; over it → 429 RATE_LIMITED with a retry-after header. Ops
 *    routes are not limited. X-Forwarded-For only from `trustProxy`.
 * Hygiene (http-hygiene.ts): security headers and a Content-Security-Policy,
 * CORS for `corsOrigins` only, 405 with `allow`, one error shape everywhere.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { apiKeyVerifier, registerAccessControl, upgradeGate, type RateLimitOptions } from './access-control.ts';
import { clientErrorHandler, codeForStatus, frameworkErrors, inlineStyleHashes, pathOf, registerSecurityHeaders, routeMethods } from './http-hygiene.ts';
import type { Logger } from 'pino';
import { register } from 'prom-client';
import type { Candle, Prediction, PredictionError } from '../contracts/messages.ts';
import { isStoreError } from '../stores/store-error.ts';
import { ApiError, ErrorBody, HIDDEN_5XX_MESSAGE, errorBody, isApiError, type ApiErrorCode } from './api-error.ts';
import { httpRequestSeconds } from './api-metrics.ts';
import type { PredictionHistory } from './history.ts';
import type { LiveCache } from './live-cache.ts';
import { MAX_CURSOR_SKIP, cursorCodec, parseTime, queryDigest } from './query-params.ts';
import type { BookFeaturesSource } from './book-features.ts';
import {
  BookQuery,
  BookReply,
  HealthReply,
  HistoryQuery,
  HistoryReply,
  LatestQuery,
  LatestReply,
  MonitoringQuery,
  MonitoringReply,
  PairsReply,
  ProductionModelInfo,
  ProductionModelQuery,
  ReadyReply,
  noModelRegistry,
  type ProductionModelProvider,
} from './schemas.ts';
import type { TypeBoxProvider } from './type-provider.ts';
import { WsHub } from './ws-hub.ts';
import { monitoringSource, type MonitoringProvider } from './monitoring.ts';

export type { RateLimitOptions } from './access-control.ts';

export interface ApiDeps {
  logger: Logger;
  cache: LiveCache;
  history: PredictionHistory;
  /** The model registry's view of the production model (default: none → 404). */
  models?: ProductionModelProvider;
  /** Where GET /v1/monitoring reads (default: the monitor running in this process, if any; else 404 NO_MONITORING). */
  monitoring?: MonitoringProvider;
  /** Where GET /v1/features/book reads (default: none → 404 NO_BOOK_FEATURES). */
  book?: BookFeaturesSource;
  /** A latest prediction older than this is flagged `stale` (default 3 minutes). */
  staleAfterMs?: number;
  /** Clock (epoch ms) for ages; injectable for tests. */
  now?: () => number;
  /** Named checks for /readyz (all must pass). */
  readiness?: Record<string, () => boolean>;
  /** Accepted API keys; empty or absent = no key needed. */
  apiKeys?: readonly string[];
  /** Per-client rate limit; absent = none. */
  rateLimit?: RateLimitOptions | null;
  /** Proxies (addresses, CIDR ranges) whose X-Forwarded-For gives the client address; default none (the header is ignored). */
  trustProxy?: readonly string[];
  /** Origins allowed to call the API from a browser page (CORS); default none (CORS off). */
  corsOrigins?: readonly string[];
  /** Secret that signs paging cursors (the same on every replica); default a random one per process. */
  cursorSecret?: string;
  /** Websocket tuning (heartbeat, slow-consumer limit, message rate, native fan-out threads): see WsHubOptions. */
  ws?: { heartbeatMs?: number; maxBufferedBytes?: number; closeGraceMs?: number; fanoutThreads?: number; maxMessagesPerSecond?: number; messageBurst?: number };
  /** Version shown in the OpenAPI document. */
  version?: string;
}

/** How live messages enter the API: cache them, then push them to websocket subscribers. */
export interface LiveFeed {
  prediction(p: Prediction): void;
  candle(c: Candle): void;
  predictionError(e: PredictionError): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Feed live messages to the API (cache + websocket push). */
    live: LiveFeed;
    /** The websocket hub of /v1/ws. */
    wsHub: WsHub;
  }
}

const here = dirname(fileURLToPath(import.meta.url));
const DASHBOARD_DIR = join(here, '..', 'dashboard');
const CHARTS_FILE = 'lightweight-charts.standalone.production.js';

/** Swagger UI's scripts, as @fastify/swagger-ui serves them under /docs/static. */
const SWAGGER_UI_SCRIPTS = ['swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js'].map((f) =>
  join(dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui/package.json')), 'static', f),
);

function chartsScriptPath(): string {
  const pkg = createRequire(import.meta.url).resolve('lightweight-charts/package.json');
  return join(dirname(pkg), 'dist', CHARTS_FILE);
}

/** Fastify options the plugin relies on: strict query validation (unknown parameters → 400, not silently dropped). */
export function fastifyOptions(logger: Logger, o: { trustProxy?: readonly string[] } = {}) {
  return {
    loggerInstance: logger,
    // The client address (rate limit) comes from X-Forwarded-For only when the peer is one of these proxies.
    ...(o.trustProxy && o.trustProxy.length > 0 ? { trustProxy: [...o.trustProxy] } : {}),
    // Errors met before any route, in the API's error shape.
    frameworkErrors,
    clientErrorHandler,
    // Per-request log lines off (hot path); 5xx are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false as const, coerceTypes: 'array' as const, useDefaults: true, allErrors: false } },
    return503OnClosing: true,
    // Registration reads the dashboard assets; allow for a busy machine.
    pluginTimeout: 60_000,
  };
}

const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  404: ErrorBody,
  429: ErrorBody,
  500: ErrorBody,
  503: ErrorBody,
};

const apiPluginImpl: FastifyPluginAsync<ApiDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<TypeBoxProvider>();
  const log = deps.logger.child({ component: 'api' });
  const now = deps.now ?? Date.now;
  const staleAfterMs = deps.staleAfterMs ?? 180_000;
  const models = deps.models ?? noModelRegistry;
  const monitoring = deps.monitoring ?? monitoringSource();
  const cache = deps.cache;
  const verifier = apiKeyVerifier(deps.apiKeys ?? []);
  const cursors = cursorCodec(deps.cursorSecret);
  const methodsOf = routeMethods(app as unknown as FastifyInstance);

  // ---- websocket on the same server -------------------------------------
  const hub = new WsHub({
    cache,
    logger: deps.logger,
    ...deps.ws,
    authorize: upgradeGate({ verifier, rateLimit: deps.rateLimit ?? null, trustProxy: deps.trustProxy ?? [] }),
  });
  hub.attach(app.server);
  app.decorate('wsHub', hub);
  app.decorate('live', {
    prediction: (p: Prediction) => {
      if (cache.addPrediction(p)) hub.publishPrediction(p);
    },
    candle: (c: Candle) => {
      if (cache.addCandle(c)) hub.publishCandle(c);
    },
    predictionError: (e: PredictionError) => {
      if (cache.addError(e)) hub.publishError(e);
    },
  } satisfies LiveFeed);
  app.addHook('preClose', async () => {
    await hub.close();
  });

  // ---- errors --------------------------------------------------------------
  app.setErrorHandler((err, req, reply) => {
    const send = (status: number, code: ApiErrorCode, message: string) => {
      if (status >= 500) {
        log.error({ err, method: req.method, url: req.url, code }, 'request failed');
        return reply.code(status).send(errorBody(code, HIDDEN_5XX_MESSAGE[status] ?? 'server error'));
      }
      return reply.code(status).send(errorBody(code, message));
    };
    if (isApiError(err)) {
      if (err.code === 'RATE_LIMITED') void reply.header('retry-after', String(Math.ceil((deps.rateLimit?.timeWindowMs ?? 60_000) / 1000)));
      return send(err.statusCode, err.code, err.message);
    }
    const e = err as Error & { validation?: unknown; validationContext?: string; statusCode?: number; code?: string };
    if (e.validation) return send(400, 'INVALID_PARAMETER', `invalid ${e.message}`);
    if (isStoreError(err)) {
      return err.code === 'STORE_UNAVAILABLE' ? send(503, 'UNAVAILABLE', err.message) : send(500, 'INTERNAL', err.message);
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      // Fastify's and its plugins' own client errors (body too large, unsupported media type, a static path refused, ...).
      const { status, code } = codeForStatus(e.statusCode);
      return reply.code(status).send(errorBody(code, e.message));
    }
    return send(500, 'INTERNAL', e.message);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = pathOf(req.url);
    const allow = methodsOf(path);
    if (allow.length > 0 && !allow.includes(req.method)) {
      void reply
        .code(405)
        .header('allow', allow.join(', '))
        .send(errorBody('METHOD_NOT_ALLOWED', `${req.method} is not served on ${path}: use ${allow.join(' or ')}`));
      return;
    }
    void reply.code(404).send(errorBody('ROUTE_NOT_FOUND', `no route ${req.method} ${path}; the API is described at /docs`));
  });

  // Callback style, not async: no promise per request on the hot path.
  const requestSeconds = httpRequestSeconds();
  app.addHook('onResponse', (req, reply, done) => {
    requestSeconds.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });

  // ---- security headers, CORS, access control (before every route) -----------------
  await registerSecurityHeaders(app as unknown as FastifyInstance, {
    corsOrigins: deps.corsOrigins ?? [],
    // lightweight-charts and Swagger UI each add one fixed <style> element (their logos): allowed by hash, nothing else inline.
    styleHashes: inlineStyleHashes(readFileSync(chartsScriptPath(), 'utf8'), ...SWAGGER_UI_SCRIPTS.map((f) => readFileSync(f, 'utf8'))),
  });
  await registerAccessControl(app as unknown as FastifyInstance, { verifier, rateLimit: deps.rateLimit ?? null, publicPrefixes: ['/docs'] });
  /** Ops probes and the page: no key, no rate limit. */
  const open = { rateLimit: false, public: true } as const;

  // ---- OpenAPI + docs ----------------------------------------------------------
  await app.register(swagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema 2020-12, like TypeBox's (numeric exclusiveMinimum, type null).
      openapi: '3.1.0',
      info: {
        title: 'tickcast API',
        version: deps.version ?? '0.1.0',
        description:
          'Crypto price predictions 5 minutes ahead. Live updates: websocket /v1/ws (see the README). ' +
          'Errors: `{ "error": { "code", "message" } }`.',
      },
      tags: [
        { name: 'predictions', description: 'Latest and historical predictions' },
        { name: 'models', description: 'The production model' },
        { name: 'monitoring', description: 'Live prediction errors: rolling MAE, direction accuracy, MAE vs the persistence baseline' },
        { name: 'features', description: 'Order-book features per minute (spread, depth, imbalance, order-flow imbalance)' },
        { name: 'ops', description: 'Health, readiness, metrics' },
      ],
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
      ...(verifier.required ? { security: [{ apiKey: [] }] } : {}),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // ---- REST routes -------------------------------------------------------------
  const checkPair = (pair: string): string => {
    if (!cache.has(pair)) throw new ApiError('UNKNOWN_PAIR', `unknown pair ${pair}; served: ${cache.pairs.join(', ')}`);
    return pair;
  };

  app.get(
    '/v1/predictions/latest',
    {
      schema: {
        tags: ['predictions'],
        summary: 'The newest prediction of a pair, with its age and a stale flag',
        querystring: LatestQuery,
        response: { 200: LatestReply, ...errorResponses },
      },
    },
    async (req) => {
      const pair = checkPair(req.query.pair);
      const p = cache.latest(pair);
      if (!p) throw new ApiError('NO_PREDICTION', `no prediction for ${pair} yet`);
      const age = Math.round(now() - p.made_at_ms);
      return { prediction: p, age_ms: age, stale: age > staleAfterMs, stale_after_ms: staleAfterMs };
    },
  );

  app.get(
    '/v1/predictions',
    {
      schema: {
        tags: ['predictions'],
        summary: 'Predictions of a pair in a time range (by made_at), newest first, paged with a cursor',
        querystring: HistoryQuery,
        response: { 200: HistoryReply, ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const pair = checkPair(q.pair);
      const from = q.from !== undefined ? parseTime('from', q.from) : undefined;
      const to = q.to !== undefined ? parseTime('to', q.to) : undefined;
      if (from !== undefined && to !== undefined && from > to) {
        throw new ApiError('INVALID_RANGE', `from (${q.from}) is after to (${q.to})`);
      }
      const digest = queryDigest([pair, from, to, q.model_version]);
      let upTo = to;
      let skip = 0;
      if (q.cursor !== undefined) {
        const c = cursors.decode(q.cursor, digest);
        if ((to !== undefined && c.t_ms > to) || (from !== undefined && c.t_ms < from)) {
          throw new ApiError('INVALID_CURSOR', 'cursor lies outside the from/to range of the query');
        }
        upTo = c.t_ms;
        skip = c.skip;
      }
      const rows = await deps.history.newestFirst(pair, {
        ...(from !== undefined ? { from_ms: from } : {}),
        ...(upTo !== undefined ? { to_ms: upTo } : {}),
        limit: skip + q.limit + 1,
        ...(q.model_version !== undefined ? { model_version: q.model_version } : {}),
      });
      const items = rows.slice(skip, skip + q.limit);
      const last = items[items.length - 1];
      let next: string | null = null;
      if (rows.length > skip + q.limit && last) {
        // Rows at the last page's time already returned (this page and the skipped ones).
        const same = rows.slice(0, skip + q.limit).filter((r) => r.made_at_ms === last.made_at_ms).length;
        if (same <= MAX_CURSOR_SKIP) next = cursors.encode({ t_ms: last.made_at_ms, skip: same, q: digest });
        else log.warn({ pair, made_at_ms: last.made_at_ms, rows_at_that_time: same }, `more than ${MAX_CURSOR_SKIP} predictions at one made_at: the listing ends here`);
      }
      return { pair, items, next_cursor: next };
    },
  );

  app.get(
    '/v1/pairs',
    { schema: { tags: ['predictions'], summary: 'The pairs served', response: { 200: PairsReply, ...errorResponses } } },
    async () => ({ pairs: cache.pairs.map((pair) => ({ pair, latest_made_at_ms: cache.latest(pair)?.made_at_ms ?? null })) }),
  );

  app.get(
    '/v1/models/production',
    {
      schema: {
        tags: ['models'],
        summary: 'The production model of a pair (default: the first pair served): version, metrics, trained range',
        querystring: ProductionModelQuery,
        response: { 200: ProductionModelInfo, ...errorResponses },
      },
    },
    async (req) => {
      const pair = checkPair(req.query.pair ?? cache.pairs[0] ?? '');
      const info = await models.production(pair);
      if (!info) {
        throw new ApiError('NO_PRODUCTION_MODEL', `no production model for ${pair}: the model registry has none yet (train a model and promote it)`);
      }
      return info;
    },
  );

  app.get(
    '/v1/features/book',
    {
      schema: {
        tags: ['features'],
        summary: 'The newest closed minutes of order-book features of a pair (spread, mid/microprice, depth at 1/5/10 levels, imbalance, order-flow imbalance, update counts), newest first',
        querystring: BookQuery,
        response: { 200: BookReply, ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      if (!deps.book) throw new ApiError('NO_BOOK_FEATURES', 'this API reads no feature store: no order-book features');
      const all = await deps.book.series();
      const ofPair = all.filter((s) => s.pair === q.pair);
      const chosen = ofPair.filter((s) => q.exchange === undefined || s.exchange === q.exchange).sort((a, b) => b.latest_ms - a.latest_ms || a.exchange.localeCompare(b.exchange))[0];
      if (!chosen) {
        const have = [...new Set(all.map((s) => `${s.pair} (${s.exchange})`))].sort();
        throw new ApiError('NO_BOOK_FEATURES', `no order-book features for ${q.pair}${q.exchange !== undefined ? ` on ${q.exchange}` : ''}; the feature store has: ${have.length > 0 ? have.join(', ') : 'none'}`);
      }
      const items = await deps.book.newestFirst({ exchange: chosen.exchange, pair: chosen.pair, interval_s: chosen.interval_s }, q.limit);
      return { pair: q.pair, exchange: chosen.exchange, interval_s: chosen.interval_s, exchanges: [...new Set(ofPair.map((s) => s.exchange))].sort(), items };
    },
  );

  app.get(
    '/v1/monitoring',
    {
      schema: {
        tags: ['monitoring'],
        summary:
          'The live prediction-error summary: rolling MAE, direction accuracy and MAE vs the persistence baseline per pair, model and window; interval coverage, pinball, interval scores, QLIKE and Brier of the forecasts beside their live baselines',
        querystring: MonitoringQuery,
        response: { 200: MonitoringReply, ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const pairs = q.pair !== undefined ? [checkPair(q.pair)] : cache.pairs;
      const s = await monitoring.summary(pairs);
      if (!s) {
        throw new ApiError('NO_MONITORING', 'no monitoring data here: no monitor runs in this process and the API has no prediction store');
      }
      const wanted = new Set(pairs);
      const keep = (a: { pair: string; window: string; model_version: string }) =>
        wanted.has(a.pair) && (q.window === undefined || a.window === q.window) && (q.model_version === undefined || a.model_version === q.model_version);
      return { ...s, accuracy: s.accuracy.filter(keep), forecasts: s.forecasts.filter(keep) };
    },
  );

  // ---- ops -----------------------------------------------------------------------
  app.get('/healthz', { config: open, schema: { tags: ['ops'], summary: 'Liveness', response: { 200: HealthReply } } }, async () => ({
    status: 'ok' as const,
    uptime_s: Math.round(process.uptime()),
  }));
  app.get(
    '/readyz',
    { config: open, schema: { tags: ['ops'], summary: 'Readiness: 200 when every check passes, else 503', response: { 200: ReadyReply, 503: ReadyReply } } },
    async (_req, reply) => {
      const checks: Record<string, boolean> = {};
      for (const [name, check] of Object.entries(deps.readiness ?? {})) {
        try {
          checks[name] = check() === true;
        } catch {
          checks[name] = false;
        }
      }
      const ready = Object.values(checks).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ ready, checks });
    },
  );
  // With keys configured it needs one (Node version, model versions and accuracy are not for the public).
  const metricsConfig: { public: boolean; rateLimit?: false } = verifier.required ? { public: false } : open;
  app.get('/metrics', { config: metricsConfig, schema: { tags: ['ops'], summary: 'Prometheus metrics (text format)' } }, async (_req, reply) => {
    const text = await register.metrics();
    return reply.type(register.contentType).send(text);
  });

  // ---- dashboard -------------------------------------------------------------------
  const [html, js, css, charts] = await Promise.all([
    readFile(join(DASHBOARD_DIR, 'index.html'), 'utf8'),
    readFile(join(DASHBOARD_DIR, 'dashboard.js'), 'utf8'),
    readFile(join(DASHBOARD_DIR, 'dashboard.css'), 'utf8'),
    readFile(chartsScriptPath(), 'utf8'),
  ]);
  const asset = (path: string, type: string, body: string) =>
    app.get(path, { config: open, schema: { hide: true } }, async (_req, reply) =>
      reply.type(type).header('cache-control', 'no-cache').send(body),
    );
  asset('/', 'text/html; charset=utf-8', html);
  asset('/dashboard.js', 'text/javascript; charset=utf-8', js);
  asset('/dashboard.css', 'text/css; charset=utf-8', css);
  asset(`/vendor/${CHARTS_FILE}`, 'text/javascript; charset=utf-8', charts);
};

/** Register on the root context (not encapsulated), like fastify-plugin does, so its error/404 handlers and decorators apply to the app. */
(apiPluginImpl as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
export const apiPlugin = apiPluginImpl;

/** A fastify instance with the API registered and ready (not listening: use inject, or api-server.ts). */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify(fastifyOptions(deps.logger, { ...(deps.trustProxy ? { trustProxy: deps.trustProxy } : {}) }));
  await app.register(apiPlugin, deps);
  await app.ready();
  return app as unknown as FastifyInstance;
}
