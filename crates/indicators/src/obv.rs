//! On-balance volume.

use crate::{Bar, Indicator};

/// On-balance volume (TA-Lib `OBV`).
///
/// No warm-up (lookback 0): the first output is the first bar's volume; then
/// volume is added on an up close, subtracted on a down close, ignored on an
/// unchanged close.
#[derive(Debug, Clone, Default)]
pub struct Obv {
    prev_close: Option<f64>,
    value: f64,
}

impl Obv {
    /// A fresh OBV.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Obv {
    /// Batch kernel: a fresh instance's `update` over the closes and volumes
    /// into `out` (same length), same arithmetic (tests/batch_kernels.rs),
    /// without a branch on the close's direction (a coin flip on real
    /// prices): `value - v` is `value + (-v)` in IEEE 754, so every row adds
    /// `v` times 1.0, -1.0 or 0.0. The zero's sign follows `v`'s, and adding
    /// a zero of either sign leaves every value as it is except -0.0. The
    /// value can be -0.0 only in a leading run (from a -0.0 first volume,
    /// every later step a -0.0): an addition gives -0.0 only from -0.0 and
    /// -0.0 (an exact cancellation gives +0.0, and gradual underflow makes
    /// every nonzero sum of two doubles nonzero). That run, if any, goes
    /// through streaming's branches.
    ///
    /// Returns whether every close and volume is finite, checked in the loop
    /// by a sum of `c * 0.0 * v`: a zero for finite values, NaN from any other.
    pub(crate) fn fill(close: &[f64], volume: &[f64], out: &mut [f64]) -> bool {
        let n = close.len().min(volume.len()).min(out.len());
        if n == 0 {
            return true;
        }
        // Sliced to n: the compiler sees every index below is in bounds.
        let (close, volume, out) = (&close[..n], &volume[..n], &mut out[..n]);
        let mut value = volume[0];
        let mut prev = close[0];
        let mut check = prev * 0.0 * value;
        out[0] = value;
        let mut i = 1;
        while i < n && value.to_bits() == (-0.0f64).to_bits() {
            let (c, v) = (close[i], volume[i]);
            check += c * 0.0 * v;
            if c > prev {
                value += v;
            } else if c < prev {
                value -= v;
            }
            prev = c;
            out[i] = value;
            i += 1;
        }
        for ((o, &c), &v) in out[i..].iter_mut().zip(&close[i..]).zip(&volume[i..]) {
            check += c * 0.0 * v;
            value += v * direction(c, prev);
            prev = c;
            *o = value;
        }
        check == 0.0
    }
}

/// 1.0 when the close rose, -1.0 when it fell, 0.0 when unchanged.
#[inline(always)]
fn direction(close: f64, prev: f64) -> f64 {
    f64::from(u8::from(close > prev)) - f64::from(u8::from(close < prev))
}

impl Indicator for Obv {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        match self.prev_close {
            None => self.value = bar.volume,
            Some(prev) => {
                if bar.close > prev {
                    self.value += bar.volume;
                } else if bar.close < prev {
                    self.value -= bar.volume;
                }
            }
        }
        self.prev_close = Some(bar.close);
        Some(self.value)
    }

    fn is_ready(&self) -> bool {
        self.prev_close.is_some()
    }

    fn reset(&mut self) {
        self.prev_close = None;
        self.value = 0.0;
    }
}
