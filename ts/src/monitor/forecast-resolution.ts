/**
 * Resolution of the probabilistic forecasts of a prediction (issue 18): the
 * pure core, beside error-resolution.ts (the price). Time is an input.
 *
 * When the candle closing at target_ms arrives (and, for the volatility, the
 * 1-minute closes made_at ... target_ms are all known), each forecast the
 * prediction carries is scored with the labels and metric functions of its
 * target (ts/src/model/targets/*: no second definition here):
 * - range: y = ln(close[target] / last_close) (rangeTarget.label); the served
 *   intervals (the calibrated ones when calibrated) as log returns, with the
 *   model's q50; hit per level, pinball, interval scores and widths by
 *   rangeScores over that one row (bp of log return);
 * - volatility: realized variance of the 5 one-minute log returns
 *   (volatilityTarget.label, floored); QLIKE and squared error of ln vol by
 *   volatilityScores;
 * - direction: outcome = strictly higher (directionTarget.label); Brier by
 *   directionScores.
 *
 * The live baselines of the same targets, computed here from the candles the
 * monitor has seen (never from the predictor), once per pair and target time:
 * - range: `baseline:gaussian_ewma`, the range target's Gaussian-EWMA baseline
 *   on the context features at made_at (ewma_vol from the 240 closes before);
 * - volatility: `baseline:vol_persistence`, the volatility target's persistence
 *   baseline (rv_5² at made_at);
 * - direction: `baseline:base_rate`, the direction target's base-rate baseline
 *   fitted on the outcomes known at made_at over the trailing day (window
 *   ends t with t + horizon <= made_at); 0.5 when there are none.
 * A baseline whose inputs are missing (fewer than 240 closes before made_at:
 * a fresh start or a gap) is skipped for that target time.
 */
import type { Candle, Prediction } from '../contracts/messages.ts';
import type { ForecastError, ForecastTarget } from '../stores/types.ts';
import { CONTEXT_FEATURES, contextFromCloses, gatherCloses, CONTEXT_RETURNS } from '../model/context-features.ts';
import type { TargetData } from '../model/target.ts';
import { rangeScores, rangeTarget } from '../model/targets/range.ts';
import { VAR_FLOOR } from '../model/targets/common.ts';
import { volatilityScores, volatilityTarget } from '../model/targets/volatility.ts';
import { directionScores, directionTarget } from '../model/targets/direction.ts';

export const FORECAST_BASELINES: Record<ForecastTarget, string> = {
  range: 'baseline:gaussian_ewma',
  volatility: 'baseline:vol_persistence',
  direction: 'baseline:base_rate',
};
export const isForecastBaseline = (v: string): boolean => Object.values(FORECAST_BASELINES).includes(v);
/** Trailing window of outcomes behind the live base rate. */
export const BASE_RATE_WINDOW_MS = 86_400_000;

export type CloseAt = (end_ms: number) => number | undefined;

/** A one-row TargetData of the context features at t (what the targets' baselines read). */
function contextData(pair: string, horizonS: number, context: Float64Array, t: number): TargetData {
  return { pair, horizonS, featureNames: [...CONTEXT_FEATURES], rows: 1, x: context, y: new Float64Array(1), times: [t], closes: [], futureCloses: [] };
}

/** The context features at t from the closes (null when one of the 241 is missing). */
export function contextAt(closeAt: CloseAt, t_ms: number, intervalS: number): Float64Array | null {
  const buf = new Float64Array(CONTEXT_RETURNS + 1);
  if (!gatherCloses(closeAt, t_ms, intervalS, buf)) return null;
  const out = new Float64Array(CONTEXT_FEATURES.length);
  contextFromCloses(buf, t_ms, out);
  return out;
}

/** The live base rate at made_at: the direction target's base-rate baseline over the outcomes known then (trailing BASE_RATE_WINDOW_MS). */
export function baseRateAt(closeAt: CloseAt, made_at_ms: number, horizonS: number, intervalS: number, pair = ''): number {
  const step = intervalS * 1000;
  const ys: number[] = [];
  const last = made_at_ms - horizonS * 1000;
  for (let t = last; t > last - BASE_RATE_WINDOW_MS; t -= step) {
    const y = directionTarget.label(closeAt, t, horizonS, intervalS);
    if (y !== null) ys.push(y);
  }
  if (ys.length === 0) return 0.5;
  const data: TargetData = { pair, horizonS, featureNames: [], rows: ys.length, x: new Float64Array(0), y: Float64Array.from(ys), times: [], closes: [], futureCloses: [] };
  const out = new Float64Array(1);
  (directionTarget.baselines[0] as (typeof directionTarget.baselines)[number]).fit(data, ys.map((_, i) => i))(0, out);
  return out[0] as number;
}

const common = (p: Prediction, target: ForecastTarget, model_version: string, baseline: boolean, actual: number, abs_error: number): ForecastError => ({
  pair: p.pair,
  target,
  model_version,
  baseline,
  made_at_ms: p.made_at_ms,
  target_ms: p.target_ms,
  last_close: p.last_close,
  actual_price: actual,
  abs_error,
});

/** Score one range row: quantiles as log returns [q05, q10, q50, q90, q95] against y. */
function rangeRow(p: Prediction, model_version: string, baseline: boolean, q: readonly number[], y: number, actual: number): ForecastError {
  const s = rangeScores([q], [y], [0]);
  return {
    ...common(p, 'range', model_version, baseline, actual, Math.abs(y - (q[2] as number))),
    actual_log_return: y,
    lo80: q[1] as number,
    hi80: q[3] as number,
    lo90: q[0] as number,
    hi90: q[4] as number,
    hit80: s.coverage80 === 1,
    hit90: s.coverage90 === 1,
    pinball_bp: s.pinball_bp as number,
    interval_score80_bp: s.interval_score80_bp as number,
    interval_score90_bp: s.interval_score90_bp as number,
    width80_bp: s.width80_bp as number,
    width90_bp: s.width90_bp as number,
  };
}

function volRow(p: Prediction, model_version: string, baseline: boolean, predVar: number, realVar: number, actual: number): ForecastError {
  const s = volatilityScores([predVar], [realVar]);
  const rmse = s.rmse_log_vol as number;
  return {
    ...common(p, 'volatility', model_version, baseline, actual, rmse),
    predicted_vol: Math.sqrt(Math.max(predVar, VAR_FLOOR)),
    realized_vol: Math.sqrt(Math.max(realVar, VAR_FLOOR)),
    sq_log_vol_error: rmse * rmse,
    qlike: s.qlike as number,
  };
}

function dirRow(p: Prediction, model_version: string, baseline: boolean, pUp: number, y: number, actual: number): ForecastError {
  const s = directionScores([pUp], [y]);
  return { ...common(p, 'direction', model_version, baseline, actual, Math.abs(pUp - y)), p_up: pUp, up: y === 1, brier: s.brier as number };
}

/** Does the prediction carry a forecast that this module resolves? */
export const hasForecast = (p: Prediction): boolean => p.range !== undefined || p.volatility !== undefined || p.direction !== undefined;

/** The closes a prediction needs before it can be resolved (null: not yet). */
function ready(p: Prediction, closeAt: CloseAt, intervalS: number): boolean {
  if (closeAt(p.target_ms) === undefined) return false;
  if (p.volatility === undefined) return true;
  const step = intervalS * 1000;
  for (let t = p.made_at_ms + step; t < p.target_ms; t += step) if (closeAt(t) === undefined) return false;
  return true;
}

export interface ForecastResolution {
  prediction: Prediction;
  /** The model rows (one per forecast the prediction carries). */
  rows: ForecastError[];
  /** The baselines of the same targets (those whose inputs were known). */
  baselines: ForecastError[];
}

/**
 * Resolve the forecasts of one prediction with the closes known (pure). The
 * close at made_at is the prediction's last_close. Null when a needed close
 * is missing.
 */
export function resolveForecasts(p: Prediction, closeAtRaw: CloseAt, intervalS: number): ForecastResolution | null {
  const closeAt: CloseAt = (ms) => (ms === p.made_at_ms ? p.last_close : closeAtRaw(ms));
  if (!ready(p, closeAt, intervalS)) return null;
  const actual = closeAt(p.target_ms) as number;
  const h = p.horizon_s;
  const rows: ForecastError[] = [];
  const baselines: ForecastError[] = [];
  const context = contextAt(closeAtRaw, p.made_at_ms, intervalS);
  const data = context ? contextData(p.pair, h, context, p.made_at_ms) : null;
  const out = new Float64Array(5);
  if (p.range) {
    const y = rangeTarget.label(closeAt, p.made_at_ms, h, intervalS) as number;
    const r = p.range;
    const lc = p.last_close;
    const q = [Math.log(r.lo90 / lc), Math.log(r.lo80 / lc), r.q50, Math.log(r.hi80 / lc), Math.log(r.hi90 / lc)];
    rows.push(rangeRow(p, r.model_version, false, q, y, actual));
    if (data) {
      const gauss = rangeTarget.baselines.find((b) => b.name === 'gaussian_ewma');
      if (gauss) {
        gauss.fit(data, [0])(0, out);
        baselines.push(rangeRow(p, FORECAST_BASELINES.range, true, [...out], y, actual));
      }
    }
  }
  if (p.volatility) {
    const realVar = volatilityTarget.label(closeAt, p.made_at_ms, h, intervalS) as number;
    rows.push(volRow(p, p.volatility.model_version, false, p.volatility.value ** 2, realVar, actual));
    const pers = volatilityTarget.baselines.find((b) => b.name === 'persistence');
    if (data && pers) {
      pers.fit(data, [0])(0, out);
      baselines.push(volRow(p, FORECAST_BASELINES.volatility, true, out[0] as number, realVar, actual));
    }
  }
  if (p.direction) {
    const y = directionTarget.label(closeAt, p.made_at_ms, h, intervalS) as number;
    rows.push(dirRow(p, p.direction.model_version, false, p.direction.p_up, y, actual));
    baselines.push(dirRow(p, FORECAST_BASELINES.direction, true, baseRateAt(closeAtRaw, p.made_at_ms, h, intervalS, p.pair), y, actual));
  }
  return { prediction: p, rows, baselines };
}

export interface ForecastResolverOptions {
  /** Candle interval (seconds). Default 60. */
  intervalS?: number;
  /** Pending predictions older than this (pair event time) are dropped. Default 24 h. */
  keepMs?: number;
}

interface PairState {
  closes: Map<number, number>;
  newestEndMs: number;
  pending: Map<string, Prediction>;
}

/** Matches predictions carrying forecasts with the candles that resolve them. A small state machine. */
export class ForecastResolver {
  readonly intervalS: number;
  readonly keepMs: number;
  private readonly pairs = new Map<string, PairState>();
  private readonly done = new Map<string, number>();
  /** Predictions dropped because their candles never came. */
  dropped = 0;

  constructor(opts: ForecastResolverOptions = {}) {
    this.intervalS = opts.intervalS ?? 60;
    this.keepMs = opts.keepMs ?? 86_400_000;
  }

  private state(pair: string): PairState {
    let s = this.pairs.get(pair);
    if (!s) this.pairs.set(pair, (s = { closes: new Map(), newestEndMs: -Infinity, pending: new Map() }));
    return s;
  }

  private key(p: Prediction): string {
    return `${p.pair}|${p.model_version}|${p.made_at_ms}`;
  }

  /** A prediction whose forecasts are stored as resolved already (restart). */
  markResolved(p: Prediction): void {
    this.done.set(this.key(p), p.target_ms);
  }

  addPrediction(p: Prediction): ForecastResolution[] {
    if (!hasForecast(p)) return [];
    const k = this.key(p);
    const s = this.state(p.pair);
    if (this.done.has(k) || s.pending.has(k)) return [];
    const r = resolveForecasts(p, (ms) => s.closes.get(ms), this.intervalS);
    if (r) {
      this.done.set(k, p.target_ms);
      return [r];
    }
    s.pending.set(k, p);
    return [];
  }

  addCandle(c: Candle): ForecastResolution[] {
    if (c.interval_s !== this.intervalS) return [];
    const s = this.state(c.pair);
    s.closes.set(c.window_end_ms, c.close);
    if (c.window_end_ms > s.newestEndMs) s.newestEndMs = c.window_end_ms;
    const out: ForecastResolution[] = [];
    for (const [k, p] of s.pending) {
      if (p.target_ms > c.window_end_ms && p.target_ms > s.newestEndMs) continue;
      const r = resolveForecasts(p, (ms) => s.closes.get(ms), this.intervalS);
      if (!r) continue;
      s.pending.delete(k);
      this.done.set(k, p.target_ms);
      out.push(r);
    }
    this.prune(s);
    return out.sort((a, b) => a.prediction.made_at_ms - b.prediction.made_at_ms || a.prediction.model_version.localeCompare(b.prediction.model_version));
  }

  pendingCount(): number {
    let n = 0;
    for (const s of this.pairs.values()) n += s.pending.size;
    return n;
  }

  private prune(s: PairState): void {
    // Closes: enough for the context (240 min) and the base rate (a day) of the oldest pending prediction.
    const keepCloses = BASE_RATE_WINDOW_MS + (CONTEXT_RETURNS + 10) * this.intervalS * 1000 + 3_600_000;
    const horizon = s.newestEndMs - this.keepMs;
    for (const [k, p] of s.pending)
      if (p.target_ms < horizon) {
        s.pending.delete(k);
        this.dropped++;
      }
    let oldestPending = Infinity;
    for (const p of s.pending.values()) oldestPending = Math.min(oldestPending, p.made_at_ms);
    const cut = Math.min(s.newestEndMs, oldestPending) - keepCloses;
    if (s.closes.size > 2 * (keepCloses / (this.intervalS * 1000))) for (const t of s.closes.keys()) if (t < cut) s.closes.delete(t);
    if (this.done.size > 200_000) for (const [k, t] of this.done) if (t < horizon) this.done.delete(k);
  }
}
