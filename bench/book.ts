// Order-book benchmark: the Rust book and its per-minute features (@tickcast/book) against a
// plain TypeScript book (bench/_book-peer.ts: sorted arrays, apply + truncate + top-10 view per
// message, no per-minute features), same messages, same run. Best of 3 runs each.
//
// Data: the real Binance BTCUSDT diff-depth recording of data/test (3,451 @depth@100ms events,
// 2024-08-08 23:54-00:00) repeated end to end with the times shifted (BENCH_BOOK_REPEAT, default
// 60), about 1.9M level updates. "Update" below = one price level set or deleted; a message is
// one diff event (about 9 levels on average here).
//
// Rows:
//   Rust batch       batchBookFeatures over the whole tape (one napi call; includes the
//                    conversion of every level to integer ticks/lots and all 17 features)
//   Rust streaming   BookStream.apply per message from Node (napi call per message + features)
//   Rust Kraken      KrakenBook.onMessage per message at depth 1000 with the CRC32 checksum
//                    verified on every message (checksums of a first pass, so all pass)
//   TS peer          PlainTsBook.apply per message
// Run: node --import tsx bench/book.ts
import { performance } from 'node:perf_hooks';
import { BookStream, KrakenBook, batchBookFeatures } from '@tickcast/book';
import { BINANCE_PRECISION } from '../ts/src/sources/binance-depth-frames.ts';
import { loadRecording } from '../ts/test/book/recording.ts';
import { PlainTsBook } from './_book-peer.ts';

function best(fn: () => void, runs = 3): number {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b / 1000;
}

export async function run(): Promise<void> {
  const repeat = Number(process.env.BENCH_BOOK_REPEAT ?? 60);
  const { diffs } = loadRecording();
  const span = diffs.at(-1)!.eventMs - diffs[0]!.eventMs + 100;
  const msgs = Array.from({ length: repeat }, (_, r) => diffs.map((d) => ({ t: d.eventMs + r * span, bids: d.bids, asks: d.asks }))).flat();
  const levels = msgs.reduce((n, m) => n + (m.bids.length + m.asks.length) / 2, 0);
  const opts = { pricePrecision: BINANCE_PRECISION, qtyPrecision: BINANCE_PRECISION };

  const tape = { tMs: new Float64Array(msgs.length), kind: new Uint8Array(msgs.length), levelEnd: new Uint32Array(msgs.length), side: new Uint8Array(levels), price: new Float64Array(levels), qty: new Float64Array(levels) };
  let j = 0;
  msgs.forEach((m, i) => {
    tape.tMs[i] = m.t;
    tape.kind[i] = i === 0 ? 1 : 0;
    for (const [s, flat] of [[0, m.bids], [1, m.asks]] as const) {
      for (let k = 0; k < flat.length; k += 2, j++) {
        tape.side[j] = s;
        tape.price[j] = flat[k]!;
        tape.qty[j] = flat[k + 1]!;
      }
    }
    tape.levelEnd[i] = j;
  });
  const end = msgs.at(-1)!.t + 60_000;

  const batchS = best(() => void batchBookFeatures(opts, tape, end));
  const streamS = best(() => {
    const s = new BookStream(opts);
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      if (s.apply(m.t, i === 0 ? 1 : 0, m.bids, m.asks) > 0) s.drainMinutes();
    }
  });
  // Kraken path: depth 1000, checksums from a first pass over the same messages.
  const k0 = new KrakenBook({ ...opts, depth: 1000 });
  const sums = new Uint32Array(msgs.length);
  msgs.forEach((m, i) => {
    k0.onMessage(m.t, i === 0, m.bids, m.asks, undefined);
    sums[i] = k0.checksum();
  });
  const krakenS = best(() => {
    const k = new KrakenBook({ ...opts, depth: 1000 });
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      if (k.onMessage(m.t, i === 0, m.bids, m.asks, sums[i]) > 0) k.drainMinutes();
    }
    if (k.checksumFailures !== 0) throw new Error('checksum failures in the benchmark');
  });
  const peerS = best(() => {
    const p = new PlainTsBook();
    for (let i = 0; i < msgs.length; i++) p.apply(i === 0, msgs[i]!.bids, msgs[i]!.asks);
  });

  console.log(`${msgs.length.toLocaleString()} messages, ${levels.toLocaleString()} level updates (recording x${repeat})`);
  console.log('| path | total s | M updates/s | us/update | us/message | vs TS peer |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, s] of [['Rust batch (one napi call)', batchS], ['Rust streaming from Node (BookStream)', streamS], ['Rust Kraken book + checksum from Node', krakenS], ['plain TS book (peer)', peerS]] as const) {
    console.log(`| ${name} | ${s.toFixed(3)} | ${(levels / s / 1e6).toFixed(2)} | ${((s * 1e6) / levels).toFixed(3)} | ${((s * 1e6) / msgs.length).toFixed(3)} | ${(peerS / s).toFixed(2)}x |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
