// A pair without a production range model, with rangeBaseline (the embedded
// run): the predictor serves the Gaussian-EWMA baseline's interval, named
// baseline-gaussian-ewma, its quantiles z_a · the EWMA 5-minute volatility
// recomputed naively here from the candles (z from the normal table), and
// its intervals through the online calibration (the first ones: the model
// bands as is). Without the option the same rows give no message at all.
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
import { technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';

const logger = pino({ level: 'silent' });
const segs = readCandleCsv(join(REPO_ROOT, 'data', 'sample', 'candles', 'coinbase_ETHUSD_1m_lean.csv'), { pair: 'ETH/USD' }).segments;
const seg = segs.reduce((a, b) => (b.length > a.length ? b : a)).slice(0, 700);
const { rows } = technicalRowsFromCandles([seg]);
// Normal quantiles of 0.95 and 0.90 (tables); the served ones come from a rational approximation (relative error ~1e-9).
const Z95 = 1.6448536269514722;
const Z90 = 1.2815515655446004;

function ewmaVol(end_ms: number): number {
  const ci = seg.findIndex((c) => c.window_end_ms === end_ms);
  let num = 0;
  let den = 0;
  for (let q = 0; q < 240; q++) {
    num += 0.97 ** q * Math.log(seg[ci - q]!.close / seg[ci - q - 1]!.close) ** 2;
    den += 0.97 ** q;
  }
  return Math.sqrt((5 * num) / den);
}

async function serve(rangeBaseline: boolean, order: readonly number[]): Promise<Prediction[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tickcast-range-baseline-'));
  const registry = folderRegistry(dir);
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  const out: Prediction[] = [];
  const svc = predictorService({ registry, pollMs: 0, rangeBaseline });
  try {
    await bus.start();
    await bus.consume({ group: 'test-preds', topics: ['predictions'], fromBeginning: true, handler: (p) => void out.push(p) });
    assert.equal((await stores.features.technical.write(rows.slice(0, Math.max(...order) + 1))).rejected.length, 0);
    const ctx: ServiceContext = { config: loadConfig({ env: { TICKCAST_DATA_DIR: dir } }), logger, bus, stores: async () => stores, signal: new AbortController().signal };
    await svc.start(ctx);
    for (const i of order) {
      await bus.publish('featuresTechnical', [rows[i]!]);
      await bus.drain();
    }
  } finally {
    await svc.stop();
    await bus.close();
    await stores.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

test('no range model: the Gaussian-EWMA baseline interval is served when asked, nothing otherwise', async () => {
  const from = 600;
  const to = 610;
  const span = Array.from({ length: to - from + 1 }, (_, k) => from + k);
  const got = await serve(true, span);
  assert.equal(got.length, to - from + 1);
  for (const p of got) {
    const r = p.range!;
    assert.equal(r.model_version, 'baseline-gaussian-ewma');
    assert.equal(p.model_version, 'baseline-gaussian-ewma');
    assert.equal(p.predicted_price, undefined);
    assert.equal(p.target_ms, p.made_at_ms + 300_000);
    const sd = ewmaVol(p.made_at_ms);
    for (const [k, want] of [['q05', -Z95 * sd], ['q10', -Z90 * sd], ['q50', 0], ['q90', Z90 * sd], ['q95', Z95 * sd]] as const) assert.ok(Math.abs(r[k] - want) <= 1e-8 * sd, `${k}: ${r[k]} vs ${want}`);
  }
  // The first 5 intervals have no outcome yet: the bands as is; later ones are calibrated.
  const p0 = got[0]!;
  assert.equal(p0.range!.calibrated, false);
  assert.ok(Math.abs(p0.range!.hi90 / (p0.last_close * Math.exp(Z95 * ewmaVol(p0.made_at_ms))) - 1) < 1e-10);
  assert.equal(got.at(-1)!.range!.calibrated, true);
  assert.equal((await serve(false, span)).length, 0, 'without rangeBaseline: no model, no message');
});

test('rows delivered again after newer ones (kafkajs restarting from the committed offsets without a group join) get the same forecasts as the first time', async () => {
  // 40 rows, then 12 of them again: the close history's ring then holds newer windows in the slots
  // of the replayed rows' oldest ones, and the calibration has resolved intervals past them.
  const first = Array.from({ length: 40 }, (_, k) => 600 + k);
  const again = Array.from({ length: 12 }, (_, k) => 620 + k);
  const got = await serve(true, [...first, ...again]);
  assert.equal(got.length, first.length + again.length, 'every row, the replayed ones too, has its message');
  const byTime = new Map(got.slice(0, first.length).map((p) => [p.made_at_ms, p]));
  for (const p of got.slice(first.length)) assert.deepEqual(p, byTime.get(p.made_at_ms), `replayed ${new Date(p.made_at_ms).toISOString()}`);
  assert.ok(got.slice(first.length).some((p) => p.range!.calibrated), 'the replayed intervals were calibrated');
});
