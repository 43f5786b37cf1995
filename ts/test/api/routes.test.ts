/**
 * REST routes through fastify inject (no port): every endpoint, every 400
 * case, 404s, hidden 5xx, the OpenAPI document (checked by an independent
 * OpenAPI 3.0 schema validator), API keys and rate limiting.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildApi, type ApiDeps } from '../../src/api/api-plugin.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import { historyFromStore, type HistoryRange, type PredictionHistory } from '../../src/api/history.ts';
import { StoreError } from '../../src/stores/store-error.ts';
import type { Prediction } from '../../src/contracts/messages.ts';
import type { ProductionModelInfo } from '../../src/api/schemas.ts';
import { PAIRS, capturingLogger, predictionsFrom, quietLogger, realCandles, tempSqliteStores, type TempStores } from './helpers.ts';

const NOW = Date.parse('2016-10-07T03:00:00Z');

/** A history that records its calls (to prove nothing invalid reaches the store). */
function spyHistory(inner: PredictionHistory): PredictionHistory & { calls: HistoryRange[] } {
  const calls: HistoryRange[] = [];
  return { calls, newestFirst: (pair, q) => (calls.push(q), inner.newestFirst(pair, q)) };
}

async function make(over: Partial<ApiDeps> = {}): Promise<FastifyInstance> {
  return buildApi({
    logger: quietLogger(),
    cache: new LiveCache({ pairs: PAIRS }),
    history: { newestFirst: async () => [] },
    now: () => NOW,
    ...over,
  });
}

const json = (r: { body: string }) => JSON.parse(r.body) as Record<string, any>;

describe('GET /v1/predictions/latest', () => {
  test('404 NO_PREDICTION before any, then the newest by made_at from the live cache, with age and stale flag', async () => {
    const cache = new LiveCache({ pairs: PAIRS });
    const app = await make({ cache, staleAfterMs: 180_000 });
    try {
      let r = await app.inject('/v1/predictions/latest?pair=BTC/USD');
      assert.equal(r.statusCode, 404);
      assert.equal(json(r).error.code, 'NO_PREDICTION');

      const preds = predictionsFrom(realCandles('BTC/USD', 200));
      // Feed out of order: the latest must be the max made_at, not the last fed.
      const shuffled = [...preds].reverse();
      for (const p of shuffled) app.live.prediction(p);
      const newest = preds.reduce((a, b) => (b.made_at_ms > a.made_at_ms ? b : a));
      r = await app.inject('/v1/predictions/latest?pair=BTC%2FUSD');
      assert.equal(r.statusCode, 200);
      const body = json(r);
      assert.deepEqual(body.prediction, newest);
      assert.equal(body.age_ms, NOW - newest.made_at_ms);
      assert.equal(body.stale, NOW - newest.made_at_ms > 180_000);
      assert.equal(body.stale_after_ms, 180_000);
      // The other pair has none yet.
      r = await app.inject('/v1/predictions/latest?pair=ETH/USD');
      assert.equal(r.statusCode, 404);
    } finally {
      await app.close();
    }
  });

  test('the forecasts of issue 18 and a prediction without a price come back whole, live and from the store', async () => {
    const cache = new LiveCache({ pairs: PAIRS });
    const tmp = await tempSqliteStores();
    const app = await make({ cache, history: historyFromStore(tmp.stores.predictions) });
    try {
      const [a, b] = predictionsFrom(realCandles('BTC/USD', 3)) as [Prediction, Prediction];
      const full: Prediction = {
        ...a,
        volatility: { value: 0.0019, model_version: 'vol-7' },
        range: { q05: -0.003, q10: -0.002, q50: 0.0001, q90: 0.0022, q95: 0.0031, lo80: a.last_close * 0.998, hi80: a.last_close * 1.002, lo90: a.last_close * 0.997, hi90: a.last_close * 1.003, calibrated: true, m80: 1.2, m90: 0.9, model_version: 'range-3' },
        direction: { p_up: 0.47, model_version: 'dir-2' },
      };
      const { predicted_price: _p, ...rest } = b;
      const noPrice: Prediction = { ...rest, model_name: 'range', model_version: 'range-3', range: { ...full.range!, calibrated: false, m80: 1, m90: 1 } };
      assert.equal((await tmp.stores.predictions.predictions.write([full, noPrice])).rejected.length, 0);
      app.live.prediction(full);
      let body = json(await app.inject('/v1/predictions/latest?pair=BTC/USD'));
      assert.deepEqual(body.prediction, full);
      app.live.prediction(noPrice);
      body = json(await app.inject('/v1/predictions/latest?pair=BTC/USD'));
      assert.deepEqual(body.prediction, noPrice);
      assert.equal('predicted_price' in body.prediction, false);
      body = json(await app.inject('/v1/predictions?pair=BTC/USD'));
      assert.deepEqual(body.items, [noPrice, full]);
    } finally {
      await app.close();
      await tmp.cleanup();
    }
  });

  test('stale flips exactly past the limit', async () => {
    const cache = new LiveCache({ pairs: PAIRS });
    const p = predictionsFrom(realCandles('ETH/USD', 3))[0] as Prediction;
    cache.addPrediction(p);
    for (const [age, stale] of [[60_000, false], [60_000, false], [60_001, true]] as const) {
      const app = await make({ cache, staleAfterMs: 60_000, now: () => p.made_at_ms + age });
      const body = json(await app.inject('/v1/predictions/latest?pair=ETH/USD'));
      assert.equal(body.age_ms, age);
      assert.equal(body.stale, stale, `age ${age}`);
      await app.close();
    }
  });

  test('400 for a missing, unknown or malformed pair and for unknown parameters', async () => {
    const app = await make();
    try {
      for (const [url, code] of [
        ['/v1/predictions/latest', 'INVALID_PARAMETER'],
        ['/v1/predictions/latest?pair=XRP/USD', 'UNKNOWN_PAIR'],
        ['/v1/predictions/latest?pair=btc-usd', 'INVALID_PARAMETER'],
        ['/v1/predictions/latest?pair=BTC/USD&pair=ETH/USD', 'INVALID_PARAMETER'],
        ['/v1/predictions/latest?pair=BTC/USD&paír=1', 'INVALID_PARAMETER'],
      ] as const) {
        const r = await app.inject(url);
        assert.equal(r.statusCode, 400, url);
        const body = json(r);
        assert.equal(body.error.code, code, url);
        assert.ok(typeof body.error.message === 'string' && body.error.message.length > 5, url);
      }
      const r = json(await app.inject('/v1/predictions/latest?pair=XRP/USD'));
      assert.match(r.error.message, /XRP\/USD/);
      assert.match(r.error.message, /BTC\/USD, ETH\/USD/);
    } finally {
      await app.close();
    }
  });
});

describe('GET /v1/predictions (history from the SQLite prediction store)', () => {
  let tmp: TempStores;
  let all: Prediction[];
  before(async () => {
    tmp = await tempSqliteStores();
    const candles = realCandles('BTC/USD', 150);
    // Two model versions make predictions at the same times: ties at every made_at.
    const v1 = predictionsFrom(candles, 'v1');
    const v2 = predictionsFrom(candles.slice(0, 60), 'v2');
    const eth = predictionsFrom(realCandles('ETH/USD', 50));
    all = [...v1, ...v2, ...eth];
    const w = await tmp.stores.predictions.predictions.write(all);
    assert.equal(w.written, all.length);
  });
  after(async () => tmp.cleanup());

  /** The independent reference: filter and sort the written rows by hand. */
  const expected = (pair: string, from?: number, to?: number, mv?: string) =>
    all
      .filter((p) => p.pair === pair && (from === undefined || p.made_at_ms >= from) && (to === undefined || p.made_at_ms <= to))
      .filter((p) => mv === undefined || p.model_version === mv)
      .sort((a, b) => b.made_at_ms - a.made_at_ms);

  async function pageAll(app: FastifyInstance, base: string): Promise<{ items: Prediction[]; pages: number }> {
    const items: Prediction[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { statusCode: number; body: string } = await app.inject(`${base}${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.statusCode, 200, r.body);
      const body = json(r);
      items.push(...body.items);
      cursor = body.next_cursor;
      pages++;
      assert.ok(pages < 1000, 'paging does not end');
    } while (cursor !== null);
    return { items, pages };
  }

  const keyOf = (p: Prediction) => `${p.model_version}|${p.made_at_ms}`;

  test('paging with a cursor returns every row in the range once, newest first (ties split across pages)', async () => {
    const app = await make({ history: historyFromStore(tmp.stores.predictions) });
    try {
      const from = Date.parse('2016-10-07T00:20:00Z');
      const to = Date.parse('2016-10-07T01:50:00Z');
      for (const limit of [1, 7, 50, 1000]) {
        const { items, pages } = await pageAll(app, `/v1/predictions?pair=BTC/USD&from=${from}&to=2016-10-07T01:50:00Z&limit=${limit}`);
        const want = expected('BTC/USD', from, to);
        assert.ok(want.length > 100, 'fixture has enough rows');
        assert.deepEqual(items.map(keyOf).sort(), want.map(keyOf).sort(), `limit ${limit}`);
        assert.equal(new Set(items.map(keyOf)).size, items.length, 'no duplicates');
        for (let i = 1; i < items.length; i++) assert.ok((items[i - 1] as Prediction).made_at_ms >= (items[i] as Prediction).made_at_ms, 'newest first');
        assert.equal(pages, Math.max(1, Math.ceil(want.length / limit)), `pages at limit ${limit}`);
      }
    } finally {
      await app.close();
    }
  });

  test('default limit, open ranges, model_version filter, other pair', async () => {
    const app = await make({ history: historyFromStore(tmp.stores.predictions) });
    try {
      let body = json(await app.inject('/v1/predictions?pair=BTC/USD'));
      assert.equal(body.items.length, 100);
      assert.deepEqual(body.items.map((p: Prediction) => p.made_at_ms), expected('BTC/USD').slice(0, 100).map((p) => p.made_at_ms));
      assert.equal(body.pair, 'BTC/USD');
      assert.equal(typeof body.next_cursor, 'string');
      const { items } = await pageAll(app, '/v1/predictions?pair=BTC/USD&model_version=v2&limit=25');
      assert.deepEqual(items, expected('BTC/USD', undefined, undefined, 'v2'));
      body = json(await app.inject('/v1/predictions?pair=ETH/USD&limit=1000'));
      assert.deepEqual(body.items, expected('ETH/USD'));
      assert.equal(body.next_cursor, null);
      body = json(await app.inject('/v1/predictions?pair=ETH/USD&from=2030-01-01'));
      assert.deepEqual(body.items, []);
      assert.equal(body.next_cursor, null);
    } finally {
      await app.close();
    }
  });

  test('every bad parameter is a 400 with a clear message, and never reaches the store', async () => {
    const history = spyHistory(historyFromStore(tmp.stores.predictions));
    const app = await make({ history });
    try {
      const other = json(await app.inject('/v1/predictions?pair=ETH/USD&limit=1')).next_cursor as string;
      const cases: [string, string, RegExp][] = [
        ['pair=XRP/USD', 'UNKNOWN_PAIR', /unknown pair XRP\/USD/],
        ['', 'INVALID_PARAMETER', /pair/],
        ['pair=BTC/USD&from=yesterday', 'INVALID_PARAMETER', /from/],
        ['pair=BTC/USD&from=2024-02-31T00:00:00Z', 'INVALID_TIME', /from=.*not a valid date/],
        ['pair=BTC/USD&to=2024-13-01', 'INVALID_TIME', /to=/],
        ['pair=BTC/USD&to=2024-01-01T25:00:00Z', 'INVALID_TIME', /to=/],
        ['pair=BTC/USD&from=99999999999999', 'INVALID_TIME', /out of range/],
        ['pair=BTC/USD&from=2024-01-02&to=2024-01-01', 'INVALID_RANGE', /from .* is after to/],
        ['pair=BTC/USD&from=1700000000001&to=1700000000000', 'INVALID_RANGE', /after/],
        ['pair=BTC/USD&limit=0', 'INVALID_PARAMETER', /limit/],
        ['pair=BTC/USD&limit=100000', 'INVALID_PARAMETER', /limit must be <= 1000/],
        ['pair=BTC/USD&limit=-5', 'INVALID_PARAMETER', /limit/],
        ['pair=BTC/USD&limit=ten', 'INVALID_PARAMETER', /limit/],
        ['pair=BTC/USD&limit=1.5', 'INVALID_PARAMETER', /limit/],
        ['pair=BTC/USD&cursor=not base64!', 'INVALID_PARAMETER', /cursor/],
        ['pair=BTC/USD&cursor=Zm9vYmFy', 'INVALID_CURSOR', /cursor is malformed/],
        [`pair=BTC/USD&cursor=${other}`, 'INVALID_CURSOR', /another query/],
        ['pair=BTC/USD&sort=asc', 'INVALID_PARAMETER', /sort|additional/],
        [`pair=BTC/USD&model_version=${'x'.repeat(300)}`, 'INVALID_PARAMETER', /model_version/],
      ];
      const before = history.calls.length;
      for (const [qs, code, msg] of cases) {
        const r = await app.inject(`/v1/predictions?${qs}`);
        assert.equal(r.statusCode, 400, `${qs}: ${r.body}`);
        const body = json(r);
        assert.equal(body.error.code, code, qs);
        assert.match(body.error.message, msg, qs);
      }
      assert.equal(history.calls.length, before, 'no invalid query reached the store');
    } finally {
      await app.close();
    }
  });

  test('store failures: 503 UNAVAILABLE / 500 INTERNAL, details hidden from the client and logged', async () => {
    const cap = capturingLogger();
    const failing = (err: Error): PredictionHistory => ({ newestFirst: async () => Promise.reject(err) });
    for (const [err, status, code] of [
      [new StoreError('STORE_UNAVAILABLE', 'es down at http://secret-host:9200'), 503, 'UNAVAILABLE'],
      [new Error('boom: secret-host internals'), 500, 'INTERNAL'],
    ] as const) {
      const app = await make({ logger: cap.logger, history: failing(err) });
      const r = await app.inject('/v1/predictions?pair=BTC/USD');
      assert.equal(r.statusCode, status);
      const body = json(r);
      assert.equal(body.error.code, code);
      assert.doesNotMatch(r.body, /secret-host/);
      await app.close();
    }
    const logged = cap.lines().filter((l) => l.msg === 'request failed');
    assert.equal(logged.length, 2);
    assert.match(JSON.stringify(logged), /secret-host/);
  });
});

describe('other routes', () => {
  test('GET /v1/pairs lists the served pairs and their latest made_at', async () => {
    const cache = new LiveCache({ pairs: PAIRS });
    const app = await make({ cache });
    try {
      const preds = predictionsFrom(realCandles('ETH/USD', 10));
      for (const p of preds) app.live.prediction(p);
      const body = json(await app.inject('/v1/pairs'));
      assert.deepEqual(body, {
        pairs: [
          { pair: 'BTC/USD', latest_made_at_ms: null },
          { pair: 'ETH/USD', latest_made_at_ms: Math.max(...preds.map((p) => p.made_at_ms)) },
        ],
      });
    } finally {
      await app.close();
    }
  });

  test('GET /v1/models/production: 404 without a registry, the info when one answers', async () => {
    let app = await make();
    let r = await app.inject('/v1/models/production');
    assert.equal(r.statusCode, 404);
    assert.equal(json(r).error.code, 'NO_PRODUCTION_MODEL');
    assert.match(json(r).error.message, /no production model/);
    await app.close();
    const info: ProductionModelInfo = {
      model_name: 'lgbm',
      model_version: '2024-08-09T00-00-00Z',
      metrics: { mae: 12.5, baseline_mae: 14.25 },
      trained_from_ms: 1_700_000_000_000,
      trained_to_ms: 1_700_086_400_000,
    };
    app = await make({ models: { production: async () => info } });
    r = await app.inject('/v1/models/production');
    assert.equal(r.statusCode, 200);
    assert.deepEqual(json(r), info);
    await app.close();
  });

  test('/healthz, /readyz (200 and 503 with the failing check), /metrics', async () => {
    let ready = false;
    const app = await make({ readiness: { bus: () => ready } });
    try {
      assert.equal((await app.inject('/healthz')).statusCode, 200);
      let r = await app.inject('/readyz');
      assert.equal(r.statusCode, 503);
      assert.deepEqual(json(r), { ready: false, checks: { bus: false } });
      ready = true;
      r = await app.inject('/readyz');
      assert.equal(r.statusCode, 200);
      await app.inject('/v1/pairs');
      r = await app.inject('/metrics');
      assert.equal(r.statusCode, 200);
      assert.match(r.headers['content-type'] as string, /text\/plain/);
      assert.match(r.body, /tickcast_api_request_duration_seconds_count\{method="GET",route="\/v1\/pairs",status="200"\} \d+/);
    } finally {
      await app.close();
    }
  });

  test('unknown routes are 404 ROUTE_NOT_FOUND (a known path with another method is 405: security.test.ts)', async () => {
    const app = await make();
    try {
      for (const [method, url] of [
        ['GET', '/v1/nope'],
        ['GET', '/v2/predictions/latest?pair=BTC/USD'],
        ['DELETE', '/v1/nope'],
      ] as const) {
        const r = await app.inject({ method, url });
        assert.equal(r.statusCode, 404, url);
        assert.equal(json(r).error.code, 'ROUTE_NOT_FOUND');
      }
    } finally {
      await app.close();
    }
  });

  test('the OpenAPI document is valid OpenAPI 3.1 and describes every route from the same schemas', async () => {
    const app = await make();
    try {
      const r = await app.inject('/docs/json');
      assert.equal(r.statusCode, 200);
      const doc = json(r);
      const result = await new Validator().validate(doc);
      assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1));
      assert.equal(doc.openapi, '3.1.0');
      for (const p of ['/v1/predictions/latest', '/v1/predictions', '/v1/pairs', '/v1/models/production', '/v1/monitoring', '/healthz', '/readyz', '/metrics']) {
        assert.ok(doc.paths[p]?.get, `path ${p} documented`);
      }
      assert.equal(doc.paths['/'], undefined, 'dashboard assets are not API routes');
      const hist = doc.paths['/v1/predictions'].get;
      const limit = hist.parameters.find((x: { name: string }) => x.name === 'limit');
      assert.equal(limit.schema.maximum, 1000);
      const ok = hist.responses['200'].content['application/json'].schema;
      assert.deepEqual(Object.keys(ok.properties.items.items.properties).sort(), [
        'direction', 'horizon_s', 'last_close', 'made_at_ms', 'model_name', 'model_version', 'pair', 'predicted_price', 'range', 'target_ms', 'volatility',
      ]);
      const item = ok.properties.items.items;
      assert.ok(!item.required.includes('predicted_price') && !item.required.includes('range'), 'the price and the forecasts are optional (rows stored before issue 18 have none)');
      assert.deepEqual(Object.keys(item.properties.range.properties).sort(), ['calibrated', 'hi80', 'hi90', 'lo80', 'lo90', 'm80', 'm90', 'model_version', 'q05', 'q10', 'q50', 'q90', 'q95']);
      assert.deepEqual(Object.keys(item.properties.direction.properties).sort(), ['model_version', 'p_up']);
      assert.ok(hist.responses['400'], '400 documented');
      // The interactive docs: /docs (after at most two redirects) is the Swagger UI page.
      let page = await app.inject('/docs');
      for (let hops = 0; page.statusCode === 302 && hops < 2; hops++) {
        page = await app.inject(new URL(page.headers.location as string, 'http://x/docs/').pathname);
      }
      assert.equal(page.statusCode, 200);
      assert.match(page.headers['content-type'] as string, /text\/html/);
      assert.match(page.body, /swagger-ui/i);
    } finally {
      await app.close();
    }
  });

  test('the dashboard page and the lightweight-charts script are served', async () => {
    const app = await make();
    try {
      const page = await app.inject('/');
      assert.equal(page.statusCode, 200);
      assert.match(page.headers['content-type'] as string, /text\/html/);
      const scripts = [...page.body.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1] as string);
      assert.ok(scripts.includes('/vendor/lightweight-charts.standalone.production.js'));
      for (const s of scripts) {
        const r = await app.inject(s);
        assert.equal(r.statusCode, 200, s);
        assert.match(r.headers['content-type'] as string, /javascript/);
      }
      assert.match((await app.inject('/vendor/lightweight-charts.standalone.production.js')).body, /LightweightCharts/);
    } finally {
      await app.close();
    }
  });
});

describe('access control (when configured)', () => {
  test('API keys: /v1 routes and /metrics need a known x-api-key; health probes, docs and the page stay open', async () => {
    const app = await make({ apiKeys: ['k-alpha-123456', 'k-beta-1234567'] });
    try {
      let r = await app.inject('/v1/pairs');
      assert.equal(r.statusCode, 401);
      assert.equal(json(r).error.code, 'UNAUTHORIZED');
      r = await app.inject({ url: '/v1/pairs', headers: { 'x-api-key': 'k-alpha-12345' } });
      assert.equal(r.statusCode, 401);
      for (const key of ['k-alpha-123456', 'k-beta-1234567']) {
        r = await app.inject({ url: '/v1/pairs', headers: { 'x-api-key': key } });
        assert.equal(r.statusCode, 200);
      }
      // Invalid parameters with no key: 401 first (nothing about the API leaks).
      assert.equal((await app.inject('/v1/predictions?pair=XRP/USD')).statusCode, 401);
      for (const open of ['/healthz', '/readyz', '/', '/docs/json']) assert.equal((await app.inject(open)).statusCode, 200, open);
      assert.equal((await app.inject('/metrics')).statusCode, 401, '/metrics needs a key');
      const doc = json(await app.inject('/docs/json'));
      assert.deepEqual(doc.security, [{ apiKey: [] }]);
    } finally {
      await app.close();
    }
  });

  test('rate limit per client: the (max+1)th request in the window is 429 RATE_LIMITED; each client address has its own budget', async () => {
    const app = await make({ rateLimit: { max: 3, timeWindowMs: 60_000 } });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await app.inject('/v1/pairs')).statusCode, 200);
      const r = await app.inject('/v1/pairs');
      assert.equal(r.statusCode, 429);
      assert.equal(json(r).error.code, 'RATE_LIMITED');
      assert.match(json(r).error.message, /at most 3 requests/);
      assert.ok(Number(r.headers['retry-after']) > 0);
      // Another client (by address) still has its budget; ops routes are not limited.
      assert.equal((await app.inject({ url: '/v1/pairs', remoteAddress: '192.0.2.2' })).statusCode, 200);
      assert.equal((await app.inject('/healthz')).statusCode, 200);
      assert.equal((await app.inject('/metrics')).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});
