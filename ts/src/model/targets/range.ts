/**
 * `range`: quantiles of the 5-minute log return ln(close[t+h] / close[t]) at
 * 5, 10, 50, 90 and 95%, giving the 80% (q10..q90) and 90% (q05..q95) price
 * intervals close · e^q.
 *
 * Both model the return relative to the EWMA volatility (z = y / ewma_vol,
 * then q = ewma_vol · q_z): vol-scaled quantiles. Two methods (the trainer
 * evaluates every candidate on the same folds and keeps the best by `rank`:
 * the 90% interval score, penalized when the coverage is outside the
 * tolerance; chosen on the folds it is scored on, like the price model's
 * search, so slightly optimistic):
 * - `quantile`: one LightGBM model per level, quantile objective (two
 *   settings: the default trees, and smaller, more regularized ones);
 * - `conformal`: a median model (quantile 0.5) and a volatility model (gamma
 *   objective on the squared 5-minute return, floored) fitted on the older
 *   part of the fold's training rows; split-conformal on the most recent part
 *   (after a horizon gap): scores s = (y - median) / σ̂, level quantiles of s
 *   with the finite-sample correction; q_a = median + σ̂ · s_a.
 * Quantiles are sorted per row (no crossing).
 *
 * Metrics: coverage of each interval overall and per ex-ante volatility
 * tercile (terciles of rv_30 at t over the scored rows), mean widths, pinball
 * loss (mean over the levels), Winkler interval scores; widths, pinball and
 * scores in basis points of log return. Baselines: Gaussian with EWMA
 * volatility (mean 0), unconditional empirical quantiles of the training
 * window. Promotion: 90% coverage within ±COVERAGE_TOLERANCE of 90% and a
 * 90% interval score below the best baseline's.
 */
import { BACKENDS, type ModelKind, type ModelParams, type Regressor } from '../backends.ts';
import { fitColumn, innerSplit, predictRows } from '../fit.ts';
import type { Scores, Target, TargetData, TargetModel } from '../target.ts';
import { fmt } from '../target.ts';
import { VAR_FLOOR, VOL_FLOOR, column, normalQuantile, quantileSorted, scaledLabel, value } from './common.ts';

export const RANGE_LEVELS: readonly number[] = [0.05, 0.1, 0.5, 0.9, 0.95];
export const COVERAGE_TOLERANCE = 0.02;
const BP = 1e4;

type Method = 'quantile' | 'conformal';
interface RangeText {
  method: Method;
  levels: number[];
  /** LightGBM model texts: one per level (quantile), or [median, variance] (conformal). */
  parts: string[];
  /** Conformal score quantiles per level. */
  offsets?: number[];
}

class RangeModel implements TargetModel {
  readonly kind: ModelKind = 'lightgbm';
  private readonly scaleCol: number;
  constructor(
    readonly method: Method,
    readonly parts: Regressor[],
    readonly offsets: number[] | null,
    readonly iterations: number | null,
  ) {
    this.scaleCol = (parts[0] as Regressor).featureNames.indexOf('ewma_vol');
  }
  get featureNames(): readonly string[] {
    return (this.parts[0] as Regressor).featureNames;
  }
  predict(row: Float64Array, out: Float64Array): Float64Array {
    const scale = Math.max(row[this.scaleCol] as number, VOL_FLOOR);
    if (this.method === 'quantile') {
      for (let j = 0; j < this.parts.length; j++) out[j] = (this.parts[j] as Regressor).predict(row);
    } else {
      const med = (this.parts[0] as Regressor).predict(row);
      const sd = Math.sqrt(Math.max((this.parts[1] as Regressor).predict(row), VAR_FLOOR));
      const off = this.offsets as number[];
      for (let j = 0; j < off.length; j++) out[j] = med + sd * (off[j] as number);
    }
    for (let j = 0; j < out.length; j++) out[j] = (out[j] as number) * scale;
    // Monotone rearrangement: insertion sort of 5 values.
    for (let i = 1; i < out.length; i++) {
      const v = out[i] as number;
      let j = i - 1;
      while (j >= 0 && (out[j] as number) > v) {
        out[j + 1] = out[j] as number;
        j--;
      }
      out[j + 1] = v;
    }
    return out;
  }
  modelText(): string {
    const t: RangeText = { method: this.method, levels: [...RANGE_LEVELS], parts: this.parts.map((p) => p.modelText()), ...(this.offsets ? { offsets: this.offsets } : {}) };
    return JSON.stringify(t);
  }
  importance(): number[] {
    const k = this.featureNames.length;
    const s = new Array<number>(k).fill(0);
    for (const p of this.parts) p.importance().forEach((v, j) => (s[j] = (s[j] as number) + v));
    return s;
  }
}

/** Split-conformal quantile of scores for level a (finite-sample corrected, conservative outward). */
export function conformalQuantile(sortedScores: ArrayLike<number>, a: number): number {
  const n = sortedScores.length;
  if (n === 0) return Number.NaN;
  if (a === 0.5) return quantileSorted(sortedScores, 0.5);
  // Upper levels: the ceil((n+1)a)-th smallest; lower levels: the floor((n+1)a)-th smallest (1-based), clamped.
  const k = a > 0.5 ? Math.ceil((n + 1) * a) : Math.floor((n + 1) * a);
  return sortedScores[Math.min(n, Math.max(1, k)) - 1] as number;
}

const QUANTILE_PARAMS: ModelParams = { objective: 'quantile', num_leaves: 15, min_data_in_leaf: 200, learning_rate: 0.05, lambda_l2: 10 };

function fitRange(data: TargetData, rows: readonly number[], params: ModelParams, holdout: number): RangeModel {
  const method = (params.method ?? 'quantile') as Method;
  const base: ModelParams = { ...params };
  delete base.method;
  const z = scaledLabel(data, data.y, column(data, 'ewma_vol'), 1, VOL_FLOOR);
  if (method === 'quantile') {
    const parts = RANGE_LEVELS.map((a) => fitColumn(data, rows, z, 'lightgbm', { ...base, objective: 'quantile', alpha: a }, holdout));
    const its = parts.map((p) => p.iterations ?? 0);
    return new RangeModel('quantile', parts, null, Math.max(...its));
  }
  const { fit, valid } = innerSplit(data, rows, Math.max(holdout, 0.2));
  const fixed = { ...base };
  delete fixed.early_stopping_round;
  const median = fitColumn(data, fit, z, 'lightgbm', { ...fixed, objective: 'quantile', alpha: 0.5 }, 0);
  const sq = Float64Array.from(z, (y) => Math.max(y * y, VAR_FLOOR));
  const variance = fitColumn(data, fit, sq, 'lightgbm', { ...fixed, objective: 'gamma' }, 0);
  const cal = valid.length > 0 ? valid : fit;
  const med = predictRows(median, data, cal);
  const v = predictRows(variance, data, cal);
  const scores = Float64Array.from(cal, (r, i) => ((z[r] as number) - (med[i] as number)) / Math.sqrt(Math.max(v[i] as number, VAR_FLOOR))).sort();
  const offsets = RANGE_LEVELS.map((a) => conformalQuantile(scores, a));
  return new RangeModel('conformal', [median, variance], offsets, null);
}

function loadRange(text: string, names: readonly string[]): RangeModel {
  const t = JSON.parse(text) as RangeText;
  if ((t.method !== 'quantile' && t.method !== 'conformal') || !Array.isArray(t.parts)) throw new Error('not a range model text');
  const parts = t.parts.map((p) => BACKENDS.lightgbm.load(p, names));
  return new RangeModel(t.method, parts, t.offsets ?? null, null);
}

/** Interval scores, coverage (overall and by ex-ante volatility tercile), widths, pinball of quantile rows. */
export function rangeScores(q: readonly ArrayLike<number>[], y: ArrayLike<number>, exAnteVol: ArrayLike<number>): Scores {
  const n = y.length;
  const sortedVol = Float64Array.from(exAnteVol).sort();
  const cut1 = quantileSorted(sortedVol, 1 / 3);
  const cut2 = quantileSorted(sortedVol, 2 / 3);
  const cov = { c80: 0, c90: 0 };
  const terc = [0, 0, 0];
  const tercN = [0, 0, 0];
  let w80 = 0;
  let w90 = 0;
  let s80 = 0;
  let s90 = 0;
  let pin = 0;
  for (let i = 0; i < n; i++) {
    const r = q[i] as ArrayLike<number>;
    const v = y[i] as number;
    const [l90, l80, , u80, u90] = [r[0], r[1], r[2], r[3], r[4]] as number[];
    const in80 = v >= l80! && v <= u80!;
    const in90 = v >= l90! && v <= u90!;
    if (in80) cov.c80++;
    if (in90) cov.c90++;
    const vol = exAnteVol[i] as number;
    const t = vol <= cut1 ? 0 : vol <= cut2 ? 1 : 2;
    tercN[t]!++;
    if (in90) terc[t]!++;
    w80 += u80! - l80!;
    w90 += u90! - l90!;
    s80 += u80! - l80! + (2 / 0.2) * Math.max(0, l80! - v) + (2 / 0.2) * Math.max(0, v - u80!);
    s90 += u90! - l90! + (2 / 0.1) * Math.max(0, l90! - v) + (2 / 0.1) * Math.max(0, v - u90!);
    let p = 0;
    RANGE_LEVELS.forEach((a, j) => {
      const d = v - (r[j] as number);
      p += d >= 0 ? a * d : (a - 1) * d;
    });
    pin += p / RANGE_LEVELS.length;
  }
  const d = n || Number.NaN;
  return {
    n,
    coverage80: cov.c80 / d,
    coverage90: cov.c90 / d,
    coverage90_low_vol: terc[0]! / (tercN[0] || Number.NaN),
    coverage90_mid_vol: terc[1]! / (tercN[1] || Number.NaN),
    coverage90_high_vol: terc[2]! / (tercN[2] || Number.NaN),
    width80_bp: (w80 / d) * BP,
    width90_bp: (w90 / d) * BP,
    pinball_bp: (pin / d) * BP,
    interval_score80_bp: (s80 / d) * BP,
    interval_score90_bp: (s90 / d) * BP,
  };
}

const Z = RANGE_LEVELS.map((a) => normalQuantile(a));

export const rangeTarget: Target = {
  name: 'range',
  family: 'range',
  description: 'quantiles 5/10/50/90/95% of the 5-minute log return (80% and 90% price intervals)',
  usesContext: true,
  outputs: RANGE_LEVELS.map((a) => `q${String(Math.round(a * 100)).padStart(2, '0')}`),
  primaryMetric: 'interval_score90_bp',
  label(closeAt, t_ms, horizonS) {
    const now = closeAt(t_ms);
    const future = closeAt(t_ms + horizonS * 1000);
    return now === undefined || future === undefined ? null : Math.log(future / now);
  },
  candidates(kind) {
    if (kind !== 'lightgbm') return [];
    const base = { ...BACKENDS.lightgbm.defaultParams, ...QUANTILE_PARAMS };
    return [
      { ...base, method: 'quantile' },
      { ...base, method: 'quantile', num_leaves: 7, min_data_in_leaf: 800, learning_rate: 0.05, lambda_l2: 100 },
      { ...base, method: 'conformal', num_iterations: 150 },
    ];
  },
  fit(data, rows, kind, params, opts) {
    if (kind !== 'lightgbm') throw new Error('the range target needs the lightgbm backend (quantile objective)');
    return fitRange(data, rows, params, opts.holdoutFraction);
  },
  load: (_kind, text, names) => loadRange(text, names),
  baselines: [
    {
      name: 'gaussian_ewma',
      description: 'Gaussian, mean 0, standard deviation the EWMA 5-minute volatility',
      fit: (data) => {
        const c = column(data, 'ewma_vol');
        return (r, out) => {
          const sd = value(data, r, c);
          Z.forEach((z, j) => (out[j] = z * sd));
        };
      },
    },
    {
      name: 'empirical',
      description: 'unconditional empirical quantiles of the training window',
      fit: (data, train) => {
        const ys = Float64Array.from(train, (r) => data.y[r] as number).sort();
        const qs = RANGE_LEVELS.map((a) => quantileSorted(ys, a));
        return (_r, out) => qs.forEach((q, j) => (out[j] = q));
      },
    },
  ],
  score(outputs, data, rows) {
    const c = column(data, 'rv_30');
    return rangeScores(
      outputs,
      rows.map((i) => data.y[i] as number),
      rows.map((i) => value(data, i, c)),
    );
  },
  rank: (s) => s.interval_score90_bp! * (1 + 10 * Math.max(0, Math.abs(s.coverage90! - 0.9) - COVERAGE_TOLERANCE)),
  decide(model, baselines) {
    const best = Object.entries(baselines).sort((a, b) => a[1].interval_score90_bp! - b[1].interval_score90_bp!)[0];
    if (!best || !(model.n! > 0)) return { promote: false, reason: 'no walk-forward evaluation (no test rows)' };
    const cov = model.coverage90!;
    if (Math.abs(cov - 0.9) > COVERAGE_TOLERANCE) return { promote: false, reason: `90% interval coverage ${(cov * 100).toFixed(2)}% is outside 90 ± ${COVERAGE_TOLERANCE * 100}%` };
    return model.interval_score90_bp! < best[1].interval_score90_bp!
      ? { promote: true, reason: `coverage ${(cov * 100).toFixed(2)}%, interval score ${fmt(model.interval_score90_bp!)} bp < best baseline ${best[0]} ${fmt(best[1].interval_score90_bp!)} bp` }
      : { promote: false, reason: `does not beat baseline ${best[0]}: interval score ${fmt(model.interval_score90_bp!)} bp >= ${fmt(best[1].interval_score90_bp!)} bp` };
  },
  publish: (q, close) => ({
    low90: close * Math.exp(q[0] as number),
    low80: close * Math.exp(q[1] as number),
    median: close * Math.exp(q[2] as number),
    high80: close * Math.exp(q[3] as number),
    high90: close * Math.exp(q[4] as number),
  }),
};
