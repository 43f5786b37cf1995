// Parity with the Python lightgbm package (the reference, same LightGBM
// version 4.7.0): the same matrix and parameters trained by both give the
// same trees, stopping round, predictions and importances; and Python's
// model text loaded into our binding predicts what Python predicts.
// Oracle: tests/oracles/lightgbm_reference.py (pinned in
// tests/oracles/requirements-lightgbm.txt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../fixtures/rng.ts';
import { loadAddon, maxRelDiff, pythonLightgbm, realFeatures, treesSection, type Labeled, type TrainParams } from './oracle.ts';

const { Booster, lightgbmVersion } = loadAddon();
// Predictions agree to floating-point noise; in practice we see exact equality.
const REL_TOL = 1e-9;

function assertSamePredictions(ours: Float64Array, theirs: Float64Array, what: string): void {
  assert.equal(ours.length, theirs.length, `${what}: length`);
  const d = maxRelDiff(ours, theirs);
  assert.ok(d <= REL_TOL, `${what}: max relative difference ${d} > ${REL_TOL}`);
}

test('real BTC-USD features, early stopping: same model as Python lightgbm', () => {
  const data = realFeatures();
  assert.ok(data.train.rows > 5000, `only ${data.train.rows} training rows`);
  const params: TrainParams = {
    objective: 'regression',
    metric: 'l2',
    learning_rate: 0.05,
    num_leaves: 31,
    min_data_in_leaf: 50,
    feature_fraction: 0.8,
    bagging_fraction: 0.8,
    bagging_freq: 1,
    lambda_l2: 1.0,
    num_iterations: 400,
    early_stopping_round: 20,
    num_threads: 1,
    deterministic: true,
    force_col_wise: true,
    verbosity: -1,
  };
  const ours = Booster.train({ x: data.train.x, y: data.train.y, nFeatures: data.nFeatures, valid: { x: data.valid.x, y: data.valid.y }, featureNames: data.names, params });
  const py = pythonLightgbm({ nFeatures: data.nFeatures, train: data.train, valid: data.valid, featureNames: data.names, params, predictX: data.test.x });
  assert.equal(py.lightgbm_version, lightgbmVersion(), 'oracle and binding must be the same LightGBM version');

  assert.ok(py.best_iteration > 0 && py.best_iteration < 400, `python did not stop early (best ${py.best_iteration})`);
  assert.equal(ours.bestIteration, py.best_iteration, 'best iteration');
  assert.equal(ours.numIterations, py.current_iteration, 'rounds kept');
  assert.deepEqual(ours.featureNames, py.feature_names);
  assert.equal(treesSection(ours.modelText()), treesSection(py.modelText), 'trees differ');

  assertSamePredictions(ours.predict(data.test.x), py.predictions, 'batch predict');
  const fast = ours.fastPredictor();
  assert.equal(fast.engine, 'compiled', `fast predictor not compiled: ${fast.fallbackReason}`);
  const fastPreds = new Float64Array(data.test.rows);
  for (let r = 0; r < data.test.rows; r++) fastPreds[r] = fast.predict(data.test.x.subarray(r * data.nFeatures, (r + 1) * data.nFeatures));
  assertSamePredictions(fastPreds, py.predictions, 'fast single-row predict');
  // The compiled predictor is exact: same bits as Python's booster.predict.
  for (let r = 0; r < data.test.rows; r++) assert.ok(Object.is(fastPreds[r], py.predictions[r]), `row ${r}: ${fastPreds[r]} vs ${py.predictions[r]}`);

  assertSamePredictions(ours.featureImportance('gain'), Float64Array.from(py.importance_gain), 'gain importance');
  assert.deepEqual(Array.from(ours.featureImportance('split')), py.importance_split, 'split importance');
});

test("Python's model text loads into our binding and predicts the same", () => {
  const data = realFeatures();
  const params: TrainParams = { objective: 'huber', alpha: 5, learning_rate: 0.1, num_leaves: 15, num_iterations: 80, num_threads: 1, deterministic: true, force_col_wise: true, verbosity: -1 };
  const py = pythonLightgbm({ nFeatures: data.nFeatures, train: data.train, params, predictX: data.test.x });
  const loaded = Booster.fromModelText(py.modelText);
  assert.equal(loaded.numFeatures, data.nFeatures);
  assert.equal(loaded.numIterations, py.current_iteration);
  assert.equal(loaded.bestIteration, 0);
  assertSamePredictions(loaded.predict(data.test.x), py.predictions, 'loaded batch predict');
  const fast = loaded.fastPredictor();
  assert.equal(fast.engine, 'compiled', `huber model not compiled: ${fast.fallbackReason}`);
  for (let r = 0; r < data.test.rows; r += 97) {
    const got = fast.predict(data.test.x.subarray(r * data.nFeatures, (r + 1) * data.nFeatures));
    assert.ok(Math.abs(got - py.predictions[r]!) <= REL_TOL * Math.max(Math.abs(py.predictions[r]!), 1e-12), `row ${r}: ${got} vs ${py.predictions[r]}`);
  }
});

function synthetic(rows: number, seed: number): Labeled {
  const rnd = mulberry32(seed);
  const x = new Float64Array(rows * 5);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 5; c++) x[r * 5 + c] = rnd() * 2 - 1;
    // Some missing values: LightGBM's NaN handling must match too.
    if (r % 17 === 0) x[r * 5 + 3] = NaN;
    const a = x[r * 5]!;
    const b = x[r * 5 + 1]!;
    y[r] = Math.sin(3 * a) + b * b + (Number.isNaN(x[r * 5 + 3]!) ? 0.5 : x[r * 5 + 3]!) * 0.3 + 0.1 * (rnd() - 0.5);
  }
  return { x, y, rows };
}

test('seeded synthetic matrix with NaNs, two threads, no validation set: same as Python', () => {
  const train = synthetic(5000, 42);
  const test = synthetic(1000, 43);
  const params: TrainParams = { objective: 'regression', learning_rate: 0.08, num_leaves: 63, max_bin: 63, min_data_in_leaf: 5, num_iterations: 120, num_threads: 2, deterministic: true, force_row_wise: true, verbosity: -1 };
  const ours = Booster.train({ x: train.x, y: train.y, nFeatures: 5, params });
  const py = pythonLightgbm({ nFeatures: 5, train, params, predictX: test.x });
  assert.equal(ours.numIterations, 120);
  assert.equal(py.current_iteration, 120);
  assert.equal(treesSection(ours.modelText()), treesSection(py.modelText), 'trees differ');
  assertSamePredictions(ours.predict(test.x), py.predictions, 'batch predict');
});
