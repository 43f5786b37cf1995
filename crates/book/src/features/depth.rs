//! Depth at 1, 5 and 10 levels per side at the close: the summed base
//! quantity of the best k levels (fewer levels if the side has fewer).

use super::family::BookFamily;
use super::view::{TopView, UpdateStats};

/// Depth family.
#[derive(Debug, Clone, Default)]
pub struct Depth {
    values: [f64; 6],
}

impl BookFamily for Depth {
    fn names(&self) -> &'static [&'static str] {
        &["bid_depth_1", "bid_depth_5", "bid_depth_10", "ask_depth_1", "ask_depth_5", "ask_depth_10"]
    }
    fn on_state(&mut self, v: &TopView, _stats: &UpdateStats) {
        self.values = [v.bid_depth[0], v.bid_depth[4], v.bid_depth[9], v.ask_depth[0], v.ask_depth[4], v.ask_depth[9]];
    }
    fn close(&mut self, out: &mut [f64]) {
        out.copy_from_slice(&self.values);
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}
