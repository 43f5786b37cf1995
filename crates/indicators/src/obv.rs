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
    /// into `out` (same length), same arithmetic (tests/batch_kernels.rs):
    /// `value - v` is `value + (-v)` in IEEE 754, and adding -0.0 leaves any
    /// value as it is, so the branches become one addition.
    /// Returns whether every close and volume is finite (checked in the loop).
    pub(crate) fn fill(close: &[f64], volume: &[f64], out: &mut [f64]) -> bool {
        let (Some(&c0), Some(&v0)) = (close.first(), volume.first()) else { return true };
        let mut value = v0;
        let mut prev = c0;
        let mut ok = c0.is_finite() & v0.is_finite();
        out[0] = value;
        for ((o, &c), &v) in out[1..].iter_mut().zip(&close[1..]).zip(&volume[1..]) {
            ok &= c.is_finite() & v.is_finite();
            let step = if c > prev {
                v
            } else if c < prev {
                -v
            } else {
                -0.0
            };
            value += step;
            prev = c;
            *o = value;
        }
        ok
    }
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
