/**
 * Stable identity of a news item, so the same story fetched twice (or from a
 * restarted process) gets the same `News.id` and is sent once.
 *
 * id = first 32 hex chars of sha256(key), where key is the item's guid when it
 * has one (a guid that is a URL is normalised like a link), else its normalised
 * link. Guids first: they survive slug edits; links are the fallback.
 */
import { createHash } from 'node:crypto';

/**
 * Normalise a URL for identity: lowercase scheme and host, drop the fragment,
 * drop `utm_*` query parameters, drop default ports and a trailing slash of the
 * path (but keep "/" alone). Returns the trimmed input unchanged when it is not
 * an absolute http(s) URL.
 */
export function normaliseUrl(raw: string): string {
  const s = raw.trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return s;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return s;
  u.hash = '';
  for (const k of [...u.searchParams.keys()]) {
    if (k.toLowerCase().startsWith('utm_')) u.searchParams.delete(k);
  }
  // URL already lowercases scheme and host and drops default ports.
  let path = u.pathname;
  if (path.length > 1 && path.endsWith('/')) path = path.replace(/\/+$/, '') || '/';
  const query = u.searchParams.toString();
  return `${u.protocol}//${u.host}${path}${query ? `?${query}` : ''}`;
}

/** The identity key of an item: its guid (normalised when it is a URL) or its normalised link. */
export function identityKey(guid: string | undefined, link: string | undefined): string | undefined {
  const g = guid?.trim();
  if (g) return /^https?:\/\//i.test(g) ? normaliseUrl(g) : g;
  const l = link?.trim();
  return l ? normaliseUrl(l) : undefined;
}

/** Hex prefix length of ids (128 bits). */
export const NEWS_ID_HEX_CHARS = 32;

/** `News.id` of an identity key. */
export function newsIdOf(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, NEWS_ID_HEX_CHARS);
}
