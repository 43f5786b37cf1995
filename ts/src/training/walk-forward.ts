/**
 * Walk-forward folds: time-ordered, never shuffled. The last `testFraction`
 * of the rows is cut into `folds` consecutive test blocks; fold i trains on
 * every row before its test block whose time is at least `gapMs` (default:
 * the horizon) before the block's first row, so no training target
 * (known at t + horizon) reaches into the test period. Expanding window.
 */
export interface Fold {
  index: number;
  /** Row indices (ascending). */
  train: number[];
  test: number[];
  train_from_ms: number;
  train_to_ms: number;
  test_from_ms: number;
  test_to_ms: number;
}

/** What a fold's evaluation records of the fold itself (the row indices left out). */
export interface FoldSpan {
  index: number;
  train_from_ms: number;
  train_to_ms: number;
  test_from_ms: number;
  test_to_ms: number;
  train_rows: number;
  test_rows: number;
  /** Boosting rounds kept (early stopping) for trees; null for other kinds. */
  iterations: number | null;
}

/** The span of fold `f` for a model that kept `iterations` rounds. */
export function foldSpan(f: Fold, iterations: number | null): FoldSpan {
  return {
    index: f.index,
    train_from_ms: f.train_from_ms,
    train_to_ms: f.train_to_ms,
    test_from_ms: f.test_from_ms,
    test_to_ms: f.test_to_ms,
    train_rows: f.train.length,
    test_rows: f.test.length,
    iterations,
  };
}

export interface FoldOptions {
  folds?: number;
  /** Share of the rows used as test blocks (default 0.5). */
  testFraction?: number;
  /** Minimum time between the last training row and the first test row (default: horizonMs). */
  gapMs?: number;
  horizonMs: number;
  /** A fold with fewer training rows is skipped (default 50). */
  minTrainRows?: number;
}

export function walkForwardFolds(times: readonly number[], opts: FoldOptions): Fold[] {
  const k = opts.folds ?? 4;
  const gap = Math.max(opts.gapMs ?? opts.horizonMs, opts.horizonMs);
  const n = times.length;
  for (let i = 1; i < n; i++) if ((times[i] as number) <= (times[i - 1] as number)) throw new RangeError('times must be strictly increasing');
  const testRows = Math.floor(n * (opts.testFraction ?? 0.5));
  const block = Math.floor(testRows / k);
  if (k < 1 || block < 1) return [];
  const start = n - block * k;
  const folds: Fold[] = [];
  for (let f = 0; f < k; f++) {
    const t0 = start + f * block;
    const test = Array.from({ length: block }, (_, j) => t0 + j);
    const firstTestMs = times[t0] as number;
    const train: number[] = [];
    for (let i = 0; i < t0; i++) if (firstTestMs - (times[i] as number) >= gap) train.push(i);
    if (train.length < (opts.minTrainRows ?? 50)) continue;
    folds.push({
      index: folds.length,
      train,
      test,
      train_from_ms: times[train[0] as number] as number,
      train_to_ms: times[train[train.length - 1] as number] as number,
      test_from_ms: firstTestMs,
      test_to_ms: times[test[test.length - 1] as number] as number,
    });
  }
  return folds;
}
