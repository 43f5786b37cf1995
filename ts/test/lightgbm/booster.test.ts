// The binding's JS API on a seeded synthetic regression: save/load round
// trip, fast single-row == batch bit for bit, feature names, params and
// importance; and every bad input is a JS error with a code (the process
// survives: a panic or abort in the addon would kill the test runner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../fixtures/rng.ts';
import { loadAddon } from './oracle.ts';

const { Booster } = loadAddon();
const K = 4;

function data(rows: number, seed: number): { x: Float64Array; y: Float64Array } {
  const rnd = mulberry32(seed);
  const x = new Float64Array(rows * K);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < K; c++) x[r * K + c] = rnd() * 2 - 1;
    y[r] = 2 * x[r * K]! - x[r * K + 1]! * x[r * K + 2]! + 0.05 * (rnd() - 0.5);
  }
  return { x, y };
}

const train = data(1500, 1);
const valid = data(500, 2);
const base = { objective: 'regression', learning_rate: 0.1, num_leaves: 15, num_iterations: 50 };
const booster = Booster.train({ ...train, nFeatures: K, params: base, featureNames: ['a', 'b', 'c', 'noise'] });

function mse(pred: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (pred[i]! - y[i]!) ** 2;
  return s / y.length;
}

/** Asserts that fn throws an Error with this code and a non-empty message. */
function throwsCode(fn: () => unknown, code: string, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error, `${what}: not an Error`);
    assert.equal((e as Error & { code?: string }).code, code, `${what}: code (message: ${e.message})`);
    assert.ok(e.message.length > 0, `${what}: empty message`);
    return true;
  });
}

test('the model fits: validation MSE far below the variance of y', () => {
  const pred = booster.predict(valid.x);
  assert.equal(pred.length, 500);
  const mean = valid.y.reduce((s, v) => s + v, 0) / valid.y.length;
  const variance = valid.y.reduce((s, v) => s + (v - mean) ** 2, 0) / valid.y.length;
  assert.ok(mse(pred, valid.y) < 0.1 * variance, `mse ${mse(pred, valid.y)} vs variance ${variance}`);
});

test('save/load round trip gives identical predictions; fast predictor equals batch bit for bit', () => {
  const text = booster.modelText();
  const loaded = Booster.fromModelText(text, { numThreads: 2 });
  const a = booster.predict(valid.x);
  const b = loaded.predict(valid.x);
  assert.deepEqual(Array.from(b), Array.from(a));
  assert.equal(loaded.modelText(), text);
  const fast = loaded.fastPredictor();
  assert.equal(fast.numFeatures, K);
  assert.equal(fast.engine, 'compiled');
  const bits = new BigUint64Array(2);
  const f = new Float64Array(bits.buffer);
  for (let r = 0; r < 500; r++) {
    f[0] = fast.predict(valid.x.subarray(r * K, (r + 1) * K));
    f[1] = a[r]!;
    assert.equal(bits[0], bits[1], `row ${r}: ${f[0]} vs ${f[1]}`);
  }
});

test('metadata: names, iterations, effective params, importance, eval history', () => {
  assert.deepEqual(booster.featureNames, ['a', 'b', 'c', 'noise']);
  assert.equal(booster.numFeatures, K);
  assert.equal(booster.numOutputs, 1);
  assert.equal(booster.numIterations, 50);
  assert.equal(booster.bestIteration, 0);
  const p = booster.params;
  assert.ok(p !== null);
  assert.equal(p.num_threads, 1);
  assert.equal(p.deterministic, true);
  assert.equal(p.force_col_wise, true);
  assert.equal(p.num_iterations, 50);
  const gain = booster.featureImportance('gain');
  assert.equal(gain.length, K);
  assert.ok(gain[0]! > 10 * gain[3]!, `a must matter more than noise: ${Array.from(gain)}`);
  const split = booster.featureImportance('split');
  assert.ok(Array.from(split).every((v) => Number.isInteger(v) && v >= 0));
  assert.deepEqual(booster.evalHistory(), { metrics: [], values: [] });
  assert.equal(Booster.fromModelText(booster.modelText()).params, null);
});

test('early stopping on a validation set keeps the best round (aliases accepted)', () => {
  const noisy = data(300, 5);
  for (let i = 0; i < noisy.y.length; i++) noisy.y[i] = noisy.y[i]! + ((i * 7919) % 13) - 6;
  const b = Booster.train({ ...noisy, nFeatures: K, valid, params: { objective: 'regression', eta: 0.5, min_data_in_leaf: 2, n_estimators: 500, early_stopping_rounds: 5 } });
  const h = b.evalHistory();
  assert.deepEqual(h.metrics, ['l2']);
  const l2 = h.values.map((v) => v[0]!);
  const best = l2.indexOf(Math.min(...l2));
  assert.equal(b.bestIteration, best + 1);
  assert.equal(b.numIterations, best + 1);
  assert.equal(l2.length, best + 1 + 5);
  // Independent recomputation of the kept model's validation l2.
  assert.ok(Math.abs(mse(b.predict(valid.x), valid.y) - l2[best]!) <= 1e-6 * l2[best]!);
});

test('wrong feature count in predict is E_FEATURE_COUNT', () => {
  throwsCode(() => booster.predict(new Float64Array(K * 3 + 1)), 'E_FEATURE_COUNT', 'batch');
  const fast = booster.fastPredictor();
  throwsCode(() => fast.predict(new Float64Array(K - 1)), 'E_FEATURE_COUNT', 'fast, short row');
  throwsCode(() => fast.predict(new Float64Array(K + 1)), 'E_FEATURE_COUNT', 'fast, long row');
  throwsCode(() => Booster.train({ ...train, nFeatures: K, valid: { x: new Float64Array(9), y: new Float64Array(3) }, params: base }), 'E_INVALID_INPUT', 'validation set shape');
  assert.equal(booster.predict(new Float64Array(0)).length, 0);
});

test('corrupt model text is E_MODEL_PARSE', () => {
  const text = booster.modelText();
  const cases: [string, string][] = [
    ['empty', ''],
    ['garbage', 'this is not a LightGBM model'],
    ['header only', 'tree\nversion=v4\n'],
    ['truncated', text.slice(0, Math.floor(text.length / 2))],
    ['no trees', text.split('Tree=0')[0]!],
    ['bad number', text.replace('leaf_value=', 'leaf_value=abc ')],
    ['NUL byte', 'tree\0version=v4'],
  ];
  for (const [what, t] of cases) throwsCode(() => Booster.fromModelText(t), 'E_MODEL_PARSE', what);
});

test('invalid parameters are E_INVALID_PARAMS', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['unknown name', { no_such_param: 1 }],
    ['nested object', { learning_rate: { value: 0.1 } }],
    ['null value', { learning_rate: null }],
    ['string with space', { objective: 'regression l1' }],
    ['unknown objective (LightGBM)', { objective: 'no_such_objective' }],
    ['non-numeric value (LightGBM)', { learning_rate: 'fast' }],
    ['out of range (LightGBM)', { num_leaves: 1 }],
    ['num_threads 0', { num_threads: 0 }],
    ['fractional rounds', { num_iterations: 2.5 }],
    ['duplicate via alias', { num_iterations: 5, n_estimators: 6 }],
    ['file option', { output_model: 'x.txt' }],
    ['early stopping without validation set', { early_stopping_round: 5 }],
  ];
  for (const [what, params] of cases) {
    throwsCode(() => Booster.train({ ...train, nFeatures: K, params: params as Record<string, number> }), 'E_INVALID_PARAMS', what);
  }
});

test('bad shapes and arguments are E_INVALID_INPUT', () => {
  throwsCode(() => Booster.train({ x: train.x, y: train.y.subarray(1), nFeatures: K, params: base }), 'E_INVALID_INPUT', 'label count');
  throwsCode(() => Booster.train({ x: train.x.subarray(1), y: train.y, nFeatures: K, params: base }), 'E_INVALID_INPUT', 'ragged matrix');
  throwsCode(() => Booster.train({ x: train.x, y: train.y, nFeatures: 0, params: base }), 'E_INVALID_INPUT', 'zero features');
  throwsCode(() => Booster.train({ x: new Float64Array(0), y: new Float64Array(0), nFeatures: K, params: base }), 'E_INVALID_INPUT', 'empty');
  throwsCode(() => Booster.train({ ...train, nFeatures: K, params: base, featureNames: ['a', 'b', 'c'] }), 'E_INVALID_INPUT', 'name count');
  throwsCode(() => Booster.train({ ...train, nFeatures: K, params: base, featureNames: ['a', 'b', 'c', 'a'] }), 'E_INVALID_INPUT', 'duplicate name');
  throwsCode(() => Booster.train({ ...train, nFeatures: K, params: base, featureNames: ['a', 'b', 'c', 'has space'] }), 'E_INVALID_INPUT', 'name with space');
  throwsCode(() => booster.featureImportance('weight' as 'gain'), 'E_INVALID_INPUT', 'importance kind');
});
