/**
 * File replay: trades from a file (any CSV of trade-csv.ts, or a Binance `<recv_ns> <json>`
 * recording, plain or gzip) or from memory, at real speed, N times speed, or as fast as
 * possible. Time compression is driven by the trades' own timestamps: trade i is due at
 * start + (ts_i - ts_0) / speed on the injected clock; trades due together go out as one batch.
 * Out-of-order timestamps are emitted at once (never re-ordered).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Trade } from '../contracts/messages.ts';
import { readBinanceRecording } from './binance.ts';
import { tradesTotal } from './metrics.ts';
import { detectCsvFormat, readTradeCsv, type TradeCsvOptions } from './trade-csv.ts';
import { rejectInput, type RejectKind } from './trade-check.ts';
import { realSleep, systemClock, type Clock, type Sleep, type TradeSink, type TradeSource } from './types.ts';

/** 'max' = as fast as possible; a number = that many times real speed (1 = real time). */
export type ReplaySpeed = 'max' | number;

export type OnReject = (raw: string, kind: RejectKind, detail: string) => void;
/** Produces the trades to replay; reports input it had to reject. */
export type ReplayInput = (onReject: OnReject) => AsyncIterable<Trade> | Iterable<Trade>;

export interface ReplayOptions {
  speed: ReplaySpeed;
  clock?: Clock;
  sleep?: Sleep;
  /** Largest batch handed to the sink. Default 1000. */
  maxBatch?: number;
  sourceName?: string;
}

export class ReplaySource implements TradeSource {
  readonly name: string;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;

  constructor(
    private readonly input: ReplayInput,
    private readonly opts: ReplayOptions,
  ) {
    if (opts.speed !== 'max' && !(typeof opts.speed === 'number' && opts.speed > 0 && Number.isFinite(opts.speed))) {
      throw new Error(`replay speed must be 'max' or a positive number, got ${String(opts.speed)}`);
    }
    this.name = opts.sourceName ?? 'replay';
  }

  /** Replay a trade file; format detected from its first line (see trade-csv.ts) or a Binance recording. */
  static fromFile(path: string, opts: ReplayOptions & TradeCsvOptions): ReplaySource {
    return new ReplaySource((onReject) => tradesOfFile(path, opts, onReject), opts);
  }

  run(sink: TradeSink): Promise<void> {
    this.running ??= this.replay(sink);
    return this.running;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private async replay(sink: TradeSink): Promise<void> {
    const clock = this.opts.clock ?? systemClock;
    const sleep = this.opts.sleep ?? realSleep;
    const maxBatch = this.opts.maxBatch ?? 1000;
    const speed = this.opts.speed;
    let t0: number | null = null;
    let w0 = 0;
    let batch: Trade[] = [];
    const flush = async (): Promise<void> => {
      if (!batch.length) return;
      const out = batch;
      batch = [];
      for (const t of out) tradesTotal().inc({ source: this.name, pair: t.pair });
      await sink.trades(out);
    };
    const onReject: OnReject = (raw, kind, detail) => rejectInput(sink, this.name, raw, kind, detail);
    for await (const t of this.input(onReject)) {
      if (this.abort.signal.aborted) return;
      if (speed !== 'max') {
        if (t0 === null) {
          t0 = t.ts_ms;
          w0 = clock();
        }
        const wait = w0 + (t.ts_ms - t0) / speed - clock();
        if (wait > 0) {
          await flush();
          await sleep(wait, this.abort.signal);
          if (this.abort.signal.aborted) return;
        }
      }
      batch.push(t);
      if (batch.length >= maxBatch) await flush();
    }
    await flush();
  }
}

async function firstLine(path: string): Promise<string> {
  const input = createReadStream(path);
  const rl = createInterface({ input: path.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
  try {
    for await (const l of rl) return l;
    return '';
  } finally {
    rl.close();
    input.destroy();
  }
}

/** Trades of a file: a trade CSV, or a Binance recording (`<recv_ns> <raw JSON>` per line). */
export async function* tradesOfFile(path: string, opts: TradeCsvOptions, onReject: OnReject): AsyncGenerator<Trade> {
  const line = await firstLine(path);
  if (/^\d+ \{/.test(line)) {
    for await (const r of readBinanceRecording(path, { onReject: (x) => onReject(x.raw, x.kind, x.detail) })) yield r.trade;
    return;
  }
  if (!detectCsvFormat(line) && !opts.format) throw new Error(`${path}: not a known trade file (first line ${JSON.stringify(line.slice(0, 120))})`);
  for await (const b of readTradeCsv(path, opts)) {
    for (const r of b.rejects) onReject(r.raw, r.kind, r.detail);
    yield* b.trades;
  }
}
