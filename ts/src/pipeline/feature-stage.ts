/**
 * Candles to technical features: one Rust FeatureSet per pair, fed one
 * closed candle at a time (one N-API crossing per candle). A feature at
 * window_end_ms uses only candles that closed at or before it.
 *
 * Restart and replay consistency: the stage keeps the last window_end_ms per
 * pair and ignores a candle at or before it (a replayed duplicate), and a
 * service that starts on a pair mid-stream first warms the set with the
 * pair's stored candles, so the features equal those of an uninterrupted run.
 */
import { FeatureSet } from '@tickcast/indicators';
import type { Candle, TechnicalFeatures } from '../contracts/messages.ts';

/** The default feature list: scale-free indicators (ratios, oscillators, returns), 24 features. */
export const DEFAULT_FEATURES: readonly string[] = [
  'log_return_1',
  'log_return_5',
  'log_return_15',
  'realized_vol_30',
  'rsi_14',
  'macd_12_26_9_line',
  'macd_12_26_9_signal',
  'macd_12_26_9_hist',
  'bb_20_2_width',
  'bb_20_2_pctb',
  'natr_14',
  'stoch_14_3_3_k',
  'stoch_14_3_3_d',
  'stochrsi_14_14_3_k',
  'adx_14',
  'plus_di_14',
  'minus_di_14',
  'cci_20',
  'mfi_14',
  'roc_10',
  'willr_14',
  'sma_20',
  'ema_12',
  'vwap_30',
];

export type FeatureOutcome =
  | { kind: 'row'; row: TechnicalFeatures }
  /** A candle at or before the pair's last one: already counted. */
  | { kind: 'duplicate' }
  /** A candle of another interval than the stage's. */
  | { kind: 'other_interval' };

interface PairState {
  set: FeatureSet;
  lastEndMs: number;
  out: Float64Array;
}

export class FeatureStage {
  readonly names: readonly string[];
  private readonly pairs = new Map<string, PairState>();

  constructor(
    readonly intervalS: number = 60,
    features: readonly string[] = DEFAULT_FEATURES,
  ) {
    // Validates the names once (throws E_INVALID_FEATURE with the bad name).
    this.names = new FeatureSet({ features: [...features] }).names;
  }

  /** Whether the stage has seen this pair (a service warms unseen pairs from the store first). */
  knows(pair: string): boolean {
    return this.pairs.has(pair);
  }

  /** The last window end of a pair fed so far, or null. */
  lastEndMs(pair: string): number | null {
    return this.pairs.get(pair)?.lastEndMs ?? null;
  }

  private state(pair: string): PairState {
    let s = this.pairs.get(pair);
    if (!s) {
      s = { set: new FeatureSet({ features: [...this.names] }), lastEndMs: -Infinity, out: new Float64Array(this.names.length) };
      this.pairs.set(pair, s);
    }
    return s;
  }

  /** Feed history (oldest first) without producing rows: restart warm-up. */
  warm(pair: string, candles: readonly Candle[]): number {
    let fed = 0;
    for (const c of candles) if (this.onCandle(c).kind === 'row') fed++;
    if (candles.length === 0) this.state(pair);
    return fed;
  }

  /** One closed candle in, one feature row out (null values while an indicator warms up). */
  onCandle(c: Candle): FeatureOutcome {
    if (c.interval_s !== this.intervalS) return { kind: 'other_interval' };
    const s = this.state(c.pair);
    if (c.window_end_ms <= s.lastEndMs) return { kind: 'duplicate' };
    s.set.updateInto(s.out, c.open, c.high, c.low, c.close, c.volume, c.vwap);
    s.lastEndMs = c.window_end_ms;
    const features: Record<string, number | null> = {};
    for (let i = 0; i < this.names.length; i++) {
      const v = s.out[i] as number;
      features[this.names[i] as string] = Number.isFinite(v) ? v : null;
    }
    return { kind: 'row', row: { pair: c.pair, interval_s: c.interval_s, window_end_ms: c.window_end_ms, close: c.close, features } };
  }

  /** Forget a pair (e.g. after a gap too long to bridge). */
  reset(pair: string): void {
    this.pairs.delete(pair);
  }
}
