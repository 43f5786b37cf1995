//! Normalized average true range.

use crate::rsi::is_zero;
use crate::{Atr, Bar, Indicator, IndicatorError};

/// Normalized ATR (TA-Lib `NATR`): `(atr / close) * 100`, 0 when
/// `|close| < 1e-14` (TA-Lib's `TA_IS_ZERO`).
///
/// Warm-up and seeding as [`Atr`] (lookback `period`). Period 1 is
/// `true_range / close * 100`; TA-Lib's period-1 NATR returns the raw true
/// range (not normalised), so that one case differs on purpose.
#[derive(Debug, Clone)]
pub struct Natr {
    atr: Atr,
}

impl Natr {
    /// `period` in `1..=100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self { atr: Atr::new(period)? })
    }
}

impl Indicator for Natr {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        let atr = self.atr.update(bar)?;
        Some(if is_zero(bar.close) { 0.0 } else { (atr / bar.close) * 100.0 })
    }

    fn is_ready(&self) -> bool {
        self.atr.is_ready()
    }

    fn reset(&mut self) {
        self.atr.reset();
    }
}
