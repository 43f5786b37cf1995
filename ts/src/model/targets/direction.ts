/**
 * `direction`: the probability that the price is higher in 5 minutes,
 * P(close[t+h] > close[t]). A flat outcome (close[t+h] = close[t], e.g. quiet
 * filled minutes) is "not higher": label 0. So the published `p_up` means
 * exactly "strictly higher", and the base rate counts flat outcomes as not up.
 *
 * LightGBM binary objective. Metrics: Brier score, log loss (probabilities
 * clipped to [1e-12, 1 - 1e-12]), expected calibration error over 10
 * equal-width bins (and the bins, for the reliability diagram). Baseline: the
 * training window's base rate. Promotion: Brier below the base rate's.
 */
import { BACKENDS, type ModelKind } from '../backends.ts';
import { fitColumn } from '../fit.ts';
import type { Scores, Target } from '../target.ts';
import { fmt } from '../target.ts';
import { SingleOutputModel } from './price.ts';

export const RELIABILITY_BINS = 10;

/** Reliability bins: mean predicted probability, observed frequency and count per equal-width bin. */
export function reliabilityBins(p: ArrayLike<number>, y: ArrayLike<number>, bins = RELIABILITY_BINS): { mean_p: number; freq: number; n: number }[] {
  const s = Array.from({ length: bins }, () => ({ sp: 0, sy: 0, n: 0 }));
  for (let i = 0; i < y.length; i++) {
    const b = s[Math.min(bins - 1, Math.floor((p[i] as number) * bins))]!;
    b.sp += p[i] as number;
    b.sy += y[i] as number;
    b.n++;
  }
  return s.map((b) => ({ mean_p: b.n ? b.sp / b.n : Number.NaN, freq: b.n ? b.sy / b.n : Number.NaN, n: b.n }));
}

export function directionScores(p: ArrayLike<number>, y: ArrayLike<number>): Scores {
  const n = y.length;
  let brier = 0;
  let ll = 0;
  let up = 0;
  for (let i = 0; i < n; i++) {
    const q = Math.min(1 - 1e-12, Math.max(1e-12, p[i] as number));
    const v = y[i] as number;
    brier += ((p[i] as number) - v) ** 2;
    ll -= v * Math.log(q) + (1 - v) * Math.log(1 - q);
    up += v;
  }
  let ece = 0;
  for (const b of reliabilityBins(p, y)) if (b.n > 0) ece += (b.n / n) * Math.abs(b.mean_p - b.freq);
  return { n, brier: n ? brier / n : Number.NaN, log_loss: n ? ll / n : Number.NaN, ece: n ? ece : Number.NaN, up_rate: n ? up / n : Number.NaN };
}

export const directionTarget: Target = {
  name: 'direction',
  family: 'direction',
  description: 'probability that the price is strictly higher in 5 minutes',
  usesContext: true,
  outputs: ['p_up'],
  primaryMetric: 'brier',
  label(closeAt, t_ms, horizonS) {
    const now = closeAt(t_ms);
    const future = closeAt(t_ms + horizonS * 1000);
    return now === undefined || future === undefined ? null : future > now ? 1 : 0;
  },
  candidates: (kind: ModelKind) =>
    kind === 'lightgbm' ? [{ ...BACKENDS.lightgbm.defaultParams, objective: 'binary', num_leaves: 7, min_data_in_leaf: 800, learning_rate: 0.02, lambda_l2: 100 }] : [],
  fit(data, rows, kind, params, opts) {
    if (kind !== 'lightgbm') throw new Error('the direction target needs the lightgbm backend (binary objective)');
    return new SingleOutputModel(fitColumn(data, rows, data.y, kind, params, opts.holdoutFraction));
  },
  load: (kind, text, names) => new SingleOutputModel(BACKENDS[kind].load(text, names)),
  baselines: [
    {
      name: 'base_rate',
      description: 'the share of rises in the training window',
      fit: (data, train) => {
        let s = 0;
        for (const r of train) s += data.y[r] as number;
        const p = train.length ? s / train.length : 0.5;
        return (_r, out) => void (out[0] = p);
      },
    },
  ],
  score: (outputs, data, rows) =>
    directionScores(
      outputs.map((o) => o[0] as number),
      rows.map((i) => data.y[i] as number),
    ),
  rank: (s) => s.brier ?? Infinity,
  decide(model, baselines) {
    const b = baselines.base_rate;
    if (!b || !(model.n! > 0)) return { promote: false, reason: 'no walk-forward evaluation (no test rows)' };
    return model.brier! < b.brier!
      ? { promote: true, reason: `Brier ${fmt(model.brier!)} < base rate ${fmt(b.brier!)}` }
      : { promote: false, reason: `does not beat the base rate: Brier ${fmt(model.brier!)} >= ${fmt(b.brier!)}` };
  },
  publish: (o) => ({ p_up: o[0] as number }),
};
