/**
 * The websocket push API on /v1/ws, served on the same HTTP server as the
 * REST API (the `ws` package's handleUpgrade on fastify's server). Clients
 * subscribe per pair (see ws-frames.ts). Each published message is serialised
 * and framed once, and that one buffer is written to the socket of every
 * subscriber of its pair (see broadcast(): the writes themselves are made by
 * the native fan-out of @tickcast/fanout, over a few threads, for every plain
 * TCP socket with nothing queued). Every frame to a client, broadcast or
 * its own (snapshot, ack, error), is checked against its send buffer: one
 * whose unsent bytes pass `maxBufferedBytes` is disconnected (close 4000)
 * instead of slowing the others or growing memory, so a connection never
 * holds more than that plus one frame. A subscribe sends a snapshot only for
 * the pairs it newly adds; a client sending more than `maxMessagesPerSecond`
 * (bursts up to `messageBurst`) is disconnected (close 4029). A client that
 * misses a heartbeat ping is dropped; an invalid client message gets an
 * error frame (and counts against the rate).
 */
import type { IncomingMessage, Server } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { defaultThreads, writeToSockets } from '@tickcast/fanout';
import type { Logger } from 'pino';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Candle, Prediction, PredictionError } from '../contracts/messages.ts';
import { validate } from '../contracts/codec.ts';
import type { LiveCache } from './live-cache.ts';
import { wsClients, wsDisconnects, wsFanoutWrites, wsFramesSent, wsInvalidMessages } from './api-metrics.ts';
import { ClientFrame, WS_CLOSE, WS_PATH, textFrame, type ServerFrame } from './ws-frames.ts';

export interface WsHubOptions {
  cache: LiveCache;
  logger: Logger;
  /** Ping interval; a client that has not answered the previous ping is dropped (default 30 s). */
  heartbeatMs?: number;
  /** A client whose unsent bytes exceed this is disconnected with close code 4000 (default 4 MiB). */
  maxBufferedBytes?: number;
  /** Largest client message accepted (default 16 KiB; larger closes with 1009). */
  maxPayloadBytes?: number;
  /** Once a close frame is queued, how long the client has to finish the close handshake (default 5 s). */
  closeGraceMs?: number;
  /** Client messages per second a connection may send on average (default 10); over it: close 4029. */
  maxMessagesPerSecond?: number;
  /** Messages a connection may send at once before the average applies (default 20). */
  messageBurst?: number;
  /** Decides whether an upgrade request may connect (API keys, rate limit): true, or false / the HTTP status line to refuse with (false: 401); default: everyone. */
  authorize?: (req: IncomingMessage) => boolean | string;
  /**
   * Threads the native fan-out may use to write one broadcast (default: the
   * CPUs this process may use, at most 4; it uses one per 256 sockets at
   * most). 0 turns the native fan-out off: every frame goes through each
   * socket's own write queue.
   */
  fanoutThreads?: number;
}

/** The libuv stream handle behind a net.Socket (undocumented; `fd` is -1 or absent where there is none). */
type WithHandle = { _handle?: { fd?: number } | null };

/** A plain TCP socket: one the native fan-out may write to (not TLS: the bytes would bypass the encryption). */
const isPlainTcp = (socket: Duplex): boolean => socket instanceof Socket && !(socket instanceof TLSSocket);

/**
 * The descriptor a broadcast may be written to directly: a plain TCP socket
 * (`plainTcp`, decided once per connection), open, with nothing queued in
 * Node (so a direct write cannot overtake earlier bytes). Else -1.
 */
function directFd(socket: Duplex, plainTcp: boolean): number {
  if (!plainTcp || socket.destroyed || !socket.writable || socket.writableLength !== 0) return -1;
  const fd = (socket as unknown as WithHandle)._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

interface ClientState {
  ws: WebSocket;
  /** The connection's TCP socket (the one `ws` writes to): broadcasts write their pre-built frame here. */
  socket: Duplex;
  /** The socket is plain TCP: broadcasts may go through the native fan-out. */
  plainTcp: boolean;
  alive: boolean;
  pairs: Set<string>;
  /** Why the server ended it (for the metric), if it did. */
  endedBy: string | null;
  remote: string;
  /** Message budget (token bucket): tokens left, and when it was last refilled (ms). */
  tokens: number;
  refilledAt: number;
}

export type DisconnectReason = 'client' | 'slow_consumer' | 'too_many_messages' | 'heartbeat' | 'shutdown' | 'error';

export class WsHub {
  private readonly wss: WebSocketServer;
  private readonly clients = new Map<WebSocket, ClientState>();
  private readonly subscribers = new Map<string, Set<ClientState>>();
  private readonly log: Logger;
  private readonly heartbeatMs: number;
  private readonly maxBuffered: number;
  private readonly closeGraceMs: number;
  private readonly msgRate: number;
  private readonly msgBurst: number;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly fanoutThreads: number;
  /** Scratch space of the native fan-out, grown to the largest broadcast. */
  private fds = new Int32Array(256);
  private outcomes = new Int32Array(256);
  private direct: Duplex[] = [];

  constructor(private readonly opts: WsHubOptions) {
    this.log = opts.logger.child({ component: 'ws-hub' });
    this.heartbeatMs = opts.heartbeatMs ?? 30_000;
    this.maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.closeGraceMs = opts.closeGraceMs ?? 5_000;
    this.msgRate = opts.maxMessagesPerSecond ?? 10;
    this.msgBurst = Math.max(1, opts.messageBurst ?? 20);
    this.fanoutThreads = Math.max(0, Math.floor(opts.fanoutThreads ?? defaultThreads()));
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: opts.maxPayloadBytes ?? 16 * 1024,
    });
    for (const pair of opts.cache.pairs) this.subscribers.set(pair, new Set());
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Serve upgrades of `server` on /v1/ws (other paths get 404). */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
  }

  /** Open connections (a dropped client counts until its close handshake ends). */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Connections subscribed to a pair. */
  subscriberCount(pair: string): number {
    return this.subscribers.get(pair)?.size ?? 0;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0];
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      socket.destroy();
    };
    if (path !== WS_PATH) return refuse('404 Not Found');
    if (this.closed) return refuse('503 Service Unavailable');
    const verdict = this.opts.authorize ? this.opts.authorize(req) : true;
    if (verdict !== true) return refuse(verdict === false ? '401 Unauthorized' : verdict);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req, socket));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, socket: Duplex): void {
    const state: ClientState = {
      ws,
      socket,
      plainTcp: isPlainTcp(socket),
      alive: true,
      pairs: new Set(),
      endedBy: null,
      remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      tokens: this.msgBurst,
      refilledAt: Date.now(),
    };
    this.clients.set(ws, state);
    wsClients().set(this.clients.size);
    ws.on('pong', () => {
      state.alive = true;
    });
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(ws, state, data, isBinary));
    ws.on('error', (err) => {
      this.log.debug({ err, remote: state.remote }, 'websocket error');
      state.endedBy ??= 'error';
    });
    ws.on('close', () => this.forget(ws, state));
    this.send(ws, {
      type: 'hello',
      pairs: [...this.opts.cache.pairs],
      heartbeat_ms: this.heartbeatMs,
      server_time_ms: Date.now(),
    });
  }

  /** Take one message from the connection's budget; false when it has none left. */
  private withinRate(state: ClientState): boolean {
    const now = Date.now();
    state.tokens = Math.min(this.msgBurst, state.tokens + ((now - state.refilledAt) / 1000) * this.msgRate);
    state.refilledAt = now;
    if (state.tokens < 1) return false;
    state.tokens -= 1;
    return true;
  }

  private onMessage(ws: WebSocket, state: ClientState, data: RawData, isBinary: boolean): void {
    // Messages already read after the server ended the connection are ignored.
    if (state.endedBy !== null || ws.readyState !== WebSocket.OPEN) return;
    if (!this.withinRate(state)) {
      return this.drop(ws, 'too_many_messages', WS_CLOSE.TOO_MANY_MESSAGES, `too many messages: at most ${this.msgRate} per second (bursts of ${this.msgBurst})`);
    }
    if (isBinary) return this.invalid(ws, 'INVALID_MESSAGE', 'binary frames are not accepted: send JSON text');
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString());
    } catch {
      return this.invalid(ws, 'INVALID_MESSAGE', 'not JSON: expected {"op":"subscribe"|"unsubscribe","pairs":["BTC/USD"]}');
    }
    const v = validate(ClientFrame, parsed);
    if (!v.ok) {
      return this.invalid(ws, 'INVALID_MESSAGE', `expected {"op":"subscribe"|"unsubscribe","pairs":[...]} (${v.reason})`);
    }
    const frame = v.value;
    const unknown = frame.pairs.filter((p) => !this.opts.cache.has(p));
    if (unknown.length > 0) {
      return this.invalid(ws, 'UNKNOWN_PAIR', `unknown pair(s): ${unknown.join(', ')}; served: ${this.opts.cache.pairs.join(', ')}`);
    }
    const pairs = [...new Set(frame.pairs)];
    if (frame.op === 'subscribe') {
      // A snapshot only for the pairs this adds: subscribing again to a pair costs an ack, not its history.
      const added = pairs.filter((p) => !state.pairs.has(p));
      for (const p of added) {
        state.pairs.add(p);
        this.subscribers.get(p)?.add(state);
      }
      if (!this.send(ws, { type: 'subscribed', pairs })) return;
      for (const p of added) {
        const snap = this.opts.cache.snapshot(p);
        if (snap && !this.send(ws, { type: 'snapshot', ...snap })) return;
      }
    } else {
      for (const p of pairs) {
        state.pairs.delete(p);
        this.subscribers.get(p)?.delete(state);
      }
      this.send(ws, { type: 'unsubscribed', pairs });
    }
  }

  private invalid(ws: WebSocket, code: 'INVALID_MESSAGE' | 'UNKNOWN_PAIR', message: string): void {
    wsInvalidMessages().inc();
    this.send(ws, { type: 'error', code, message });
  }

  /**
   * Send one frame to one client, bounded like a broadcast: a client whose
   * unsent bytes already pass the limit is dropped (4000) and gets nothing
   * more, so its queue never holds more than the limit plus one frame.
   * False when the frame was not sent.
   */
  private send(ws: WebSocket, frame: ServerFrame): boolean {
    if (ws.readyState !== WebSocket.OPEN) return false;
    const state = this.clients.get(ws);
    if (state?.endedBy) return false;
    if (ws.bufferedAmount > this.maxBuffered) {
      this.drop(ws, 'slow_consumer', WS_CLOSE.SLOW_CONSUMER, `slow consumer: more than ${this.maxBuffered} bytes unsent`);
      return false;
    }
    ws.send(JSON.stringify(frame));
    wsFramesSent().inc({ type: frame.type });
    return true;
  }

  /** Push a new prediction to the subscribers of its pair (the cache must hold it already). */
  publishPrediction(p: Prediction): void {
    this.broadcast(p.pair, { type: 'prediction', pair: p.pair, data: p });
  }

  publishCandle(c: Candle): void {
    this.broadcast(c.pair, { type: 'candle', pair: c.pair, data: c });
  }

  publishError(e: PredictionError): void {
    this.broadcast(e.pair, { type: 'prediction_error', pair: e.pair, data: e });
  }

  /**
   * Fan-out: the frame is serialised and framed once (one buffer: websocket
   * header + JSON). Sockets with something already queued in Node, or that
   * are not plain TCP, get it through `socket.write` (their own queue keeps
   * the order). The others (nearly all, nearly always) are written by the
   * native fan-out in one synchronous call, split over `fanoutThreads`
   * threads: almost all of a broadcast's cost is the kernel's send path, one
   * socket at a time, so it is the part worth spreading over the cores. The
   * JS thread waits for that call, so nothing else writes to those sockets
   * meanwhile; a socket whose send buffer was full (or that failed) gets the
   * rest of the frame through `socket.write` right after, so the bytes stay
   * in order and an error surfaces through the socket's usual error path.
   * Frames sent through `ws` (hello, snapshot, error) go to the same socket
   * (permessage-deflate is off), so they stay in order with these. The
   * slow-consumer rule is checked on the socket's unsent bytes (what
   * `ws.bufferedAmount` reports) before each write.
   */
  private broadcast(pair: string, frame: ServerFrame): void {
    const subs = this.subscribers.get(pair);
    if (!subs || subs.size === 0) return;
    const wire = textFrame(Buffer.from(JSON.stringify(frame), 'utf8'));
    const native = this.fanoutThreads > 0;
    if (native && this.fds.length < subs.size) {
      this.fds = new Int32Array(subs.size);
      this.outcomes = new Int32Array(subs.size);
    }
    const direct = this.direct;
    direct.length = 0;
    let sent = 0;
    let buffered = 0;
    for (const c of subs) {
      if (c.ws.readyState !== WebSocket.OPEN || c.endedBy !== null) continue;
      if (c.socket.writableLength > this.maxBuffered) {
        this.drop(c.ws, 'slow_consumer', WS_CLOSE.SLOW_CONSUMER, `slow consumer: more than ${this.maxBuffered} bytes unsent`);
        continue;
      }
      sent++;
      const fd = native ? directFd(c.socket, c.plainTcp) : -1;
      if (fd < 0) {
        c.socket.write(wire);
        buffered++;
        continue;
      }
      this.fds[direct.length] = fd;
      direct.push(c.socket);
    }
    if (direct.length > 0) {
      const n = direct.length;
      const out = this.outcomes;
      const whole = writeToSockets(wire, this.fds.subarray(0, n), out.subarray(0, n), this.fanoutThreads);
      if (whole < n) {
        for (let i = 0; i < n; i++) {
          const written = out[i] as number;
          if (written === wire.length) continue;
          // Full send buffer (written >= 0) or a failed send (-errno, nothing written).
          (direct[i] as Duplex).write(written > 0 ? wire.subarray(written) : wire);
          buffered++;
        }
      }
      direct.length = 0;
      wsFanoutWrites().inc({ path: 'direct' }, whole);
    }
    if (buffered > 0) wsFanoutWrites().inc({ path: 'buffered' }, buffered);
    if (sent > 0) wsFramesSent().inc({ type: frame.type }, sent);
  }

  /** End a connection from the server side: no more frames to it, a close frame, and a hard stop if it does not answer in time. */
  private drop(ws: WebSocket, reason: DisconnectReason, code: number, text: string): void {
    const state = this.clients.get(ws);
    if (state) {
      state.endedBy ??= reason;
      this.unsubscribeAll(ws, state);
      this.log.info({ remote: state.remote, reason, buffered_bytes: ws.bufferedAmount }, 'dropping websocket client');
    }
    ws.close(code, text);
    setTimeout(() => ws.terminate(), this.closeGraceMs).unref();
  }

  private beat(): void {
    for (const [ws, state] of this.clients) {
      if (!state.alive) {
        state.endedBy ??= 'heartbeat';
        this.unsubscribeAll(ws, state);
        this.log.info({ remote: state.remote }, 'websocket client missed a heartbeat: dropped');
        ws.terminate();
        continue;
      }
      state.alive = false;
      try {
        ws.ping();
      } catch {
        // Socket already closing: the close event cleans up.
      }
    }
  }

  private unsubscribeAll(ws: WebSocket, state: ClientState): void {
    for (const p of state.pairs) this.subscribers.get(p)?.delete(state);
    state.pairs.clear();
  }

  private forget(ws: WebSocket, state: ClientState): void {
    if (!this.clients.delete(ws)) return;
    this.unsubscribeAll(ws, state);
    wsClients().set(this.clients.size);
    wsDisconnects().inc({ reason: state.endedBy ?? 'client' });
  }

  /** Close every connection (1001) and stop the heartbeat; resolves when all are gone (hard stop after closeGraceMs). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const pending = [...this.clients.keys()].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          this.drop(ws, 'shutdown', WS_CLOSE.GOING_AWAY, 'server shutting down');
        }),
    );
    await Promise.all(pending);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
