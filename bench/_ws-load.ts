/**
 * The Node websocket load generator of bench/api.ts (BENCH_WS_LOAD=node; the
 * default is its native twin bench/wsload, which does the same at a fraction
 * of the CPU): N real websocket clients in one process, written over raw TCP
 * (RFC 6455) so that the clients' own per-message work stays small next to
 * the server's.
 *
 * Each client does what any client of /v1/ws does: the HTTP upgrade (the
 * server's Sec-WebSocket-Accept is checked), a masked text frame
 * {"op":"subscribe","pairs":[...]} when asked, then it reads the server's
 * frames by their headers (7/16/64-bit lengths, fragments refused), answers
 * pings with pongs and a close frame with a close frame. A client is ready
 * once its `snapshot` frame has arrived (or, with no subscription, once the
 * upgrade is done).
 *
 * Timing: every chunk read from a socket is stamped with the monotonic system
 * clock (`process.hrtime`, CLOCK_MONOTONIC: one clock shared by every process
 * on the machine) before it is parsed; a prediction frame in that chunk gets
 * that stamp. Only its `made_at_ms` is read (a byte search); the rest of the
 * payload is not parsed.
 */
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const PREDICTION_HEAD = Buffer.from('{"type":"prediction"');
const SNAPSHOT_HEAD = Buffer.from('{"type":"snapshot"');
const ERROR_HEAD = Buffer.from('{"type":"error"');
const MADE_AT = Buffer.from('"made_at_ms":');

/** Milliseconds on the machine-wide monotonic clock (comparable across processes). */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface LoadResult {
  /** Clients ready (subscribed and snapshot received, or upgraded). */
  ready: number;
  /** made_at_ms of each prediction frame received, and its arrival time (monotonicMs), index by index. */
  made: number[];
  at: number[];
  /** Error frames, close frames and protocol problems seen. */
  errorFrames: number;
  closes: number;
  protocolErrors: number;
  /** Close every client. */
  end(): void;
}

/** A client frame (masked, FIN, one fragment). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff]);
  const body = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) body[i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([head, mask, body]);
}

const startsWith = (b: Buffer, head: Buffer) => b.length >= head.length && b.compare(head, 0, head.length, 0, head.length) === 0;

/** The integer after `"made_at_ms":` in a frame payload, or -1. */
function madeAt(payload: Buffer): number {
  let i = payload.indexOf(MADE_AT);
  if (i < 0) return -1;
  i += MADE_AT.length;
  let v = 0;
  for (; i < payload.length; i++) {
    const c = payload[i] as number;
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * Open `n` clients to `url` (ws://host:port/path), `concurrency` handshakes at
 * a time; resolves when all are ready (rejects on a failed handshake).
 */
export async function openClients(url: string, n: number, subscribePairs: string[] | null, concurrency = 200): Promise<LoadResult> {
  const u = new URL(url);
  const port = Number(u.port);
  const host = u.hostname;
  const path = `${u.pathname}${u.search}`;
  const sockets: net.Socket[] = [];
  const result: LoadResult = {
    ready: 0,
    made: [],
    at: [],
    errorFrames: 0,
    closes: 0,
    protocolErrors: 0,
    end: () => {
      for (const s of sockets) s.destroy();
    },
  };
  const readBuffer = Buffer.allocUnsafe(64 * 1024);
  const subscribe = subscribePairs ? clientFrame(0x1, Buffer.from(JSON.stringify({ op: 'subscribe', pairs: subscribePairs }))) : null;

  const open = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const key = randomBytes(16).toString('base64');
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      // Reads land in one buffer shared by the process's clients (each chunk is handled before the next read).
      const s = net.connect({
        port,
        host,
        noDelay: true,
        onread: { buffer: readBuffer, callback: (n: number, buf: Uint8Array) => (onChunk(Buffer.from(buf.buffer, buf.byteOffset, n)), true) },
      });
      sockets.push(s);
      let upgraded = false;
      let ready = false;
      let pending: Buffer | null = null;
      const becomeReady = () => {
        if (ready) return;
        ready = true;
        result.ready++;
        resolve();
      };
      s.on('error', (err) => (ready ? result.protocolErrors++ : reject(err)));
      s.on('connect', () => {
        s.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      const frames = (b: Buffer, t: number) => {
        let at = 0;
        while (at + 2 <= b.length) {
          const b0 = b[at] as number;
          const b1 = b[at + 1] as number;
          let len = b1 & 0x7f;
          let off = at + 2;
          if (len === 126) {
            if (off + 2 > b.length) break;
            len = b.readUInt16BE(off);
            off += 2;
          } else if (len === 127) {
            if (off + 8 > b.length) break;
            len = Number(b.readBigUInt64BE(off));
            off += 8;
          }
          if (off + len > b.length) break;
          const payload = b.subarray(off, off + len);
          at = off + len;
          const opcode = b0 & 0x0f;
          if ((b0 & 0x80) === 0 || (b1 & 0x80) !== 0 || opcode === 0) {
            result.protocolErrors++; // fragmented or masked server frame: not expected from /v1/ws
            continue;
          }
          if (opcode === 0x1) {
            if (startsWith(payload, PREDICTION_HEAD)) {
              result.made.push(madeAt(payload));
              result.at.push(t);
            } else if (startsWith(payload, SNAPSHOT_HEAD)) becomeReady();
            else if (startsWith(payload, ERROR_HEAD)) result.errorFrames++;
          } else if (opcode === 0x9) s.write(clientFrame(0xa, Buffer.from(payload)));
          else if (opcode === 0x8) {
            result.closes++;
            s.end(clientFrame(0x8, Buffer.from(payload.subarray(0, 2))));
          }
        }
        pending = at < b.length ? Buffer.from(b.subarray(at)) : null;
      };
      const onChunk = (d: Buffer): void => {
        const t = monotonicMs();
        let b = pending ? Buffer.concat([pending, d]) : d;
        pending = null;
        if (!upgraded) {
          const end = b.indexOf('\r\n\r\n');
          if (end < 0) {
            pending = Buffer.from(b);
            return;
          }
          const head = b.subarray(0, end).toString('latin1');
          if (!head.startsWith('HTTP/1.1 101') || !head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) {
            s.destroy();
            return reject(new Error(`websocket upgrade refused: ${head.split('\r\n')[0]}`));
          }
          upgraded = true;
          if (subscribe) s.write(subscribe);
          else becomeReady();
          b = b.subarray(end + 4);
        }
        frames(b, t);
      };
    });

  for (let i = 0; i < n; i += concurrency) await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, open));
  return result;
}
