/**
 * The prediction history the REST API reads: a small interface over the
 * prediction store, so route tests can inject their own.
 */
import type { Prediction } from '../contracts/messages.ts';
import type { PredictionStore } from '../stores/types.ts';

export interface HistoryRange {
  from_ms?: number;
  to_ms?: number;
  /** At most this many rows, newest made_at first. */
  limit: number;
  model_version?: string;
}

export interface PredictionHistory {
  /** Predictions of a pair with from_ms <= made_at_ms <= to_ms, newest first (ties in a stable order). */
  newestFirst(pair: string, q: HistoryRange): Promise<Prediction[]>;
}

/** The history of a PredictionStore (SQLite or Elasticsearch). */
export function historyFromStore(store: PredictionStore): PredictionHistory {
  return {
    newestFirst: (pair, q) =>
      store.predictions.range(
        { pair, ...(q.model_version !== undefined ? { model_version: q.model_version } : {}) },
        {
          ...(q.from_ms !== undefined ? { from_ms: q.from_ms } : {}),
          ...(q.to_ms !== undefined ? { to_ms: q.to_ms } : {}),
          order: 'desc',
          limit: q.limit,
        },
      ),
  };
}
