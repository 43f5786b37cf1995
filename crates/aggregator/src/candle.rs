//! The closed-window output.

/// Index of a pair in its aggregator's pair table (stable for the aggregator's
/// life and across snapshot/restore; see [`crate::Aggregator::pair_name`]).
pub type PairId = u32;

/// One closed window of one pair. With the aggregator's exchange and interval
/// it maps 1:1 onto the contract's `Candle` message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candle {
    /// The pair (see [`crate::Aggregator::pair_name`]).
    pub pair: PairId,
    /// Window start, inclusive, ms since the epoch (a multiple of the interval).
    pub window_start_ms: i64,
    /// Window end, exclusive: a trade at exactly this time belongs to the next window.
    pub window_end_ms: i64,
    /// Price of the earliest trade (event time, then trade key as tie-break).
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Price of the latest trade (event time, then trade key as tie-break).
    pub close: f64,
    /// Sum of quantities.
    pub volume: f64,
    /// Sum of taker-buy quantities.
    pub buy_volume: f64,
    /// Sum of taker-sell quantities.
    pub sell_volume: f64,
    /// Σ price·qty / Σ qty (the previous close for a filled candle).
    pub vwap: f64,
    /// Number of trades.
    pub trade_count: u64,
    /// True for a window without trades: flat at the previous close.
    pub filled: bool,
}
