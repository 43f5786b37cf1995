/**
 * Historical 1-minute candles from CSV files into `Candle`s, for training on
 * recorded data (the bundled Coinbase sample, the FTX month).
 *
 * Formats (detected from the header):
 * - QuantConnect Lean export: `date,ms_since_midnight,time_utc,open,high,low,close,volume,...`
 *   (time = bar start);
 * - nautilus FTX export: `timestamp,open,high,low,close,volume` (time = bar start;
 *   the source does not say, we read it as the start like Lean's).
 *
 * Minutes without a bar inside a run become `filled` candles (flat at the
 * previous close, volume 0), exactly as the live aggregator emits them. A gap
 * longer than `maxFillGapMinutes` starts a new segment: the caller resets its
 * feature state there instead of inventing hours of flat prices.
 */
import { readFileSync } from 'node:fs';
import type { Candle } from '../contracts/messages.ts';

export interface CandleCsvOptions {
  pair: string;
  exchange?: string;
  intervalS?: number;
  /** Longest run of missing bars bridged with filled candles (default 30). */
  maxFillGapMinutes?: number;
}

/** Candles in time order, split into contiguous segments. */
export interface CandleSegments {
  segments: Candle[][];
  /** Bars read from the file. */
  bars: number;
  /** Filled candles added for missing minutes inside segments. */
  filled: number;
}

function parseTimeMs(s: string): number {
  const iso = s.includes('T') ? s : s.replace(' ', 'T');
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (!Number.isFinite(t)) throw new Error(`bad time ${JSON.stringify(s)}`);
  return t;
}

export function parseCandleCsv(text: string, opts: CandleCsvOptions): CandleSegments {
  const intervalS = opts.intervalS ?? 60;
  const stepMs = intervalS * 1000;
  const maxGap = opts.maxFillGapMinutes ?? 30;
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = (lines.shift() ?? '').split(',');
  const col = (n: string) => header.indexOf(n);
  const tCol = col('time_utc') >= 0 ? col('time_utc') : col('timestamp');
  const [o, h, l, c, v] = ['open', 'high', 'low', 'close', 'volume'].map(col) as [number, number, number, number, number];
  if (tCol < 0 || [o, h, l, c, v].some((i) => i < 0)) throw new Error(`unknown candle CSV header: ${header.join(',')}`);
  const exchange = opts.exchange ?? 'file';
  const bars = lines
    .map((line) => {
      const f = line.split(',');
      const num = (i: number) => Number(f[i]);
      return { start: parseTimeMs(f[tCol] ?? ''), open: num(o), high: num(h), low: num(l), close: num(c), volume: num(v) };
    })
    .sort((a, b) => a.start - b.start);
  const segments: Candle[][] = [];
  let seg: Candle[] = [];
  let filled = 0;
  for (const b of bars) {
    if (!(b.open > 0 && b.high > 0 && b.low > 0 && b.close > 0 && b.volume >= 0)) continue;
    const prev = seg[seg.length - 1];
    if (prev) {
      if (b.start < prev.window_end_ms) continue; // duplicate bar
      const missing = (b.start - prev.window_end_ms) / stepMs;
      if (missing > maxGap) {
        segments.push(seg);
        seg = [];
      } else {
        for (let k = 0; k < missing; k++) {
          const s = prev.window_end_ms + k * stepMs;
          seg.push({
            exchange, pair: opts.pair, interval_s: intervalS, window_start_ms: s, window_end_ms: s + stepMs,
            open: prev.close, high: prev.close, low: prev.close, close: prev.close, volume: 0, buy_volume: 0, sell_volume: 0,
            vwap: prev.close, trade_count: 0, filled: true,
          });
          filled++;
        }
      }
    }
    seg.push({
      exchange, pair: opts.pair, interval_s: intervalS, window_start_ms: b.start, window_end_ms: b.start + stepMs,
      open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume, buy_volume: 0, sell_volume: 0,
      // No VWAP in these files: the typical price stands in (documented, not a trade-weighted value).
      vwap: (b.high + b.low + b.close) / 3,
      trade_count: 0, filled: false,
    });
  }
  if (seg.length > 0) segments.push(seg);
  return { segments, bars: bars.length, filled };
}

export function readCandleCsv(path: string, opts: CandleCsvOptions): CandleSegments {
  return parseCandleCsv(readFileSync(path, 'utf8'), opts);
}
