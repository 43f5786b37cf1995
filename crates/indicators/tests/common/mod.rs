//! Shared helpers for the integration tests.
#![allow(dead_code)] // each test binary uses a different subset
#![allow(missing_docs)] // test helpers

use tickcast_indicators::Bar;

/// Every family of the feature grammar, several parameters each.
pub const ALL_FEATURES: &[&str] = &[
    "sma_1", "sma_20", "ema_1", "ema_12", "wma_1", "wma_10", "rsi_2", "rsi_14", "macd_12_26_9_line",
    "macd_12_26_9_signal", "macd_12_26_9_hist", "macd_2_3_1_hist", "bb_20_2_upper", "bb_20_2_middle",
    "bb_20_2_lower", "bb_20_2_width", "bb_20_2_pctb", "bb_5_1.5_width", "atr_1", "atr_14", "natr_1",
    "natr_14", "obv", "stoch_14_3_3_k", "stoch_14_3_3_d", "stoch_1_1_1_k", "stochrsi_14_5_3_k",
    "stochrsi_14_5_3_d", "adx_14", "plus_di_1", "plus_di_14", "minus_di_14", "cci_20", "mfi_14", "roc_1",
    "roc_10", "willr_14", "vwap_20", "log_return_1", "log_return_5", "realized_vol_30",
];

/// Deterministic xorshift64* generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seeded random-walk series of bars around `level`.
pub fn random_bars(n: usize, level: f64, seed: u64) -> Vec<Bar> {
    let mut rng = Rng::new(seed);
    let mut close = level;
    (0..n)
        .map(|_| {
            let open = close;
            close = open * (1.0 + (rng.next_f64() - 0.5) * 0.004);
            let high = open.max(close) * (1.0 + rng.next_f64() * 0.001);
            let low = open.min(close) * (1.0 - rng.next_f64() * 0.001);
            let volume = if rng.next_f64() < 0.1 { 0.0 } else { rng.next_f64() * 10.0 };
            Bar { open, high, low, close, volume, vwap: (high + low) / 2.0 }
        })
        .collect()
}

/// Bit-level equality that treats every NaN as equal.
pub fn same_bits(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}
