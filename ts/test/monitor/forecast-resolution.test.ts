/**
 * Resolution of every probabilistic output (issue 18.4) against a hand
 * computation written here from the definitions (not from the target
 * modules): interval hit per level, pinball loss, Winkler interval score,
 * squared error of ln volatility, QLIKE, Brier, and the live baselines
 * (Gaussian-EWMA interval, persistence of volatility, base rate), on real
 * Kraken 1-minute candles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Candle, Prediction } from '../../src/contracts/messages.ts';
import { ForecastResolver, FORECAST_BASELINES, resolveForecasts } from '../../src/monitor/forecast-resolution.ts';
import type { ForecastError } from '../../src/stores/types.ts';
import { realCandles } from './fixtures.ts';

const MIN = 60_000;
const candles = realCandles();
const closeAt = new Map(candles.map((c) => [c.window_end_ms, c.close]));
const close = (t: number): number => {
  const c = closeAt.get(t);
  if (c === undefined) throw new Error(`no close at ${t}`);
  return c;
};

// ---- the definitions, written out independently -------------------------------------------
const LEVELS = [0.05, 0.1, 0.5, 0.9, 0.95];
const Z95 = 1.6448536269514722; // standard normal quantiles (tables)
const Z90 = 1.2815515655446004;
const pinball = (y: number, q: number, a: number) => Math.max(a * (y - q), (a - 1) * (y - q));
const winkler = (y: number, lo: number, hi: number, alpha: number) => hi - lo + (2 / alpha) * Math.max(0, lo - y) + (2 / alpha) * Math.max(0, y - hi);
/** ln(c[t]/c[t-1])² summed over the `n` one-minute returns ending at t. */
function sumSq(t: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += Math.log(close(t - k * MIN) / close(t - (k + 1) * MIN)) ** 2;
  return s;
}
/** EWMA 5-minute volatility at t: sqrt(5 · Σ 0.97^k r²_{t-k} / Σ 0.97^k), k < 240. */
function ewmaVol(t: number): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < 240; k++) {
    const r = Math.log(close(t - k * MIN) / close(t - (k + 1) * MIN));
    num += 0.97 ** k * r * r;
    den += 0.97 ** k;
  }
  return Math.sqrt((5 * num) / den);
}
const qlike = (realVar: number, predVar: number) => realVar / predVar - Math.log(realVar / predVar) - 1;
const close6 = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs hand ${b}`);

function predictionAt(t: number, q: { lo90: number; lo80: number; q50: number; hi80: number; hi90: number }, vol: number, pUp: number): Prediction {
  const L = close(t);
  return {
    pair: candles[0]!.pair,
    made_at_ms: t,
    target_ms: t + 5 * MIN,
    horizon_s: 300,
    predicted_price: L * 1.0001,
    last_close: L,
    model_name: 'lgbm',
    model_version: 'price-v1',
    volatility: { value: vol, model_version: 'vol-v1' },
    range: {
      q05: q.lo90 - 0.0001, // raw model quantiles differ from the served (calibrated) bounds: the served ones are scored
      q10: q.lo80 - 0.0001,
      q50: q.q50,
      q90: q.hi80 + 0.0001,
      q95: q.hi90 + 0.0001,
      lo80: L * Math.exp(q.lo80),
      hi80: L * Math.exp(q.hi80),
      lo90: L * Math.exp(q.lo90),
      hi90: L * Math.exp(q.hi90),
      calibrated: true,
      m80: 1.2,
      m90: 1.1,
      model_version: 'range-v1',
    },
    direction: { p_up: pUp, model_version: 'dir-v1' },
  };
}

const rowOf = (rows: ForecastError[], target: string) => {
  const r = rows.find((x) => x.target === target);
  assert.ok(r, `a ${target} row`);
  return r;
};

test('every output of a prediction resolved against a hand computation, with its live baselines', () => {
  // Several made_at times on real candles (each after 240 minutes of history): hits and misses at both levels.
  const starts = [300, 350, 420, 500, 610].map((i) => candles[i]!.window_end_ms);
  let hits80 = 0;
  let misses90 = 0;
  for (const [j, t] of starts.entries()) {
    const w = 0.0001 + j * 0.0003; // narrow to wide (1 to 13 bp)
    const q = { lo90: -1.5 * w, lo80: -w, q50: 0.00002 * j, hi80: w, hi90: 1.5 * w };
    const p = predictionAt(t, q, 0.0008 + j * 0.0002, 0.35 + 0.1 * j);
    const res = resolveForecasts(p, (ms) => closeAt.get(ms), 60);
    assert.ok(res);
    const L = p.last_close;
    const A = close(t + 5 * MIN);
    const y = Math.log(A / L);

    // Range, the model: hits, pinball (mean over the 5 levels, bp), interval scores, widths.
    const r = rowOf(res.rows, 'range');
    assert.equal(r.model_version, 'range-v1');
    assert.equal(r.actual_price, A);
    close6(r.actual_log_return!, y, 'y');
    const bounds = [Math.log(p.range!.lo90 / L), Math.log(p.range!.lo80 / L), q.q50, Math.log(p.range!.hi80 / L), Math.log(p.range!.hi90 / L)];
    assert.equal(r.hit80, y >= bounds[1]! && y <= bounds[3]!);
    assert.equal(r.hit90, y >= bounds[0]! && y <= bounds[4]!);
    if (r.hit80) hits80++;
    if (!r.hit90) misses90++;
    close6(r.pinball_bp!, (1e4 * LEVELS.reduce((s, a, i) => s + pinball(y, bounds[i]!, a), 0)) / 5, 'pinball');
    close6(r.interval_score80_bp!, 1e4 * winkler(y, bounds[1]!, bounds[3]!, 0.2), 'interval score 80');
    close6(r.interval_score90_bp!, 1e4 * winkler(y, bounds[0]!, bounds[4]!, 0.1), 'interval score 90');
    close6(r.width90_bp!, 1e4 * (bounds[4]! - bounds[0]!), 'width 90');
    close6(r.abs_error, Math.abs(y - q.q50), 'range abs error');

    // Range, the Gaussian-EWMA baseline: mean 0, sd = EWMA volatility at made_at.
    const g = res.baselines.find((b) => b.target === 'range');
    assert.ok(g);
    assert.equal(g.model_version, FORECAST_BASELINES.range);
    assert.equal(g.baseline, true);
    const sd = ewmaVol(t);
    const gb = [-Z95 * sd, -Z90 * sd, 0, Z90 * sd, Z95 * sd];
    assert.ok(Math.abs(g.hi90! - gb[4]!) < 1e-8 * sd, `gaussian hi90 ${g.hi90} vs ${gb[4]}`);
    assert.equal(g.hit80, y >= gb[1]! && y <= gb[3]!);
    assert.equal(g.hit90, y >= gb[0]! && y <= gb[4]!);
    assert.ok(Math.abs(g.interval_score90_bp! - 1e4 * winkler(y, gb[0]!, gb[4]!, 0.1)) < 1e-4, 'gaussian interval score 90');

    // Volatility: realized variance of the 5 one-minute returns to the target (floored at 1e-10), QLIKE, (ln σ̂ - ln σ)².
    const v = rowOf(res.rows, 'volatility');
    const rv = Math.max(sumSq(t + 5 * MIN, 5), 1e-10);
    const pv = p.volatility!.value ** 2;
    close6(v.realized_vol!, Math.sqrt(rv), 'realized vol');
    close6(v.qlike!, qlike(rv, pv), 'qlike');
    close6(v.sq_log_vol_error!, (Math.log(p.volatility!.value) - 0.5 * Math.log(rv)) ** 2, 'squared log vol error');
    // Persistence baseline: the last 5 minutes' realized variance at made_at.
    const pb = res.baselines.find((b) => b.target === 'volatility');
    assert.ok(pb);
    assert.equal(pb.model_version, FORECAST_BASELINES.volatility);
    const persVar = Math.max(sumSq(t, 5), 1e-10);
    close6(pb.predicted_vol!, Math.sqrt(persVar), 'persistence vol');
    close6(pb.qlike!, qlike(rv, persVar), 'persistence qlike');

    // Direction: strictly higher; Brier; base rate of the outcomes known at made_at over the trailing day.
    const d = rowOf(res.rows, 'direction');
    const up = A > L ? 1 : 0;
    assert.equal(d.up, up === 1);
    close6(d.brier!, (p.direction!.p_up - up) ** 2, 'brier');
    let ups = 0;
    let n = 0;
    for (const c of candles) {
      const s = c.window_end_ms;
      if (s + 5 * MIN > t || s <= t - 5 * MIN - 86_400_000) continue;
      n++;
      if (close(s + 5 * MIN) > close(s)) ups++;
    }
    const b = res.baselines.find((x) => x.target === 'direction');
    assert.ok(b);
    close6(b.p_up!, ups / n, 'base rate');
    close6(b.brier!, (ups / n - up) ** 2, 'base rate brier');
    console.log(
      `made_at ${new Date(t).toISOString()}: y ${(y * 1e4).toFixed(2)} bp, hit80 ${r.hit80} hit90 ${r.hit90} (gaussian ${g.hit80}/${g.hit90}, sd ${(sd * 1e4).toFixed(2)} bp), ` +
        `qlike ${v.qlike!.toFixed(4)} vs persistence ${pb.qlike!.toFixed(4)}, brier ${d.brier!.toFixed(4)} vs base rate ${b.p_up!.toFixed(3)} -> ${b.brier!.toFixed(4)}`,
    );
  }
  assert.ok(hits80 > 0 && hits80 < starts.length, `both 80% hits and misses among the cases (${hits80} hits)`);
  assert.ok(misses90 > 0, 'at least one 90% miss among the cases');
});

test('a flat outcome is not a rise, and five flat minutes floor the realized volatility', () => {
  // A quiet stretch made by hand: the same close for 6 windows after 241 real ones.
  const base = candles.slice(0, 245);
  const t = base.at(-1)!.window_end_ms;
  const flat: Candle[] = [1, 2, 3, 4, 5].map((k) => ({ ...base.at(-1)!, window_start_ms: t + (k - 1) * MIN, window_end_ms: t + k * MIN, filled: true }));
  const r = new ForecastResolver();
  for (const c of base) assert.deepEqual(r.addCandle(c), []);
  const p: Prediction = { ...predictionAt(t, { lo90: -0.001, lo80: -0.0005, q50: 0, hi80: 0.0005, hi90: 0.001 }, 0.001, 0.6), last_close: base.at(-1)!.close };
  assert.deepEqual(r.addPrediction(p), [], 'pending until its candles arrive');
  for (const c of flat.slice(0, 4)) assert.deepEqual(r.addCandle(c), [], 'the target candle has not closed yet');
  const [res] = r.addCandle(flat[4]!);
  assert.ok(res);
  const d = rowOf(res.rows, 'direction');
  assert.equal(d.up, false);
  close6(d.brier!, 0.36, 'brier of 0.6 on a flat outcome');
  const v = rowOf(res.rows, 'volatility');
  close6(v.realized_vol!, 1e-5, 'floored realized vol');
  close6(v.qlike!, 1e-10 / 1e-6 - Math.log(1e-10 / 1e-6) - 1, 'qlike against the floor');
  const rg = rowOf(res.rows, 'range');
  assert.equal(rg.hit80, true, 'y = 0 is inside');
  assert.equal(r.addPrediction(p).length, 0, 'never resolved twice');
  assert.equal(r.pendingCount(), 0);
});

test('without 240 minutes of history the baselines are skipped; a missing minute holds the volatility back', () => {
  const r = new ForecastResolver();
  const few = candles.slice(0, 20);
  for (const c of few) r.addCandle(c);
  const t = few[10]!.window_end_ms;
  const p = predictionAt(t, { lo90: -0.001, lo80: -0.0005, q50: 0, hi80: 0.0005, hi90: 0.001 }, 0.001, 0.5);
  const [res] = r.addPrediction(p);
  assert.ok(res);
  assert.deepEqual(res.rows.map((x) => x.target).sort(), ['direction', 'range', 'volatility']);
  assert.deepEqual(res.baselines.map((x) => x.target), ['direction'], 'only the base rate (from the outcomes known) without the context');

  const r2 = new ForecastResolver();
  const gap = candles.slice(0, 20).filter((_, i) => i !== 13);
  for (const c of gap) r2.addCandle(c);
  assert.deepEqual(r2.addPrediction(p), [], 'a minute inside the horizon is missing');
  const late = r2.addCandle(candles[13]!);
  assert.equal(late.length, 1, 'resolved when the late minute arrives');
});

test('a candle missing from the view (a hole) holds the forecasts until it is filled, or until its hold runs out; then later ones no longer wait', () => {
  const t = candles[300]!.window_end_ms;
  const p = predictionAt(t, { lo90: -0.001, lo80: -0.0005, q50: 0, hi80: 0.0005, hi90: 0.001 }, 0.001, 0.5);
  const upTo = candles.slice(0, 306);
  // The reference: every candle seen.
  const full = new ForecastResolver({ holdMs: 10_000 });
  for (const c of upTo) full.addCandle(c, 0);
  const [want] = full.addPrediction(p, 0);
  assert.ok(want);
  assert.deepEqual(want.baselines.map((b) => b.target).sort(), ['direction', 'range', 'volatility'], 'every baseline with the whole view');
  const hole = candles[150]!; // inside the context (240 min) and the base rate's day of p
  const viewWithout = upTo.filter((c) => c !== hole);

  // Filled: the missing candle read back later gives the reference resolution, not one without baselines.
  const r = new ForecastResolver({ holdMs: 10_000 });
  for (const c of viewWithout) r.addCandle(c, 1000);
  assert.deepEqual(r.addPrediction(p, 1000), [], 'waits for the hole');
  assert.deepEqual(r.wanted(), [{ pair: p.pair, from_ms: hole.window_end_ms, to_ms: hole.window_end_ms, holes: 1 }], 'names the span to read');
  assert.deepEqual(r.retry(5000), [], 'still within its hold');
  const [got] = r.addCandle(hole, 6000);
  assert.ok(got, 'resolved when the hole is filled');
  assert.deepEqual(got, want);
  assert.equal(r.holesFilled, 1);
  assert.deepEqual(r.wanted(), []);

  // Never filled: resolved without it once the hold has run out (the context baselines skipped), and later predictions do not wait.
  const r2 = new ForecastResolver({ holdMs: 10_000 });
  for (const c of viewWithout) r2.addCandle(c, 1000);
  assert.deepEqual(r2.addPrediction(p, 1000), []);
  assert.deepEqual(r2.retry(10_999), []);
  const [late] = r2.retry(11_000);
  assert.ok(late, 'resolved after the hold');
  assert.deepEqual(late.rows, want.rows, 'the model rows do not depend on the hole');
  assert.deepEqual(late.baselines.map((b) => b.target), ['direction'], 'the context baselines skipped: the hole is in their context');
  assert.notEqual(late.baselines[0]!.p_up, undefined);
  assert.equal(r2.holesAbsent, 1);
  const p2 = predictionAt(candles[301]!.window_end_ms, { lo90: -0.001, lo80: -0.0005, q50: 0, hi80: 0.0005, hi90: 0.001 }, 0.001, 0.5);
  r2.addCandle(candles[306]!, 11_500);
  assert.equal(r2.addPrediction(p2, 11_500).length, 1, 'a hole given up on holds no later prediction');
  assert.deepEqual(r2.wanted(), []);

  // Before the oldest candle seen is not a hole (a fresh start): nothing waits.
  const r3 = new ForecastResolver({ holdMs: 10_000 });
  for (const c of upTo.slice(200)) r3.addCandle(c, 1000);
  assert.equal(r3.addPrediction(p, 1000).length, 1);
  assert.deepEqual(r3.wanted(), []);
});
