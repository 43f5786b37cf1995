/**
 * Pure parser of Kraken WebSocket v2 frames (wss://ws.kraken.com/v2): trade snapshots
 * and updates, subscribe acks, heartbeats, status, pong. No I/O, no clock: `now` comes in.
 *
 * Trade frame: {"channel":"trade","type":"update"|"snapshot","data":[{"symbol":"BTC/USD",
 *   "side":"buy"|"sell","price":<number>,"qty":<number>,"ord_type":"limit"|"market",
 *   "trade_id":<int, sequential per book>,"timestamp":"<RFC 3339, µs>"}]}
 */
import type { Trade } from '../contracts/messages.ts';
import { checkTrade, rfc3339ToUs, usToMs, type CheckOptions, type RejectKind } from './trade-check.ts';
import { normalizeKrakenPair } from './pairs.ts';

export const KRAKEN_EXCHANGE = 'kraken';

/** A trade with the exchange facts the reconnect logic needs: numeric id and µs time. */
export interface SequencedTrade {
  trade: Trade;
  /** Kraken's per-pair sequential trade id. */
  seq: number;
  /** Trade time, epoch µs. */
  tsUs: number;
}

export interface FrameReject {
  raw: string;
  kind: RejectKind;
  detail: string;
}

export type KrakenV2Event =
  | { kind: 'trades'; snapshot: boolean; trades: SequencedTrade[]; rejects: FrameReject[] }
  | { kind: 'ack'; method: string; success: boolean; channel?: string; symbol?: string; timeInUs?: number; error?: string; reqId?: number }
  | { kind: 'heartbeat' }
  | { kind: 'status'; system?: string }
  | { kind: 'pong' }
  | { kind: 'reject'; rejects: FrameReject[] };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One element of a trade frame's data array. */
export function parseKrakenV2Trade(el: unknown, check: CheckOptions): { ok: true; value: SequencedTrade } | { ok: false; reject: FrameReject } {
  const raw = JSON.stringify(el) ?? String(el);
  const bad = (kind: RejectKind, detail: string) => ({ ok: false as const, reject: { raw, kind, detail } });
  if (!isObj(el)) return bad('bad_frame', 'trade entry is not an object');
  const pair = typeof el.symbol === 'string' ? normalizeKrakenPair(el.symbol) : null;
  if (!pair) return bad('unknown_pair', `symbol ${JSON.stringify(el.symbol)}`);
  const side = el.side === 'buy' ? 'buy' : el.side === 'sell' ? 'sell' : null;
  if (!side) return bad('bad_side', `side ${JSON.stringify(el.side)}`);
  const seq = el.trade_id;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return bad('bad_trade_id', `trade_id ${JSON.stringify(seq)}`);
  const tsUs = rfc3339ToUs(el.timestamp);
  if (tsUs === null) return bad('bad_timestamp', `timestamp ${JSON.stringify(el.timestamp)}`);
  const c = checkTrade({ exchange: KRAKEN_EXCHANGE, pair, trade_id: seq, price: el.price, qty: el.qty, side, ts_ms: usToMs(tsUs) }, check);
  if (!c.ok) return bad(c.kind, c.detail);
  return { ok: true, value: { trade: c.value, seq, tsUs } };
}

export function parseKrakenV2Frame(text: string, check: CheckOptions): KrakenV2Event {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    return { kind: 'reject', rejects: [{ raw: text, kind: 'malformed_json', detail: (e as Error).message }] };
  }
  const one = (kind: RejectKind, detail: string): KrakenV2Event => ({ kind: 'reject', rejects: [{ raw: text, kind, detail }] });
  if (!isObj(msg)) return one('bad_frame', 'frame is not a JSON object');
  if (typeof msg.method === 'string') {
    if (msg.method === 'pong') return { kind: 'pong' };
    const result = isObj(msg.result) ? msg.result : {};
    const ack: KrakenV2Event = { kind: 'ack', method: msg.method, success: msg.success === true };
    if (typeof result.channel === 'string') ack.channel = result.channel;
    if (typeof result.symbol === 'string') ack.symbol = result.symbol;
    else if (typeof msg.symbol === 'string') ack.symbol = msg.symbol; // failed acks carry it at the top level
    if (typeof msg.error === 'string') ack.error = msg.error;
    if (typeof msg.req_id === 'number') ack.reqId = msg.req_id;
    const tin = rfc3339ToUs(msg.time_in);
    if (tin !== null) ack.timeInUs = tin;
    return ack;
  }
  switch (msg.channel) {
    case 'heartbeat':
      return { kind: 'heartbeat' };
    case 'status': {
      const d = Array.isArray(msg.data) && isObj(msg.data[0]) ? msg.data[0] : {};
      return typeof d.system === 'string' ? { kind: 'status', system: d.system } : { kind: 'status' };
    }
    case 'trade': {
      if (msg.type !== 'update' && msg.type !== 'snapshot') return one('bad_frame', `trade frame type ${JSON.stringify(msg.type)}`);
      if (!Array.isArray(msg.data)) return one('bad_frame', 'trade frame without a data array');
      const trades: SequencedTrade[] = [];
      const rejects: FrameReject[] = [];
      for (const el of msg.data) {
        const r = parseKrakenV2Trade(el, check);
        if (r.ok) trades.push(r.value);
        else rejects.push(r.reject);
      }
      return { kind: 'trades', snapshot: msg.type === 'snapshot', trades, rejects };
    }
    default:
      return one('unknown_channel', `channel ${JSON.stringify(msg.channel)}`);
  }
}
