/**
 * Parsing of the query values the schemas cannot fully check: times (epoch
 * ms or ISO 8601, which must name a real instant) and the paging cursor.
 */
import { ApiError } from './api-error.ts';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
/** Latest time accepted (year 3000), as in the stream contracts. */
const MAX_MS = 32503680000000;

/** Epoch ms of a `from`/`to` value, or ApiError INVALID_TIME naming the parameter. */
export function parseTime(name: string, raw: string): number {
  const bad = (why: string) =>
    new ApiError('INVALID_TIME', `${name}=${JSON.stringify(raw)} ${why}: use epoch milliseconds (e.g. 1723161600000) or an ISO 8601 UTC instant (e.g. 2024-08-09T00:00:00Z)`);
  if (/^\d+$/.test(raw)) {
    const ms = Number(raw);
    if (!Number.isSafeInteger(ms) || ms > MAX_MS) throw bad('is out of range');
    return ms;
  }
  const m = ISO.exec(raw);
  if (!m) throw bad('is not a time');
  const [, y, mo, d, h = '00', mi = '00', s = '00'] = m;
  // Date.parse rolls 2024-02-31 over to March: check each field survives.
  const ms = Date.parse(m[4] === undefined ? `${raw}T00:00:00Z` : raw);
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  if (
    !Number.isFinite(ms) ||
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi) ||
    check.getUTCSeconds() !== Number(s)
  ) {
    throw bad('is not a valid date/time');
  }
  if (ms < 0 || ms > MAX_MS) throw bad('is out of range');
  return ms;
}

/**
 * Where the next page of a newest-first listing starts: at time `t_ms`
 * (inclusive), skipping the `skip` rows of that same time already returned
 * (rows of one time are in a stable order in every store: by natural key).
 * The query it belongs to rides along so a cursor cannot be reused with
 * another pair or range.
 */
export interface HistoryCursor {
  t_ms: number;
  skip: number;
  /** A digest of the query (pair, from, model_version). */
  q: string;
}

export function encodeCursor(c: HistoryCursor): string {
  return Buffer.from(JSON.stringify([c.t_ms, c.skip, c.q]), 'utf8').toString('base64url');
}

export function decodeCursor(raw: string, expectedQuery: string): HistoryCursor {
  const bad = (why: string) => new ApiError('INVALID_CURSOR', `cursor ${why}: pass the next_cursor of the previous page unchanged, with the same pair, from and model_version`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad('is malformed');
  }
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    !Number.isSafeInteger(v[0]) ||
    (v[0] as number) < 0 ||
    !Number.isSafeInteger(v[1]) ||
    (v[1] as number) < 1 ||
    (v[1] as number) > 100_000 ||
    typeof v[2] !== 'string'
  ) {
    throw bad('is malformed');
  }
  if (v[2] !== expectedQuery) throw bad('belongs to another query');
  return { t_ms: v[0] as number, skip: v[1] as number, q: v[2] };
}

/** A short stable digest of the parts of a query a cursor is bound to. */
export function queryDigest(parts: readonly (string | number | undefined)[]): string {
  let h = 0x811c9dc5;
  const s = JSON.stringify(parts.map((p) => p ?? null));
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}
