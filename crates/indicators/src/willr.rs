//! Williams %R.

use crate::rolling_extreme::{BlockExtreme, RollingExtreme};
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

impl WilliamsR {
    /// Batch kernel: a fresh instance's `update` over the columns into `out`
    /// (same length; NaN for the warm-up), same arithmetic
    /// (tests/batch_kernels.rs): the highest high and lowest low come from
    /// [`BlockExtreme`], the same blocks and comparisons as the streaming
    /// [`RollingExtreme`], in one loop with the formula.
    ///
    /// Returns false when some `high + low + close` is not finite, which
    /// every non-finite high, low or close makes it (a finite overflow too:
    /// the caller then checks the columns exactly).
    pub(crate) fn fill(&self, high: &[f64], low: &[f64], close: &[f64], out: &mut [f64]) -> bool {
        let p = self.period;
        let n = close.len().min(high.len()).min(low.len()).min(out.len());
        let (high, low, close, out) = (&high[..n], &low[..n], &close[..n], &mut out[..n]);
        let (mut highest, mut lowest) = (BlockExtreme::<true>::new(p), BlockExtreme::<false>::new(p));
        // A zero while every sum is finite, NaN after any other.
        let mut check = 0.0;
        let mut start = 0;
        while start < n {
            let end = (start + p).min(n);
            let rows = high[start..end].iter().zip(&low[start..end]).zip(&close[start..end]);
            for (k, (o, ((&h, &l), &c))) in out[start..end].iter_mut().zip(rows).enumerate() {
                check += (h + l + c) * 0.0;
                *o = value(highest.next(k, h), lowest.next(k, l), c);
            }
            if end - start == p {
                highest.end_block(&high[start..end]);
                lowest.end_block(&low[start..end]);
            }
            start = end;
        }
        out[..(p - 1).min(n)].iter_mut().for_each(|o| *o = f64::NAN);
        check == 0.0
    }
}

/// %R from the window's highest high and lowest low, as TA-Lib computes it.
#[inline(always)]
fn value(highest: f64, lowest: f64, close: f64) -> f64 {
    let diff = (highest - lowest) / -100.0;
    if diff != 0.0 {
        (highest - close) / diff
    } else {
        0.0
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
        Some(value(hi, lo, bar.close))
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
