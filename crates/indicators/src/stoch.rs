//! Stochastic oscillator.

use crate::rolling_extreme::RollingExtreme;
use crate::{check_period, Bar, Indicator, IndicatorError, Sma};

/// One stochastic output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochasticOutput {
    /// Slow %K: SMA of the raw %K over `slow_k` values.
    pub k: f64,
    /// Slow %D: SMA of slow %K over `slow_d` values.
    pub d: f64,
}

/// Raw %K as TA-Lib computes it: `(close - lowest) / ((highest - lowest) /
/// 100)`, 0 when the range is 0.
#[inline]
pub(crate) fn raw_k(close: f64, highest: f64, lowest: f64) -> f64 {
    let diff = (highest - lowest) / 100.0;
    if diff != 0.0 {
        (close - lowest) / diff
    } else {
        0.0
    }
}

/// Slow stochastic (TA-Lib `STOCH` with `slowk_matype = slowd_matype = SMA`).
///
/// Raw %K over `fast_k` bars, then SMA slowing over `slow_k` (this is %K)
/// and an SMA over `slow_d` of it (%D). Warm-up: `fast_k + slow_k + slow_d - 3`
/// bars give `None` (TA-Lib lookback); both outputs start together.
#[derive(Debug, Clone)]
pub struct Stochastic {
    highest: RollingExtreme<true>,
    lowest: RollingExtreme<false>,
    fast_k: usize,
    count: usize,
    slow_k: Sma,
    slow_d: Sma,
}

impl Stochastic {
    /// `fast_k`, `slow_k`, `slow_d` in `1..=100_000`.
    pub fn new(fast_k: usize, slow_k: usize, slow_d: usize) -> Result<Self, IndicatorError> {
        let fast_k = check_period("fast_k", fast_k, 1)?;
        let slow_k = check_period("slow_k", slow_k, 1)?;
        let slow_d = check_period("slow_d", slow_d, 1)?;
        Ok(Self {
            highest: RollingExtreme::new(fast_k),
            lowest: RollingExtreme::new(fast_k),
            fast_k,
            count: 0,
            slow_k: Sma::new(slow_k)?,
            slow_d: Sma::new(slow_d)?,
        })
    }
}

impl Indicator for Stochastic {
    type Input = Bar;
    type Output = StochasticOutput;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<StochasticOutput> {
        let hi = self.highest.push(bar.high);
        let lo = self.lowest.push(bar.low);
        if self.count < self.fast_k {
            self.count += 1;
            if self.count < self.fast_k {
                return None;
            }
        }
        let k = self.slow_k.update(raw_k(bar.close, hi, lo))?;
        let d = self.slow_d.update(k)?;
        Some(StochasticOutput { k, d })
    }

    fn is_ready(&self) -> bool {
        self.slow_d.is_ready()
    }

    fn reset(&mut self) {
        self.highest.reset();
        self.lowest.reset();
        self.count = 0;
        self.slow_k.reset();
        self.slow_d.reset();
    }
}
