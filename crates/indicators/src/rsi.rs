//! Relative strength index.

use crate::{check_period, Indicator, IndicatorError};

/// Relative strength index with Wilder smoothing (TA-Lib `RSI`).
///
/// Warm-up: `period` inputs give `None` (TA-Lib lookback `period`, unstable
/// period 0). Seeding: average gain and loss are the plain means of the first
/// `period` price changes; then Wilder smoothing
/// `avg = (avg * (period - 1) + change) / period`. Output
/// `100 * gain / (gain + loss)`; TA-Lib returns 0 when `|gain + loss| < 1e-14`
/// (its `TA_IS_ZERO` since 0.6; so constant prices give 0, not 50) and so do we.
/// Period 1 is rejected, as TA-Lib does.
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    count: usize,
    prev: f64,
    gain: f64,
    loss: f64,
}

impl Rsi {
    /// `period` in `2..=100_000` (TA-Lib's range).
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        Ok(Self { period, count: 0, prev: 0.0, gain: 0.0, loss: 0.0 })
    }

    fn value(&self) -> f64 {
        value(self.gain, self.loss)
    }
}

/// TA-Lib's `TA_EPSILON` (C library 0.6; it was 1e-8 in 0.4).
pub(crate) const TA_EPSILON: f64 = 0.000_000_000_000_01;

/// TA-Lib's `TA_IS_ZERO`: `|v| < TA_EPSILON`, an absolute threshold.
#[inline]
pub(crate) fn is_zero(v: f64) -> bool {
    -TA_EPSILON < v && v < TA_EPSILON
}

/// TA-Lib's `if change < 0 { loss -= change } else { gain += change }`
/// without the branch (which a price series mispredicts half the time): the
/// other sum gets its exact identity (`x + -0.0 == x`, `x - 0.0 == x` for
/// every x, signed zeros included), so the bits are the same.
#[inline(always)]
fn accumulate(gain: &mut f64, loss: &mut f64, change: f64) {
    let falling = change < 0.0;
    *gain += if falling { -0.0 } else { change };
    *loss -= if falling { change } else { 0.0 };
}

impl Rsi {
    /// Batch kernel: a fresh instance's `update` over `x` into `out` (same
    /// length; NaN for the warm-up), same arithmetic (tests/batch_kernels.rs).
    /// Returns whether every value of `x` is finite (checked in the same
    /// loop; the output is meaningless when it is not).
    pub(crate) fn fill(&self, x: &[f64], out: &mut [f64]) -> bool {
        let p = self.period;
        let n = p as f64;
        if x.len() <= p {
            out.iter_mut().for_each(|o| *o = f64::NAN);
            return x.iter().all(|v| v.is_finite());
        }
        let (mut gain, mut loss) = (0.0, 0.0);
        let mut ok = x[..=p].iter().fold(true, |ok, v| ok & v.is_finite());
        out[0] = f64::NAN;
        for i in 1..p {
            accumulate(&mut gain, &mut loss, x[i] - x[i - 1]);
            out[i] = f64::NAN;
        }
        accumulate(&mut gain, &mut loss, x[p] - x[p - 1]);
        loss /= n;
        gain /= n;
        out[p] = value(gain, loss);
        let m = n - 1.0;
        // [gain, loss] side by side: the same operations on both, so the
        // compiler keeps them in one register (no shuffle on the chain).
        let mut sums = [gain, loss];
        for ((o, &v), &prev) in out[p + 1..].iter_mut().zip(&x[p + 1..]).zip(&x[p..]) {
            ok &= v.is_finite();
            let change = v - prev;
            // accumulate's two arms as products (computed off the sums'
            // chains; a select there becomes a blend on the chain): the
            // gain's is `change` or, for a fall, `change * 0.0` = -0.0; the
            // loss's is `change` or, otherwise, a zero (+0.0, or -0.0 for a
            // -0.0 change), which subtracted leaves the loss as it is since
            // the loss is never -0.0 (it starts at +0.0; products and
            // quotients of it by positive numbers keep its sign, and an
            // addition gives -0.0 only from -0.0 and -0.0). `loss - step` is
            // `loss + (-step)` in IEEE 754.
            let falling = change < 0.0;
            let steps = [change * if falling { 0.0 } else { 1.0 }, -(change * if falling { 1.0 } else { 0.0 })];
            for (sum, step) in sums.iter_mut().zip(steps) {
                *sum = (*sum * m + step) / n;
            }
            *o = value(sums[0], sums[1]);
        }
        ok
    }
}

/// The RSI from the smoothed gain and loss (0 when both are about 0).
#[inline(always)]
fn value(gain: f64, loss: f64) -> f64 {
    let total = gain + loss;
    if is_zero(total) {
        0.0
    } else {
        100.0 * (gain / total)
    }
}

impl Indicator for Rsi {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        let n = self.period as f64;
        self.count += 1;
        if self.count == 1 {
            self.prev = x;
            return None;
        }
        let change = x - self.prev;
        self.prev = x;
        if self.count <= self.period {
            accumulate(&mut self.gain, &mut self.loss, change);
            return None;
        }
        if self.count == self.period + 1 {
            accumulate(&mut self.gain, &mut self.loss, change);
            self.loss /= n;
            self.gain /= n;
            return Some(self.value());
        }
        self.count = self.period + 2; // saturate: no overflow on endless streams
        self.loss *= n - 1.0;
        self.gain *= n - 1.0;
        accumulate(&mut self.gain, &mut self.loss, change);
        self.loss /= n;
        self.gain /= n;
        Some(self.value())
    }

    fn is_ready(&self) -> bool {
        self.count > self.period
    }

    fn reset(&mut self) {
        self.count = 0;
        self.prev = 0.0;
        self.gain = 0.0;
        self.loss = 0.0;
    }
}
