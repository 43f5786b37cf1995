//! Bollinger Bands.

use crate::ring::Ring;
use crate::rsi::TA_EPSILON;
use crate::{check_period, Indicator, IndicatorError};

/// One Bollinger Bands output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerOutput {
    /// Middle + k * stddev.
    pub upper: f64,
    /// The simple moving average.
    pub middle: f64,
    /// Middle - k * stddev.
    pub lower: f64,
    /// `(upper - lower) / middle` (not in TA-Lib); 0 when the bands collapse.
    pub width: f64,
    /// `%B = (price - lower) / (upper - lower)` (not in TA-Lib); 0.5 when the
    /// bands collapse (the price then equals the middle).
    pub percent_b: f64,
}

/// Bollinger Bands over an SMA (TA-Lib `BBANDS`, `matype` SMA).
///
/// Warm-up: `period - 1` inputs give `None`. Middle as [`crate::Sma`]. The
/// standard deviation is TA-Lib's *population* deviation from running sums:
/// `var = sum(x^2)/period - middle^2`, computed in TA-Lib's order; a variance
/// below 1e-14 (TA-Lib's `TA_IS_ZERO_OR_NEG`) gives a deviation of 0. The
/// threshold is absolute, so when deviations are under 1e-7 (prices below
/// about 1e-5) the bands collapse to the middle, as in TA-Lib; rescale such
/// prices before feeding them. Like TA-Lib, flat windows at high price levels
/// may show a tiny non-zero deviation from rounding in the sums.
#[derive(Debug, Clone)]
pub struct BollingerBands {
    period: usize,
    up: f64,
    down: f64,
    window: Ring,
    sum: f64,
    sum_sq: f64,
}

impl BollingerBands {
    /// `period` in `2..=100_000`; multipliers finite and >= 0 (TA-Lib accepts
    /// any real; a negative multiplier would swap the bands).
    pub fn new(period: usize, dev_up: f64, dev_down: f64) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        for (name, v) in [("dev_up", dev_up), ("dev_down", dev_down)] {
            if !v.is_finite() || v < 0.0 {
                return Err(IndicatorError::InvalidParameter {
                    name,
                    value: v,
                    reason: "must be a finite number >= 0",
                    min: 0.0,
                });
            }
        }
        Ok(Self { period, up: dev_up, down: dev_down, window: Ring::new(period), sum: 0.0, sum_sq: 0.0 })
    }
}

impl Indicator for BollingerBands {
    type Input = f64;
    type Output = BollingerOutput;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<BollingerOutput> {
        let n = self.period as f64;
        self.sum += x;
        self.sum_sq += x * x;
        self.window.push(x);
        if !self.window.is_full() {
            return None;
        }
        let oldest = self.window.oldest().unwrap_or(0.0);
        let middle = self.sum / n;
        self.sum -= oldest;
        let mut var = self.sum_sq / n;
        self.sum_sq -= oldest * oldest;
        var -= middle * middle;
        let stddev = if var < TA_EPSILON { 0.0 } else { var.sqrt() };
        let upper = middle + stddev * self.up;
        let lower = middle - stddev * self.down;
        let span = upper - lower;
        let (width, percent_b) =
            if span == 0.0 { (0.0, 0.5) } else { (span / middle, (x - lower) / span) };
        Some(BollingerOutput { upper, middle, lower, width, percent_b })
    }

    fn is_ready(&self) -> bool {
        self.window.is_full()
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = 0.0;
        self.sum_sq = 0.0;
    }
}
