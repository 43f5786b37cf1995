/**
 * The point forecast of the price at t + horizon (the `predictions` stream's
 * predicted_price). Two labels, one family: `log_return` (default,
 * ln(close[t+h] / close[t]); the published price is close · e^output) and
 * `price` (the future close itself). Walk-forward against persistence, ridge
 * and the current production model, by price RMSE
 * (training/walk-forward-eval.ts; the rule is registry/promotion.ts).
 */
import { BACKENDS, type ModelKind, type ModelParams, type Regressor } from '../backends.ts';
import { fitColumn } from '../fit.ts';
import { priceMetrics } from '../price-metrics.ts';
import type { Target, TargetModel } from '../target.ts';
import { fmt } from '../target.ts';

export type PriceLabel = 'log_return' | 'price';

/** The predicted price from a model output for a row with this close. */
export function priceFromOutput(label: PriceLabel, close: number, output: number): number {
  return label === 'log_return' ? close * Math.exp(output) : output;
}

/** The one regressor of a price model as a TargetModel (one output). */
export class SingleOutputModel implements TargetModel {
  constructor(readonly regressor: Regressor) {}
  get kind(): ModelKind {
    return this.regressor.kind;
  }
  get featureNames(): readonly string[] {
    return this.regressor.featureNames;
  }
  get iterations(): number | null {
    return this.regressor.iterations;
  }
  predict(row: Float64Array, out: Float64Array): Float64Array {
    out[0] = this.regressor.predict(row);
    return out;
  }
  modelText(): string {
    return this.regressor.modelText();
  }
  importance(): number[] {
    return this.regressor.importance();
  }
}

export function priceTarget(label: PriceLabel): Target {
  return {
    name: label,
    family: 'price',
    description: label === 'log_return' ? 'price in 5 minutes, from the predicted log return' : 'price in 5 minutes, predicted as a level',
    usesContext: false,
    outputs: [label],
    primaryMetric: 'rmse',
    label(closeAt, t_ms, horizonS) {
      const now = closeAt(t_ms);
      const future = closeAt(t_ms + horizonS * 1000);
      if (now === undefined || future === undefined) return null;
      return label === 'log_return' ? Math.log(future / now) : future;
    },
    candidates: (kind: ModelKind): ModelParams[] => [{ ...BACKENDS[kind].defaultParams }],
    fit: (data, rows, kind, params, opts) => new SingleOutputModel(fitColumn(data, rows, data.y, kind, params, opts.holdoutFraction)),
    load: (kind, text, names) => new SingleOutputModel(BACKENDS[kind].load(text, names)),
    baselines: [
      { name: 'persistence', description: 'the price in 5 minutes equals the price now', fit: () => (_row, out) => void (out[0] = label === 'log_return' ? 0 : Number.NaN) },
    ],
    score(outputs, data, rows) {
      const last = rows.map((i) => data.closes[i] as number);
      const pred = rows.map((i, j) => (label === 'price' && Number.isNaN(outputs[j]![0]!) ? last[j]! : priceFromOutput(label, data.closes[i] as number, outputs[j]![0]!)));
      const m = priceMetrics(pred, rows.map((i) => data.futureCloses[i] as number), last);
      return { ...m };
    },
    rank: (s) => s.rmse ?? Infinity,
    decide(model, baselines) {
      const p = baselines.persistence;
      if (!p || !(model.n! > 0)) return { promote: false, reason: 'no walk-forward evaluation (no test rows)' };
      return model.rmse! < p.rmse! ? { promote: true, reason: `beats persistence (RMSE ${fmt(model.rmse!)} < ${fmt(p.rmse!)})` } : { promote: false, reason: `does not beat persistence: RMSE ${fmt(model.rmse!)} >= ${fmt(p.rmse!)}` };
    },
    publish: (outputs, close) => ({ predicted_price: priceFromOutput(label, close, outputs[0] as number) }),
  };
}
