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

impl Cci {
    /// Batch kernel: a fresh instance's `update` over the columns into `out`
    /// (same length; NaN for the warm-up), same arithmetic
    /// (tests/batch_kernels.rs). Each row sums its window in the ring's
    /// physical slot order, as streaming does. Streaming's ring writes row r
    /// to slot r mod p, so row i's window `w = t[i + 1 - p ..= i]` in slot
    /// order is `w[m..]` then `w[..m]` with `m = p - 1 - i mod p`: rows p
    /// apart share that order, so ROWS of them run side by side (as many
    /// independent chains of additions), their windows one contiguous run
    /// of the typical prices.
    ///
    /// Returns false when some typical price is not finite, which every
    /// non-finite high, low or close makes it (a finite overflow too: the
    /// caller then checks the columns exactly).
    pub(crate) fn fill(&self, high: &[f64], low: &[f64], close: &[f64], out: &mut [f64]) -> bool {
        const ROWS: usize = 8;
        let p = self.period;
        let n = close.len().min(high.len()).min(low.len()).min(out.len());
        let t: Vec<f64> = (0..n).map(|i| (high[i] + low[i] + close[i]) / 3.0).collect();
        let ok = t.iter().fold(true, |ok, v| ok & v.is_finite());
        let warm = (p - 1).min(n);
        out[..warm].iter_mut().for_each(|o| *o = f64::NAN);
        let pf = p as f64;
        let value = |last: f64, average: f64, deviation: f64| {
            let centred = last - average;
            if centred != 0.0 && deviation != 0.0 {
                centred / (0.015 * (deviation / pf))
            } else {
                0.0
            }
        };
        // One row at a time (the first output row and the tail).
        let single = |i: usize| {
            let w = &t[i + 1 - p..=i];
            let m = p - 1 - i % p;
            let order = w[m..].iter().chain(&w[..m]);
            let average = order.clone().fold(0.0, |a, &v| a + v) / pf;
            let deviation = order.fold(0.0, |d, &v| d + (v - average).abs());
            value(t[i], average, deviation)
        };
        if warm < n {
            out[warm] = single(warm);
        }
        // Then super-blocks of ROWS * p rows from row p: for each g of the
        // first p rows, the rows g, g + p, ... (same slot order) together.
        let mut start = p;
        while start + ROWS * p <= n {
            for g in start..start + p {
                let m = p - 1 - g % p;
                let run = &t[g + 1 - p..g + 1 + (ROWS - 1) * p];
                let w: [&[f64]; ROWS] = std::array::from_fn(|r| &run[r * p..(r + 1) * p]);
                let mut average = [0.0f64; ROWS];
                let mut add = |k: usize| {
                    for (a, w) in average.iter_mut().zip(&w) {
                        *a += w[k];
                    }
                };
                (m..p).for_each(&mut add);
                (0..m).for_each(add);
                average.iter_mut().for_each(|a| *a /= pf);
                let mut deviation = [0.0f64; ROWS];
                let mut add = |k: usize| {
                    for ((d, w), &a) in deviation.iter_mut().zip(&w).zip(&average) {
                        *d += (w[k] - a).abs();
                    }
                };
                (m..p).for_each(&mut add);
                (0..m).for_each(add);
                for r in 0..ROWS {
                    out[g + r * p] = value(t[g + r * p], average[r], deviation[r]);
                }
            }
            start += ROWS * p;
        }
        for (i, o) in out.iter_mut().enumerate().take(n).skip(start.max(warm + 1)) {
            *o = single(i);
        }
        ok
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
