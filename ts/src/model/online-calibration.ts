/**
 * Online calibration of prediction intervals: the intervals adapt while
 * serving, so their coverage recovers after a regime change without a retrain
 * (issue 18, point 3).
 *
 * Method: a quantile tracker on scale-free scores (the "quantile tracking"
 * form of adaptive conformal inference, Angelopoulos, Candès & Tibshirani,
 * "Conformal PID control", 2023), run in log space. Per level L (0.8, 0.9) the
 * state is one multiplier m_L > 0 that stretches the base interval around its
 * center:
 *
 *   lo = c - m_L · (c - lo_L),   hi = c + m_L · (hi_L - c)
 *
 * where c is the base center (the median) and lo_L, hi_L the base interval
 * (a Gaussian c ± z_L σ̂ with a predicted volatility σ̂, or the range model's
 * own quantiles). The score of an outcome y is the smallest stretch that would
 * have covered it, s = max((c - y) / (c - lo_L), (y - c) / (hi_L - c)): for a
 * symmetric Gaussian base that is |y - median| / (z_L σ̂), the
 * volatility-scaled score. When the outcome is known:
 *
 *   ln m_L ← ln m_L + η · (miss - α_L),   miss = [s > m_L],  α_L = 1 - L
 *
 * Why this and not Gibbs & Candès' ACI as published: ACI moves the miscoverage
 * level α_t and reads the 1 - α_t quantile of a window of past scores, so it
 * keeps that window (memory grows with it) and α_t leaves [0, 1] after a run
 * of misses or hits (an infinite or empty interval). The tracker moves the
 * quantile itself: O(1) state per level, never an infinite interval, and the
 * same long-run guarantee (ln m stays bounded, so the average of
 * miss - α goes to 0: the miss rate tends to α whatever the data). Log space
 * makes the step relative (a 3x vol jump is ln 3 away whatever the price
 * level) and keeps the width positive; m is clamped to [MIN, MAX] so a broken
 * feed cannot blow it up (the guarantee holds while the clamp is not hit).
 *
 * Outcomes arrive a horizon late (a 5-minute interval made at t resolves at
 * t + 5 min): `issue` keeps the open intervals (bounded: a ring of
 * `maxPending`, oldest dropped and counted), `observe(ts, close)` resolves
 * every open interval whose target time is ts. Time is an input; nothing here
 * reads a clock. A miss is judged against the interval actually served (the
 * multipliers at issue time, the intervals nested: a 90% interval always
 * contains the 80% one, see `served`). The whole state is a plain object (`toJSON` /
 * `fromState`).
 */

/** Nominal levels served: the 80% and 90% intervals. */
export const CALIBRATION_LEVELS: readonly number[] = [0.8, 0.9];
/** Default step of ln m per unit of (miss - α). */
export const DEFAULT_STEP = 0.15;
const MIN_MULTIPLIER = 0.05;
const MAX_MULTIPLIER = 50;

export interface Band {
  lo: number;
  hi: number;
}

export interface CalibrationOptions {
  levels?: readonly number[];
  /** η, the step of ln m (default DEFAULT_STEP). 0 = no adaptation (the base intervals stretched by the initial multipliers). */
  step?: number;
  /** Starting multiplier per level (default 1: the base interval as is). */
  initial?: readonly number[];
  /** Open intervals kept at most (default 64). */
  maxPending?: number;
}

/** One issued interval awaiting its outcome. */
interface Pending {
  target_ms: number;
  center: number;
  bands: Band[];
  /** The multipliers served with it: its miss is judged against the interval actually published. */
  served: number[];
}

export interface CalibrationState {
  levels: number[];
  step: number;
  log_multipliers: number[];
  /** Outcomes seen and misses per level (for the coverage since start). */
  resolved: number;
  misses: number[];
  dropped: number;
  max_pending: number;
  pending: Pending[];
}

/** The stretch of the base interval [lo, hi] around `center` that just covers y (0 at the center). */
export function stretchScore(y: number, center: number, band: Band): number {
  const down = center - band.lo;
  const up = band.hi - center;
  const s = Math.max(y < center ? (center - y) / Math.max(down, 1e-300) : 0, y > center ? (y - center) / Math.max(up, 1e-300) : 0);
  return s;
}

/** The base interval [lo, hi] around `center` stretched by m. */
export function stretch(center: number, band: Band, m: number): Band {
  return { lo: center - m * (center - band.lo), hi: center + m * (band.hi - center) };
}

export class OnlineCalibration {
  private readonly levels: number[];
  private readonly step: number;
  private readonly logM: number[];
  private readonly misses: number[];
  private resolved = 0;
  private dropped = 0;
  private readonly maxPending: number;
  private pending: Pending[] = [];
  /** Level indices by ascending level (the nesting order of the served intervals). */
  private readonly byLevel: number[];

  constructor(opts: CalibrationOptions = {}) {
    this.levels = [...(opts.levels ?? CALIBRATION_LEVELS)];
    for (const l of this.levels) if (!(l > 0 && l < 1)) throw new RangeError(`calibration level ${l} is not in (0, 1)`);
    this.byLevel = this.levels.map((_, i) => i).sort((a, b) => (this.levels[a] as number) - (this.levels[b] as number));
    this.step = opts.step ?? DEFAULT_STEP;
    if (!(this.step >= 0 && Number.isFinite(this.step))) throw new RangeError(`calibration step ${this.step} must be a finite number >= 0`);
    this.logM = this.levels.map((_, i) => Math.log(clamp(opts.initial?.[i] ?? 1)));
    this.misses = this.levels.map(() => 0);
    this.maxPending = Math.max(1, opts.maxPending ?? 64);
  }

  static fromState(s: CalibrationState): OnlineCalibration {
    const c = new OnlineCalibration({ levels: s.levels, step: s.step, maxPending: s.max_pending, initial: s.log_multipliers.map(Math.exp) });
    c.resolved = s.resolved;
    c.dropped = s.dropped;
    s.misses.forEach((v, i) => (c.misses[i] = v));
    c.pending = s.pending.slice(-c.maxPending).map(copyPending);
    return c;
  }

  toJSON(): CalibrationState {
    return {
      levels: [...this.levels],
      step: this.step,
      log_multipliers: [...this.logM],
      resolved: this.resolved,
      misses: [...this.misses],
      dropped: this.dropped,
      max_pending: this.maxPending,
      pending: this.pending.map(copyPending),
    };
  }

  /** The current multiplier of each level. */
  multipliers(): number[] {
    return this.logM.map(Math.exp);
  }

  /** Coverage of the resolved intervals so far, per level (NaN before the first outcome). */
  coverage(): number[] {
    return this.misses.map((m) => (this.resolved ? 1 - m / this.resolved : Number.NaN));
  }

  /** Outcomes resolved so far. */
  get resolvedCount(): number {
    return this.resolved;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  get droppedCount(): number {
    return this.dropped;
  }

  /** The calibrated intervals (one per level) of the base intervals `bands` around `center`. */
  calibrate(center: number, bands: readonly Band[]): Band[] {
    return this.served(center, bands, this.multipliers());
  }

  /**
   * The intervals served with multipliers `m`: each base band stretched by its
   * level's multiplier, then nested, so a higher level's interval contains every
   * lower level's (the two trackers move independently; early in a run or after
   * a break the 90% stretch can fall inside the 80% one). Per side, a level's
   * bound is the widest of its own and the lower levels' bounds.
   */
  private served(center: number, bands: readonly Band[], m: readonly number[]): Band[] {
    const out = bands.map((b, i) => stretch(center, b, m[i] as number));
    for (const i of this.byLevel) {
      for (const j of this.byLevel) {
        if ((this.levels[j] as number) >= (this.levels[i] as number)) break;
        const o = out[i] as Band;
        const lower = out[j] as Band;
        if (lower.lo < o.lo) o.lo = lower.lo;
        if (lower.hi > o.hi) o.hi = lower.hi;
      }
    }
    return out;
  }

  /**
   * Calibrate and remember the base intervals until `target_ms`, when
   * `observe` resolves them. Returns the calibrated intervals served now.
   */
  issue(target_ms: number, center: number, bands: readonly Band[]): Band[] {
    if (bands.length !== this.levels.length) throw new RangeError(`${bands.length} bands for ${this.levels.length} levels`);
    this.pending.push({ target_ms, center, bands: bands.map((b) => ({ lo: b.lo, hi: b.hi })), served: this.multipliers() });
    if (this.pending.length > this.maxPending) {
      this.pending.shift();
      this.dropped++;
    }
    return this.calibrate(center, bands);
  }

  /**
   * The outcome y at time ts: every open interval with target_ms <= ts is
   * resolved (the ones with target_ms === ts against y; older ones whose
   * target close never came are dropped without an update). Returns how many
   * were resolved.
   */
  observe(ts_ms: number, y: number): number {
    let n = 0;
    const keep: Pending[] = [];
    for (const p of this.pending) {
      if (p.target_ms > ts_ms) keep.push(p);
      else if (p.target_ms === ts_ms && Number.isFinite(y)) {
        this.update(p.center, p.bands, y, p.served);
        n++;
      } else this.dropped++;
    }
    this.pending = keep;
    return n;
  }

  /**
   * One outcome y of the base intervals `bands` around `center`, served with
   * the multipliers `served` (default: the current ones).
   */
  update(center: number, bands: readonly Band[], y: number, served: readonly number[] = this.multipliers()): void {
    this.resolved++;
    const out = this.served(center, bands, served);
    for (let i = 0; i < this.levels.length; i++) {
      const b = out[i] as Band;
      const miss = y < b.lo || y > b.hi ? 1 : 0;
      this.misses[i] = (this.misses[i] as number) + miss;
      const alpha = 1 - (this.levels[i] as number);
      this.logM[i] = Math.log(clamp(Math.exp((this.logM[i] as number) + this.step * (miss - alpha))));
    }
  }
}

function copyPending(p: Pending): Pending {
  return { target_ms: p.target_ms, center: p.center, bands: p.bands.map((b) => ({ lo: b.lo, hi: b.hi })), served: [...p.served] };
}

function clamp(m: number): number {
  return Math.min(MAX_MULTIPLIER, Math.max(MIN_MULTIPLIER, m));
}
