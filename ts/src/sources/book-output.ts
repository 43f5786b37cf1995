/**
 * What the order-book sources (kraken-book.ts, binance-depth.ts) hand on: closed minutes of
 * book features as BookFeatures messages, and (for `tickcast record`) the raw frames as
 * received. Also their metrics.
 */
import { Counter, register } from 'prom-client';
import type { BookMinute } from '@tickcast/book';
import { bookFeatureNames } from '@tickcast/book';
import type { BookFeatures } from '../contracts/messages.ts';

export const BOOK_INTERVAL_S = 60;
export const BOOK_FEATURE_NAMES: readonly string[] = bookFeatureNames();

/** Where a book source delivers. */
export interface BookSink {
  /** Closed minutes, in time order per pair. Awaited before the next (back-pressure). */
  bookFeatures(batch: BookFeatures[]): Promise<void>;
  /** Every frame exactly as received (text) with our receive time; for recording. */
  rawFrame?(source: string, recvMs: number, text: string): void;
  /** Input that was refused: the raw text and why. */
  reject(raw: string, reason: string): void;
}

/** A closed minute of the Rust book as the contract's message (NaN -> null). */
export function bookMessage(exchange: string, pair: string, m: BookMinute): BookFeatures {
  const features: Record<string, number | null> = {};
  BOOK_FEATURE_NAMES.forEach((name, i) => {
    const v = m.values[i]!;
    features[name] = Number.isFinite(v) ? v : null;
  });
  return { exchange, pair, interval_s: BOOK_INTERVAL_S, window_end_ms: m.minuteStartMs + BOOK_INTERVAL_S * 1000, features };
}

function counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames });
}

/** Kraken book messages whose CRC32 did not match our book (each one resubscribes the pair). */
export const bookChecksumFailuresTotal = (): Counter<'source' | 'pair'> =>
  counter('tickcast_book_checksum_failures_total', 'Order-book messages whose checksum did not match the local book', ['source', 'pair']);

/** Book resynchronisations: resubscribes (Kraken) or new REST snapshots (Binance), by cause. */
export const bookResyncsTotal = (): Counter<'source' | 'pair' | 'cause'> =>
  counter('tickcast_book_resyncs_total', 'Order-book resynchronisations (resubscribe or new snapshot)', ['source', 'pair', 'cause']);

/** Book messages applied (passed their checks). */
export const bookMessagesTotal = (): Counter<'source' | 'pair'> =>
  counter('tickcast_book_messages_total', 'Order-book messages applied after their checks', ['source', 'pair']);
