/**
 * Feed text (RSS 2.0, Atom, RDF, JSON Feed) to `News` messages, through the
 * feedsmith parser. A feed that does not parse, or an XML feed whose document
 * is cut short (the root element is never closed: a truncated download), is an
 * error: `FeedParseError` with kind 'parse' or 'truncated'.
 */
import { parseFeed } from 'feedsmith';
import type { News } from '../contracts/messages.ts';
import { htmlToText } from './html-text.ts';
import { identityKey, newsIdOf, normaliseUrl } from './news-id.ts';

export type FeedParseErrorKind = 'parse' | 'truncated';

export class FeedParseError extends Error {
  constructor(
    readonly kind: FeedParseErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'FeedParseError';
  }
}

const MAX_TITLE = 2000;
const MAX_SUMMARY = 20000;
const MAX_URL = 4096;

/** A loosely typed view of one item of any feed format feedsmith returns. */
type Loose = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

function textOf(v: unknown): string | undefined {
  if (typeof v === 'string') return str(v);
  if (v && typeof v === 'object') return str((v as Loose).value) ?? str((v as Loose).text);
  return undefined;
}

function dateMs(...candidates: unknown[]): number | undefined {
  for (const c of candidates) {
    const s = c instanceof Date ? c.toISOString() : str(c);
    if (!s) continue;
    const ms = Date.parse(s);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  return undefined;
}

/** True when an XML document's root element is closed at its end. */
export function xmlLooksComplete(text: string): boolean {
  const open = /<([A-Za-z_][\w.:-]*)[\s/>]/.exec(text);
  if (!open) return false;
  const root = open[1]!;
  const closeTag = new RegExp(`</${root.replace(/[.]/g, '\\.')}\\s*>\\s*$`);
  return closeTag.test(text) || new RegExp(`<${root.replace(/[.]/g, '\\.')}[^>]*/>\\s*$`).test(text);
}

interface RawItem {
  guid?: string;
  link?: string;
  title?: string;
  summaryHtml?: string;
  published_ms?: number;
}

function rawItems(format: string, feed: Loose): RawItem[] {
  const list = (format === 'atom' ? feed.entries : feed.items) as Loose[] | undefined;
  if (!Array.isArray(list)) return [];
  return list.map((it): RawItem => {
    switch (format) {
      case 'atom': {
        const links = (Array.isArray(it.links) ? it.links : []) as Loose[];
        const alt = links.find((l) => !l.rel || l.rel === 'alternate') ?? links[0];
        return {
          guid: str(it.id),
          link: alt ? str(alt.href) : undefined,
          title: textOf(it.title),
          summaryHtml: textOf(it.summary) ?? textOf(it.content),
          published_ms: dateMs(it.published, it.updated),
        };
      }
      case 'json':
        return {
          guid: str(it.id),
          link: str(it.url),
          title: str(it.title),
          summaryHtml: str(it.summary) ?? str(it.content_html) ?? str(it.content_text),
          published_ms: dateMs(it.date_published, it.date_modified),
        };
      default: {
        // rss, rdf
        const guid = it.guid;
        const dc = (it.dc ?? {}) as Loose;
        return {
          guid: typeof guid === 'string' ? str(guid) : textOf(guid),
          link: str(it.link),
          title: textOf(it.title),
          summaryHtml: textOf(it.description) ?? textOf((it.content as Loose | undefined)?.encoded),
          published_ms: dateMs(it.pubDate, dc.date, (dc.dates as unknown[] | undefined)?.[0]),
        };
      }
    }
  });
}

export interface ParsedFeed {
  format: string;
  items: News[];
  /** Items dropped because they had no title or no identity (guid/link). */
  skipped: number;
}

/**
 * Parse a feed document into News of `source`. `fallbackMs` stands in for a
 * missing or unparseable date, and caps dates in the future (a score must not
 * become known before we could have seen it).
 */
export function parseFeedItems(text: string, source: string, fallbackMs: number): ParsedFeed {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') throw new FeedParseError('truncated', 'empty document');
  const isJson = trimmed.startsWith('{');
  if (!isJson && !xmlLooksComplete(trimmed)) {
    throw new FeedParseError('truncated', 'document ends before its root element is closed');
  }
  let parsed: { format: string; feed: unknown };
  try {
    parsed = parseFeed(isJson ? JSON.parse(trimmed) : trimmed) as { format: string; feed: unknown };
  } catch (e) {
    throw new FeedParseError('parse', `not a feed: ${(e as Error).message}`);
  }
  const out: News[] = [];
  let skipped = 0;
  for (const r of rawItems(parsed.format, (parsed.feed ?? {}) as Loose)) {
    const title = htmlToText(r.title).slice(0, MAX_TITLE);
    const key = identityKey(r.guid, r.link);
    if (!title || !key) {
      skipped++;
      continue;
    }
    const published = r.published_ms === undefined ? fallbackMs : Math.min(r.published_ms, fallbackMs);
    out.push({
      id: newsIdOf(key),
      source,
      title,
      url: normaliseUrl(r.link ?? (/^https?:/i.test(r.guid ?? '') ? r.guid! : '')).slice(0, MAX_URL),
      published_ms: Math.floor(published),
      summary: htmlToText(r.summaryHtml).slice(0, MAX_SUMMARY),
    });
  }
  return { format: parsed.format, items: out, skipped };
}
