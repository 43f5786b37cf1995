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
 *
 * Holes: candles are gap-free by contract (a window without trades comes as a
 * `filled` candle), so a close missing between the oldest and the newest close
 * the resolver holds for a pair is a candle it missed (on Kafka: consumed by a
 * partition's previous owner before a rebalance, and not yet in the store when
 * this one read it). A prediction whose inputs fall in such a hole waits up to
 * `holdMs` (wall time) for it; meanwhile `wanted()` names the spans to read
 * from the feature store. A hole still open after `holdMs` is taken as absent:
 * the predictions resolve without it (a baseline may then be skipped, as at a
 * fresh start), and later ones no longer wait for it.
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

/**
 * The close times the resolution of p reads, [from, to] every interval (those
 * it needs and those its baselines use): the context before made_at, the
 * horizon's minutes, and with a direction forecast the trailing day of
 * outcomes behind the base rate.
 */
export function inputSpan(p: Prediction, intervalS: number): { from: number; to: number } {
  const step = intervalS * 1000;
  const context = p.made_at_ms - CONTEXT_RETURNS * step;
  return { from: p.direction !== undefined ? Math.min(context, p.made_at_ms - p.horizon_s * 1000 - BASE_RATE_WINDOW_MS + step) : context, to: p.target_ms };
}

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
  /** How long (wall time) a prediction waits for a hole in its inputs to be filled (see the header). Default 0: no wait. */
  holdMs?: number;
}

interface PairState {
  closes: Map<number, number>;
  oldestEndMs: number;
  newestEndMs: number;
  pending: Map<string, Prediction>;
  /** Open holes: close time -> wall time it was first seen missing. */
  holes: Map<number, number>;
  /** Holes given up on (still missing after holdMs). */
  absent: Set<number>;
}

/** A span of a pair's candles to read from the store (holes in the resolver's view). */
export interface WantedSpan {
  pair: string;
  from_ms: number;
  to_ms: number;
  /** Open holes in it. */
  holes: number;
}

/** Matches predictions carrying forecasts with the candles that resolve them. A small state machine. */
export class ForecastResolver {
  readonly intervalS: number;
  readonly keepMs: number;
  private readonly pairs = new Map<string, PairState>();
  private readonly done = new Map<string, number>();
  readonly holdMs: number;
  /** Predictions dropped because their candles never came. */
  dropped = 0;
  /** Holes given up on (their predictions resolved without them). */
  holesAbsent = 0;
  /** Holes filled by a candle that came late (from the store or the stream). */
  holesFilled = 0;

  constructor(opts: ForecastResolverOptions = {}) {
    this.intervalS = opts.intervalS ?? 60;
    this.keepMs = opts.keepMs ?? 86_400_000;
    this.holdMs = opts.holdMs ?? 0;
  }

  private state(pair: string): PairState {
    let s = this.pairs.get(pair);
    if (!s) this.pairs.set(pair, (s = { closes: new Map(), oldestEndMs: Infinity, newestEndMs: -Infinity, pending: new Map(), holes: new Map(), absent: new Set() }));
    return s;
  }

  /**
   * Does p wait for a hole? Records the open holes among its inputs (between
   * the pair's oldest and newest close) and gives up on those older than holdMs.
   */
  private waits(s: PairState, p: Prediction, wallMs: number): boolean {
    let wait = false;
    const step = this.intervalS * 1000;
    const span = inputSpan(p, this.intervalS);
    // Only between the pair's oldest and newest close (before: history never seen; after: still to come).
    const from = span.from < s.oldestEndMs ? span.from + Math.ceil((s.oldestEndMs - span.from) / step) * step : span.from;
    const to = Math.min(span.to, s.newestEndMs);
    for (let t = from; t <= to; t += step) {
      if (s.closes.has(t) || s.absent.has(t)) continue;
      const since = s.holes.get(t);
      if (since === undefined) s.holes.set(t, wallMs);
      if (wallMs - (since ?? wallMs) >= this.holdMs) {
        s.holes.delete(t);
        s.absent.add(t);
        this.holesAbsent++;
      } else wait = true;
    }
    return wait;
  }

  /** Resolve p if its closes are known and it waits for no hole (marks it done). */
  private attempt(s: PairState, k: string, p: Prediction, wallMs: number): ForecastResolution | null {
    if (this.waits(s, p, wallMs)) return null;
    const r = resolveForecasts(p, (ms) => s.closes.get(ms), this.intervalS);
    if (!r) return null;
    s.pending.delete(k);
    this.done.set(k, p.target_ms);
    return r;
  }

  /** Is any hole open? */
  anyHoles(): boolean {
    for (const s of this.pairs.values()) if (s.holes.size > 0) return true;
    return false;
  }

  /** The spans of candles to read from the store: per pair, from its oldest open hole to its newest. */
  wanted(): WantedSpan[] {
    const out: WantedSpan[] = [];
    for (const [pair, s] of this.pairs) {
      if (s.holes.size === 0) continue;
      let lo = Infinity;
      let hi = -Infinity;
      for (const t of s.holes.keys()) (lo = Math.min(lo, t)), (hi = Math.max(hi, t));
      out.push({ pair, from_ms: lo, to_ms: hi, holes: s.holes.size });
    }
    return out;
  }

  /** Pending predictions whose holes were given up on since, resolved now (call it from time to time: wall time passes). */
  retry(wallMs: number): ForecastResolution[] {
    const out: ForecastResolution[] = [];
    for (const s of this.pairs.values()) {
      if (s.holes.size === 0) continue;
      for (const [k, p] of s.pending) {
        const r = this.attempt(s, k, p, wallMs);
        if (r) out.push(r);
      }
    }
    return sortResolutions(out);
  }

  private key(p: Prediction): string {
    return `${p.pair}|${p.model_version}|${p.made_at_ms}`;
  }

  /** A prediction whose forecasts are stored as resolved already (restart). */
  markResolved(p: Prediction): void {
    this.done.set(this.key(p), p.target_ms);
  }

  /** A prediction (wallMs: now, for the holes' hold). */
  addPrediction(p: Prediction, wallMs = 0): ForecastResolution[] {
    if (!hasForecast(p)) return [];
    const k = this.key(p);
    const s = this.state(p.pair);
    if (this.done.has(k) || s.pending.has(k)) return [];
    s.pending.set(k, p);
    const r = this.attempt(s, k, p, wallMs);
    return r ? [r] : [];
  }

  /** A candle, from the stream or read back from the store (wallMs: now, for the holes' hold). */
  addCandle(c: Candle, wallMs = 0): ForecastResolution[] {
    if (c.interval_s !== this.intervalS) return [];
    const s = this.state(c.pair);
    const t = c.window_end_ms;
    const hole = s.holes.delete(t) || s.absent.delete(t);
    if (hole) this.holesFilled++;
    s.closes.set(t, c.close);
    if (t > s.newestEndMs) s.newestEndMs = t;
    if (t < s.oldestEndMs) s.oldestEndMs = t;
    const out: ForecastResolution[] = [];
    for (const [k, p] of s.pending) {
      // A prediction whose target is still to come waits, unless this candle filled a hole (it may be what p waited for).
      if (!hole && p.target_ms > t && p.target_ms > s.newestEndMs) continue;
      const r = this.attempt(s, k, p, wallMs);
      if (r) out.push(r);
    }
    this.prune(s);
    return sortResolutions(out);
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
    if (s.closes.size > 2 * (keepCloses / (this.intervalS * 1000))) {
      for (const t of s.closes.keys()) if (t < cut) s.closes.delete(t);
      s.oldestEndMs = Infinity;
      for (const t of s.closes.keys()) if (t < s.oldestEndMs) s.oldestEndMs = t;
      for (const t of s.holes.keys()) if (t < s.oldestEndMs) s.holes.delete(t);
      for (const t of s.absent) if (t < s.oldestEndMs) s.absent.delete(t);
    }
    if (this.done.size > 200_000) for (const [k, t] of this.done) if (t < horizon) this.done.delete(k);
  }
}

const sortResolutions = (out: ForecastResolution[]): ForecastResolution[] =>
  out.sort((a, b) => a.prediction.made_at_ms - b.prediction.made_at_ms || a.prediction.model_version.localeCompare(b.prediction.model_version));
