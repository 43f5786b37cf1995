/**
 * Trades to candles: the Rust aggregator (one per exchange, since a candle
 * belongs to one exchange) behind a small state machine that services,
 * backfill and tests share. Event time decides the window; the stage never
 * reads a clock: the caller advances the watermark.
 */
import { Aggregator, type BatchResult, type TradeCsvParser } from '@tickcast/aggregator';
import { tradeAt, type Candle, type Trade, type TradeBatch } from '../contracts/messages.ts';

export interface CandleStageOptions {
  /** Window length. Default 60 s. */
  intervalS?: number;
  /** Out-of-order tolerance: a window closes when the watermark (latest event time - grace) passes its end. Default 5 s. */
  graceMs?: number;
}

/** A trade that arrived after its window had closed: reported, never merged. */
export interface LateTrade {
  trade: Trade;
  /** Start of the (closed) window it belongs to. */
  window_start_ms: number;
  /** True when its id had been seen already (a replayed duplicate of a counted trade). */
  duplicate: boolean;
}

export interface StageOutput {
  candles: Candle[];
  late: LateTrade[];
  duplicates: number;
  rejected: { trade: Trade; reason: string }[];
}

const SIDE_CODE: Record<Trade['side'], number> = { buy: 1, sell: 2, unknown: 0 };

/**
 * A trade id in canonical decimal form (digits only, no leading zero) below 2^53, as a
 * number (every such number is exact), or NaN for any other id.
 */
function canonicalId(id: string): number {
  const n = id.length;
  if (n === 0 || n > 16) return NaN;
  if (n > 1 && id.charCodeAt(0) === 48) return NaN;
  let x = 0;
  for (let i = 0; i < n; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    x = x * 10 + d;
  }
  // Above 2^53 the sum may have rounded (an id 2^53 + 1 would become 2^53): such ids cross as strings.
  return x < MAX_F64_ID ? x : NaN;
}
const MAX_F64_ID = 2 ** 53;
const NON_ASCII = /[^\x00-\x7f]/;
const NO_IDS = new Float64Array(0);

/**
 * The id column of a batch: numbers when every id is canonical (what exchanges send: the
 * aggregator keys a canonical decimal string and its number identically, and a number crosses
 * N-API without a string copy); else, when every id is ASCII (UTF-16 lengths are then the
 * UTF-8 byte lengths), one concatenated string and the end of each id in it (one string
 * crossing N-API instead of one per trade); else the strings one by one.
 */
function tradeIdColumn(ids: string[]): { tradeIds: Float64Array | string[]; tradeIdsText?: string; tradeIdEnds?: Uint32Array } {
  const numIds = new Float64Array(ids.length);
  let i = 0;
  for (; i < ids.length; i++) {
    const id: unknown = ids[i];
    const x = typeof id === 'string' ? canonicalId(id) : NaN;
    if (x !== x) break;
    numIds[i] = x;
  }
  if (i === ids.length) return { tradeIds: numIds };
  const text = ids.join('');
  if (NON_ASCII.test(text) || text.length > 0xffffffff) return { tradeIds: ids };
  const ends = new Uint32Array(ids.length);
  let e = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'string') return { tradeIds: ids }; // not a string: as before (refused by the binding)
    ends[i] = e += id.length;
  }
  return { tradeIds: NO_IDS, tradeIdsText: text, tradeIdEnds: ends };
}

/** A batch result into `out`: duplicates, late and rejected rows (their trades from `tradeOf`), candles. */
function collect(r: BatchResult, out: StageOutput, tradeOf: (row: number) => Trade): void {
  out.duplicates += r.duplicateRows.length;
  for (let k = 0; k < r.lateRows.length; k++) {
    out.late.push({
      trade: tradeOf(r.lateRows[k] as number),
      window_start_ms: r.lateWindowStartMs[k] as number,
      duplicate: r.lateDuplicate[k] === 1,
    });
  }
  for (let k = 0; k < r.rejectedRows.length; k++) {
    out.rejected.push({ trade: tradeOf(r.rejectedRows[k] as number), reason: r.rejectedReasons[k] ?? 'rejected' });
  }
  const c = r.candles;
  for (let i = 0; i < c.windowEndMs.length; i++) {
    out.candles.push({
      exchange: c.exchange,
      pair: c.pairs[c.pairIdx[i] as number] as string,
      interval_s: c.intervalS,
      window_start_ms: c.windowStartMs[i] as number,
      window_end_ms: c.windowEndMs[i] as number,
      open: c.open[i] as number,
      high: c.high[i] as number,
      low: c.low[i] as number,
      close: c.close[i] as number,
      volume: c.volume[i] as number,
      buy_volume: c.buyVolume[i] as number,
      sell_volume: c.sellVolume[i] as number,
      vwap: c.vwap[i] as number,
      trade_count: c.tradeCount[i] as number,
      filled: c.filled[i] === 1,
    });
  }
}

export class CandleStage {
  readonly intervalS: number;
  readonly graceMs: number;
  private readonly byExchange = new Map<string, Aggregator>();

  constructor(opts: CandleStageOptions = {}) {
    this.intervalS = opts.intervalS ?? 60;
    this.graceMs = opts.graceMs ?? 5000;
  }

  private aggregator(exchange: string): Aggregator {
    let a = this.byExchange.get(exchange);
    if (!a) {
      a = new Aggregator({ exchange, intervalS: this.intervalS, graceMs: this.graceMs });
      this.byExchange.set(exchange, a);
    }
    return a;
  }

  /** One trade (the live path). */
  push(trade: Trade): StageOutput {
    const out: StageOutput = { candles: [], late: [], duplicates: 0, rejected: [] };
    let r;
    try {
      r = this.aggregator(trade.exchange).push(trade);
    } catch (e) {
      out.rejected.push({ trade, reason: (e as Error).message });
      return out;
    }
    if (r.outcome === 'duplicate') out.duplicates++;
    else if (r.outcome === 'late' || r.outcome === 'late_duplicate') {
      out.late.push({ trade, window_start_ms: r.lateWindowStartMs ?? NaN, duplicate: r.outcome === 'late_duplicate' });
    }
    for (const c of r.candles) out.candles.push(c as Candle);
    return out;
  }

  /**
   * Many trades in one N-API call per exchange (replay, backfill, a consumed
   * batch). The same candles as pushing them one by one, in the same order.
   */
  pushMany(trades: readonly Trade[]): StageOutput {
    const out: StageOutput = { candles: [], late: [], duplicates: 0, rejected: [] };
    if (trades.length === 0) return out;
    // Keep arrival order per exchange; almost always there is one exchange.
    const groups = new Map<string, Trade[]>();
    for (const t of trades) {
      let g = groups.get(t.exchange);
      if (!g) groups.set(t.exchange, (g = []));
      g.push(t);
    }
    for (const [exchange, group] of groups) {
      const n = group.length;
      const pairs: string[] = [];
      const pairIndex = new Map<string, number>();
      const pairIdx = new Uint32Array(n);
      const prices = new Float64Array(n);
      const qtys = new Float64Array(n);
      const sides = new Uint8Array(n);
      const tsMs = new Float64Array(n);
      const ids: string[] = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const t = group[i] as Trade;
        let p = pairIndex.get(t.pair);
        if (p === undefined) {
          p = pairs.length;
          pairs.push(t.pair);
          pairIndex.set(t.pair, p);
        }
        pairIdx[i] = p;
        prices[i] = t.price;
        qtys[i] = t.qty;
        sides[i] = SIDE_CODE[t.side];
        tsMs[i] = t.ts_ms;
        ids[i] = t.trade_id;
      }
      const r = this.aggregator(exchange).pushBatch({ exchange, pairs, pairIdx, prices, qtys, sides, tsMs, ...tradeIdColumn(ids) });
      collect(r, out, (row) => group[row] as Trade);
    }
    return out;
  }

  /**
   * A TradeBatch (one pair's trades as columns, from the `trades` stream) in one N-API
   * call, with no object per trade: the same candles as pushMany of its trades.
   */
  pushColumns(b: TradeBatch): StageOutput {
    const out: StageOutput = { candles: [], late: [], duplicates: 0, rejected: [] };
    const n = b.trade_id.length;
    if (n === 0) return out;
    const sides = new Uint8Array(n);
    for (let i = 0; i < n; i++) sides[i] = SIDE_CODE[b.side[i] as Trade['side']];
    const r = this.aggregator(b.exchange).pushBatch({
      exchange: b.exchange,
      pairs: [b.pair],
      pairIdx: new Uint32Array(n),
      prices: Float64Array.from(b.price),
      qtys: Float64Array.from(b.qty),
      sides,
      tsMs: Float64Array.from(b.ts_ms),
      ...tradeIdColumn(b.trade_id),
    });
    collect(r, out, (row) => tradeAt(b, row));
    return out;
  }

  /**
   * The parser's next batch (the fast path of a file import: no Trade objects), all of
   * `exchange`, read and fed on the thread pool (Aggregator.parseAndPush) while the caller's
   * JavaScript runs: the first `skipRows` rows and those outside [fromMs, toMs) left out. The
   * same candles as pushMany of the same trades. Nothing is fed when the parser needs more
   * input (stop 'input').
   */
  async parseAndPush(
    exchange: string,
    parser: TradeCsvParser,
    o: { maxRows: number; maxTsMs: number; skipRows: number; fromMs?: number | undefined; toMs?: number | undefined },
  ): Promise<StageOutput & { stop: 'full' | 'slow' | 'input' | 'end' | 'toolong'; rows: number; slowLine: string | null; skipped: number; pushed: number; cursorMs: number | null }> {
    const r = await this.aggregator(exchange).parseAndPush(parser, o.maxRows, o.maxTsMs, o.skipRows, o.fromMs, o.toMs);
    const out: StageOutput = { candles: [], late: [], duplicates: 0, rejected: [] };
    collect(r.result, out, (row) => ({ exchange, ...(parser.tradeAt(row) as NonNullable<ReturnType<TradeCsvParser['tradeAt']>>) }));
    return { ...out, stop: r.stop, rows: r.rows, slowLine: r.slowLine ?? null, skipped: r.skipped, pushed: r.pushed, cursorMs: r.cursorMs ?? null };
  }

  /**
   * Close the windows that end at or before `watermarkMs` (the quiet-market
   * case: no trade arrives to move event time). Per pair, and per exchange,
   * when given; a pair the aggregator has not seen a trade of is left alone.
   */
  advance(watermarkMs: number, pair?: string, exchange?: string): Candle[] {
    const out: Candle[] = [];
    const aggs = exchange === undefined ? [...this.byExchange.values()] : [this.byExchange.get(exchange)].filter((a) => a !== undefined);
    for (const a of aggs) {
      if (pair !== undefined && a.watermarkMs(pair) === null) continue;
      for (const c of a.advanceWatermark(watermarkMs, pair)) out.push(c as Candle);
    }
    return out;
  }

  /** Counters of every aggregator, summed. */
  stats(): { accepted: number; duplicates: number; late: number; rejected: number; candles: number; filled: number } {
    const s = { accepted: 0, duplicates: 0, late: 0, rejected: 0, candles: 0, filled: 0 };
    for (const a of this.byExchange.values()) {
      const x = a.stats();
      s.accepted += x.accepted;
      s.duplicates += x.duplicates;
      s.late += x.late + x.lateDuplicates;
      s.rejected += x.rejected;
      s.candles += x.candles;
      s.filled += x.filledCandles;
    }
    return s;
  }

  /** State for a checkpoint (JSON): one aggregator snapshot per exchange. */
  snapshot(): string {
    return JSON.stringify(Object.fromEntries(this.snapshotParts()));
  }

  static restore(snapshot: string, opts: CandleStageOptions = {}): CandleStage {
    return CandleStage.fromParts(Object.entries(JSON.parse(snapshot) as Record<string, string>), opts);
  }

  /**
   * The aggregator snapshot of each exchange, as the aggregator wrote it (JSON
   * text, possibly megabytes: it remembers recent trade ids, as 64-bit integers
   * that must not go through JavaScript numbers).
   */
  snapshotParts(): [exchange: string, snapshot: string][] {
    return [...this.byExchange].map(([ex, a]) => [ex, a.snapshot()]);
  }

  /** One pair's state on one exchange (aggregator JSON: open windows, watermark, remembered ids), or null for a pair not seen. */
  snapshotPair(exchange: string, pair: string): string | null {
    return this.byExchange.get(exchange)?.snapshotPair(pair) ?? null;
  }

  /**
   * snapshotPair() in two parts: the state without the remembered ids of
   * closed windows (changes with every trade; small) and those ids (change
   * only when a window with trades closes), or null for a pair not seen.
   */
  snapshotPairParts(exchange: string, pair: string): [live: string, recentIds: string] | null {
    return this.byExchange.get(exchange)?.snapshotPairParts(pair) ?? null;
  }

  /**
   * Set one pair's state from snapshotPair() output, or from the two parts of
   * snapshotPairParts() (replacing what the stage held for it); throws on
   * another interval/grace or broken state.
   */
  restorePair(exchange: string, snapshot: string, recentIds?: string): void {
    this.aggregator(exchange).restorePair(snapshot, recentIds);
  }

  static fromParts(parts: Iterable<readonly [string, string]>, opts: CandleStageOptions = {}): CandleStage {
    const s = new CandleStage(opts);
    for (const [ex, snap] of parts) s.byExchange.set(ex, Aggregator.restore(snap));
    return s;
  }
}
