/**
 * CryptoPanic developer API v2 (`GET https://cryptopanic.com/api/developer/v2/posts/`)
 * as a news feed: only used when a token is configured. The response is
 * `{ next, previous, results: [{ id, slug, title, description?, published_at,
 * url?, original_url?, kind, source?: {title, domain}, ... }] }`. We read one
 * page per poll (the newest posts); the shared cursor de-duplicates.
 */
import type { News } from '../contracts/messages.ts';
import { htmlToText } from './html-text.ts';
import { identityKey, newsIdOf, normaliseUrl } from './news-id.ts';
import { FeedParseError } from './parse-feed.ts';

export const CRYPTOPANIC_POSTS_URL = 'https://cryptopanic.com/api/developer/v2/posts/';

export interface CryptoPanicOptions {
  token: string;
  /** Comma-joined tickers to filter by, e.g. ['BTC', 'ETH']; all when omitted. */
  currencies?: string[];
  /** 'news' (default) or 'media' or 'all'. */
  kind?: 'news' | 'media' | 'all';
  /** Override for tests. */
  baseUrl?: string;
}

/** The request URL. Contains the token: never log it. */
export function cryptoPanicUrl(o: CryptoPanicOptions): string {
  const u = new URL(o.baseUrl ?? CRYPTOPANIC_POSTS_URL);
  u.searchParams.set('auth_token', o.token);
  u.searchParams.set('public', 'true');
  if ((o.kind ?? 'news') !== 'all') u.searchParams.set('kind', o.kind ?? 'news');
  if (o.currencies?.length) u.searchParams.set('currencies', o.currencies.join(','));
  return u.toString();
}

type Loose = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/** Posts of one API response as News of source `cryptopanic` (or `cryptopanic:<domain>`). */
export function parseCryptoPanicPosts(body: string, fallbackMs: number): { items: News[]; skipped: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw new FeedParseError(body.trim().startsWith('{') ? 'truncated' : 'parse', `not JSON: ${(e as Error).message}`);
  }
  const results = (parsed as Loose | null)?.results;
  if (!Array.isArray(results)) throw new FeedParseError('parse', 'no results array in CryptoPanic response');
  const items: News[] = [];
  let skipped = 0;
  for (const p of results as Loose[]) {
    const title = htmlToText(str(p.title)).slice(0, 2000);
    const link = str(p.original_url) ?? str(p.url);
    const postId = p.id === undefined || p.id === null ? undefined : String(p.id);
    const slug = str(p.slug);
    const url =
      link ?? (postId ? `https://cryptopanic.com/news/${postId}/${slug ?? ''}`.replace(/\/$/, '') : undefined);
    // Link first: the same story from an RSS feed then gets the same id.
    const key = identityKey(undefined, link) ?? (postId ? `cryptopanic:${postId}` : undefined);
    if (!title || !key) {
      skipped++;
      continue;
    }
    const ms = Date.parse(str(p.published_at) ?? str(p.created_at) ?? '');
    const source = (p.source as Loose | undefined)?.domain;
    items.push({
      id: newsIdOf(key),
      source: `cryptopanic${typeof source === 'string' && source ? `:${source}` : ''}`.slice(0, 128),
      title,
      url: normaliseUrl(url ?? '').slice(0, 4096),
      published_ms: Math.floor(Number.isFinite(ms) && ms >= 0 ? Math.min(ms, fallbackMs) : fallbackMs),
      summary: htmlToText(str(p.description)).slice(0, 20000),
    });
  }
  return { items, skipped };
}
