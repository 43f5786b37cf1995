/**
 * Websocket clients for the API tests over real sockets: `connect` (the `ws`
 * package) and `rawClient` (RFC 6455 by hand over TCP, which can stop
 * reading entirely).
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import type { ServerFrame } from '../../src/api/ws-frames.ts';
import { until } from './helpers.ts';

export interface Conn {
  ws: WebSocket;
  frames: ServerFrame[];
  closed: Promise<{ code: number; reason: string }>;
  of<T extends ServerFrame['type']>(type: T): Extract<ServerFrame, { type: T }>[];
  send(v: unknown): void;
}

/**
 * A websocket client written by hand over TCP (RFC 6455), independent of the
 * `ws` package: it can stop reading entirely, then parse what it was sent.
 */
export async function rawClient(url: string): Promise<{
  subscribe(pair: string): void;
  /** Write client text frames (JSON of each value) in one TCP write, without reading anything. */
  send(...values: unknown[]): void;
  /** Drop the connection without a close handshake. */
  destroy(): void;
  readAll(): Promise<{ frames: ServerFrame[]; close: { code: number; reason: string } | null }>;
}> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const key = randomBytes(16).toString('base64');
  socket.write(`GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  // Read only the handshake response, then pause: nothing more is read until readAll().
  let buf = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const head = buf.subarray(0, end).toString();
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(head));
      buf = buf.subarray(end + 4);
      resolve();
    };
    socket.on('data', onData);
  });
  const frame = (v: unknown): Buffer => {
    const payload = Buffer.from(JSON.stringify(v));
    const mask = randomBytes(4);
    const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
    const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    return Buffer.concat([head, mask, masked]);
  };
  return {
    subscribe(pair) {
      socket.write(frame({ op: 'subscribe', pairs: [pair] }));
    },
    send(...values) {
      socket.write(Buffer.concat(values.map(frame)));
    },
    destroy() {
      socket.destroy();
    },
    /** Resume reading; resolve at the close frame (or when the socket closes). */
    async readAll() {
      let all = buf;
      const frames: ServerFrame[] = [];
      let close: { code: number; reason: string } | null = null;
      let at = 0;
      const parse = () => {
        while (close === null && at + 2 <= all.length) {
          const opcode = (all[at] as number) & 0x0f;
          let len = (all[at + 1] as number) & 0x7f;
          let off = at + 2;
          if (len === 126) {
            if (off + 2 > all.length) return;
            len = all.readUInt16BE(off);
            off += 2;
          } else if (len === 127) {
            if (off + 8 > all.length) return;
            len = Number(all.readBigUInt64BE(off));
            off += 8;
          }
          if (off + len > all.length) return;
          const payload = all.subarray(off, off + len);
          if (opcode === 0x1) frames.push(JSON.parse(payload.toString()) as ServerFrame);
          if (opcode === 0x8) close = { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() };
          at = off + len;
        }
      };
      await new Promise<void>((resolve) => {
        socket.on('data', (d: Buffer) => {
          all = Buffer.concat([all.subarray(at), d]);
          at = 0;
          parse();
          if (close) resolve();
        });
        socket.once('close', () => resolve());
        parse();
        if (close) resolve();
        socket.resume();
      });
      socket.destroy();
      return { frames, close };
    },
  };
}

export async function connect(url: string, opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<Conn> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws`, opts);
  const frames: ServerFrame[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as ServerFrame));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await until(() => frames.some((f) => f.type === 'hello'), 'hello frame');
  return {
    ws,
    frames,
    closed,
    of: (type) => frames.filter((f) => f.type === type) as never,
    send: (v) => ws.send(typeof v === 'string' ? v : JSON.stringify(v)),
  };
}
