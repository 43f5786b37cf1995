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
