/**
 * Drift of a model's absolute errors: the Page-Hinkley test (Page 1954;
 * Hinkley 1971), one per (pair, target, model version).
 *
 * Why Page-Hinkley and not ADWIN: the stream is one number per minute per
 * model, and what matters is a rise of the error level. Page-Hinkley keeps
 * four numbers per stream (O(1) memory, trivially rebuilt on a restart by
 * replaying the stored errors), takes time as an input like the rest of the
 * monitor, and its two parameters read in units of the error level. ADWIN keeps
 * a bucket list of the window and its Hoeffding bound assumes values in a
 * known bounded range, which absolute errors (heavy-tailed, unbounded) are
 * not.
 *
 * Scale: each absolute error is divided by the reference level, the mean
 * absolute error of the first `minSamples` errors after a (re)start (while
 * that mean is 0, the warm-up goes on), and capped at 100: x_t = |e_t| / ref.
 * So a change of the error scale by a factor k is a shift of k - 1 whatever
 * the pair's price or the target's units, one setting serves every model,
 * and an exact zero error (a flat market) is 0, not an outlier. (A first
 * version ran on ln|e|: the zero errors of quiet minutes, ln 0 floored, made
 * it fire on real data that did not change.) With x̄_t the mean of the x
 * since the warm-up, m_t = Σ (x_i - x̄_i - δ), M_t = min m_i: PH_t = m_t - M_t;
 * a detection when PH_t > λ, then the test restarts (new reference).
 * One-sided: it detects errors getting larger (a model getting worse);
 * errors getting smaller is not an alarm. Defaults δ = 0.1 (a rise of the
 * error scale under ~10% is tolerated), λ = 50 (x units), a 120-error
 * warm-up. Chosen on real Kraken BTC/USDT minutes (the 715 persistence
 * errors of ts/test/monitor/forecast-alerts.test.ts, the errors of a quiet
 * then busier day): with a 30-error warm-up the reference came from a quiet
 * half hour and the test fired on the unchanged errors; with 120, no
 * detection on them, and the errors after minute 400 doubled / tripled were
 * detected 73 / 38 errors later. One day of one pair: not a calibrated
 * false-alarm rate.
 */

export interface PageHinkleyOptions {
  /** Tolerated shift (in units of the reference error). Default 0.1. */
  delta?: number;
  /** Detection threshold (cumulative, in units of the reference error). Default 50. */
  lambda?: number;
  /** Warm-up: errors whose mean sets the reference level. Default 120 (two hours of 1-minute targets). */
  minSamples?: number;
}

export class PageHinkley {
  readonly delta: number;
  readonly lambda: number;
  readonly minSamples: number;
  /** Warm-up: errors and their sum before the reference is set. */
  private warm = 0;
  private warmSum = 0;
  private ref = 0;
  private n = 0;
  private mean = 0;
  private m = 0;
  private min = 0;

  constructor(opts: PageHinkleyOptions = {}) {
    this.delta = opts.delta ?? 0.1;
    this.lambda = opts.lambda ?? 50;
    this.minSamples = opts.minSamples ?? 120;
  }

  /** The current statistic PH_t = m_t - M_t. */
  get statistic(): number {
    return this.m - this.min;
  }

  /** Errors tested since the warm-up. */
  get count(): number {
    return this.n;
  }

  /** Add one absolute error; true when this one completes a detection (the test then restarts). */
  add(absError: number): boolean {
    if (!Number.isFinite(absError)) return false;
    const e = Math.abs(absError);
    if (this.ref === 0) {
      this.warm++;
      this.warmSum += e;
      if (this.warm >= this.minSamples && this.warmSum > 0) this.ref = this.warmSum / this.warm;
      return false;
    }
    const x = Math.min(e / this.ref, 100);
    this.n++;
    this.mean += (x - this.mean) / this.n;
    this.m += x - this.mean - this.delta;
    if (this.m < this.min) this.min = this.m;
    if (this.m - this.min > this.lambda) {
      this.reset();
      return true;
    }
    return false;
  }

  reset(): void {
    this.warm = 0;
    this.warmSum = 0;
    this.ref = 0;
    this.n = 0;
    this.mean = 0;
    this.m = 0;
    this.min = 0;
  }
}

/**
 * One Page-Hinkley test per stream key, and when each last detected (event
 * time). The alert signal of a key is the number of detections within the
 * last `holdMs` (so the alert fires on a detection and clears `holdMs` after
 * the last one).
 */
export class DriftDetectors {
  private readonly tests = new Map<string, { ph: PageHinkley; lastT: number; detections: number[] }>();
  constructor(
    private readonly opts: PageHinkleyOptions = {},
    readonly holdMs = 3_600_000,
  ) {}

  /** Add an error of a stream at event time t (errors of one stream must come in time order; older ones are ignored). Returns true on a detection. */
  add(key: string, t_ms: number, absError: number): boolean {
    let s = this.tests.get(key);
    if (!s) this.tests.set(key, (s = { ph: new PageHinkley(this.opts), lastT: -Infinity, detections: [] }));
    if (t_ms <= s.lastT) return false;
    s.lastT = t_ms;
    const hit = s.ph.add(absError);
    if (hit) s.detections.push(t_ms);
    return hit;
  }

  /** Per stream key: detections in (now - holdMs, now] and the current statistic. */
  signals(nowMs: number): { key: string; detections: number; statistic: number }[] {
    const out: { key: string; detections: number; statistic: number }[] = [];
    for (const [key, s] of this.tests) {
      while (s.detections.length > 0 && (s.detections[0] as number) <= nowMs - this.holdMs) s.detections.shift();
      out.push({ key, detections: s.detections.filter((t) => t <= nowMs).length, statistic: s.ph.statistic });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }
}
