//! Depth-weighted imbalance of the best 10 levels at the close:
//! (B - A) / (B + A) with B = sum_i w_i * bid_qty_i, A likewise for asks and
//! w_i = 1 / (i + 1) for level i = 0 (best) .. 9. In [-1, 1]; positive when
//! more quantity waits to buy near the touch; NaN if the book is empty.

use super::family::BookFamily;
use super::view::{TopView, UpdateStats, VIEW_LEVELS};

/// Depth-weighted imbalance family.
#[derive(Debug, Clone)]
pub struct Imbalance {
    value: f64,
}

impl Default for Imbalance {
    fn default() -> Self {
        Self { value: f64::NAN }
    }
}

impl BookFamily for Imbalance {
    fn names(&self) -> &'static [&'static str] {
        &["imbalance_dw_close"]
    }
    fn on_state(&mut self, v: &TopView, _stats: &UpdateStats) {
        let (mut b, mut a) = (0.0, 0.0);
        for i in 0..VIEW_LEVELS {
            let w = 1.0 / (i as f64 + 1.0);
            b += w * TopView::level_qty(&v.bid_depth, i);
            a += w * TopView::level_qty(&v.ask_depth, i);
        }
        self.value = if b + a > 0.0 { (b - a) / (b + a) } else { f64::NAN };
    }
    fn close(&mut self, out: &mut [f64]) {
        out[0] = self.value;
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}
