/** Small helpers shared by the target files. */
import type { TargetData } from '../target.ts';

/** Realized volatility and variance are floored here (a 5-minute window with no move at all). */
export const VOL_FLOOR = 1e-5;
export const VAR_FLOOR = VOL_FLOOR * VOL_FLOOR;

/** Column of a named feature, or an error naming it. */
export function column(data: Pick<TargetData, 'featureNames'>, name: string): number {
  const j = data.featureNames.indexOf(name);
  if (j < 0) throw new Error(`feature ${name} is not in the data (context features missing?)`);
  return j;
}

export function value(data: TargetData, row: number, col: number): number {
  return data.x[row * data.featureNames.length + col] as number;
}

/** The closes of the windows ending at t, t + step, ..., t + horizon, or null when one is missing. */
export function closesAhead(closeAt: (end_ms: number) => number | undefined, t_ms: number, horizonS: number, intervalS: number): number[] | null {
  const steps = Math.round(horizonS / intervalS);
  const out: number[] = [];
  for (let j = 0; j <= steps; j++) {
    const c = closeAt(t_ms + j * intervalS * 1000);
    if (c === undefined || !(c > 0)) return null;
    out.push(c);
  }
  return out;
}

/** Empirical quantile (type 7, linear interpolation) of sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return (sorted[lo] as number) + (h - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9 after one Newton step is not needed here: < 1.2e-9 relative). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - pl) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/**
 * A regressor whose output is multiplied by a per-row scale read from the
 * row itself (e.g. the EWMA variance of the context features): the model
 * learns a correction to a baseline instead of the level.
 */
export class ScaledModel {
  constructor(
    readonly regressor: import('../backends.ts').Regressor,
    private readonly scaleCol: number,
    private readonly power: number,
    private readonly floor: number,
  ) {}
  scale(row: ArrayLike<number>): number {
    return Math.max((row[this.scaleCol] as number) ** this.power, this.floor);
  }
  predict(row: Float64Array): number {
    return this.regressor.predict(row) * this.scale(row);
  }
}

/** The label divided by a per-row scale (column value ** power, floored). */
export function scaledLabel(data: TargetData, y: ArrayLike<number>, col: number, power: number, floor: number): Float64Array {
  const k = data.featureNames.length;
  return Float64Array.from({ length: data.rows }, (_, r) => (y[r] as number) / Math.max((data.x[r * k + col] as number) ** power, floor));
}
