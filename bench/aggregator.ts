/**
 * Benchmark: trades -> 1-minute candles from columnar typed arrays.
 *
 * Data: the REAL Binance BTCUSDT + ETHUSDT trades of data/test/trades (via testData)
 * (34,419 trades, 2024-08-08 23:54 - 00:05, two pairs interleaved), repeated
 * with event times shifted by whole tape lengths and trade ids offset per
 * repetition, to >= 1M trades. Without that folder a seeded random walk of the
 * same shape is used instead (the table says which).
 *
 * Compared in the same run:
 *  - ours, batch: @tickcast/aggregator `pushBatch` over the whole columns (one N-API call)
 *  - ours, per trade: `push` of plain objects (the live path), on the first 200k trades
 *  - plain TypeScript: the same windows (grace, duplicates with bounded memory,
 *    late trades, filled candles) written below, over the same typed arrays
 *
 * Run: node --import tsx bench/aggregator.ts
 */
import { testData } from '../ts/test/fixtures/test-data.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Aggregator } from '@tickcast/aggregator';

const TARGET_TRADES = 1_000_000;
const GRACE_MS = 2_000;
const INTERVAL_MS = 60_000;
const RECENT_IDS = 65_536;
const RUNS = 5;

interface Tape {
  source: string;
  pairs: string[];
  pairIdx: Uint32Array;
  tradeIds: Float64Array;
  prices: Float64Array;
  qtys: Float64Array;
  sides: Uint8Array;
  tsMs: Float64Array;
}

function readBinance(path: string): { id: number; price: number; qty: number; side: number; ts: number }[] {
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/).slice(1);
  return lines.map((l) => {
    const c = l.split(',');
    return { id: Number(c[4]), price: Number(c[5]), qty: Number(c[6]), side: c[7] === 'true' ? 2 : 1, ts: Number(c[2]) };
  });
}

function loadTape(): Tape {
  const btc = testData('trades/binance_spot_BTCUSDT_trades_20240808T2354-20240809T0005.csv');
  const eth = testData('trades/binance_spot_ETHUSDT_trades_20240808T2354-20240809T0005.csv');
  let base: { pair: number; id: number; price: number; qty: number; side: number; ts: number }[];
  let source: string;
  if (existsSync(btc) && existsSync(eth)) {
    base = [...readBinance(btc).map((t) => ({ ...t, pair: 0 })), ...readBinance(eth).map((t) => ({ ...t, pair: 1 }))];
    base.sort((a, b) => a.ts - b.ts);
    source = 'real Binance BTCUSDT+ETHUSDT trades, repeated with shifted times and ids';
  } else {
    // Seeded random walk (mulberry32), same shape: two pairs, ~50 trades/s.
    let s = 12345;
    const r = () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = Math.imul(s ^ (s >>> 15), s | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const px = [61_700, 2_680];
    base = [];
    let ts = 1_723_161_240_000;
    for (let i = 0; i < 34_419; i++) {
      const pair = r() < 0.58 ? 0 : 1;
      px[pair] = (px[pair] as number) * (1 + (r() - 0.5) * 1e-4);
      ts += Math.floor(r() * 40);
      base.push({ pair, id: i, price: Math.round((px[pair] as number) * 100) / 100, qty: Math.round(r() * 1e6) / 1e6 + 1e-6, side: r() < 0.5 ? 1 : 2, ts });
    }
    source = 'seeded random walk (shared data not found)';
  }
  const first = base[0]?.ts ?? 0;
  const last = base.at(-1)?.ts ?? 0;
  const span = (Math.floor((last - first) / INTERVAL_MS) + 2) * INTERVAL_MS; // whole minutes, keeps window alignment
  const reps = Math.ceil(TARGET_TRADES / base.length);
  const n = reps * base.length;
  const tape: Tape = {
    source,
    pairs: ['BTC/USDT', 'ETH/USDT'],
    pairIdx: new Uint32Array(n),
    tradeIds: new Float64Array(n),
    prices: new Float64Array(n),
    qtys: new Float64Array(n),
    sides: new Uint8Array(n),
    tsMs: new Float64Array(n),
  };
  let k = 0;
  for (let rep = 0; rep < reps; rep++) {
    for (const t of base) {
      tape.pairIdx[k] = t.pair;
      tape.tradeIds[k] = t.id + rep * 100_000_000;
      tape.prices[k] = t.price;
      tape.qtys[k] = t.qty;
      tape.sides[k] = t.side;
      tape.tsMs[k] = t.ts + rep * span;
      k++;
    }
  }
  return tape;
}

// ------------------------------------------------------------------ plain TypeScript implementation

interface TsWindow {
  start: number;
  open: number;
  openTs: number;
  openId: number;
  high: number;
  low: number;
  close: number;
  closeTs: number;
  closeId: number;
  volume: number;
  buy: number;
  sell: number;
  notional: number;
  count: number;
  ids: Set<number>;
}

interface TsPair {
  maxTs: number;
  wm: number;
  cursor: number; // NaN = none
  lastClose: number; // NaN = none
  windows: TsWindow[];
  recentRing: number[];
  recentHead: number;
  recent: Set<number>;
}

interface TsCandles {
  pair: number[];
  start: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
  buy: number[];
  sell: number[];
  vwap: number[];
  count: number[];
  filled: boolean[];
}

/** The same rules as the Rust core: [start, end) windows, watermark = max ts - grace, late, dedup, filled. */
class TsAggregator {
  private readonly pairs: TsPair[] = [];
  late = 0;
  duplicates = 0;
  constructor(
    private readonly intervalMs: number,
    private readonly graceMs: number,
    private readonly recentCap: number,
  ) {}

  private pair(i: number): TsPair {
    let p = this.pairs[i];
    if (!p) {
      p = { maxTs: -Infinity, wm: -Infinity, cursor: NaN, lastClose: NaN, windows: [], recentRing: [], recentHead: 0, recent: new Set() };
      this.pairs[i] = p;
    }
    return p;
  }

  pushBatch(t: Tape, out: TsCandles): void {
    const I = this.intervalMs;
    for (let i = 0; i < t.tsMs.length; i++) {
      const price = t.prices[i] as number;
      const qty = t.qtys[i] as number;
      const ts = t.tsMs[i] as number;
      const id = t.tradeIds[i] as number;
      if (!(price > 0 && qty > 0 && Number.isFinite(price) && Number.isFinite(qty) && Number.isInteger(ts) && ts >= 0)) continue;
      const pi = t.pairIdx[i] as number;
      const p = this.pair(pi);
      const start = ts - (ts % I);
      if (start + I <= p.wm) {
        this.late++;
        continue;
      }
      let seen = p.recent.has(id);
      for (let w = 0; !seen && w < p.windows.length; w++) seen = (p.windows[w] as TsWindow).ids.has(id);
      if (seen) {
        this.duplicates++;
        continue;
      }
      let win: TsWindow | undefined;
      let pos = p.windows.length;
      for (let w = p.windows.length - 1; w >= 0; w--) {
        const x = p.windows[w] as TsWindow;
        if (x.start === start) {
          win = x;
          break;
        }
        if (x.start < start) break;
        pos = w;
      }
      if (!win) {
        win = { start, open: price, openTs: ts, openId: id, high: price, low: price, close: price, closeTs: ts, closeId: id, volume: 0, buy: 0, sell: 0, notional: 0, count: 0, ids: new Set() };
        p.windows.splice(pos, 0, win);
      } else {
        if (ts < win.openTs || (ts === win.openTs && id < win.openId)) {
          win.open = price;
          win.openTs = ts;
          win.openId = id;
        }
        if (ts > win.closeTs || (ts === win.closeTs && id > win.closeId)) {
          win.close = price;
          win.closeTs = ts;
          win.closeId = id;
        }
        if (price > win.high) win.high = price;
        if (price < win.low) win.low = price;
      }
      win.volume += qty;
      win.notional += price * qty;
      const side = t.sides[i];
      if (side === 1) win.buy += qty;
      else if (side === 2) win.sell += qty;
      win.count++;
      win.ids.add(id);
      if (ts > p.maxTs) p.maxTs = ts;
      const wm = p.maxTs - this.graceMs;
      if (wm > p.wm) {
        p.wm = wm;
        this.close(pi, p, out);
      }
    }
  }

  advanceWatermark(wm: number, out: TsCandles): void {
    this.pairs.forEach((p, i) => {
      if (wm > p.wm) {
        p.wm = wm;
        this.close(i, p, out);
      }
    });
  }

  private remember(p: TsPair, id: number): void {
    if (p.recentRing.length < this.recentCap) {
      p.recentRing.push(id);
    } else {
      p.recent.delete(p.recentRing[p.recentHead] as number);
      p.recentRing[p.recentHead] = id;
      p.recentHead = (p.recentHead + 1) % this.recentCap;
    }
    p.recent.add(id);
  }

  private close(pi: number, p: TsPair, out: TsCandles): void {
    const I = this.intervalMs;
    for (;;) {
      const front = p.windows[0];
      const cursor = Number.isNaN(p.cursor) ? front?.start : p.cursor;
      if (cursor === undefined || cursor + I > p.wm) return;
      if (front && front.start === cursor) {
        p.windows.shift();
        emit(out, pi, cursor, front.open, front.high, front.low, front.close, front.volume, front.buy, front.sell, front.notional / front.volume, front.count, false);
        p.lastClose = front.close;
        for (const id of [...front.ids].sort((a, b) => a - b)) this.remember(p, id);
      } else {
        const c = p.lastClose;
        emit(out, pi, cursor, c, c, c, c, 0, 0, 0, c, 0, true);
      }
      p.cursor = cursor + I;
    }
  }
}

function emit(o: TsCandles, pair: number, start: number, open: number, high: number, low: number, close: number, volume: number, buy: number, sell: number, vwap: number, count: number, filled: boolean): void {
  o.pair.push(pair);
  o.start.push(start);
  o.open.push(open);
  o.high.push(high);
  o.low.push(low);
  o.close.push(close);
  o.volume.push(volume);
  o.buy.push(buy);
  o.sell.push(sell);
  o.vwap.push(vwap);
  o.count.push(count);
  o.filled.push(filled);
}

const emptyCandles = (): TsCandles => ({ pair: [], start: [], open: [], high: [], low: [], close: [], volume: [], buy: [], sell: [], vwap: [], count: [], filled: [] });

// ------------------------------------------------------------------ timing

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** Wall time and this process's CPU time (user + system, all threads): on a
 * shared machine the CPU time is the steadier figure. */
function time(fn: () => void): Timing {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 };
}

export async function run(): Promise<void> {
  const tape = loadTape();
  const n = tape.tsMs.length;
  const finalWm = (tape.tsMs[n - 1] as number) + 10 * INTERVAL_MS;
  const opts = { exchange: 'binance', intervalS: INTERVAL_MS / 1000, graceMs: GRACE_MS, recentIdsPerPair: RECENT_IDS };
  const batch = { pairs: tape.pairs, pairIdx: tape.pairIdx, tradeIds: tape.tradeIds, prices: tape.prices, qtys: tape.qtys, sides: tape.sides, tsMs: tape.tsMs };

  // Correctness cross-check before timing: both implementations give the same candles.
  const ours = new Aggregator(opts);
  const r = ours.pushBatch(batch);
  const tail = ours.advanceWatermark(finalWm);
  const ts = new TsAggregator(INTERVAL_MS, GRACE_MS, RECENT_IDS);
  const tsOut = emptyCandles();
  ts.pushBatch(tape, tsOut);
  ts.advanceWatermark(finalWm, tsOut);
  const oursCloses = [...r.candles.close, ...tail.map((c) => c.close)];
  const same = oursCloses.length === tsOut.close.length && oursCloses.every((c, i) => Object.is(c, tsOut.close[i])) && r.candles.volume.every((v, i) => Object.is(v, tsOut.volume[i]));
  if (!same) throw new Error(`bench implementations disagree: ${oursCloses.length} vs ${tsOut.close.length} candles`);

  const oursMs: Timing[] = [];
  const tsMs: Timing[] = [];
  for (let k = 0; k < RUNS; k++) {
    oursMs.push(
      time(() => {
        const a = new Aggregator(opts);
        a.pushBatch(batch);
        a.advanceWatermark(finalWm);
      }),
    );
    tsMs.push(
      time(() => {
        const a = new TsAggregator(INTERVAL_MS, GRACE_MS, RECENT_IDS);
        const o = emptyCandles();
        a.pushBatch(tape, o);
        a.advanceWatermark(finalWm, o);
      }),
    );
  }
  // The live path: one object per trade across N-API.
  const nLive = Math.min(200_000, n);
  const objects = Array.from({ length: nLive }, (_, i) => ({
    pair: tape.pairs[tape.pairIdx[i] as number] as string,
    trade_id: String(tape.tradeIds[i]),
    price: tape.prices[i] as number,
    qty: tape.qtys[i] as number,
    side: tape.sides[i] === 1 ? 'buy' : 'sell',
    ts_ms: tape.tsMs[i] as number,
  }));
  const liveMs: Timing[] = [];
  for (let k = 0; k < 3; k++) {
    liveMs.push(
      time(() => {
        const a = new Aggregator(opts);
        for (const o of objects) a.push(o);
      }),
    );
  }

  const rate = (trades: number, ms: number) => trades / (ms / 1000);
  const fmt = (x: number) => `${(x / 1e6).toFixed(2)} M/s`;
  const wall = (xs: Timing[]) => median(xs.map((x) => x.wallMs));
  const cpu = (xs: Timing[]) => median(xs.map((x) => x.cpuMs));
  const rows = [
    { implementation: 'ours: pushBatch (typed arrays, 1 call)', trades: n, t: oursMs },
    { implementation: 'plain TypeScript (same rules)', trades: n, t: tsMs },
    { implementation: 'ours: push per trade (objects)', trades: nLive, t: liveMs },
  ];
  const tsWall = rate(n, wall(tsMs));
  const tsCpu = rate(n, cpu(tsMs));
  console.log(`aggregator benchmark: ${n.toLocaleString('en-US')} trades (${tape.source}), ${oursCloses.length} candles, 2 pairs, 60 s windows, grace ${GRACE_MS} ms; median of ${RUNS} runs (per trade: 3)`);
  console.table(
    rows.map((r) => ({
      implementation: r.implementation,
      trades: r.trades,
      'wall ms': +wall(r.t).toFixed(1),
      'trades/s (wall)': fmt(rate(r.trades, wall(r.t))),
      'vs TS (wall)': `${(rate(r.trades, wall(r.t)) / tsWall).toFixed(2)}x`,
      'cpu ms': +cpu(r.t).toFixed(1),
      'trades/s (cpu)': fmt(rate(r.trades, cpu(r.t))),
      'vs TS (cpu)': `${(rate(r.trades, cpu(r.t)) / tsCpu).toFixed(2)}x`,
    })),
  );
  const oursWall = rate(n, wall(oursMs));
  const oursCpu = rate(n, cpu(oursMs));
  console.log(
    `goals (batch): >= 10 M trades/s: wall ${oursWall >= 10e6 ? 'met' : 'NOT met'}, cpu ${oursCpu >= 10e6 ? 'met' : 'NOT met'}; ` +
      `>= 10x plain TS: wall ${oursWall >= 10 * tsWall ? 'met' : 'NOT met'}, cpu ${oursCpu >= 10 * tsCpu ? 'met' : 'NOT met'}`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
