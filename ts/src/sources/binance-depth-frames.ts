/**
 * Binance spot order-book frames, parsed without trusting them: the diff-depth event of
 * `<symbol>@depth@100ms` ({"e":"depthUpdate","E":event ms,"s":"BTCUSDT","U":first update id,
 * "u":last update id,"b":[["price","qty"],...],"a":[...]}, bare or in the combined-stream
 * envelope {"stream":...,"data":...}) and the REST snapshot of `GET /api/v3/depth`
 * ({"lastUpdateId":...,"bids":[["price","qty"],...],"asks":[...]}).
 *
 * Levels come out as flat Float64Arrays `[price, qty, price, qty, ...]`, the form the Rust book
 * (@tickcast/book) takes. Binance spot writes prices and quantities with 8 decimals; the book
 * holds them at BINANCE_PRECISION and rejects anything finer.
 */
export const BINANCE_PRECISION = 8;

export interface DepthDiff {
  /** Exchange symbol as sent, e.g. BTCUSDT. */
  symbol: string;
  /** Event time `E` (ms). */
  eventMs: number;
  /** `U`: first update id in the event. */
  firstId: number;
  /** `u`: last update id in the event. */
  lastId: number;
  bids: Float64Array;
  asks: Float64Array;
}

export interface DepthSnapshot {
  lastUpdateId: number;
  bids: Float64Array;
  asks: Float64Array;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; detail: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const DECIMAL = /^\d{1,20}(\.\d{1,20})?$/;
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** `[["price","qty"], ...]` as a flat Float64Array; null (with why) if any entry is not two decimal strings. */
export function parseLevels(v: unknown, name: string): Parsed<Float64Array> {
  if (!Array.isArray(v)) return { ok: false, detail: `${name} is not an array` };
  const out = new Float64Array(v.length * 2);
  for (let i = 0; i < v.length; i++) {
    const l = v[i] as unknown;
    if (!Array.isArray(l) || l.length < 2 || typeof l[0] !== 'string' || typeof l[1] !== 'string' || !DECIMAL.test(l[0]) || !DECIMAL.test(l[1])) {
      return { ok: false, detail: `${name}[${i}] is not ["price","qty"] decimal strings: ${JSON.stringify(l)?.slice(0, 80)}` };
    }
    out[2 * i] = Number(l[0]);
    out[2 * i + 1] = Number(l[1]);
  }
  return { ok: true, value: out };
}

/** A parsed frame's `data` (or the frame itself when bare) as a depth diff. */
export function parseDepthDiff(msg: unknown): Parsed<DepthDiff> {
  if (!isObj(msg)) return { ok: false, detail: 'frame is not a JSON object' };
  const d = typeof msg.stream === 'string' && isObj(msg.data) ? msg.data : msg;
  if (d.e !== 'depthUpdate') return { ok: false, detail: `event ${JSON.stringify(d.e)} is not depthUpdate` };
  if (typeof d.s !== 'string' || d.s.length === 0 || d.s.length > 30) return { ok: false, detail: `symbol ${JSON.stringify(d.s)}` };
  if (!isId(d.E)) return { ok: false, detail: `E ${JSON.stringify(d.E)}` };
  if (!isId(d.U) || !isId(d.u) || d.U > d.u) return { ok: false, detail: `update ids U ${JSON.stringify(d.U)} u ${JSON.stringify(d.u)}` };
  const b = parseLevels(d.b, 'b');
  if (!b.ok) return b;
  const a = parseLevels(d.a, 'a');
  if (!a.ok) return a;
  return { ok: true, value: { symbol: d.s, eventMs: d.E, firstId: d.U, lastId: d.u, bids: b.value, asks: a.value } };
}

/** The body of `GET /api/v3/depth`. */
export function parseDepthSnapshot(body: unknown): Parsed<DepthSnapshot> {
  if (!isObj(body)) return { ok: false, detail: 'snapshot is not a JSON object' };
  if (!isId(body.lastUpdateId)) return { ok: false, detail: `lastUpdateId ${JSON.stringify(body.lastUpdateId)}` };
  const b = parseLevels(body.bids, 'bids');
  if (!b.ok) return b;
  const a = parseLevels(body.asks, 'asks');
  if (!a.ok) return a;
  return { ok: true, value: { lastUpdateId: body.lastUpdateId, bids: b.value, asks: a.value } };
}
