/**
 * Context features: point-in-time columns computed from the pair's own close
 * series (1-minute windows), appended after the technical and sentiment
 * features for the targets that use them (volatility, range, direction).
 * They are the regressors of HAR-RV and the inputs of the EWMA baseline, so
 * the models see what the baselines see.
 *
 * At time t (a window end) they use the closes of the windows ending at
 * t - 240 min ... t, never after t:
 * - `rv_5`, `rv_30`, `rv_240`: realized volatility sqrt(Σ r²) of the last
 *   5, 30 and 240 one-minute log returns r (not rescaled: rv_30 is a 30-minute
 *   volatility);
 * - `ewma_vol`: sqrt(5 · σ²) with σ² the exponentially weighted mean of r² over
 *   the last 240 returns, weights λ^k (λ = 0.97, half-life ≈ 23 min),
 *   normalized: a 5-minute volatility forecast (finite window, so the batch
 *   and the live value are the same number);
 * - `minute_of_day`: minutes since 00:00 UTC of t (intraday seasonality).
 *
 * A flat filled minute (no trades: close = previous close) is a return of 0:
 * the price did not move. A row whose 240-minute window misses a close (a gap
 * between recordings) has no context (null): dropped in training, skipped
 * live.
 */
export const CONTEXT_FEATURES: readonly string[] = ['rv_5', 'rv_30', 'rv_240', 'ewma_vol', 'minute_of_day'];
/** Returns in the longest window. */
export const CONTEXT_RETURNS = 240;
export const EWMA_LAMBDA = 0.97;
/** Horizon of the EWMA forecast, in one-minute returns. */
const EWMA_STEPS = 5;

let ewmaNorm = 0;
for (let k = 0; k < CONTEXT_RETURNS; k++) ewmaNorm += EWMA_LAMBDA ** k;
/** λ^k by repeated multiplication (the values the sum used to build as it went; a table keeps the multiplications off the summation's path). */
const EWMA_W = new Float64Array(CONTEXT_RETURNS);
for (let k = 0, w = 1; k < CONTEXT_RETURNS; k++, w *= EWMA_LAMBDA) EWMA_W[k] = w;

/**
 * Context features from `closes`: CONTEXT_RETURNS + 1 closes of consecutive
 * windows, oldest first, the last one at t. Writes CONTEXT_FEATURES.length
 * values into `out` at `offset`.
 */
export function contextFromCloses(closes: ArrayLike<number>, t_ms: number, out: Float64Array, offset = 0): void {
  const n = CONTEXT_RETURNS;
  if (closes.length !== n + 1) throw new RangeError(`context needs ${n + 1} closes, got ${closes.length}`);
  const r2 = new Float64Array(n);
  for (let j = 0; j < n; j++) r2[j] = squaredLogReturn(closes[j + 1] as number, closes[j] as number);
  contextFromSquaredReturns(r2, t_ms, out, offset);
}

/** (ln(close / prev))², one expression for the batch and the live history. */
function squaredLogReturn(close: number, prev: number): number {
  const r = Math.log(close / prev);
  return r * r;
}

/** The same from the CONTEXT_RETURNS squared one-minute log returns ending at t, oldest first. */
export function contextFromSquaredReturns(r2: ArrayLike<number>, t_ms: number, out: Float64Array, offset = 0): void {
  const n = CONTEXT_RETURNS;
  let s5 = 0;
  let s30 = 0;
  let s240 = 0;
  let ew = 0;
  // k = 0 is the newest return; each sum adds in the order of k (as one loop did).
  for (let k = 0; k < 5; k++) s5 += r2[n - 1 - k] as number;
  for (let k = 0; k < 30; k++) s30 += r2[n - 1 - k] as number;
  for (let k = 0; k < n; k++) {
    const v = r2[n - 1 - k] as number;
    s240 += v;
    ew += (EWMA_W[k] as number) * v;
  }
  out[offset] = Math.sqrt(s5);
  out[offset + 1] = Math.sqrt(s30);
  out[offset + 2] = Math.sqrt(s240);
  out[offset + 3] = Math.sqrt((EWMA_STEPS * ew) / ewmaNorm);
  out[offset + 4] = Math.floor((((t_ms % 86_400_000) + 86_400_000) % 86_400_000) / 60_000);
}

/**
 * Gathers the closes of the windows ending at t - CONTEXT_RETURNS·interval ... t
 * from `closeAt` into `buf`; false when one is missing.
 */
export function gatherCloses(closeAt: (end_ms: number) => number | undefined, t_ms: number, intervalS: number, buf: Float64Array): boolean {
  const step = intervalS * 1000;
  for (let j = 0; j <= CONTEXT_RETURNS; j++) {
    const c = closeAt(t_ms - (CONTEXT_RETURNS - j) * step);
    if (c === undefined || !(c > 0)) return false;
    buf[j] = c;
  }
  return true;
}

/**
 * The last CONTEXT_RETURNS + 1 closes of one pair as they arrive (live), in a
 * fixed ring, with the squared log return of each window against the one
 * before (computed once, when both are known). `context(t, out)` writes the
 * context features at t when every window up to t has been seen, else
 * returns false (then the caller fills the history from the store).
 */
export class CloseHistory {
  private readonly len = CONTEXT_RETURNS + 1;
  private readonly ring = new Float64Array(CONTEXT_RETURNS + 1);
  private readonly ends = new Float64Array(CONTEXT_RETURNS + 1).fill(Number.NaN);
  private readonly sq = new Float64Array(CONTEXT_RETURNS + 1).fill(Number.NaN);
  private readonly r2 = new Float64Array(CONTEXT_RETURNS);
  private readonly stepMs: number;
  constructor(readonly intervalS: number) {
    this.stepMs = intervalS * 1000;
  }

  private slot(end_ms: number): number {
    return Math.floor(end_ms / this.stepMs) % this.len;
  }

  private newest = -Infinity;

  /** Adds the close of a window (any order); windows too old for the ring are ignored. */
  add(end_ms: number, close: number): void {
    if (end_ms <= this.newest - this.len * this.stepMs) return;
    this.newest = Math.max(this.newest, end_ms);
    const i = this.slot(end_ms);
    this.ring[i] = close;
    this.ends[i] = end_ms;
    this.sq[i] = Number.NaN;
    const prev = this.slot(end_ms - this.stepMs);
    if (this.ends[prev] === end_ms - this.stepMs) this.sq[i] = squaredLogReturn(close, this.ring[prev] as number);
    const next = this.slot(end_ms + this.stepMs);
    if (this.ends[next] === end_ms + this.stepMs) this.sq[next] = squaredLogReturn(this.ring[next] as number, close);
  }

  /** Writes the context features at t into out (at offset); false when a window up to t is missing. */
  context(t_ms: number, out: Float64Array, offset = 0): boolean {
    const n = CONTEXT_RETURNS;
    const step = this.stepMs;
    let end = t_ms - n * step;
    // One pass over the ring from the oldest window: the slot of the next window is the next slot.
    let i = this.slot(end);
    if (this.ends[i] !== end) return false;
    for (let j = 0; j < n; j++) {
      end += step;
      i = i + 1 === this.len ? 0 : i + 1;
      if (this.ends[i] !== end) return false;
      const v = this.sq[i] as number;
      if (v !== v) return false; // NaN: no return for that window
      this.r2[j] = v;
    }
    contextFromSquaredReturns(this.r2, t_ms, out, offset);
    return true;
  }

  /** The window ends up to t (oldest first, at most max) whose close or return the context at t lacks: for logs. */
  missing(t_ms: number, max = 10): number[] {
    const out: number[] = [];
    for (let end = t_ms - CONTEXT_RETURNS * this.stepMs; end <= t_ms && out.length < max; end += this.stepMs) {
      const i = this.slot(end);
      if (this.ends[i] !== end || (end > t_ms - CONTEXT_RETURNS * this.stepMs && Number.isNaN(this.sq[i]))) out.push(end);
    }
    return out;
  }
}
