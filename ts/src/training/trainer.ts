/**
 * One training run: walk-forward folds over the point-in-time dataset, a
 * bounded hyper-parameter search on those folds (trial count and time
 * budget), the evaluation of the chosen parameters against persistence,
 * ridge and the current production model, then the final model fitted on
 * every row. Returns the model and its registry meta (status `candidate`:
 * promotion.ts decides).
 */
import { execFileSync } from 'node:child_process';
import type { Logger } from 'pino';
import type { Dataset } from './dataset.ts';
import { datasetHash } from './dataset.ts';
import { walkForwardFolds, type Fold } from './walk-forward.ts';
import { evaluateWalkForward, fitModel, type CurrentModel, type Evaluation } from './walk-forward-eval.ts';
import { BACKENDS, libraryVersions, type ModelKind, type ModelParams, type Regressor } from '../model/backends.ts';
import type { ModelMeta } from '../registry/model-meta.ts';
import { mulberry32 } from '../util/rng.ts';

/** The LightGBM backend's defaults (model/backends.ts). */
export const DEFAULT_LGBM_PARAMS: ModelParams = BACKENDS.lightgbm.defaultParams;

/** The search space of the LightGBM backend (each trial draws one value per key, seeded). */
export const SEARCH_SPACE = BACKENDS.lightgbm.searchSpace;

export interface SearchOptions {
  /** At most this many trials (default 6; 0 or 1 = just the defaults). */
  trials?: number;
  /** Stop starting trials after this (default 120 s). */
  budgetMs?: number;
  seed?: number;
}

export interface TrainOptions {
  dataset: Dataset;
  kind?: ModelKind;
  params?: ModelParams;
  folds?: number;
  testFraction?: number;
  search?: SearchOptions;
  current?: CurrentModel | null;
  intervalS?: number;
  sentimentCoin?: string;
  /** Where the data came from (a file, `store:...`). */
  source: string;
  modelName?: string;
  logger?: Logger;
  onProgress?: (stage: string, done: number, total: number) => void;
  now_ms?: number;
}

export interface TrainResult {
  regressor: Regressor;
  meta: ModelMeta;
  evaluation: Evaluation;
  folds: Fold[];
}

export function codeCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What every candidate's metadata says of its data and build, whatever its target. */
export function candidateMetaBase(
  ds: Dataset,
  kind: ModelKind,
  params: ModelParams,
  opts: { now_ms: number; hash: string; sentimentCoin?: string; intervalS?: number; source: ModelMeta['data']['source'] },
): Omit<ModelMeta, 'version' | 'model_name' | 'target' | 'evaluation' | 'search'> {
  return {
    kind,
    pair: ds.pair,
    created_ms: opts.now_ms,
    status: 'candidate',
    reason: 'trained',
    feature_names: [...ds.featureNames],
    technical_features: [...ds.technicalNames],
    sentiment_features: [...ds.sentimentNames],
    ...(opts.sentimentCoin && ds.sentimentNames.length > 0 ? { sentiment_coin: opts.sentimentCoin } : {}),
    ...(ds.bookNames.length > 0 ? { book_features: [...ds.bookNames], ...(ds.bookExchange ? { book_exchange: ds.bookExchange } : {}) } : {}),
    horizon_s: ds.horizonS,
    interval_s: opts.intervalS ?? 60,
    params,
    data: { from_ms: ds.times[0] ?? 0, to_ms: ds.times[ds.rows - 1] ?? 0, rows: ds.rows, sha256: opts.hash, dropped: { ...ds.dropped }, source: opts.source },
    library_versions: libraryVersions(kind),
    code_commit: codeCommit(),
  };
}

export function versionOf(pair: string, kind: string, now_ms: number, hash: string): string {
  const stamp = new Date(now_ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase();
  return `${pair.replace('/', '').toLowerCase()}-${kind}-${stamp}-${hash.slice(0, 8)}`;
}

/** Bounded random search on the folds; returns the best parameters by overall price RMSE. */
export function searchParams(ds: Dataset, folds: readonly Fold[], kind: ModelKind, base: ModelParams, opts: SearchOptions, onTrial?: (done: number, total: number) => void): { params: ModelParams; trials: number; elapsed_ms: number; best_rmse: number } {
  const space = BACKENDS[kind].searchSpace;
  const trials = Math.max(1, Object.keys(space).length === 0 ? 1 : (opts.trials ?? 6));
  const budget = opts.budgetMs ?? 120_000;
  const rnd = mulberry32(opts.seed ?? 1);
  const started = Date.now();
  let best = { params: base, rmse: Infinity };
  let done = 0;
  for (let t = 0; t < trials; t++) {
    if (t > 0 && Date.now() - started > budget) break;
    const params: ModelParams = { ...base };
    if (t > 0) for (const [k, vals] of Object.entries(space)) params[k] = vals[Math.floor(rnd() * vals.length)] as number | string;
    const ev = evaluateWalkForward(ds, folds, { kind, params });
    const rmse = ev.overall.model?.rmse ?? Infinity;
    if (rmse < best.rmse) best = { params, rmse };
    done++;
    onTrial?.(done, trials);
  }
  return { params: best.params, trials: done, elapsed_ms: Date.now() - started, best_rmse: best.rmse };
}

const nullIfNaN = <T extends { directional_accuracy: number }>(m: T | undefined) =>
  m ? { ...m, directional_accuracy: Number.isFinite(m.directional_accuracy) ? m.directional_accuracy : null } : undefined;

function metaMetrics(o: Evaluation['overall']): ModelMeta['evaluation']['overall'] {
  const r: ModelMeta['evaluation']['overall'] = {};
  for (const k of ['model', 'persistence', 'ridge', 'current'] as const) {
    const m = nullIfNaN(o[k]);
    if (m) r[k] = m;
  }
  return r;
}

export function trainModel(opts: TrainOptions): TrainResult {
  const ds = opts.dataset;
  const kind = opts.kind ?? 'lightgbm';
  const base = { ...BACKENDS[kind].defaultParams, ...(opts.params ?? {}) };
  const folds = walkForwardFolds(ds.times, { folds: opts.folds ?? 4, horizonMs: ds.horizonS * 1000, ...(opts.testFraction !== undefined ? { testFraction: opts.testFraction } : {}) });
  if (folds.length === 0) throw new Error(`not enough rows for a walk-forward evaluation: ${ds.rows} rows (dropped: ${JSON.stringify(ds.dropped)})`);
  const log = opts.logger;
  const search = searchParams(ds, folds, kind, base, opts.search ?? {}, (d, t) => opts.onProgress?.('search', d, t));
  log?.info({ trials: search.trials, best_rmse: search.best_rmse, params: search.params }, 'hyper-parameter search done');
  const evaluation = evaluateWalkForward(ds, folds, {
    kind,
    params: search.params,
    current: opts.current ?? null,
    onFold: (d, t) => opts.onProgress?.('evaluate', d, t),
  });
  // Final model on every row; trees keep the median early-stopped round count of the folds.
  const finalParams: ModelParams = { ...search.params };
  if (kind === 'lightgbm') {
    const its = evaluation.folds.map((f) => f.iterations).filter((x): x is number => x !== null && x > 0).sort((a, b) => a - b);
    if (its.length > 0) finalParams.num_iterations = its[Math.floor(its.length / 2)] as number;
    delete finalParams.early_stopping_round;
  }
  opts.onProgress?.('final', 0, 1);
  const all = Array.from({ length: ds.rows }, (_, i) => i);
  const regressor = fitModel(ds, all, kind, finalParams, 0);
  opts.onProgress?.('final', 1, 1);
  const now = opts.now_ms ?? Date.now();
  const hash = datasetHash(ds);
  const meta: ModelMeta = {
    ...candidateMetaBase(ds, kind, finalParams, { now_ms: now, hash, sentimentCoin: opts.sentimentCoin, intervalS: opts.intervalS, source: opts.source }),
    version: versionOf(ds.pair, kind, now, hash),
    model_name: opts.modelName ?? `tickcast-${kind}`,
    target: ds.target,
    evaluation: {
      folds: evaluation.folds.map((f) => ({
        ...f,
        metrics: metaMetrics(f.metrics),
      })),
      overall: metaMetrics(evaluation.overall),
      compared_with: opts.current?.version ?? null,
      ...(evaluation.current_note ? { current_note: evaluation.current_note } : {}),
    },
    search: { trials: search.trials, elapsed_ms: search.elapsed_ms, best_rmse: Number.isFinite(search.best_rmse) ? search.best_rmse : -1 },
  };
  return { regressor, meta, evaluation, folds };
}
