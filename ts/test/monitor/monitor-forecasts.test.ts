/**
 * The monitor service resolves the forecasts of issue 18 (in-process bus,
 * SQLite stores, real Kraken candles): rows stored in forecast-errors with
 * the live baselines once per target, the rolling coverage in the snapshot
 * and as a Prometheus gauge equal to a naive recount from the candle closes;
 * a restart rebuilds the windows from the store and resolves what came due
 * while down exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'prom-client';
import { Bus, MemoryTransport } from '../../src/bus/index.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { Prediction } from '../../src/contracts/messages.ts';
import { openStores, type Stores } from '../../src/stores/index.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import { monitorService } from '../../src/pipeline/monitor-service.ts';
import { MonitoringSnapshot } from '../../src/monitor/monitoring-snapshot.ts';
import { DEFAULT_RULES } from '../../src/monitor/alert-rules.ts';
import { validate } from '../../src/contracts/codec.ts';
import { PAIR, forecastAt, quietLogger, realCandles } from './fixtures.ts';

const logger = quietLogger();

const ctxOf = (bus: Bus, stores: Stores): ServiceContext => ({ config: loadConfig({ env: {} }), logger, bus, stores: async () => stores, signal: new AbortController().signal });

test('forecasts resolved by the service: stored with their baselines, coverage in the snapshot and the gauge as recounted; restart resolves the rest once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-monitor-fc-'));
  let stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  const bus = new Bus(new MemoryTransport({ logger }), { logger, retries: 0, retryBaseMs: 1 });
  await bus.start();
  try {
    const candles = realCandles().slice(0, 330);
    const closeAt = new Map(candles.map((c) => [c.window_end_ms, c.close]));
    let now = candles[0]!.window_end_ms;
    // The coverage rule as shipped, but firing at once (for_s 0): the service's signal wiring.
    const coverageNow = DEFAULT_RULES.filter((r) => r.name === 'coverage_off').map((r) => ({ ...r, for_s: 0 }));
    let svc = monitorService({ pairs: [PAIR], checkIntervalMs: 0, rules: coverageNow, clock: () => now });
    await svc.start(ctxOf(bus, stores));
    const preds: Prediction[] = [];
    // Predictions at candles 250..299 (after 240 minutes of history: the Gaussian-EWMA and persistence baselines exist).
    for (const [i, c] of candles.slice(0, 305).entries()) {
      now = c.window_end_ms;
      await bus.publish('candles', [c]);
      if (i >= 250 && i < 300) {
        const p = forecastAt(c, i);
        preds.push(p);
        await stores.predictions.predictions.write([p]);
        await bus.publish('predictions', [p]);
      }
      await bus.drain();
    }
    const rows = await stores.predictions.forecastErrors.range({ pair: PAIR });
    // Predictions 250..299 target candles 255..304: all closed.
    assert.equal(rows.filter((r) => !r.baseline).length, 50 * 3, 'a range, volatility and direction row per prediction');
    assert.equal(rows.filter((r) => r.baseline).length, 50 * 3, 'one baseline row per target and target time');
    // Naive recount of the 80% and 90% hits from the closes.
    const hit = (p: Prediction, lo: number, hi: number) => {
      const a = closeAt.get(p.target_ms)!;
      return a >= lo && a <= hi;
    };
    const c80 = preds.filter((p) => hit(p, p.range!.lo80, p.range!.hi80)).length / preds.length;
    const c90 = preds.filter((p) => hit(p, p.range!.lo90, p.range!.hi90)).length / preds.length;
    const snap = svc.snapshot();
    assert.ok(validate(MonitoringSnapshot, snap).ok, 'snapshot satisfies its schema');
    const r1h = snap.forecasts.find((f) => f.target === 'range' && f.model_version === 'range-1' && f.window === '1h')!;
    assert.equal(r1h.n, 50);
    assert.equal(r1h.coverage80, c80);
    assert.equal(r1h.coverage90, c90);
    assert.ok(c80 > 0 && c80 < 1, `coverage 80 ${c80} is neither all nor nothing`);
    assert.equal(r1h.baseline_model_version, 'baseline:gaussian_ewma');
    assert.equal(r1h.baseline_n, 50);
    const metric = await register.getSingleMetric('tickcast_monitor_forecast_coverage_ratio')!.get();
    const g = metric.values.find((v) => v.labels.model_version === 'range-1' && v.labels.window === '1h' && v.labels.level === '80' && v.labels.pair === PAIR);
    assert.equal(g?.value, c80, 'the gauge says the same');
    await svc.check();
    const firing = svc.snapshot().alerts.filter((a) => a.rule === 'coverage_off' && a.state === 'firing');
    const off = (c: number, nominal: number) => Math.abs(c - nominal) * 100 > 5;
    assert.deepEqual(
      firing.map((a) => a.key).sort(),
      [...(off(c80, 0.8) ? [`${PAIR} range-1 80`] : []), ...(off(c90, 0.9) ? [`${PAIR} range-1 90`] : [])],
      'coverage_off fires for each level off nominal by more than 5 points over the day',
    );
    assert.ok(firing.length > 0);
    console.log(`service: range-1 1h coverage 80 ${c80.toFixed(3)}, 90 ${c90.toFixed(3)}; gaussian-EWMA 80 ${r1h.baseline_coverage80?.toFixed(3)}, 90 ${r1h.baseline_coverage90?.toFixed(3)}`);
    await svc.stop();

    // Down for the rest: predictions 300..319 are stored with their candles, then a restart.
    for (const [i, c] of candles.entries()) {
      if (i < 305) continue;
      await stores.features.candles.write([c]);
    }
    for (const c of candles.slice(300, 320)) {
      const p = forecastAt(c, 0);
      await stores.predictions.predictions.write([p]);
    }
    for (const c of candles.slice(0, 305)) await stores.features.candles.write([c]);
    await stores.close();
    stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
    now = candles.at(-1)!.window_end_ms;
    svc = monitorService({ pairs: [PAIR], checkIntervalMs: 0, rules: [], clock: () => now });
    await svc.start(ctxOf(bus, stores));
    const after = await stores.predictions.forecastErrors.range({ pair: PAIR });
    assert.equal(after.filter((r) => !r.baseline).length, 70 * 3, 'the 20 predictions that came due while down resolved, the 50 not again');
    const keys = after.map((r) => `${r.target}|${r.model_version}|${r.target_ms}`);
    assert.equal(new Set(keys).size, keys.length);
    const again = svc.snapshot().forecasts.find((f) => f.target === 'range' && f.model_version === 'range-1' && f.window === '1d')!;
    assert.equal(again.n, 70, 'windows rebuilt from the store plus the ones resolved now');
    await svc.stop();
  } finally {
    await bus.close();
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
