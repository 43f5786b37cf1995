/**
 * The persisted cursor of the news sources: which item ids were already sent
 * (bounded, oldest forgotten first) and, per feed, the HTTP validators (ETag,
 * Last-Modified) of the last response that was fully processed. A small JSON
 * file in the data dir, written atomically (temp file + rename).
 *
 * Order of operations that keeps a restart from re-sending old news or
 * skipping new news: the caller emits the new items first and only then
 * commits their ids and the feed's validators, then saves. A crash between the
 * two re-fetches (no 304: validators not saved) and re-sends at most the items
 * of that one response.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Type, type Static } from '../contracts/typebox.ts';
import { validate } from '../contracts/codec.ts';

export const FeedValidators = Type.Object({
  etag: Type.Optional(Type.String()),
  last_modified: Type.Optional(Type.String()),
});
export type FeedValidators = Static<typeof FeedValidators>;

export const NewsCursorState = Type.Object({
  version: Type.Literal(1),
  /** Sent ids, oldest first. */
  seen: Type.Array(Type.String()),
  feeds: Type.Record(Type.String(), FeedValidators),
});
export type NewsCursorState = Static<typeof NewsCursorState>;

/** Default bound of remembered ids: far more than the feeds hold at once. */
export const DEFAULT_MAX_SEEN = 5000;

export class NewsCursor {
  private readonly seenSet = new Set<string>();
  private readonly seenOrder: string[] = [];
  private readonly feeds = new Map<string, FeedValidators>();

  constructor(readonly maxSeen: number = DEFAULT_MAX_SEEN) {
    if (!(maxSeen >= 1)) throw new RangeError('maxSeen must be >= 1');
  }

  has(id: string): boolean {
    return this.seenSet.has(id);
  }

  get size(): number {
    return this.seenOrder.length;
  }

  /** Remember ids as sent; the oldest are forgotten beyond `maxSeen`. */
  markSeen(ids: Iterable<string>): void {
    for (const id of ids) {
      if (this.seenSet.has(id)) continue;
      this.seenSet.add(id);
      this.seenOrder.push(id);
    }
    while (this.seenOrder.length > this.maxSeen) this.seenSet.delete(this.seenOrder.shift()!);
  }

  validators(feed: string): FeedValidators {
    return { ...(this.feeds.get(feed) ?? {}) };
  }

  setValidators(feed: string, v: FeedValidators): void {
    const clean: FeedValidators = {};
    if (v.etag) clean.etag = v.etag;
    if (v.last_modified) clean.last_modified = v.last_modified;
    this.feeds.set(feed, clean);
  }

  toState(): NewsCursorState {
    return { version: 1, seen: [...this.seenOrder], feeds: Object.fromEntries(this.feeds) };
  }

  static fromState(state: NewsCursorState, maxSeen: number = DEFAULT_MAX_SEEN): NewsCursor {
    const c = new NewsCursor(maxSeen);
    c.markSeen(state.seen);
    for (const [k, v] of Object.entries(state.feeds)) c.setValidators(k, v);
    return c;
  }
}

/** Load a cursor file; a missing file is an empty cursor, a corrupt one throws (never silently re-send everything). */
export function loadNewsCursor(file: string, maxSeen: number = DEFAULT_MAX_SEEN): NewsCursor {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new NewsCursor(maxSeen);
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`news cursor ${file} is not JSON: ${(e as Error).message}`);
  }
  const v = validate(NewsCursorState, parsed);
  if (!v.ok) throw new Error(`news cursor ${file} is invalid: ${v.reason}`);
  return NewsCursor.fromState(v.value, maxSeen);
}

export function saveNewsCursor(file: string, cursor: NewsCursor): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(cursor.toState()));
  renameSync(tmp, file);
}
