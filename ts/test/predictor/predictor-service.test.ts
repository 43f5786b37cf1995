// The predictor service on the in-process bus with SQLite stores and a folder
// registry: a prediction for each fresh feature row (price checked by an
// independent recomputation from the stored model), hot swap of a newly
// promoted model without restart, rejection of mismatched feature names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import { openStores } from '../../src/stores/index.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import type { DeadLetter, Prediction, TechnicalFeatures } from '../../src/contracts/messages.ts';
import { predictorService } from '../../src/pipeline/predictor-service.ts';
import { folderRegistry } from '../../src/registry/folder-registry.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { trainModel } from '../../src/training/trainer.ts';
import type { RidgeModel } from '../../src/model/ridge.ts';
import { testData } from '../fixtures/test-data.ts';

const logger = pino({ level: 'silent' });

// Real candles: Coinbase BTC-USD 2017-09-03 (first 900 minutes) to train, the next minutes to serve.
const seg = readCandleCsv(testData('candles/coinbase_BTCUSD_1m_lean.csv'), { pair: 'BTC/USD' }).segments.find(
  (s) => s[0]!.window_start_ms === Date.parse('2017-09-03T00:00:00Z'),
)!;
const { names, rows } = technicalRowsFromCandles([seg.slice(0, 1000)]);
const trainRows = rows.slice(0, 900);
const liveRows = rows.slice(900, 960);

function candidate(lambda: number, now_ms: number) {
  const ds = buildDataset({ pair: 'BTC/USD', technical: trainRows, technicalNames: names, horizonS: 300 });
  return trainModel({ dataset: ds, kind: 'ridge', params: { lambda }, folds: 3, source: 'test', now_ms, current: null });
}

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-predictor-'));
  const registry = folderRegistry(dir);
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  await bus.start();
  const predictions: Prediction[] = [];
  const dead: DeadLetter[] = [];
  await bus.consume({ group: 'test-preds', topics: ['predictions'], fromBeginning: true, handler: (p) => void predictions.push(p) });
  await bus.consumeDeadLetters({ group: 'test-dlq', topics: ['featuresTechnical'], fromBeginning: true, handler: (d) => void dead.push(d) });
  const ac = new AbortController();
  const ctx: ServiceContext = { config: loadConfig({ env: { TICKCAST_DATA_DIR: dir } }), logger, bus, stores: async () => stores, signal: ac.signal };
  const svc = predictorService({ registry, pollMs: 0 });
  await svc.start(ctx);
  return {
    registry, stores, bus, predictions, dead, svc,
    async close() {
      await svc.stop();
      await bus.close();
      await stores.close();
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An independent recomputation of a ridge prediction from the stored model text. */
function ridgePrice(modelText: string, row: TechnicalFeatures): number {
  const m = JSON.parse(modelText) as RidgeModel;
  let s = m.intercept;
  m.featureNames.forEach((n, j) => {
    if (m.weights[j] !== 0) s += (m.weights[j]! * (row.features[n]! - m.means[j]!)) / m.sds[j]!;
  });
  return row.close * Math.exp(s);
}

test('no model yet: rows are skipped; after promotion every fresh row gets a prediction (stream and store)', async () => {
  const t = await setup();
  try {
    await t.bus.publish('featuresTechnical', liveRows.slice(0, 5));
    await t.bus.drain();
    assert.equal(t.predictions.length, 0, 'no production model: nothing predicted');

    const c = candidate(1e-3, 1_700_000_000_000);
    // Promoted by command (the rule itself is tested in ts/test/registry).
    await t.registry.save(c.meta, c.regressor.modelText(), null);
    await t.registry.promote(c.meta.version, 'test');

    const fresh = liveRows.slice(5, 25);
    await t.bus.publish('featuresTechnical', fresh);
    await t.bus.drain();
    assert.equal(t.predictions.length, fresh.length);
    for (const [i, p] of t.predictions.entries()) {
      const row = fresh[i]!;
      assert.equal(p.made_at_ms, row.window_end_ms);
      assert.equal(p.target_ms, row.window_end_ms + 300_000);
      assert.equal(p.horizon_s, 300);
      assert.equal(p.last_close, row.close);
      assert.equal(p.model_version, c.meta.version);
      assert.equal(p.model_name, 'tickcast-ridge');
      const want = ridgePrice(c.regressor.modelText(), row);
      assert.ok(Math.abs(p.predicted_price! - want) <= 1e-9 * want, `${p.predicted_price} vs ${want}`);
    }
    const stored = await t.stores.predictions.predictions.range({ pair: 'BTC/USD' });
    assert.deepEqual(stored.map((p) => p.made_at_ms), fresh.map((r) => r.window_end_ms));
  } finally {
    await t.close();
  }
});

test('a newly promoted model is picked up without a restart', async () => {
  const t = await setup();
  try {
    const a = candidate(1e-3, 1_700_000_000_000);
    await t.registry.save({ ...a.meta, status: 'candidate' }, a.regressor.modelText(), null);
    await t.registry.promote(a.meta.version, 'test');
    await t.bus.publish('featuresTechnical', liveRows.slice(0, 10));
    await t.bus.drain();
    const b = candidate(10, 1_700_000_100_000);
    assert.notEqual(b.meta.version, a.meta.version);
    await t.registry.save({ ...b.meta, status: 'candidate' }, b.regressor.modelText(), null);
    await t.registry.promote(b.meta.version, 'test');
    await t.bus.publish('featuresTechnical', liveRows.slice(10, 20));
    await t.bus.drain();
    assert.deepEqual(t.predictions.map((p) => p.model_version), [...Array(10).fill(a.meta.version), ...Array(10).fill(b.meta.version)]);
    const row = liveRows[15]!;
    const p = t.predictions.find((x) => x.made_at_ms === row.window_end_ms)!;
    assert.ok(Math.abs(p.predicted_price! - ridgePrice(b.regressor.modelText(), row)) < 1e-9 * row.close);
    // Rollback is picked up too.
    await t.registry.rollback('BTC/USD');
    await t.bus.publish('featuresTechnical', liveRows.slice(20, 22));
    await t.bus.drain();
    assert.deepEqual(t.predictions.slice(-2).map((p) => p.model_version), [a.meta.version, a.meta.version]);
  } finally {
    await t.close();
  }
});

test('a row whose feature names do not match the model is dead-lettered with the reason, never predicted on', async () => {
  const t = await setup();
  try {
    const a = candidate(1e-3, 1_700_000_000_000);
    await t.registry.save(a.meta, a.regressor.modelText(), null);
    await t.registry.promote(a.meta.version, 'test');
    const good = liveRows[30]!;
    const { rsi_14: _dropped, ...rest } = good.features;
    const missing: TechnicalFeatures = { ...good, features: rest };
    const extra: TechnicalFeatures = { ...liveRows[31]!, features: { ...liveRows[31]!.features, rsi_99: 50 } };
    await t.bus.publish('featuresTechnical', [missing, extra, liveRows[32]!]);
    await t.bus.drain();
    assert.deepEqual(t.predictions.map((p) => p.made_at_ms), [liveRows[32]!.window_end_ms]);
    assert.equal(t.dead.length, 2);
    assert.match(t.dead[0]!.reason, /feature names do not match model .*missing \[rsi_14\]/);
    assert.match(t.dead[1]!.reason, /unexpected \[rsi_99\]/);
    assert.equal(t.dead[0]!.source, 'predictor');
    assert.equal(t.dead[0]!.topic, 'features.technical');
    assert.equal(JSON.parse(t.dead[0]!.payload).window_end_ms, good.window_end_ms);
  } finally {
    await t.close();
  }
});
