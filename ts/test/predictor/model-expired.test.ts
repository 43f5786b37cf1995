// Issue 18.5: TICKCAST_MODEL_EXPIRED_STOP_SERVING. A production model whose
// pair has had no successful training for longer than
// TICKCAST_MODEL_MAX_AGE_HOURS is not served; a successful retrain (a new
// version stored, even one not promoted) makes it servable again; with the
// option off the expired model is served. Real Coinbase candles, folder
// registry, in-process bus, time driven by hand.
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
import type { Prediction } from '../../src/contracts/messages.ts';
import { predictorService } from '../../src/pipeline/predictor-service.ts';
import { folderRegistry } from '../../src/registry/folder-registry.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { trainModel } from '../../src/training/trainer.ts';
import { testData } from '../fixtures/test-data.ts';

const logger = pino({ level: 'silent' });
const HOUR = 3_600_000;
const seg = readCandleCsv(testData('candles/coinbase_BTCUSD_1m_lean.csv'), { pair: 'BTC/USD' }).segments.find(
  (s) => s[0]!.window_start_ms === Date.parse('2017-09-03T00:00:00Z'),
)!;
const { names, rows } = technicalRowsFromCandles([seg.slice(0, 1000)]);
const candidate = (now_ms: number) =>
  trainModel({ dataset: buildDataset({ pair: 'BTC/USD', technical: rows.slice(0, 900), technicalNames: names, horizonS: 300 }), kind: 'ridge', params: { lambda: 1e-3 }, folds: 3, source: 'test', now_ms, current: null });

async function run(stopServing: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-expired-'));
  const registry = folderRegistry(dir);
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  await bus.start();
  const got: Prediction[] = [];
  await bus.consume({ group: 'test-preds', topics: ['predictions'], fromBeginning: true, handler: (p) => void got.push(p) });
  let now = Date.UTC(2026, 0, 10);
  const env = { TICKCAST_DATA_DIR: dir, TICKCAST_MODEL_MAX_AGE_HOURS: '24', TICKCAST_MODEL_EXPIRED_STOP_SERVING: String(stopServing) };
  const ctx: ServiceContext = { config: loadConfig({ env }), logger, bus, stores: async () => stores, signal: new AbortController().signal };
  const svc = predictorService({ registry, pollMs: 0, clock: () => now });
  // Trained 25 hours ago: past the 24-hour limit.
  const old = candidate(now - 25 * HOUR);
  await registry.save(old.meta, old.regressor.modelText(), null);
  await registry.promote(old.meta.version, 'test');
  await svc.start(ctx);
  const publish = async (from: number, n: number) => {
    const before = got.length;
    await bus.publish('featuresTechnical', rows.slice(from, from + n));
    await bus.drain();
    return got.length - before;
  };
  return {
    registry, publish, advance: (ms: number) => void (now += ms), at: () => now, got, oldVersion: old.meta.version,
    async close() {
      await svc.stop();
      await bus.close();
      await stores.close();
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('stop serving on: the expired model is not served; a retrain that is not promoted makes it servable again', async () => {
  const t = await run(true);
  try {
    assert.equal(await t.publish(900, 5), 0, 'expired: no prediction');
    // A successful retrain now (stored, not promoted: the production model stays the old one).
    const fresh = candidate(t.at());
    await t.registry.save({ ...fresh.meta, version: `${fresh.meta.version}-retrain`, status: 'candidate' }, fresh.regressor.modelText(), null);
    assert.equal(await t.publish(905, 5), 0, 'checked at most every minute');
    t.advance(61_000);
    assert.equal(await t.publish(910, 5), 5, 'served again after the retrain');
    assert.ok(t.got.every((p) => p.model_version === t.oldVersion), 'by the same production model');
  } finally {
    await t.close();
  }
});

test('stop serving off (default): the expired model is served', async () => {
  const t = await run(false);
  try {
    assert.equal(await t.publish(900, 5), 5);
  } finally {
    await t.close();
  }
});
