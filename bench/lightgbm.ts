// LightGBM binding benchmark: ours (LightGBM 4.7.0 in Rust via napi-rs,
// crates/lightgbm) against the Python lightgbm package (same LightGBM
// version; timed in Python with time.perf_counter around lightgbm.train),
// same matrix, same parameters, same run.
//
// Data: real features from the Coinbase BTC-USD 1-minute candles (see
// ts/test/lightgbm/oracle.ts realFeatures; ~8,000 training rows x 8).
// Measures: training time (fastest of BENCH_REPEAT, default 3) with 1 and 2
// threads, ratio ours/Python (goal <= 1.2); prediction equality on the test
// rows; single-row prediction from Node (µs per call, goal < 10 µs) through
// our compiled predictor and, as a peer, through LightGBM's own
// ...SingleRowFast in the same binding; batch prediction; against Python's
// booster.predict on one row and on the whole test matrix.
// Run: node --import tsx bench/lightgbm.ts
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadAddon, maxRelDiff, pythonLightgbm, realFeatures, type TrainParams } from '../ts/test/lightgbm/oracle.ts';

function fmt(n: number, digits = 3): string {
  return n.toPrecision(digits);
}

export async function run(): Promise<void> {
  const { Booster, lightgbmVersion } = loadAddon();
  const repeat = Number(process.env.BENCH_REPEAT ?? 3);
  const data = realFeatures();
  const rows: string[][] = [];
  let equal = true;

  for (const threads of [1, 2]) {
    const params: TrainParams = { objective: 'regression', learning_rate: 0.05, num_leaves: 31, min_data_in_leaf: 50, feature_fraction: 0.8, bagging_fraction: 0.8, bagging_freq: 1, num_iterations: 300, num_threads: threads, deterministic: true, force_col_wise: true, verbosity: -1 };
    const py = pythonLightgbm({ nFeatures: data.nFeatures, train: data.train, featureNames: data.names, params, predictX: data.test.x, repeat });
    let best = Infinity;
    let booster: InstanceType<typeof Booster> | undefined;
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      booster = Booster.train({ x: data.train.x, y: data.train.y, nFeatures: data.nFeatures, featureNames: data.names, params });
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    const diff = maxRelDiff(booster!.predict(data.test.x), py.predictions);
    if (diff > 1e-9) equal = false;
    rows.push([`train ${data.train.rows}x${data.nFeatures}, 300 rounds, ${threads} thread(s)`, `${fmt(best * 1000)} ms`, `${fmt(py.train_seconds * 1000)} ms`, fmt(best / py.train_seconds), `max rel diff ${diff}`]);
  }

  // Prediction, for two model sizes, on the same model trained by each
  // side: our single-row predictor (fastPredictor: the model compiled to
  // flat Rust arrays) called from Node; LightGBM's own
  // LGBM_BoosterPredictForMatSingleRowFast through the same binding (the
  // peer it replaces); our batch predict; Python's booster.predict on one row
  // and on the whole test matrix. Single-row timings: fastest of `repeat`
  // interleaved runs.
  const k = data.nFeatures;
  const testRows = Array.from({ length: data.test.rows }, (_, r) => data.test.x.slice(r * k, (r + 1) * k));
  const calls = Number(process.env.BENCH_PREDICT_CALLS ?? 200_000);
  let sink = 0;
  let compiledEqual = true;
  const timeCalls = (fast: { predict(row: Float64Array): number }, n: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sink += fast.predict(testRows[i % testRows.length]!);
    return ((performance.now() - t0) * 1000) / n;
  };
  for (const [trees, leaves] of [[300, 31], [100, 15]] as const) {
    const params: TrainParams = { objective: 'regression', learning_rate: 0.05, num_leaves: leaves, num_iterations: trees, num_threads: 1, deterministic: true, force_col_wise: true, verbosity: -1 };
    const py = pythonLightgbm({ nFeatures: k, train: data.train, params, predictX: data.test.x, timePredict: true });
    const booster = Booster.train({ x: data.train.x, y: data.train.y, nFeatures: k, params });
    const compiled = booster.fastPredictor();
    const lightgbm = booster.lightgbmFastPredictor();
    if (compiled.engine !== 'compiled') throw new Error(`bench model not compiled: ${compiled.fallbackReason}`);
    const batch = booster.predict(data.test.x);
    for (let r = 0; r < testRows.length; r++) {
      if (!Object.is(compiled.predict(testRows[r]!), batch[r]) || !Object.is(lightgbm.predict(testRows[r]!), batch[r])) compiledEqual = false;
    }
    timeCalls(compiled, 20_000);
    timeCalls(lightgbm, 5_000);
    let usCompiled = Infinity;
    let usLightgbm = Infinity;
    for (let rep = 0; rep < repeat; rep++) {
      usCompiled = Math.min(usCompiled, timeCalls(compiled, calls));
      usLightgbm = Math.min(usLightgbm, timeCalls(lightgbm, Math.ceil(calls / 4)));
    }
    const t1 = performance.now();
    const batchReps = 20;
    for (let i = 0; i < batchReps; i++) sink += booster.predict(data.test.x)[0]!;
    const usPerRowBatch = ((performance.now() - t1) * 1000) / (batchReps * data.test.rows);
    const pySingle = py.predict_single_us_per_call ?? NaN;
    const pyBatch = py.predict_batch_us_per_row ?? NaN;
    const size = `${trees} trees x ${leaves} leaves`;
    rows.push([`single-row predict, ${size}: ours compiled (fastPredictor)`, `${fmt(usCompiled)} µs/call`, `${fmt(pySingle)} µs/call`, fmt(usCompiled / pySingle), `goal < 10 µs; ${fmt(usCompiled / usLightgbm)} x LightGBM's fast path`]);
    rows.push([`single-row predict, ${size}: LightGBM SingleRowFast via our binding (peer)`, `${fmt(usLightgbm)} µs/call`, `${fmt(pySingle)} µs/call`, fmt(usLightgbm / pySingle), 'num_threads=1']);
    rows.push([`batch predict ${data.test.rows} rows, ${size}`, `${fmt(usPerRowBatch)} µs/row`, `${fmt(pyBatch)} µs/row`, fmt(usPerRowBatch / pyBatch), '1 thread']);
  }
  if (Number.isNaN(sink)) console.log('');

  console.log(`LightGBM ${lightgbmVersion()} (ours, napi) vs Python lightgbm, fastest of ${repeat}`);
  const header = ['case', 'ours', 'python', 'ours/python', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
  console.log(`predictions equal to Python within 1e-9 relative: ${equal ? 'yes' : 'NO'}`);
  console.log(`compiled and LightGBM single-row predictions equal LightGBM batch bit for bit on the test rows: ${compiledEqual ? 'yes' : 'NO'}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
