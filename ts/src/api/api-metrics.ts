/**
 * The API's metrics on prom-client's default register, each created once per
 * process. Names: tickcast_<what>_<unit>, counters end in _total.
 */
import { register, Counter, Gauge, Histogram, type Metric } from 'prom-client';

function once<M extends Metric<string>>(name: string, make: () => M): M {
  return (register.getSingleMetric(name) as M | undefined) ?? make();
}

export function httpRequestSeconds(): Histogram<'method' | 'route' | 'status'> {
  return once('tickcast_api_request_duration_seconds', () =>
    new Histogram({
      name: 'tickcast_api_request_duration_seconds',
      help: 'REST API request latency, per method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
  );
}

export function wsClients(): Gauge {
  return once('tickcast_api_ws_clients', () => new Gauge({ name: 'tickcast_api_ws_clients', help: 'Open websocket connections' }));
}

export function wsFramesSent(): Counter<'type'> {
  return once('tickcast_api_ws_frames_sent_total', () =>
    new Counter({ name: 'tickcast_api_ws_frames_sent_total', help: 'Websocket frames sent, per frame type', labelNames: ['type'] }),
  );
}

export function wsDisconnects(): Counter<'reason'> {
  return once('tickcast_api_ws_disconnects_total', () =>
    new Counter({
      name: 'tickcast_api_ws_disconnects_total',
      help: 'Websocket connections ended, per reason (client, slow_consumer, too_many_messages, heartbeat, shutdown, error)',
      labelNames: ['reason'],
    }),
  );
}

export function wsInvalidMessages(): Counter {
  return once('tickcast_api_ws_invalid_messages_total', () =>
    new Counter({ name: 'tickcast_api_ws_invalid_messages_total', help: 'Invalid client websocket messages answered with an error frame' }),
  );
}

export function wsFanoutWrites(): Counter<'path'> {
  return once('tickcast_api_ws_fanout_writes_total', () =>
    new Counter({
      name: 'tickcast_api_ws_fanout_writes_total',
      help: 'Broadcast frames written per socket, per path: direct (whole frame sent by the native fan-out), buffered (through the socket\'s own queue: TLS, bytes already queued, or a send buffer that was full)',
      labelNames: ['path'],
    }),
  );
}
