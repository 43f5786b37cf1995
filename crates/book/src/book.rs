//! A price-level (L2) order book: two sorted sides of (price ticks, qty lots).
//!
//! Each side is a vector sorted so that the best level is the last element:
//! most updates touch the top of the book, where inserting or removing moves
//! few elements. A side holds at most `depth` levels when a depth is set (the
//! worst are dropped by [`Book::truncate`], as Kraken's v2 feed requires).

/// Bid or ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookSide {
    /// Buy orders, best = highest price.
    Bid,
    /// Sell orders, best = lowest price.
    Ask,
}

/// One side: levels sorted by key ascending, best last. The key is the price
/// in ticks for bids and its negation for asks, so "best" is always the
/// largest key.
#[derive(Debug, Clone, Default)]
struct Side {
    keys: Vec<i64>,
    lots: Vec<i64>,
}

impl Side {
    /// Sets a level; 0 lots deletes it (deleting an absent level is a no-op,
    /// which Binance documents as normal). Returns true when a level was
    /// deleted or was asked to be.
    #[inline]
    fn set(&mut self, key: i64, lots: i64) -> bool {
        // Search from the top: updates cluster at the best prices.
        let n = self.keys.len();
        if n > 0 && key > self.keys[n - 1] {
            if lots > 0 {
                self.keys.push(key);
                self.lots.push(lots);
            }
            return lots == 0;
        }
        match self.keys.binary_search(&key) {
            Ok(i) => {
                if lots == 0 {
                    self.keys.remove(i);
                    self.lots.remove(i);
                } else {
                    self.lots[i] = lots;
                }
            }
            Err(i) => {
                if lots > 0 {
                    self.keys.insert(i, key);
                    self.lots.insert(i, lots);
                }
            }
        }
        lots == 0
    }

    fn truncate(&mut self, depth: usize) {
        let n = self.keys.len();
        if n > depth {
            self.keys.drain(0..n - depth);
            self.lots.drain(0..n - depth);
        }
    }

    fn clear(&mut self) {
        self.keys.clear();
        self.lots.clear();
    }

    /// The i-th best level (0 = best) as (key, lots).
    #[inline]
    fn nth(&self, i: usize) -> Option<(i64, i64)> {
        let n = self.keys.len();
        (i < n).then(|| (self.keys[n - 1 - i], self.lots[n - 1 - i]))
    }
}

/// An L2 book in integer ticks and lots.
#[derive(Debug, Clone, Default)]
pub struct Book {
    bids: Side,
    asks: Side,
    depth: Option<usize>,
}

impl Book {
    /// An empty book keeping at most `depth` levels per side (None: all).
    pub fn new(depth: Option<usize>) -> Self {
        Self { bids: Side::default(), asks: Side::default(), depth }
    }

    /// The configured depth.
    pub fn depth(&self) -> Option<usize> {
        self.depth
    }

    /// Sets one level (`lots == 0` deletes it). Returns true for a deletion.
    #[inline]
    pub fn set(&mut self, side: BookSide, price_ticks: i64, lots: i64) -> bool {
        match side {
            BookSide::Bid => self.bids.set(price_ticks, lots),
            BookSide::Ask => self.asks.set(-price_ticks, lots),
        }
    }

    /// Drops the worst levels beyond the configured depth.
    pub fn truncate(&mut self) {
        if let Some(d) = self.depth {
            self.bids.truncate(d);
            self.asks.truncate(d);
        }
    }

    /// Removes every level.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Number of levels on a side.
    pub fn len(&self, side: BookSide) -> usize {
        match side {
            BookSide::Bid => self.bids.keys.len(),
            BookSide::Ask => self.asks.keys.len(),
        }
    }

    /// True when both sides are empty.
    pub fn is_empty(&self) -> bool {
        self.bids.keys.is_empty() && self.asks.keys.is_empty()
    }

    /// The i-th best level of a side (0 = best) as (price ticks, lots).
    #[inline]
    pub fn level(&self, side: BookSide, i: usize) -> Option<(i64, i64)> {
        match side {
            BookSide::Bid => self.bids.nth(i),
            BookSide::Ask => self.asks.nth(i).map(|(k, q)| (-k, q)),
        }
    }

    /// Up to `n` best levels of a side, best first.
    pub fn top(&self, side: BookSide, n: usize) -> Vec<(i64, i64)> {
        (0..n).map_while(|i| self.level(side, i)).collect()
    }
}
