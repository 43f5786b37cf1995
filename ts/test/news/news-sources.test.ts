import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { News } from '../../src/contracts/messages.ts';
import { newsSourceFromConfig, NEWS_CURSOR_FILE } from '../../src/news/news-sources.ts';
import { FeedPoller } from '../../src/news/feed-poller.ts';
import { ReplayNewsSource } from '../../src/news/replay-source.ts';
import type { FeedFetcher } from '../../src/news/feed-fetcher.ts';
import { testData } from '../fixtures/test-data.ts';

test('network off: the replay source, with its cursor in the data dir (a restart sends nothing twice)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-ns-'));
  try {
    const logger = pino({ level: 'silent' });
    const a = newsSourceFromConfig({ dataDir: dir, network: false, logger });
    assert.ok(a instanceof ReplayNewsSource);
    const got: News[] = [];
    a.start(async (b) => void got.push(...b));
    await (a as ReplayNewsSource).done();
    assert.equal(got.length, 300);
    assert.ok(existsSync(join(dir, NEWS_CURSOR_FILE)));
    const b = newsSourceFromConfig({ dataDir: dir, network: false, logger }) as ReplayNewsSource;
    const again: News[] = [];
    b.start(async (x) => void again.push(...x));
    await b.done();
    assert.equal(again.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('network on: default feeds plus CryptoPanic when a token is set; the token never reaches the logs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-ns-'));
  const logs: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(c, _e, cb) {
        logs.push(String(c));
        cb();
      },
    }),
  );
  const asked: string[] = [];
  const rss = readFileSync(testData('rss/cointelegraph_rss_20261003.xml'), 'utf8');
  const fetcher: FeedFetcher = {
    async fetch(url) {
      asked.push(url);
      if (url.includes('cryptopanic.com')) {
        return { status: 'ok', body: JSON.stringify({ results: [{ id: 1, title: 'Bitcoin up', published_at: '2026-01-01T00:00:00Z' }] }), validators: {} };
      }
      if (url.includes('decrypt')) throw new (await import('../../src/news/feed-fetcher.ts')).FeedFetchError('http', 'HTTP 503', 503);
      return { status: 'ok', body: rss, validators: { etag: '"x"' } };
    },
  };
  try {
    const src = newsSourceFromConfig({ dataDir: dir, network: true, cryptopanicToken: 'SECRET-TOKEN-123', fetcher, logger });
    assert.ok(src instanceof FeedPoller);
    const got: News[] = [];
    const out = await (src as FeedPoller).tick(async (b) => void got.push(...b));
    assert.deepEqual(out.map((o) => o.feed), ['coindesk', 'cointelegraph', 'decrypt', 'cryptopanic']);
    assert.equal(asked.length, 4);
    assert.ok(asked.some((u) => u.includes('auth_token=SECRET-TOKEN-123')));
    // coindesk and cointelegraph served the same document: its items go out once.
    assert.equal(got.filter((n) => n.source !== 'cryptopanic').length, 30);
    assert.equal(got.filter((n) => n.source === 'cryptopanic').length, 1);
    assert.ok(logs.length > 0);
    assert.ok(!logs.join('').includes('SECRET-TOKEN-123'), 'token leaked into logs');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
