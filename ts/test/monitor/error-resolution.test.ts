/** Error resolution and rolling aggregates as pure functions, against hand-computed numbers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Candle, Prediction } from '../../src/contracts/messages.ts';
import { BASELINE_MODEL_VERSION, ErrorResolver, directionHit, resolvePrediction, type PricedPrediction } from '../../src/monitor/error-resolution.ts';
import { RollingAggregates, recordsOf } from '../../src/monitor/rolling-aggregates.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const pred = (over: Partial<Prediction> = {}): PricedPrediction => ({
  pair: 'BTC/USD',
  made_at_ms: T0,
  target_ms: T0 + 300_000,
  horizon_s: 300,
  predicted_price: 101,
  last_close: 100,
  model_name: 'm',
  model_version: 'v1',
  ...over,
});
const candle = (endMs: number, close: number, pair = 'BTC/USD', interval_s = 60): Candle => ({
  exchange: 'kraken',
  pair,
  interval_s,
  window_start_ms: endMs - interval_s * 1000,
  window_end_ms: endMs,
  open: close,
  high: close,
  low: close,
  close,
  volume: 1,
  buy_volume: 0,
  sell_volume: 0,
  vwap: close,
  trade_count: 1,
  filled: false,
});

test('resolvePrediction: signed error, fraction abs_pct_error, direction, baseline beside it', () => {
  // predicted 101, last 100, actual 102: error = 101 - 102 = -1; |-1|/102; up called, up happened.
  const r = resolvePrediction(pred(), 102);
  assert.equal(r.error.error, -1);
  assert.equal(r.error.abs_pct_error, 1 / 102);
  assert.equal(r.error.actual_price, 102);
  assert.equal(r.error.model_version, 'v1');
  assert.equal(r.direction_hit, true);
  // Baseline: predicted = last close 100; error -2, 2/102; "no change" calls no direction: no hit, no miss.
  assert.equal(r.baseline.model_version, BASELINE_MODEL_VERSION);
  assert.equal(r.baseline.predicted_price, 100);
  assert.equal(r.baseline.error, -2);
  assert.equal(r.baseline.abs_pct_error, 2 / 102);
  assert.equal(r.baseline.target_ms, T0 + 300_000);
  assert.equal(r.baseline_direction_hit, null);
  // Wrong direction: predicted up, price fell to 99: error 2, miss.
  const down = resolvePrediction(pred(), 99);
  assert.equal(down.error.error, 2);
  assert.equal(down.direction_hit, false);
  assert.equal(down.baseline_direction_hit, null);
  // Flat close: a called move is a miss; the baseline still calls nothing.
  assert.equal(resolvePrediction(pred(), 100).direction_hit, false);
  assert.equal(resolvePrediction(pred(), 100).baseline_direction_hit, null);
  assert.equal(directionHit(99, 98, 100), true);
  assert.equal(directionHit(100, 100.5, 100), null, 'predicted = last close calls no direction');
  assert.equal(directionHit(100.5, 100, 100), false);
  assert.throws(() => resolvePrediction(pred(), 0), /positive/);
});

test('the candle whose window_end_ms equals the target resolves; others never do', () => {
  const r = new ErrorResolver({ intervalS: 60 });
  const p = pred();
  assert.deepEqual(r.addPrediction(p, T0), { resolved: [], unresolved: [] });
  // The candle covering the target (start <= target < end) is NOT the one: its end is after the target.
  assert.equal(r.addCandle(candle(T0 + 240_000, 103), T0 + 240_000).resolved.length, 0);
  // A candle of another interval or pair with that end does not resolve it either.
  assert.equal(r.addCandle(candle(T0 + 300_000, 104, 'BTC/USD', 300), T0 + 300_000).resolved.length, 0);
  assert.equal(r.addCandle(candle(T0 + 300_000, 104, 'ETH/USD'), T0 + 300_000).resolved.length, 0);
  const out = r.addCandle(candle(T0 + 300_000, 102), T0 + 300_000);
  assert.equal(out.resolved.length, 1);
  assert.equal(out.resolved[0]?.error.actual_price, 102);
  // Exactly once: the same prediction or candle again changes nothing.
  assert.equal(r.addPrediction(p, T0 + 301_000).resolved.length, 0);
  assert.equal(r.addCandle(candle(T0 + 300_000, 102), T0 + 301_000).resolved.length, 0);
  assert.equal(r.pendingCount(), 0);
});

test('a prediction that arrives after its candle is resolved from the remembered close', () => {
  const r = new ErrorResolver();
  r.addCandle(candle(T0 + 300_000, 98), T0 + 300_000);
  const out = r.addPrediction(pred(), T0 + 301_000);
  assert.equal(out.resolved.length, 1);
  assert.equal(out.resolved[0]?.error.error, 3);
});

test('outage: unresolved when a later candle skips the target or the pair clock passes target + wait; a late candle still resolves', () => {
  const r = new ErrorResolver({ unresolvedAfterMs: 120_000 });
  r.addCandle(candle(T0, 100), T0);
  const a = pred({ model_version: 'a' });
  r.addPrediction(a, T0);
  // Wall clock 2 min after target: not yet (wait is 120 s, strictly after).
  assert.deepEqual(r.sweep(T0 + 420_000), []);
  const swept = r.sweep(T0 + 420_001);
  assert.deepEqual(swept, [a]);
  assert.deepEqual(r.sweep(T0 + 999_999), [], 'reported once');
  assert.deepEqual(r.unresolved(), [a]);
  // A candle after the target skipping it marks another prediction unresolved at once.
  const b = pred({ model_version: 'b', made_at_ms: T0 + 60_000, target_ms: T0 + 360_000 });
  r.addPrediction(b, T0 + 60_000);
  const later = r.addCandle(candle(T0 + 420_000, 105), T0 + 420_000);
  assert.deepEqual(later.unresolved, [b]);
  // A backfilled candle for a's target still resolves it.
  const late = r.addCandle(candle(T0 + 300_000, 101), T0 + 500_000);
  assert.equal(late.resolved.length, 1);
  assert.deepEqual(r.unresolved(), [b]);
});

test('rolling aggregates: MAE, directional accuracy, ratio to the baseline on the same targets, windows', () => {
  const H = 3_600_000;
  const agg = new RollingAggregates();
  // Three resolutions: 2 h ago (outside 1h), 30 min ago, now.
  const cases: [number, number, number, number][] = [
    // [target offset, predicted, last_close, actual]
    [-2 * H, 110, 100, 104], // model |110-104| = 6 hit; baseline |100-104| = 4
    [-H / 2, 99, 100, 101], // model 2 miss; baseline 1
    [0, 103, 100, 102], // model 1 hit; baseline 2
  ];
  for (const [dt, predicted, last, actual] of cases) {
    agg.add(recordsOf(resolvePrediction(pred({ target_ms: T0 + dt, made_at_ms: T0 + dt - 300_000, predicted_price: predicted, last_close: last }), actual)));
  }
  // Duplicates do not count twice.
  agg.add(recordsOf(resolvePrediction(pred({ target_ms: T0, predicted_price: 103, last_close: 100 }), 102)));
  const all = agg.compute(T0);
  const get = (model: string, w: string) => all.find((a) => a.model_version === model && a.window === w);
  const h = get('v1', '1h');
  assert.equal(h?.n, 2);
  assert.equal(h?.mae, (2 + 1) / 2);
  assert.equal(h?.direction_accuracy, 1 / 2);
  assert.equal(h?.baseline_mae, (1 + 2) / 2);
  assert.equal(h?.mae_vs_baseline, 1);
  const d = get('v1', '1d');
  assert.equal(d?.n, 3);
  assert.equal(d?.mae, 3);
  assert.equal(d?.direction_accuracy, 2 / 3);
  assert.equal(d?.mae_vs_baseline, 9 / 7);
  const b = get(BASELINE_MODEL_VERSION, '1d');
  assert.equal(b?.mae, 7 / 3);
  assert.equal(b?.direction_accuracy, null, 'the baseline calls no direction: n/a, not 0');
  // Direction accuracy counts only the predictions that call a direction: v3 calls one (right) and predicts no change once.
  agg.add(recordsOf(resolvePrediction(pred({ model_version: 'v3', target_ms: T0 - H / 4, predicted_price: 101, last_close: 100 }), 102)));
  agg.add(recordsOf(resolvePrediction(pred({ model_version: 'v3', target_ms: T0 - H / 5, predicted_price: 100, last_close: 100 }), 98)));
  const v3 = agg.compute(T0).find((a) => a.model_version === 'v3' && a.window === '1h');
  assert.equal(v3?.n, 2);
  assert.equal(v3?.direction_accuracy, 1);
  // Ratio over matched targets only: a second model that predicted only the newest target.
  agg.add(recordsOf(resolvePrediction(pred({ model_version: 'v2', target_ms: T0, predicted_price: 102, last_close: 100 }), 102)));
  const v2 = agg.compute(T0).find((a) => a.model_version === 'v2' && a.window === '7d');
  assert.equal(v2?.mae, 0);
  assert.equal(v2?.baseline_mae, 2);
  assert.equal(v2?.mae_vs_baseline, 0);
  assert.equal(agg.newestTargetMs(), T0);
});

test('a prediction without a price (no price model, issue 18) is ignored by the resolver: no error row, never pending or unresolved', () => {
  const r = new ErrorResolver({ intervalS: 60, unresolvedAfterMs: 120_000 });
  const { predicted_price: _p, ...noPrice } = pred({ range: { q05: -0.01, q10: -0.005, q50: 0, q90: 0.005, q95: 0.01, lo80: 99.5, hi80: 100.5, lo90: 99, hi90: 101, calibrated: false, m80: 1, m90: 1, model_version: 'r1' }, model_version: 'r1' });
  assert.deepEqual(r.addPrediction(noPrice as Prediction, T0), { resolved: [], unresolved: [] });
  assert.equal(r.pendingCount(), 0);
  const out = r.addCandle(candle(T0 + 300_000, 102), T0 + 300_000);
  assert.deepEqual(out.resolved, []);
  // The same with a price is resolved by that candle (the control).
  r.addPrediction(pred({ made_at_ms: T0 + 60_000, target_ms: T0 + 360_000 }), T0 + 300_000);
  assert.equal(r.addCandle(candle(T0 + 360_000, 103), T0 + 360_000).resolved.length, 1);
  assert.deepEqual(r.unresolved(), []);
});
