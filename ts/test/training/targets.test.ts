// The targets of model/targets.ts on real candles (bundled Coinbase ETH-USD
// 1-minute sample): labels and context features against a naive
// recomputation from the candles, labels that read only t .. t + 300 s,
// features at t unchanged when the data after t is removed, and each
// target's metrics against plain recomputations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { readCandleCsv } from '../../src/training/candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from '../../src/training/dataset.ts';
import { TARGETS, families, targetOf } from '../../src/model/targets.ts';
import { CONTEXT_FEATURES, CloseHistory, contextFromCloses } from '../../src/model/context-features.ts';
import { VAR_FLOOR, normalQuantile } from '../../src/model/targets/common.ts';
import { volatilityScores, harRv } from '../../src/model/targets/volatility.ts';
import { conformalQuantile, rangeScores } from '../../src/model/targets/range.ts';
import { directionScores } from '../../src/model/targets/direction.ts';
import type { Candle } from '../../src/contracts/messages.ts';

const segs = readCandleCsv(join(REPO_ROOT, 'data', 'sample', 'candles', 'coinbase_ETHUSD_1m_lean.csv'), { pair: 'ETH/USD' }).segments;
const seg = segs.reduce((a, b) => (b.length > a.length ? b : a));
const candles = seg.slice(0, 900);

function dataset(cs: readonly Candle[], target: string) {
  const { names, rows } = technicalRowsFromCandles([cs]);
  return buildDataset({ pair: 'ETH/USD', technical: rows, technicalNames: names, horizonS: 300, target });
}

test('every target family has one target; unknown targets are refused', () => {
  assert.deepEqual(families().map((t) => t.family), ['price', 'volatility', 'range', 'direction']);
  assert.equal(TARGETS.size, 5);
  assert.throws(() => targetOf('nope'), /unknown target "nope"/);
});

test('labels are made from the closes of t .. t + 300 s only, and equal a naive recomputation', () => {
  const byEnd = new Map(candles.map((c) => [c.window_end_ms, c.close]));
  for (const name of TARGETS.keys()) {
    const target = targetOf(name);
    for (let i = 0; i + 5 < candles.length; i += 37) {
      const t = candles[i]!.window_end_ms;
      const asked: number[] = [];
      const y = target.label((e) => (asked.push(e), byEnd.get(e)), t, 300, 60);
      assert.ok(asked.length > 0 && asked.every((e) => e >= t && e <= t + 300_000), `${name}: asked ${asked.map((e) => (e - t) / 1000)} s`);
      const c = [0, 1, 2, 3, 4, 5].map((k) => candles[i + k]!.close);
      const naive = {
        log_return: Math.log(c[5]! / c[0]!),
        price: c[5]!,
        volatility: Math.max([1, 2, 3, 4, 5].reduce((s, k) => s + Math.log(c[k]! / c[k - 1]!) ** 2, 0), VAR_FLOOR),
        range: Math.log(c[5]! / c[0]!),
        direction: c[5]! > c[0]! ? 1 : 0,
      }[name];
      assert.equal(y, naive, `${name} at row ${i}`);
    }
  }
  // A missing window inside the horizon: no label.
  const t = candles[100]!.window_end_ms;
  const holed = (e: number) => (e === t + 180_000 ? undefined : byEnd.get(e));
  assert.equal(targetOf('volatility').label(holed, t, 300, 60), null);
});

test('context features equal a naive recomputation from the candles before t (zero returns of filled minutes included)', () => {
  const ds = dataset(candles, 'volatility');
  assert.deepEqual(ds.contextNames, CONTEXT_FEATURES);
  const k = ds.featureNames.length;
  const off = ds.technicalNames.length;
  const idx = new Map(candles.map((c, i) => [c.window_end_ms, i]));
  assert.ok(ds.rows > 300);
  for (let r = 0; r < ds.rows; r += 53) {
    const i = idx.get(ds.times[r]!)!;
    const ret = (j: number) => Math.log(candles[j]!.close / candles[j - 1]!.close);
    const rv = (n: number) => Math.sqrt(Array.from({ length: n }, (_, q) => ret(i - q) ** 2).reduce((a, b) => a + b, 0));
    let num = 0;
    let den = 0;
    for (let q = 0; q < 240; q++) {
      num += 0.97 ** q * ret(i - q) ** 2;
      den += 0.97 ** q;
    }
    const expect = [rv(5), rv(30), rv(240), Math.sqrt((5 * num) / den), new Date(ds.times[r]!).getUTCHours() * 60 + new Date(ds.times[r]!).getUTCMinutes()];
    expect.forEach((v, q) => assert.ok(Math.abs(ds.x[r * k + off + q]! - v) <= 1e-12 * Math.max(1, Math.abs(v)), `${CONTEXT_FEATURES[q]} row ${r}: ${ds.x[r * k + off + q]} vs ${v}`));
  }
  assert.ok(ds.dropped.warming_up >= 240, 'the 240-minute window warms up first');
});

test('features at t never change when the data after t is removed (technical, context); labels need t + 300 s', () => {
  for (const target of ['log_return', 'volatility', 'range', 'direction']) {
    const full = dataset(candles, target);
    const cut = candles[700]!.window_end_ms;
    const part = dataset(candles.slice(0, 701), target);
    const k = full.featureNames.length;
    const fullAt = new Map(full.times.map((t, i) => [t, i]));
    assert.ok(part.rows > 100);
    for (let i = 0; i < part.rows; i++) {
      const t = part.times[i]!;
      assert.ok(t + 300_000 <= cut, 'a row is kept only when its label window is inside the data');
      const j = fullAt.get(t)!;
      assert.deepEqual(part.x.subarray(i * k, i * k + k), full.x.subarray(j * k, j * k + k), `${target} features at ${t}`);
      assert.equal(part.y[i], full.y[j]);
    }
    assert.equal(part.times[part.rows - 1], cut - 300_000);
  }
});

test('the live close history gives the same context as the batch', () => {
  const h = new CloseHistory(60);
  const a = new Float64Array(5);
  const b = new Float64Array(5);
  // Arriving out of order (a store fill after a gap) gives the same values.
  for (let i = 399; i >= 300; i--) h.add(candles[i]!.window_end_ms, candles[i]!.close);
  const t = candles[399]!.window_end_ms;
  assert.equal(h.context(t, a), false, 'fewer than 240 returns seen');
  // What the log names: the 141 windows t-240 .. t-100 (no close), and t-99 (a close, but no return without t-100's).
  const gaps = h.missing(t, 1000);
  assert.deepEqual(gaps, Array.from({ length: 142 }, (_, k) => t - (240 - k) * 60_000));
  for (let i = 0; i < 300; i++) h.add(candles[i]!.window_end_ms, candles[i]!.close);
  assert.equal(h.context(t, a), true);
  assert.deepEqual(h.missing(t), []);
  contextFromCloses(candles.slice(399 - 240, 400).map((c) => c.close), t, b);
  assert.deepEqual(a, b, 'bit for bit');
  assert.equal(h.context(t + 60_000, a), false, 'a window not seen yet: no context');
});

test('volatility metrics: QLIKE and RMSE of log vol by hand; HAR-RV equals OLS by normal equations', () => {
  const s = volatilityScores([1e-6, 4e-6], [2e-6, 1e-6]);
  assert.ok(Math.abs(s.qlike! - ((2 - Math.log(2) - 1 + 0.25 - Math.log(0.25) - 1) / 2)) < 1e-12);
  assert.ok(Math.abs(s.rmse_log_vol! - Math.sqrt(((0.5 * Math.log(0.5)) ** 2 + (0.5 * Math.log(4)) ** 2) / 2)) < 1e-12);
  const ds = dataset(candles, 'volatility');
  const train = Array.from({ length: ds.rows - 50 }, (_, i) => i);
  const predict = harRv.fit(ds, train);
  // Independent OLS: [1, ln rv5, ln rv30, ln rv240] by the normal equations and Gauss-Jordan elimination.
  const k = ds.featureNames.length;
  const col = (n: string) => ds.featureNames.indexOf(n);
  const X = train.map((r) => [1, ...['rv_5', 'rv_30', 'rv_240'].map((n) => Math.log(Math.max(ds.x[r * k + col(n)]!, 1e-5)))]);
  const Y = train.map((r) => 0.5 * Math.log(ds.y[r]!));
  const A = [0, 1, 2, 3].map((i) => [...[0, 1, 2, 3].map((j) => X.reduce((s2, x) => s2 + x[i]! * x[j]!, 0)), X.reduce((s2, x, n) => s2 + x[i]! * Y[n]!, 0)]);
  for (let i = 0; i < 4; i++) {
    const p = A[i]![i]!;
    for (let j = 0; j < 5; j++) A[i]![j]! /= p;
    for (let r = 0; r < 4; r++) if (r !== i) {
      const f = A[r]![i]!;
      for (let j = 0; j < 5; j++) A[r]![j]! -= f * A[i]![j]!;
    }
  }
  const beta = A.map((row) => row[4]!);
  const fitted = X.map((x) => x.reduce((s2, v, j) => s2 + v * beta[j]!, 0));
  const smear = Y.reduce((s2, y, n) => s2 + Math.exp(2 * (y - fitted[n]!)), 0) / Y.length;
  const out = new Float64Array(1);
  for (const r of [ds.rows - 40, ds.rows - 1]) {
    predict(r, out);
    const x = [1, ...['rv_5', 'rv_30', 'rv_240'].map((n) => Math.log(Math.max(ds.x[r * k + col(n)]!, 1e-5)))];
    const expect = Math.exp(2 * x.reduce((s2, v, j) => s2 + v * beta[j]!, 0)) * smear;
    assert.ok(Math.abs(out[0]! / expect - 1) < 1e-6, `${out[0]} vs ${expect}`);
  }
});

test('range metrics: coverage, terciles, width, pinball and Winkler score by hand; conformal quantiles', () => {
  const q = [
    [-2, -1, 0, 1, 2],
    [-2, -1, 0, 1, 2],
    [-2, -1, 0, 1, 2],
  ];
  const y = [0.5, 1.5, -3];
  const s = rangeScores(q, y, [1, 2, 3]);
  assert.equal(s.coverage80, 1 / 3);
  assert.equal(s.coverage90, 2 / 3);
  assert.deepEqual([s.coverage90_low_vol, s.coverage90_mid_vol, s.coverage90_high_vol], [1, 1, 0]);
  assert.equal(s.width90_bp, 4e4);
  // Winkler 90%: width 4, plus (2 / 0.1) x 1 for y = -3.
  assert.ok(Math.abs(s.interval_score90_bp! - ((4 + 4 + 4 + 20) / 3) * 1e4) < 1e-6);
  // Pinball of y = 0.5: levels .05 .1 .5 .9 .95 at -2 -1 0 1 2.
  const pin = (v: number) => [-2, -1, 0, 1, 2].reduce((a, qq, j) => a + (v - qq >= 0 ? [0.05, 0.1, 0.5, 0.9, 0.95][j]! * (v - qq) : ([0.05, 0.1, 0.5, 0.9, 0.95][j]! - 1) * (v - qq)), 0) / 5;
  assert.ok(Math.abs(s.pinball_bp! - ((pin(0.5) + pin(1.5) + pin(-3)) / 3) * 1e4) < 1e-6);
  const sorted = Float64Array.from({ length: 99 }, (_, i) => i + 1);
  assert.equal(conformalQuantile(sorted, 0.95), 95, 'ceil(100 x 0.95) = 95th smallest');
  assert.equal(conformalQuantile(sorted, 0.05), 5, 'floor(100 x 0.05) = 5th smallest');
  assert.ok(Math.abs(normalQuantile(0.95) - 1.6448536269514722) < 1e-8);
  assert.ok(Math.abs(normalQuantile(0.1) + 1.2815515655446004) < 1e-8);
});

test('direction metrics: Brier, log loss and ECE by hand; flat outcomes count as not up', () => {
  const s = directionScores([0.9, 0.2, 0.6, 0.6], [1, 0, 0, 1]);
  assert.ok(Math.abs(s.brier! - (0.01 + 0.04 + 0.36 + 0.16) / 4) < 1e-15);
  assert.ok(Math.abs(s.log_loss! - -(Math.log(0.9) + Math.log(0.8) + Math.log(0.4) + Math.log(0.6)) / 4) < 1e-12);
  // Bins: 0.9 (1 row, freq 1), 0.2 (1, 0), 0.6 (2, 0.5): ECE = (0.1 + 0.2 + 2 x 0.1) / 4.
  assert.ok(Math.abs(s.ece! - 0.5 / 4) < 1e-12);
  assert.equal(targetOf('direction').label((e) => 100, 0, 300, 60), 0);
});
