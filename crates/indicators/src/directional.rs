//! Directional movement: +DI and -DI, and the shared Wilder state ADX uses.

use crate::rsi::is_zero;
use crate::true_range::true_range;
use crate::{check_period, Bar, Indicator, IndicatorError};

/// One bar's directional movement, as TA-Lib classifies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Movement {
    pub(crate) plus_dm: f64,
    pub(crate) minus_dm: f64,
    pub(crate) tr: f64,
}

/// Previous bar memory shared by +DI, -DI and ADX.
#[derive(Debug, Clone, Default)]
pub(crate) struct MovementTracker {
    prev: Option<(f64, f64, f64)>,
}

impl MovementTracker {
    /// `None` on the first bar. +DM when the high rises more than the low
    /// falls (and rises at all); -DM symmetrically; otherwise 0.
    #[inline(always)]
    pub(crate) fn next(&mut self, bar: &Bar) -> Option<Movement> {
        let out = self.prev.map(|(ph, pl, pc)| {
            let diff_p = bar.high - ph;
            let diff_m = pl - bar.low;
            let plus_dm = if diff_p > 0.0 && diff_p > diff_m { diff_p } else { 0.0 };
            let minus_dm = if diff_m > 0.0 && diff_p < diff_m { diff_m } else { 0.0 };
            Movement { plus_dm, minus_dm, tr: true_range(bar.high, bar.low, pc) }
        });
        self.prev = Some((bar.high, bar.low, bar.close));
        out
    }

    pub(crate) fn reset(&mut self) {
        self.prev = None;
    }
}

/// Wilder-smoothed +DM, -DM and TR with TA-Lib's seeding: sums of the first
/// `period - 1` movements, then `s = s - s / period + m` on every later bar.
#[derive(Debug, Clone)]
pub(crate) struct SmoothedMovement {
    period: usize,
    tracker: MovementTracker,
    count: usize,
    pub(crate) plus_dm: f64,
    pub(crate) minus_dm: f64,
    pub(crate) tr: f64,
}

impl SmoothedMovement {
    pub(crate) fn new(period: usize) -> Self {
        Self { period, tracker: MovementTracker::default(), count: 0, plus_dm: 0.0, minus_dm: 0.0, tr: 0.0 }
    }

    /// True once the smoothing (not just the seed sums) has run at least once.
    #[inline(always)]
    pub(crate) fn update(&mut self, bar: &Bar) -> bool {
        let Some(m) = self.tracker.next(bar) else { return false };
        if self.count + 1 < self.period {
            self.count += 1;
            if m.plus_dm > 0.0 {
                self.plus_dm += m.plus_dm;
            }
            if m.minus_dm > 0.0 {
                self.minus_dm += m.minus_dm;
            }
            self.tr += m.tr;
            return false;
        }
        self.count = self.period;
        let n = self.period as f64;
        self.plus_dm = self.plus_dm - (self.plus_dm / n) + m.plus_dm;
        self.minus_dm = self.minus_dm - (self.minus_dm / n) + m.minus_dm;
        self.tr = self.tr - (self.tr / n) + m.tr;
        true
    }

    /// (+DI, -DI) in percent; `None` when the smoothed TR is ~0
    /// (TA-Lib's `TA_IS_ZERO`).
    #[inline(always)]
    pub(crate) fn di(&self) -> Option<(f64, f64)> {
        if is_zero(self.tr) {
            return None;
        }
        Some((100.0 * (self.plus_dm / self.tr), 100.0 * (self.minus_dm / self.tr)))
    }

    pub(crate) fn reset(&mut self) {
        self.tracker.reset();
        self.count = 0;
        self.plus_dm = 0.0;
        self.minus_dm = 0.0;
        self.tr = 0.0;
    }
}

/// Which directional indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectionalSide {
    /// +DI (TA-Lib `PLUS_DI`).
    Plus,
    /// -DI (TA-Lib `MINUS_DI`).
    Minus,
}

/// +DI or -DI (TA-Lib `PLUS_DI` / `MINUS_DI`), in percent.
///
/// Warm-up: `period` bars give `None` (TA-Lib lookback `period`). Seeding:
/// +DM, -DM and TR are summed over the first `period - 1` movements, then
/// Wilder-smoothed (`s - s/period + m`); `DI = 100 * DM / TR`, 0 when
/// `|TR| < 1e-14` (TA-Lib's `TA_IS_ZERO`). Period 1 (no smoothing): `100 * DM / TR` of the bar.
/// TA-Lib's period-1 branch omits the factor 100 (it returns a fraction);
/// we keep percent so every period has one scale.
#[derive(Debug, Clone)]
pub struct DirectionalIndex {
    side: DirectionalSide,
    period: usize,
    state: SmoothedMovement,
    ready: bool,
}

impl DirectionalIndex {
    /// `period` in `1..=100_000`.
    pub fn new(side: DirectionalSide, period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self { side, period, state: SmoothedMovement::new(period.max(2)), ready: false })
    }
}

impl DirectionalIndex {
    /// Batch kernel: a fresh instance's `update` over the columns into `out`
    /// (same length; NaN for the warm-up), same arithmetic
    /// (tests/batch_kernels.rs). Only this side's movement is smoothed (the
    /// other side's never reaches the output). Returns whether every high,
    /// low and close is finite, checked in the loop (a finite overflow of
    /// their sum flags too: the caller then checks the columns exactly).
    pub(crate) fn fill(&self, high: &[f64], low: &[f64], close: &[f64], out: &mut [f64]) -> bool {
        let n = close.len().min(high.len()).min(low.len()).min(out.len());
        if n == 0 {
            return true;
        }
        // Sliced to n: the compiler sees every index below is in bounds.
        let (high, low, close, out) = (&high[..n], &low[..n], &close[..n], &mut out[..n]);
        let plus = self.side == DirectionalSide::Plus;
        let finite = |i: usize| high[i].is_finite() & low[i].is_finite() & close[i].is_finite();
        let mut ok = finite(0);
        out[0] = f64::NAN;
        if self.period == 1 {
            for i in 1..n {
                ok &= finite(i);
                let dm = side_movement(plus, high[i], low[i], high[i - 1], low[i - 1]);
                let tr = true_range(high[i], low[i], close[i - 1]);
                out[i] = if dm == 0.0 || is_zero(tr) { 0.0 } else { 100.0 * (dm / tr) };
            }
            return ok;
        }
        let p = self.period.max(2);
        let warm = p.min(n);
        let (mut dm_sum, mut tr_sum) = (0.0f64, 0.0f64);
        for i in 1..warm {
            ok &= finite(i);
            let dm = side_movement(plus, high[i], low[i], high[i - 1], low[i - 1]);
            if dm > 0.0 {
                dm_sum += dm;
            }
            tr_sum += true_range(high[i], low[i], close[i - 1]);
            out[i] = f64::NAN;
        }
        let nf = p as f64;
        // The loop the time goes into: the two smoothed sums stay in
        // registers (everything it calls is inlined), each row's only
        // dependency on the last is `s - s / n + m`.
        // A zero while every value is finite, NaN after any other (cheaper
        // in this loop than testing the bits).
        let mut check = 0.0;
        for i in warm..n {
            check += (high[i] + low[i] + close[i]) * 0.0;
            let dm = side_movement(plus, high[i], low[i], high[i - 1], low[i - 1]);
            let tr = true_range(high[i], low[i], close[i - 1]);
            dm_sum = dm_sum - (dm_sum / nf) + dm;
            tr_sum = tr_sum - (tr_sum / nf) + tr;
            out[i] = if is_zero(tr_sum) { 0.0 } else { 100.0 * (dm_sum / tr_sum) };
        }
        ok && check == 0.0
    }
}

/// One side's directional movement from the previous bar's high and low
/// (`ph`, `pl`) to this one's, as [`MovementTracker::next`] classifies it.
#[inline(always)]
fn side_movement(plus: bool, high: f64, low: f64, ph: f64, pl: f64) -> f64 {
    let diff_p = high - ph;
    let diff_m = pl - low;
    if plus {
        if diff_p > 0.0 && diff_p > diff_m {
            diff_p
        } else {
            0.0
        }
    } else if diff_m > 0.0 && diff_p < diff_m {
        diff_m
    } else {
        0.0
    }
}

impl Indicator for DirectionalIndex {
    type Input = Bar;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Bar) -> Option<f64> {
        if self.period == 1 {
            let m = self.state.tracker.next(&bar)?;
            self.ready = true;
            let dm = match self.side {
                DirectionalSide::Plus => m.plus_dm,
                DirectionalSide::Minus => m.minus_dm,
            };
            return Some(if dm == 0.0 || is_zero(m.tr) { 0.0 } else { 100.0 * (dm / m.tr) });
        }
        if !self.state.update(&bar) {
            return None;
        }
        self.ready = true;
        let (plus, minus) = self.state.di().unwrap_or((0.0, 0.0));
        Some(match self.side {
            DirectionalSide::Plus => plus,
            DirectionalSide::Minus => minus,
        })
    }

    fn is_ready(&self) -> bool {
        self.ready
    }

    fn reset(&mut self) {
        self.state.reset();
        self.ready = false;
    }
}
