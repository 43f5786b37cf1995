/**
 * Fixtures of the API tests: real 1-minute candles (Coinbase BTC/USD and
 * ETH/USD, data/sample/candles via testData), simple predictions made from them, and
 * their errors recomputed naively from the candles.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { testData } from '../fixtures/test-data.ts';
import type { Candle, Prediction, PredictionError } from '../../src/contracts/messages.ts';
import { openStores, type Stores } from '../../src/stores/index.ts';

export const PAIRS = ['BTC/USD', 'ETH/USD'] as const;
const FILES: Record<string, string> = {
  'BTC/USD': 'coinbase_BTCUSD_1m_lean.csv',
  'ETH/USD': 'coinbase_ETHUSD_1m_lean.csv',
};

/** The first `n` real 1-minute candles of a pair (volume-0 minutes become `filled` candles). */
export function realCandles(pair: string, n: number): Candle[] {
  const name = FILES[pair];
  if (!name) throw new Error(`no candle file for ${pair}`);
  const file = testData(`candles/${name}`);
  const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/).slice(1, n + 1);
  return lines.map((l) => {
    const [, , timeUtc, o, h, lo, c, v] = l.split(',');
    const start = Date.parse(timeUtc as string);
    const open = Number(o), high = Number(h), low = Number(lo), close = Number(c), volume = Number(v);
    return {
      exchange: 'coinbase',
      pair,
      interval_s: 60,
      window_start_ms: start,
      window_end_ms: start + 60_000,
      open,
      high,
      low,
      close,
      volume,
      buy_volume: 0,
      sell_volume: 0,
      vwap: (high + low + close) / 3,
      trade_count: volume > 0 ? 1 : 0,
      filled: volume === 0,
    };
  });
}

/** A momentum guess per candle: close + (close − previous close), for 5 minutes ahead. */
export function predictionsFrom(candles: readonly Candle[], model_version = 'v1'): Prediction[] {
  return candles.slice(1).map((c, i) => {
    const prev = candles[i] as Candle;
    return {
      pair: c.pair,
      made_at_ms: c.window_end_ms,
      target_ms: c.window_end_ms + 300_000,
      horizon_s: 300,
      predicted_price: Math.max(0.01, c.close + (c.close - prev.close)),
      last_close: c.close,
      model_name: 'momentum',
      model_version,
    };
  });
}

/** The error of each prediction whose target candle is in `candles` (actual = that candle's close). */
export function errorsFrom(preds: readonly Prediction[], candles: readonly Candle[]): PredictionError[] {
  const closeAt = new Map(candles.map((c) => [c.window_end_ms, c.close]));
  const out: PredictionError[] = [];
  for (const p of preds) {
    const actual = closeAt.get(p.target_ms);
    if (actual === undefined) continue;
    const error = p.predicted_price! - actual;
    out.push({
      pair: p.pair,
      target_ms: p.target_ms,
      predicted_price: p.predicted_price!,
      actual_price: actual,
      error,
      abs_pct_error: Math.abs(error) / actual,
      model_version: p.model_version,
    });
  }
  return out;
}

export interface TempStores {
  stores: Stores;
  dir: string;
  cleanup(): Promise<void>;
}

export async function tempSqliteStores(logger: Logger = quietLogger()): Promise<TempStores> {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-api-'));
  const stores = await openStores({ kind: 'sqlite', dataDir: dir }, logger);
  return {
    stores,
    dir,
    cleanup: async () => {
      await stores.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function quietLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A logger whose JSON lines are kept (to check what was logged). */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const logger = pino({ level: 'info' }, stream);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Wait until `cond` holds (polling), or fail with `what`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
