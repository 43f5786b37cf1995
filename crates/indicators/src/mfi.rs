//! Money flow index.

use crate::ring::Ring;
use crate::{check_period, Bar, Indicator, IndicatorError};

/// Money flow index (TA-Lib `MFI`).
///
/// Money flow = typical price * volume, positive when the typical price rose
/// from the previous bar, negative when it fell, neither when unchanged.
/// `MFI = 100 * pos / (pos + neg)` over the last `period` flows (running
/// sums, as TA-Lib). TA-Lib returns 0 when `pos + neg < 1` (an absolute
/// threshold, in price * volume units) and so do we. Warm-up: `period` bars
/// give `None` (TA-Lib lookback `period`).
#[derive(Debug, Clone)]
pub struct Mfi {
    prev_typical: Option<f64>,
    positive: Ring,
    negative: Ring,
    pos_sum: f64,
    neg_sum: f64,
}

impl Mfi {
    /// `period` in `2..=100_000` (TA-Lib's range).
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        Ok(Self {
            prev_typical: None,
            positive: Ring::new(period),
            negative: Ring::new(period),
            pos_sum: 0.0,
            neg_sum: 0.0,
        })
    }
}

impl Mfi {
    /// Batch kernel: a fresh instance's `update` over the columns into `out`
    /// (same length; NaN for the warm-up), same arithmetic
    /// (tests/batch_kernels.rs). The branches on the typical price's move
    /// become selects: adding -0.0 leaves any sum as it is, and the ring
    /// holds the same +0.0 / flow values streaming pushes.
    ///
    /// Returns false when some flow (or the first bar's typical price or
    /// volume) is not finite, which every non-finite high, low, close or
    /// volume makes it (a finite overflow too: the caller then checks the
    /// columns exactly).
    pub(crate) fn fill(&self, high: &[f64], low: &[f64], close: &[f64], volume: &[f64], out: &mut [f64]) -> bool {
        let p = self.positive.capacity();
        let n = close.len().min(high.len()).min(low.len()).min(volume.len()).min(out.len());
        if n == 0 {
            return true;
        }
        let typical = |i: usize| (high[i] + low[i] + close[i]) / 3.0;
        let mut ring = vec![(0.0f64, 0.0f64); p];
        let mut slot = 0;
        let (mut pos_sum, mut neg_sum) = (0.0f64, 0.0f64);
        let mut prev = typical(0);
        let mut ok = prev.is_finite() & volume[0].is_finite();
        out[0] = f64::NAN;
        for i in 1..n {
            let t = typical(i);
            if i > p {
                let (op, on) = ring[slot];
                pos_sum -= op;
                neg_sum -= on;
            }
            let change = t - prev;
            prev = t;
            let flow = t * volume[i];
            ok &= flow.is_finite();
            let (falling, rising) = (change < 0.0, change > 0.0);
            neg_sum += if falling { flow } else { -0.0 };
            pos_sum += if rising { flow } else { -0.0 };
            ring[slot] = (if rising { flow } else { 0.0 }, if falling { flow } else { 0.0 });
            slot = if slot + 1 == p { 0 } else { slot + 1 };
            out[i] = if i < p {
                f64::NAN
            } else {
                let total = pos_sum + neg_sum;
                if total < 1.0 {
                    0.0
                } else {
                    100.0 * (pos_sum / total)
                }
            };
        }
        ok
    }
}

impl Indicator for Mfi {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        let typical = bar.typical();
        let prev = self.prev_typical.replace(typical)?;
        let was_full = self.positive.is_full();
        if was_full {
            // The flow leaving the window, subtracted first as TA-Lib does.
            self.pos_sum -= self.positive.oldest().unwrap_or(0.0);
            self.neg_sum -= self.negative.oldest().unwrap_or(0.0);
        }
        let change = typical - prev;
        let flow = typical * bar.volume;
        let (pos, neg) = if change < 0.0 {
            self.neg_sum += flow;
            (0.0, flow)
        } else if change > 0.0 {
            self.pos_sum += flow;
            (flow, 0.0)
        } else {
            (0.0, 0.0)
        };
        self.positive.push(pos);
        self.negative.push(neg);
        if !self.positive.is_full() {
            return None;
        }
        let total = self.pos_sum + self.neg_sum;
        Some(if total < 1.0 { 0.0 } else { 100.0 * (self.pos_sum / total) })
    }

    fn is_ready(&self) -> bool {
        self.positive.is_full()
    }

    fn reset(&mut self) {
        self.prev_typical = None;
        self.positive.clear();
        self.negative.clear();
        self.pos_sum = 0.0;
        self.neg_sum = 0.0;
    }
}
