/**
 * Kraken REST trades: the parser on the real recorded response (expected values read from
 * the raw JSON text and the independently converted CSV), retries with backoff on rate
 * limits and 5xx against a local HTTP server, and a paged backfill against the fake Kraken.
 */
import { testData } from '../fixtures/test-data.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KrakenApiError, KrakenRestBackfillSource, KrakenRestClient, parseKrakenTradesResponse } from '../../src/sources/kraken-rest.ts';
import { backoffDelayMs } from '../../src/sources/backoff.ts';
import { loadKrakenTape } from '../fixtures/kraken-tape.ts';
import { KrakenFake } from '../fixtures/kraken-fake.ts';
import { WaitingSink, byPair, expectedTrade, silentLogger } from './helpers.ts';

const RAW = testData('rest-responses/kraken_http_trades.json');
const CSV = testData('trades/kraken_XBTUSDT_trades_20251110.csv');
const NOW = { nowMs: Date.parse('2025-11-11T00:17:04Z'), maxFutureMs: 300_000 }; // the capture's server time

test('parses the real recorded GET /0/public/Trades response (XBTUSDT, 1000 rows)', () => {
  const text = readFileSync(RAW, 'utf8');
  const body = JSON.parse(text) as { result: { XBTUSDT: unknown[][]; last: string } };
  const page = parseKrakenTradesResponse(body, NOW);
  assert.equal(page.pair, 'BTC/USDT');
  assert.equal(page.last, body.result.last);
  assert.deepEqual(page.rejects, []);
  const rows = body.result.XBTUSDT;
  assert.equal(page.trades.length, rows.length);
  // time as written in the file (decimal text, not a float): ms = whole seconds * 1000 + first 3 fraction digits
  const timeTexts = [...text.matchAll(/^\s*(\d{10}\.\d+),\s*$/gm)].map((m) => m[1]!);
  assert.equal(timeTexts.length, rows.length);
  rows.forEach((row, i) => {
    const [sec, frac = ''] = timeTexts[i]!.split('.');
    const t = page.trades[i]!.trade;
    assert.deepEqual(t, {
      exchange: 'kraken',
      pair: 'BTC/USDT',
      trade_id: String(row[6]),
      price: Number(row[0]),
      qty: Number(row[1]),
      side: row[3] === 'b' ? 'buy' : 'sell',
      ts_ms: Number(sec) * 1000 + Number(frac.padEnd(3, '0').slice(0, 3)),
    });
  });
  // and against the CSV converted from it by someone else (time_utc derived, trade_id, side)
  const csv = readFileSync(CSV, 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(','));
  assert.equal(csv.length, page.trades.length);
  csv.forEach((c, i) => {
    const t = page.trades[i]!.trade;
    assert.equal(t.trade_id, c[7]);
    assert.equal(t.ts_ms, Date.parse(c[1]!), `row ${i} time ${c[1]}`);
    assert.equal(t.price, Number(c[2]));
    assert.equal(t.side, c[4] === 'b' ? 'buy' : 'sell');
  });
});

test('bad rows become rejects; exchange errors throw with their code', () => {
  const page = parseKrakenTradesResponse(
    { error: [], result: { XXBTZUSD: [['abc', '1', 1700000000.1, 'b', 'l', '', 1], ['100', '-1', 1700000000.2, 's', 'l', '', 2], ['100', '1', 1700000000.3, 'x', 'l', '', 3], ['100', '1', 1700000000.4, 's', 'm', '', 4], ['100'], ['100', '1', 1800000000, 's', 'm', '', 5]], last: '1700000000400000000' } },
    { nowMs: 1_700_000_100_000, maxFutureMs: 300_000 },
  );
  assert.equal(page.pair, 'BTC/USD');
  assert.deepEqual(page.trades.map((t) => t.trade.trade_id), ['4']);
  assert.deepEqual(page.rejects.map((r) => r.kind), ['bad_price', 'bad_qty', 'bad_side', 'bad_frame', 'future_timestamp']);
  assert.throws(() => parseKrakenTradesResponse({ error: ['EQuery:Unknown asset pair'] }, NOW), (e: unknown) => e instanceof KrakenApiError && e.code === 'EQuery:Unknown asset pair');
});

/** A local server answering with a scripted sequence of responses. */
async function scripted(responses: { status: number; body: string }[]) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    const r = responses.shift() ?? { status: 500, body: 'script exhausted' };
    res.writeHead(r.status, { 'content-type': 'application/json' });
    res.end(r.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('retries with exponential backoff on rate limits and 5xx, then succeeds', async () => {
  const ok = JSON.stringify({ error: [], result: { XXBTZUSD: [['10749.4', '0.004', 1561939203.172, 's', 'l', '', 42]], last: '1561939203172000000' } });
  const srv = await scripted([
    { status: 200, body: JSON.stringify({ error: ['EAPI:Rate limit exceeded'] }) },
    { status: 429, body: JSON.stringify({ error: ['EGeneral:Too many requests'] }) },
    { status: 502, body: '<html>bad gateway</html>' },
    { status: 200, body: JSON.stringify({ error: ['EGeneral:Too many requests'] }) },
    { status: 200, body: ok },
  ]);
  const sleeps: number[] = [];
  const random = () => 0.5;
  const client = new KrakenRestClient({ baseUrl: srv.url, logger: silentLogger, sleep: async (ms) => void sleeps.push(ms), random, backoff: { baseMs: 100, maxMs: 1000, jitter: 0.5 }, clock: () => 1561939300000 });
  try {
    const page = await client.tradesPage('BTC/USD', '1561939200000000000');
    assert.equal(page.trades[0]!.trade.trade_id, '42');
    assert.equal(srv.seen.length, 5);
    assert.ok(srv.seen.every((u) => u === '/0/public/Trades?pair=XBTUSD&since=1561939200000000000'), srv.seen[0]);
    // equal jitter with random()=0.5: 0.75 * min(max, base * 2^n) => 75, 150, 300, 600
    assert.deepEqual(sleeps, [75, 150, 300, 600]);
  } finally {
    await srv.close();
  }
});

test('a non-retryable exchange error is thrown at once; retries are bounded', async () => {
  const srv = await scripted([{ status: 200, body: JSON.stringify({ error: ['EQuery:Unknown asset pair'] }) }, ...Array.from({ length: 3 }, () => ({ status: 503, body: '' }))]);
  const client = new KrakenRestClient({ baseUrl: srv.url, logger: silentLogger, sleep: async () => undefined, maxAttempts: 3 });
  try {
    await assert.rejects(client.tradesPage('FOO/BAR'), (e: unknown) => e instanceof KrakenApiError && e.code === 'EQuery:Unknown asset pair');
    assert.equal(srv.seen.length, 1);
    await assert.rejects(client.tradesPage('BTC/USD'), (e: unknown) => e instanceof KrakenApiError && e.code === 'retries_exhausted');
    assert.equal(srv.seen.length, 4);
  } finally {
    await srv.close();
  }
});

test('backoff: grows exponentially, capped, jitter within bounds', () => {
  for (let n = 0; n < 12; n++) {
    const full = Math.min(30_000, 500 * 2 ** n);
    assert.equal(backoffDelayMs(n, {}, () => 0), full * 0.5);
    assert.equal(backoffDelayMs(n, {}, () => 1), full);
  }
});

test('backfill pages through the fake Kraken REST (rate limits included) and equals the tape', async () => {
  const tape = loadKrakenTape({ btc: 700, eth: 300 });
  const fake = await KrakenFake.start({ tape, publishAll: true, pageSize: 64, restErrorRate: 0.3, seed: 9 });
  const src = new KrakenRestBackfillSource({
    pairs: ['BTC/USD', 'ETH/USD'],
    baseUrl: fake.restUrl,
    sinceMs: Math.floor(tape[0]!.us / 1000) - 1,
    logger: silentLogger,
    backoff: { baseMs: 1, maxMs: 5 },
    maxAttempts: 50,
  });
  const sink = new WaitingSink();
  try {
    await src.run(sink);
  } finally {
    await fake.close();
  }
  const ref = tape.map(expectedTrade);
  for (const p of ['BTC/USD', 'ETH/USD']) assert.deepEqual(byPair(sink.received, p), byPair(ref, p), p);
  assert.ok(fake.stats.restErrors > 0, 'errors were injected and retried');
  assert.ok(fake.stats.restRequests >= 1000 / 64, `paged: ${fake.stats.restRequests} requests`);
});
