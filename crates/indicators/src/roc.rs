//! Rate of change.

use crate::ring::Ring;
use crate::{check_period, Indicator, IndicatorError};

/// Rate of change in percent (TA-Lib `ROC`): `((x / x[-period]) - 1) * 100`,
/// 0 when `x[-period]` is 0.
///
/// Warm-up: `period` inputs give `None` (TA-Lib lookback `period`).
#[derive(Debug, Clone)]
pub struct Roc {
    window: Ring,
}

impl Roc {
    /// `period` in `1..=100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self { window: Ring::new(period + 1) })
    }
}

impl Roc {
    /// Batch kernel: a fresh instance's `update` over `x` into `out` (same
    /// length; NaN for the warm-up), same arithmetic (tests/batch_kernels.rs).
    /// Returns whether every value of `x` is finite (checked in the same
    /// loop; the output is meaningless when it is not).
    pub(crate) fn fill(&self, x: &[f64], out: &mut [f64]) -> bool {
        let p = (self.window.capacity() - 1).min(x.len());
        out[..p].iter_mut().for_each(|o| *o = f64::NAN);
        let mut ok = x[..p].iter().fold(true, |ok, v| ok & v.is_finite());
        for ((o, &v), &past) in out[p..].iter_mut().zip(&x[p..]).zip(x) {
            ok &= v.is_finite();
            *o = if past != 0.0 { ((v / past) - 1.0) * 100.0 } else { 0.0 };
        }
        ok
    }
}

impl Indicator for Roc {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        if !self.window.is_full() {
            return None;
        }
        let past = self.window.oldest().unwrap_or(0.0);
        Some(if past != 0.0 { ((x / past) - 1.0) * 100.0 } else { 0.0 })
    }

    fn is_ready(&self) -> bool {
        self.window.is_full()
    }

    fn reset(&mut self) {
        self.window.clear();
    }
}
