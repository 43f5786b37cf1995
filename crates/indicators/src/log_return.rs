//! Logarithmic return.

use crate::ring::Ring;
use crate::{check_period, Indicator, IndicatorError};

/// Log return over `period` bars: `ln(x / x[-period])` (not in TA-Lib).
///
/// Warm-up: `period` inputs give `None`. Non-positive prices give NaN or
/// ±inf (the logarithm's own result); prices are positive in practice.
#[derive(Debug, Clone)]
pub struct LogReturn {
    window: Ring,
}

impl LogReturn {
    /// `period` in `1..=100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self { window: Ring::new(period + 1) })
    }
}

impl Indicator for LogReturn {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        if !self.window.is_full() {
            return None;
        }
        let past = self.window.oldest().unwrap_or(f64::NAN);
        Some((x / past).ln())
    }

    fn is_ready(&self) -> bool {
        self.window.is_full()
    }

    fn reset(&mut self) {
        self.window.clear();
    }
}
