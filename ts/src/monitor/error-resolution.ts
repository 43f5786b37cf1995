/**
 * Prediction error resolution: the pure core of the monitor.
 *
 * Which candle resolves a prediction (precisely): a prediction is made at the
 * window_end_ms of a candle and targets `target_ms = made_at_ms + horizon_s`.
 * Its actual price is the close of the candle of the same pair (at the
 * monitor's candle interval) whose `window_end_ms === target_ms`: the last
 * trade price known at the target instant, which is exactly what the model
 * was asked to predict. A candle with a different end never resolves it.
 *
 * Every resolution yields two PredictionErrors: the model's, and the
 * persistence baseline's (predicted = last_close) under model_version
 * `baseline:persistence`, for the same pair and target_ms (so every error has
 * its baseline beside it; the baseline's natural key is shared by every model
 * that predicted that target, so it is stored once).
 *
 * Signs and units (same convention as the API and dashboard):
 *   error = predicted_price - actual_price (positive = over-predicted);
 *   abs_pct_error = |error| / actual_price, a FRACTION (0.01 = 1 %);
 *   direction hit = sign(predicted - last_close) === sign(actual - last_close),
 *   only for a prediction that calls a direction (predicted != last_close);
 *   null for one that does not, so the persistence baseline (predicted =
 *   last_close: "no change") has no direction accuracy (n/a), rather than
 *   one that counts every move as a miss.
 *
 * Unresolved: a pending prediction whose target passed without its candle. The
 * pair's event clock decides "passed": the newest candle end seen for the pair
 * plus the wall time elapsed since it arrived (so a fast replay never marks
 * anything early, and a feed outage, where no candles arrive, does). A later
 * candle of the pair that skips the target also marks it unresolved at once.
 * Unresolved predictions stay pending (a late or backfilled candle still
 * resolves them) until they are older than `keepMs`.
 *
 * A prediction without a predicted_price (a pair with a range, volatility or
 * direction model but no price model; issue 18) has no price error: it is
 * ignored here.
 */
import type { Candle, Prediction, PredictionError } from '../contracts/messages.ts';
import { Topics } from '../contracts/messages.ts';

/** model_version of the persistence baseline's error rows. */
export const BASELINE_MODEL_VERSION = 'baseline:persistence';

export interface Resolution {
  prediction: Prediction;
  /** The model's error. */
  error: PredictionError;
  /** The persistence baseline's error for the same pair and target. */
  baseline: PredictionError;
  /** Null when the prediction calls no direction (see directionHit). */
  direction_hit: boolean | null;
  /** Always null: the persistence baseline calls no direction. */
  baseline_direction_hit: boolean | null;
}

/** A prediction that carries the price model's price. */
export type PricedPrediction = Prediction & { predicted_price: number };
export const hasPrice = (p: Prediction): p is PricedPrediction => p.predicted_price !== undefined;

/** Natural key of a prediction (pair|model_version|made_at_ms). */
export const predictionKey = (p: Prediction): string => Topics.predictions.naturalKey(p);

function errorRow(p: Prediction, predicted: number, actual: number, modelVersion: string): PredictionError {
  const error = predicted - actual;
  return {
    pair: p.pair,
    target_ms: p.target_ms,
    predicted_price: predicted,
    actual_price: actual,
    error,
    abs_pct_error: Math.abs(error) / actual,
    model_version: modelVersion,
  };
}

/** The direction of a move: -1, 0 or 1. */
const dir = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : 0);

/**
 * Did `predicted` call the direction of `actual` relative to `lastClose`? Null when it
 * calls none (predicted = lastClose); a called move against a flat close is a miss.
 */
export function directionHit(predicted: number, actual: number, lastClose: number): boolean | null {
  const called = dir(predicted - lastClose);
  return called === 0 ? null : called === dir(actual - lastClose);
}

/** Resolve one prediction against the actual price at its target (pure). */
export function resolvePrediction(p: PricedPrediction, actualPrice: number): Resolution {
  if (!(actualPrice > 0) || !Number.isFinite(actualPrice)) throw new RangeError(`actual price must be a positive number, got ${actualPrice}`);
  return {
    prediction: p,
    error: errorRow(p, p.predicted_price, actualPrice, p.model_version),
    baseline: errorRow(p, p.last_close, actualPrice, BASELINE_MODEL_VERSION),
    direction_hit: directionHit(p.predicted_price, actualPrice, p.last_close),
    baseline_direction_hit: directionHit(p.last_close, actualPrice, p.last_close),
  };
}

export interface ErrorResolverOptions {
  /** Candle interval the actual prices come from (seconds). Default 60. */
  intervalS?: number;
  /** How long after its target (pair event time) a prediction waits for its candle before it is reported unresolved. Default 120 000. */
  unresolvedAfterMs?: number;
  /** Pending predictions and remembered closes older than this (pair event time) are forgotten. Default 24 h. */
  keepMs?: number;
}

interface PairState {
  /** Close by window_end_ms (recent candles, for predictions that arrive after their candle). */
  closes: Map<number, number>;
  newestEndMs: number;
  /** Wall time the newest candle arrived. */
  newestWallMs: number;
  /** Pending predictions by natural key. */
  pending: Map<string, { p: PricedPrediction; unresolved: boolean }>;
}

export interface AddResult {
  resolved: Resolution[];
  /** Predictions that became unresolved now (first time only). */
  unresolved: Prediction[];
}

/** Matches predictions with the candles that close at their targets. A small state machine; time is an input. */
export class ErrorResolver {
  readonly intervalS: number;
  readonly unresolvedAfterMs: number;
  readonly keepMs: number;
  private readonly pairs = new Map<string, PairState>();
  /** Natural keys already resolved (never resolved twice). */
  private readonly done = new Map<string, number>();

  constructor(opts: ErrorResolverOptions = {}) {
    this.intervalS = opts.intervalS ?? 60;
    this.unresolvedAfterMs = opts.unresolvedAfterMs ?? 120_000;
    this.keepMs = opts.keepMs ?? 86_400_000;
  }

  private state(pair: string): PairState {
    let s = this.pairs.get(pair);
    if (!s) {
      s = { closes: new Map(), newestEndMs: -Infinity, newestWallMs: 0, pending: new Map() };
      this.pairs.set(pair, s);
    }
    return s;
  }

  /** Remember that a prediction was resolved before (restart: its error row is in the store). */
  markResolved(p: Pick<Prediction, 'pair' | 'model_version' | 'made_at_ms' | 'target_ms'>): void {
    this.done.set(Topics.predictions.naturalKey(p as Prediction), p.target_ms);
  }

  isResolved(p: Prediction): boolean {
    return this.done.has(predictionKey(p));
  }

  /** A prediction arrives: resolved at once if its candle is known, else pending. Duplicates and predictions without a price are ignored. */
  addPrediction(p: Prediction, wallMs: number): AddResult {
    if (!hasPrice(p)) return { resolved: [], unresolved: [] };
    const key = predictionKey(p);
    const s = this.state(p.pair);
    if (this.done.has(key) || s.pending.has(key)) return { resolved: [], unresolved: [] };
    const close = s.closes.get(p.target_ms);
    if (close !== undefined) {
      this.done.set(key, p.target_ms);
      return { resolved: [resolvePrediction(p, close)], unresolved: [] };
    }
    s.pending.set(key, { p, unresolved: false });
    return { resolved: [], unresolved: this.sweepPair(s, wallMs) };
  }

  /** A candle arrives: resolves the predictions targeting its end; those it skipped become unresolved. */
  addCandle(c: Candle, wallMs: number): AddResult {
    if (c.interval_s !== this.intervalS) return { resolved: [], unresolved: [] };
    const s = this.state(c.pair);
    s.closes.set(c.window_end_ms, c.close);
    if (c.window_end_ms >= s.newestEndMs) {
      s.newestEndMs = c.window_end_ms;
      s.newestWallMs = wallMs;
    }
    const resolved: Resolution[] = [];
    for (const [key, e] of s.pending) {
      if (e.p.target_ms !== c.window_end_ms) continue;
      s.pending.delete(key);
      this.done.set(key, e.p.target_ms);
      resolved.push(resolvePrediction(e.p, c.close));
    }
    resolved.sort((a, b) => a.prediction.made_at_ms - b.prediction.made_at_ms || a.prediction.model_version.localeCompare(b.prediction.model_version));
    const unresolved: Prediction[] = [];
    for (const e of s.pending.values()) {
      if (!e.unresolved && e.p.target_ms < c.window_end_ms) {
        e.unresolved = true;
        unresolved.push(e.p);
      }
    }
    this.prune(s);
    return { resolved, unresolved: [...unresolved, ...this.sweepPair(s, wallMs)] };
  }

  /** The pair's event clock: newest candle end plus the wall time since it arrived; the wall clock if no candle yet. */
  eventNow(pair: string, wallMs: number): number {
    const s = this.pairs.get(pair);
    if (!s || s.newestEndMs === -Infinity) return wallMs;
    return s.newestEndMs + Math.max(0, wallMs - s.newestWallMs);
  }

  private sweepPair(s: PairState, wallMs: number): Prediction[] {
    const out: Prediction[] = [];
    const pair = s.pending.values().next().value?.p.pair;
    if (pair === undefined) return out;
    const now = this.eventNow(pair, wallMs);
    for (const e of s.pending.values()) {
      if (!e.unresolved && e.p.target_ms + this.unresolvedAfterMs < now) {
        e.unresolved = true;
        out.push(e.p);
      }
    }
    return out;
  }

  /** Time passes (wall clock): returns predictions that became unresolved. */
  sweep(wallMs: number): Prediction[] {
    const out: Prediction[] = [];
    for (const s of this.pairs.values()) out.push(...this.sweepPair(s, wallMs));
    return out;
  }

  /** Every prediction reported unresolved and not resolved since, oldest target first. */
  unresolved(): Prediction[] {
    const out: Prediction[] = [];
    for (const s of this.pairs.values()) for (const e of s.pending.values()) if (e.unresolved) out.push(e.p);
    return out.sort((a, b) => a.target_ms - b.target_ms);
  }

  /**
   * Pending predictions whose target candle was skipped: a later candle of the pair came, so the target's is one
   * this resolver missed (candles are gap-free), not one still to come. Oldest target first.
   */
  skipped(): Prediction[] {
    const out: Prediction[] = [];
    for (const s of this.pairs.values()) for (const e of s.pending.values()) if (e.p.target_ms < s.newestEndMs) out.push(e.p);
    return out.sort((a, b) => a.target_ms - b.target_ms);
  }

  /** Is any pending prediction's target candle skipped (see skipped)? */
  anySkipped(): boolean {
    for (const s of this.pairs.values()) for (const e of s.pending.values()) if (e.p.target_ms < s.newestEndMs) return true;
    return false;
  }

  /** Predictions waiting for their candle (unresolved included). */
  pendingCount(): number {
    let n = 0;
    for (const s of this.pairs.values()) n += s.pending.size;
    return n;
  }

  private prune(s: PairState): void {
    const horizon = s.newestEndMs - this.keepMs;
    for (const t of s.closes.keys()) if (t < horizon) s.closes.delete(t);
    for (const [k, e] of s.pending) if (e.p.target_ms < horizon) s.pending.delete(k);
    if (this.done.size > 200_000) {
      for (const [k, t] of this.done) if (t < horizon) this.done.delete(k);
    }
  }
}
