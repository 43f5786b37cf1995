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

/**
 * Context features from `closes`: CONTEXT_RETURNS + 1 closes of consecutive
 * windows, oldest first, the last one at t. Writes CONTEXT_FEATURES.length
 * values into `out` at `offset`.
 */
export function contextFromCloses(closes: ArrayLike<number>, t_ms: number, out: Float64Array, offset = 0): void {
  const n = CONTEXT_RETURNS;
  if (closes.length !== n + 1) throw new RangeError(`context needs ${n + 1} closes, got ${closes.length}`);
  let s5 = 0;
  let s30 = 0;
  let s240 = 0;
  let ew = 0;
  let w = 1;
  // k = 0 is the newest return (closes[n] / closes[n - 1]).
  for (let k = 0; k < n; k++) {
    const r = Math.log((closes[n - k] as number) / (closes[n - k - 1] as number));
    const r2 = r * r;
    if (k < 5) s5 += r2;
    if (k < 30) s30 += r2;
    s240 += r2;
    ew += w * r2;
    w *= EWMA_LAMBDA;
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
 * The last CONTEXT_RETURNS + 1 closes of one pair as they arrive (live): a
 * fixed ring. `closes(t)` is the window ending at t when every window up to t
 * has been seen, else null (then the caller fills it from the store).
 */
export class CloseHistory {
  private readonly ring = new Float64Array(CONTEXT_RETURNS + 1);
  private readonly ends = new Float64Array(CONTEXT_RETURNS + 1).fill(Number.NaN);
  private readonly out = new Float64Array(CONTEXT_RETURNS + 1);
  constructor(readonly intervalS: number) {}

  add(end_ms: number, close: number): void {
    const slot = Math.floor(end_ms / (this.intervalS * 1000)) % this.ring.length;
    this.ring[slot] = close;
    this.ends[slot] = end_ms;
  }

  closes(t_ms: number): Float64Array | null {
    const step = this.intervalS * 1000;
    const len = this.ring.length;
    for (let j = 0; j < len; j++) {
      const end = t_ms - (len - 1 - j) * step;
      const slot = Math.floor(end / step) % len;
      if (this.ends[slot] !== end) return null;
      this.out[j] = this.ring[slot] as number;
    }
    return this.out;
  }
}
