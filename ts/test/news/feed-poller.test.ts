/**
 * The feed poller against a local node:http server that serves the real feed
 * snapshots, a truncated copy, a 500, a response slower than the timeout and
 * 304 on If-None-Match; plus restart from the persisted cursor.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { register } from 'prom-client';
import type { News } from '../../src/contracts/messages.ts';
import { validate } from '../../src/contracts/codec.ts';
import { News as NewsSchema } from '../../src/contracts/messages.ts';
import { FeedPoller } from '../../src/news/feed-poller.ts';
import { httpFeedFetcher } from '../../src/news/feed-fetcher.ts';
import { loadNewsCursor, NewsCursor, saveNewsCursor } from '../../src/news/news-cursor.ts';
import type { FeedSpec } from '../../src/news/news-source.ts';
import { testData } from '../fixtures/test-data.ts';

const logger = pino({ level: 'silent' });
const coindesk = readFileSync(testData('rss/coindesk_rss_20261003.xml'), 'utf8');
const cointelegraph = readFileSync(testData('rss/cointelegraph_rss_20261003.xml'), 'utf8');
const decrypt = readFileSync(testData('rss/decrypt_feed_20261003.xml'), 'utf8');
const itemCount = (xml: string) => (xml.match(/<item[\s>]/g) ?? []).length;

/** The coindesk feed with one extra item at the top, as the next snapshot would be. */
const coindeskPlusOne = coindesk.replace(
  '<item>',
  `<item><title><![CDATA[Bitcoin jumps 5% as ETF inflows surge]]></title><link>https://www.coindesk.com/markets/2026/10/04/new-one</link><guid isPermaLink="false">new-guid-0001</guid><pubDate>Sun, 04 Oct 2026 08:00:00 +0000</pubDate><description><![CDATA[<p>Fresh <b>inflows</b></p>]]></description></item><item>`,
);

interface Hit {
  path: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
}
const hits: Hit[] = [];
let coindeskVersion: 'v1' | 'v2' = 'v1';
let flakyFails = 2;
let server: Server;
let base = '';

function handler(req: IncomingMessage, res: import('node:http').ServerResponse) {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const h: Hit = { path };
  if (typeof req.headers['if-none-match'] === 'string') h.ifNoneMatch = req.headers['if-none-match'];
  if (typeof req.headers['if-modified-since'] === 'string') h.ifModifiedSince = req.headers['if-modified-since'];
  hits.push(h);
  const xml = (body: string, headers: Record<string, string> = {}) => {
    res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8', ...headers });
    res.end(body);
  };
  switch (path) {
    case '/coindesk': {
      const etag = coindeskVersion === 'v1' ? '"cd-1"' : '"cd-2"';
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      return xml(coindeskVersion === 'v1' ? coindesk : coindeskPlusOne, { etag });
    }
    case '/cointelegraph': {
      const lm = 'Sat, 03 Oct 2026 21:42:51 GMT';
      if (req.headers['if-modified-since'] === lm) {
        res.writeHead(304);
        res.end();
        return;
      }
      return xml(cointelegraph, { 'last-modified': lm });
    }
    case '/decrypt': // no validators: always 200
      return xml(decrypt);
    case '/truncated':
      return xml(decrypt.slice(0, Math.floor(decrypt.length / 2)));
    case '/error500':
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
      return;
    case '/slow': {
      res.writeHead(200, { 'content-type': 'application/rss+xml' });
      res.write(coindesk.slice(0, 100));
      const t = setTimeout(() => res.end(coindesk.slice(100)), 20_000);
      res.on('close', () => clearTimeout(t));
      return;
    }
    case '/flaky':
      if (flakyFails > 0) {
        flakyFails--;
        res.writeHead(503);
        res.end();
        return;
      }
      return xml(decrypt);
    default:
      res.writeHead(404);
      res.end();
  }
}

before(async () => {
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function errorCount(feed: string, kind: string): Promise<number> {
  const m = register.getSingleMetric('tickcast_news_fetch_errors_total');
  assert.ok(m, 'tickcast_news_fetch_errors_total is registered');
  const v = (await m.get()).values.find((x) => x.labels.feed === feed && x.labels.kind === kind);
  return v?.value ?? 0;
}

const feeds = (names: string[]): FeedSpec[] => names.map((n) => ({ name: n, url: `${base}/${n}` }));

test('good feeds flow while truncated, 500 and slow feeds fail, are counted and backed off', async () => {
  let now = 1_000_000;
  const emitted: News[][] = [];
  const poller = new FeedPoller({
    feeds: feeds(['coindesk', 'cointelegraph', 'decrypt', 'truncated', 'error500', 'slow']),
    fetcher: httpFeedFetcher(),
    cursor: new NewsCursor(),
    logger,
    clock: () => now,
    intervalMs: 60_000,
    timeoutMs: 1500,
    backoffBaseMs: 5_000,
    backoffMaxMs: 60_000,
  });
  const before = {
    truncated: await errorCount('truncated', 'truncated'),
    http: await errorCount('error500', 'http'),
    timeout: await errorCount('slow', 'timeout'),
  };
  const out = await poller.tick(async (b) => void emitted.push(b));
  const by = Object.fromEntries(out.map((o) => [o.feed, o]));
  assert.deepEqual(by.coindesk, { feed: 'coindesk', outcome: 'ok', emitted: itemCount(coindesk), skipped: 0 });
  assert.deepEqual(by.cointelegraph, { feed: 'cointelegraph', outcome: 'ok', emitted: itemCount(cointelegraph), skipped: 0 });
  assert.deepEqual(by.decrypt, { feed: 'decrypt', outcome: 'ok', emitted: itemCount(decrypt), skipped: 0 });
  assert.equal(by.truncated?.outcome === 'error' && by.truncated.kind, 'truncated');
  assert.equal(by.error500?.outcome === 'error' && by.error500.kind, 'http');
  assert.equal(by.slow?.outcome === 'error' && by.slow.kind, 'timeout');
  assert.equal(await errorCount('truncated', 'truncated'), before.truncated + 1);
  assert.equal(await errorCount('error500', 'http'), before.http + 1);
  assert.equal(await errorCount('slow', 'timeout'), before.timeout + 1);

  // Every emitted message satisfies the News contract; batches are oldest first.
  const all = emitted.flat();
  assert.equal(all.length, itemCount(coindesk) + itemCount(cointelegraph) + itemCount(decrypt));
  for (const n of all) assert.ok(validate(NewsSchema, n).ok, JSON.stringify(n));
  for (const b of emitted) for (let i = 1; i < b.length; i++) assert.ok(b[i - 1]!.published_ms <= b[i]!.published_ms);

  // Backoff: failures are due after base, healthy feeds after the interval.
  const s = poller.schedule();
  assert.equal(s.truncated!.nextDueMs, now + 5_000);
  assert.equal(s.coindesk!.nextDueMs, now + 60_000);
  assert.deepEqual(poller.dueFeeds(now + 5_000).sort(), ['error500', 'slow', 'truncated']);

  // Second round for the failing ones: delay doubles; the good feeds are not due.
  now += 5_000;
  hits.length = 0;
  const out2 = await poller.tick(async (b) => void emitted.push(b));
  assert.deepEqual(out2.map((o) => o.feed).sort(), ['error500', 'slow', 'truncated']);
  assert.equal(poller.schedule().error500!.failures, 2);
  assert.equal(poller.schedule().error500!.nextDueMs, now + 10_000);

  // Third round at the interval: conditional requests; 304 for coindesk (ETag) and cointelegraph (Last-Modified).
  now = 1_000_000 + 60_000;
  hits.length = 0;
  const out3 = await poller.tick(async (b) => void emitted.push(b));
  const by3 = Object.fromEntries(out3.map((o) => [o.feed, o]));
  assert.deepEqual(by3.coindesk, { feed: 'coindesk', outcome: 'not_modified' });
  assert.deepEqual(by3.cointelegraph, { feed: 'cointelegraph', outcome: 'not_modified' });
  assert.deepEqual(by3.decrypt, { feed: 'decrypt', outcome: 'ok', emitted: 0, skipped: 0 }, 'no validators: 200, but nothing re-sent');
  assert.equal(hits.find((h) => h.path === '/coindesk')?.ifNoneMatch, '"cd-1"');
  assert.equal(hits.find((h) => h.path === '/cointelegraph')?.ifModifiedSince, 'Sat, 03 Oct 2026 21:42:51 GMT');
});

test('a failing feed recovers after backoff and the failure count resets', async () => {
  let now = 0;
  flakyFails = 2;
  const poller = new FeedPoller({
    feeds: feeds(['flaky']),
    fetcher: httpFeedFetcher(),
    cursor: new NewsCursor(),
    logger,
    clock: () => now,
    backoffBaseMs: 1000,
    intervalMs: 30_000,
  });
  const sink: News[] = [];
  const emit = async (b: News[]) => void sink.push(...b);
  assert.equal((await poller.tick(emit))[0]?.outcome, 'error');
  assert.deepEqual(await poller.tick(emit), [], 'not due during backoff');
  now += 1000;
  assert.equal((await poller.tick(emit))[0]?.outcome, 'error');
  now += 2000;
  const ok = await poller.tick(emit);
  assert.equal(ok[0]?.outcome, 'ok');
  assert.equal(sink.length, itemCount(decrypt));
  assert.deepEqual(poller.schedule().flaky, { nextDueMs: now + 30_000, failures: 0 });
});

test('restart from the persisted cursor: old news not re-sent, new news not skipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-news-'));
  const file = join(dir, 'news-cursor.json');
  try {
    coindeskVersion = 'v1';
    const mk = (emit: News[]) => {
      const cursor = loadNewsCursor(file);
      return new FeedPoller({
        feeds: feeds(['coindesk', 'decrypt']),
        fetcher: httpFeedFetcher(),
        cursor,
        saveCursor: (c) => saveNewsCursor(file, c),
        logger,
      }).tick(async (b) => void emit.push(...b));
    };
    const first: News[] = [];
    await mk(first);
    assert.equal(first.length, itemCount(coindesk) + itemCount(decrypt));

    // Process restarts: same server state. Nothing is sent again; coindesk answers 304.
    hits.length = 0;
    const second: News[] = [];
    const out = await mk(second);
    assert.equal(second.length, 0);
    assert.equal(out.find((o) => o.feed === 'coindesk')?.outcome, 'not_modified');
    assert.equal(hits.find((h) => h.path === '/coindesk')?.ifNoneMatch, '"cd-1"');

    // A new snapshot with one more item: exactly that item is sent after another restart.
    coindeskVersion = 'v2';
    const third: News[] = [];
    await mk(third);
    assert.equal(third.length, 1);
    assert.equal(third[0]!.title, 'Bitcoin jumps 5% as ETF inflows surge');
    assert.equal(third[0]!.summary, 'Fresh inflows');
    assert.equal(third[0]!.published_ms, Date.parse('2026-10-04T08:00:00Z'));
  } finally {
    coindeskVersion = 'v1';
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed emit commits nothing: the items are sent again on the next poll', async () => {
  let now = 0;
  const cursor = new NewsCursor();
  const poller = new FeedPoller({ feeds: feeds(['decrypt']), fetcher: httpFeedFetcher(), cursor, logger, clock: () => now });
  const r1 = await poller.tick(async () => {
    throw new Error('bus down');
  });
  assert.equal(r1[0]?.outcome === 'error' && r1[0].kind, 'emit');
  assert.equal(cursor.size, 0);
  now += 10_000;
  const got: News[] = [];
  await poller.tick(async (b) => void got.push(...b));
  assert.equal(got.length, itemCount(decrypt));
  assert.equal(cursor.size, itemCount(decrypt));
});

test('the same story in two feeds is sent once (shared cursor); the seen set is bounded', async () => {
  const cursor = new NewsCursor(3);
  cursor.markSeen(['a', 'b', 'c', 'd']);
  assert.equal(cursor.size, 3);
  assert.equal(cursor.has('a'), false, 'oldest forgotten first');
  assert.equal(cursor.has('d'), true);

  const twice = new NewsCursor();
  const poller = new FeedPoller({
    feeds: [
      { name: 'decrypt', url: `${base}/decrypt` },
      { name: 'decrypt-mirror', url: `${base}/decrypt` },
    ],
    fetcher: httpFeedFetcher(),
    cursor: twice,
    logger,
  });
  const got: News[] = [];
  await poller.tick(async (b) => void got.push(...b));
  assert.equal(got.length, itemCount(decrypt));
  assert.equal(new Set(got.map((n) => n.id)).size, got.length);
});
