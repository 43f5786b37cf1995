//! Stochastic RSI.

use crate::rolling_extreme::RollingExtreme;
use crate::stoch::{raw_k, StochasticOutput};
use crate::{check_period, Indicator, IndicatorError, Rsi, Sma};

/// Stochastic RSI (TA-Lib `STOCHRSI`, `fastd_matype` SMA): TA-Lib's fast
/// stochastic (`STOCHF`) applied to the RSI series (used as high, low and
/// close).
///
/// `k` is the raw %K of the RSI over `fast_k` values (TA-Lib's `fastk`), `d`
/// its SMA over `fast_d` (`fastd`). Warm-up: `period + fast_k + fast_d - 2`
/// inputs give `None` (TA-Lib lookback); both outputs start together. RSI
/// seeding as [`Rsi`].
#[derive(Debug, Clone)]
pub struct StochasticRsi {
    rsi: Rsi,
    highest: RollingExtreme<true>,
    lowest: RollingExtreme<false>,
    fast_k: usize,
    count: usize,
    fast_d: Sma,
}

impl StochasticRsi {
    /// `period` in `2..=100_000`, `fast_k`, `fast_d` in `1..=100_000`.
    pub fn new(period: usize, fast_k: usize, fast_d: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        let fast_k = check_period("fast_k", fast_k, 1)?;
        let fast_d = check_period("fast_d", fast_d, 1)?;
        Ok(Self {
            rsi: Rsi::new(period)?,
            highest: RollingExtreme::new(fast_k),
            lowest: RollingExtreme::new(fast_k),
            fast_k,
            count: 0,
            fast_d: Sma::new(fast_d)?,
        })
    }
}

impl Indicator for StochasticRsi {
    type Input = f64;
    type Output = StochasticOutput;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<StochasticOutput> {
        let r = self.rsi.update(x)?;
        let hi = self.highest.push(r);
        let lo = self.lowest.push(r);
        if self.count < self.fast_k {
            self.count += 1;
            if self.count < self.fast_k {
                return None;
            }
        }
        let k = raw_k(r, hi, lo);
        let d = self.fast_d.update(k)?;
        Some(StochasticOutput { k, d })
    }

    fn is_ready(&self) -> bool {
        self.fast_d.is_ready()
    }

    fn reset(&mut self) {
        self.rsi.reset();
        self.highest.reset();
        self.lowest.reset();
        self.count = 0;
        self.fast_d.reset();
    }
}
