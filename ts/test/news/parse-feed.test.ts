/**
 * feedsmith-based parsing on the real feed snapshots (rss/, fetched by testData: not redistributable),
 * compared with an independent reference: Python's standard-library XML parser
 * (xml.etree) reading the same files.
 */
import { test } from 'node:test';
import { testData } from '../fixtures/test-data.ts';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFeedItems, FeedParseError, xmlLooksComplete } from '../../src/news/parse-feed.ts';
import { identityKey, newsIdOf } from '../../src/news/news-id.ts';

const FILES = {
  coindesk: 'coindesk_rss_20261003.xml',
  cointelegraph: 'cointelegraph_rss_20261003.xml',
  decrypt: 'decrypt_feed_20261003.xml',
} as const;

function feedText(name: keyof typeof FILES): string {
  return readFileSync(testData(`rss/${FILES[name]}`), 'utf8');
}

interface RefItem {
  title: string;
  link: string;
  guid: string;
  pubDate: string;
}

/** Items as Python's xml.etree sees them (titles whitespace-collapsed). */
function pythonReference(file: string): RefItem[] {
  const py = `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
out = []
for it in root.iter('item'):
    g = lambda k: ' '.join((it.findtext(k) or '').split())
    out.append({'title': g('title'), 'link': g('link'), 'guid': g('guid'), 'pubDate': g('pubDate')})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync('python3', ['-c', py, file], { encoding: 'utf8' })) as RefItem[];
}

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

for (const name of Object.keys(FILES) as (keyof typeof FILES)[]) {
  test(`real ${name} feed: same items, titles, ids and dates as Python's XML parser`, () => {
    const text = feedText(name);
    const ref = pythonReference(testData(`rss/${FILES[name]}`));
    const fallback = Date.parse('2030-01-01T00:00:00Z');
    const { items, skipped } = parseFeedItems(text, name, fallback);
    assert.equal(skipped, 0);
    assert.equal(items.length, ref.length);
    assert.ok(items.length >= 25, `expected >= 25 items, got ${items.length}`);
    for (let i = 0; i < ref.length; i++) {
      const got = items[i]!;
      const want = ref[i]!;
      // Titles: entity-decoded text; Python decodes XML entities; the decrypt
      // feed double-escapes some, which we decode once more.
      assert.equal(collapse(got.title), collapse(want.title.replace(/&#39;|&#039;/g, "'").replace(/&#34;|&quot;/g, '"').replace(/&amp;/g, '&')));
      assert.equal(got.id, newsIdOf(identityKey(want.guid || undefined, want.link)!));
      assert.equal(got.published_ms, Date.parse(want.pubDate));
      assert.equal(got.source, name);
      assert.ok(!/<[a-z/][^>]*>/i.test(got.summary), `HTML left in summary: ${got.summary.slice(0, 80)}`);
      assert.ok(!/utm_/.test(got.url), `utm params left in url ${got.url}`);
    }
    assert.equal(new Set(items.map((i) => i.id)).size, items.length, 'ids are unique within a feed');
  });
}

test('cointelegraph: HTML description becomes plain text; utm-tagged link and permalink guid give one id', () => {
  const { items } = parseFeedItems(feedText('cointelegraph'), 'cointelegraph', Date.now());
  const first = items[0]!;
  assert.ok(first.summary.startsWith('Need to know what happened in crypto today?'), first.summary);
  assert.equal(first.url, 'https://cointelegraph.com/news/what-happened-in-crypto-today');
  assert.equal(first.id, newsIdOf(identityKey(undefined, 'https://cointelegraph.com/news/what-happened-in-crypto-today?utm_source=x')!));
});

test('a future pubDate is capped at the fetch time; a missing date uses it', () => {
  const xml = `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>Future</title><link>https://a.io/1</link><pubDate>Mon, 01 Jan 2100 00:00:00 +0000</pubDate></item>
    <item><title>No date</title><link>https://a.io/2</link></item>
    <item><link>https://a.io/3</link></item>
  </channel></rss>`;
  const now = Date.parse('2026-01-01T00:00:00Z');
  const r = parseFeedItems(xml, 'x', now);
  assert.deepEqual(r.items.map((i) => i.published_ms), [now, now]);
  assert.equal(r.skipped, 1, 'an item without a title is skipped');
});

test('Atom feeds parse (entries, alternate link, published)', () => {
  const xml = `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>a</title><id>urn:x</id><updated>2026-01-01T00:00:00Z</updated>
    <entry><id>urn:uuid:1</id><title>Ether &amp; Solana rally</title><link rel="alternate" href="https://b.io/e1?utm_medium=x"/>
    <published>2026-01-02T03:04:05Z</published><updated>2026-01-02T04:00:00Z</updated><summary type="html">&lt;p&gt;Up &lt;b&gt;5%&lt;/b&gt;&lt;/p&gt;</summary></entry></feed>`;
  const r = parseFeedItems(xml, 'atom', Date.parse('2027-01-01T00:00:00Z'));
  assert.equal(r.format, 'atom');
  assert.equal(r.items.length, 1);
  assert.deepEqual(r.items[0], {
    id: newsIdOf('urn:uuid:1'),
    source: 'atom',
    title: 'Ether & Solana rally',
    url: 'https://b.io/e1',
    published_ms: Date.parse('2026-01-02T03:04:05Z'),
    summary: 'Up 5%',
  });
});

test('truncated and broken documents are errors with a kind', () => {
  for (const name of Object.keys(FILES) as (keyof typeof FILES)[]) {
    const text = feedText(name);
    for (const cut of [0.1, 0.5, 0.99]) {
      assert.throws(
        () => parseFeedItems(text.slice(0, Math.floor(text.length * cut)), name, 0),
        (e: unknown) => e instanceof FeedParseError && e.kind === 'truncated',
      );
    }
    assert.ok(xmlLooksComplete(text));
  }
  assert.throws(() => parseFeedItems('', 'x', 0), (e: unknown) => e instanceof FeedParseError && e.kind === 'truncated');
  assert.throws(
    () => parseFeedItems('<html><body>Service unavailable</body></html>', 'x', 0),
    (e: unknown) => e instanceof FeedParseError && e.kind === 'parse',
  );
});
