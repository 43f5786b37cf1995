/**
 * The in-memory view the API serves live data from: per pair, the latest
 * prediction and a bounded ring of recent candles, predictions and
 * prediction errors (for the websocket snapshot and the dashboard). Fed by
 * plain function calls (the API service calls them from the bus consumers;
 * tests call them directly). Memory is bounded: `recent` rows per series, and
 * only the configured pairs are kept.
 */
import { Topics, type Candle, type Prediction, type PredictionError } from '../contracts/messages.ts';

/** A series sorted by time, at most `cap` rows, one row per natural key. */
class TimeRing<T> {
  private readonly rows: T[] = [];
  constructor(
    private readonly cap: number,
    private readonly timeOf: (m: T) => number,
    private readonly keyOf: (m: T) => string,
  ) {}

  /** Insert in time order (replacing a row with the same natural key). False if it is older than everything kept and the ring is full. */
  add(m: T): boolean {
    const t = this.timeOf(m);
    const k = this.keyOf(m);
    let i = this.rows.length;
    while (i > 0 && this.timeOf(this.rows[i - 1] as T) > t) i--;
    // Same time: a row with the same key is replaced (a redelivery or a correction).
    for (let j = i - 1; j >= 0 && this.timeOf(this.rows[j] as T) === t; j--) {
      if (this.keyOf(this.rows[j] as T) === k) {
        this.rows[j] = m;
        return true;
      }
    }
    if (i === 0 && this.rows.length >= this.cap) return false;
    this.rows.splice(i, 0, m);
    if (this.rows.length > this.cap) this.rows.shift();
    return true;
  }

  list(): T[] {
    return this.rows.slice();
  }

  last(): T | null {
    return this.rows[this.rows.length - 1] ?? null;
  }
}

interface PairState {
  latest: Prediction | null;
  predictions: TimeRing<Prediction>;
  candles: TimeRing<Candle>;
  errors: TimeRing<PredictionError>;
}

export interface LiveCacheOptions {
  /** The pairs served; messages of other pairs are ignored (and counted). */
  pairs: readonly string[];
  /** Rows kept per series and pair (default 360: six hours of 1-minute candles). */
  recent?: number;
}

export interface PairSnapshot {
  pair: string;
  prediction: Prediction | null;
  predictions: Prediction[];
  candles: Candle[];
  errors: PredictionError[];
}

export class LiveCache {
  readonly pairs: readonly string[];
  private readonly state = new Map<string, PairState>();
  /** Messages dropped because their pair is not served. */
  ignored = 0;

  constructor(opts: LiveCacheOptions) {
    this.pairs = [...opts.pairs];
    const cap = opts.recent ?? 360;
    for (const pair of this.pairs) {
      this.state.set(pair, {
        latest: null,
        predictions: new TimeRing<Prediction>(cap, (p) => p.made_at_ms, Topics.predictions.naturalKey),
        candles: new TimeRing<Candle>(cap, (c) => c.window_end_ms, Topics.candles.naturalKey),
        errors: new TimeRing<PredictionError>(cap, (e) => e.target_ms, Topics.predictionErrors.naturalKey),
      });
    }
  }

  has(pair: string): boolean {
    return this.state.has(pair);
  }

  /** Record a prediction; true if the pair is served. The latest is the one with the newest made_at_ms. */
  addPrediction(p: Prediction): boolean {
    const s = this.state.get(p.pair);
    if (!s) return this.ignore();
    if (s.latest === null || p.made_at_ms >= s.latest.made_at_ms) s.latest = p;
    s.predictions.add(p);
    return true;
  }

  addCandle(c: Candle): boolean {
    const s = this.state.get(c.pair);
    if (!s) return this.ignore();
    s.candles.add(c);
    return true;
  }

  addError(e: PredictionError): boolean {
    const s = this.state.get(e.pair);
    if (!s) return this.ignore();
    s.errors.add(e);
    return true;
  }

  /** The newest prediction of a pair, or null. */
  latest(pair: string): Prediction | null {
    return this.state.get(pair)?.latest ?? null;
  }

  latestCandle(pair: string): Candle | null {
    return this.state.get(pair)?.candles.last() ?? null;
  }

  snapshot(pair: string): PairSnapshot | null {
    const s = this.state.get(pair);
    if (!s) return null;
    return { pair, prediction: s.latest, predictions: s.predictions.list(), candles: s.candles.list(), errors: s.errors.list() };
  }

  private ignore(): false {
    this.ignored++;
    return false;
  }
}
