// Shared helpers for the LightGBM binding tests and bench/lightgbm.ts: the
// addon, a real feature matrix from recorded candles, and the Python
// lightgbm oracle (tests/oracles/lightgbm_reference.py). Not a test file.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, REPO_ROOT } from '../fixtures/paths.ts';
import { testData } from '../fixtures/test-data.ts';

export type Addon = typeof import('../../../crates/lightgbm/node/index.js');
export type TrainParams = Record<string, string | number | boolean | Array<string | number>>;

const PKG_DIR = join(REPO_ROOT, 'crates', 'lightgbm', 'node');

/** The @tickcast/lightgbm addon, loaded from its package folder (works
 * whether or not the root package.json lists it as a workspace). */
export function loadAddon(): Addon {
  const built = existsSync(PKG_DIR) && readdirSync(PKG_DIR).some((f) => f.endsWith('.node'));
  if (!built) {
    throw new Error(
      'no .node addon in crates/lightgbm/node: build it with `cd crates/lightgbm/node && CMAKE=$PWD/../../../.venv/bin/cmake npm run build` ' +
        '(needs libclang-dev and cmake >= 3.28: `.venv/bin/pip install -r crates/lightgbm/requirements-build.txt`)',
    );
  }
  return createRequire(import.meta.url)(join(PKG_DIR, 'index.js')) as Addon;
}

/** A labelled row-major matrix. */
export interface Labeled {
  x: Float64Array;
  y: Float64Array;
  rows: number;
}

export interface FeatureMatrix {
  names: string[];
  nFeatures: number;
  train: Labeled;
  valid: Labeled;
  test: Labeled;
}

function labeled(rows: number[][], labels: number[]): Labeled {
  return { x: Float64Array.from(rows.flat()), y: Float64Array.from(labels), rows: rows.length };
}

/**
 * Real features from the Coinbase BTC-USD 1-minute candles (shared data):
 * lagged 1-minute log returns, 5- and 15-minute returns, the bar's range and
 * log volume; label = the 5-minute-ahead log return in basis points. Only
 * rows whose 15 minutes back and 5 ahead are all present (the file skips
 * minutes without trades). Split in time order 70/15/15 (train/valid/test).
 */
export function realFeatures(): FeatureMatrix {
  const csv = testData('candles/coinbase_BTCUSD_1m_lean.csv');
  const lines = readFileSync(csv, 'utf8').trim().split('\n');
  const header = lines[0]!.split(',');
  const col = (name: string) => header.indexOf(name);
  const [iTime, iHigh, iLow, iClose, iVol] = [col('time_utc'), col('high'), col('low'), col('close'), col('volume')];
  const bars = lines.slice(1).map((l) => {
    const f = l.split(',');
    return { t: Date.parse(f[iTime]!), high: Number(f[iHigh]), low: Number(f[iLow]), close: Number(f[iClose]), volume: Number(f[iVol]) };
  });
  const names = ['ret_1m', 'ret_1m_lag1', 'ret_1m_lag2', 'ret_1m_lag3', 'ret_5m', 'ret_15m', 'range_bps', 'log_volume'];
  const rows: number[][] = [];
  const labels: number[] = [];
  const lr = (a: number, b: number) => 1e4 * Math.log(a / b);
  for (let i = 15; i + 5 < bars.length; i++) {
    if (bars[i + 5]!.t - bars[i - 15]!.t !== 20 * 60_000) continue;
    const c = (k: number) => bars[i + k]!.close;
    const b = bars[i]!;
    rows.push([lr(c(0), c(-1)), lr(c(-1), c(-2)), lr(c(-2), c(-3)), lr(c(-3), c(-4)), lr(c(0), c(-5)), lr(c(0), c(-15)), (1e4 * (b.high - b.low)) / b.close, Math.log1p(b.volume)]);
    labels.push(lr(c(5), c(0)));
  }
  const a = Math.floor(rows.length * 0.7);
  const v = Math.floor(rows.length * 0.85);
  return {
    names,
    nFeatures: names.length,
    train: labeled(rows.slice(0, a), labels.slice(0, a)),
    valid: labeled(rows.slice(a, v), labels.slice(a, v)),
    test: labeled(rows.slice(v), labels.slice(v)),
  };
}

/** Output of tests/oracles/lightgbm_reference.py. */
export interface PythonResult {
  lightgbm_version: string;
  num_trees: number;
  current_iteration: number;
  best_iteration: number;
  feature_names: string[];
  importance_gain: number[];
  importance_split: number[];
  train_seconds: number;
  train_seconds_all: number[];
  predict_batch_us_per_row: number | null;
  predict_single_us_per_call: number | null;
  predictions: Float64Array;
  modelText: string;
}

export interface PythonSpec {
  nFeatures: number;
  train: Labeled;
  valid?: Labeled;
  featureNames?: string[];
  params: TrainParams;
  predictX: Float64Array;
  repeat?: number;
  timePredict?: boolean;
}

function writeF64(path: string, a: Float64Array): string {
  writeFileSync(path, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  return path;
}

/** Trains with the Python lightgbm package on the same matrix and params. */
export function pythonLightgbm(spec: PythonSpec): PythonResult {
  if (!existsSync(PYTHON)) {
    throw new Error(`Python oracle missing: ${PYTHON} not found; run \`make pyenv\` then \`.venv/bin/pip install -r tests/oracles/requirements-lightgbm.txt\``);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-lgbm-'));
  const f = (n: string) => join(dir, n);
  const json: Record<string, unknown> = {
    n_features: spec.nFeatures,
    train_x: writeF64(f('train_x.f64'), spec.train.x),
    train_y: writeF64(f('train_y.f64'), spec.train.y),
    params: spec.params,
    predict_x: writeF64(f('predict_x.f64'), spec.predictX),
    out_pred: f('pred.f64'),
    out_model: f('model.txt'),
    repeat: spec.repeat ?? 1,
    time_predict: spec.timePredict ?? false,
  };
  if (spec.valid) {
    json.valid_x = writeF64(f('valid_x.f64'), spec.valid.x);
    json.valid_y = writeF64(f('valid_y.f64'), spec.valid.y);
  }
  if (spec.featureNames) json.feature_names = spec.featureNames;
  writeFileSync(f('spec.json'), JSON.stringify(json));
  let stdout: string;
  try {
    stdout = execFileSync(PYTHON, [join(REPO_ROOT, 'tests', 'oracles', 'lightgbm_reference.py'), f('spec.json')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(`lightgbm_reference.py failed (is lightgbm installed? \`.venv/bin/pip install -r tests/oracles/requirements-lightgbm.txt\`):\n${err.stderr ?? String(e)}`);
  }
  const summary = JSON.parse(stdout) as Omit<PythonResult, 'predictions' | 'modelText'>;
  const buf = readFileSync(f('pred.f64'));
  const predictions = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return { ...summary, predictions, modelText: readFileSync(f('model.txt'), 'utf8') };
}

/** Largest |a-b| / max(|b|, 1e-12) over two equal-length arrays. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), 1e-12);
    if (d > worst || Number.isNaN(d)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** The trees of a model text ("Tree=0" up to "end of trees"). */
export function treesSection(modelText: string): string {
  const start = modelText.indexOf('Tree=0');
  const end = modelText.indexOf('end of trees');
  if (start < 0 || end < 0) throw new Error('model text has no trees section');
  return modelText.slice(start, end);
}
