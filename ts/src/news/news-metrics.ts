/**
 * prom-client metrics of the news and sentiment modules, on the default global
 * registry, each created once per process (guarded by getSingleMetric).
 */
import { Counter, Histogram, register } from 'prom-client';

export function counterOnce<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames: [...labelNames] });
}

export function histogramOnce<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
): Histogram<L> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({ name, help, labelNames: [...labelNames], buckets });
}

export const newsMetrics = () => ({
  fetchErrors: counterOnce(
    'tickcast_news_fetch_errors_total',
    'News fetches that failed, by feed and kind (http, timeout, network, parse, truncated, emit)',
    ['feed', 'kind'] as const,
  ),
  fetches: counterOnce('tickcast_news_fetches_total', 'News fetches by feed and outcome (ok, not_modified, error)', [
    'feed',
    'outcome',
  ] as const),
  items: counterOnce('tickcast_news_items_total', 'New (not seen before) news items emitted, by feed', ['feed'] as const),
});
