//! Update counts over the minute: valid book messages, price levels they
//! carried, of which deletions, the messages that moved the best bid or ask
//! price, and the milliseconds of the minute covered by a valid book.

use super::family::BookFamily;
use super::view::{TopView, UpdateStats};

/// Counts family.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    messages: f64,
    levels: f64,
    deletes: f64,
    best_changes: f64,
    covered_ms: f64,
    prev_best: Option<(f64, f64)>,
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

impl BookFamily for Counts {
    fn names(&self) -> &'static [&'static str] {
        &["messages", "level_updates", "level_deletes", "best_changes", "covered_ms"]
    }
    fn on_state(&mut self, v: &TopView, s: &UpdateStats) {
        self.messages += 1.0;
        self.levels += s.levels as f64;
        self.deletes += s.deletes as f64;
        if let Some((b, a)) = self.prev_best {
            if !same(b, v.bid) || !same(a, v.ask) {
                self.best_changes += 1.0;
            }
        }
        self.prev_best = Some((v.bid, v.ask));
    }
    fn accrue(&mut self, dt_ms: f64) {
        self.covered_ms += dt_ms;
    }
    fn invalidate(&mut self) {
        self.prev_best = None;
    }
    fn close(&mut self, out: &mut [f64]) {
        out.copy_from_slice(&[self.messages, self.levels, self.deletes, self.best_changes, self.covered_ms]);
        self.messages = 0.0;
        self.levels = 0.0;
        self.deletes = 0.0;
        self.best_changes = 0.0;
        self.covered_ms = 0.0;
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}
