//! The top of a book as the feature families read it, computed once per
//! book state.

use crate::book::{Book, BookSide};
use crate::scale::Scale;

/// Levels summed by the deepest depth feature.
pub const VIEW_LEVELS: usize = 10;

/// Best quotes and cumulative depth of one book state, in prices and base
/// quantities (f64). A missing side has NaN prices and zero depth.
#[derive(Debug, Clone, Copy)]
pub struct TopView {
    /// Best bid price (NaN if no bid).
    pub bid: f64,
    /// Quantity at the best bid (0 if none).
    pub bid_qty: f64,
    /// Best ask price (NaN if no ask).
    pub ask: f64,
    /// Quantity at the best ask (0 if none).
    pub ask_qty: f64,
    /// `bid_depth[k]`: summed quantity of the best k+1 bid levels (k < 10).
    pub bid_depth: [f64; VIEW_LEVELS],
    /// The same for asks.
    pub ask_depth: [f64; VIEW_LEVELS],
}

impl TopView {
    /// The view of a book.
    pub fn of(book: &Book, scale: &Scale) -> Self {
        let mut v = Self {
            bid: f64::NAN,
            bid_qty: 0.0,
            ask: f64::NAN,
            ask_qty: 0.0,
            bid_depth: [0.0; VIEW_LEVELS],
            ask_depth: [0.0; VIEW_LEVELS],
        };
        for (side, depth) in [(BookSide::Bid, &mut v.bid_depth), (BookSide::Ask, &mut v.ask_depth)] {
            let mut sum = 0.0;
            for (i, slot) in depth.iter_mut().enumerate() {
                if let Some((_, lots)) = book.level(side, i) {
                    sum += scale.qty(lots);
                }
                *slot = sum;
            }
        }
        if let Some((t, q)) = book.level(BookSide::Bid, 0) {
            v.bid = scale.price(t);
            v.bid_qty = scale.qty(q);
        }
        if let Some((t, q)) = book.level(BookSide::Ask, 0) {
            v.ask = scale.price(t);
            v.ask_qty = scale.qty(q);
        }
        v
    }

    /// Ask minus bid (NaN if a side is empty).
    #[inline]
    pub fn spread(&self) -> f64 {
        self.ask - self.bid
    }

    /// Per-level quantities (not cumulative) of a side: level i = depth[i] - depth[i-1].
    #[inline]
    pub fn level_qty(depth: &[f64; VIEW_LEVELS], i: usize) -> f64 {
        if i == 0 {
            depth[0]
        } else {
            depth[i] - depth[i - 1]
        }
    }
}

/// What one book message changed, for the update counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateStats {
    /// Price levels in the message (snapshot levels included).
    pub levels: u32,
    /// Of which with quantity 0 (deletions).
    pub deletes: u32,
}
