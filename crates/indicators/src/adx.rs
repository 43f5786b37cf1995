//! Average directional index.

use crate::directional::SmoothedMovement;
use crate::rsi::is_zero;
use crate::{check_period, Bar, Indicator, IndicatorError};

/// Average directional index (TA-Lib `ADX`).
///
/// Warm-up: `2 * period - 1` bars give `None` (TA-Lib lookback). Seeding:
/// +DM/-DM/TR as [`crate::DirectionalIndex`]; the first ADX is the plain
/// mean of the first `period` DX values (a DX is skipped, counting as 0,
/// when TR or +DI + -DI is ~0); then Wilder smoothing
/// `adx = (adx * (period - 1) + dx) / period`, where a bar with an undefined
/// DX leaves ADX unchanged (TA-Lib's behaviour). No rounding (TA-Lib's
/// `round_pos` is the identity here).
#[derive(Debug, Clone)]
pub struct Adx {
    period: usize,
    state: SmoothedMovement,
    dx_count: usize,
    value: f64,
}

impl Adx {
    /// `period` in `2..=100_000` (TA-Lib's range).
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        Ok(Self { period, state: SmoothedMovement::new(period), dx_count: 0, value: 0.0 })
    }

    fn dx(&self) -> Option<f64> {
        let (plus, minus) = self.state.di()?;
        let sum = minus + plus;
        if is_zero(sum) {
            return None;
        }
        Some(100.0 * ((minus - plus).abs() / sum))
    }
}

impl Indicator for Adx {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        if !self.state.update(&bar) {
            return None;
        }
        let n = self.period as f64;
        if self.dx_count < self.period {
            if let Some(dx) = self.dx() {
                self.value += dx;
            }
            self.dx_count += 1;
            if self.dx_count < self.period {
                return None;
            }
            self.value /= n;
            return Some(self.value);
        }
        if let Some(dx) = self.dx() {
            self.value = ((self.value * (n - 1.0)) + dx) / n;
        }
        Some(self.value)
    }

    fn is_ready(&self) -> bool {
        self.dx_count >= self.period
    }

    fn reset(&mut self) {
        self.state.reset();
        self.dx_count = 0;
        self.value = 0.0;
    }
}
