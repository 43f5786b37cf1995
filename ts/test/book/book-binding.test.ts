// The @tickcast/book binding: Kraken's documented checksum example, errors with codes,
// streaming (BookStream) equal to batch (batchBookFeatures) bit for bit on the real Binance
// BTCUSDT recording, and the synchronised Binance book's best bid/ask equal to Binance's own
// bookTicker at the same update id (an independent reference recorded by the exchange).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinanceDepthBook, BookStream, KrakenBook, batchBookFeatures, bookFeatureNames, type BookMinute } from '@tickcast/book';
import { BINANCE_PRECISION } from '../../src/sources/binance-depth-frames.ts';
import { loadRecording, PlainBook } from './recording.ts';

// Kraken "Book checksum (WebSocket v2)" guide: BTC/USD snapshot, price precision 1, qty precision 8.
const DOC_BIDS = [45283.5, 0.1, 45283.4, 1.54582015, 45282.1, 0.1, 45281.0, 0.1, 45280.3, 1.54592586, 45279.0, 0.0799, 45277.6, 0.03310103, 45277.5, 0.3, 45277.3, 1.54602737, 45276.6, 0.15445238];
const DOC_ASKS = [45285.2, 0.001, 45286.4, 1.54571953, 45286.6, 1.54571109, 45289.6, 1.54560911, 45290.2, 0.1589066, 45291.8, 1.54553491, 45294.7, 0.04454749, 45296.1, 0.3538, 45297.5, 0.09945542, 45299.5, 0.18772827];
const DOC_CHECKSUM = 3310070434;

test("Kraken's documented checksum example passes; a corrupted one is refused with its code", () => {
  const book = new KrakenBook({ pricePrecision: 1, qtyPrecision: 8 });
  book.onMessage(0, true, Float64Array.from(DOC_BIDS), Float64Array.from(DOC_ASKS), DOC_CHECKSUM);
  assert.equal(book.checksum(), DOC_CHECKSUM);
  assert.equal(book.synced, true);
  assert.deepEqual([...book.bids(1)], [45283.5, 0.1]);
  // One quantity changed by one lot: the exchange's checksum no longer matches.
  assert.throws(
    () => book.onMessage(1, false, Float64Array.from([45283.5, 0.10000001]), new Float64Array(), DOC_CHECKSUM),
    (e: Error & { code?: string }) => e.code === 'E_CHECKSUM_MISMATCH',
  );
  assert.equal(book.checksumFailures, 1);
  assert.equal(book.synced, false);
  assert.throws(() => book.onMessage(2, false, new Float64Array(), new Float64Array(), DOC_CHECKSUM), (e: Error & { code?: string }) => e.code === 'E_NOT_SYNCED');
  assert.throws(() => new KrakenBook({ pricePrecision: 1, qtyPrecision: 8, depth: 7 }), (e: Error & { code?: string }) => e.code === 'E_INVALID_PARAMETER');
  assert.throws(() => book.onMessage(3, true, Float64Array.from([45283.55, 1]), new Float64Array(), undefined), (e: Error & { code?: string }) => e.code === 'E_INVALID_LEVEL');
  assert.throws(() => book.onMessage(3, true, Float64Array.from([45283.5]), new Float64Array(), undefined), (e: Error & { code?: string }) => e.code === 'E_LENGTH_MISMATCH');
});

const sameBits = (a: BookMinute[], b: BookMinute[]) =>
  a.length === b.length && a.every((r, i) => r.minuteStartMs === b[i]!.minuteStartMs && r.values.every((v, k) => Object.is(v, b[i]!.values[k])));

test('streaming equals batch bit for bit on the real Binance recording', () => {
  const { diffs } = loadRecording();
  const opts = { pricePrecision: BINANCE_PRECISION, qtyPrecision: BINANCE_PRECISION };
  const levelCount = diffs.reduce((n, d) => n + (d.bids.length + d.asks.length) / 2, 0);
  const tape = {
    tMs: new Float64Array(diffs.length), kind: new Uint8Array(diffs.length), levelEnd: new Uint32Array(diffs.length),
    side: new Uint8Array(levelCount), price: new Float64Array(levelCount), qty: new Float64Array(levelCount),
  };
  const stream = new BookStream(opts);
  const streamed: BookMinute[] = [];
  let j = 0;
  diffs.forEach((d, i) => {
    tape.tMs[i] = d.eventMs;
    tape.kind[i] = i === 0 ? 1 : 0;
    for (const [s, flat] of [[0, d.bids], [1, d.asks]] as const) {
      for (let k = 0; k < flat.length; k += 2, j++) {
        tape.side[j] = s;
        tape.price[j] = flat[k]!;
        tape.qty[j] = flat[k + 1]!;
      }
    }
    tape.levelEnd[i] = j;
    if (i % 7 === 3) stream.advance(d.eventMs - 1); // watermarks change nothing
    if (stream.apply(d.eventMs, i === 0 ? 1 : 0, d.bids, d.asks) > 0) streamed.push(...stream.drainMinutes());
  });
  const end = diffs.at(-1)!.eventMs + 60_000;
  stream.advance(end);
  streamed.push(...stream.drainMinutes());
  const batch = batchBookFeatures(opts, tape, end);
  const minute = (t: number) => Math.floor(t / 60_000);
  assert.equal(batch.length, minute(diffs.at(-1)!.eventMs) - minute(diffs[0]!.eventMs) + 1, 'one row per minute the recording touches');
  assert.equal(bookFeatureNames().length, batch[0]!.values.length);
  assert.ok(sameBits(streamed, batch));
  const messages = bookFeatureNames().indexOf('messages');
  assert.equal(batch.reduce((n, r) => n + r.values[messages]!, 0), diffs.length);
});

test("the synchronised Binance book's best bid and ask equal Binance's bookTicker at the same update id", () => {
  const { diffs, tickers } = loadRecording();
  // The recording has no REST snapshot: the snapshot served here is the plain book folded from
  // the first 600 diffs (levels no diff touched since the recording began are missing from it,
  // so the check starts where the top of the book has been rewritten by the diffs).
  const k = 600;
  const plain = new PlainBook();
  for (const d of diffs.slice(0, k)) plain.apply(d.bids, d.asks);
  const book = new BinanceDepthBook({ pricePrecision: BINANCE_PRECISION, qtyPrecision: BINANCE_PRECISION });
  // Events from before the snapshot arrive first (buffered), as on a live connection.
  for (const d of diffs.slice(k - 20, k + 5)) assert.equal(book.onDiff(d.eventMs, d.firstId, d.lastId, d.bids, d.asks), 'buffered');
  assert.equal(book.onSnapshot(diffs[k - 1]!.eventMs, diffs[k - 1]!.lastId, plain.flat('bids'), plain.flat('asks')), 'synced');
  assert.equal(book.lastUpdateId, diffs[k + 4]!.lastId);
  const byU = new Map(tickers.map((t) => [t.u, t]));
  let checked = 0;
  for (const d of diffs.slice(k + 5)) {
    assert.equal(book.onDiff(d.eventMs, d.firstId, d.lastId, d.bids, d.asks), 'applied');
    const t = byU.get(d.lastId);
    if (!t) continue;
    const [bid, bidQty] = book.bids(1);
    const [ask, askQty] = book.asks(1);
    assert.deepEqual({ bid, bidQty, ask, askQty }, { bid: t.bid, bidQty: t.bidQty, ask: t.ask, askQty: t.askQty }, `u ${d.lastId}`);
    checked++;
  }
  assert.ok(checked > 300, `${checked} bookTicker states checked`);
  assert.equal(book.gaps, 0);
});
