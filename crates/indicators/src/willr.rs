//! Williams %R.

use crate::rolling_extreme::RollingExtreme;
use crate::{check_period, Bar, Indicator, IndicatorError};

/// Williams %R (TA-Lib `WILLR`): `(highest - close) / ((highest - lowest) /
/// -100)`, in [-100, 0]; 0 when the range is 0 (TA-Lib's convention).
///
/// Warm-up: `period - 1` bars give `None` (TA-Lib lookback `period - 1`).
#[derive(Debug, Clone)]
pub struct WilliamsR {
    highest: RollingExtreme<true>,
    lowest: RollingExtreme<false>,
    period: usize,
    count: usize,
}

impl WilliamsR {
    /// `period` in `2..=100_000` (TA-Lib's range).
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        Ok(Self {
            highest: RollingExtreme::new(period),
            lowest: RollingExtreme::new(period),
            period,
            count: 0,
        })
    }
}

impl Indicator for WilliamsR {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        let hi = self.highest.push(bar.high);
        let lo = self.lowest.push(bar.low);
        if self.count < self.period {
            self.count += 1;
            if self.count < self.period {
                return None;
            }
        }
        let diff = (hi - lo) / -100.0;
        Some(if diff != 0.0 { (hi - bar.close) / diff } else { 0.0 })
    }

    fn is_ready(&self) -> bool {
        self.count >= self.period
    }

    fn reset(&mut self) {
        self.highest.reset();
        self.lowest.reset();
        self.count = 0;
    }
}
