import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoPanicUrl, parseCryptoPanicPosts } from '../../src/news/cryptopanic.ts';
import { FeedParseError } from '../../src/news/parse-feed.ts';
import { identityKey, newsIdOf } from '../../src/news/news-id.ts';

test('CryptoPanic v2 posts URL: token, public, kind, currencies', () => {
  const u = new URL(cryptoPanicUrl({ token: 'T0K', currencies: ['BTC', 'ETH'] }));
  assert.equal(u.origin + u.pathname, 'https://cryptopanic.com/api/developer/v2/posts/');
  assert.equal(u.searchParams.get('auth_token'), 'T0K');
  assert.equal(u.searchParams.get('public'), 'true');
  assert.equal(u.searchParams.get('kind'), 'news');
  assert.equal(u.searchParams.get('currencies'), 'BTC,ETH');
  assert.equal(new URL(cryptoPanicUrl({ token: 'x', kind: 'all' })).searchParams.has('kind'), false);
});

test('CryptoPanic posts become News; original URL gives the same id as the RSS link would', () => {
  const body = JSON.stringify({
    next: null,
    results: [
      {
        id: 101,
        slug: 'Bitcoin-rallies',
        title: 'Bitcoin rallies &amp; ETH follows',
        description: '<p>Markets up</p>',
        published_at: '2026-02-01T10:00:00Z',
        original_url: 'https://www.coindesk.com/markets/x',
        source: { title: 'CoinDesk', domain: 'coindesk.com' },
      },
      { id: 102, slug: 'No-Link', title: 'Ether dips', published_at: '2026-02-01T11:00:00Z' },
      { id: 103, title: '' },
    ],
  });
  const now = Date.parse('2026-03-01T00:00:00Z');
  const r = parseCryptoPanicPosts(body, now);
  assert.equal(r.skipped, 1);
  assert.deepEqual(r.items[0], {
    id: newsIdOf(identityKey(undefined, 'https://www.coindesk.com/markets/x')!),
    source: 'cryptopanic:coindesk.com',
    title: 'Bitcoin rallies & ETH follows',
    url: 'https://www.coindesk.com/markets/x',
    published_ms: Date.parse('2026-02-01T10:00:00Z'),
    summary: 'Markets up',
  });
  assert.equal(r.items[1]!.id, newsIdOf('cryptopanic:102'));
  assert.equal(r.items[1]!.url, 'https://cryptopanic.com/news/102/No-Link');
  assert.throws(() => parseCryptoPanicPosts('{"results": [', now), (e: unknown) => e instanceof FeedParseError && e.kind === 'truncated');
  assert.throws(() => parseCryptoPanicPosts('{"detail":"Invalid token"}', now), (e: unknown) => e instanceof FeedParseError && e.kind === 'parse');
});
