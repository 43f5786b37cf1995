/**
 * Turns exchange fields into a validated `Trade`, or a reject with a kind and a detail.
 * Every source goes through here, so the same input gives the same verdict everywhere.
 */
import { Trade } from '../contracts/messages.ts';
import { validate } from '../contracts/codec.ts';
import { rejectedTotal } from './metrics.ts';
import type { TradeSink } from './types.ts';

/** Bounded set of reasons (the metric label); the detail goes into the reject text. */
export type RejectKind =
  | 'malformed_json'
  | 'unknown_channel'
  | 'unknown_pair'
  | 'bad_frame'
  | 'bad_price'
  | 'bad_qty'
  | 'bad_side'
  | 'bad_trade_id'
  | 'bad_timestamp'
  | 'future_timestamp'
  | 'schema'
  | 'exchange_error';

export type Checked<T> = { ok: true; value: T } | { ok: false; kind: RejectKind; detail: string };

export interface TradeFields {
  exchange: string;
  pair: string;
  trade_id: unknown;
  price: unknown;
  qty: unknown;
  side: Trade['side'];
  ts_ms: number;
}

export interface CheckOptions {
  /** Current wall time, epoch ms. */
  nowMs: number;
  /** A trade more than this far ahead of nowMs is rejected. */
  maxFutureMs: number;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A strictly positive finite number from a JSON number or a decimal string; null otherwise. */
export function positiveNumber(v: unknown): number | null {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && DECIMAL.test(v.trim())) n = Number(v);
  else return null;
  return Number.isFinite(n) && n > 0 ? n : null;
}

export function checkTrade(f: TradeFields, opts: CheckOptions): Checked<Trade> {
  const price = positiveNumber(f.price);
  if (price === null) return { ok: false, kind: 'bad_price', detail: `price ${JSON.stringify(f.price)} is not a positive number` };
  const qty = positiveNumber(f.qty);
  if (qty === null) return { ok: false, kind: 'bad_qty', detail: `qty ${JSON.stringify(f.qty)} is not a positive number` };
  let id: string;
  if (typeof f.trade_id === 'number' && Number.isSafeInteger(f.trade_id) && f.trade_id >= 0) id = String(f.trade_id);
  else if (typeof f.trade_id === 'string' && f.trade_id.length > 0) id = f.trade_id;
  else return { ok: false, kind: 'bad_trade_id', detail: `trade_id ${JSON.stringify(f.trade_id)}` };
  if (!Number.isSafeInteger(f.ts_ms) || f.ts_ms < 0) return { ok: false, kind: 'bad_timestamp', detail: `ts_ms ${f.ts_ms}` };
  if (f.ts_ms > opts.nowMs + opts.maxFutureMs) {
    return { ok: false, kind: 'future_timestamp', detail: `ts ${new Date(f.ts_ms).toISOString()} is more than ${opts.maxFutureMs} ms ahead of now ${new Date(opts.nowMs).toISOString()}` };
  }
  const trade: Trade = { exchange: f.exchange, pair: f.pair, trade_id: id, price, qty, side: f.side, ts_ms: f.ts_ms };
  const v = validate(Trade, trade);
  if (!v.ok) return { ok: false, kind: 'schema', detail: v.reason };
  return { ok: true, value: v.value };
}

/** Reject through the sink and count it. */
export function rejectInput(sink: TradeSink, source: string, raw: string, kind: RejectKind, detail: string): void {
  rejectedTotal().inc({ source, reason: kind });
  sink.reject(raw, `${kind}: ${detail}`);
}

/**
 * RFC 3339 timestamp to epoch microseconds (sub-µs digits truncated); null if malformed.
 * Date.parse keeps only ms, so the fraction is read by hand.
 */
export function rfc3339ToUs(s: unknown): number | null {
  if (typeof s !== 'string') return null;
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const secMs = Date.parse(`${m[1]}T${m[2]}${m[4]!.toUpperCase()}`);
  if (!Number.isFinite(secMs)) return null;
  const frac = Number((m[3] ?? '').padEnd(6, '0').slice(0, 6));
  return secMs * 1000 + frac;
}

/** Float seconds (Kraken REST `time`) to epoch microseconds, rounded to the nearest µs. */
export function secondsToUs(t: number): number {
  return Math.round(t * 1e6);
}

/** Epoch µs to the Trade's ts_ms (floor, so sub-ms parts never move a trade into the next ms). */
export function usToMs(us: number): number {
  return Math.floor(us / 1000);
}
