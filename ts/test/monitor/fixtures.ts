/** Real Kraken 1-minute candles (XBT/USDT, 2025-11-10) as Candle messages, and predictions made on them. */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { testData } from '../fixtures/test-data.ts';
import type { Candle, Prediction } from '../../src/contracts/messages.ts';

export const PAIR = 'BTC/USDT';

/** The contiguous bars of the recording (the last, still-forming bar excluded). */
export function realCandles(pair = PAIR): Candle[] {
  const lines = readFileSync(testData('candles/kraken_XBTUSDT_1m_20251110.csv'), 'utf8').trim().split('\n').slice(1, -1);
  return lines.map((line) => {
    const [t, , o, h, l, c, vwap, vol, count] = line.split(',');
    const start = Number(t) * 1000;
    return {
      exchange: 'kraken',
      pair,
      interval_s: 60,
      window_start_ms: start,
      window_end_ms: start + 60_000,
      open: Number(o),
      high: Number(h),
      low: Number(l),
      close: Number(c),
      volume: Number(vol),
      buy_volume: 0,
      sell_volume: 0,
      vwap: Number(vwap) > 0 ? Number(vwap) : Number(c),
      trade_count: Number(count),
      filled: Number(count) === 0,
    };
  });
}

/**
 * A prediction made at a candle's end: a toy model that extrapolates the
 * last bar's move (close + (close - open)), so it is sometimes right and
 * sometimes wrong against the real next-5-minute close.
 */
export function predictionAt(c: Candle, model_version = 'toy-v1', horizonS = 300): Prediction {
  const predicted = c.close + (c.close - c.open) + (model_version === 'toy-v1' ? 0 : 5);
  return {
    pair: c.pair,
    made_at_ms: c.window_end_ms,
    target_ms: c.window_end_ms + horizonS * 1000,
    horizon_s: horizonS,
    predicted_price: predicted,
    last_close: c.close,
    model_name: 'toy',
    model_version,
  };
}

export const quietLogger = () => pino({ level: 'silent' });

/**
 * A prediction at a candle's end with a fixed ±4 / ±7 bp range (wide enough to hit sometimes, narrow enough to miss),
 * a volatility and a p_up; with `price`, also predictionAt's price.
 */
export function forecastAt(c: Candle, i: number, price = false): Prediction {
  const L = c.close;
  return {
    ...(price ? predictionAt(c) : { pair: c.pair, made_at_ms: c.window_end_ms, target_ms: c.window_end_ms + 5 * 60_000, horizon_s: 300, last_close: L, model_name: 'range', model_version: 'range-1' }),
    range: { q05: -7e-4, q10: -4e-4, q50: 0, q90: 4e-4, q95: 7e-4, lo80: L * Math.exp(-4e-4), hi80: L * Math.exp(4e-4), lo90: L * Math.exp(-7e-4), hi90: L * Math.exp(7e-4), calibrated: false, m80: 1, m90: 1, model_version: 'range-1' },
    volatility: { value: 0.001, model_version: 'vol-1' },
    direction: { p_up: i % 2 ? 0.55 : 0.45, model_version: 'dir-1' },
  };
}
