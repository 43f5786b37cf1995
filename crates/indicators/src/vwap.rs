//! Rolling volume-weighted average price.

use crate::ring::Ring;
use crate::{check_period, Bar, Indicator, IndicatorError};

/// Rolling VWAP over the last `period` bars (not in TA-Lib):
/// `sum(price * volume) / sum(volume)`, where a bar's price is its own `vwap`
/// when known (finite and > 0) and its typical price `(h + l + c) / 3`
/// otherwise.
///
/// Warm-up: `period - 1` bars give `None`. O(1) with running sums. When the
/// window holds no volume at all (e.g. filled candles with no trades) the
/// result is the latest bar's price; the sums restart from exact zero then,
/// so rounding residue never divides by ~0.
#[derive(Debug, Clone)]
pub struct RollingVwap {
    pv: Ring,
    vol: Ring,
    sum_pv: f64,
    sum_vol: f64,
    with_volume: usize,
}

impl RollingVwap {
    /// `period` in `1..=100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self { pv: Ring::new(period), vol: Ring::new(period), sum_pv: 0.0, sum_vol: 0.0, with_volume: 0 })
    }
}

/// The price a bar contributes to the rolling VWAP.
#[inline]
pub(crate) fn bar_price(bar: &Bar) -> f64 {
    if bar.vwap.is_finite() && bar.vwap > 0.0 {
        bar.vwap
    } else {
        bar.typical()
    }
}

impl Indicator for RollingVwap {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        let price = bar_price(&bar);
        let pv = price * bar.volume;
        if let Some(old_pv) = self.pv.push(pv) {
            self.sum_pv -= old_pv;
        }
        if let Some(old_vol) = self.vol.push(bar.volume) {
            self.sum_vol -= old_vol;
            if old_vol != 0.0 {
                self.with_volume -= 1;
            }
        }
        self.sum_pv += pv;
        self.sum_vol += bar.volume;
        if bar.volume != 0.0 {
            self.with_volume += 1;
        }
        if self.with_volume == 0 {
            self.sum_pv = 0.0;
            self.sum_vol = 0.0;
        }
        if !self.vol.is_full() {
            return None;
        }
        Some(if self.with_volume == 0 { price } else { self.sum_pv / self.sum_vol })
    }

    fn is_ready(&self) -> bool {
        self.vol.is_full()
    }

    fn reset(&mut self) {
        self.pv.clear();
        self.vol.clear();
        self.sum_pv = 0.0;
        self.sum_vol = 0.0;
        self.with_volume = 0;
    }
}
