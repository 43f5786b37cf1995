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
    /// physical slot order, as streaming does; four rows run side by side
    /// (four independent chains of additions instead of one at a time).
    ///
    /// Returns false when some typical price is not finite, which every
    /// non-finite high, low or close makes it (a finite overflow too: the
    /// caller then checks the columns exactly).
    pub(crate) fn fill(&self, high: &[f64], low: &[f64], close: &[f64], out: &mut [f64]) -> bool {
        let p = self.period;
        let n = close.len().min(high.len()).min(low.len()).min(out.len());
        let t: Vec<f64> = (0..n).map(|i| (high[i] + low[i] + close[i]) / 3.0).collect();
        let ok = t.iter().fold(true, |ok, v| ok & v.is_finite());
        let warm = (p - 1).min(n);
        out[..warm].iter_mut().for_each(|o| *o = f64::NAN);
        let pf = p as f64;
        // Row i's window in slot order: streaming's ring writes row r to
        // slot r mod p, so with s = i mod p, slot j holds row i - s + j for
        // j <= s and row i - s - p + j after.
        let at = |base: usize, s: usize, j: usize| if j <= s { base + j } else { base + j - p };
        let value = |i: usize, average: f64, deviation: f64| {
            let centred = t[i] - average;
            if centred != 0.0 && deviation != 0.0 {
                centred / (0.015 * (deviation / pf))
            } else {
                0.0
            }
        };
        let mut i = warm;
        while i + 4 <= n {
            let s: [usize; 4] = std::array::from_fn(|r| (i + r) % p);
            let base: [usize; 4] = std::array::from_fn(|r| i + r - s[r]);
            let mut avg = [0.0f64; 4];
            for j in 0..p {
                for (r, a) in avg.iter_mut().enumerate() {
                    *a += t[at(base[r], s[r], j)];
                }
            }
            avg.iter_mut().for_each(|a| *a /= pf);
            let mut dev = [0.0f64; 4];
            for j in 0..p {
                for (r, d) in dev.iter_mut().enumerate() {
                    *d += (t[at(base[r], s[r], j)] - avg[r]).abs();
                }
            }
            for r in 0..4 {
                out[i + r] = value(i + r, avg[r], dev[r]);
            }
            i += 4;
        }
        for (i, o) in out.iter_mut().enumerate().take(n).skip(i) {
            let (s, base) = (i % p, i - i % p);
            let mut average = 0.0;
            for j in 0..p {
                average += t[at(base, s, j)];
            }
            average /= pf;
            let mut deviation = 0.0;
            for j in 0..p {
                deviation += (t[at(base, s, j)] - average).abs();
            }
            *o = value(i, average, deviation);
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
