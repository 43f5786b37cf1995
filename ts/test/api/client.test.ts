/**
 * The typed client: REST calls against a real server on 127.0.0.1, and the
 * stream's reconnect + re-subscribe after the server drops it (restart on the
 * same port).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../src/api/api-server.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import { historyFromStore, type PredictionHistory } from '../../src/api/history.ts';
import { TickcastApiError, TickcastClient } from '../../src/client/tickcast-client.ts';
import type { Prediction } from '../../src/contracts/messages.ts';
import { PAIRS, predictionsFrom, quietLogger, realCandles, tempSqliteStores, until } from './helpers.ts';
import { monitoringSource } from '../../src/api/monitoring.ts';
import { assertForecastsClose, expectedForecasts, writeForecastRows, writeMonitoringRows } from './monitoring-fixtures.ts';

async function server(port = 0, history: PredictionHistory = { newestFirst: async () => [] }): Promise<ApiServer> {
  return startApiServer({ logger: quietLogger(), cache: new LiveCache({ pairs: PAIRS }), history }, { host: '127.0.0.1', port });
}

test('REST: latest, paged history, pairs, and API errors as TickcastApiError with the code', async () => {
  const tmp = await tempSqliteStores();
  const preds = predictionsFrom(realCandles('ETH/USD', 120));
  await tmp.stores.predictions.predictions.write(preds);
  const srv = await server(0, historyFromStore(tmp.stores.predictions));
  try {
    for (const p of preds) srv.app.live.prediction(p);
    const api = new TickcastClient({ baseUrl: srv.url });
    const latest = await api.latest('ETH/USD');
    assert.deepEqual(latest.prediction, preds[preds.length - 1]);
    const all: Prediction[] = [];
    for await (const p of api.historyAll({ pair: 'ETH/USD', limit: 17 })) all.push(p);
    assert.deepEqual(all, [...preds].reverse());
    const pairs = await api.pairs();
    assert.deepEqual(pairs.pairs.map((p) => p.pair), [...PAIRS]);
    await assert.rejects(api.latest('XRP/USD'), (e: unknown) => e instanceof TickcastApiError && e.status === 400 && e.code === 'UNKNOWN_PAIR');
    await assert.rejects(api.productionModel(), (e: unknown) => e instanceof TickcastApiError && e.status === 404 && e.code === 'NO_PRODUCTION_MODEL');
    await assert.rejects(api.monitoring({ window: '1h' }), (e: unknown) => e instanceof TickcastApiError && e.status === 404 && e.code === 'NO_MONITORING');
    await assert.rejects(api.history({ pair: 'ETH/USD', from: 'soon' }), (e: unknown) => e instanceof TickcastApiError && e.code === 'INVALID_PARAMETER');
  } finally {
    await srv.close();
    await tmp.cleanup();
  }
});

test('stream: reconnects with backoff after the server goes away and re-subscribes to its pairs by itself', async () => {
  let srv = await server();
  const port = srv.port;
  const api = new TickcastClient({ baseUrl: srv.url });
  const live = api.stream({ pairs: ['BTC/USD'], baseDelayMs: 50, maxDelayMs: 400 });
  const got: Prediction[] = [];
  const snapshots: string[] = [];
  const closes: (number | null)[] = [];
  live.on('prediction', (p) => got.push(p));
  live.on('snapshot', (s) => snapshots.push(s.pair));
  live.on('close', (c) => closes.push(c.willRetryInMs));
  try {
    await until(() => snapshots.length === 1, 'first snapshot');
    live.subscribe(['ETH/USD']); // added later: must survive the reconnect too
    await until(() => snapshots.length === 2, 'ETH snapshot');
    const btc = predictionsFrom(realCandles('BTC/USD', 6));
    const eth = predictionsFrom(realCandles('ETH/USD', 6));
    srv.app.live.prediction(btc[0]!);
    await until(() => got.length === 1, 'first live prediction');

    // The server goes away (its clients get 1001), and comes back on the same port a little later.
    await srv.close();
    await until(() => closes.length >= 1, 'client saw the close');
    assert.ok(typeof closes[0] === 'number' && closes[0] > 0, 'a retry is scheduled');
    await new Promise((r) => setTimeout(r, 300)); // a few failed attempts while down
    srv = await server(port);
    await until(() => live.connects === 2 && snapshots.length === 4, 're-subscribed after reconnect', 15_000);
    assert.deepEqual(snapshots.slice(2).sort(), ['BTC/USD', 'ETH/USD']);
    srv.app.live.prediction(btc[1]!);
    srv.app.live.prediction(eth[1]!);
    await until(() => got.length === 3, 'live predictions after reconnect');
    assert.deepEqual(got, [btc[0], btc[1], eth[1]]);

    // Unsubscribed pairs stay unsubscribed after a reconnect.
    live.unsubscribe(['ETH/USD']);
    await srv.close();
    srv = await server(port);
    await until(() => live.connects === 3 && snapshots.length === 5, 'second reconnect', 15_000);
    assert.equal(snapshots[4], 'BTC/USD');
    srv.app.live.prediction(eth[2]!);
    srv.app.live.prediction(btc[2]!);
    await until(() => got.length === 4, 'BTC after second reconnect');
    assert.deepEqual(got[3], btc[2]);
  } finally {
    live.close();
    await srv.close();
  }
  assert.equal(closes[closes.length - 1], null, 'no retry after close()');
});

test('the forecasts of issue 18 reach the typed client whole: REST latest, history, the snapshot and live websocket frames', async () => {
  const tmp = await tempSqliteStores();
  const [a, b] = predictionsFrom(realCandles('BTC/USD', 3)) as [Prediction, Prediction];
  const full: Prediction = {
    ...a,
    volatility: { value: 0.0021, model_version: 'vol-1' },
    range: { q05: -0.004, q10: -0.003, q50: 0, q90: 0.003, q95: 0.004, lo80: a.last_close * 0.997, hi80: a.last_close * 1.003, lo90: a.last_close * 0.996, hi90: a.last_close * 1.004, calibrated: true, m80: 1.05, m90: 1.2, model_version: 'range-1' },
    direction: { p_up: 0.55, model_version: 'dir-1' },
  };
  const { predicted_price: _p, ...rest } = b;
  const noPrice: Prediction = { ...rest, model_version: 'range-1', range: { ...full.range!, calibrated: false, m80: 1, m90: 1 } };
  await tmp.stores.predictions.predictions.write([full, noPrice]);
  const srv = await server(0, historyFromStore(tmp.stores.predictions));
  const api = new TickcastClient({ baseUrl: srv.url });
  srv.app.live.prediction(full); // before the stream opens: its snapshot carries it
  const live = api.stream({ pairs: ['BTC/USD'], baseDelayMs: 50, maxDelayMs: 400 });
  const got: Prediction[] = [];
  const snaps: (Prediction | null)[] = [];
  live.on('prediction', (p) => got.push(p));
  live.on('snapshot', (s) => snaps.push(s.prediction));
  try {
    assert.deepEqual((await api.latest('BTC/USD')).prediction, full);
    const hist: Prediction[] = [];
    for await (const p of api.historyAll({ pair: 'BTC/USD' })) hist.push(p);
    assert.deepEqual(hist, [noPrice, full]);
    await until(() => snaps.length === 1, 'snapshot');
    assert.deepEqual(snaps[0], full);
    srv.app.live.prediction(noPrice);
    await until(() => got.length === 1, 'live prediction');
    assert.deepEqual(got[0], noPrice);
    assert.equal(got[0]!.predicted_price, undefined);
  } finally {
    live.close();
    await srv.close();
    await tmp.cleanup();
  }
});

test('monitoring: the typed client returns the forecast figures (issue 18) as the store recount gives them', async () => {
  const tmp = await tempSqliteStores();
  const { end } = await writeMonitoringRows(tmp.stores, 1620);
  const rows = await writeForecastRows(tmp.stores, 1620);
  const srv = await startApiServer(
    { logger: quietLogger(), cache: new LiveCache({ pairs: PAIRS }), history: { newestFirst: async () => [] }, monitoring: monitoringSource(tmp.stores.predictions, { cacheMs: 0 }) },
    { host: '127.0.0.1', port: 0 },
  );
  try {
    const m = await new TickcastClient({ baseUrl: srv.url }).monitoring({ pair: 'BTC/USD', window: '1d' });
    assert.equal(m.windows_end_ms, end);
    const range = m.forecasts.find((f) => f.target === 'range' && f.model_version === 'range-1');
    assert.ok(range && range.coverage80 !== null && range.baseline_model_version === 'baseline:gaussian_ewma');
    assertForecastsClose(m.forecasts as unknown as Record<string, unknown>[], expectedForecasts('BTC/USD', rows, end).filter((w) => w.window === '1d'));
  } finally {
    await srv.close();
    await tmp.cleanup();
  }
});
