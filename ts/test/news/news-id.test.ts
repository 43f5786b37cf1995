import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { identityKey, newsIdOf, normaliseUrl } from '../../src/news/news-id.ts';
import { htmlToText } from '../../src/news/html-text.ts';
import { parseCsvRecords, parseCsvRows } from '../../src/news/csv.ts';

test('normaliseUrl strips utm_*, fragment, trailing slash; lowercases host; keeps other params', () => {
  assert.equal(
    normaliseUrl('https://CoinTelegraph.com/news/abc/?utm_source=rss_feed&utm_medium=rss&id=7#top'),
    'https://cointelegraph.com/news/abc?id=7',
  );
  assert.equal(normaliseUrl('HTTPS://Example.COM:443/'), 'https://example.com/');
  assert.equal(normaliseUrl('http://example.com:8080/a//'), 'http://example.com:8080/a');
  assert.equal(normaliseUrl('  https://x.io/p?UTM_Campaign=z  '), 'https://x.io/p');
  // Path case is significant and kept.
  assert.equal(normaliseUrl('https://x.io/News/ABC'), 'https://x.io/News/ABC');
  // Not a URL: returned trimmed, unchanged.
  assert.equal(normaliseUrl(' urn:uuid:1234 '), 'urn:uuid:1234');
});

test('identity: guid first, URL guids normalised; link as fallback; id = sha256 hex prefix', () => {
  assert.equal(identityKey('81095c8a-ed91', 'https://a.com/x'), '81095c8a-ed91');
  assert.equal(identityKey('https://A.com/x/', 'https://b.com/y'), 'https://a.com/x');
  assert.equal(identityKey(undefined, 'https://a.com/x?utm_source=q'), 'https://a.com/x');
  assert.equal(identityKey('  ', ''), undefined);
  const ref = createHash('sha256').update('https://a.com/x').digest('hex').slice(0, 32);
  assert.equal(newsIdOf('https://a.com/x'), ref);
  assert.equal(newsIdOf(identityKey(undefined, 'https://a.com/x/#frag')!), ref);
});

test('htmlToText strips tags and decodes (also double-escaped) entities', () => {
  assert.equal(
    htmlToText('<p style="x"><img src="a.jpg" alt="q"></p><p>Bitcoin &amp; Ether&#39;s <b>rally</b>&nbsp;ends</p>'),
    "Bitcoin & Ether's rally ends",
  );
  assert.equal(htmlToText('It&amp;#039;s &#x2019;ok&#8217;'), 'It\'s ’ok’');
  assert.equal(htmlToText('<script>alert(1)</script>a<br/>b'), 'a b');
  assert.equal(htmlToText(undefined), '');
});

test('CSV reader: quotes, doubled quotes, embedded newlines and commas, CRLF', () => {
  const rows = parseCsvRows('a,b,c\r\n1,"x, ""y""",3\n"multi\nline",,z\n');
  assert.deepEqual(rows, [
    ['a', 'b', 'c'],
    ['1', 'x, "y"', '3'],
    ['multi\nline', '', 'z'],
  ]);
  assert.deepEqual(parseCsvRecords('h1,h2\nv1,v2'), [{ h1: 'v1', h2: 'v2' }]);
  assert.throws(() => parseCsvRecords('h1,h2\nonly'), /row 2 has 1 fields/);
  assert.throws(() => parseCsvRows('a,"open'), /unterminated/);
});
