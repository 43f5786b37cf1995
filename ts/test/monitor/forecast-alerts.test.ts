/**
 * The alerts of issue 18.5 with the default rules, each firing and clearing
 * once, time driven by hand (AlertEngine.evaluate(signals, now_ms)); the
 * signals come from the monitor's own state (forecast aggregates, drift
 * detectors, model ages) through forecastSignals. Expected values are
 * computed here from the rows fed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertEngine, DEFAULT_RULES, type AlertEvent } from '../../src/monitor/alert-rules.ts';
import { ForecastAggregates } from '../../src/monitor/forecast-aggregates.ts';
import { forecastSignals } from '../../src/monitor/forecast-signals.ts';
import { DriftDetectors, PageHinkley } from '../../src/monitor/drift-detector.ts';
import { modelAge } from '../../src/monitor/model-expiry.ts';
import type { ForecastError } from '../../src/stores/types.ts';
import { realCandles } from './fixtures.ts';

const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 5);
const PAIR = 'BTC/USD';
const only = (name: string) => new AlertEngine(DEFAULT_RULES.filter((r) => r.name === name));
const states = (es: AlertEvent[]) => es.map((e) => `${e.state}:${e.key}`);

const base = (t: number, target: ForecastError['target'], model_version: string): ForecastError => ({
  pair: PAIR, target, model_version, baseline: model_version.startsWith('baseline:'), made_at_ms: t - 5 * MIN, target_ms: t, last_close: 100, actual_price: 100, abs_error: 0.001,
});
const rangeRow = (t: number, hit80: boolean, hit90: boolean, model = 'range-1'): ForecastError => ({
  ...base(t, 'range', model), hit80, hit90, pinball_bp: 1, interval_score80_bp: 10, interval_score90_bp: 12, width80_bp: 8, width90_bp: 11,
});
const volRow = (t: number, qlike: number, model: string): ForecastError => ({ ...base(t, 'volatility', model), predicted_vol: 0.001, realized_vol: 0.001, sq_log_vol_error: 0.01, qlike });

test('coverage_off: 80% coverage 10 points low over the last day fires after 30 minutes, clears once back within 5 points', () => {
  const agg = new ForecastAggregates();
  // A day of minutes: 80% hits at 70% (every 10th target: 7 of 10 hit), 90% hits at 90% exactly.
  const rows = Array.from({ length: 1440 }, (_, i) => rangeRow(T0 + i * MIN, i % 10 < 7, i % 10 < 9));
  agg.add(rows);
  const end = T0 + 1439 * MIN;
  const eng = only('coverage_off');
  const sig = () => forecastSignals(agg.compute(end), [], []);
  const s80 = sig().find((s) => s.key === `${PAIR} range-1 80` && s.window === '1d');
  assert.ok(s80 && Math.abs(s80.value - 10) < 1e-9, `coverage 80 off by ${s80?.value} points (0.70 vs 0.80)`);
  assert.deepEqual(eng.evaluate(sig(), end), [], 'pending first');
  assert.deepEqual(eng.evaluate(sig(), end + 29 * MIN), []);
  assert.deepEqual(states(eng.evaluate(sig(), end + 30 * MIN)), [`firing:${PAIR} range-1 80`], 'the 90% level is on nominal: only 80 fires');
  // The misses of one in ten become hits (rows rewritten by target time): 0.80 exactly.
  agg.add(rows.filter((_, i) => i % 10 === 7).map((r) => ({ ...r, hit80: true })));
  assert.deepEqual(states(eng.evaluate(sig(), end + 31 * MIN)), [`resolved:${PAIR} range-1 80`]);
  assert.deepEqual(eng.evaluate(sig(), end + 32 * MIN), [], 'resolved once');
});

test('volatility_worse_than_baseline: QLIKE / persistence QLIKE over the day above 1 fires after 30 minutes, clears below', () => {
  const agg = new ForecastAggregates();
  const ts = Array.from({ length: 600 }, (_, i) => T0 + i * MIN);
  agg.add(ts.map((t, i) => volRow(t, 0.5 + (i % 3) * 0.1, 'vol-1')));
  agg.add(ts.map((t) => volRow(t, 0.5, 'baseline:vol_persistence')));
  const end = ts.at(-1)!;
  const eng = only('volatility_worse_than_baseline');
  const sig = () => forecastSignals(agg.compute(end), [], []).filter((s) => s.signal === 'qlike_vs_baseline');
  const v = sig().find((s) => s.window === '1d')!;
  assert.ok(Math.abs(v.value - 0.6 / 0.5) < 1e-9, `ratio ${v.value} = mean 0.6 / 0.5`);
  eng.evaluate(sig(), end);
  assert.deepEqual(states(eng.evaluate(sig(), end + 30 * MIN)), [`firing:${PAIR} vol-1`]);
  agg.add(ts.map((t) => volRow(t, 0.7, 'baseline:vol_persistence')));
  assert.deepEqual(states(eng.evaluate(sig(), end + 40 * MIN)), [`resolved:${PAIR} vol-1`]);
});

test('error_drift: Page-Hinkley on real absolute errors; silent while stationary, fires when the errors triple, clears an hour after', () => {
  // Real Kraken minutes: |ln(close[t+5] / close[t])|, the persistence error of each minute, as a model's absolute errors.
  const c = realCandles();
  const errs = c.slice(0, -5).map((x, i) => Math.abs(Math.log(c[i + 5]!.close / x.close)));
  const quiet = errs.slice(0, 400);
  const ph = new PageHinkley();
  assert.equal(errs.filter((e) => ph.add(e)).length, 0, `no detection on the ${errs.length} real errors as they are`);
  const drift = new DriftDetectors();
  const eng = only('error_drift');
  const key = `${PAIR} volatility vol-1`;
  let firedAt: number | null = null;
  let cleared: number | null = null;
  // Then the following real errors multiplied by 3: a change of the error scale.
  const stream = [...quiet, ...errs.slice(400).map((e) => 3 * e)];
  for (const [i, e] of stream.entries()) {
    const t = T0 + i * MIN;
    drift.add(key, t, e);
    for (const ev of eng.evaluate(forecastSignals([], drift.signals(t), []), t)) {
      if (ev.state === 'firing' && firedAt === null) firedAt = i;
      if (ev.state === 'resolved') cleared = i;
    }
  }
  assert.ok(firedAt !== null && firedAt >= 400, `fired after the change (at error ${firedAt})`);
  console.log(`error_drift: change at error 400, detected at ${firedAt} (${firedAt! - 400} errors later)`);
  // No more errors: an hour of event time later the alert clears, once.
  const end = T0 + stream.length * MIN;
  const later = eng.evaluate(forecastSignals([], drift.signals(end + HOUR), []), end + HOUR);
  const clears = (cleared !== null ? 1 : 0) + later.filter((e) => e.state === 'resolved').length;
  assert.equal(clears, 1, 'cleared exactly once');
});

test('model_expired: a production model past TICKCAST_MODEL_MAX_AGE_HOURS fires; a successful retrain clears it; 0 = off', () => {
  const prod = { version: 'vol-1', pair: PAIR, target: 'volatility', created_ms: T0 };
  const eng = only('model_expired');
  const at = (now: number, versions: { pair: string; target: string; created_ms: number }[], max = 168) => forecastSignals([], [], [modelAge(prod, versions, now, max)]);
  assert.deepEqual(eng.evaluate(at(T0 + 167 * HOUR, [prod]), T0 + 167 * HOUR), []);
  const fired = eng.evaluate(at(T0 + 170 * HOUR, [prod]), T0 + 170 * HOUR);
  assert.deepEqual(states(fired), [`firing:${PAIR} volatility vol-1`]);
  assert.ok(Math.abs(fired[0]!.value - 2) < 1e-9, 'two hours past the limit');
  // Another pair's or another target's training does not count; this pair's volatility retrain does (not promoted).
  const others = [prod, { pair: 'ETH/USD', target: 'volatility', created_ms: T0 + 169 * HOUR }, { pair: PAIR, target: 'range', created_ms: T0 + 169 * HOUR }];
  assert.deepEqual(eng.evaluate(at(T0 + 171 * HOUR, others), T0 + 171 * HOUR), []);
  const retrained = [...others, { pair: PAIR, target: 'volatility', created_ms: T0 + 171 * HOUR }];
  assert.deepEqual(states(eng.evaluate(at(T0 + 172 * HOUR, retrained), T0 + 172 * HOUR)), [`resolved:${PAIR} volatility vol-1`]);
  assert.equal(modelAge(prod, [prod], T0 + 10_000 * HOUR, 0).expired, false, 'max age 0: never expired');
});
