/**
 * `volatility`: the realized volatility of the next 5 one-minute log returns,
 * sqrt(Σ r²) over the windows ending at t+1 min ... t+5 min (from the closes
 * at t ... t + 300 s only).
 *
 * - A flat filled minute (no trades) is a return of 0: the price did not move.
 * - Zero volatility (5 flat minutes, or no change at all) is floored at
 *   VOL_FLOOR = 1e-5 (0.1 basis point per 5 minutes), for the label and for
 *   every prediction, so QLIKE and log volatility stay finite.
 *
 * The label stored is the realized variance. LightGBM fits it relative to the
 * EWMA forecast: the label y / ewma_vol² with the gamma objective (log link),
 * and the prediction is ewma_vol² · g(x). The gamma deviance of that ratio,
 * y/ŷ - ln(y/ŷ) - 1, is exactly QLIKE of the variance, the metric that judges
 * the target: the trees optimize what they are scored on, starting from the
 * EWMA baseline and learning its corrections (seasonality, regime, range).
 * Published: `volatility` = sqrt(predicted variance) (a 5-minute log-return
 * standard deviation, not annualized).
 *
 * Metrics: QLIKE on variance (mean of y/ŷ - ln(y/ŷ) - 1), RMSE of ln vol.
 * Baselines (same folds): persistence of the last 5-minute RV (`rv_5`), EWMA of
 * squared returns (`ewma_vol`), HAR-RV: OLS of ln RV(t, t+5) on ln rv_5,
 * ln rv_30, ln rv_240 with the smearing correction E[e^{2u}] for the variance.
 * Promotion: QLIKE below the best baseline's.
 */
import { BACKENDS, type ModelKind, type ModelParams } from '../backends.ts';
import { fitColumn } from '../fit.ts';
import { fitRidge, predictRidge } from '../ridge.ts';
import type { Baseline, Scores, Target, TargetData, TargetModel } from '../target.ts';
import { fmt } from '../target.ts';
import { ScaledModel, VAR_FLOOR, closesAhead, column, scaledLabel, value } from './common.ts';
import type { Regressor } from '../backends.ts';

/** Variance = EWMA variance x the trees' multiplier (one output). */
class VolatilityModel implements TargetModel {
  readonly kind = 'lightgbm' as const;
  private readonly scaled: ScaledModel;
  constructor(readonly regressor: Regressor) {
    this.scaled = new ScaledModel(regressor, regressor.featureNames.indexOf('ewma_vol'), 2, VAR_FLOOR);
  }
  get featureNames(): readonly string[] {
    return this.regressor.featureNames;
  }
  get iterations(): number | null {
    return this.regressor.iterations;
  }
  predict(row: Float64Array, out: Float64Array): Float64Array {
    out[0] = this.scaled.predict(row);
    return out;
  }
  modelText(): string {
    return this.regressor.modelText();
  }
  importance(): number[] {
    return this.regressor.importance();
  }
}

export const VOL_PARAMS: ModelParams = { objective: 'gamma', num_leaves: 15, min_data_in_leaf: 200, learning_rate: 0.05, lambda_l2: 10 };

export function realizedVariance(closes: readonly number[]): number {
  let s = 0;
  for (let j = 1; j < closes.length; j++) s += Math.log((closes[j] as number) / (closes[j - 1] as number)) ** 2;
  return Math.max(s, VAR_FLOOR);
}

/** QLIKE and RMSE of log volatility of predicted variances against realized ones. */
export function volatilityScores(predVar: ArrayLike<number>, realVar: ArrayLike<number>): Scores {
  const n = realVar.length;
  let q = 0;
  let se = 0;
  for (let i = 0; i < n; i++) {
    const y = Math.max(realVar[i] as number, VAR_FLOOR);
    const h = Math.max(predVar[i] as number, VAR_FLOOR);
    q += y / h - Math.log(y / h) - 1;
    se += (0.5 * Math.log(h) - 0.5 * Math.log(y)) ** 2;
  }
  return { n, qlike: n ? q / n : Number.NaN, rmse_log_vol: n ? Math.sqrt(se / n) : Number.NaN };
}

const logVol = (v: number) => Math.log(Math.max(v, Math.sqrt(VAR_FLOOR)));

/** HAR-RV: OLS of ln RV(next 5 min) on ln rv_5, ln rv_30, ln rv_240; variance e^{2ŷ}·mean(e^{2u}). */
export const harRv: Baseline = {
  name: 'har_rv',
  description: 'HAR-RV: OLS of ln RV(t, t+5 min) on ln RV over the last 5, 30 and 240 minutes (smearing-corrected)',
  fit(data, train) {
    const cols = ['rv_5', 'rv_30', 'rv_240'].map((n) => column(data, n));
    const x = new Float64Array(train.length * 3);
    const y = new Float64Array(train.length);
    train.forEach((r, i) => {
      cols.forEach((c, q) => (x[i * 3 + q] = logVol(value(data, r, c))));
      y[i] = 0.5 * Math.log(Math.max(data.y[r] as number, VAR_FLOOR));
    });
    const m = fitRidge(x, y, ['ln_rv_5', 'ln_rv_30', 'ln_rv_240'], 1e-9);
    let smear = 0;
    for (let i = 0; i < train.length; i++) smear += Math.exp(2 * ((y[i] as number) - predictRidge(m, x.subarray(i * 3, i * 3 + 3))));
    smear = train.length ? smear / train.length : 1;
    const row = new Float64Array(3);
    return (r, out) => {
      cols.forEach((c, q) => (row[q] = logVol(value(data, r, c))));
      out[0] = Math.exp(2 * predictRidge(m, row)) * smear;
    };
  },
};

export const volatilityTarget: Target = {
  name: 'volatility',
  family: 'volatility',
  description: 'realized volatility of the next 5 one-minute log returns',
  usesContext: true,
  outputs: ['variance'],
  primaryMetric: 'qlike',
  label(closeAt, t_ms, horizonS, intervalS) {
    const c = closesAhead(closeAt, t_ms, horizonS, intervalS);
    return c === null ? null : realizedVariance(c);
  },
  candidates: (kind: ModelKind) => [kind === 'lightgbm' ? { ...BACKENDS.lightgbm.defaultParams, ...VOL_PARAMS } : { ...BACKENDS.ridge.defaultParams }],
  fit(data, rows, kind, params, opts): TargetModel {
    if (kind !== 'lightgbm') throw new Error('the volatility target needs the lightgbm backend (gamma objective)');
    const y = scaledLabel(data, data.y, column(data, 'ewma_vol'), 2, VAR_FLOOR);
    return new VolatilityModel(fitColumn(data, rows, y, kind, params, opts.holdoutFraction));
  },
  load: (kind, text, names) => new VolatilityModel(BACKENDS[kind].load(text, names)),
  baselines: [
    {
      name: 'persistence',
      description: 'the next 5 minutes are as volatile as the last 5 (rv_5²)',
      fit: (data) => {
        const c = column(data, 'rv_5');
        return (r, out) => void (out[0] = value(data, r, c) ** 2);
      },
    },
    {
      name: 'ewma',
      description: 'EWMA of squared one-minute returns (λ = 0.97) times 5',
      fit: (data) => {
        const c = column(data, 'ewma_vol');
        return (r, out) => void (out[0] = value(data, r, c) ** 2);
      },
    },
    harRv,
  ],
  score: (outputs, data: TargetData, rows) =>
    volatilityScores(
      outputs.map((o) => o[0] as number),
      rows.map((i) => data.y[i] as number),
    ),
  rank: (s) => s.qlike ?? Infinity,
  decide(model, baselines) {
    const best = Object.entries(baselines).sort((a, b) => a[1].qlike! - b[1].qlike!)[0];
    if (!best || !(model.n! > 0)) return { promote: false, reason: 'no walk-forward evaluation (no test rows)' };
    return model.qlike! < best[1].qlike!
      ? { promote: true, reason: `beats the best baseline ${best[0]}: QLIKE ${fmt(model.qlike!)} < ${fmt(best[1].qlike!)}` }
      : { promote: false, reason: `does not beat baseline ${best[0]}: QLIKE ${fmt(model.qlike!)} >= ${fmt(best[1].qlike!)}` };
  },
  publish: (outputs) => ({ volatility: Math.sqrt(Math.max(outputs[0] as number, VAR_FLOOR)) }),
};
