/**
 * A candle missing from the monitor's stream (on Kafka: consumed by a
 * partition's previous owner before a rebalance, and not yet stored when this
 * one recovered) is read back from the feature store once it is there: the
 * forecasts that need it wait for it (their context baselines, the volatility's
 * minutes, the base rate's day), the price prediction it resolves resolves,
 * and the stored rows equal those of a monitor that saw every candle. In-process
 * bus, SQLite stores, real Kraken minute candles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'prom-client';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { Candle } from '../../src/contracts/messages.ts';
import { openStores, type Stores } from '../../src/stores/index.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import { monitorService } from '../../src/pipeline/monitor-service.ts';
import { forecastAt, quietLogger, realCandles } from './fixtures.ts';

const logger = quietLogger();
const ctxOf = (bus: Bus, stores: Stores): ServiceContext => ({ config: loadConfig({ env: {} }), logger, bus, stores: async () => stores, signal: new AbortController().signal });

const HOLE = 270;

/** One monitor over candles 0..329 and predictions at 260..300; `skip`: a candle index not published (stored later). */
async function run(skip: number | null) {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-monitor-holes-'));
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  await bus.start();
  const candles = realCandles().slice(0, 330);
  let now = (candles.at(-1) as Candle).window_end_ms + 10_000; // wall time: fixed while the stream goes by
  const svc = monitorService({ pairs: [candles[0]!.pair], checkIntervalMs: 0, rules: [], clock: () => now });
  try {
    await svc.start(ctxOf(bus, stores));
    for (const [i, c] of candles.entries()) {
      if (i !== skip) {
        await stores.features.candles.write([c]); // the features service stores what it consumes
        await bus.publish('candles', [c]);
      }
      if (i >= 260 && i <= 300) {
        const p = forecastAt(c, i, true);
        await stores.predictions.predictions.write([p]);
        await bus.publish('predictions', [p]);
      }
      await bus.drain();
    }
    const read = async () => ({
      forecasts: await stores.predictions.forecastErrors.range({ pair: candles[0]!.pair }),
      errors: await stores.predictions.errors.range({ pair: candles[0]!.pair }),
    });
    const before = await read();
    if (skip !== null) {
      // The candle reaches the store late; the next check reads it (its pair's read waits a second after one that found nothing).
      await stores.features.candles.write([candles[skip] as Candle]);
      now += 1500;
      await svc.check();
    }
    return { before, after: await read(), snapshot: svc.snapshot() };
  } finally {
    await svc.stop();
    await bus.close();
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a candle missing from the stream is read back from the feature store: the forecasts and the price prediction waiting for it resolve as if it had come', async () => {
  const want = await run(null);
  const fk = (r: { target: string; model_version: string; made_at_ms: number }) => `${r.target}|${r.model_version}|${r.made_at_ms}`;
  // 41 predictions, each a price error (plus the persistence baseline), 3 forecast rows and 3 baseline rows, all resolved (targets up to candle 305).
  assert.equal(want.after.errors.length, 41 * 2);
  assert.equal(want.after.forecasts.filter((r) => !r.baseline).length, 41 * 3);
  assert.equal(want.after.forecasts.filter((r) => r.baseline).length, 41 * 3, 'every baseline: 240 minutes of context before the first prediction');

  const filled0 = (await register.getSingleMetric('tickcast_monitor_holes_filled_total')?.get())?.values.reduce((a, v) => a + v.value, 0) ?? 0;
  const got = await run(HOLE);
  // While the candle is missing: the price prediction made 5 minutes before it is unresolved; every forecast whose inputs
  // include it waits (all predictions made from 5 minutes before it: its horizon, then its context and base rate).
  const waiting = (p: number) => p >= HOLE - 5;
  assert.equal(got.before.errors.filter((e) => e.model_version !== 'baseline:persistence').length, 40, 'the price prediction targeting the missing candle waits');
  assert.equal(got.before.forecasts.filter((r) => !r.baseline).length, 3 * [...Array(41).keys()].filter((k) => !waiting(260 + k)).length, 'the forecasts that need it wait');
  assert.deepEqual(got.snapshot.unresolved, { count: 0, recent: [] }, 'after the read nothing is unresolved');
  // Once read back: the very rows of the monitor that saw every candle.
  const byKey = (rows: { target: string; model_version: string; made_at_ms: number }[]) => new Map(rows.map((r) => [fk(r), r]));
  assert.deepEqual(byKey(got.after.forecasts), byKey(want.after.forecasts));
  const ek = (e: { model_version: string; target_ms: number }) => `${e.model_version}|${e.target_ms}`;
  assert.deepEqual(new Map(got.after.errors.map((e) => [ek(e), e])), new Map(want.after.errors.map((e) => [ek(e), e])));
  const filled = (await register.getSingleMetric('tickcast_monitor_holes_filled_total')?.get())?.values.reduce((a, v) => a + v.value, 0) ?? 0;
  assert.ok(filled - filled0 >= 1, `counted: ${filled - filled0}`);
});
