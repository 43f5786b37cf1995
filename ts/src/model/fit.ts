/**
 * Fitting one output column on some rows of the data, shared by the targets:
 * time-ordered hold-out (after a horizon gap) for early stopping or
 * calibration, row slicing.
 */
import { BACKENDS, type ModelKind, type ModelParams, type Regressor } from './backends.ts';
import type { TargetData } from './target.ts';

/** Split training rows into fit + hold-out (time order, horizon gap); no hold-out under 20 rows. */
export function innerSplit(data: Pick<TargetData, 'times' | 'horizonS'>, train: readonly number[], fraction: number): { fit: number[]; valid: number[] } {
  const nValid = Math.floor(train.length * fraction);
  if (nValid < 20) return { fit: [...train], valid: [] };
  const valid = train.slice(train.length - nValid);
  const firstValid = data.times[valid[0] as number] as number;
  const fit = train.slice(0, train.length - nValid).filter((i) => firstValid - (data.times[i] as number) >= data.horizonS * 1000);
  return { fit, valid };
}

/** Rows of the matrix and of a label column. */
export function sliceRows(data: Pick<TargetData, 'featureNames' | 'x'>, idx: readonly number[], y: ArrayLike<number>): { x: Float64Array; y: Float64Array } {
  const k = data.featureNames.length;
  const x = new Float64Array(idx.length * k);
  const out = new Float64Array(idx.length);
  idx.forEach((r, i) => {
    x.set(data.x.subarray(r * k, r * k + k), i * k);
    out[i] = y[r] as number;
  });
  return { x, y: out };
}

/**
 * Fit one column `y` (indexed like the data's rows) on `rows`; with a
 * LightGBM `early_stopping_round`, the last `validFraction` of the rows is
 * the validation set, else the parameter is dropped.
 */
export function fitColumn(data: TargetData, rows: readonly number[], y: ArrayLike<number>, kind: ModelKind, params: ModelParams, validFraction: number): Regressor {
  const backend = BACKENDS[kind];
  if (kind === 'lightgbm' && validFraction > 0 && params.early_stopping_round !== undefined) {
    const { fit, valid } = innerSplit(data, rows, validFraction);
    if (valid.length > 0) return backend.train({ ...sliceRows(data, fit, y), featureNames: data.featureNames, params, valid: sliceRows(data, valid, y) });
  }
  const p = { ...params };
  delete p.early_stopping_round;
  return backend.train({ ...sliceRows(data, rows, y), featureNames: data.featureNames, params: p });
}

/** Regressor outputs for rows of the data. */
export function predictRows(model: { predictBatch(x: Float64Array): Float64Array }, data: TargetData, rows: readonly number[]): Float64Array {
  return model.predictBatch(sliceRows(data, rows, data.y).x);
}
