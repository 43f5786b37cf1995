//! Columnar batches: many trades in, one call.

use std::fmt;

use crate::aggregator::Late;
use crate::candle::Candle;
use crate::trade::RejectReason;

/// Trade ids of a batch, one column.
#[derive(Clone, Copy, Debug)]
pub enum TradeIdColumn<'a> {
    /// Whole-number ids ≥ 0 (a `BigInt64Array`).
    I64(&'a [i64]),
    /// Whole-number ids 0..=2^53 (a `Float64Array`).
    F64(&'a [f64]),
    /// String ids (canonical decimals share keys with numeric ids; see [`crate::TradeIdIn`]).
    Str(&'a [String]),
    /// String ids concatenated: row i is `text[ends[i - 1]..ends[i]]` (byte offsets, the
    /// first from 0), read as [`TradeIdColumn::Str`] reads it. A range out of bounds, not on
    /// character boundaries or decreasing gives an empty id (rejected as a bad trade id).
    Joined {
        /// The ids, one after the other.
        text: &'a str,
        /// Per row: the end of its id in `text` (UTF-8 byte offset).
        ends: &'a [u32],
    },
    /// Per row: the id's key, as [`crate::TradeIdIn::key`] computes it (a trade file's parser
    /// computes it while reading the id).
    Keys(&'a [u64]),
}

/// A batch of trades as parallel columns (all of one length).
#[derive(Clone, Copy, Debug)]
pub struct TradeColumns<'a> {
    /// When present, must equal the aggregator's exchange (checked once).
    pub exchange: Option<&'a str>,
    /// Pair names; rows refer to them by index.
    pub pairs: &'a [String],
    /// Per row: index into `pairs`.
    pub pair_idx: &'a [u32],
    /// Per row: trade id.
    pub trade_ids: TradeIdColumn<'a>,
    /// Per row: price.
    pub prices: &'a [f64],
    /// Per row: quantity.
    pub qtys: &'a [f64],
    /// Per row: 0 = unknown, 1 = buy, 2 = sell.
    pub sides: &'a [u8],
    /// Per row: event time, whole ms since the epoch.
    pub ts_ms: &'a [f64],
}

/// A late row of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LateRow {
    /// Row index in the batch.
    pub row: u32,
    /// Details, as for a single trade.
    pub late: Late,
}

/// Everything one batch produced, in row order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchOutcome {
    /// Closed candles, in emission order.
    pub candles: Vec<Candle>,
    /// Rows added to a window.
    pub accepted: u64,
    /// Rows ignored as duplicates.
    pub duplicate_rows: Vec<u32>,
    /// Rows whose window had closed.
    pub late: Vec<LateRow>,
    /// Rows rejected, with the reason.
    pub rejected: Vec<(u32, RejectReason)>,
}

/// A batch whose shape is wrong; no row was processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// The columns differ in length.
    LengthMismatch,
    /// More than 2^32 − 1 rows.
    TooManyRows,
    /// The batch names another exchange than the aggregator's.
    ExchangeMismatch,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BatchError::LengthMismatch => "batch columns must all have the same length",
            BatchError::TooManyRows => "a batch holds at most 4294967295 rows",
            BatchError::ExchangeMismatch => "batch exchange differs from the aggregator's exchange",
        })
    }
}

impl std::error::Error for BatchError {}
