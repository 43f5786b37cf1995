/**
 * The order-book features the REST API reads (GET /v1/features/book): a small interface over
 * the feature store's `book` series, so route tests can inject their own.
 */
import type { BookFeatures } from '../contracts/messages.ts';
import type { ExchangePairInterval, FeatureStore } from '../stores/types.ts';

export interface BookFeaturesSource {
  /** Every book series (exchange, pair, interval) with its newest row's window_end_ms. */
  series(): Promise<(ExchangePairInterval & { latest_ms: number })[]>;
  /** The newest rows of one series, newest first. */
  newestFirst(sel: ExchangePairInterval, limit: number): Promise<BookFeatures[]>;
}

/** The book features of a FeatureStore (SQLite or Elasticsearch). */
export function bookFeaturesFromStore(store: FeatureStore): BookFeaturesSource {
  return {
    series: async () => (await store.book.latestAll()).map((r) => ({ exchange: r.exchange, pair: r.pair, interval_s: r.interval_s, latest_ms: r.window_end_ms })),
    newestFirst: (sel, limit) => store.book.range(sel, { order: 'desc', limit }),
  };
}
