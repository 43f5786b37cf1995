/**
 * The point-in-time training set.
 *
 * One row per technical feature row of a pair at time t (its window_end_ms):
 * - the technical features at t (computed by the live pipeline's FeatureStage
 *   from candles closed at or before t);
 * - the sentiment features as of t: the latest sentiment row with ts_ms <= t
 *   (never one after t);
 * - when the feature store has order-book features of the pair, the book
 *   features as of t: the latest book row of one exchange with
 *   window_end_ms <= t (never one after t), if at most BOOK_MAX_AGE_MS old;
 *   a row without book data gets NaN (missing) book columns, never zeros;
 * - for the targets that use them, the context features at t
 *   (model/context-features.ts: realized volatilities and EWMA from the
 *   closes at or before t);
 * - the label, made by the target (model/targets/) from the closes of the
 *   feature rows whose windows end in [t, t + horizon] (price: the future log
 *   return ln(close[t+h] / close[t]) or the future price itself).
 * Rows whose label is missing or whose technical features (or context) are
 * still warming up are dropped and counted, never filled. A null sentiment value (no news
 * in the window) is kept as NaN: LightGBM treats it as missing natively, and
 * the linear baseline only uses columns that are finite on every row.
 */
import { createHash } from 'node:crypto';
import type { BookFeatures, Candle, TechnicalFeatures } from '../contracts/messages.ts';
import type { SentimentFeatures } from '../stores/types.ts';
import { FeatureStage, DEFAULT_FEATURES } from '../pipeline/feature-stage.ts';
import { SENTIMENT_FEATURE_NAMES } from '../sentiment/sentiment-features.ts';
import { BOOK_COLUMN_PREFIX, bookAsOfAge, bookValues, featureVector } from '../model/feature-row.ts';
import { CONTEXT_FEATURES, CONTEXT_RETURNS, contextFromCloses, gatherCloses } from '../model/context-features.ts';
import { DEFAULT_TARGET, targetOf } from '../model/targets.ts';
import type { TargetData } from '../model/target.ts';

export { featureVector } from '../model/feature-row.ts';
export { priceFromOutput } from '../model/targets/price.ts';
export { DEFAULT_TARGET } from '../model/targets.ts';

/** A target name of the target registry (model/targets.ts), e.g. log_return, volatility. */
export type TargetKind = string;
export const DEFAULT_HORIZON_S = 300;

/** Sentiment features as of t (latest at or before t), or null when none. */
export type SentimentAsOf = (t_ms: number) => SentimentFeatures | null;

/** Book features as of t (latest at or before t, at most BOOK_MAX_AGE_MS old), or null when none. */
export type BookAsOf = (t_ms: number) => BookFeatures | null;

/**
 * A point-in-time training set: the rows a target is fitted and scored on
 * (TargetData: featureNames in order technical, sentiment, context; closes at
 * t and at t + horizon), plus where its columns came from.
 */
export interface Dataset extends TargetData {
  target: TargetKind;
  technicalNames: string[];
  sentimentNames: string[];
  /** Book feature names as in the book rows (model columns: BOOK_COLUMN_PREFIX + name); empty without book data. */
  bookNames: string[];
  /** The exchange whose book rows were joined (when bookNames is not empty). */
  bookExchange?: string;
  contextNames: string[];
  dropped: { warming_up: number; no_target: number };
}



/** Technical feature rows from contiguous candle segments, with the live FeatureStage (state reset between segments). */
export function technicalRowsFromCandles(segments: readonly (readonly Candle[])[], features: readonly string[] = DEFAULT_FEATURES, intervalS = 60): { names: string[]; rows: TechnicalFeatures[] } {
  const stage = new FeatureStage(intervalS, features);
  const rows: TechnicalFeatures[] = [];
  for (const seg of segments) {
    const pair = seg[0]?.pair;
    if (pair === undefined) continue;
    stage.reset(pair);
    for (const c of seg) {
      const out = stage.onCandle(c);
      if (out.kind === 'row') rows.push(out.row);
    }
  }
  return { names: [...stage.names], rows };
}

/** A point-in-time lookup over sentiment rows of one coin (any order). */
export function sentimentLookup(rows: readonly SentimentFeatures[]): SentimentAsOf {
  const sorted = [...rows].sort((a, b) => a.ts_ms - b.ts_ms);
  return (t) => {
    let lo = 0;
    let hi = sorted.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((sorted[mid] as SentimentFeatures).ts_ms <= t) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best >= 0 ? (sorted[best] as SentimentFeatures) : null;
  };
}

/** A point-in-time lookup over the book rows of one exchange and pair (any order): BookAsOf. */
export function bookLookup(rows: readonly BookFeatures[]): BookAsOf {
  const sorted = [...rows].sort((a, b) => a.window_end_ms - b.window_end_ms);
  return (t) => {
    let lo = 0;
    let hi = sorted.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((sorted[mid] as BookFeatures).window_end_ms <= t) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return bookAsOfAge(best >= 0 ? (sorted[best] as BookFeatures) : null, t);
  };
}

export interface BuildDatasetOptions {
  pair: string;
  /** The pair's technical rows (any order; one interval). */
  technical: readonly TechnicalFeatures[];
  /** Column order of the technical features (default: the keys of the first row, sorted as given by FeatureStage). */
  technicalNames?: readonly string[];
  /** Joins sentiment features when given. */
  sentiment?: SentimentAsOf;
  sentimentNames?: readonly string[];
  /** Joins order-book features when given (with their names, unprefixed, in column order). */
  book?: BookAsOf;
  bookNames?: readonly string[];
  bookExchange?: string;
  horizonS?: number;
  target?: TargetKind;
}

export function buildDataset(opts: BuildDatasetOptions): Dataset {
  const horizonS = opts.horizonS ?? DEFAULT_HORIZON_S;
  const target = opts.target ?? DEFAULT_TARGET;
  const spec = targetOf(target);
  const rowsIn = [...opts.technical].filter((r) => r.pair === opts.pair).sort((a, b) => a.window_end_ms - b.window_end_ms);
  const intervalS = rowsIn[0]?.interval_s ?? 60;
  const technicalNames = [...(opts.technicalNames ?? Object.keys(rowsIn[0]?.features ?? {}))];
  const sentimentNames = opts.sentiment ? [...(opts.sentimentNames ?? SENTIMENT_FEATURE_NAMES)] : [];
  const bookNames = opts.book ? [...(opts.bookNames ?? [])] : [];
  const contextNames = spec.usesContext ? [...CONTEXT_FEATURES] : [];
  const closeAt = new Map<number, number>();
  for (const r of rowsIn) closeAt.set(r.window_end_ms, r.close);
  const get = (t: number) => closeAt.get(t);
  const kTs = technicalNames.length + sentimentNames.length;
  const kFs = kTs + bookNames.length;
  const k = kFs + contextNames.length;
  const xs: number[] = [];
  const ys: number[] = [];
  const times: number[] = [];
  const closes: number[] = [];
  const futureCloses: number[] = [];
  const dropped = { warming_up: 0, no_target: 0 };
  const buf = new Float64Array(k);
  const past = new Float64Array(CONTEXT_RETURNS + 1);
  for (const r of rowsIn) {
    const label = spec.label(get, r.window_end_ms, horizonS, intervalS);
    const future = closeAt.get(r.window_end_ms + horizonS * 1000);
    if (label === null || future === undefined) {
      dropped.no_target++;
      continue;
    }
    const v = featureVector(r, technicalNames, opts.sentiment ? opts.sentiment(r.window_end_ms) : null, sentimentNames, buf.subarray(0, kTs));
    if (v === null) {
      dropped.warming_up++;
      continue;
    }
    if (bookNames.length > 0) bookValues(opts.book ? opts.book(r.window_end_ms) : null, bookNames, buf, kTs);
    if (contextNames.length > 0) {
      if (!gatherCloses(get, r.window_end_ms, intervalS, past)) {
        dropped.warming_up++;
        continue;
      }
      contextFromCloses(past, r.window_end_ms, buf, kFs);
    }
    for (let i = 0; i < k; i++) xs.push(buf[i] as number);
    ys.push(label);
    times.push(r.window_end_ms);
    closes.push(r.close);
    futureCloses.push(future);
  }
  return {
    pair: opts.pair,
    horizonS,
    target,
    featureNames: [...technicalNames, ...sentimentNames, ...bookNames.map((n) => BOOK_COLUMN_PREFIX + n), ...contextNames],
    technicalNames,
    sentimentNames,
    bookNames,
    ...(bookNames.length > 0 && opts.bookExchange ? { bookExchange: opts.bookExchange } : {}),
    contextNames,
    rows: times.length,
    x: Float64Array.from(xs),
    y: Float64Array.from(ys),
    times,
    closes,
    futureCloses,
    dropped,
  };
}

/** The same rows without the book columns (the walk-forward's "without book features" side). */
export function withoutBook(ds: Dataset): Dataset {
  if (ds.bookNames.length === 0) return ds;
  const k = ds.featureNames.length;
  const from = ds.technicalNames.length + ds.sentimentNames.length;
  const nb = ds.bookNames.length;
  const k2 = k - nb;
  const x = new Float64Array(ds.rows * k2);
  for (let i = 0; i < ds.rows; i++) {
    x.set(ds.x.subarray(i * k, i * k + from), i * k2);
    x.set(ds.x.subarray(i * k + from + nb, i * k + k), i * k2 + from);
  }
  const { bookExchange: _dropped, ...rest } = ds;
  return { ...rest, featureNames: [...ds.featureNames.slice(0, from), ...ds.featureNames.slice(from + nb)], bookNames: [], x };
}

/** How many rows of `rows` have at least one book value (not NaN). */
export function rowsWithBook(ds: Dataset, rows: readonly number[]): number {
  const k = ds.featureNames.length;
  const from = ds.technicalNames.length + ds.sentimentNames.length;
  let n = 0;
  for (const i of rows) {
    for (let j = 0; j < ds.bookNames.length; j++) {
      if (!Number.isNaN(ds.x[i * k + from + j] as number)) {
        n++;
        break;
      }
    }
  }
  return n;
}

/** Rows [from, to) of a dataset as a new matrix (the same columns). */
export function sliceRows(ds: Dataset, idx: readonly number[]): { x: Float64Array; y: Float64Array } {
  const k = ds.featureNames.length;
  const x = new Float64Array(idx.length * k);
  const y = new Float64Array(idx.length);
  idx.forEach((r, i) => {
    x.set(ds.x.subarray(r * k, r * k + k), i * k);
    y[i] = ds.y[r] as number;
  });
  return { x, y };
}

/** SHA-256 of what a model was trained on: columns, times, closes, features, targets. */
export function datasetHash(ds: Dataset): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ pair: ds.pair, horizonS: ds.horizonS, target: ds.target, names: ds.featureNames }));
  h.update(Buffer.from(Float64Array.from(ds.times).buffer));
  h.update(Buffer.from(Float64Array.from(ds.closes).buffer));
  h.update(Buffer.from(ds.x.buffer, ds.x.byteOffset, ds.x.byteLength));
  h.update(Buffer.from(ds.y.buffer, ds.y.byteOffset, ds.y.byteLength));
  return h.digest('hex');
}
