/**
 * apiService under the runner with the in-process bus and SQLite stores:
 * warms its cache from the store, then follows the `predictions`, `candles`
 * and `prediction-errors` streams into REST and the websocket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Runner } from '../../src/services/runner.ts';
import { loadConfig } from '../../src/config/config.ts';
import { apiService } from '../../src/api/api-service.ts';
import { apiSettingsOf } from '../../src/api/api-config.ts';
import { TickcastClient } from '../../src/client/tickcast-client.ts';
import type { Prediction } from '../../src/contracts/messages.ts';
import { capturingLogger, errorsFrom, predictionsFrom, realCandles, tempSqliteStores, until } from './helpers.ts';

test('apiService: warm from the store, follow the streams, log the docs and dashboard URLs', async () => {
  const tmp = await tempSqliteStores();
  const cap = capturingLogger();
  const config = loadConfig({ env: { TICKCAST_DATA_DIR: tmp.dir, TICKCAST_PAIRS: 'BTC/USD,ETH/USD', TICKCAST_API_HOST: '127.0.0.1', TICKCAST_API_PORT: '0' } });
  const candles = realCandles('BTC/USD', 30);
  const preds = predictionsFrom(candles);
  await tmp.stores.predictions.predictions.write(preds.slice(0, 10));
  const runner = new Runner({ config, logger: cap.logger, openStores: async () => tmp.stores });
  await runner.start([apiService()]);
  try {
    const started = cap.lines().find((l) => typeof l.docs === 'string');
    assert.ok(started, 'a log line with the URLs');
    const url = started.api as string;
    assert.match(started.docs as string, /^http:\/\/127\.0\.0\.1:\d+\/docs$/);
    assert.equal(started.dashboard, `${url}/`);
    const api = new TickcastClient({ baseUrl: url });
    // Warm: the newest stored prediction is served before any stream message.
    assert.deepEqual((await api.latest('BTC/USD')).prediction, preds[9]);

    const live = api.stream({ pairs: ['BTC/USD'] });
    const got: Prediction[] = [];
    live.on('prediction', (p) => got.push(p));
    let errors = 0;
    live.on('prediction_error', () => errors++);
    await until(() => live.isOpen && live.connects === 1, 'stream open');
    await new Promise((r) => setTimeout(r, 200));
    await runner.bus.publish('candles', candles);
    await runner.bus.publish('predictions', preds.slice(10));
    const errs = errorsFrom(preds, candles);
    await runner.bus.publish('predictionErrors', errs);
    await runner.bus.drain();
    await until(() => got.length === preds.length - 10 && errors === errs.length, 'stream frames');
    assert.deepEqual(got, preds.slice(10));
    assert.deepEqual((await api.latest('BTC/USD')).prediction, preds[preds.length - 1]);
    const health = await fetch(`${url}/readyz`);
    assert.equal(health.status, 200);
    // No monitor in this process: the summary is recomputed from the store's error rows.
    await tmp.stores.predictions.errors.write(errs);
    const mon = await api.monitoring({ pair: 'BTC/USD', window: '7d', model_version: 'v1' });
    assert.equal(mon.source, 'store');
    assert.equal(mon.windows_end_ms, Math.max(...errs.map((e) => e.target_ms)));
    assert.equal(mon.accuracy.length, 1);
    assert.equal(mon.accuracy[0]!.n, errs.length);
    const mae = errs.reduce((s, e) => s + Math.abs(e.predicted_price - e.actual_price), 0) / errs.length;
    assert.ok(Math.abs((mon.accuracy[0]!.mae as number) - mae) < 1e-9 * mae);
    live.close();
  } finally {
    await runner.stop();
    await tmp.cleanup().catch(() => {});
  }
});

test('API settings from the one config: defaults, and keys / rate limit off in the embedded mode', () => {
  const embedded = apiSettingsOf(loadConfig({ env: { TICKCAST_API_KEYS: 'abcdefgh12', TICKCAST_API_RATE_LIMIT: '5' } }));
  assert.deepEqual(embedded, { host: '0.0.0.0', port: 8000, apiKeys: [], rateLimitPerMin: 0, staleAfterMs: 180_000, trustProxy: [], corsOrigins: [], cursorSecret: null });
  const prodEnv = { TICKCAST_MODE: 'production', TICKCAST_KAFKA_BROKERS: 'k:9092', TICKCAST_ES_URL: 'http://es:9200' };
  const prod = apiSettingsOf(loadConfig({ env: { ...prodEnv, TICKCAST_API_KEYS: 'abcdefgh12, ijklmnop34', TICKCAST_API_PORT: '9000', TICKCAST_API_HOST: '127.0.0.1' } }));
  assert.deepEqual(prod.apiKeys, ['abcdefgh12', 'ijklmnop34']);
  assert.equal(prod.rateLimitPerMin, 600);
  assert.equal(prod.port, 9000);
  assert.equal(prod.host, '127.0.0.1');
  assert.throws(() => loadConfig({ env: { TICKCAST_API_PORT: 'eighty' } }), /TICKCAST_API_PORT: expected a TCP port/);
  assert.throws(() => loadConfig({ env: { ...prodEnv, TICKCAST_API_KEYS: 'short' } }), /TICKCAST_API_KEYS/);
});
