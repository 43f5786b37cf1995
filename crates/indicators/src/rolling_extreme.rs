//! Rolling maximum / minimum over a fixed window.

/// Rolling max (`MAX = true`) or min of the last `period` values, O(1) per
/// update with no data-dependent branch, memory `2 * period` slots.
///
/// The van Herk / Gil-Werman scheme run as a stream: inputs are cut into
/// blocks of `period`; within the current block a running prefix extreme is
/// kept, and when a block completes its suffix extremes are computed (one
/// pass of `period` steps, so O(1) amortised). A full window is the tail of
/// the previous block plus the head of the current one, so its extreme is
/// `extreme(suffix[k + 1], prefix)`. The result is the exact max/min, the
/// same value TA-Lib's rescanning finds. (NaN: `f64::max` / `f64::min`
/// ignore a NaN operand, so a NaN input is mostly skipped rather than
/// propagated; the feature set rejects NaN before it gets here.)
#[derive(Debug, Clone)]
pub(crate) struct RollingExtreme<const MAX: bool> {
    /// The current block's values so far (slots `0..offset`).
    block: Vec<f64>,
    /// Suffix extremes of the previous complete block.
    suffix: Vec<f64>,
    /// Position in the current block (0..period).
    offset: usize,
    /// Extreme of the current block's values so far.
    prefix: f64,
    /// True once a whole block has been seen (the window is full).
    full: bool,
}

impl<const MAX: bool> RollingExtreme<MAX> {
    pub(crate) fn new(period: usize) -> Self {
        let period = period.max(1);
        Self { block: vec![0.0; period], suffix: vec![0.0; period], offset: 0, prefix: f64::NAN, full: false }
    }

    /// The extreme of two values: `f64::max` / `f64::min`, which compile to
    /// `maxsd` / `minsd` without a branch (a data-dependent branch here
    /// mispredicts on real prices). Equal values are the same number, so
    /// which one is kept does not matter (short of the sign of a zero).
    #[inline(always)]
    pub(crate) fn pick(a: f64, b: f64) -> f64 {
        if MAX {
            a.max(b)
        } else {
            a.min(b)
        }
    }

    /// Pushes `x`; returns the extreme over the last `period` values (fewer
    /// during warm-up).
    #[inline(always)]
    pub(crate) fn push(&mut self, x: f64) -> f64 {
        let period = self.block.len();
        let k = self.offset;
        if let Some(slot) = self.block.get_mut(k) {
            *slot = x;
        }
        self.prefix = if k == 0 { x } else { Self::pick(self.prefix, x) };
        // Window = previous block's slots k+1.. and this block's 0..=k.
        let out = match self.suffix.get(k + 1) {
            Some(&tail) if self.full => Self::pick(tail, self.prefix),
            _ => self.prefix,
        };
        if k + 1 == period {
            self.complete_block();
        } else {
            self.offset = k + 1;
        }
        out
    }

    /// The current block is complete: its suffix extremes, newest first.
    /// (Inlined: a call taking `&mut self` in the batch loop would force the
    /// indicator's state out of registers.)
    #[inline(always)]
    fn complete_block(&mut self) {
        let mut acc = f64::NAN;
        for (i, (s, &v)) in self.suffix.iter_mut().zip(&self.block).enumerate().rev() {
            acc = if i + 1 == self.block.len() { v } else { Self::pick(v, acc) };
            *s = acc;
        }
        self.offset = 0;
        self.full = true;
    }

    pub(crate) fn reset(&mut self) {
        self.offset = 0;
        self.prefix = f64::NAN;
        self.full = false;
    }
}

/// The batch form of [`RollingExtreme::push`] for the kernels: the same
/// blocks (of `period` rows from row 0), the same `pick`s in the same order,
/// so the same values. Feed a block's rows with [`Self::next`] (row `k` of
/// the block), then [`Self::end_block`] with the block's values.
#[derive(Debug, Clone)]
pub(crate) struct BlockExtreme<const MAX: bool> {
    /// Suffix extremes of the previous complete block (once there is one).
    suffix: Vec<f64>,
    full: bool,
    prefix: f64,
}

impl<const MAX: bool> BlockExtreme<MAX> {
    pub(crate) fn new(period: usize) -> Self {
        Self { suffix: vec![0.0; period.max(1)], full: false, prefix: f64::NAN }
    }

    /// Row `k` of the current block, value `x`: what `push` returns.
    #[inline(always)]
    pub(crate) fn next(&mut self, k: usize, x: f64) -> f64 {
        self.prefix = if k == 0 { x } else { RollingExtreme::<MAX>::pick(self.prefix, x) };
        match self.suffix.get(k + 1) {
            Some(&tail) if self.full => RollingExtreme::<MAX>::pick(tail, self.prefix),
            _ => self.prefix,
        }
    }

    /// The block of `period` values just fed is complete.
    #[inline(always)]
    pub(crate) fn end_block(&mut self, block: &[f64]) {
        let mut acc = f64::NAN;
        for (i, (s, &v)) in self.suffix.iter_mut().zip(block).enumerate().rev() {
            acc = if i + 1 == block.len() { v } else { RollingExtreme::<MAX>::pick(v, acc) };
            *s = acc;
        }
        self.full = true;
    }
}
