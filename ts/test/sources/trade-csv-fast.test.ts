/**
 * The Rust fast path of a file import (tradeCsvFastReader) against the general TypeScript
 * reader (readTradeCsv) as the reference: every real sample file (all seven formats), the same
 * files mangled line by line (spaces, signs, exponents, zeros, non-ASCII, BOMs, CR/CRLF/blank
 * lines, cut fields, far-future times), read in chunks of many sizes. The trades must be the
 * same, field for field and in order, and so must the rejects; and on the clean files the fast
 * path must be the one that read almost every row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { testData } from '../fixtures/test-data.ts';
import { readTradeCsv, tradeCsvFastReader, inferFromFileName, type TradeCsvOptions } from '../../src/sources/trade-csv.ts';
import type { Trade } from '../../src/contracts/messages.ts';
import { mulberry32 } from '../../src/util/rng.ts';

const FILES = [
  'kraken_XBTUSD_trades_20190701T0000-0100.csv', // ccxt
  'kraken_ETHUSD_trades_20220320T1018-1207.csv', // kraken-rest, CRLF
  'kraken_XBTUSDT_trades_20251110.csv', // kraken-rest-id
  'bitstamp_BTCUSD_trades_20110913-20120531.csv', // bitcoincharts
  'mtgox_BTCUSD_trades_20130101.csv', // mtgox
  'binance_spot_BTCUSDT_trades_20240808T2354-20240809T0005.csv', // binance
];

interface Read {
  trades: Trade[];
  rejects: { raw: string; kind: string; detail: string }[];
  fastRows: number;
}

async function readReference(path: string, opts: TradeCsvOptions): Promise<Read> {
  const out: Read = { trades: [], rejects: [], fastRows: 0 };
  for await (const b of readTradeCsv(path, opts)) {
    out.trades.push(...b.trades);
    out.rejects.push(...b.rejects.map((r) => ({ raw: r.raw, kind: r.kind, detail: r.detail })));
  }
  return out;
}

async function readFast(path: string, opts: TradeCsvOptions & { highWaterMark?: number }): Promise<Read> {
  const exchange = opts.exchange ?? inferFromFileName(path).exchange;
  const out: Read = { trades: [], rejects: [], fastRows: 0 };
  const { parser, steps } = tradeCsvFastReader(path, opts);
  for await (const s of steps) {
    if (s.kind === 'rows') {
      for (let i = 0; i < s.rows; i++) {
        const t = parser.tradeAt(i);
        assert.ok(t, `row ${i} of ${s.rows}`);
        out.trades.push({ exchange: exchange!, ...t });
      }
      assert.equal(parser.tradeAt(s.rows), null);
      out.fastRows += s.rows;
    } else if (s.kind === 'trades') {
      out.trades.push(...s.trades);
    } else {
      out.rejects.push({ raw: s.raw, kind: s.reject, detail: s.detail });
    }
  }
  return out;
}

const JUNK = ['0', '-1', '+', '.', 'e', 'E5', 'e-400', 'e400', 'x', ' ', '\t', '\u00a0', 'é', '\uFEFF', '', '00', '1e', '99999999999999', '9007199254740993', 'b', 's', 'buy', 'true', 'NaN', 'Infinity'];

/** The file's text with a share of its data lines broken in one of many ways. */
function mangle(text: string, seed: number, share: number): string {
  const r = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const lines = text.split(/\r\n|\n|\r/);
  const out: string[] = [lines[0]!];
  for (const line of lines.slice(1)) {
    if (r() >= share) {
      out.push(line);
      continue;
    }
    const c = line.split(',');
    const k = Math.floor(r() * c.length);
    switch (Math.floor(r() * 9)) {
      case 0: c[k] = pick(JUNK); break; // a field replaced
      case 1: c[k] = `${pick([' ', '\t', '\u00a0', '+', '0'])}${c[k]}`; break; // before it
      case 2: c[k] = `${c[k]}${pick([' ', '\t', '0', '.', 'e1', 'x'])}`; break; // after it
      case 3: c.splice(k, 1); break; // a field cut
      case 4: out.push(pick(['', ' ', '\t', '\uFEFF'])); break; // a blank-ish line before
      case 5: c[k] = (c[k] ?? '').replace(/\d/, pick(['', 'é', ' ', '9'])); break;
      case 6: out.push(line); break; // the line twice
      case 7: c.length = Math.floor(r() * c.length); break; // truncated
      default: c[k] = `${c[k]}e${pick(['3', '-3', '300', '-300'])}`;
    }
    out.push(c.join(','));
  }
  // Line breaks of every kind.
  return out.map((l, i) => (i === out.length - 1 ? l : `${l}${pick(['\n', '\n', '\n', '\r\n', '\r'])}`)).join('');
}

const dir = mkdtempSync(join(tmpdir(), 'tickcast-csv-fast-'));

for (const name of FILES) {
  test(`fast path = general reader on the real file ${name}, and it reads almost every row itself`, async () => {
    const path = testData(`trades/${name}`);
    // The exchange given, as `tickcast backfill` gives it (ccxt rows name their own otherwise).
    const exchange = inferFromFileName(path).exchange;
    // undefined: the Rust parser reads the file itself; else JavaScript pushes chunks of that size.
    for (const highWaterMark of [undefined, 65536, 4096, 97, 7]) {
      const ref = await readReference(path, { exchange });
      const fast = await readFast(path, { exchange, ...(highWaterMark !== undefined ? { highWaterMark } : {}) });
      assert.deepEqual(fast.trades, ref.trades, `trades, chunks of ${highWaterMark}`);
      assert.deepEqual(fast.rejects, ref.rejects, `rejects, chunks of ${highWaterMark}`);
      assert.ok(ref.trades.length >= 1000);
      // The first row of a ccxt file names its pair (the general reader reads it); rejects too.
      assert.ok(fast.fastRows >= ref.trades.length - 1, `${fast.fastRows} of ${ref.trades.length} rows on the fast path`);
    }
  });

  test(`fast path = general reader on ${name} with 20% of its lines mangled (3 seeds, small chunks)`, async () => {
    const text = readFileSync(testData(`trades/${name}`), 'utf8');
    for (const seed of [1, 2, 3]) {
      mkdirSync(join(dir, String(seed)), { recursive: true });
      const path = join(dir, String(seed), name); // the name says exchange and pair
      writeFileSync(path, mangle(text, seed * 7919 + name.length, 0.2));
      const exchange = inferFromFileName(path).exchange;
      const ref = await readReference(path, { exchange });
      const fast = await readFast(path, { exchange, highWaterMark: 251 });
      const itself = await readFast(path, { exchange });
      assert.ok(ref.rejects.length > 0, 'the mangling made rejects');
      assert.deepEqual(fast.trades, ref.trades, `trades, seed ${seed}`);
      assert.deepEqual(fast.rejects, ref.rejects, `rejects, seed ${seed}`);
      assert.deepEqual(itself, fast, `the parser reading the file itself, seed ${seed}`);
      assert.ok(fast.fastRows > ref.trades.length / 2, `${fast.fastRows} of ${ref.trades.length} on the fast path`);
    }
  });
}

test('fast path = general reader: headerless Kraken history, gzip, a future limit, options naming the pair, a file with no exchange', async () => {
  const src = readFileSync(testData('trades/bitstamp_BTCUSD_trades_20110913-20120531.csv'), 'utf8').split('\n').slice(1, 4000);
  const history = join(dir, 'kraken_XBTUSD_history.csv');
  writeFileSync(history, `${src.join('\n')}\n`);
  const gz = join(dir, 'kraken_XBTUSD_history.csv.gz');
  writeFileSync(gz, gzipSync(readFileSync(history)));
  const spaced = join(dir, 'kraken_XBTUSD_spaced.csv');
  writeFileSync(spaced, `unix_time,price,amount\n${src.map((l) => l.split(',').join(', ')).join('\n')}\n`); // "1315922016, 5.8, 1.0"
  const noExchange = join(dir, 'trades_no_name.csv');
  writeFileSync(noExchange, `${src.join('\n')}\n`);
  const midMs = Number(src[2000]!.split(',')[0]) * 1000;
  const cases: [string, TradeCsvOptions][] = [
    [history, {}],
    [spaced, {}],
    [gz, {}],
    [history, { clock: () => midMs, maxFutureMs: 0 }],
    [history, { exchange: 'bitstamp', pair: 'ETH/EUR', fileKey: 'k' }],
    [history, { pair: 'eth/eur' }],
    [noExchange, {}],
    [noExchange, { pair: 'BTC/USD' }],
    [noExchange, { exchange: 'kraken', pair: 'BTC/USD' }],
  ];
  for (const [path, opts] of cases) {
    const ref = await readReference(path, opts);
    const fast = await readFast(path, { ...opts, highWaterMark: 333 });
    const what = `${path} ${JSON.stringify(opts)}`;
    assert.deepEqual(await readFast(path, opts), fast, `${what}: read by the parser itself`);
    assert.deepEqual(fast.trades, ref.trades, what);
    assert.deepEqual(fast.rejects, ref.rejects, what);
    if (opts.exchange ?? inferFromFileName(path).exchange) {
      if (opts.pair !== 'eth/eur') assert.ok(fast.fastRows > 0, `${what}: fast path used`);
    } else {
      assert.equal(fast.fastRows, 0, `${what}: no exchange, no fast path`);
    }
  }
  // Spaces around the numbers (trimmed by the general reader too): still the fast path.
  const spacedFast = await readFast(spaced, {});
  assert.ok(spacedFast.fastRows >= spacedFast.trades.length - 1 && spacedFast.trades.length > 3000, `${spacedFast.fastRows} of ${spacedFast.trades.length} fast`);
  // The future limit split the file: the later half rejected by the general reader.
  const limited = await readReference(history, { clock: () => midMs, maxFutureMs: 0 });
  assert.ok(limited.rejects.some((r) => r.kind === 'future_timestamp'));
});

test('fast path = general reader: empty files, a header alone, an unknown format', async () => {
  for (const [text, name] of [['', 'kraken_XBTUSD_a.csv'], ['\n', 'kraken_XBTUSD_b.csv'], ['unix_time,price,amount', 'kraken_XBTUSD_c.csv'], ['what,is,this\n1,2,3\n', 'kraken_XBTUSD_d.csv']] as const) {
    const path = join(dir, name);
    writeFileSync(path, text);
    const ref = await readReference(path, {}).then((r) => ({ ok: r }), (e: Error) => ({ err: e.message }));
    for (const o of [{}, { highWaterMark: 3 }]) {
      const fast = await readFast(path, o).then((r) => ({ ok: { ...r, fastRows: 0 } }), (e: Error) => ({ err: e.message }));
      assert.deepEqual(fast, ref, JSON.stringify(text));
    }
  }
});

test('a line over 1 MiB is rejected, not kept, by both readers alike (middle, end, first line)', async () => {
  const rows = readFileSync(testData('trades/bitstamp_BTCUSD_trades_20110913-20120531.csv'), 'utf8').split('\n').slice(0, 400);
  const long = (n: number, c: string) => c.repeat(n);
  const cases: [string, string][] = [
    ['middle_end', `${rows.slice(0, 200).join('\n')}\n${long(3 * 2 ** 20 + 3, '7')}\r\n${rows.slice(200).join('\n')}\n${long(2 ** 20 + 1, '8')}`],
    ['exactly', `${rows.slice(0, 5).join('\n')}\n${long(2 ** 20, '9')}\n${rows.slice(5, 9).join('\n')}\n`],
    ['first', `${long(2 ** 21, 'x')}\n${rows.slice(1, 5).join('\n')}\n`],
  ];
  for (const [name, text] of cases) {
    const path = join(dir, `bitstamp_BTCUSD_${name}.csv`);
    writeFileSync(path, text);
    const ref = await readReference(path, {}).then((r) => ({ ok: r }), (e: Error) => ({ err: e.message }));
    for (const o of [{}, { highWaterMark: 65536 }]) {
      const fast = await readFast(path, o).then((r) => ({ ok: { ...r, fastRows: 0 } }), (e: Error) => ({ err: e.message }));
      assert.deepEqual(fast, { ...ref, ...('ok' in ref ? { ok: { ...ref.ok, fastRows: 0 } } : {}) }, `${name} ${JSON.stringify(o)}`);
    }
    if (name === 'middle_end' && 'ok' in ref) {
      assert.deepEqual(ref.ok.rejects.map((r) => [r.kind, r.raw]), [['bad_frame', '7'.repeat(200)], ['bad_frame', '8'.repeat(200)]]);
      assert.equal(ref.ok.trades.length, 399, 'every other row read');
    }
    if (name === 'exactly' && 'ok' in ref) assert.ok(ref.ok.rejects.every((r) => r.kind !== 'bad_frame'), 'a line of exactly 1 MiB is read (and rejected for what it is)');
    if (name === 'first') assert.ok('err' in ref && /unknown trade CSV format \(first line "x{120}"\)/.test(ref.err), JSON.stringify(ref));
  }
});

test('textLines keeps memory bounded on a line of 600 MiB (without the bound the string outgrows V8: RangeError)', async () => {
  const { Readable } = await import('node:stream');
  const { textLines } = await import('../../src/sources/trade-csv.ts');
  const chunk = Buffer.alloc(1 << 20, 0x37);
  async function* bytes() {
    for (let i = 0; i < 600; i++) yield chunk;
    yield Buffer.from('\n1561939203,10,1\n');
  }
  const lines: string[] = [];
  for await (const ls of textLines(Readable.from(bytes()))) lines.push(...ls);
  assert.equal(lines.length, 2);
  assert.ok(lines[0]!.length < 300 && lines[0]!.endsWith('7'.repeat(200)), 'the long line: its mark and first 200 characters');
  assert.equal(lines[1], '1561939203,10,1');
});
