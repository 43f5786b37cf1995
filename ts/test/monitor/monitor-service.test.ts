/**
 * The monitor service on the in-process bus with SQLite stores: real Kraken
 * candles and predictions in, prediction-errors out and stored with the
 * baseline beside each; unresolved after an outage; a restart resolves what
 * came due while down exactly once. Expected numbers are recomputed here
 * naively from the CSV closes, not taken from the service.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { Candle, Prediction, PredictionError } from '../../src/contracts/messages.ts';
import { openStores, type Stores } from '../../src/stores/index.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import { monitorService, type MonitorServiceOptions } from '../../src/pipeline/monitor-service.ts';
import { monitoringSnapshot, MonitoringSnapshot } from '../../src/monitor/monitoring-snapshot.ts';
import { validate } from '../../src/contracts/codec.ts';
import { PAIR, predictionAt, quietLogger, realCandles } from './fixtures.ts';

const logger = quietLogger();
const BASE = 'baseline:persistence';

async function newBus(): Promise<Bus> {
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  await bus.start();
  return bus;
}

function ctxOf(bus: Bus, stores: Stores): ServiceContext {
  return { config: loadConfig({ env: {} }), logger, bus, stores: async () => stores, signal: new AbortController().signal };
}

/** Everything published to prediction-errors. */
async function collectErrors(bus: Bus): Promise<PredictionError[]> {
  const out: PredictionError[] = [];
  await bus.consume({ group: `test-${Math.random()}`, topics: ['predictionErrors'], fromBeginning: true, handler: (m) => void out.push(m) });
  return out;
}

/** The naive reference: for each prediction, the close of the candle ending at its target. */
function expectedErrors(preds: Prediction[], candles: Candle[]): Map<string, { error: number; abs_pct_error: number; actual: number }> {
  const closeAt = new Map(candles.map((c) => [c.window_end_ms, c.close]));
  const out = new Map<string, { error: number; abs_pct_error: number; actual: number }>();
  for (const p of preds) {
    const actual = closeAt.get(p.target_ms);
    if (actual === undefined) continue;
    out.set(`${p.model_version}|${p.target_ms}`, { error: p.predicted_price! - actual, abs_pct_error: Math.abs(p.predicted_price! - actual) / actual, actual });
    out.set(`${BASE}|${p.target_ms}`, { error: p.last_close - actual, abs_pct_error: Math.abs(p.last_close - actual) / actual, actual });
  }
  return out;
}

const keyOf = (e: PredictionError) => `${e.model_version}|${e.target_ms}`;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tickcast-monitor-'));
}

function start(opts: Partial<MonitorServiceOptions> & { clock: () => number }) {
  return monitorService({ pairs: [PAIR], checkIntervalMs: 0, rules: [], ...opts });
}

test('candles + predictions in: prediction-errors out and stored, the baseline beside each, numbers as recomputed', async () => {
  const dir = tempDir();
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = await newBus();
  try {
    const candles = realCandles().slice(0, 90);
    let now = (candles[0] as Candle).window_end_ms;
    const svc = start({ clock: () => now, stateFile: join(dir, 'monitor', 'snapshot.json') });
    await svc.start(ctxOf(bus, stores));
    const published = await collectErrors(bus);
    // Two model versions predict at every candle end of the first 80 candles, interleaved with the candles as live.
    const preds: Prediction[] = [];
    for (const [i, c] of candles.entries()) {
      now = c.window_end_ms;
      await bus.publish('candles', [c]);
      if (i < 80) {
        const ps = [predictionAt(c, 'toy-v1'), predictionAt(c, 'toy-v2')];
        preds.push(...ps);
        await stores.predictions.predictions.write(ps);
        await bus.publish('predictions', ps);
      }
      await bus.drain();
    }
    await svc.check();
    const expected = expectedErrors(preds, candles);
    // Predictions made at candles 1..80 target 5 candles later: all 80 targets exist among 90 candles.
    assert.equal(expected.size, 80 * 3, '80 targets x (2 models + baseline)');
    assert.equal(published.length, expected.size, 'one message per model error, one baseline per target');
    assert.equal(new Set(published.map(keyOf)).size, published.length, 'no duplicates on the stream');
    for (const e of published) {
      const want = expected.get(keyOf(e));
      assert.ok(want, `unexpected error row ${keyOf(e)}`);
      assert.equal(e.actual_price, want.actual);
      assert.ok(Math.abs(e.error - want.error) < 1e-9, `${keyOf(e)} error ${e.error} vs ${want.error}`);
      assert.ok(Math.abs(e.abs_pct_error - want.abs_pct_error) < 1e-12);
    }
    const stored = await stores.predictions.errors.range({ pair: PAIR });
    assert.deepEqual(new Set(stored.map(keyOf)), new Set(expected.keys()), 'stored = published');
    // Every model error has its baseline beside it (same pair and target).
    const baseTargets = new Set(stored.filter((e) => e.model_version === BASE).map((e) => e.target_ms));
    for (const e of stored) assert.ok(baseTargets.has(e.target_ms));

    // Rolling aggregates, recomputed naively over the last hour of targets.
    const snap = svc.snapshot();
    assert.ok(validate(MonitoringSnapshot, snap).ok, 'snapshot satisfies its schema');
    assert.deepEqual(monitoringSnapshot()?.accuracy, snap.accuracy, 'the process-wide snapshot function serves it');
    const end = Math.max(...stored.map((e) => e.target_ms));
    const inHour = (e: PredictionError) => e.target_ms > end - 3_600_000;
    const mae = (v: string) => {
      const xs = stored.filter((e) => e.model_version === v && inHour(e));
      return xs.reduce((a, e) => a + Math.abs(e.error), 0) / xs.length;
    };
    const lastCloseAt = new Map(preds.map((p) => [p.target_ms, p.last_close]));
    const v1 = stored.filter((e) => e.model_version === 'toy-v1' && inHour(e));
    // Direction accuracy over the predictions that call a direction (predicted != last close).
    const called = v1.filter((e) => Math.sign(e.predicted_price - (lastCloseAt.get(e.target_ms) as number)) !== 0);
    const hits = called.filter((e) => Math.sign(e.predicted_price - (lastCloseAt.get(e.target_ms) as number)) === Math.sign(e.actual_price - (lastCloseAt.get(e.target_ms) as number))).length;
    const row = snap.accuracy.find((a) => a.model_version === 'toy-v1' && a.window === '1h');
    assert.equal(row?.n, 60);
    assert.ok(Math.abs((row?.mae as number) - mae('toy-v1')) < 1e-9);
    assert.ok(Math.abs((row?.baseline_mae as number) - mae(BASE)) < 1e-9);
    assert.ok(Math.abs((row?.mae_vs_baseline as number) - mae('toy-v1') / mae(BASE)) < 1e-9);
    assert.ok(called.length > 0);
    assert.equal(row?.direction_accuracy, hits / called.length);
    assert.equal(snap.accuracy.find((a) => a.model_version === BASE && a.window === '1h')?.direction_accuracy, null, 'the baseline calls no direction');
    assert.equal(snap.unresolved.count, 0);
    // Freshness from the stores: the newest prediction is the 80th candle's end.
    const fresh = snap.freshness.find((f) => f.kind === 'prediction' && f.key === PAIR);
    assert.equal(fresh?.newest_ms, (candles[79] as Candle).window_end_ms);
    assert.equal(fresh?.age_s, (now - (candles[79] as Candle).window_end_ms) / 1000);
    // The JSON snapshot file is written.
    const file = JSON.parse(readFileSync(join(dir, 'monitor', 'snapshot.json'), 'utf8')) as { accuracy: unknown[] };
    assert.equal(file.accuracy.length, snap.accuracy.length);
    await svc.stop();
  } finally {
    await bus.close();
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('feed outage: predictions whose target passed without a candle are reported unresolved, not dropped', async () => {
  const dir = tempDir();
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = await newBus();
  try {
    const all = realCandles().slice(0, 40);
    // Candles 20..29 never arrive (outage).
    const candles = all.filter((_, i) => i < 20 || i >= 30);
    let now = (all[0] as Candle).window_end_ms;
    const svc = start({ clock: () => now, unresolvedAfterMs: 120_000 });
    await svc.start(ctxOf(bus, stores));
    const published = await collectErrors(bus);
    const preds: Prediction[] = [];
    for (const c of candles) {
      now = c.window_end_ms;
      await bus.publish('candles', [c]);
      if (c.window_end_ms <= (all[19] as Candle).window_end_ms || c.window_end_ms >= (all[30] as Candle).window_end_ms) {
        const p = predictionAt(c);
        preds.push(p);
        await bus.publish('predictions', [p]);
      }
      await bus.drain();
    }
    await svc.check();
    const present = new Set(candles.map((c) => c.window_end_ms));
    const lastEnd = (candles.at(-1) as Candle).window_end_ms;
    const missing = preds.filter((p) => !present.has(p.target_ms) && p.target_ms < lastEnd);
    const future = preds.filter((p) => p.target_ms > lastEnd);
    assert.equal(missing.length, 5, 'predictions at candles 15..19 target the outage');
    const snap = svc.snapshot();
    assert.equal(snap.unresolved.count, missing.length);
    assert.deepEqual(snap.unresolved.recent.map((u) => u.target_ms), missing.map((p) => p.target_ms));
    assert.equal(published.filter((e) => e.model_version === 'toy-v1').length, preds.length - missing.length - future.length);
    // The tail still waits for its candles: unresolved only once the pair clock passes target + 120 s.
    now = lastEnd + 60_000;
    await svc.check();
    assert.equal(svc.snapshot().unresolved.count, missing.length);
    now = (future.at(-1) as Prediction).target_ms + 120_001;
    await svc.check();
    assert.equal(svc.snapshot().unresolved.count, missing.length + future.length);
    await svc.stop();
  } finally {
    await bus.close();
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restart: predictions that came due while the monitor was down are resolved from the stores exactly once', async () => {
  const dir = tempDir();
  const candles = realCandles().slice(100, 160);
  const preds = candles.slice(0, 50).map((c) => predictionAt(c));
  const expected = expectedErrors(preds, candles);
  try {
    // Run 1: the first 20 candles and predictions, live.
    let stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
    let bus = await newBus();
    let now = (candles[0] as Candle).window_end_ms;
    let svc = start({ clock: () => now });
    await svc.start(ctxOf(bus, stores));
    let published = await collectErrors(bus);
    for (const [i, c] of candles.slice(0, 20).entries()) {
      now = c.window_end_ms;
      await stores.features.candles.write([c]);
      await bus.publish('candles', [c]);
      const p = preds[i] as Prediction;
      await stores.predictions.predictions.write([p]);
      await bus.publish('predictions', [p]);
      await bus.drain();
    }
    const run1 = published.length;
    assert.equal(run1, 15 * 2, 'predictions 1..15 resolved (model + baseline)');
    await svc.stop();
    await bus.close();
    await stores.close();

    // Down: the other services keep storing candles and predictions.
    stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
    await stores.features.candles.write(candles.slice(20));
    await stores.predictions.predictions.write(preds.slice(20));

    // Run 2: a new process (new in-process bus), clock at the last candle.
    now = (candles.at(-1) as Candle).window_end_ms;
    bus = await newBus();
    published = await collectErrors(bus);
    svc = start({ clock: () => now });
    await svc.start(ctxOf(bus, stores));
    // The bus redelivers some predictions (a Kafka consumer would, from its committed offset): ignored.
    await bus.publish('predictions', preds.slice(10, 30));
    await bus.publish('candles', candles.slice(10, 40));
    await bus.drain();
    assert.equal(published.length, (50 - 15) * 2, 'the other 35 resolved once each, none of the first 15 again');
    assert.equal(new Set(published.map(keyOf)).size, published.length);
    for (const e of published) assert.ok(Math.abs(e.error - (expected.get(keyOf(e))?.error ?? NaN)) < 1e-9, keyOf(e));
    const stored = await stores.predictions.errors.range({ pair: PAIR });
    assert.equal(stored.length, 50 * 2);
    assert.equal(svc.snapshot().unresolved.count, 0);
    // Rolling windows were rebuilt from the store (run 1's rows count too).
    assert.equal(svc.snapshot().accuracy.find((a) => a.model_version === 'toy-v1' && a.window === '1h')?.n, 50);
    await svc.stop();
    await bus.close();

    // Run 3: nothing left to do.
    bus = await newBus();
    published = await collectErrors(bus);
    svc = start({ clock: () => now });
    await svc.start(ctxOf(bus, stores));
    await bus.drain();
    assert.equal(published.length, 0, 'a second restart resolves nothing again');
    await svc.stop();
    await bus.close();
    await stores.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
