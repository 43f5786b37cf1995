/**
 * Trade files (CSV) to validated trades: Kraken's trade-history download and the formats of
 * the real sample files. The format is detected from the first line:
 *
 * | format               | first line / columns                                                    | id        | side          |
 * | -------------------- | ----------------------------------------------------------------------- | --------- | ------------- |
 * | kraken-history       | no header: `unix_time,price,volume` (Kraken "Time and Sales" per pair)  | synthetic | unknown       |
 * | bitcoincharts        | `unix_time,price,amount`                                                | synthetic | unknown       |
 * | ccxt                 | `exchange,asset,currency,time(ms),timestamp,side,price,amount`          | synthetic | buy/sell      |
 * | kraken-rest          | `price,volume,time,buy/sell,market/limit,miscellaneous`                 | synthetic | b/s           |
 * | kraken-rest-id       | `time_unix,time_utc,price,volume,side,ordertype,misc,trade_id`          | trade_id  | b/s           |
 * | binance              | `local_recv_ns,event_time_ms,trade_time_ms,...,trade_id,price,qty,is_buyer_maker,...` | trade_id | m: true = sell |
 * | mtgox                | `id,price,amount,type` (id = µs since epoch)                            | id        | unknown (the file does not define `type`) |
 *
 * Synthetic trade ids (formats without one): `<fileKey>:<n>`, where fileKey is the file's base
 * name (override with `fileKey`) and n is the 0-based index of the row among the file's data
 * rows of that pair (rejected rows count too). Re-importing the same file therefore yields the
 * same ids, so idempotent stores never duplicate a row; two different files of the same pair
 * give different ids. Such an id is not a number, so it carries no order: the aggregator keeps
 * trades of the same event time in the order they arrive, which is file order (the exchange's
 * order), since every path delivers a file's trades in file order. Time given as decimal seconds is read from the text (no float rounding):
 * ts_ms = whole seconds * 1000 + the first three fraction digits.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import { TradeCsvParser } from '@tickcast/aggregator';
import type { Trade } from '../contracts/messages.ts';
import { validate } from '../contracts/codec.ts';
import { Trade as TradeSchema } from '../contracts/messages.ts';
import { normalizeBinanceSymbol, normalizeKrakenPair } from './pairs.ts';
import { checkTrade, rejectInput, type RejectKind } from './trade-check.ts';
import { tradesTotal } from './metrics.ts';
import { systemClock, type Clock, type TradeSink, type TradeSource } from './types.ts';

export type TradeCsvFormat = 'kraken-history' | 'bitcoincharts' | 'ccxt' | 'kraken-rest' | 'kraken-rest-id' | 'binance' | 'mtgox';

const HEADERS: Record<string, TradeCsvFormat> = {
  'unix_time,price,amount': 'bitcoincharts',
  'exchange,asset,currency,time,timestamp,side,price,amount': 'ccxt',
  'price,volume,time,buy/sell,market/limit,miscellaneous': 'kraken-rest',
  'time_unix,time_utc,price,volume,side,ordertype,misc,trade_id': 'kraken-rest-id',
  'local_recv_ns,event_time_ms,trade_time_ms,trade_time_utc,trade_id,price,qty,is_buyer_maker,is_best_match': 'binance',
  'id,price,amount,type': 'mtgox',
};

/** The format of a file from its first line; null if unknown. */
export function detectCsvFormat(firstLine: string): { format: TradeCsvFormat; header: boolean } | null {
  const l = firstLine.replace(/^\uFEFF/, '').trim().toLowerCase();
  const f = HEADERS[l];
  if (f) return { format: f, header: true };
  if (/^\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?$/.test(l)) return { format: 'kraken-history', header: false };
  return null;
}

const EXCHANGES = ['kraken', 'binance', 'bitstamp', 'mtgox', 'coinbase', 'bitfinex'];

/** Exchange and pair from names like `kraken_XBTUSD_trades_2019.csv` or `binance_spot_BTCUSDT_...`. */
export function inferFromFileName(path: string): { exchange?: string; pair?: string } {
  const tokens = basename(path).replace(/\.(csv|gz)$/gi, '').replace(/\.csv$/i, '').split(/[_\-.]/);
  const out: { exchange?: string; pair?: string } = {};
  const ex = tokens[0]?.toLowerCase();
  if (ex && EXCHANGES.includes(ex)) out.exchange = ex;
  for (const t of tokens) {
    if (!/^[A-Za-z]{5,10}$/.test(t) || t.toLowerCase() === out.exchange) continue;
    const p = out.exchange === 'binance' ? normalizeBinanceSymbol(t) : normalizeKrakenPair(t);
    if (p) {
      out.pair = p;
      break;
    }
  }
  return out;
}

/** Decimal seconds text to epoch ms, exactly (truncating below the ms). */
export function decimalSecondsToMs(text: string): number | null {
  const m = /^(\d+)(?:\.(\d*))?$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(3, '0').slice(0, 3));
}

export interface TradeCsvOptions {
  /** Needed when neither the rows nor the file name say it. */
  exchange?: string;
  pair?: string;
  format?: TradeCsvFormat;
  /** Key of synthetic ids; default the file's base name. */
  fileKey?: string;
  /** Trades per yielded batch. Default 1000. */
  batchSize?: number;
  clock?: Clock;
  /** Default: no future check for files (historical data); set to reject rows ahead of the clock. */
  maxFutureMs?: number;
}

export interface CsvBatch {
  trades: Trade[];
  rejects: { raw: string; kind: RejectKind; detail: string }[];
}

/** Stream a trade CSV (plain or .gz) as batches of validated trades and rejects. */
export async function* readTradeCsv(path: string, opts: TradeCsvOptions = {}): AsyncGenerator<CsvBatch> {
  const input = createReadStream(path);
  const text = path.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  const named = inferFromFileName(path);
  const fileKey = opts.fileKey ?? basename(path);
  const batchSize = opts.batchSize ?? 1000;
  const clock = opts.clock ?? systemClock;
  const maxFutureMs = opts.maxFutureMs ?? Number.MAX_SAFE_INTEGER / 2;
  const rowsPerPair = new Map<string, number>();
  const ctx: ParseContext = { named, opts, pairs: new Map(), fileKey, clock, maxFutureMs };
  let fmt: TradeCsvFormat | null = opts.format ?? null;
  let first = true;
  let batch: CsvBatch = { trades: [], rejects: [] };
  for await (const lines of textLines(text)) {
    for (const line of lines) {
      if (first) {
        first = false;
        const d = detectCsvFormat(line);
        fmt ??= d?.format ?? null;
        if (fmt === null) throw unknownFormat(path, line);
        if (d?.header) continue;
      }
      if (line.startsWith(LONG_LINE_MARK)) {
        batch.rejects.push({ raw: line.slice(LONG_LINE_MARK.length), kind: 'bad_frame', detail: LONG_LINE_DETAIL });
        continue;
      }
      const j = judgeLine(fmt!, line, ctx, (pair) => {
        const n = rowsPerPair.get(pair) ?? 0;
        rowsPerPair.set(pair, n + 1);
        return n;
      });
      if (j === null) continue;
      if ('trade' in j) batch.trades.push(j.trade);
      else batch.rejects.push(j);
      if (batch.trades.length >= batchSize) {
        yield batch;
        batch = { trades: [], rejects: [] };
      }
    }
  }
  if (batch.trades.length || batch.rejects.length) yield batch;
}

/** What {@link tradeCsvFastReader} gives, in file order. */
export type FastCsvStep =
  /** `rows` rows are in the parser's batch (read them with `tradeAt`) until the next step. */
  | { kind: 'rows'; rows: number }
  /** A trade read by the general reader (a line the fast path left to it). */
  | { kind: 'trades'; trades: Trade[] }
  | { kind: 'reject'; raw: string; reject: RejectKind; detail: string };

/**
 * A trade file read the fast way: the plainly valid rows parsed by Rust straight into columns
 * in `parser` (no Trade object, no string per field); every line the Rust parser leaves alone
 * (`slow`) goes through the same code as in readTradeCsv (judgeLine), with the same synthetic
 * ids, so the trades and rejects are readTradeCsv's, in the same order. When the exchange is
 * not known from the options or the file name, or is outside the contract, or a ccxt file does
 * not get it from the options (its rows name their own), the fast path takes no row and every
 * line is judged by that code.
 *
 * Use: push each chunk of `bytes()` into `parser` (none when the parser reads the file
 * itself), then take `start()`'s steps (the first line), then call `parser.next` (or
 * `Aggregator.parseAndPush`) and give each slow line to `slow()`; after the last chunk,
 * `parser.end()` and the same again.
 */
export class TradeCsvFastFile {
  readonly parser: TradeCsvParser;
  private readonly ctx: ParseContext;
  private readonly fast: boolean;
  private fmt: TradeCsvFormat | null;
  private started = false;
  private readonly nextIndex = (pair: string): number => this.parser.syntheticIndex(pair);

  constructor(
    private readonly path: string,
    private readonly opts: TradeCsvOptions & { highWaterMark?: number } = {},
  ) {
    const named = inferFromFileName(path);
    const exchange = opts.exchange ?? named.exchange;
    this.fast = exchange !== undefined && validate(TradeSchema, { exchange, pair: 'BTC/USD', trade_id: '1', price: 1, qty: 1, side: 'buy', ts_ms: 0 }).ok;
    const pair = opts.pair ?? named.pair;
    const fileKey = opts.fileKey ?? basename(path);
    this.parser = new TradeCsvParser({ ...(this.fast && pair !== undefined ? { pair } : {}), fileKey });
    this.ctx = { named, opts, pairs: new Map(), fileKey, clock: opts.clock ?? systemClock, maxFutureMs: opts.maxFutureMs ?? Number.MAX_SAFE_INTEGER / 2 };
    this.fmt = opts.format ?? null;
    this.readsItself = !path.endsWith('.gz') && opts.highWaterMark === undefined;
    if (this.readsItself) this.parser.readFile(path);
  }

  /**
   * True when the parser reads the file itself (a plain file, no chunk size asked for): no
   * bytes cross into JavaScript and `bytes()` gives none.
   */
  readonly readsItself: boolean;

  /**
   * The file's bytes to push (gunzipped for .gz) in chunks (default 1 MiB); none when the
   * parser reads it itself. Leaving the loop early closes the file.
   */
  async *bytes(): AsyncGenerator<Buffer> {
    if (this.readsItself) return;
    const input = createReadStream(this.path, { highWaterMark: this.opts.highWaterMark ?? READ_CHUNK });
    const stream = this.path.endsWith('.gz') ? input.pipe(createGunzip()) : input;
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } finally {
      input.destroy();
      stream.destroy();
    }
  }

  /** The latest trade time the fast path takes now (later ones: the general reader rejects them). */
  maxTsMs(): number {
    return this.ctx.clock() + this.ctx.maxFutureMs;
  }

  /** Once the first line is in: the format, and that line's step when it is data. Empty until then. */
  *start(): Generator<FastCsvStep> {
    if (this.started) return;
    const first = this.parser.firstLine();
    if (first === null) return;
    this.started = true;
    const d = detectCsvFormat(first);
    this.fmt ??= d?.format ?? null;
    if (this.fmt === null) throw unknownFormat(this.path, first);
    this.parser.setFormat(this.fmt);
    if (!d?.header) yield* this.slow(first);
  }

  /** True once the first line was read (the parser may be asked for rows). */
  get ready(): boolean {
    return this.started;
  }

  /** A line the fast parser skipped as too long (stop 'toolong'): its reject. */
  tooLong(prefix: string): FastCsvStep {
    return { kind: 'reject', raw: prefix, reject: 'bad_frame', detail: LONG_LINE_DETAIL };
  }

  /** A line the fast path left: the general reader's verdict (nothing for a blank line). */
  *slow(line: string): Generator<FastCsvStep> {
    const fmt = this.fmt as TradeCsvFormat;
    if (fmt === 'ccxt' && this.fast && this.opts.exchange !== undefined) {
      // Name the row's asset/currency for the rows after it, as the general reader reads it.
      const c = line.split(',');
      if (c[1] && c[2]) this.parser.setCcxtPair(c[1], c[2], ccxtPair(this.ctx, c[1], c[2]));
    }
    const j = judgeLine(fmt, line, this.ctx, this.nextIndex);
    if (j === null) return;
    if ('trade' in j) yield { kind: 'trades', trades: [j.trade] };
    else yield { kind: 'reject', raw: j.raw, reject: j.kind, detail: j.detail };
  }
}

/** TradeCsvFastFile's steps with `parser.next`: `rows` steps are rows in the parser's batch. */
export function tradeCsvFastReader(path: string, opts: TradeCsvOptions & { highWaterMark?: number } = {}): { parser: TradeCsvParser; steps: AsyncGenerator<FastCsvStep> } {
  const f = new TradeCsvFastFile(path, opts);
  return { parser: f.parser, steps: fastSteps(f, opts.batchSize ?? 1000) };
}

/** Bytes per read of the fast path (Node's default is 64 KiB). */
const READ_CHUNK = 1 << 20;

async function* fastSteps(f: TradeCsvFastFile, batchSize: number): AsyncGenerator<FastCsvStep> {
  function* drain(): Generator<FastCsvStep> {
    yield* f.start();
    if (!f.ready) return;
    for (;;) {
      const r = f.parser.next(batchSize, f.maxTsMs());
      // 'input': the batch fills on with the next chunk.
      if (r.rows > 0 && r.stop !== 'input') yield { kind: 'rows', rows: r.rows };
      if (r.stop === 'slow') yield* f.slow(r.slowLine!);
      else if (r.stop === 'toolong') yield f.tooLong(r.slowLine!);
      else if (r.stop !== 'full') return;
    }
  }
  for await (const chunk of f.bytes()) {
    f.parser.push(chunk);
    yield* drain();
  }
  f.parser.end();
  yield* drain();
}

/**
 * The lines of a text stream, a chunk's worth at a time, split as readline splits them
 * (crlfDelay Infinity): at \n, \r\n and a lone \r, a \r\n across two chunks being one break;
 * the last line is given when it is not empty. One array per chunk instead of one promise per
 * line (a file has millions of lines).
 */
export async function* textLines(stream: NodeJS.ReadableStream): AsyncGenerator<string[]> {
  stream.setEncoding('utf8');
  let rest = '';
  let skipLf = false;
  /** The first characters of a too-long line being skipped. */
  let skipping: string | null = null;
  for await (const chunk of stream as AsyncIterable<string>) {
    let text = rest + chunk;
    if (skipLf && text.startsWith('\n')) text = text.slice(1);
    skipLf = false;
    const parts = text.includes('\r') ? text.split(CRLF_OR_LF_OR_CR) : text.split('\n');
    rest = parts.pop() as string;
    if (text.endsWith('\r')) skipLf = true;
    if (skipping !== null && parts.length > 0) {
      parts[0] = `${LONG_LINE_MARK}${skipping}`; // the long line's end
      skipping = null;
    }
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (p.length > MAX_LINE_CHARS && !p.startsWith(LONG_LINE_MARK)) parts[i] = `${LONG_LINE_MARK}${p.slice(0, LONG_LINE_PREFIX)}`;
    }
    if (rest.length > MAX_LINE_CHARS) {
      skipping ??= rest.slice(0, LONG_LINE_PREFIX);
      rest = '';
    }
    if (parts.length > 0) yield parts;
  }
  if (skipping !== null) yield [`${LONG_LINE_MARK}${skipping}`];
  else if (rest.length > 0) yield [rest];
}

/**
 * Lines longer than this are not kept (memory stays bounded on a hostile file): textLines gives
 * LONG_LINE_MARK and their first LONG_LINE_PREFIX characters, and the readers reject them. The
 * Rust parser has the same limits in bytes (the same for ASCII, which every format is).
 */
export const MAX_LINE_CHARS = 1 << 20;
const LONG_LINE_PREFIX = 200;
/** The start of a too-long line's stand-in (as the Rust parser's first line gives it too). */
export const LONG_LINE_MARK = '\u0000line over 1 MiB\u0000';
const LONG_LINE_DETAIL = `line longer than ${MAX_LINE_CHARS} characters: not read`;

const CRLF_OR_LF_OR_CR = /\r\n|\n|\r/;

function unknownFormat(path: string, firstLine: string): Error {
  const shown = firstLine.startsWith(LONG_LINE_MARK) ? firstLine.slice(LONG_LINE_MARK.length) : firstLine;
  return new Error(`${path}: unknown trade CSV format (first line ${JSON.stringify(shown.slice(0, 120))})`);
}

type Row = { exchange: string; pair: string; id?: string; price: string; qty: string; side: Trade['side']; ts_ms: number } | { kind: RejectKind; detail: string };

interface ParseContext {
  named: { exchange?: string; pair?: string };
  opts: TradeCsvOptions;
  /** normalizeKrakenPair of each `asset/currency` text seen (ccxt rows repeat a few). */
  pairs?: Map<string, string | null>;
  fileKey: string;
  clock: Clock;
  maxFutureMs: number;
}

type Judged = { trade: Trade } | { raw: string; kind: RejectKind; detail: string };

/**
 * One data line: a trade, a reject, or null for a blank line. `nextIndex(pair)` gives the
 * synthetic index of a parsed row of that pair (every parsed row counts, rejected or not).
 */
function judgeLine(fmt: TradeCsvFormat, line: string, ctx: ParseContext, nextIndex: (pair: string) => number): Judged | null {
  if (line.trim() === '') return null;
  const r = parseRow(fmt, line.split(','), ctx);
  if ('kind' in r) return { raw: line, kind: r.kind, detail: r.detail };
  const n = nextIndex(r.pair);
  const c = checkTrade({ exchange: r.exchange, pair: r.pair, trade_id: r.id ?? `${ctx.fileKey}:${n}`, price: r.price, qty: r.qty, side: r.side, ts_ms: r.ts_ms }, { nowMs: ctx.clock(), maxFutureMs: ctx.maxFutureMs });
  return c.ok ? { trade: c.value } : { raw: line, kind: c.kind, detail: c.detail };
}

// The helpers of parseRow live at module level: per-row closures cost an allocation (and,
// under tsx, a naming call) for every row of a file.
function needPair(exchange: string | undefined, pair: string | undefined): { exchange: string; pair: string } | Row {
  if (!exchange || !pair) return { kind: 'unknown_pair', detail: 'exchange and pair are neither in the rows nor in the file name: pass them' };
  return { exchange, pair };
}

function msOf(v: string | undefined, what: string): number | Row {
  const t = v === undefined ? null : decimalSecondsToMs(v);
  return t === null ? { kind: 'bad_timestamp', detail: `${what} ${JSON.stringify(v)}` } : t;
}

const DIGITS = /^\d+$/;
const intOf = (v: string | undefined): number => (v !== undefined && DIGITS.test(v.trim()) ? Number(v) : NaN);

function ccxtPair(ctx: ParseContext, asset: string, currency: string): string | null {
  const text = `${asset}/${currency}`;
  if (!ctx.pairs) return normalizeKrakenPair(text);
  let p = ctx.pairs.get(text);
  if (p === undefined) {
    p = normalizeKrakenPair(text);
    if (ctx.pairs.size < 1024) ctx.pairs.set(text, p);
  }
  return p;
}

function parseRow(fmt: TradeCsvFormat, c: string[], ctx: ParseContext): Row {
  const exchange = ctx.opts.exchange ?? ctx.named.exchange;
  const pair = ctx.opts.pair ?? ctx.named.pair;
  let base: { exchange: string; pair: string } | Row;
  switch (fmt) {
    case 'kraken-history':
    case 'bitcoincharts': {
      base = needPair(exchange, pair);
      const t = msOf(c[0], 'unix_time');
      if ('kind' in base) return base;
      if (typeof t !== 'number') return t;
      return { ...base, price: c[1] ?? '', qty: c[2] ?? '', side: 'unknown', ts_ms: t };
    }
    case 'ccxt': {
      const p = c[1] && c[2] ? ccxtPair(ctx, c[1], c[2]) : null;
      const ex = ctx.opts.exchange ?? c[0]?.toLowerCase();
      if (!p || !ex) return { kind: 'unknown_pair', detail: `asset/currency ${c[1]}/${c[2]}` };
      const t = intOf(c[3]);
      if (!Number.isFinite(t)) return { kind: 'bad_timestamp', detail: `time ${JSON.stringify(c[3])}` };
      const side = c[5] === 'buy' ? 'buy' : c[5] === 'sell' ? 'sell' : null;
      if (!side) return { kind: 'bad_side', detail: `side ${JSON.stringify(c[5])}` };
      return { exchange: ex, pair: p, price: c[6] ?? '', qty: c[7] ?? '', side, ts_ms: t };
    }
    case 'kraken-rest':
    case 'kraken-rest-id': {
      base = needPair(exchange, pair);
      if ('kind' in base) return base;
      const [price, qty, time, side, id] = fmt === 'kraken-rest' ? [c[0], c[1], c[2], c[3], undefined] : [c[2], c[3], c[0], c[4], c[7]];
      const t = msOf(time, 'time');
      if (typeof t !== 'number') return t;
      if (side !== 'b' && side !== 's') return { kind: 'bad_side', detail: `side ${JSON.stringify(side)}` };
      if (id !== undefined && !DIGITS.test(id)) return { kind: 'bad_trade_id', detail: `trade_id ${JSON.stringify(id)}` };
      return { ...base, ...(id !== undefined ? { id } : {}), price: price ?? '', qty: qty ?? '', side: side === 'b' ? 'buy' : 'sell', ts_ms: t };
    }
    case 'binance': {
      base = needPair(exchange, pair);
      if ('kind' in base) return base;
      const t = intOf(c[2]);
      if (!Number.isFinite(t)) return { kind: 'bad_timestamp', detail: `trade_time_ms ${JSON.stringify(c[2])}` };
      if (!DIGITS.test(c[4] ?? '')) return { kind: 'bad_trade_id', detail: `trade_id ${JSON.stringify(c[4])}` };
      const m = c[7];
      if (m !== 'true' && m !== 'false') return { kind: 'bad_side', detail: `is_buyer_maker ${JSON.stringify(m)}` };
      return { ...base, id: c[4]!, price: c[5] ?? '', qty: c[6] ?? '', side: m === 'true' ? 'sell' : 'buy', ts_ms: t };
    }
    case 'mtgox': {
      base = needPair(exchange, pair);
      if ('kind' in base) return base;
      const us = intOf(c[0]);
      if (!Number.isFinite(us)) return { kind: 'bad_trade_id', detail: `id ${JSON.stringify(c[0])}` };
      return { ...base, id: c[0]!, price: c[1] ?? '', qty: c[2] ?? '', side: 'unknown', ts_ms: Math.floor(us / 1000) };
    }
  }
}

/** tradesTotal by pair for a batch: one increment per pair (the same counts as one per trade). */
export function countTrades(source: string, trades: readonly Trade[]): void {
  let pair = '';
  let n = 0;
  for (const t of trades) {
    if (t.pair !== pair) {
      if (n > 0) tradesTotal().inc({ source, pair }, n);
      pair = t.pair;
      n = 0;
    }
    n++;
  }
  if (n > 0) tradesTotal().inc({ source, pair }, n);
}

/** Imports a trade CSV as a finite source (file order). */
export class CsvImportSource implements TradeSource {
  readonly name: string;
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly path: string,
    private readonly opts: TradeCsvOptions & { sourceName?: string } = {},
  ) {
    this.name = opts.sourceName ?? 'csv';
  }

  run(sink: TradeSink): Promise<void> {
    this.running ??= (async () => {
      for await (const b of readTradeCsv(this.path, this.opts)) {
        for (const r of b.rejects) rejectInput(sink, this.name, r.raw, r.kind, r.detail);
        if (b.trades.length) {
          countTrades(this.name, b.trades);
          await sink.trades(b.trades);
        }
        if (this.stopped) break;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }
}
