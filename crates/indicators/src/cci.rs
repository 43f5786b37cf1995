//! Commodity channel index.

use crate::ring::Ring;
use crate::{check_period, Bar, Indicator, IndicatorError};

/// Commodity channel index (TA-Lib `CCI`):
/// `(tp - mean(tp)) / (0.015 * mean(|tp - mean(tp)|))` over `period` typical
/// prices `tp = (high + low + close) / 3`; 0 when either factor is 0.
///
/// Warm-up: `period - 1` bars give `None` (TA-Lib lookback). The mean
/// absolute deviation is around the *current* mean, so it cannot be updated
/// in O(1): each update is O(period) over the ring (memory stays `period`
/// slots). The ring is summed in slot order, exactly as TA-Lib's circular
/// buffer, so results are bit-identical.
#[derive(Debug, Clone)]
pub struct Cci {
    period: usize,
    window: Ring,
}

impl Cci {
    /// `period` in `2..=100_000` (TA-Lib's range).
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        Ok(Self { period, window: Ring::new(period) })
    }
}

impl Indicator for Cci {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        let last = bar.typical();
        self.window.push(last);
        if !self.window.is_full() {
            return None;
        }
        let n = self.period as f64;
        let slots = self.window.slots();
        let mut average = 0.0;
        for &v in slots {
            average += v;
        }
        average /= n;
        let mut deviation = 0.0;
        for &v in slots {
            deviation += (v - average).abs();
        }
        let centred = last - average;
        Some(if centred != 0.0 && deviation != 0.0 { centred / (0.015 * (deviation / n)) } else { 0.0 })
    }

    fn is_ready(&self) -> bool {
        self.window.is_full()
    }

    fn reset(&mut self) {
        self.window.clear();
    }
}
