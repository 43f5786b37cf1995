/**
 * GET /v1/monitoring with the REAL Elasticsearch prediction store (the
 * production path: an API process without a monitor reads the error rows
 * from the store). Same reference as monitoring.test.ts: a naive
 * recomputation from the rows written. Needs the test servers:
 *   bash scripts/services/with-services.sh node --import tsx --test ts/test/api/monitoring-es.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStores } from '../../src/stores/index.ts';
import { monitoringSource } from '../../src/api/monitoring.ts';
import { deleteIndices, esUrl, testPrefix } from '../stores/es-test-env.ts';
import { quietLogger } from './helpers.ts';
import { assertClose, assertForecastsClose, expected, expectedForecasts, json, make, writeForecastRows, writeMonitoringRows } from './monitoring-fixtures.ts';

test('Elasticsearch store: every model and window equals a naive recomputation from the rows written', async () => {
  const node = esUrl();
  const indexPrefix = testPrefix();
  const stores = await openStores({ kind: 'elasticsearch', node, indexPrefix, refresh: true, numberOfReplicas: 0 }, quietLogger());
  try {
    // 27 hours of real minutes: more rows than one search page, and the three windows differ.
    const { preds, errs, end } = await writeMonitoringRows(stores, 1620);
    const forecasts = await writeForecastRows(stores, 1620);
    const app = await make({ monitoring: monitoringSource(stores.predictions, { cacheMs: 0 }) });
    try {
      const r = await app.inject('/v1/monitoring?pair=BTC/USD');
      assert.equal(r.statusCode, 200, r.body);
      const body = json(r);
      assert.equal(body.source, 'store');
      assert.equal(body.windows_end_ms, end);
      assertClose(body.accuracy, expected('BTC/USD', errs, preds, end));
      assertForecastsClose(body.forecasts, expectedForecasts('BTC/USD', forecasts, end));
    } finally {
      await app.close();
    }
  } finally {
    await stores.close();
    await deleteIndices(node, indexPrefix);
  }
});
