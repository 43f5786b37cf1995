/**
 * Binance spot `<symbol>@trade` stream: combined form {"stream":"btcusdt@trade","data":{...}}
 * (wss://stream.binance.com:9443/stream?streams=a@trade/b@trade) and raw form (/ws/<symbol>@trade).
 * Trade event: {"e":"trade","E":event ms,"s":"BTCUSDT","t":trade id,"p":"price","q":"qty",
 * "T":trade ms,"m":buyer is maker,"M":...}. Side is the taker's: buyer is maker => the taker sold => 'sell'.
 *
 * The live source reconnects with backoff and de-duplicates by trade id (sequential per
 * symbol). Binance does not replay missed trades on reconnect and this source does not heal
 * from REST: a hole is counted in tickcast_source_gap_trades_total and logged. A full sink
 * (the broker away) holds the source back; frames wait in the connection meanwhile.
 *
 * Event clock: after a frame, at most once a second, every pair that has traded gets its
 * heartbeat (TradeHeartbeat) at Binance's clock (our clock minus the least our-clock-minus-
 * trade-time seen), never behind its last trade.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { Trade } from '../contracts/messages.ts';
import { backoffDelayMs, type BackoffOptions } from './backoff.ts';
import type { FrameReject, SequencedTrade } from './kraken-ws-frames.ts';
import { gapTradesTotal, reconnectsTotal, tradesTotal } from './metrics.ts';
import { binanceStreamSymbol, normalizeBinanceSymbol } from './pairs.ts';
import { checkTrade, rejectInput, type CheckOptions } from './trade-check.ts';
import { realSleep, systemClock, type Clock, type Sleep, type TradeSink, type TradeSource } from './types.ts';
import { WsConnection } from './ws-connection.ts';

export const BINANCE_EXCHANGE = 'binance';
export const BINANCE_WS_URL = 'wss://stream.binance.com:9443';

export type BinanceEvent =
  | { kind: 'trades'; trades: SequencedTrade[]; rejects: FrameReject[] }
  | { kind: 'ack' }
  | { kind: 'ignored'; what: string }
  | { kind: 'reject'; rejects: FrameReject[] };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseBinanceFrame(text: string, check: CheckOptions): BinanceEvent {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    return { kind: 'reject', rejects: [{ raw: text, kind: 'malformed_json', detail: (e as Error).message }] };
  }
  const one = (kind: FrameReject['kind'], detail: string): BinanceEvent => ({ kind: 'reject', rejects: [{ raw: text, kind, detail }] });
  if (!isObj(msg)) return one('bad_frame', 'frame is not a JSON object');
  if ('result' in msg && 'id' in msg) return { kind: 'ack' };
  const data = typeof msg.stream === 'string' && isObj(msg.data) ? msg.data : msg;
  if (data.e !== 'trade') {
    const what = typeof data.e === 'string' ? data.e : typeof msg.stream === 'string' ? msg.stream : 'u' in data && 'b' in data && 'a' in data ? 'bookTicker' : 'unknown';
    return { kind: 'ignored', what };
  }
  const pair = typeof data.s === 'string' ? normalizeBinanceSymbol(data.s) : null;
  if (!pair) return one('unknown_pair', `symbol ${JSON.stringify(data.s)}`);
  const id = data.t;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return one('bad_trade_id', `t ${JSON.stringify(id)}`);
  const ts = data.T;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) return one('bad_timestamp', `T ${JSON.stringify(ts)}`);
  if (typeof data.m !== 'boolean') return one('bad_side', `m ${JSON.stringify(data.m)}`);
  const c = checkTrade({ exchange: BINANCE_EXCHANGE, pair, trade_id: id, price: data.p, qty: data.q, side: data.m ? 'sell' : 'buy', ts_ms: ts }, check);
  if (!c.ok) return one(c.kind, c.detail);
  return { kind: 'trades', trades: [{ trade: c.value, seq: id, tsUs: ts * 1000 }], rejects: [] };
}

/**
 * Read a recorded Binance session (one `<local_recv_ns> <raw JSON>` per line, optionally
 * gzip) and yield its trades in file order; other streams (bookTicker, depth) are skipped.
 */
export async function* readBinanceRecording(path: string, opts: { onReject?: (r: FrameReject) => void } = {}): AsyncGenerator<{ recvNs: string; trade: Trade }> {
  const input = createReadStream(path);
  const rl = createInterface({ input: path.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
  const check = { nowMs: Number.MAX_SAFE_INTEGER / 4, maxFutureMs: 0 };
  for await (const line of rl) {
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    const ev = parseBinanceFrame(line.slice(sp + 1), check);
    if (ev.kind === 'trades') for (const t of ev.trades) yield { recvNs: line.slice(0, sp), trade: t.trade };
    else if (ev.kind === 'reject') ev.rejects.forEach((r) => opts.onReject?.(r));
  }
}

export interface BinanceWsOptions {
  /** Our pair names, e.g. ['BTC/USDT', 'ETH/USDT']. */
  pairs: string[];
  logger: Logger;
  /** Base URL (default wss://stream.binance.com:9443); the combined endpoint /stream?streams=... is used. */
  url?: string;
  /** No frame or ping for this long = dead. Default 60 s (Binance pings every 20 s). */
  deadAfterMs?: number;
  backoff?: BackoffOptions;
  maxFutureMs?: number;
  clock?: Clock;
  sleep?: Sleep;
  random?: () => number;
  sourceName?: string;
}

export class BinanceWsSource implements TradeSource {
  readonly name: string;
  private readonly lastSeq = new Map<string, number>();
  private readonly lastTs = new Map<string, number>();
  private lastBeatMs = -Infinity;
  /** Our clock minus Binance's (least seen on trades); null until a trade came. */
  private clockOffsetMs: number | null = null;
  private readonly abort = new AbortController();
  private conn: WsConnection | null = null;
  private running: Promise<void> | null = null;
  private readonly clock: Clock;
  /** Completed connections; for tests and logs. */
  connections = 0;

  constructor(private readonly opts: BinanceWsOptions) {
    this.name = opts.sourceName ?? 'binance-ws';
    this.clock = opts.clock ?? systemClock;
    for (const p of opts.pairs) if (normalizeBinanceSymbol(binanceStreamSymbol(p)) !== p) throw new Error(`BinanceWsSource: pair ${p} is not in our form (BASE/QUOTE)`);
  }

  /** The combined-stream URL for the configured pairs. */
  get streamUrl(): string {
    const base = (this.opts.url ?? BINANCE_WS_URL).replace(/\/+$/, '');
    return `${base}/stream?streams=${this.opts.pairs.map((p) => `${binanceStreamSymbol(p)}@trade`).join('/')}`;
  }

  run(sink: TradeSink): Promise<void> {
    this.running ??= this.loop(sink);
    return this.running;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.conn?.close('stopped');
    await this.running?.catch(() => undefined);
  }

  private async loop(sink: TradeSink): Promise<void> {
    const sleep = this.opts.sleep ?? realSleep;
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      let cause = 'connect_failed';
      let detail = '';
      try {
        this.conn = await WsConnection.open(this.streamUrl, { deadAfterMs: this.opts.deadAfterMs ?? 60_000 });
        this.connections++;
        attempt = 0;
        for (;;) {
          const ev = await this.conn.next();
          if (ev.type === 'closed') {
            cause = ev.cause;
            detail = ev.detail;
            break;
          }
          await this.onFrame(ev.text, sink);
          await this.beat(sink);
        }
      } catch (e) {
        detail = (e as Error).message;
      } finally {
        this.conn?.close('stopped');
        this.conn = null;
      }
      if (this.abort.signal.aborted) break;
      const delay = backoffDelayMs(attempt++, { baseMs: 500, maxMs: 30_000, ...this.opts.backoff }, this.opts.random);
      reconnectsTotal().inc({ source: this.name, cause });
      this.opts.logger.warn({ cause, detail, delay_ms: delay }, 'binance ws disconnected; reconnecting');
      await sleep(delay, this.abort.signal);
    }
  }

  private async beat(sink: TradeSink): Promise<void> {
    const wall = this.clock();
    if (!sink.heartbeat || this.clockOffsetMs === null || wall - this.lastBeatMs < 1000) return;
    this.lastBeatMs = wall;
    const now = Math.floor(wall - this.clockOffsetMs);
    for (const [pair, ts] of this.lastTs) await sink.heartbeat({ kind: 'heartbeat', exchange: BINANCE_EXCHANGE, pair, ts_ms: Math.max(now, ts), final: false });
  }

  private async onFrame(text: string, sink: TradeSink): Promise<void> {
    const ev = parseBinanceFrame(text, { nowMs: this.clock(), maxFutureMs: this.opts.maxFutureMs ?? 300_000 });
    if (ev.kind === 'reject') return ev.rejects.forEach((r) => rejectInput(sink, this.name, r.raw, r.kind, r.detail));
    if (ev.kind === 'ignored') return rejectInput(sink, this.name, text, 'unknown_channel', `event ${ev.what} (only @trade is subscribed)`);
    if (ev.kind !== 'trades') return;
    const out: Trade[] = [];
    for (const t of ev.trades) {
      const pair = t.trade.pair;
      if (!this.opts.pairs.includes(pair)) {
        rejectInput(sink, this.name, text, 'unknown_pair', `${pair} was not subscribed`);
        continue;
      }
      const last = this.lastSeq.get(pair);
      if (last !== undefined && t.seq <= last) continue;
      if (last !== undefined && t.seq > last + 1) {
        gapTradesTotal().inc({ source: this.name, pair }, t.seq - last - 1);
        this.opts.logger.warn({ pair, after: last, next: t.seq }, 'binance trade ids skipped');
      }
      this.lastSeq.set(pair, t.seq);
      this.lastTs.set(pair, Math.max(this.lastTs.get(pair) ?? 0, t.trade.ts_ms));
      const off = this.clock() - t.trade.ts_ms;
      if (this.clockOffsetMs === null || off < this.clockOffsetMs) this.clockOffsetMs = off;
      tradesTotal().inc({ source: this.name, pair });
      out.push(t.trade);
    }
    if (out.length) await sink.trades(out);
  }
}
