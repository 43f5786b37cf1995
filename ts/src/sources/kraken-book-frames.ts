/**
 * Pure parser of the Kraken WebSocket v2 frames the book source reads: the `instrument`
 * channel (each pair's `price_precision` and `qty_precision`, needed to rebuild the checksum
 * text from JSON numbers) and the `book` channel:
 *
 *   {"channel":"book","type":"snapshot"|"update","data":[{"symbol":"BTC/USD",
 *     "bids":[{"price":<number>,"qty":<number>},...],"asks":[...],"checksum":<uint32>,
 *     "timestamp":"<RFC 3339>" (updates)}]}
 *
 * Levels come out flat (`[price, qty, ...]`, the @tickcast/book form). Anything malformed is
 * a reject with a reason; nothing here throws.
 */
import { rfc3339ToUs } from './trade-check.ts';

export interface KrakenInstrument {
  symbol: string;
  pricePrecision: number;
  qtyPrecision: number;
}

export interface KrakenBookData {
  symbol: string;
  bids: Float64Array;
  asks: Float64Array;
  checksum: number;
  /** Update time (ms), when the message carries one (updates do, snapshots do not). */
  tsMs: number | null;
}

export type KrakenBookFrame =
  | { kind: 'book'; snapshot: boolean; data: KrakenBookData[]; rejects: { symbol: string | null; detail: string }[] }
  | { kind: 'instruments'; pairs: KrakenInstrument[] }
  | { kind: 'heartbeat' }
  | { kind: 'other' }
  | { kind: 'reject'; detail: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPrecision = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 12;

function levels(v: unknown, name: string): Float64Array | string {
  if (!Array.isArray(v)) return `${name} is not an array`;
  const out = new Float64Array(v.length * 2);
  for (let i = 0; i < v.length; i++) {
    const l = v[i] as unknown;
    if (!isObj(l) || typeof l.price !== 'number' || typeof l.qty !== 'number' || !Number.isFinite(l.price) || !Number.isFinite(l.qty) || l.price <= 0 || l.qty < 0) {
      return `${name}[${i}] is not {price > 0, qty >= 0}: ${JSON.stringify(l)?.slice(0, 80)}`;
    }
    out[2 * i] = l.price;
    out[2 * i + 1] = l.qty;
  }
  return out;
}

export function parseKrakenBookFrame(text: string): KrakenBookFrame {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    return { kind: 'reject', detail: `malformed_json: ${(e as Error).message}` };
  }
  if (!isObj(msg)) return { kind: 'reject', detail: 'bad_frame: not a JSON object' };
  if (msg.channel === 'instrument' && (msg.type === 'snapshot' || msg.type === 'update')) {
    const pairs = isObj(msg.data) && Array.isArray(msg.data.pairs) ? msg.data.pairs : null;
    if (!pairs) return { kind: 'reject', detail: 'bad_frame: instrument frame without data.pairs' };
    const out: KrakenInstrument[] = [];
    for (const p of pairs as unknown[]) {
      if (isObj(p) && typeof p.symbol === 'string' && isPrecision(p.price_precision) && isPrecision(p.qty_precision)) {
        out.push({ symbol: p.symbol, pricePrecision: p.price_precision, qtyPrecision: p.qty_precision });
      }
    }
    return { kind: 'instruments', pairs: out };
  }
  if (msg.channel === 'heartbeat') return { kind: 'heartbeat' };
  if (msg.channel !== 'book') return { kind: 'other' };
  if (msg.type !== 'snapshot' && msg.type !== 'update') return { kind: 'reject', detail: `bad_frame: book frame type ${JSON.stringify(msg.type)}` };
  if (!Array.isArray(msg.data)) return { kind: 'reject', detail: 'bad_frame: book frame without a data array' };
  const data: KrakenBookData[] = [];
  const rejects: { symbol: string | null; detail: string }[] = [];
  for (const el of msg.data as unknown[]) {
    if (!isObj(el) || typeof el.symbol !== 'string') {
      rejects.push({ symbol: null, detail: 'bad_frame: book entry without a symbol' });
      continue;
    }
    const c = el.checksum;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 0xffffffff) {
      rejects.push({ symbol: el.symbol, detail: `bad_frame: ${el.symbol} checksum ${JSON.stringify(c)}` });
      continue;
    }
    const bids = levels(el.bids ?? [], 'bids');
    const asks = levels(el.asks ?? [], 'asks');
    if (typeof bids === 'string' || typeof asks === 'string') {
      rejects.push({ symbol: el.symbol, detail: `bad_frame: ${el.symbol} ${typeof bids === 'string' ? bids : asks}` });
      continue;
    }
    const us = el.timestamp === undefined ? null : rfc3339ToUs(el.timestamp);
    if (el.timestamp !== undefined && us === null) {
      rejects.push({ symbol: el.symbol, detail: `bad_timestamp: ${el.symbol} ${JSON.stringify(el.timestamp)}` });
      continue;
    }
    data.push({ symbol: el.symbol, bids, asks, checksum: c, tsMs: us === null ? null : Math.floor(us / 1000) });
  }
  return { kind: 'book', snapshot: msg.type === 'snapshot', data, rejects };
}
