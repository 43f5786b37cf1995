/**
 * A small typed client of the tickcast API.
 *
 *   const api = new TickcastClient({ baseUrl: 'http://127.0.0.1:8000' });
 *   const { prediction, stale } = await api.latest('BTC/USD');
 *
 *   const live = api.stream({ pairs: ['BTC/USD'] });
 *   live.on('prediction', (p) => console.log(p.predicted_price));
 *   // ... live.close();
 *
 * The stream reconnects by itself (exponential backoff with jitter) and
 * subscribes again to the pairs it had. Every frame is validated against the
 * server's frame schemas; an invalid one is reported on 'invalid', not thrown.
 */
import { WebSocket } from 'ws';
import { validatorOf } from '../contracts/codec.ts';
import type { Candle, Prediction, PredictionError } from '../contracts/messages.ts';
import type { ErrorBody } from '../api/api-error.ts';
import type { HistoryReply, LatestReply, MonitoringQuery, MonitoringReply, PairsReply, ProductionModelInfo } from '../api/schemas.ts';
import { ServerFrame, WS_PATH, type ErrorFrame, type SnapshotFrame } from '../api/ws-frames.ts';

/** An error answer of the API: the HTTP status and the API's error code. */
export class TickcastApiError extends Error {
  override readonly name = 'TickcastApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  /** e.g. http://127.0.0.1:8000 */
  baseUrl: string;
  apiKey?: string;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

export interface HistoryParams {
  pair: string;
  /** Epoch ms or ISO 8601. */
  from?: number | string;
  to?: number | string;
  limit?: number;
  cursor?: string;
  model_version?: string;
}

export class TickcastClient {
  private readonly base: string;
  constructor(private readonly opts: ClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  private async get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const res = await fetch(url, {
      headers: { accept: 'application/json', ...(this.opts.apiKey ? { 'x-api-key': this.opts.apiKey } : {}) },
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new TickcastApiError(res.status, 'BAD_RESPONSE', `${res.status} from ${path}: not JSON`);
    }
    if (!res.ok) {
      const e = (body as Partial<ErrorBody>).error;
      throw new TickcastApiError(res.status, e?.code ?? 'HTTP_ERROR', e?.message ?? `${res.status} from ${path}`);
    }
    return body as T;
  }

  latest(pair: string): Promise<LatestReply> {
    return this.get('/v1/predictions/latest', { pair });
  }

  history(p: HistoryParams): Promise<HistoryReply> {
    return this.get('/v1/predictions', { ...p });
  }

  /** Every page of a history query, newest first. */
  async *historyAll(p: Omit<HistoryParams, 'cursor'>): AsyncGenerator<Prediction> {
    let cursor: string | undefined;
    do {
      const page = await this.history({ ...p, ...(cursor ? { cursor } : {}) });
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  pairs(): Promise<PairsReply> {
    return this.get('/v1/pairs');
  }

  /** The production model of a pair (default: the first pair the service serves). */
  productionModel(pair?: string): Promise<ProductionModelInfo> {
    return this.get('/v1/models/production', { pair });
  }

  /** The live prediction-error summary (rolling MAE, direction accuracy, MAE vs the persistence baseline). */
  monitoring(q: MonitoringQuery = {}): Promise<MonitoringReply> {
    return this.get('/v1/monitoring', { ...q });
  }

  stream(opts: Omit<StreamOptions, 'url' | 'apiKey'> = {}): TickcastStream {
    return new TickcastStream({ ...opts, url: this.base.replace(/^http/, 'ws') + WS_PATH, ...(this.opts.apiKey ? { apiKey: this.opts.apiKey } : {}) });
  }
}

export interface StreamOptions {
  /** ws://host:port/v1/ws */
  url: string;
  apiKey?: string;
  /** Pairs to subscribe to from the start. */
  pairs?: readonly string[];
  /** First reconnect delay (default 250 ms); doubles up to maxDelayMs (default 15 s), with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Random in [0, 1) (injectable for tests). */
  random?: () => number;
}

export interface StreamEvents {
  open: [];
  /** The connection ended; `willRetryInMs` is null after close(). */
  close: [info: { code: number; reason: string; willRetryInMs: number | null }];
  snapshot: [frame: SnapshotFrame];
  prediction: [p: Prediction];
  candle: [c: Candle];
  prediction_error: [e: PredictionError];
  subscribed: [pairs: string[]];
  /** The server reported a problem with something we sent. */
  server_error: [frame: ErrorFrame];
  /** A frame that does not match the protocol. */
  invalid: [raw: string, reason: string];
}

type Listener<K extends keyof StreamEvents> = (...args: StreamEvents[K]) => void;

const checkFrame = validatorOf(ServerFrame);

export class TickcastStream {
  private ws: WebSocket | null = null;
  private readonly wanted = new Set<string>();
  private readonly listeners = new Map<keyof StreamEvents, Set<(...a: never[]) => void>>();
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Connections opened so far (1 + reconnects). */
  connects = 0;

  constructor(private readonly opts: StreamOptions) {
    for (const p of opts.pairs ?? []) this.wanted.add(p);
    this.connect();
  }

  on<K extends keyof StreamEvents>(event: K, fn: Listener<K>): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as (...a: never[]) => void);
    return this;
  }

  off<K extends keyof StreamEvents>(event: K, fn: Listener<K>): this {
    this.listeners.get(event)?.delete(fn as (...a: never[]) => void);
    return this;
  }

  private emit<K extends keyof StreamEvents>(event: K, ...args: StreamEvents[K]): void {
    for (const fn of this.listeners.get(event) ?? []) (fn as Listener<K>)(...args);
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** The pairs this stream keeps subscribed (across reconnects). */
  get pairs(): string[] {
    return [...this.wanted];
  }

  subscribe(pairs: readonly string[]): void {
    for (const p of pairs) this.wanted.add(p);
    this.send({ op: 'subscribe', pairs });
  }

  unsubscribe(pairs: readonly string[]): void {
    for (const p of pairs) this.wanted.delete(p);
    this.send({ op: 'unsubscribe', pairs });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close(1000, 'client closing');
  }

  private send(frame: { op: string; pairs: readonly string[] }): void {
    if (frame.pairs.length > 0 && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private connect(): void {
    const ws = new WebSocket(this.opts.url, this.opts.apiKey ? { headers: { 'x-api-key': this.opts.apiKey } } : {});
    this.ws = ws;
    ws.on('open', () => {
      this.attempt = 0;
      this.connects++;
      this.send({ op: 'subscribe', pairs: [...this.wanted] });
      this.emit('open');
    });
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('error', () => {
      // 'close' follows and schedules the reconnect.
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const delay = this.closed ? null : this.nextDelay();
      this.emit('close', { code, reason: String(reason), willRetryInMs: delay });
      if (delay !== null) {
        this.timer = setTimeout(() => {
          this.timer = null;
          if (!this.closed) this.connect();
        }, delay);
      }
    });
  }

  private nextDelay(): number {
    const base = this.opts.baseDelayMs ?? 250;
    const max = this.opts.maxDelayMs ?? 15_000;
    const full = Math.min(max, base * 2 ** Math.min(this.attempt++, 20));
    return Math.round(full / 2 + (full / 2) * (this.opts.random ?? Math.random)());
  }

  private onMessage(raw: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return this.emit('invalid', raw, 'not JSON');
    }
    if (!checkFrame.Check(parsed)) {
      const first = [...checkFrame.Errors(parsed)][0];
      return this.emit('invalid', raw, first ? `${first.path}: ${first.message}` : 'not a server frame');
    }
    const f = parsed;
    switch (f.type) {
      case 'snapshot':
        return this.emit('snapshot', f);
      case 'prediction':
        return this.emit('prediction', f.data);
      case 'candle':
        return this.emit('candle', f.data);
      case 'prediction_error':
        return this.emit('prediction_error', f.data);
      case 'subscribed':
        return this.emit('subscribed', f.pairs);
      case 'error':
        return this.emit('server_error', f);
      default:
        return;
    }
  }
}
