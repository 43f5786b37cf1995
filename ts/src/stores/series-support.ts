/**
 * What both backends share: batch validation, selector keys, query checks.
 * Pure functions, no I/O.
 */
import { validate } from '../contracts/codec.ts';
import { StoreError } from './store-error.ts';
import type { RangeQuery, RejectedDocument, SeriesSpec } from './types.ts';

export interface ValidBatch<T> {
  /** Valid documents with their natural key, in batch order, last write of a key wins. */
  valid: { index: number; id: string; doc: T }[];
  rejected: RejectedDocument[];
}

/** Validate each document of a batch against the series schema. */
export function validateBatch<T>(spec: SeriesSpec<T>, docs: readonly T[]): ValidBatch<T> {
  const valid: ValidBatch<T>['valid'] = [];
  const rejected: RejectedDocument[] = [];
  docs.forEach((doc, index) => {
    const v = validate(spec.schema, doc);
    if (v.ok) {
      valid.push({ index, id: spec.naturalKey(doc), doc });
    } else {
      rejected.push({
        index,
        error: new StoreError('INVALID_DOCUMENT', `invalid ${spec.name} document at index ${index}: ${v.reason}`),
      });
    }
  });
  return { valid, rejected };
}

/** The error put() throws for a rejected document. */
export function rejectedError<T>(spec: SeriesSpec<T>, rejected: RejectedDocument[]): StoreError {
  const first = rejected[0];
  const code = first?.error.code ?? 'INVALID_DOCUMENT';
  const msg = rejected.map((r) => r.error.message).join('; ');
  return new StoreError(code, msg || `${spec.name}: document rejected`, { rejected });
}

/** The value of a field of a document or selector, as a string for keys. */
function fieldText(obj: Record<string, unknown>, field: string, what: string): string {
  const v = obj[field];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new StoreError('INVALID_QUERY', `${what}: field '${field}' must be a string or a finite number, got ${JSON.stringify(v)}`);
}

/** The series key of a document or of a selector: its series fields joined by '|'. */
export function seriesKeyOf<T>(spec: SeriesSpec<T>, obj: object): string {
  const rec = obj as Record<string, unknown>;
  return spec.seriesFields.map((f) => fieldText(rec, f, `${spec.name} selector`)).join('|');
}

/** The optional filters present in a selector (e.g. model_version). */
export function filtersOf<T>(spec: SeriesSpec<T>, sel: object): [string, string][] {
  const rec = sel as Record<string, unknown>;
  const out: [string, string][] = [];
  for (const f of spec.filterFields) {
    if (rec[f] === undefined) continue;
    out.push([f, fieldText(rec, f, `${spec.name} selector`)]);
  }
  return out;
}

/** The time of a document (its spec's time field). */
export function timeOf<T>(spec: SeriesSpec<T>, doc: object): number {
  return (doc as Record<string, number>)[spec.timeField] as number;
}

export interface CheckedRange {
  from_ms: number | undefined;
  to_ms: number | undefined;
  order: 'asc' | 'desc';
  limit: number | undefined;
}

/** Check a range query's arguments; throws INVALID_QUERY on nonsense. */
export function checkRange(q: RangeQuery = {}): CheckedRange {
  const isTime = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (q.from_ms !== undefined && !isTime(q.from_ms)) throw new StoreError('INVALID_QUERY', `from_ms must be a finite number, got ${q.from_ms}`);
  if (q.to_ms !== undefined && !isTime(q.to_ms)) throw new StoreError('INVALID_QUERY', `to_ms must be a finite number, got ${q.to_ms}`);
  if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') throw new StoreError('INVALID_QUERY', `order must be 'asc' or 'desc', got ${String(q.order)}`);
  if (q.limit !== undefined && !(Number.isInteger(q.limit) && q.limit >= 0)) throw new StoreError('INVALID_QUERY', `limit must be a non-negative integer, got ${q.limit}`);
  return { from_ms: q.from_ms, to_ms: q.to_ms, order: q.order ?? 'asc', limit: q.limit };
}

export function checkTime(t_ms: number): number {
  if (typeof t_ms !== 'number' || !Number.isFinite(t_ms)) throw new StoreError('INVALID_QUERY', `t_ms must be a finite number, got ${t_ms}`);
  return t_ms;
}
