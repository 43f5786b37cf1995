//! tickcast-aggregator: trades into OHLCV candles per pair, in event-time
//! tumbling windows with a grace period, late-trade reporting, duplicate
//! detection with bounded memory, and filled candles for quiet windows.
//!
//! A plain library: it never reads a clock and knows nothing of Node. The
//! napi-rs binding in `node/` converts types and forwards to [`Aggregator`].
//!
//! ```
//! use tickcast_aggregator::{Aggregator, AggregatorConfig, SideIn, TradeIdIn, TradeIn};
//! let mut agg = Aggregator::new(AggregatorConfig::new("kraken")).expect("valid config");
//! let mut out = Vec::new();
//! let t = TradeIn { exchange: None, pair: "BTC/USD", trade_id: TradeIdIn::Str("1"),
//!     price: 100.0, qty: 2.0, side: SideIn::Name("buy"), ts_ms: 60_000.0 };
//! agg.push(&t, &mut out).expect("valid trade");
//! agg.advance_watermark(None, 120_000.0, &mut out).expect("valid watermark");
//! assert_eq!(out.len(), 1);
//! assert_eq!((out[0].window_start_ms, out[0].close, out[0].volume), (60_000, 100.0, 2.0));
//! ```

mod aggregator;
mod batch;
mod candle;
mod config;
mod csv;
mod id_set;
mod recent_ids;
mod snapshot;
mod trade;
mod window;

pub use aggregator::{Aggregator, Late, Outcome, Stats, WatermarkError};
pub use batch::{BatchError, BatchOutcome, LateRow, TradeColumns, TradeIdColumn};
pub use candle::{Candle, PairId};
pub use config::*;
pub use csv::{parse_and_push, push_parsed, CsvError, CsvFormat, ParsedBatch, ParsedPush, ParsedStep, Stop, TradeCsvParser, LONG_LINE_MARK, LONG_LINE_PREFIX, MAX_LINE, MAX_TRADE_TS_MS};
pub use snapshot::{SnapshotError, PAIR_SNAPSHOT_FORMAT, SNAPSHOT_FORMAT};
pub use trade::{epoch_ms, valid_pair, RejectReason, Side, SideIn, TradeIdIn, TradeIn};
