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
    /// become products (see [`flow_if`]): the sums get the same additions
    /// and subtractions of the same flows, and zeros that leave them as
    /// they are.
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
        // Sliced to n: the compiler sees every index below is in bounds.
        let (high, low, close, volume, out) = (&high[..n], &low[..n], &close[..n], &volume[..n], &mut out[..n]);
        // The ring of streaming's (positive, negative) flows, one slot per
        // row (row r in slot (r - 1) mod p).
        let mut ring = vec![[0.0f64; 2]; p];
        let (mut pos_sum, mut neg_sum) = (0.0f64, 0.0f64);
        let mut prev = (high[0] + low[0] + close[0]) / 3.0;
        // A zero while every flow is finite, NaN after any other (cheaper
        // in the loop than a test of the bits).
        let mut check = prev * 0.0 * volume[0];
        out[0] = f64::NAN;
        let value = |pos_sum: f64, neg_sum: f64| {
            let total = pos_sum + neg_sum;
            if total < 1.0 {
                0.0
            } else {
                100.0 * (pos_sum / total)
            }
        };
        // Rows 1..=p fill the rings (p - 1 rows of warm-up, then row p).
        for i in 1..n.min(p + 1) {
            let (pos, neg, flow) = flows(high[i], low[i], close[i], volume[i], &mut prev);
            check += flow * 0.0;
            neg_sum += neg;
            pos_sum += pos;
            ring[i - 1] = [pos, neg];
            out[i] = if i < p { f64::NAN } else { value(pos_sum, neg_sum) };
        }
        // Then every row first drops the flow leaving the window, as
        // streaming does (subtracting a 0.0 slot leaves a sum as it is).
        // Two rows at a time: the row's two divisions (the typical price,
        // the index) are what bounds this loop, and two rows' indexes are
        // independent, so the compiler divides them in one two-lane
        // division (the same correctly rounded quotient per lane).
        let mut slot = 0;
        let next_slot = |slot: &mut usize| {
            let s = *slot;
            *slot = if s + 1 == p { 0 } else { s + 1 };
            s
        };
        let first = (p + 1).min(n);
        let pairs = high[first..]
            .chunks_exact(2)
            .zip(low[first..].chunks_exact(2))
            .zip(close[first..].chunks_exact(2))
            .zip(volume[first..].chunks_exact(2))
            .zip(out[first..].chunks_exact_mut(2));
        let mut i = first;
        for ((((h, l), c), v), o) in pairs {
            let t = [(h[0] + l[0] + c[0]) / 3.0, (h[1] + l[1] + c[1]) / 3.0];
            let mut pos_total = [[0.0f64; 2]; 2];
            for ((&t, &v), pt) in t.iter().zip(v).zip(&mut pos_total) {
                let s = next_slot(&mut slot);
                let [old_pos, old_neg] = ring[s];
                pos_sum -= old_pos;
                neg_sum -= old_neg;
                let (pos, neg, flow) = split(t, v, &mut prev);
                check += flow * 0.0;
                neg_sum += neg;
                pos_sum += pos;
                ring[s] = [pos, neg];
                *pt = [pos_sum, pos_sum + neg_sum];
            }
            let ratio = [pos_total[0][0] / pos_total[0][1], pos_total[1][0] / pos_total[1][1]];
            for ((o, &[_, total]), ratio) in o.iter_mut().zip(&pos_total).zip(ratio) {
                *o = if total < 1.0 { 0.0 } else { 100.0 * ratio };
            }
            i += 2;
        }
        if i < n {
            let s = next_slot(&mut slot);
            let [old_pos, old_neg] = ring[s];
            pos_sum -= old_pos;
            neg_sum -= old_neg;
            let (pos, neg, flow) = flows(high[i], low[i], close[i], volume[i], &mut prev);
            check += flow * 0.0;
            neg_sum += neg;
            pos_sum += pos;
            out[i] = value(pos_sum, neg_sum);
        }
        check == 0.0
    }
}

/// One row's money flow split by the typical price's move from `prev` (which
/// becomes this row's typical price): (positive flow, negative flow, flow).
/// No branch (the move's sign is a coin flip on real prices, and the
/// compiler turns a plain select into a mispredicted branch here); inlined
/// so that the kernel's sums stay in registers.
#[inline(always)]
fn flows(high: f64, low: f64, close: f64, volume: f64, prev: &mut f64) -> (f64, f64, f64) {
    split((high + low + close) / 3.0, volume, prev)
}

/// [`flows`] from the typical price `t`.
#[inline(always)]
fn split(t: f64, volume: f64, prev: &mut f64) -> (f64, f64, f64) {
    let change = t - *prev;
    *prev = t;
    let flow = t * volume;
    (flow_if(flow, change > 0.0), flow_if(flow, change < 0.0), flow)
}

/// `flow` when `selected`, else a zero (of either sign): `flow` times 1.0 or
/// 0.0, a multiplication the compiler keeps (it may not fold it into a
/// select: `x * 0.0` is not 0.0 for every x), so no branch is emitted.
///
/// Which zero does not matter: the flows only ever reach the two sums, by
/// one addition and, `period` rows later, one subtraction, and adding or
/// subtracting a zero of either sign leaves a sum as it is unless the sum is
/// -0.0, which neither ever is: both start at +0.0, and in round-to-nearest
/// an addition gives -0.0 only from -0.0 plus -0.0 (or -0.0 minus +0.0); an
/// exact cancellation gives +0.0, and gradual underflow makes every nonzero
/// sum of two doubles nonzero.
#[inline(always)]
fn flow_if(flow: f64, selected: bool) -> f64 {
    flow * if selected { 1.0 } else { 0.0 }
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
