/**
 * The monitor's rolling windows refreshed pair by pair (monitor-service.ts
 * refreshAggregates): while the windows' end stays where it was, only the
 * pairs whose rows changed are recomputed and merged into the cache; when the
 * end moves, every pair is. Driven here as the monitor drives it, over many
 * pairs resolving in a shuffled order minute after minute, the cache must
 * equal a full recompute after every step (price and forecast windows).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ForecastAggregates } from '../../src/monitor/forecast-aggregates.ts';
import { mergeByPair, RollingAggregates, type ErrorRecord } from '../../src/monitor/rolling-aggregates.ts';
import type { ForecastError } from '../../src/stores/types.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5);

/** A small deterministic generator (no Math.random: a failure must replay). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('rolling windows refreshed only for the pairs that changed (end unchanged) equal a full recompute after every step', () => {
  const rand = rng(7);
  const pairs = Array.from({ length: 12 }, (_, i) => `P${String(i).padStart(2, '0')}/USD`);
  const price = new RollingAggregates();
  const forecast = new ForecastAggregates();
  let priceCache: ReturnType<RollingAggregates['compute']> = [];
  let forecastCache: ReturnType<ForecastAggregates['compute']> = [];
  let cacheEnd: number | null = null;
  let steps = 0;
  let partial = 0;
  // 3 hours of minutes (windows 1h move across the data); each minute every pair resolves, in a shuffled order,
  // some pairs twice (a duplicate row), some not at all (a gap).
  for (let m = 0; m < 180; m++) {
    const t = T0 + m * MIN;
    const order = [...pairs].sort(() => rand() - 0.5).filter(() => rand() > 0.1);
    for (const pair of order) {
      const err = rand() * 10;
      const recs: ErrorRecord[] = [
        { pair, model_version: 'v1', target_ms: t, abs_error: err, direction_hit: rand() > 0.5 },
        { pair, model_version: 'baseline:persistence', target_ms: t, abs_error: err * (0.5 + rand()), direction_hit: null },
      ];
      const hit = rand();
      const rows: ForecastError[] = [
        { pair, target: 'range', model_version: 'range-1', baseline: false, made_at_ms: t - 5 * MIN, target_ms: t, last_close: 100, actual_price: 100, abs_error: err, hit80: hit < 0.8, hit90: hit < 0.9, pinball_bp: rand(), interval_score80_bp: 10 * rand(), interval_score90_bp: 12 * rand(), width80_bp: 8, width90_bp: 11 },
        { pair, target: 'range', model_version: 'baseline:gaussian_ewma', baseline: true, made_at_ms: t - 5 * MIN, target_ms: t, last_close: 100, actual_price: 100, abs_error: err, hit80: hit < 0.7, hit90: hit < 0.85, pinball_bp: rand(), interval_score80_bp: 10 * rand(), interval_score90_bp: 12 * rand(), width80_bp: 8, width90_bp: 11 },
      ];
      price.add(recs);
      forecast.add(rows);
      // The monitor's refresh.
      const end = Math.max(price.newestTargetMs() as number, forecast.newestTargetMs() as number);
      const touched = new Set([pair]);
      const only = end === cacheEnd ? touched : undefined;
      const a = price.compute(end, only);
      const f = forecast.compute(end, only);
      priceCache = only ? mergeByPair(priceCache, a, only) : a;
      forecastCache = only ? mergeByPair(forecastCache, f, only) : f;
      if (only) partial++;
      cacheEnd = end;
      steps++;
      assert.deepEqual(priceCache, price.compute(end), `price windows after step ${steps} (minute ${m}, ${pair})`);
      assert.deepEqual(forecastCache, forecast.compute(end), `forecast windows after step ${steps} (minute ${m}, ${pair})`);
    }
  }
  assert.ok(partial > steps / 2, `most refreshes were partial (${partial} of ${steps})`);
  // A subset is the full computation's rows of those pairs.
  const some = new Set(pairs.slice(3, 6));
  assert.deepEqual(price.compute(cacheEnd as number, some), price.compute(cacheEnd as number).filter((r) => some.has(r.pair)));
  assert.deepEqual(forecast.compute(cacheEnd as number, some), forecast.compute(cacheEnd as number).filter((r) => some.has(r.pair)));
});
