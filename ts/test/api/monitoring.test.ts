/**
 * GET /v1/monitoring through fastify inject: the summary recomputed from the
 * prediction store (checked against a naive recomputation here from the rows
 * inserted: real Coinbase candles, two models and the persistence baseline),
 * the in-process monitor as the source when one runs, the filters, and every
 * 400 / 404.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { monitoringSource } from '../../src/api/monitoring.ts';
import { setMonitoringSource, type MonitoringSnapshot } from '../../src/monitor/monitoring-snapshot.ts';
import type { Prediction, PredictionError } from '../../src/contracts/messages.ts';
import { tempSqliteStores, type TempStores } from './helpers.ts';
import type { ForecastError } from '../../src/stores/types.ts';
import {
  BASELINE,
  assertClose,
  assertForecastsClose,
  expected,
  expectedForecasts,
  json,
  make,
  writeForecastRows,
  writeMonitoringRows,
  type Expected,
  type Window,
} from './monitoring-fixtures.ts';

describe('GET /v1/monitoring', () => {
  let tmp: TempStores;
  let preds: Prediction[];
  let errs: PredictionError[];
  let end: number;
  let app: FastifyInstance;
  let forecasts: ForecastError[];

  before(async () => {
    tmp = await tempSqliteStores();
    // 27 hours of real BTC/USD minutes: the 1h, 1d and 7d windows all differ.
    ({ preds, errs, end } = await writeMonitoringRows(tmp.stores, 1620));
    forecasts = await writeForecastRows(tmp.stores, 1620);
    app = await make({ monitoring: monitoringSource(tmp.stores.predictions, { cacheMs: 0 }) });
  });
  after(async () => {
    await app.close();
    await tmp.cleanup();
  });

  test('from the prediction store: every model and window equals a naive recomputation from the inserted rows', async () => {
    const r = await app.inject('/v1/monitoring?pair=BTC/USD');
    assert.equal(r.statusCode, 200, r.body);
    const body = json(r);
    assert.equal(body.source, 'store');
    assert.equal(body.windows_end_ms, end);
    assert.equal(body.unresolved, null, 'only the monitor knows unresolved predictions');
    const want = expected('BTC/USD', errs, preds, end);
    assert.equal(want.length, 9, 'v1, v2 and the baseline, three windows each');
    assertClose(body.accuracy, want);
    // The windows really differ (the data spans more than a day).
    const n = (m: string, w: Window) => want.find((x) => x.model_version === m && x.window === w)!.n;
    assert.ok(n('v1', '1h') > 0 && n('v1', '1h') < n('v1', '1d') && n('v1', '1d') < n('v1', '7d'), `${n('v1', '1h')} ${n('v1', '1d')} ${n('v1', '7d')}`);
    // The baseline predicts no change: it calls no direction, so its direction accuracy is n/a (null), not a share of misses.
    const b1d = body.accuracy.find((a: Expected) => a.model_version === BASELINE && a.window === '1d');
    assert.ok(b1d.n > 0);
    assert.equal(b1d.direction_accuracy, null);
    assert.equal(b1d.mae_vs_baseline, 1);
  });

  test('forecasts from the store: coverage, interval score, QLIKE, Brier and the baseline on the same targets equal a naive recomputation', async () => {
    const body = json(await app.inject('/v1/monitoring?pair=BTC/USD'));
    const want = expectedForecasts('BTC/USD', forecasts, end);
    assert.equal(want.length, 18, 'three targets, a model and a baseline each, three windows');
    assertForecastsClose(body.forecasts, want);
    const r1d = want.find((w) => w.target === 'range' && w.model_version === 'range-1' && w.window === '1d')!;
    const r1h = want.find((w) => w.target === 'range' && w.model_version === 'range-1' && w.window === '1h')!;
    console.log(`range-1 coverage 80/90: 1h ${r1h.coverage80}/${r1h.coverage90}, 1d ${r1d.coverage80}/${r1d.coverage90} (gaussian-EWMA 90 on the same targets ${r1d.baseline_coverage90}, n ${r1d.n}/${r1d.baseline_n})`);
    assert.ok((r1d.baseline_n as number) < (r1d.n as number) && (r1d.baseline_n as number) > 0, 'the baseline covers only some targets');
    const filtered = json(await app.inject('/v1/monitoring?pair=BTC/USD&window=1h&model_version=vol-1'));
    assert.deepEqual(filtered.forecasts.map((f: { target: string; window: string }) => `${f.target} ${f.window}`), ['volatility 1h']);
  });

  test('filters: window, model_version; no pair = every served pair; a pair without rows has none', async () => {
    let body = json(await app.inject('/v1/monitoring?pair=BTC%2FUSD&window=1h&model_version=v2'));
    assertClose(
      body.accuracy,
      expected('BTC/USD', errs, preds, end).filter((x) => x.window === '1h' && x.model_version === 'v2'),
    );
    body = json(await app.inject('/v1/monitoring?window=7d'));
    assert.deepEqual(body.accuracy.map((a: Expected) => `${a.pair} ${a.model_version} ${a.window}`), [
      `BTC/USD ${BASELINE} 7d`,
      'BTC/USD v1 7d',
      'BTC/USD v2 7d',
    ]);
    body = json(await app.inject('/v1/monitoring?pair=ETH/USD'));
    assert.deepEqual(body.accuracy, []);
    assert.equal(body.windows_end_ms, end, 'the windows end at the newest resolved target of any pair');
  });

  test('400 on bad parameters, with the parameter named', async () => {
    for (const [q, code, re] of [
      ['pair=btc-usd', 'INVALID_PARAMETER', /pair/],
      ['pair=DOGE/USD', 'UNKNOWN_PAIR', /DOGE\/USD.*served: BTC\/USD, ETH\/USD/],
      ['window=2h', 'INVALID_PARAMETER', /window/],
      ['window=', 'INVALID_PARAMETER', /window/],
      ['model_version=', 'INVALID_PARAMETER', /model_version/],
      ['pairs=BTC/USD', 'INVALID_PARAMETER', /pairs|additional/],
    ] as const) {
      const r = await app.inject(`/v1/monitoring?${q}`);
      assert.equal(r.statusCode, 400, q);
      assert.equal(json(r).error.code, code, q);
      assert.match(json(r).error.message, re, q);
    }
  });

  test('an empty store: no windows yet', async () => {
    const empty = await tempSqliteStores();
    const a = await make({ monitoring: monitoringSource(empty.stores.predictions) });
    try {
      const body = json(await a.inject('/v1/monitoring'));
      assert.equal(body.source, 'store');
      assert.equal(body.windows_end_ms, null);
      assert.deepEqual(body.accuracy, []);
    } finally {
      await a.close();
      await empty.cleanup();
    }
  });
});

describe('GET /v1/monitoring with the monitor in this process', () => {
  const row = (pair: string, model_version: string, window: Window, n: number) => ({
    pair,
    model_version,
    window,
    n,
    mae: n ? 12.5 : null,
    direction_accuracy: n ? 0.5 : null,
    baseline_mae: n ? 10 : null,
    mae_vs_baseline: n ? 1.25 : null,
  });
  const snapshot: MonitoringSnapshot = {
    generated_at_ms: 1_700_000_000_000,
    windows_end_ms: 1_699_999_980_000,
    accuracy: [row('BTC/USD', 'v1', '1h', 60), row('BTC/USD', 'v1', '1d', 1440), row('ETH/USD', 'v1', '1h', 0), row('SOL/USD', 'v1', '1h', 3)],
    forecasts: [],
    freshness: [],
    unresolved: { count: 1, recent: [{ pair: 'ETH/USD', model_version: 'v1', made_at_ms: 1_699_999_000_000, target_ms: 1_699_999_300_000 }] },
    dead_letters: { total: 0, last_10m: 0, by_topic: {} },
    consumer_lag_max: null,
    llm_errors_per_min: null,
    alerts: [],
  };

  test('the live snapshot is served (it wins over the store), filtered to the served pairs and the query', async () => {
    const tmp = await tempSqliteStores();
    const app = await make({ monitoring: monitoringSource(tmp.stores.predictions) });
    setMonitoringSource(() => snapshot);
    try {
      let body = json(await app.inject('/v1/monitoring'));
      assert.equal(body.source, 'monitor');
      assert.equal(body.generated_at_ms, snapshot.generated_at_ms);
      assert.equal(body.windows_end_ms, snapshot.windows_end_ms);
      assert.deepEqual(body.accuracy, snapshot.accuracy.slice(0, 3), 'pairs the API does not serve are left out');
      assert.deepEqual(body.unresolved, snapshot.unresolved);
      body = json(await app.inject('/v1/monitoring?pair=BTC/USD&window=1d'));
      assert.deepEqual(body.accuracy, [snapshot.accuracy[1]]);
    } finally {
      setMonitoringSource(null);
      await app.close();
      await tmp.cleanup();
    }
  });

  test('no monitor here and no store: 404 NO_MONITORING', async () => {
    const app = await make();
    try {
      const r = await app.inject('/v1/monitoring');
      assert.equal(r.statusCode, 404);
      assert.equal(json(r).error.code, 'NO_MONITORING');
      setMonitoringSource(() => snapshot);
      assert.equal((await app.inject('/v1/monitoring')).statusCode, 200, 'the default source is the in-process monitor');
    } finally {
      setMonitoringSource(null);
      await app.close();
    }
  });
});
