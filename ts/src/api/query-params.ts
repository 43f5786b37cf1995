/**
 * Parsing of the query values the schemas cannot fully check: times (epoch
 * ms or ISO 8601, which must name a real instant) and the paging cursor.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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
  /** A digest of the query (pair, from, to, model_version). */
  q: string;
}

/**
 * Most rows of one time a cursor may skip: one page then reads at most
 * MAX_CURSOR_SKIP + limit + 1 rows. Rows of one pair share a made_at_ms only
 * across model versions, so real listings stay far below it; a listing with
 * more rows at one time than this ends there (its cursor would be refused).
 */
export const MAX_CURSOR_SKIP = 1000;

/** Bytes of the HMAC-SHA256 kept in a cursor (128 bits). */
const MAC_BYTES = 16;
/** Its length in base64url characters. */
const MAC_CHARS = Math.ceil((MAC_BYTES * 4) / 3);

export interface CursorCodec {
  encode(c: HistoryCursor): string;
  /** The cursor, or ApiError INVALID_CURSOR when it is malformed, not signed by this secret, or for another query. */
  decode(raw: string, expectedQuery: string): HistoryCursor;
}

/**
 * Paging cursors signed with HMAC-SHA256: base64url(JSON [t_ms, skip, q])
 * followed by 22 base64url characters of the signature. Only the server
 * can make one, so a client cannot ask for an arbitrary skip. The secret is
 * TICKCAST_API_CURSOR_SECRET (the same on every replica, so a cursor issued
 * by one is accepted by the others), else random per process (cursors then
 * end with the process).
 */
export function cursorCodec(secret?: string): CursorCodec {
  const key = secret !== undefined && secret.length > 0 ? Buffer.from(secret, 'utf8') : randomBytes(32);
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest().subarray(0, MAC_BYTES);
  const bad = (why: string) => new ApiError('INVALID_CURSOR', `cursor ${why}: pass the next_cursor of the previous page unchanged, with the same pair, from, to and model_version`);
  return {
    encode(c) {
      const payload = Buffer.from(JSON.stringify([c.t_ms, c.skip, c.q]), 'utf8').toString('base64url');
      return payload + mac(payload).toString('base64url');
    },
    decode(raw, expectedQuery) {
      if (raw.length <= MAC_CHARS) throw bad('is malformed');
      const payload = raw.slice(0, -MAC_CHARS);
      const given = Buffer.from(raw.slice(-MAC_CHARS), 'base64url');
      // base64url decoding ignores stray characters: re-encode to compare the exact text.
      if (given.length !== MAC_BYTES || given.toString('base64url') !== raw.slice(-MAC_CHARS) || !timingSafeEqual(given, mac(payload))) {
        throw bad('is malformed or was not issued by this API');
      }
      let v: unknown;
      try {
        v = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
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
        (v[1] as number) > MAX_CURSOR_SKIP ||
        typeof v[2] !== 'string'
      ) {
        throw bad('is malformed');
      }
      if (v[2] !== expectedQuery) throw bad('belongs to another query');
      return { t_ms: v[0] as number, skip: v[1] as number, q: v[2] };
    },
  };
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
