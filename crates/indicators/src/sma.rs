//! Simple moving average.

use crate::ring::Ring;
use crate::{check_period, Indicator, IndicatorError};

/// Simple moving average over `period` values (TA-Lib `SMA`).
///
/// Warm-up: `period - 1` inputs give `None` (TA-Lib lookback `period - 1`).
/// Arithmetic as TA-Lib: a running sum, `sum += x; out = sum / period;
/// sum -= oldest`. Period 1 returns the input.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    window: Ring,
    sum: f64,
}

impl Sma {
    /// `period` in `1..=100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self { period, window: Ring::new(period), sum: 0.0 })
    }
}

impl Sma {
    /// The period.
    pub(crate) fn period(&self) -> usize {
        self.period
    }

    /// Batch kernel: what a fresh instance's `update` gives over `x`, written
    /// to `out` (same length; NaN for the warm-up), with the same operations
    /// in the same order (bit-identical; tests/batch_kernels.rs).
    /// Returns whether every value of `x` is finite (checked in the same
    /// loop; the output is meaningless when it is not).
    pub(crate) fn fill(&self, x: &[f64], out: &mut [f64]) -> bool {
        let p = self.period;
        let pf = p as f64;
        let warm = (p - 1).min(x.len());
        let mut sum = 0.0;
        // A zero while every value is finite, NaN after any other: two
        // instructions a row where a test of the bits takes five.
        let mut check = 0.0;
        for (o, &v) in out[..warm].iter_mut().zip(&x[..warm]) {
            check += v * 0.0;
            sum += v;
            *o = f64::NAN;
        }
        for ((o, &v), &old) in out[warm..].iter_mut().zip(&x[warm..]).zip(x) {
            check += v * 0.0;
            sum += v;
            *o = sum / pf;
            sum -= old;
        }
        check == 0.0
    }
}

impl Indicator for Sma {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        self.sum += x;
        self.window.push(x);
        if !self.window.is_full() {
            return None;
        }
        let out = self.sum / self.period as f64;
        // The oldest value leaves the sum after the output, as in TA-Lib.
        if let Some(oldest) = self.window.oldest() {
            self.sum -= oldest;
        }
        Some(out)
    }

    fn is_ready(&self) -> bool {
        self.window.is_full()
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = 0.0;
    }
}

/// A fresh [`Sma`]'s `update` for the batch kernels that feed an SMA one
/// value per row (the slow %K and %D of STOCH): the same sum, additions,
/// division and subtraction, with the window in a plain ring.
#[derive(Debug, Clone)]
pub(crate) struct RunningSma {
    window: Vec<f64>,
    slot: usize,
    filled: usize,
    sum: f64,
}

impl RunningSma {
    pub(crate) fn new(period: usize) -> Self {
        Self { window: vec![0.0; period.max(1)], slot: 0, filled: 0, sum: 0.0 }
    }

    /// What `Sma::update(x)` returns.
    #[inline(always)]
    pub(crate) fn next(&mut self, x: f64) -> Option<f64> {
        let p = self.window.len();
        self.sum += x;
        if let Some(s) = self.window.get_mut(self.slot) {
            *s = x;
        }
        self.slot = if self.slot + 1 == p { 0 } else { self.slot + 1 };
        if self.filled + 1 < p {
            self.filled += 1;
            return None;
        }
        let out = self.sum / p as f64;
        // The oldest value, in the slot written next, leaves after the output.
        self.sum -= self.window.get(self.slot).copied().unwrap_or(0.0);
        Some(out)
    }
}
