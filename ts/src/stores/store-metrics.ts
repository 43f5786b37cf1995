/**
 * Store metrics on prom-client's global register, created once per process
 * (getSingleMetric guard). The latency histogram is ts/src/ops/metrics.ts's.
 */
import { Counter, register } from 'prom-client';

/**
 * Write latency per batch, retries included. Labels: store = backend
 * ('sqlite' | 'elasticsearch'), op = series name ('features-technical',
 * 'features-sentiment', 'candles', 'predictions', 'prediction-errors').
 */
export { storeWriteSeconds } from '../ops/metrics.ts';

/** Attempts of a write that failed with a retryable error and were retried. */
export function storeWriteRetries(): Counter<'store' | 'op'> {
  const name = 'tickcast_store_write_retries_total';
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Counter<'store' | 'op'>;
  return new Counter({ name, help: 'Store write attempts retried after a retryable failure', labelNames: ['store', 'op'] });
}

/** Documents rejected by validation or by the store. */
export function storeRejectedDocuments(): Counter<'store' | 'op'> {
  const name = 'tickcast_store_rejected_documents_total';
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Counter<'store' | 'op'>;
  return new Counter({ name, help: 'Documents not written because they were invalid or refused', labelNames: ['store', 'op'] });
}
