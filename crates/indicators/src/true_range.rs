//! True range.

use crate::{Bar, Indicator};

/// True range (TA-Lib `TRANGE`): `max(high - low, |prev_close - high|,
/// |prev_close - low|)`, compared in that order as TA-Lib does.
///
/// Warm-up: the first bar gives `None` (it has no previous close; TA-Lib
/// lookback 1).
#[derive(Debug, Clone, Default)]
pub struct TrueRange {
    prev_close: Option<f64>,
}

impl TrueRange {
    /// A fresh true range.
    pub fn new() -> Self {
        Self::default()
    }
}

/// TA-Lib's `TRUE_RANGE(high, low, prev_close)` macro.
#[inline(always)]
pub(crate) fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    let mut greatest = high - low;
    let up = (prev_close - high).abs();
    if up > greatest {
        greatest = up;
    }
    let down = (prev_close - low).abs();
    if down > greatest {
        greatest = down;
    }
    greatest
}

impl Indicator for TrueRange {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        let out = self.prev_close.map(|pc| true_range(bar.high, bar.low, pc));
        self.prev_close = Some(bar.close);
        out
    }

    fn is_ready(&self) -> bool {
        self.prev_close.is_some()
    }

    fn reset(&mut self) {
        self.prev_close = None;
    }
}
