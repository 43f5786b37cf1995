//! Per-minute book features, one family per file, driven by one event clock.
//!
//! The driver takes book states in time order (`on_state`), invalidations
//! (`invalidate`) and watermarks (`advance`), never reads a clock, and
//! returns closed minutes ([`MinuteRow`]). A minute [m, m + 60 s) is emitted
//! when time reaches its end and a valid book held during some of it (or a
//! valid message arrived in it). Values "at close" are those of the last
//! valid state at or before the minute's end; time-weighted values cover
//! only the time a valid book held. Timestamps that go backwards are treated
//! as the latest time seen. A silence longer than [`MAX_IDLE_MINUTES`] with
//! a valid book emits no rows for the idle minutes (the book is stale).

mod counts;
mod depth;
mod family;
mod imbalance;
mod mid;
mod ofi;
mod spread;
mod view;

pub use family::BookFamily;
pub use view::{TopView, UpdateStats, VIEW_LEVELS};

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// Longest silence (minutes) over which idle minutes are still emitted.
pub const MAX_IDLE_MINUTES: i64 = 1440;

/// The feature columns of a [`MinuteRow`], in order.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "spread_twa",
    "spread_close",
    "mid_close",
    "microprice_close",
    "bid_depth_1",
    "bid_depth_5",
    "bid_depth_10",
    "ask_depth_1",
    "ask_depth_5",
    "ask_depth_10",
    "imbalance_dw_close",
    "ofi",
    "messages",
    "level_updates",
    "level_deletes",
    "best_changes",
    "covered_ms",
];
/// Number of feature columns.
pub const N_FEATURES: usize = 17;

/// The features of one closed minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteRow {
    /// Start of the minute (ms since the epoch, a multiple of 60,000).
    pub minute_start_ms: i64,
    /// Values in [`FEATURE_NAMES`] order.
    pub values: [f64; N_FEATURES],
}

#[derive(Debug, Clone, Default)]
struct Families {
    spread: spread::Spread,
    mid: mid::Mid,
    depth: depth::Depth,
    imbalance: imbalance::Imbalance,
    ofi: ofi::Ofi,
    counts: counts::Counts,
}

macro_rules! each_family {
    ($self:expr, $f:ident => $body:expr) => {{
        { let $f = &mut $self.spread; $body; }
        { let $f = &mut $self.mid; $body; }
        { let $f = &mut $self.depth; $body; }
        { let $f = &mut $self.imbalance; $body; }
        { let $f = &mut $self.ofi; $body; }
        { let $f = &mut $self.counts; $body; }
    }};
}

impl Families {
    fn close(&mut self, out: &mut [f64; N_FEATURES]) {
        let mut rest: &mut [f64] = out;
        each_family!(self, f => {
            let (head, tail) = rest.split_at_mut(f.names().len());
            f.close(head);
            rest = tail;
        });
        debug_assert!(rest.is_empty());
    }
}

/// The per-minute feature driver.
#[derive(Debug, Clone, Default)]
pub struct BookFeatures {
    families: Families,
    /// Start of the open minute, if any.
    open: Option<i64>,
    /// Time up to which the current state has been accrued.
    since: i64,
    /// Whether the current book state is valid.
    valid: bool,
    /// Whether the open minute had a valid book at some point.
    touched: bool,
}

fn floor_minute(t: i64) -> i64 {
    t.div_euclid(MINUTE_MS) * MINUTE_MS
}

impl BookFeatures {
    /// A fresh driver.
    pub fn new() -> Self {
        Self::default()
    }

    /// The column names (same as [`FEATURE_NAMES`], checked by a test
    /// against the families' own lists).
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::with_capacity(N_FEATURES);
        let mut f = self.families.clone();
        each_family!(f, fam => v.extend_from_slice(fam.names()));
        v
    }

    fn accrue(&mut self, dt: i64) {
        if self.valid && dt > 0 {
            let dt = dt as f64;
            each_family!(self.families, f => f.accrue(dt));
        }
    }

    /// Moves time to `t_ms`, closing every minute that ends at or before it.
    pub fn advance(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        let Some(mut m0) = self.open else { return };
        let t = t_ms.max(self.since);
        while t >= m0 + MINUTE_MS {
            let m1 = m0 + MINUTE_MS;
            self.accrue(m1 - self.since);
            self.since = m1;
            if self.touched {
                let mut values = [0.0; N_FEATURES];
                self.families.close(&mut values);
                out.push(MinuteRow { minute_start_ms: m0, values });
            } else {
                let mut scratch = [0.0; N_FEATURES];
                self.families.close(&mut scratch);
            }
            if !self.valid {
                self.open = None;
                return;
            }
            if t - m1 >= MAX_IDLE_MINUTES * MINUTE_MS {
                // Stale book: skip the idle minutes.
                m0 = floor_minute(t);
                self.since = m0;
            } else {
                m0 = m1;
            }
            self.open = Some(m0);
            self.touched = true;
        }
        self.accrue(t - self.since);
        self.since = t;
    }

    /// A new valid book state at `t_ms` (after a message was applied).
    pub fn on_state(&mut self, t_ms: i64, view: &TopView, stats: &UpdateStats, out: &mut Vec<MinuteRow>) {
        self.advance(t_ms, out);
        if self.open.is_none() {
            self.open = Some(floor_minute(t_ms.max(self.since)));
            self.since = t_ms.max(self.since);
        }
        each_family!(self.families, f => f.on_state(view, stats));
        self.valid = true;
        self.touched = true;
    }

    /// The book stopped being valid at `t_ms`.
    pub fn invalidate(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        self.advance(t_ms, out);
        each_family!(self.families, f => f.invalidate());
        self.valid = false;
    }

    /// Back to a fresh instance (cascades to every family).
    pub fn reset(&mut self) {
        each_family!(self.families, f => f.reset());
        self.open = None;
        self.since = 0;
        self.valid = false;
        self.touched = false;
    }
}
