/**
 * System health readings: freshness of the stores' newest rows, consumer lag
 * and LLM errors (read from the process metrics), dead letters (counted as
 * the monitor reads them). Each is a small function; the monitor service
 * calls them periodically.
 */
import { register } from 'prom-client';
import type { Stores } from '../stores/types.ts';

export type FreshnessKind = 'candle' | 'feature' | 'sentiment' | 'prediction';
export interface Freshness {
  key: string;
  kind: FreshnessKind;
  newest_ms: number | null;
  age_s: number | null;
}

/** Newest candle, feature row and prediction per pair, sentiment row per coin (base of each pair). */
export async function readFreshness(stores: Stores, pairs: readonly string[], intervalS: number, nowMs: number): Promise<Freshness[]> {
  const out: Freshness[] = [];
  const row = (key: string, kind: FreshnessKind, t: number | undefined) =>
    out.push({ key, kind, newest_ms: t ?? null, age_s: t === undefined ? null : Math.max(0, (nowMs - t) / 1000) });
  for (const pair of pairs) {
    const [c, f, p] = await Promise.all([
      stores.features.candles.latest({ pair, interval_s: intervalS }),
      stores.features.technical.latest({ pair, interval_s: intervalS }),
      stores.predictions.predictions.latest({ pair }),
    ]);
    row(pair, 'candle', c?.window_end_ms);
    row(pair, 'feature', f?.window_end_ms);
    row(pair, 'prediction', p?.made_at_ms);
  }
  for (const coin of [...new Set(pairs.map((p) => p.split('/')[0] as string))]) {
    const s = await stores.features.sentiment.latest({ coin });
    row(coin, 'sentiment', s?.ts_ms);
  }
  return out;
}

/** Sum of a counter's values in the default registry, or null if the metric does not exist in this process. */
export async function counterTotal(name: string): Promise<number | null> {
  const m = register.getSingleMetric(name);
  if (!m) return null;
  const v = await m.get();
  return v.values.reduce((a, x) => a + x.value, 0);
}

/** The largest consumer lag of any group and topic in this process (tickcast_bus_consumer_lag_messages), or null. */
export async function maxConsumerLag(): Promise<number | null> {
  const m = register.getSingleMetric('tickcast_bus_consumer_lag_messages');
  if (!m) return null;
  const v = await m.get();
  return v.values.length === 0 ? null : Math.max(...v.values.map((x) => x.value));
}

/** Turns a monotonic counter into a per-minute rate between successive readings. */
export class RateOf {
  private last: { t: number; v: number } | null = null;
  /** The rate since the previous reading (null on the first, or after a counter reset). */
  next(value: number | null, nowMs: number): number | null {
    if (value === null) return null;
    const prev = this.last;
    this.last = { t: nowMs, v: value };
    if (!prev || nowMs <= prev.t || value < prev.v) return null;
    return ((value - prev.v) * 60_000) / (nowMs - prev.t);
  }
}
