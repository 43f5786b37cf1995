/**
 * Point-in-time sentiment features of one coin at time t.
 *
 * For each window W in {1h, 6h, 24h}, over the scores s_i of that coin with
 * t - W < ts_i <= t (published at or before t, so nothing after t is ever
 * used):
 * - `sent_<W>_count`: number of scores (0 when none);
 * - `sent_<W>_mean`: arithmetic mean of s_i (null when none);
 * - `sent_<W>_ewm`: exponentially time-decayed mean Σ w_i s_i / Σ w_i with
 *   w_i = 2^(-(t - ts_i) / h), half-life h = W / 2 (null when none).
 * Plus `sent_last` (the latest score at or before t, any age; null if none)
 * and `sent_last_age_s` (t - its ts, seconds; null if none).
 *
 * Duplicates by natural key (news_id + coin + model) count once (first wins);
 * a duplicate is a re-delivery of the same message (same score and ts_ms).
 * `sentimentFeaturesAt` is the pure definition; `SentimentFeatureState` is the
 * incremental form (bounded memory, same numbers).
 */
import type { Sentiment } from '../contracts/messages.ts';
import type { SentimentFeatures } from '../stores/types.ts';

export const SENTIMENT_WINDOWS: readonly { name: string; ms: number }[] = [
  { name: '1h', ms: 3_600_000 },
  { name: '6h', ms: 6 * 3_600_000 },
  { name: '24h', ms: 24 * 3_600_000 },
];
const MAX_WINDOW_MS = Math.max(...SENTIMENT_WINDOWS.map((w) => w.ms));

/** Feature names, in a fixed order. */
export const SENTIMENT_FEATURE_NAMES: readonly string[] = [
  ...SENTIMENT_WINDOWS.flatMap((w) => [`sent_${w.name}_count`, `sent_${w.name}_mean`, `sent_${w.name}_ewm`]),
  'sent_last',
  'sent_last_age_s',
];

type Score = Pick<Sentiment, 'news_id' | 'coin' | 'model' | 'score' | 'ts_ms'>;

const keyOf = (s: Score) => `${s.news_id}|${s.coin}|${s.model}`;

/** Features from the scores of one coin known at t (any order; the caller filtered nothing). */
function compute(scores: readonly Score[], coin: string, t: number): SentimentFeatures {
  const features: Record<string, number | null> = {};
  const seen = new Set<string>();
  const usable: Score[] = [];
  for (const s of scores) {
    if (s.coin !== coin || s.ts_ms > t) continue;
    const k = keyOf(s);
    if (seen.has(k)) continue;
    seen.add(k);
    usable.push(s);
  }
  // A canonical summation order (time, then key), so any arrival order gives bit-identical sums.
  usable.sort((a, b) => a.ts_ms - b.ts_ms || (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  for (const w of SENTIMENT_WINDOWS) {
    const h = w.ms / 2;
    let n = 0;
    let sum = 0;
    let wsum = 0;
    let wsx = 0;
    for (const s of usable) {
      const age = t - s.ts_ms;
      if (age >= w.ms) continue;
      n++;
      sum += s.score;
      const wt = 2 ** (-age / h);
      wsum += wt;
      wsx += wt * s.score;
    }
    features[`sent_${w.name}_count`] = n;
    features[`sent_${w.name}_mean`] = n ? sum / n : null;
    features[`sent_${w.name}_ewm`] = n ? wsx / wsum : null;
  }
  let last: Score | undefined;
  for (const s of usable) if (!last || s.ts_ms >= last.ts_ms) last = s;
  features.sent_last = last ? last.score : null;
  features.sent_last_age_s = last ? (t - last.ts_ms) / 1000 : null;
  return { coin, ts_ms: t, features };
}

/** Pure: the features of `coin` as of `t` from any list of scores (later items are ignored). */
export function sentimentFeaturesAt(scores: readonly Score[], coin: string, t: number): SentimentFeatures {
  return compute(scores, coin, t);
}

/**
 * Incremental form: add scores as they arrive, ask for features at
 * non-decreasing times. Keeps only what a future query can use: scores within
 * the longest window of the latest query time (plus the latest older score of
 * each coin, for `sent_last`). A score older than that when it arrives can no
 * longer change any answer except `sent_last`, which it cannot (a newer one
 * exists); it is dropped and counted.
 */
export class SentimentFeatureState {
  private readonly byCoin = new Map<string, Score[]>();
  private readonly keys = new Set<string>();
  private lastQueryMs = -Infinity;
  /** Scores dropped because they arrived too late to matter. */
  dropped = 0;

  add(s: Score): void {
    const k = keyOf(s);
    if (this.keys.has(k)) return;
    const list = this.byCoin.get(s.coin) ?? [];
    const horizon = this.lastQueryMs - MAX_WINDOW_MS;
    const newest = list.length ? list[list.length - 1]! : undefined;
    if (s.ts_ms <= horizon && newest && newest.ts_ms > s.ts_ms) {
      this.dropped++;
      return;
    }
    this.keys.add(k);
    // Keep each coin's list sorted by time (insertion from the end: arrivals are nearly ordered).
    let i = list.length;
    while (i > 0 && list[i - 1]!.ts_ms > s.ts_ms) i--;
    list.splice(i, 0, s);
    this.byCoin.set(s.coin, list);
  }

  /** Features of `coin` at `t`; `t` must not go backwards across calls. */
  at(coin: string, t: number): SentimentFeatures {
    if (t < this.lastQueryMs) throw new RangeError(`query time went backwards: ${t} < ${this.lastQueryMs}`);
    this.lastQueryMs = t;
    this.prune(t - MAX_WINDOW_MS);
    return compute(this.byCoin.get(coin) ?? [], coin, t);
  }

  /** Scores held (bounded by the window, not by history). */
  get size(): number {
    let n = 0;
    for (const l of this.byCoin.values()) n += l.length;
    return n;
  }

  private prune(horizon: number): void {
    for (const [coin, list] of this.byCoin) {
      // Keep everything after the horizon, and the newest score at or before it (sent_last).
      let cut = 0;
      while (cut + 1 < list.length && list[cut + 1]!.ts_ms <= horizon) cut++;
      if (cut > 0 && list[cut]!.ts_ms <= horizon) {
        for (const s of list.slice(0, cut)) this.keys.delete(keyOf(s));
        this.byCoin.set(coin, list.slice(cut));
      }
    }
  }
}
