// The compiled single-row predictor (Booster.fastPredictor(), engine
// 'compiled') called from Node, against independent references: LightGBM's
// own batch prediction (LGBM_BoosterPredictForMat) and single-row path in
// the same addon, and the Python lightgbm package (same LightGBM 4.7.0)
// predicting from its own model. Equality is bit for bit, on real BTC-USD
// feature rows and on edge rows: NaN, exact zeros, -0.0, values LightGBM
// reads as zero (|x| <= 1e-35f), +-inf, every split threshold exactly and
// one ulp either side. Models with missing values in training (missing
// types NaN and Zero) are covered; a categorical model falls back to
// LightGBM's predictor and still predicts what Python predicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon, pythonLightgbm, realFeatures, type Labeled, type TrainParams } from './oracle.ts';

const { Booster } = loadAddon();
const data = realFeatures();
const K = data.nFeatures;

function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const f = new Float64Array([x]);
  const b = new BigInt64Array(f.buffer);
  b[0] = b[0]! + (x > 0 ? 1n : -1n);
  return f[0]!;
}
const nextDown = (x: number): number => -nextUp(-x);

/** `[feature, threshold]` of every split in the model text. */
function splits(modelText: string): [number, number][] {
  const out: [number, number][] = [];
  let features: number[] = [];
  for (const line of modelText.split('\n')) {
    if (line.startsWith('split_feature=')) features = line.slice(14).split(' ').filter(Boolean).map(Number);
    if (line.startsWith('threshold=')) line.slice(10).split(' ').filter(Boolean).forEach((t, i) => out.push([features[i]!, Number(t)]));
  }
  return out;
}

/** decision_type values of every split. */
function decisionTypes(modelText: string): number[] {
  return modelText
    .split('\n')
    .filter((l) => l.startsWith('decision_type='))
    .flatMap((l) => l.slice(14).split(' ').filter(Boolean).map(Number));
}

const ZERO_THRESHOLD = Math.fround(1e-35);
const SPECIALS = [NaN, 0, -0, 1e-40, -1e-40, ZERO_THRESHOLD, -ZERO_THRESHOLD, nextUp(ZERO_THRESHOLD), nextDown(-ZERO_THRESHOLD), Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE];

/** The test rows plus edge rows built on some of them. */
function edgeRows(modelText: string, base: Float64Array): Float64Array {
  const rows: number[] = Array.from(base);
  const bases: Float64Array[] = [];
  for (let r = 0; r * K < base.length; r += 131) bases.push(base.subarray(r * K, (r + 1) * K));
  for (const row of bases) {
    for (let f = 0; f < K; f++) {
      for (const s of SPECIALS) {
        const r = Array.from(row);
        r[f] = s;
        rows.push(...r);
      }
    }
    rows.push(...new Array<number>(K).fill(NaN), ...new Array<number>(K).fill(0));
  }
  splits(modelText).forEach(([f, t], n) => {
    const row = bases[n % bases.length]!;
    for (const v of [t, nextUp(t), nextDown(t)]) {
      const r = Array.from(row);
      r[f] = v;
      rows.push(...r);
    }
  });
  return Float64Array.from(rows);
}

function sameBits(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

/** Every row predicted by `fast` equals `expected[row]` bit for bit; returns the row count. */
function assertRowsEqual(fast: { predict(row: Float64Array): number }, rows: Float64Array, expected: Float64Array, what: string): number {
  const n = rows.length / K;
  assert.equal(expected.length, n, `${what}: reference length`);
  for (let r = 0; r < n; r++) {
    const row = rows.subarray(r * K, (r + 1) * K);
    const got = fast.predict(row);
    assert.ok(sameBits(got, expected[r]!), `${what}: row ${r} [${Array.from(row)}]: ${got} vs ${expected[r]}`);
  }
  return n;
}

function withNaNs(d: Labeled): Labeled {
  const x = Float64Array.from(d.x);
  for (let r = 0; r < d.rows; r++) {
    if (r % 5 === 0) x[r * K] = NaN;
    if (r % 3 === 1) x[r * K + 5] = NaN;
    if (r % 11 === 0) x[r * K + 7] = NaN;
  }
  return { ...d, x };
}

test('bench models (300x31, 100x15): compiled, equal to LightGBM batch and single-row bit for bit', () => {
  for (const [trees, leaves] of [[300, 31], [100, 15]] as const) {
    const params: TrainParams = { objective: 'regression', learning_rate: 0.05, num_leaves: leaves, num_iterations: trees };
    const booster = Booster.train({ x: data.train.x, y: data.train.y, nFeatures: K, params });
    const fast = booster.fastPredictor();
    assert.equal(fast.engine, 'compiled', `not compiled: ${fast.fallbackReason}`);
    assert.equal(fast.fallbackReason, null);
    assert.equal(fast.numFeatures, K);
    const reference = booster.lightgbmFastPredictor();
    assert.equal(reference.engine, 'lightgbm');
    const rows = edgeRows(booster.modelText(), data.test.x);
    const batch = booster.predict(rows);
    const n = assertRowsEqual(fast, rows, batch, `${trees}x${leaves} vs batch`);
    assert.ok(n > data.test.rows + 3 * trees, `only ${n} rows`);
    for (let r = 0; r < n; r += 7) {
      const row = rows.subarray(r * K, (r + 1) * K);
      assert.ok(sameBits(fast.predict(row), reference.predict(row)), `${trees}x${leaves} vs single-row: row ${r}`);
    }
  }
});

test("Python lightgbm's models with NaN and Zero missing types: compiled, equal to Python's predictions bit for bit", () => {
  const train = withNaNs(data.train);
  for (const extra of [{}, { zero_as_missing: true }, { objective: 'binary' }] as TrainParams[]) {
    const y = extra.objective === 'binary' ? train.y.map((v) => (v > 0 ? 1 : 0)) : train.y;
    const params: TrainParams = { objective: 'regression', learning_rate: 0.05, num_leaves: 31, num_iterations: 150, num_threads: 1, deterministic: true, force_col_wise: true, verbosity: -1, ...extra };
    // Python first (for its thresholds), then again on the edge rows.
    const first = pythonLightgbm({ nFeatures: K, train: { ...train, y }, params, predictX: data.test.x });
    const rows = edgeRows(first.modelText, data.test.x);
    const py = pythonLightgbm({ nFeatures: K, train: { ...train, y }, params, predictX: rows });
    assert.equal(py.modelText, first.modelText);
    const types = decisionTypes(py.modelText).map((t) => (t >> 2) & 3);
    const expectedType = extra.zero_as_missing ? 1 : 2;
    assert.ok(types.includes(expectedType), `${JSON.stringify(extra)}: no split with missing type ${expectedType}`);
    const fast = Booster.fromModelText(py.modelText).fastPredictor();
    assert.equal(fast.engine, 'compiled', `${JSON.stringify(extra)}: ${fast.fallbackReason}`);
    assertRowsEqual(fast, rows, py.predictions, `${JSON.stringify(extra)} vs Python`);
  }
});

test('a categorical model falls back to LightGBM and still predicts what Python predicts', () => {
  const bucket = (d: Labeled): Labeled => {
    const x = Float64Array.from(d.x);
    for (let r = 0; r < d.rows; r++) x[r * K + 7] = Math.min(9, Math.max(0, Math.floor(x[r * K + 7]!)));
    return { ...d, x };
  };
  const train = bucket(data.train);
  const test = bucket(data.test);
  const params: TrainParams = { objective: 'regression', categorical_feature: '7', min_data_per_group: 5, cat_smooth: 1, num_leaves: 15, num_iterations: 40, num_threads: 1, deterministic: true, force_col_wise: true, verbosity: -1 };
  const first = pythonLightgbm({ nFeatures: K, train, params, predictX: test.x });
  assert.ok(first.modelText.split('\n').some((l) => /^num_cat=[1-9]/.test(l)), 'Python model has no categorical split');
  const rows = edgeRows(first.modelText, test.x);
  const py = pythonLightgbm({ nFeatures: K, train, params, predictX: rows });
  const fast = Booster.fromModelText(py.modelText).fastPredictor();
  assert.equal(fast.engine, 'lightgbm');
  assert.match(fast.fallbackReason ?? '', /categorical/);
  assertRowsEqual(fast, rows, py.predictions, 'categorical vs Python');
});

test('the compiled predictor keeps its errors as JS errors with codes', () => {
  const booster = Booster.train({ x: data.train.x, y: data.train.y, nFeatures: K, params: { num_iterations: 20 } });
  const fast = booster.fastPredictor();
  assert.equal(fast.engine, 'compiled');
  for (const len of [0, K - 1, K + 1]) {
    assert.throws(() => fast.predict(new Float64Array(len)), (e: Error & { code?: string }) => e.code === 'E_FEATURE_COUNT' && e.message.length > 0);
  }
});
