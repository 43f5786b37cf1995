//! Spread: time-weighted over the minute and at the close.
//!
//! `spread_twa` = sum(spread_i * dt_i) / sum(dt_i) over the intervals of the
//! minute during which a valid two-sided book held (NaN if none did);
//! `spread_close` = ask - bid of the last valid state at or before the end of
//! the minute (NaN while there never was one).

use super::family::BookFamily;
use super::view::{TopView, UpdateStats};

/// Spread family.
#[derive(Debug, Clone)]
pub struct Spread {
    current: f64,
    /// Whole milliseconds the current state has held since the last flush:
    /// summed exactly, so splitting an interval (a watermark) changes no bit.
    pending_ms: f64,
    weighted_sum: f64,
    weight_ms: f64,
}

impl Default for Spread {
    fn default() -> Self {
        Self { current: f64::NAN, pending_ms: 0.0, weighted_sum: 0.0, weight_ms: 0.0 }
    }
}

impl Spread {
    fn flush(&mut self) {
        if self.current.is_finite() && self.pending_ms > 0.0 {
            self.weighted_sum += self.current * self.pending_ms;
            self.weight_ms += self.pending_ms;
        }
        self.pending_ms = 0.0;
    }
}

impl BookFamily for Spread {
    fn names(&self) -> &'static [&'static str] {
        &["spread_twa", "spread_close"]
    }
    fn on_state(&mut self, view: &TopView, _stats: &UpdateStats) {
        self.flush();
        self.current = view.spread();
    }
    fn accrue(&mut self, dt_ms: f64) {
        self.pending_ms += dt_ms;
    }
    fn invalidate(&mut self) {
        self.flush();
    }
    fn close(&mut self, out: &mut [f64]) {
        self.flush();
        out[0] = if self.weight_ms > 0.0 { self.weighted_sum / self.weight_ms } else { f64::NAN };
        out[1] = self.current;
        self.weighted_sum = 0.0;
        self.weight_ms = 0.0;
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}
