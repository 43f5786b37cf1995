//! The running state of one open window.

use crate::candle::{Candle, PairId};
use crate::id_set::IdSet;
use crate::trade::{Side, HASHED_BIT};

/// Accumulates the trades of one open window of one pair.
///
/// Open and close are chosen by (event time, order key): the order key of a
/// numeric trade id is the id itself (exchanges number trades in their order),
/// so out-of-order arrival within the grace period yields the same open, high,
/// low, close and count. A string id that is not a number is only a hash and
/// says nothing of order: such a trade's order key is its arrival index in the
/// window (with the top bit set, after every numeric id of the same ms), so
/// trades of the same event time keep the order the source gave them (file
/// order, or the exchange's sequence; a pair's stream is ordered end to end).
/// Sums are added in arrival order (so they are reproducible bit for bit for
/// one arrival order).
#[derive(Clone, Debug)]
pub(crate) struct WindowAcc {
    pub(crate) start_ms: i64,
    pub(crate) open: f64,
    pub(crate) open_at: (i64, u64),
    pub(crate) high: f64,
    pub(crate) low: f64,
    pub(crate) close: f64,
    pub(crate) close_at: (i64, u64),
    pub(crate) volume: f64,
    pub(crate) buy_volume: f64,
    pub(crate) sell_volume: f64,
    /// Σ price·qty.
    pub(crate) notional: f64,
    pub(crate) trade_count: u64,
    /// Keys of the trades in this window (duplicate detection).
    pub(crate) ids: IdSet,
}

impl WindowAcc {
    pub(crate) fn first(start_ms: i64, ts_ms: i64, key: u64, price: f64, qty: f64, side: Side) -> Self {
        let at = (ts_ms, order_key(key, 0));
        let mut w = Self {
            start_ms,
            open: price,
            open_at: at,
            high: price,
            low: price,
            close: price,
            close_at: at,
            volume: 0.0,
            buy_volume: 0.0,
            sell_volume: 0.0,
            notional: 0.0,
            trade_count: 0,
            ids: IdSet::default(),
        };
        w.add_sums(key, price, qty, side);
        w
    }

    pub(crate) fn add(&mut self, ts_ms: i64, key: u64, price: f64, qty: f64, side: Side) {
        let at = (ts_ms, order_key(key, self.trade_count));
        if at < self.open_at {
            self.open = price;
            self.open_at = at;
        }
        if at > self.close_at {
            self.close = price;
            self.close_at = at;
        }
        if price > self.high {
            self.high = price;
        }
        if price < self.low {
            self.low = price;
        }
        self.add_sums(key, price, qty, side);
    }

    fn add_sums(&mut self, key: u64, price: f64, qty: f64, side: Side) {
        self.volume += qty;
        self.notional += price * qty;
        match side {
            Side::Buy => self.buy_volume += qty,
            Side::Sell => self.sell_volume += qty,
            Side::Unknown => {}
        }
        self.trade_count += 1;
        self.ids.insert(key);
    }

    pub(crate) fn candle(&self, pair: PairId, interval_ms: i64) -> Candle {
        Candle {
            pair,
            window_start_ms: self.start_ms,
            window_end_ms: self.start_ms + interval_ms,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
            buy_volume: self.buy_volume,
            sell_volume: self.sell_volume,
            vwap: self.notional / self.volume,
            trade_count: self.trade_count,
            filled: false,
        }
    }
}

/// The tie-break between trades of the same event time (see [`WindowAcc`]):
/// a numeric id (top bit clear) is its own order; a hashed string id takes
/// the trade's arrival index in its window, top bit set.
#[inline]
fn order_key(key: u64, arrival: u64) -> u64 {
    if key & HASHED_BIT == 0 {
        key
    } else {
        HASHED_BIT | arrival
    }
}

/// A flat candle at the previous close for a window without trades.
pub(crate) fn filled_candle(pair: PairId, start_ms: i64, interval_ms: i64, last_close: f64) -> Candle {
    Candle {
        pair,
        window_start_ms: start_ms,
        window_end_ms: start_ms + interval_ms,
        open: last_close,
        high: last_close,
        low: last_close,
        close: last_close,
        volume: 0.0,
        buy_volume: 0.0,
        sell_volume: 0.0,
        vwap: last_close,
        trade_count: 0,
        filled: true,
    }
}
