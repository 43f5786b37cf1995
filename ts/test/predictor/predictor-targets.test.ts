// The predictor service with a production model of another target
// (volatility) on the in-process bus, SQLite stores and a folder registry:
// the first row after a start fills the close history from the feature
// store, and the published volatility equals an independent recomputation
// (LightGBM booster loaded from the stored text, context features recomputed
// naively from the candles), on the gauge and in the prediction message
// (no price model: a message without predicted_price, issue 18). A range model
// is served through the online calibration: its quantiles and its calibrated
// intervals equal a recomputation (boosters from the stored text, a naive
// tracker over the served intervals).
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

/** The model input of row i (features in the model's order, context recomputed naively from the candles) and its EWMA volatility. */
function modelInput(i: number): { x: Float64Array; ewma: number } {
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
  return { x: Float64Array.from([...names.map((n) => row.features[n]!), rv(5), rv(30), rv(240), ewma, d.getUTCHours() * 60 + d.getUTCMinutes()]), ewma };
}

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
      const { x, ewma } = modelInput(i);
      const want = Math.sqrt(booster.predict(x)[0]! * Math.max(ewma * ewma, 1e-10));
      assert.ok(Math.abs(got / want - 1) < 1e-9, `row ${i}: ${got} vs ${want}`);
      // The same value in the message of the row; no price model, so no price, and the message is named after the volatility model.
      const p = predictions.at(-1)!;
      assert.equal(p.made_at_ms, row.window_end_ms);
      assert.equal(p.target_ms, row.window_end_ms + 300_000);
      assert.equal(p.predicted_price, undefined);
      assert.equal(p.last_close, row.close);
      assert.equal(p.model_version, r.meta.version);
      assert.equal(p.volatility?.model_version, r.meta.version);
      assert.ok(Math.abs(p.volatility!.value / want - 1) < 1e-9, `message row ${i}: ${p.volatility!.value} vs ${want}`);
      assert.equal(p.range, undefined);
      assert.equal(p.direction, undefined);
    }
    assert.equal(predictions.length, 3, 'one message per fresh row');
    const stored = await stores.predictions.predictions.range({ pair: 'BTC/USD' });
    assert.deepEqual(stored, predictions, 'stored as published');
  } finally {
    await svc.stop();
    await bus.close();
    await stores.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a range production model: quantiles and calibrated intervals in the message equal a recomputation', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-predictor-range-'));
  const registry = folderRegistry(dir);
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  await bus.start();
  const predictions: Prediction[] = [];
  await bus.consume({ group: 'test-preds', topics: ['predictions'], fromBeginning: true, handler: (p) => void predictions.push(p) });
  const svc = predictorService({ registry, pollMs: 0 });
  try {
    const ds = buildDataset({ pair: 'BTC/USD', technical: rows.slice(0, 1500), technicalNames: names, horizonS: 300, target: 'range' });
    const r = trainTarget({ dataset: ds, folds: 2, source: 'test' });
    await registry.save(r.meta, r.model.modelText(), null);
    await registry.promote(r.meta.version, 'test');
    const first = 1560;
    const last = 1640;
    assert.equal((await stores.features.technical.write(rows.slice(0, last + 1))).rejected.length, 0);
    const ctx: ServiceContext = { config: loadConfig({ env: { TICKCAST_DATA_DIR: dir } }), logger, bus, stores: async () => stores, signal: new AbortController().signal };
    await svc.start(ctx);
    for (let i = first; i <= last; i++) {
      await bus.publish('featuresTechnical', [rows[i]!]);
      await bus.drain();
    }
    assert.equal(predictions.length, last - first + 1);

    // Independent quantiles: the boosters of the stored text, scaled by the EWMA volatility, sorted.
    const addon = createRequire(import.meta.url)('@tickcast/lightgbm') as typeof import('@tickcast/lightgbm');
    const text = JSON.parse(r.model.modelText()) as { method: string; parts: string[]; offsets?: number[] };
    const boosters = text.parts.map((t) => addon.Booster.fromModelText(t));
    const quantiles = (i: number): number[] => {
      const { x, ewma } = modelInput(i);
      const scale = Math.max(ewma, 1e-5);
      let q: number[];
      if (text.method === 'quantile') q = boosters.map((b) => b.predict(x)[0]!);
      else {
        const med = boosters[0]!.predict(x)[0]!;
        const sd = Math.sqrt(Math.max(boosters[1]!.predict(x)[0]!, 1e-10));
        q = text.offsets!.map((o) => med + sd * o);
      }
      return q.map((v) => v * scale).sort((a, b) => a - b);
    };
    // Independent calibration: m per level starts at 1; the interval served at t is a miss when the close at
    // t + 5 min is outside it; then ln m += 0.15 · (miss - (1 - level)). Outcomes are applied when their row comes.
    const m = [1, 1];
    const served: { target: number; lo: number[]; hi: number[] }[] = [];
    let resolved = 0;
    for (let i = first; i <= last; i++) {
      const row = rows[i]!;
      for (const s of served.filter((s) => s.target === row.window_end_ms)) {
        resolved++;
        [0, 1].forEach((k) => {
          const miss = row.close < s.lo[k]! || row.close > s.hi[k]! ? 1 : 0;
          m[k] = Math.exp(Math.log(m[k]!) + 0.15 * (miss - (k === 0 ? 0.2 : 0.1)));
        });
      }
      const q = quantiles(i);
      const p = predictions[i - first]!;
      assert.equal(p.made_at_ms, row.window_end_ms);
      assert.equal(p.predicted_price, undefined);
      const got = p.range!;
      assert.equal(got.model_version, r.meta.version);
      ['q05', 'q10', 'q50', 'q90', 'q95'].forEach((name, j) => assert.ok(Math.abs((got as unknown as Record<string, number>)[name]! - q[j]!) < 1e-12, `row ${i} ${name}`));
      assert.equal(got.calibrated, resolved > 0, `row ${i}: calibrated once an outcome came`);
      const c = row.close;
      const lo80 = c * Math.exp(q[2]! - m[0]! * (q[2]! - q[1]!));
      const hi80 = c * Math.exp(q[2]! + m[0]! * (q[3]! - q[2]!));
      const lo90 = c * Math.exp(q[2]! - m[1]! * (q[2]! - q[0]!));
      const hi90 = c * Math.exp(q[2]! + m[1]! * (q[4]! - q[2]!));
      for (const [name, want] of [['lo80', lo80], ['hi80', hi80], ['lo90', lo90], ['hi90', hi90]] as const) assert.ok(Math.abs(got[name] / want - 1) < 1e-12, `row ${i} ${name}: ${got[name]} vs ${want}`);
      assert.ok(Math.abs(got.m80 - m[0]!) < 1e-12 && Math.abs(got.m90 - m[1]!) < 1e-12);
      served.push({ target: p.target_ms, lo: [lo80, lo90], hi: [hi80, hi90] });
    }
    assert.ok(resolved >= 70, `outcomes resolved while serving: ${resolved}`);
    assert.ok(m[0] !== 1 && m[1] !== 1, 'the calibration moved');
    console.log(`range ${text.method}: after ${resolved} outcomes m80 = ${m[0]!.toFixed(3)}, m90 = ${m[1]!.toFixed(3)}`);
  } finally {
    await svc.stop();
    await bus.close();
    await stores.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
});
