/**
 * Recordings of raw order-book traffic (`tickcast record`'s format): gzip, one JSON object per
 * line, `{"source": "<source name>", "recv_ms": <our receive time>, "text": "<frame exactly as
 * received>"}`, in receive order. REST snapshots are recorded the same way (source
 * `<name>-snapshot:<pair>`, the body as text).
 *
 * `replayBookRecording` feeds a recording to fresh pure book state machines (the same classes
 * the live sources use: KrakenBooks, BinanceBooks) with the recorded receive times, so a replay
 * gives the book features the live run gave, bit for bit (tested in ts/test/book/).
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip, type Gzip } from 'node:zlib';
import type { BookFeatures } from '../contracts/messages.ts';
import { BinanceBooks } from './binance-depth.ts';
import { parseDepthSnapshot } from './binance-depth-frames.ts';
import { parseKrakenBookFrame as parseKrakenFrame } from './kraken-book-frames.ts';
import { KrakenBooks } from './kraken-book.ts';

export interface RecordedFrame {
  source: string;
  recv_ms: number;
  text: string;
}

/** Appends frames to a gzip file; `close()` flushes it. */
export class BookRecorder {
  private readonly gz: Gzip;
  private readonly file: WriteStream;
  frames = 0;

  constructor(path: string) {
    this.gz = createGzip();
    this.file = createWriteStream(path);
    this.gz.pipe(this.file);
  }

  /** A BookSink.rawFrame. */
  readonly rawFrame = (source: string, recvMs: number, text: string): void => {
    this.frames++;
    this.gz.write(`${JSON.stringify({ source, recv_ms: recvMs, text })}\n`);
  };

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.file.once('finish', () => resolve());
      this.file.once('error', reject);
      this.gz.end();
    });
  }
}

/** The frames of a recording, in order. A line that is not a recorded frame is an error with its line number. */
export async function* readBookRecording(path: string): AsyncGenerator<RecordedFrame> {
  const rl = createInterface({ input: createReadStream(path).pipe(createGunzip()), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.length === 0) continue;
    let f: unknown;
    try {
      f = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}:${n}: not JSON (${(e as Error).message})`);
    }
    const r = f as Partial<RecordedFrame>;
    if (typeof r.source !== 'string' || typeof r.recv_ms !== 'number' || !Number.isFinite(r.recv_ms) || typeof r.text !== 'string') {
      throw new Error(`${path}:${n}: not a recorded frame {source, recv_ms, text}`);
    }
    yield r as RecordedFrame;
  }
}

export interface ReplayBooksOptions {
  krakenPairs?: string[];
  krakenDepth?: number;
  binancePairs?: string[];
  /** Close every minute ending at or before this time at the end (default: none). */
  endMs?: number;
}

/** Book features of a recording, as the live sources computed them. */
export async function replayBookRecording(frames: AsyncIterable<RecordedFrame> | Iterable<RecordedFrame>, o: ReplayBooksOptions): Promise<BookFeatures[]> {
  const kraken = o.krakenPairs?.length ? new KrakenBooks(o.krakenPairs, o.krakenDepth ?? 10) : null;
  const binance = o.binancePairs?.length ? new BinanceBooks(o.binancePairs) : null;
  let lastEventMs = 0;
  const out: BookFeatures[] = [];
  for await (const f of frames) {
    if (f.source.startsWith('kraken-book') && kraken) out.push(...kraken.on(parseKrakenFrame(f.text), f.recv_ms).messages);
    else if (f.source.startsWith('binance-depth-snapshot:') && binance) {
      const pair = f.source.slice('binance-depth-snapshot:'.length);
      const p = parseDepthSnapshot(JSON.parse(f.text));
      if (p.ok && binance.book(pair)) out.push(...binance.onSnapshot(pair, lastEventMs, p.value).messages);
    } else if (f.source.startsWith('binance-depth') && binance) {
      const step = binance.onFrame(f.text);
      if (step.eventMs !== undefined) lastEventMs = Math.max(lastEventMs, step.eventMs);
      out.push(...step.messages);
    }
  }
  if (o.endMs !== undefined) {
    if (kraken) out.push(...kraken.advance(o.endMs));
  }
  return out;
}
