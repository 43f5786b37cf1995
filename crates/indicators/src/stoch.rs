//! Stochastic oscillator.

use crate::rolling_extreme::{BlockExtreme, RollingExtreme};
use crate::sma::RunningSma;
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

impl Stochastic {
    /// Batch kernel: a fresh instance's `update` over the columns, its
    /// outputs `[k, d]` spread into `out`, a row-major `rows x picks.len()`
    /// matrix whose column `c` gets output `picks[c]` (NaN for the warm-up),
    /// same arithmetic (tests/batch_kernels.rs): the highest high and lowest
    /// low from [`BlockExtreme`] (the streaming [`RollingExtreme`]'s blocks
    /// and comparisons), the slowings from [`RunningSma`], all in one loop.
    ///
    /// Returns false when some `high + low + close` is not finite, which
    /// every non-finite high, low or close makes it (a finite overflow too:
    /// the caller then checks the columns exactly).
    pub(crate) fn fill(&self, high: &[f64], low: &[f64], close: &[f64], picks: &[usize], out: &mut [f64]) -> bool {
        let (p, width) = (self.fast_k, picks.len());
        let n = close.len().min(high.len()).min(low.len()).min(out.len() / width.max(1));
        let (high, low, close) = (&high[..n], &low[..n], &close[..n]);
        let (mut highest, mut lowest) = (BlockExtreme::<true>::new(p), BlockExtreme::<false>::new(p));
        let (mut slow_k, mut slow_d) = (RunningSma::new(self.slow_k.period()), RunningSma::new(self.slow_d.period()));
        // A zero while every sum is finite, NaN after any other.
        let mut check = 0.0;
        let mut rows_out = out.chunks_exact_mut(width.max(1));
        let mut start = 0;
        while start < n {
            let end = (start + p).min(n);
            let rows = high[start..end].iter().zip(&low[start..end]).zip(&close[start..end]);
            // (rows first: zip then stops without taking an output row.)
            for (k, (((&h, &l), &c), row_out)) in rows.zip(rows_out.by_ref()).enumerate() {
                check += (h + l + c) * 0.0;
                let (hi, lo) = (highest.next(k, h), lowest.next(k, l));
                let kd = if start + k + 1 < p {
                    None
                } else {
                    slow_k.next(raw_k(c, hi, lo)).and_then(|k| slow_d.next(k).map(|d| [k, d]))
                };
                let values = kd.unwrap_or([f64::NAN; 2]);
                for (o, &slot) in row_out.iter_mut().zip(picks) {
                    *o = values[slot.min(1)];
                }
            }
            if end - start == p {
                highest.end_block(&high[start..end]);
                lowest.end_block(&low[start..end]);
            }
            start = end;
        }
        check == 0.0
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
