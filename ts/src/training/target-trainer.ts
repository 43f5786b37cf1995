/**
 * Training of a target other than the price (volatility, range, direction):
 * walk-forward on the same folds as the price model, every candidate
 * parameter set of the target (e.g. the two range methods) scored against
 * the target's baselines, the best by the target's rank kept, the final
 * model fitted on every row. Everything target-specific comes from the
 * target registry (model/targets.ts).
 */
import type { Dataset } from './dataset.ts';
import { datasetHash, rowsWithBook, withoutBook } from './dataset.ts';
import { foldSpan, walkForwardFolds, type Fold, type FoldSpan } from './walk-forward.ts';
import { candidateMetaBase, versionOf } from './trainer.ts';
import { type ModelKind, type ModelParams } from '../model/backends.ts';
import { targetOf } from '../model/targets.ts';
import type { Scores, Target, TargetModel } from '../model/target.ts';
import type { ModelMeta } from '../registry/model-meta.ts';

export interface TargetFoldResult extends FoldSpan {
  /** By contender: `model` and each baseline's name. */
  scores: Record<string, Scores>;
}

export interface TargetEvaluation {
  target: string;
  params: ModelParams;
  folds: TargetFoldResult[];
  overall: Record<string, Scores>;
  /** Every test row of every fold in time order, with each contender's outputs (for the report). */
  series: { rows: number[]; outputs: Record<string, Float64Array[]> };
}

export const HOLDOUT_FRACTION = 0.15;

/** Below this many rows (minutes) with book data, the with/without comparison says that skill cannot be judged (a week of minutes). */
export const BOOK_JUDGEABLE_ROWS = 7 * 1440;

type BookComparison = NonNullable<ModelMeta['evaluation']['book_comparison']>;

/** What the with/without book comparison says of itself, from its counts. */
export function bookComparisonNote(rowsWith: number, testWith: number, testRows: number): string {
  const counts = `${rowsWith} rows (minutes) of the dataset have book data, ${testWith} of the ${testRows} test rows`;
  if (rowsWith < BOOK_JUDGEABLE_ROWS) {
    return `${counts}. The order-book history is that short (recordings are minutes long), so skill with or without the book features cannot be judged on it: the comparison shows the pipeline joins and trains on them, not whether they help.`;
  }
  return `${counts}. Same folds and parameters with and without the book columns.`;
}

/** The production model of the same pair and target: refitted with its kind and parameters on each fold (its saved model has seen those rows). */
export interface CurrentTargetModel {
  version: string;
  kind: ModelKind;
  params: ModelParams;
  featureNames: readonly string[];
}

/** Runs a step generator to its end (synchronously). */
function runSteps<T>(g: Generator<void, T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/** Walk-forward of one parameter set of a target against its baselines (and the current model) on the given folds. */
export function evaluateTarget(ds: Dataset, folds: readonly Fold[], target: Target, kind: ModelKind, params: ModelParams, onFold?: (done: number, total: number) => void, current?: CurrentTargetModel | null): TargetEvaluation {
  return runSteps(evaluateTargetSteps(ds, folds, target, kind, params, onFold, current));
}

/** The same, yielding after each fold (so a caller can let an event loop run between folds). */
function* evaluateTargetSteps(ds: Dataset, folds: readonly Fold[], target: Target, kind: ModelKind, params: ModelParams, onFold?: (done: number, total: number) => void, current?: CurrentTargetModel | null): Generator<void, TargetEvaluation> {
  const outs: Record<string, Float64Array[]> = { model: [] };
  for (const b of target.baselines) outs[b.name] = [];
  if (current) outs.current = [];
  const rowsAll: number[] = [];
  const res: TargetFoldResult[] = [];
  const k = ds.featureNames.length;
  const width = target.outputs.length;
  for (const f of folds) {
    const model = target.fit(ds, f.train, kind, params, { holdoutFraction: HOLDOUT_FRACTION });
    const fold: Record<string, Float64Array[]> = { model: f.test.map((i) => model.predict(ds.x.slice(i * k, i * k + k), new Float64Array(width))) };
    for (const b of target.baselines) {
      const predict = b.fit(ds, f.train);
      fold[b.name] = f.test.map((i) => {
        const o = new Float64Array(width);
        predict(i, o);
        return o;
      });
    }
    if (current) {
      const cur = target.fit(ds, f.train, current.kind, current.params, { holdoutFraction: HOLDOUT_FRACTION });
      fold.current = f.test.map((i) => cur.predict(ds.x.slice(i * k, i * k + k), new Float64Array(width)));
    }
    const scores: Record<string, Scores> = {};
    for (const [name, o] of Object.entries(fold)) {
      scores[name] = target.score(o, ds, f.test);
      outs[name]!.push(...o);
    }
    rowsAll.push(...f.test);
    res.push({ ...foldSpan(f, model.iterations), scores });
    onFold?.(res.length, folds.length);
    yield;
  }
  const overall: Record<string, Scores> = {};
  for (const [name, o] of Object.entries(outs)) overall[name] = target.score(o, ds, rowsAll);
  return { target: target.name, params, folds: res, overall, series: { rows: rowsAll, outputs: outs } };
}

export interface TargetTrainOptions {
  dataset: Dataset;
  kind?: ModelKind;
  folds?: number;
  testFraction?: number;
  intervalS?: number;
  sentimentCoin?: string;
  source: string;
  modelName?: string;
  now_ms?: number;
  current?: CurrentTargetModel | null;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface TargetTrainResult {
  model: TargetModel;
  meta: ModelMeta;
  evaluation: TargetEvaluation;
  /** Every candidate's walk-forward (the chosen one included). */
  candidates: TargetEvaluation[];
  folds: Fold[];
}

const finite = (s: Scores): Record<string, number | null> => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Number.isFinite(v) ? v : null]));
const finiteAll = (r: Record<string, Scores>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, finite(v)]));

export function trainTarget(opts: TargetTrainOptions): TargetTrainResult {
  return runSteps(trainTargetSteps(opts));
}

/**
 * The same, giving the event loop a turn after every fold: training in a
 * running process (the embedded trainer service) then never blocks the other
 * services for more than one fold's fit.
 */
export async function trainTargetAsync(opts: TargetTrainOptions): Promise<TargetTrainResult> {
  const g = trainTargetSteps(opts);
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function* trainTargetSteps(opts: TargetTrainOptions): Generator<void, TargetTrainResult> {
  const ds = opts.dataset;
  const target = targetOf(ds.target);
  const kind = opts.kind ?? 'lightgbm';
  const cands = target.candidates(kind);
  if (cands.length === 0) throw new Error(`target ${target.name} has no model for the ${kind} backend`);
  const folds = walkForwardFolds(ds.times, { folds: opts.folds ?? 4, horizonMs: ds.horizonS * 1000, ...(opts.testFraction !== undefined ? { testFraction: opts.testFraction } : {}) });
  if (folds.length === 0) throw new Error(`not enough rows for a walk-forward evaluation: ${ds.rows} rows (dropped: ${JSON.stringify(ds.dropped)})`);
  const started = Date.now();
  const evals: TargetEvaluation[] = [];
  for (const [c, params] of cands.entries()) {
    evals.push(yield* evaluateTargetSteps(ds, folds, target, kind, params, (d, t) => opts.onProgress?.(`evaluate ${c + 1}/${cands.length}`, d, t)));
  }
  let best = evals.reduce((a, b) => (target.rank(b.overall.model!) < target.rank(a.overall.model!) ? b : a));
  // With book columns: the same folds and parameters without them, side by side.
  let bookComparison: BookComparison | undefined;
  if (ds.bookNames.length > 0) {
    const without = yield* evaluateTargetSteps(withoutBook(ds), folds, target, kind, best.params, (d, t) => opts.onProgress?.('evaluate without book', d, t));
    const all = Array.from({ length: ds.rows }, (_, i) => i);
    const testRows = folds.flatMap((f) => f.test);
    const rowsWith = rowsWithBook(ds, all);
    const testWith = rowsWithBook(ds, testRows);
    bookComparison = {
      exchange: ds.bookExchange ?? '',
      rows_with_book: rowsWith,
      rows: ds.rows,
      test_rows_with_book: testWith,
      test_rows: testRows.length,
      with_book: finite(best.overall.model!),
      without_book: finite(without.overall.model!),
      note: bookComparisonNote(rowsWith, testWith, testRows.length),
    };
  }
  // The current production model of this pair and target, on the same folds (same columns required).
  const cur = opts.current ?? null;
  let currentNote: string | undefined;
  if (cur) {
    if (cur.featureNames.join(',') !== ds.featureNames.join(',')) currentNote = `current model ${cur.version} uses other features than this dataset`;
    else {
      const withCurrent = yield* evaluateTargetSteps(ds, folds, target, kind, best.params, undefined, cur);
      best = withCurrent;
    }
  }
  // Final model on every row; trees keep the median early-stopped round count of the folds.
  const finalParams: ModelParams = { ...best.params };
  const its = best.folds.map((f) => f.iterations).filter((x): x is number => x !== null && x > 0).sort((a, b) => a - b);
  if (its.length > 0 && finalParams.early_stopping_round !== undefined) finalParams.num_iterations = its[Math.floor(its.length / 2)] as number;
  delete finalParams.early_stopping_round;
  opts.onProgress?.('final', 0, 1);
  yield;
  const model = target.fit(ds, Array.from({ length: ds.rows }, (_, i) => i), kind, finalParams, { holdoutFraction: HOLDOUT_FRACTION });
  opts.onProgress?.('final', 1, 1);
  const now = opts.now_ms ?? Date.now();
  const hash = datasetHash(ds);
  const meta: ModelMeta = {
    ...candidateMetaBase(ds, kind, finalParams, { now_ms: now, hash, sentimentCoin: opts.sentimentCoin, intervalS: opts.intervalS, source: opts.source }),
    version: versionOf(ds.pair, `${target.name}-${kind}`, now, hash),
    model_name: opts.modelName ?? `tickcast-${target.name}-${kind}`,
    context_features: [...ds.contextNames],
    target: target.name,
    evaluation: {
      folds: best.folds.map((f) => ({ ...f, metrics: {}, scores: finiteAll(f.scores) })),
      overall: {},
      scores: finiteAll(best.overall),
      compared_with: cur?.version ?? null,
      ...(currentNote ? { current_note: currentNote } : {}),
      ...(bookComparison ? { book_comparison: bookComparison } : {}),
    },
    search: {
      trials: evals.length,
      elapsed_ms: Date.now() - started,
      best_rmse: -1,
      candidates: evals.map((e) => ({ params: e.params, rank: target.rank(e.overall.model!), scores: finite(e.overall.model!) })),
    },
  };
  return { model, meta, evaluation: best, candidates: evals, folds };
}
