/**
 * One WebSocket connection as a pull-based event queue, with a dead-connection watchdog:
 * if no frame (message, ping or pong) arrives within `deadAfterMs`, the socket is
 * terminated and the queue ends with `{ type: 'closed', cause: 'dead' }`.
 * Frames that arrive while the owner is busy (e.g. healing from REST) wait in the queue.
 */
import WebSocket from 'ws';

export type WsEvent = { type: 'frame'; text: string } | { type: 'closed'; cause: 'dead' | 'closed' | 'error' | 'stopped'; detail: string };

export interface WsConnectionOptions {
  /** No frame for this long = dead. */
  deadAfterMs: number;
  /** Opening handshake timeout. Default deadAfterMs. */
  openTimeoutMs?: number;
  /** Monotonic ms for the watchdog. Default performance.now. */
  monotonicMs?: () => number;
}

export class WsConnection {
  private readonly queue: WsEvent[] = [];
  private waiter: ((e: WsEvent) => void) | null = null;
  private ended = false;
  private lastFrameAt: number;
  private readonly watchdog: NodeJS.Timeout;
  private readonly mono: () => number;

  private constructor(
    private readonly ws: WebSocket,
    private readonly opts: WsConnectionOptions,
  ) {
    this.mono = opts.monotonicMs ?? (() => performance.now());
    this.lastFrameAt = this.mono();
    const alive = (): void => {
      this.lastFrameAt = this.mono();
    };
    ws.on('message', (data: WebSocket.RawData) => {
      alive();
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      this.push({ type: 'frame', text });
    });
    ws.on('ping', alive);
    ws.on('pong', alive);
    ws.on('close', (code, reason) => this.end({ type: 'closed', cause: 'closed', detail: `close ${code} ${reason.toString()}`.trim() }));
    ws.on('error', (err) => this.end({ type: 'closed', cause: 'error', detail: err.message }));
    const every = Math.max(5, Math.min(1000, Math.floor(opts.deadAfterMs / 4)));
    this.watchdog = setInterval(() => {
      if (this.mono() - this.lastFrameAt > opts.deadAfterMs) {
        this.end({ type: 'closed', cause: 'dead', detail: `no frame for ${opts.deadAfterMs} ms` });
      }
    }, every);
    this.watchdog.unref();
  }

  /** Connect; rejects if the handshake fails or times out. */
  static open(url: string, opts: WsConnectionOptions): Promise<WsConnection> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: opts.openTimeoutMs ?? opts.deadAfterMs, perMessageDeflate: false });
      const fail = (err: Error): void => {
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(err);
      };
      ws.once('error', fail);
      ws.once('unexpected-response', (_req, res) => fail(new Error(`unexpected HTTP ${res.statusCode} on WebSocket upgrade`)));
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.removeAllListeners('unexpected-response');
        resolve(new WsConnection(ws, opts));
      });
    });
  }

  send(text: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  /** Next event; after a 'closed' event every call returns that same event. */
  next(): Promise<WsEvent> {
    const e = this.queue.shift();
    if (e) {
      if (e.type === 'closed') this.queue.unshift(e);
      return Promise.resolve(e);
    }
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** Frames (and a final close) already received and not yet taken. */
  pending(): readonly WsEvent[] {
    return this.queue;
  }

  close(cause: 'stopped' | 'dead' = 'stopped', detail = 'closed by client'): void {
    this.end({ type: 'closed', cause, detail });
  }

  private push(e: WsEvent): void {
    if (this.ended) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(e);
    } else this.queue.push(e);
  }

  private end(e: WsEvent & { type: 'closed' }): void {
    if (this.ended) return;
    this.push(e);
    this.ended = true;
    clearInterval(this.watchdog);
    this.ws.removeAllListeners('message');
    this.ws.on('error', () => undefined);
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}
