/**
 * The model input row of one feature message: technical features in the
 * model's order, then sentiment as of t, then the order-book features as of t
 * (when the model was trained with them), then (for the targets that use
 * them) the context features. Used by the dataset and by the predictor, so
 * both build the same vector.
 */
import type { BookFeatures, TechnicalFeatures } from '../contracts/messages.ts';
import type { SentimentFeatures } from '../stores/types.ts';

/** Model columns of the book features carry this prefix (`book_spread_twa`), so they never clash with a technical name. */
export const BOOK_COLUMN_PREFIX = 'book_';

/**
 * How old a book row may be and still be joined at t: its minute must have
 * closed at most this long before t (two minutes: the row of minute t, or the
 * one before when t's has not arrived yet). An older row (a recording that
 * ended, a feed that stopped) is not the book at t: the columns are missing
 * (NaN), never stale values.
 */
export const BOOK_MAX_AGE_MS = 120_000;

/** The book row to join at t: `asOf` (the newest row with window_end_ms <= t) when it is at most BOOK_MAX_AGE_MS old, else null. */
export function bookAsOfAge(asOf: BookFeatures | null, t_ms: number): BookFeatures | null {
  return asOf !== null && asOf.window_end_ms <= t_ms && t_ms - asOf.window_end_ms <= BOOK_MAX_AGE_MS ? asOf : null;
}

/** Writes the book values (by feature name, unprefixed) at out[offset...]; NaN (missing) where there is no row or no value. */
export function bookValues(book: BookFeatures | null, bookNames: readonly string[], out: Float64Array, offset: number): void {
  for (let j = 0; j < bookNames.length; j++) {
    const v = book?.features[bookNames[j] as string];
    out[offset + j] = v === null || v === undefined || !Number.isFinite(v) ? Number.NaN : v;
  }
}

/** The feature vector of one row (technical then sentiment); null if a technical value is missing. */
export function featureVector(
  row: TechnicalFeatures,
  technicalNames: readonly string[],
  sentiment: SentimentFeatures | null,
  sentimentNames: readonly string[],
  out: Float64Array = new Float64Array(technicalNames.length + sentimentNames.length),
): Float64Array | null {
  for (let i = 0; i < technicalNames.length; i++) {
    const v = row.features[technicalNames[i] as string];
    if (v === null || v === undefined || !Number.isFinite(v)) return null;
    out[i] = v;
  }
  for (let j = 0; j < sentimentNames.length; j++) {
    const v = sentiment?.features[sentimentNames[j] as string];
    out[technicalNames.length + j] = v === null || v === undefined ? Number.NaN : v;
  }
  return out;
}
