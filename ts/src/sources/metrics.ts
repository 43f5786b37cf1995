/** Source metrics, created once per process in prom-client's default register. */
import { Counter, register } from 'prom-client';

function counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames });
}

/** Input rejected by a source (sent to dlq.trades by the wiring). `reason` is a RejectKind. */
export const rejectedTotal = (): Counter<'source' | 'reason'> =>
  counter('tickcast_source_rejected_total', 'Exchange input rejected by a trade source', ['source', 'reason']);

/** Pairs an exchange refused to subscribe (the source goes on without them). */
export const subscribeRejectedTotal = (): Counter<'source' | 'pair'> =>
  counter('tickcast_source_subscribe_rejected_total', 'Pairs an exchange refused to subscribe (left out, the others go on)', ['source', 'pair']);

/** Trades emitted by a source. */
export const tradesTotal = (): Counter<'source' | 'pair'> =>
  counter('tickcast_source_trades_total', 'Trades emitted by a trade source', ['source', 'pair']);

/** Reconnects of a live source (connection lost, dead, or refused). */
export const reconnectsTotal = (): Counter<'source' | 'cause'> =>
  counter('tickcast_source_reconnects_total', 'Reconnects of a live trade source', ['source', 'cause']);

/** Trades recovered from REST after a disconnect. */
export const healedTotal = (): Counter<'source' | 'pair'> =>
  counter('tickcast_source_healed_trades_total', 'Trades recovered from REST after a disconnect', ['source', 'pair']);

/** Trade-id gaps a source saw and could not heal (missing trades, by count of ids skipped). */
export const gapTradesTotal = (): Counter<'source' | 'pair'> =>
  counter('tickcast_source_gap_trades_total', 'Trade ids skipped in a stream and not healed', ['source', 'pair']);

/** REST retries (rate limit, 5xx, network). */
export const restRetriesTotal = (): Counter<'source' | 'cause'> =>
  counter('tickcast_source_rest_retries_total', 'REST requests retried by a trade source', ['source', 'cause']);
