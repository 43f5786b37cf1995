//! Weighted moving average.

use crate::ring::Ring;
use crate::{check_period, Indicator, IndicatorError};

/// Linearly weighted moving average (TA-Lib `WMA`): weights 1..=period, the
/// newest value weighs `period`.
///
/// Warm-up: `period - 1` inputs give `None`. Arithmetic as TA-Lib: O(1) with a
/// running weighted sum and a running plain sum (the trailing value leaves the
/// plain sum one step late, exactly as TA-Lib does). Period 1 returns the input.
#[derive(Debug, Clone)]
pub struct Wma {
    period: usize,
    divider: f64,
    window: Ring,
    period_sum: f64,
    period_sub: f64,
    trailing: f64,
}

impl Wma {
    /// `period` in `1..=100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        let divider = ((period * (period + 1)) >> 1) as f64;
        Ok(Self { period, divider, window: Ring::new(period), period_sum: 0.0, period_sub: 0.0, trailing: 0.0 })
    }
}

impl Wma {
    /// Batch kernel: a fresh instance's `update` over `x` into `out` (same
    /// length; NaN for the warm-up), same arithmetic (tests/batch_kernels.rs).
    /// Returns whether every value of `x` is finite (checked in the same
    /// loop; the output is meaningless when it is not).
    pub(crate) fn fill(&self, x: &[f64], out: &mut [f64]) -> bool {
        let p = self.period;
        if p == 1 {
            out.copy_from_slice(x);
            return x.iter().fold(true, |ok, v| ok & v.is_finite());
        }
        let (pf, divider) = (p as f64, self.divider);
        let warm = (p - 1).min(x.len());
        let (mut period_sum, mut period_sub, mut trailing) = (0.0, 0.0, 0.0);
        let mut ok = true;
        for (i, (o, &v)) in out[..warm].iter_mut().zip(&x[..warm]).enumerate() {
            ok &= v.is_finite();
            period_sub += v;
            period_sum += v * (i + 1) as f64;
            *o = f64::NAN;
        }
        for ((o, &v), &oldest) in out[warm..].iter_mut().zip(&x[warm..]).zip(x) {
            ok &= v.is_finite();
            period_sub += v;
            period_sub -= trailing;
            period_sum += v * pf;
            trailing = oldest;
            *o = period_sum / divider;
            period_sum -= period_sub;
        }
        ok
    }
}

impl Indicator for Wma {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        if self.period == 1 {
            self.window.push(x);
            return Some(x);
        }
        let seen = self.window.len();
        self.window.push(x);
        if seen + 1 < self.period {
            self.period_sub += x;
            self.period_sum += x * (seen + 1) as f64;
            return None;
        }
        self.period_sub += x;
        self.period_sub -= self.trailing;
        self.period_sum += x * self.period as f64;
        self.trailing = self.window.oldest().unwrap_or(0.0);
        let out = self.period_sum / self.divider;
        self.period_sum -= self.period_sub;
        Some(out)
    }

    fn is_ready(&self) -> bool {
        self.window.is_full()
    }

    fn reset(&mut self) {
        self.window.clear();
        self.period_sum = 0.0;
        self.period_sub = 0.0;
        self.trailing = 0.0;
    }
}
