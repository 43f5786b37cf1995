//! Order-flow imbalance (Cont, Kukanov and Stoikov, "The price impact of
//! order book events", 2014), summed over the minute.
//!
//! For consecutive valid states n-1, n with best bid P^b, size q^b and best
//! ask P^a, size q^a:
//! e_n = 1{P^b_n >= P^b_{n-1}} q^b_n - 1{P^b_n <= P^b_{n-1}} q^b_{n-1}
//!     - 1{P^a_n <= P^a_{n-1}} q^a_n + 1{P^a_n >= P^a_{n-1}} q^a_{n-1};
//! `ofi` = sum of e_n over the states of the minute (base quantity; positive
//! = net buying pressure). A side that is empty in either state contributes
//! nothing; after an invalidation the next state starts a new chain.

use super::family::BookFamily;
use super::view::{TopView, UpdateStats};

/// OFI family.
#[derive(Debug, Clone)]
pub struct Ofi {
    prev: Option<(f64, f64, f64, f64)>,
    sum: f64,
}

impl Default for Ofi {
    fn default() -> Self {
        Self { prev: None, sum: 0.0 }
    }
}

impl BookFamily for Ofi {
    fn names(&self) -> &'static [&'static str] {
        &["ofi"]
    }
    fn on_state(&mut self, v: &TopView, _stats: &UpdateStats) {
        if let Some((pb, qb, pa, qa)) = self.prev {
            let mut e = 0.0;
            if pb.is_finite() && v.bid.is_finite() {
                if v.bid >= pb {
                    e += v.bid_qty;
                }
                if v.bid <= pb {
                    e -= qb;
                }
            }
            if pa.is_finite() && v.ask.is_finite() {
                if v.ask <= pa {
                    e -= v.ask_qty;
                }
                if v.ask >= pa {
                    e += qa;
                }
            }
            self.sum += e;
        }
        self.prev = Some((v.bid, v.bid_qty, v.ask, v.ask_qty));
    }
    fn invalidate(&mut self) {
        self.prev = None;
    }
    fn close(&mut self, out: &mut [f64]) {
        out[0] = self.sum;
        self.sum = 0.0;
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}
