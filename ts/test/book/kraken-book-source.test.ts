// The Kraken WS v2 book source against a fake Kraken on 127.0.0.1 (ts/test/fixtures/
// kraken-book-fake.ts) serving a real book (the Binance BTCUSDT recording, published with
// Kraken's semantics and checksums computed by the fake with zlib's crc32): zero checksum
// failures on the clean feed, every injected corruption detected and followed by a
// resubscribe, the book equal to the fake's true top 10 at the end, and no book state that
// failed its checksum in the features.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { BookRecorder, readBookRecording, replayBookRecording } from '../../src/sources/book-recording.ts';
import type { BookFeatures } from '../../src/contracts/messages.ts';
import { KrakenBookSource } from '../../src/sources/kraken-book.ts';
import { FAKE_PAIR, KrakenBookFake } from '../fixtures/kraken-book-fake.ts';
import { loadRecording } from './recording.ts';

const { diffs } = loadRecording();
const logger = pino({ level: 'silent' });

interface Run { fake: KrakenBookFake; source: KrakenBookSource; messages: BookFeatures[]; rejects: string[]; synced: boolean; topMatches: () => void; replayed: BookFeatures[]; frames: number }

async function runAgainst(corruptAt: number[]): Promise<Run> {
  const fake = await KrakenBookFake.start({ diffs: diffs.slice(0, 1600), warm: 500, batch: 8, tickMs: 2, corruptAt });
  const source = new KrakenBookSource({ pairs: [FAKE_PAIR], logger, url: fake.url, deadAfterMs: 5000 });
  const messages: BookFeatures[] = [];
  const rejects: string[] = [];
  // Everything received is recorded as `tickcast record` writes it.
  const file = join(mkdtempSync(join(tmpdir(), 'kraken-book-')), 'book.jsonl.gz');
  const recorder = new BookRecorder(file);
  const running = source.run({ bookFeatures: async (b) => void messages.push(...b), reject: (_raw, why) => void rejects.push(why), rawFrame: recorder.rawFrame });
  await fake.finished;
  await new Promise((r) => setTimeout(r, 100)); // the last frames in flight
  // Read the book before stop() ends it.
  const top = source.books.top(FAKE_PAIR, 10)!;
  const v = fake.view(10);
  const topMatches = () => {
    assert.deepEqual([...top.bids], v.bids.flat());
    assert.deepEqual([...top.asks], v.asks.flat());
  };
  const synced = source.books.synced(FAKE_PAIR);
  // Close the open minute too (a watermark past it), so every applied message is in a row.
  const endMs = Date.now() + 3_600_000;
  messages.push(...source.books.advance(endMs));
  const frames = recorder.frames;
  await source.stop();
  await running;
  await fake.close();
  await recorder.close();
  const replayed = await replayBookRecording(readBookRecording(file), { krakenPairs: [FAKE_PAIR], endMs });
  return { fake, source, messages, rejects, synced, topMatches, replayed, frames };
}

test('clean feed: no checksum failure, one subscription, the book equals the true top 10', async () => {
  const { fake, source, messages, rejects, synced, topMatches } = await runAgainst([]);
  assert.deepEqual(rejects, []);
  assert.equal(source.books.checksumFailures(FAKE_PAIR), 0);
  assert.equal(fake.stats.bookSubscribes, 1);
  assert.equal(source.stats.resubscribes, 0);
  assert.ok(fake.stats.updates > 500, `${fake.stats.updates} updates`);
  assert.ok(synced);
  topMatches();
  assert.ok(messages.length >= 1);
  const applied = messages.reduce((n, m) => n + (m.features.messages ?? 0), 0);
  assert.equal(applied, fake.stats.updates + fake.stats.snapshots);
});

test('every injected corruption is detected, counted and resubscribed; failed states never reach the features', async () => {
  const corruptAt = [700, 900, 1100, 1300];
  const { fake, source, messages, synced, topMatches } = await runAgainst(corruptAt);
  assert.equal(fake.stats.corrupted, corruptAt.length);
  assert.equal(source.books.checksumFailures(FAKE_PAIR), corruptAt.length);
  assert.equal(source.stats.resubscribes, corruptAt.length);
  assert.equal(fake.stats.unsubscribes, corruptAt.length);
  assert.equal(fake.stats.snapshots, 1 + corruptAt.length);
  assert.ok(synced);
  topMatches();
  // Messages counted by the features = snapshots + updates that passed: the corrupted ones and
  // the updates sent between a failure and the new snapshot are not among them.
  const applied = messages.reduce((n, m) => n + (m.features.messages ?? 0), 0);
  assert.ok(applied < fake.stats.updates + fake.stats.snapshots, `${applied} applied of ${fake.stats.updates + fake.stats.snapshots} sent`);
  assert.ok(applied >= fake.stats.updates + fake.stats.snapshots - 4 * 20, 'only the corrupted messages and the few in flight before each new snapshot are left out');
});

test('live and replay of the recorded frames give bit-identical book features (clean and corrupted feeds)', async () => {
  for (const corruptAt of [[], [750, 1250]]) {
    const { messages, replayed, frames } = await runAgainst(corruptAt);
    assert.ok(frames > 500, `${frames} frames recorded`);
    assert.ok(messages.length >= 1);
    assert.deepStrictEqual(replayed, messages);
  }
});
