//! Average true range.

use crate::{check_period, Bar, Indicator, IndicatorError, TrueRange};

/// Average true range with Wilder smoothing (TA-Lib `ATR`).
///
/// Warm-up: `period` bars give `None` (TA-Lib lookback `period`: one bar for
/// the first true range, then `period` true ranges). Seeding: the plain mean
/// of the first `period` true ranges; then `atr = (atr * (period - 1) + tr) /
/// period`. Period 1 is the true range itself.
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    tr: TrueRange,
    count: usize,
    value: f64,
}

impl Atr {
    /// `period` in `1..=100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self { period, tr: TrueRange::new(), count: 0, value: 0.0 })
    }
}

impl Indicator for Atr {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        let tr = self.tr.update(bar)?;
        if self.period == 1 {
            return Some(tr);
        }
        let n = self.period as f64;
        if self.count < self.period {
            self.value += tr;
            self.count += 1;
            if self.count < self.period {
                return None;
            }
            self.value /= n;
            return Some(self.value);
        }
        self.value *= n - 1.0;
        self.value += tr;
        self.value /= n;
        Some(self.value)
    }

    fn is_ready(&self) -> bool {
        if self.period == 1 {
            self.tr.is_ready()
        } else {
            self.count >= self.period
        }
    }

    fn reset(&mut self) {
        self.tr.reset();
        self.count = 0;
        self.value = 0.0;
    }
}
