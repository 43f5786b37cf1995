//! The trait every feature family implements.

use super::view::{TopView, UpdateStats};

/// One family of per-minute book features (one file each).
///
/// The driver ([`super::BookFeatures`]) calls, in time order:
/// `accrue(dt)` while the current book state holds for `dt` ms of the
/// minute; `on_state(view, stats)` when a message produced a new valid state;
/// `invalidate()` when the book stops being trustworthy (checksum failure,
/// sequence gap) until the next snapshot; `close(out)` at the end of a minute,
/// which writes the family's columns and starts the next minute.
pub trait BookFamily {
    /// Column names, in the order `close` writes them.
    fn names(&self) -> &'static [&'static str];
    /// A new valid book state.
    fn on_state(&mut self, view: &TopView, stats: &UpdateStats);
    /// The current (valid) state held for `dt_ms` more milliseconds.
    fn accrue(&mut self, _dt_ms: f64) {}
    /// The book is no longer valid.
    fn invalidate(&mut self) {}
    /// Writes this minute's values and resets the per-minute accumulators.
    fn close(&mut self, out: &mut [f64]);
    /// Back to a fresh instance.
    fn reset(&mut self);
}
