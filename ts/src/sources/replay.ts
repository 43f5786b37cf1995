/**
 * File replay: trades from a file (any CSV of trade-csv.ts, or a Binance `<recv_ns> <json>`
 * recording, plain or gzip) or from memory, at real speed, N times speed, or as fast as
 * possible. Time compression is driven by the trades' own timestamps: trade i is due at
 * start + (ts_i - ts_0) / speed on the injected clock; trades due together go out as one batch.
 * Out-of-order timestamps are emitted at once (never re-ordered).
 *
 * Event clock: while it waits for the next trade's due time, the replay sends
 * each pair's heartbeat (TradeHeartbeat) at most every `heartbeatMs` of wall
 * time, at the replay's event time and never past the next trade's ts_ms, so
 * a quiet stretch of the file still closes its minutes on time downstream,
 * and a heartbeat never makes a later trade of the file late. At the end of
 * the input each pair gets a `final` heartbeat at its last trade's time.
 *
 * Closing ticks (`closeTicks`): the event times that close a window downstream
 * (each window end + the candles' grace) also get every pair's heartbeat, as
 * the replay's event clock reaches them, whatever the heartbeat rate: a quiet
 * pair's minute then closes when its grace ends, not up to `heartbeatMs` after
 * (the live latency, issue 21.4). Only while the replay runs: a stopped or
 * stalled replay sends nothing, so it closes nothing.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Trade, TradeHeartbeat } from '../contracts/messages.ts';
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
  /** Least wall time between two heartbeats of a pair (ms). Default 1000. */
  heartbeatMs?: number;
  /** Also every pair's heartbeat at each window end + grace on the event clock (see the header). */
  closeTicks?: { intervalMs: number; graceMs: number };
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
    const heartbeatMs = this.opts.heartbeatMs ?? 1000;
    let t0: number | null = null;
    let w0 = 0;
    let batch: Trade[] = [];
    /** Per exchange and pair: the newest trade time, and the last heartbeat (event time, wall time). */
    const pairs = new Map<string, { exchange: string; pair: string; maxTs: number; hbTs: number; hbWall: number }>();
    const flush = async (): Promise<void> => {
      if (!batch.length) return;
      const out = batch;
      batch = [];
      for (const t of out) tradesTotal().inc({ source: this.name, pair: t.pair });
      await sink.trades(out);
    };
    const ticks = this.opts.closeTicks;
    /** The first closing tick (window end + grace) after event time `ev`; Infinity without ticks. */
    const tickAfter = (ev: number): number =>
      ticks ? Math.floor((ev - ticks.graceMs) / ticks.intervalMs) * ticks.intervalMs + ticks.intervalMs + ticks.graceMs : Infinity;
    let tick = Infinity;
    /** Heartbeats at event time `ts` (everything before is delivered: call after flush); `force`: whatever the rate. */
    const beat = async (ts: number, final: boolean, force = false): Promise<void> => {
      if (!sink.heartbeat) return;
      const now = clock();
      for (const p of pairs.values()) {
        const at = final ? p.maxTs : Math.floor(ts);
        if (!final && (at <= p.hbTs || (!force && now - p.hbWall < heartbeatMs))) continue;
        p.hbTs = at;
        p.hbWall = now;
        const hb: TradeHeartbeat = { kind: 'heartbeat', exchange: p.exchange, pair: p.pair, ts_ms: at, final };
        await sink.heartbeat(hb);
      }
    };
    const onReject: OnReject = (raw, kind, detail) => rejectInput(sink, this.name, raw, kind, detail);
    for await (const t of this.input(onReject)) {
      if (this.abort.signal.aborted) return;
      if (speed !== 'max') {
        if (t0 === null) {
          t0 = t.ts_ms;
          w0 = clock();
          tick = tickAfter(t0);
        }
        let wait = w0 + (t.ts_ms - t0) / speed - clock();
        if (wait > 0) await flush();
        while (wait > 0) {
          // The event clock now, never past this (next) trade: it must not become late.
          const ev = Math.min(t.ts_ms, t0 + (clock() - w0) * speed);
          const due = ev >= tick;
          await beat(ev, false, due);
          if (due) tick = tickAfter(ev);
          const toTick = tick === Infinity ? Infinity : Math.max(0, Math.ceil(w0 + (tick - t0) / speed - clock()));
          await sleep(Math.min(wait, heartbeatMs, toTick), this.abort.signal);
          if (this.abort.signal.aborted) return;
          wait = w0 + (t.ts_ms - t0) / speed - clock();
        }
      }
      const k = `${t.exchange}|${t.pair}`;
      const p = pairs.get(k);
      if (p === undefined) pairs.set(k, { exchange: t.exchange, pair: t.pair, maxTs: t.ts_ms, hbTs: -Infinity, hbWall: -Infinity });
      else if (t.ts_ms > p.maxTs) p.maxTs = t.ts_ms;
      batch.push(t);
      if (batch.length >= maxBatch) await flush();
    }
    await flush();
    if (!this.abort.signal.aborted) await beat(0, true);
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
