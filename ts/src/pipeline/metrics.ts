/** Metrics of the market-data feature pipeline (prom-client default registry). */
import { Counter, Gauge } from 'prom-client';
import { once } from '../ops/metrics.ts';

const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => once(name, () => new Counter<L>({ name, help, labelNames }));
const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) => once(name, () => new Gauge<L>({ name, help, labelNames }));

export const candlesClosed = () => counter('tickcast_candles_closed_total', 'Candles closed by the candles service', ['pair', 'filled'] as const);
export const lateTrades = () =>
  counter('tickcast_late_trades_total', 'Trades that arrived after their window closed (reported to dlq.trades, not merged)', ['pair'] as const);
export const duplicateTrades = () => counter('tickcast_duplicate_trades_total', 'Trades ignored as duplicates (same trade id)', ['pair'] as const);
export const featureRows = () => counter('tickcast_feature_rows_total', 'Technical feature rows produced', ['pair'] as const);
export const duplicateCandles = () =>
  counter('tickcast_duplicate_candles_total', 'Candles at or before the last one of their pair (replays), ignored', ['pair'] as const);
export const lastCandleEnd = () => gauge('tickcast_last_candle_end_seconds', 'window_end of the newest candle per pair (event time)', ['pair'] as const);
export const lastFeatureEnd = () => gauge('tickcast_last_feature_end_seconds', 'window_end of the newest feature row per pair', ['pair'] as const);
export const ingestPublishFailures = () =>
  counter('tickcast_ingest_publish_failures_total', 'Publishes of trades that failed and were retried (the broker away)', ['source'] as const);
export const ingestOutages = () => counter('tickcast_ingest_outages_total', 'Periods during which publishing trades failed (each retried until it worked)', ['source'] as const);
export const ingestOutboxSize = () => gauge('tickcast_ingest_outbox_messages', 'Trades and heartbeats waiting in the ingest outbox for the broker', ['source'] as const);
