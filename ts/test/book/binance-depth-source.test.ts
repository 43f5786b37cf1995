// The Binance depth source against a fake Binance on 127.0.0.1 (WebSocket + HTTP) replaying the
// real BTCUSDT diff recording: synchronised by Binance's rules on a clean feed (one snapshot, no
// gap, best bid/ask equal to the fake's true book), every injected gap and corrupted sequence
// detected and healed by a new snapshot, duplicates ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { BookRecorder, readBookRecording, replayBookRecording } from '../../src/sources/book-recording.ts';
import type { BookFeatures } from '../../src/contracts/messages.ts';
import { BinanceDepthSource } from '../../src/sources/binance-depth.ts';
import { BinanceDepthFake, type BinanceDepthFakeOptions } from '../fixtures/binance-depth-fake.ts';

const PAIR = 'BTC/USDT';

async function run(o: Partial<BinanceDepthFakeOptions>) {
  const fake = await BinanceDepthFake.start({ from: 300, to: 1500, batch: 4, tickMs: 2, snapshotDelayMs: 40, ...o });
  const source = new BinanceDepthSource({ pairs: [PAIR], logger: pino({ level: 'silent' }), url: fake.wsUrl, restBaseUrl: fake.restUrl });
  const messages: BookFeatures[] = [];
  const rejects: string[] = [];
  const file = join(mkdtempSync(join(tmpdir(), 'binance-depth-')), 'book.jsonl.gz');
  const recorder = new BookRecorder(file);
  const running = source.run({ bookFeatures: async (b) => void messages.push(...b), reject: (_r, why) => void rejects.push(why), rawFrame: recorder.rawFrame });
  await fake.finished;
  await new Promise((r) => setTimeout(r, 200));
  const book = source.books.book(PAIR)!;
  const got = { synced: book.synced, gaps: book.gaps, bid: book.bids(1), ask: book.asks(1) };
  const want = fake.best();
  await source.stop();
  await running;
  await fake.close();
  await recorder.close();
  const replayed = await replayBookRecording(readBookRecording(file), { binancePairs: [PAIR] });
  return { fake, source, got, want, messages, rejects, replayed };
}

test('clean feed: one snapshot, no gap, the best bid and ask equal the true book', async () => {
  const { fake, source, got, want, rejects } = await run({});
  assert.deepEqual(rejects, []);
  assert.equal(got.synced, true);
  assert.equal(got.gaps, 0);
  assert.equal(fake.stats.snapshots, 1);
  assert.equal(source.stats.snapshots, 1);
  assert.deepEqual({ bid: got.bid[0], bidQty: got.bid[1], ask: got.ask[0], askQty: got.ask[1] }, want);
});

test('injected gaps and corrupted ids each trigger a new snapshot; duplicates are ignored', async () => {
  const skipAt = [600, 900];
  const corruptIdsAt = [1200];
  const { fake, got, want, messages, replayed } = await run({ skipAt, corruptIdsAt, duplicateAt: [700, 1000] });
  // The recorded frames and snapshots replay to the same book features, bit for bit.
  assert.ok(messages.length >= 1);
  assert.deepStrictEqual(replayed, messages);
  // Each skipped event is one gap, the corrupted one too; it then sits first in the buffer, and
  // the genuine event straddling the next snapshot's lastUpdateId + 1 shows it is not genuine:
  // one new snapshot per fault.
  assert.equal(got.gaps, skipAt.length + corruptIdsAt.length);
  assert.equal(fake.stats.snapshots, 1 + got.gaps);
  assert.equal(got.synced, true);
  assert.deepEqual({ bid: got.bid[0], bidQty: got.bid[1], ask: got.ask[0], askQty: got.ask[1] }, want);
});
