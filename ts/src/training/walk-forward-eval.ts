/**
 * Walk-forward evaluation of one model configuration against the baselines
 * on the same folds: persistence (price in h = price now), ridge on the same
 * features, and optionally the current production model.
 *
 * The current production model is evaluated out of sample: on a fold whose
 * test block starts after its training data (+ horizon) its saved model
 * predicts as is; on a fold that overlaps its training data its kind and
 * parameters are refitted on the fold's training rows (the saved model has
 * seen those test rows, so scoring it there would flatter it).
 */
import type { Dataset, TargetKind } from './dataset.ts';
import type { PriceLabel } from '../model/targets/price.ts';
import { priceFromOutput, sliceRows } from './dataset.ts';
import { priceMetrics, type PriceMetrics } from '../model/price-metrics.ts';
import { foldSpan, type Fold, type FoldSpan } from './walk-forward.ts';
import { trainRegressor, type ModelKind, type ModelParams, type Regressor } from '../model/backends.ts';
import { innerSplit } from '../model/fit.ts';

export { innerSplit } from '../model/fit.ts';

export interface CurrentModel {
  version: string;
  kind: ModelKind;
  params: ModelParams;
  featureNames: readonly string[];
  target: TargetKind;
  /** Last feature time of its training data. */
  dataToMs: number;
  regressor: Regressor;
}

export type Contender = 'model' | 'persistence' | 'ridge' | 'current';

export interface FoldMetrics extends FoldSpan {
  metrics: Partial<Record<Contender, PriceMetrics>>;
  /** How the current production model was scored on this fold. */
  current_mode?: 'saved' | 'refit';
}

export interface Evaluation {
  folds: FoldMetrics[];
  overall: Partial<Record<Contender, PriceMetrics>>;
  /** Test rows of every fold, in time order, for plots. */
  series: { t_ms: number[]; actual: number[]; last: number[]; model: number[]; ridge: number[] };
  /** Why the current model could not be evaluated, if so. */
  current_note?: string;
}

export interface EvalOptions {
  kind: ModelKind;
  params: ModelParams;
  /** Share of each fold's training rows held out (at the end, after a horizon gap) for early stopping; trees only. Default 0.15. */
  earlyStoppingFraction?: number;
  current?: CurrentModel | null;
  ridgeLambda?: number;
  /** Called after each fold. */
  onFold?: (done: number, total: number) => void;
}

export function fitModel(ds: Dataset, rows: readonly number[], kind: ModelKind, params: ModelParams, earlyStoppingFraction: number): Regressor {
  if (kind === 'lightgbm' && earlyStoppingFraction > 0 && params.early_stopping_round !== undefined) {
    const { fit, valid } = innerSplit(ds, rows, earlyStoppingFraction);
    if (valid.length > 0) return trainRegressor(kind, { ...sliceRows(ds, fit), featureNames: ds.featureNames, params, valid: sliceRows(ds, valid) });
  }
  const p = { ...params };
  delete p.early_stopping_round;
  return trainRegressor(kind, { ...sliceRows(ds, rows), featureNames: ds.featureNames, params: p });
}

/** Columns of the dataset in the order of `names`, or the missing names. */
function columnMap(ds: Dataset, names: readonly string[]): number[] | string[] {
  const pos = new Map(ds.featureNames.map((n, i) => [n, i]));
  const missing = names.filter((n) => !pos.has(n));
  return missing.length > 0 ? missing : names.map((n) => pos.get(n) as number);
}

function metricsOf(pred: number[], actual: number[], last: number[]): PriceMetrics {
  return priceMetrics(pred, actual, last);
}

export function evaluateWalkForward(ds: Dataset, folds: readonly Fold[], opts: EvalOptions): Evaluation {
  const esf = opts.earlyStoppingFraction ?? 0.15;
  const k = ds.featureNames.length;
  const out: FoldMetrics[] = [];
  const all: Record<Contender, number[]> = { model: [], persistence: [], ridge: [], current: [] };
  const actualAll: number[] = [];
  const lastAll: number[] = [];
  const tAll: number[] = [];
  let currentNote: string | undefined;
  let currentCols: number[] | null = null;
  if (opts.current) {
    const m = columnMap(ds, opts.current.featureNames);
    if (typeof m[0] === 'string') currentNote = `current model ${opts.current.version} needs features this dataset lacks: ${(m as string[]).join(', ')}`;
    else currentCols = m as number[];
  }
  for (const f of folds) {
    const model = fitModel(ds, f.train, opts.kind, opts.params, esf);
    const ridge = trainRegressor('ridge', { ...sliceRows(ds, f.train), featureNames: ds.featureNames, params: { lambda: opts.ridgeLambda ?? 1e-3 } });
    const test = sliceRows(ds, f.test);
    const outM = model.predictBatch(test.x);
    const outR = ridge.predictBatch(test.x);
    const actual = f.test.map((i) => ds.futureCloses[i] as number);
    const last = f.test.map((i) => ds.closes[i] as number);
    const pm = f.test.map((i, j) => priceFromOutput(ds.target as PriceLabel, ds.closes[i] as number, outM[j] as number));
    const pr = f.test.map((i, j) => priceFromOutput(ds.target as PriceLabel, ds.closes[i] as number, outR[j] as number));
    const fm: FoldMetrics = {
      ...foldSpan(f, model.iterations),
      metrics: { model: metricsOf(pm, actual, last), persistence: metricsOf(last, actual, last), ridge: metricsOf(pr, actual, last) },
    };
    if (opts.current && currentCols) {
      const cur = opts.current;
      let curModel: Regressor;
      if (cur.dataToMs + ds.horizonS * 1000 < f.test_from_ms) {
        curModel = cur.regressor;
        fm.current_mode = 'saved';
      } else {
        // Refit its kind and parameters on this fold's rows, over its own columns.
        const sub = projectDataset(ds, currentCols, cur.featureNames, cur.target);
        curModel = fitModel(sub, f.train, cur.kind, cur.params, esf);
        fm.current_mode = 'refit';
      }
      const cx = new Float64Array(f.test.length * currentCols.length);
      f.test.forEach((i, j) => currentCols!.forEach((c, q) => (cx[j * currentCols!.length + q] = ds.x[i * k + c] as number)));
      const outC = curModel.predictBatch(cx);
      const pc = f.test.map((i, j) => priceFromOutput(cur.target as PriceLabel, ds.closes[i] as number, outC[j] as number));
      fm.metrics.current = metricsOf(pc, actual, last);
      all.current.push(...pc);
    }
    all.model.push(...pm);
    all.ridge.push(...pr);
    all.persistence.push(...last);
    actualAll.push(...actual);
    lastAll.push(...last);
    tAll.push(...f.test.map((i) => ds.times[i] as number));
    out.push(fm);
    opts.onFold?.(out.length, folds.length);
  }
  const overall: Partial<Record<Contender, PriceMetrics>> = {
    model: metricsOf(all.model, actualAll, lastAll),
    persistence: metricsOf(all.persistence, actualAll, lastAll),
    ridge: metricsOf(all.ridge, actualAll, lastAll),
  };
  if (opts.current && currentCols) overall.current = metricsOf(all.current, actualAll, lastAll);
  return {
    folds: out,
    overall,
    series: { t_ms: tAll, actual: actualAll, last: lastAll, model: all.model, ridge: all.ridge },
    ...(currentNote ? { current_note: currentNote } : {}),
  };
}

/** The dataset restricted (and reordered) to some columns, with another target. */
export function projectDataset(ds: Dataset, cols: readonly number[], names: readonly string[], target: TargetKind): Dataset {
  const k = ds.featureNames.length;
  const x = new Float64Array(ds.rows * cols.length);
  for (let i = 0; i < ds.rows; i++) cols.forEach((c, q) => (x[i * cols.length + q] = ds.x[i * k + c] as number));
  const y = target === ds.target ? ds.y : Float64Array.from(ds.futureCloses.map((fc, i) => (target === 'log_return' ? Math.log(fc / (ds.closes[i] as number)) : fc)));
  return { ...ds, featureNames: [...names], x, y, target };
}
