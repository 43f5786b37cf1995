//! Exponential moving average.

use crate::{check_period, Indicator, IndicatorError};

/// Exponential moving average (TA-Lib `EMA`), `k = 2 / (period + 1)`.
///
/// Seeding (TA-Lib default compatibility): the first output is the simple
/// average of the first `period` inputs, summed in order; then
/// `ema = (x - ema) * k + ema`. Warm-up: `period - 1` inputs give `None`.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    k: f64,
    count: usize,
    seed_sum: f64,
    value: f64,
}

impl Ema {
    /// `period` in `1..=100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self { period, k: 2.0 / ((period + 1) as f64), count: 0, seed_sum: 0.0, value: 0.0 })
    }

    /// Starts from an explicit seed (used by MACD, whose fast EMA TA-Lib seeds
    /// late); the next `update` continues the recursion.
    pub(crate) fn seed(&mut self, value: f64) {
        self.count = self.period;
        self.value = value;
    }
}

impl Ema {
    /// Batch kernel: a fresh instance's `update` over `x` into `out` (same
    /// length; NaN for the warm-up), same arithmetic (tests/batch_kernels.rs).
    /// Returns whether every value of `x` is finite (checked in the same
    /// loop; the output is meaningless when it is not).
    pub(crate) fn fill(&self, x: &[f64], out: &mut [f64]) -> bool {
        let p = self.period;
        if x.len() < p {
            out.iter_mut().for_each(|o| *o = f64::NAN);
            return x.iter().all(|v| v.is_finite());
        }
        let mut seed_sum = 0.0;
        let mut ok = x[p - 1].is_finite();
        for (o, &v) in out[..p - 1].iter_mut().zip(&x[..p - 1]) {
            ok &= v.is_finite();
            seed_sum += v;
            *o = f64::NAN;
        }
        seed_sum += x[p - 1];
        let mut value = seed_sum / p as f64;
        out[p - 1] = value;
        let k = self.k;
        for (o, &v) in out[p..].iter_mut().zip(&x[p..]) {
            ok &= v.is_finite();
            value = (v - value) * k + value;
            *o = value;
        }
        ok
    }
}

impl Indicator for Ema {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        if self.count >= self.period {
            self.value = (x - self.value) * self.k + self.value;
            return Some(self.value);
        }
        self.seed_sum += x;
        self.count += 1;
        if self.count < self.period {
            return None;
        }
        self.value = self.seed_sum / self.period as f64;
        Some(self.value)
    }

    fn is_ready(&self) -> bool {
        self.count >= self.period
    }

    fn reset(&mut self) {
        self.count = 0;
        self.seed_sum = 0.0;
        self.value = 0.0;
    }
}
