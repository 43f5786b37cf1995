// The Binance BTCUSDT book recording of data/test (depth diffs and the bookTicker lines at the
// same update ids), parsed, and a plain TypeScript book (a Map per side) as the independent
// reference for the Rust book.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parseDepthDiff, type DepthDiff } from '../../src/sources/binance-depth-frames.ts';
import { testData } from '../fixtures/test-data.ts';

export const BOOK_RECORDING = 'ws-messages/binance_spot_btcusdt_20240808_depth+ticker.gz';

export interface Ticker { u: number; bid: number; bidQty: number; ask: number; askQty: number }
export interface RecordedLine { recvNs: string; raw: string }

export function recordingLines(): RecordedLine[] {
  const text = gunzipSync(readFileSync(testData(BOOK_RECORDING))).toString('utf8');
  return text.split('\n').filter((l) => l.length > 0).map((l) => ({ recvNs: l.slice(0, l.indexOf(' ')), raw: l.slice(l.indexOf(' ') + 1) }));
}

export function loadRecording(): { diffs: DepthDiff[]; tickers: Ticker[] } {
  const diffs: DepthDiff[] = [];
  const tickers: Ticker[] = [];
  for (const { raw } of recordingLines()) {
    const msg = JSON.parse(raw) as { stream: string; data: Record<string, string | number> };
    if (msg.stream.endsWith('@bookTicker')) {
      const d = msg.data;
      tickers.push({ u: d.u as number, bid: Number(d.b), bidQty: Number(d.B), ask: Number(d.a), askQty: Number(d.A) });
    } else {
      const p = parseDepthDiff(msg);
      if (!p.ok) throw new Error(p.detail);
      diffs.push(p.value);
    }
  }
  return { diffs, tickers };
}

/** A plain book: price -> qty per side, no depth limit. */
export class PlainBook {
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  apply(bids: Float64Array, asks: Float64Array): void {
    for (const [side, flat] of [[this.bids, bids], [this.asks, asks]] as const) {
      for (let i = 0; i < flat.length; i += 2) {
        if (flat[i + 1] === 0) side.delete(flat[i]!);
        else side.set(flat[i]!, flat[i + 1]!);
      }
    }
  }
  best(): { bid: number; bidQty: number; ask: number; askQty: number } {
    const bid = Math.max(...this.bids.keys());
    const ask = Math.min(...this.asks.keys());
    return { bid, bidQty: this.bids.get(bid)!, ask, askQty: this.asks.get(ask)! };
  }
  flat(side: 'bids' | 'asks'): Float64Array {
    const m = this[side];
    const keys = [...m.keys()].sort((a, b) => (side === 'bids' ? b - a : a - b));
    return Float64Array.from(keys.flatMap((k) => [k, m.get(k)!]));
  }
}
