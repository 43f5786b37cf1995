//! Mid price and microprice at the close of the minute.
//!
//! `mid_close` = (bid + ask) / 2; `microprice_close` = the size-weighted mid
//! (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty), which leans toward
//! the side with less quantity waiting (the price more likely to trade
//! through). Both from the last valid state at or before the minute's end;
//! NaN if a side is empty.

use super::family::BookFamily;
use super::view::{TopView, UpdateStats};

/// Mid and microprice family.
#[derive(Debug, Clone)]
pub struct Mid {
    mid: f64,
    micro: f64,
}

impl Default for Mid {
    fn default() -> Self {
        Self { mid: f64::NAN, micro: f64::NAN }
    }
}

impl BookFamily for Mid {
    fn names(&self) -> &'static [&'static str] {
        &["mid_close", "microprice_close"]
    }
    fn on_state(&mut self, v: &TopView, _stats: &UpdateStats) {
        self.mid = (v.bid + v.ask) / 2.0;
        let q = v.bid_qty + v.ask_qty;
        self.micro = if q > 0.0 { (v.bid * v.ask_qty + v.ask * v.bid_qty) / q } else { f64::NAN };
    }
    fn close(&mut self, out: &mut [f64]) {
        out[0] = self.mid;
        out[1] = self.micro;
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}
