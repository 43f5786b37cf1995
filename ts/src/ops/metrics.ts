/**
 * The process metrics, on prom-client's default `register` (served at /metrics).
 * Each metric is created once per process: every helper returns the registered
 * instance if it exists (modules may be loaded twice under test runners).
 * Names: tickcast_<what>_<unit>, counters end in _total.
 */
import { register, Counter, Gauge, Histogram, collectDefaultMetrics, type Metric } from 'prom-client';

/** The registered metric of this name, or a new one from `make` (once per process). */
export function once<M extends Metric<string>>(name: string, make: () => M): M {
  return (register.getSingleMetric(name) as M | undefined) ?? make();
}

/** Messages read from a stream by a consumer group (valid or not). */
export function messagesIn(): Counter<'topic' | 'group'> {
  return once('tickcast_bus_messages_in_total', () =>
    new Counter({ name: 'tickcast_bus_messages_in_total', help: 'Messages received from a stream, per topic and consumer group', labelNames: ['topic', 'group'] }),
  );
}

/** Messages handled successfully by a consumer group. */
export function messagesProcessed(): Counter<'topic' | 'group'> {
  return once('tickcast_bus_messages_processed_total', () =>
    new Counter({ name: 'tickcast_bus_messages_processed_total', help: 'Messages whose handler completed, per topic and consumer group', labelNames: ['topic', 'group'] }),
  );
}

/** Messages published to a stream. */
export function messagesOut(): Counter<'topic'> {
  return once('tickcast_bus_messages_out_total', () =>
    new Counter({ name: 'tickcast_bus_messages_out_total', help: 'Messages published to a stream, per topic', labelNames: ['topic'] }),
  );
}

/** Messages a consumer group rejected (invalid or failing handler), by kind of reason. */
export function messagesRejected(): Counter<'topic' | 'group' | 'reason_kind'> {
  return once('tickcast_bus_rejected_total', () =>
    new Counter({ name: 'tickcast_bus_rejected_total', help: 'Messages rejected by a consumer group, per topic and kind of reason', labelNames: ['topic', 'group', 'reason_kind'] }),
  );
}

/** Dead letters written, per source topic and kind of reason. */
export function deadLetters(): Counter<'topic' | 'reason_kind'> {
  return once('tickcast_dead_letters_total', () =>
    new Counter({ name: 'tickcast_dead_letters_total', help: 'Messages sent to dlq.<topic>, per topic and kind of reason', labelNames: ['topic', 'reason_kind'] }),
  );
}

/** Handler retries (a retry that then succeeds is not a rejection). */
export function handlerRetries(): Counter<'topic' | 'group'> {
  return once('tickcast_bus_handler_retries_total', () =>
    new Counter({ name: 'tickcast_bus_handler_retries_total', help: 'Retries of a failing message handler', labelNames: ['topic', 'group'] }),
  );
}

/** Messages in a stream not yet processed by a consumer group. */
export function consumerLag(): Gauge<'topic' | 'group'> {
  return once('tickcast_bus_consumer_lag_messages', () =>
    new Gauge({ name: 'tickcast_bus_consumer_lag_messages', help: 'Messages not yet processed by a consumer group (Kafka: end offset minus committed offset; in-process: queue length)', labelNames: ['topic', 'group'] }),
  );
}

/** Store write latency; the stores record every write with labels store (sqlite|elasticsearch|…) and op. */
export function storeWriteSeconds(): Histogram<'store' | 'op'> {
  return once('tickcast_store_write_seconds', () =>
    new Histogram({
      name: 'tickcast_store_write_seconds',
      help: 'Latency of one acknowledged batch write to a store, retries included',
      labelNames: ['store', 'op'],
      // Same buckets as ts/src/stores/store-metrics.ts: whichever module runs first registers it.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    }),
  );
}

/** 1 while a service is started, 0 otherwise. */
export function serviceUp(): Gauge<'service'> {
  return once('tickcast_service_up', () =>
    new Gauge({ name: 'tickcast_service_up', help: '1 while the service is started', labelNames: ['service'] }),
  );
}

let defaultsOn = false;
/** Node process metrics (CPU, memory, event loop lag) with the tickcast_ prefix; once per process. */
export function enableProcessMetrics(): void {
  if (defaultsOn || register.getSingleMetric('tickcast_process_cpu_user_seconds_total')) return;
  defaultsOn = true;
  collectDefaultMetrics({ prefix: 'tickcast_' });
}

export { register };
