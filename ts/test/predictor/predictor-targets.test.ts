// The predictor service with a production model of another target
// (volatility) on the in-process bus, SQLite stores and a folder registry:
// the first row after a start fills the close history from the feature
// store, and the published volatility equals an independent recomputation
// (LightGBM booster loaded from the stored text, context features recomputed
// naively from the candles); the price stream is untouched (no price model:
// no predictions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { register, type Gauge } from 'prom-client';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import { openStores } from '../../src/stores/index.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import type { Prediction } from '../../src/contracts/messages.ts';
import { predictorService } from '../../src/pipeline/predictor-service.ts';
import { folderRegistry } from '../../src/registry/folder-registry.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { trainTarget } from '../../src/training/target-trainer.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';

const logger = pino({ level: 'silent' });
const segs = readCandleCsv(join(REPO_ROOT, 'data', 'sample', 'candles', 'coinbase_BTCUSD_1m_lean.csv'), { pair: 'BTC/USD' }).segments;
const seg = segs.reduce((a, b) => (b.length > a.length ? b : a)).slice(0, 1700);
const { names, rows } = technicalRowsFromCandles([seg]);

test('a volatility production model is served on fresh rows; context filled from the store after a start', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-predictor-targets-'));
  const registry = folderRegistry(dir);
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  await bus.start();
  const predictions: Prediction[] = [];
  await bus.consume({ group: 'test-preds', topics: ['predictions'], fromBeginning: true, handler: (p) => void predictions.push(p) });
  const svc = predictorService({ registry, pollMs: 0 });
  try {
    const ds = buildDataset({ pair: 'BTC/USD', technical: rows.slice(0, 1500), technicalNames: names, horizonS: 300, target: 'volatility' });
    const r = trainTarget({ dataset: ds, folds: 3, source: 'test' });
    await registry.save(r.meta, r.model.modelText(), null);
    await registry.promote(r.meta.version, 'test');
    // The feature store holds the history (the features service writes a row before the predictor sees it); the
    // service starts after, and row 1650 comes after a gap in what it saw: both filled from the store.
    const w = await stores.features.technical.write(rows.slice(0, 1660));
    assert.equal(w.rejected.length, 0);
    const ctx: ServiceContext = { config: loadConfig({ env: { TICKCAST_DATA_DIR: dir } }), logger, bus, stores: async () => stores, signal: new AbortController().signal };
    await svc.start(ctx);
    const gauge = () => register.getSingleMetric('tickcast_forecast_value') as Gauge<string>;
    const addon = createRequire(import.meta.url)('@tickcast/lightgbm') as typeof import('@tickcast/lightgbm');
    const booster = addon.Booster.fromModelText(r.model.modelText());
    for (const i of [1600, 1601, 1650]) {
      await bus.publish('featuresTechnical', [rows[i]!]);
      await bus.drain();
      const skipped = await register.getSingleMetric('tickcast_predictor_rows_skipped_total')?.get();
      assert.ok(gauge(), JSON.stringify(skipped?.values));
      const got = (await gauge().get()).values.find((v) => v.labels.target === 'volatility' && v.labels.name === 'volatility')!.value;
      // Independent: features in the model's order, context recomputed from the candles, booster x EWMA variance.
      const row = rows[i]!;
      const ci = seg.findIndex((c) => c.window_end_ms === row.window_end_ms);
      const ret = (j: number) => Math.log(seg[j]!.close / seg[j - 1]!.close);
      const rv = (n: number) => Math.sqrt(Array.from({ length: n }, (_, q) => ret(ci - q) ** 2).reduce((a, b) => a + b, 0));
      let num = 0;
      let den = 0;
      for (let q = 0; q < 240; q++) {
        num += 0.97 ** q * ret(ci - q) ** 2;
        den += 0.97 ** q;
      }
      const ewma = Math.sqrt((5 * num) / den);
      const d = new Date(row.window_end_ms);
      const x = Float64Array.from([...names.map((n) => row.features[n]!), rv(5), rv(30), rv(240), ewma, d.getUTCHours() * 60 + d.getUTCMinutes()]);
      const want = Math.sqrt(booster.predict(x)[0]! * Math.max(ewma * ewma, 1e-10));
      assert.ok(Math.abs(got / want - 1) < 1e-9, `row ${i}: ${got} vs ${want}`);
    }
    assert.equal(predictions.length, 0, 'no price model: the predictions stream is unchanged');
  } finally {
    await svc.stop();
    await bus.close();
    await stores.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
});
