//! @tickcast/aggregator: the napi-rs binding of `tickcast-aggregator`.
//!
//! Thin by design: it converts JS values to the core's types and back, maps
//! core errors to JS errors with a `code`, and forwards. No arithmetic here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use napi::bindgen_prelude::{AsyncTask, BigInt64Array, Either, Either3, Float64Array, Uint32Array, Uint8Array};
use napi::{Env, Task};
use napi::Error;
use napi_derive::napi;
use tickcast_aggregator as core;

/// Error codes of the JS errors thrown by this package (`err.code`).
pub enum Code {
    /// Options out of range.
    InvalidOptions,
    /// A trade was rejected (the message starts with the reason code, e.g. `bad_price:`).
    BadTrade,
    /// Batch columns of unequal length, too many rows, or another exchange.
    BadBatch,
    /// A watermark that is not a whole ms in range, or an invalid pair.
    BadWatermark,
    /// A snapshot that cannot be restored.
    BadSnapshot,
    /// A trade CSV parser used out of order (no format, input after its end) or given an unknown format.
    BadCsv,
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::InvalidOptions => "TICKCAST_AGG_INVALID_OPTIONS",
            Code::BadTrade => "TICKCAST_AGG_BAD_TRADE",
            Code::BadBatch => "TICKCAST_AGG_BAD_BATCH",
            Code::BadWatermark => "TICKCAST_AGG_BAD_WATERMARK",
            Code::BadSnapshot => "TICKCAST_AGG_BAD_SNAPSHOT",
            Code::BadCsv => "TICKCAST_AGG_BAD_CSV",
        }
    }
}

type Result<T> = std::result::Result<T, Error<Code>>;

fn err(code: Code, msg: impl ToString) -> Error<Code> {
    Error::new(code, msg)
}

/// Aggregator options. Every field but `exchange` is optional.
#[napi(object)]
pub struct AggregatorOptions {
    /// Exchange written into every candle; trades naming another exchange are rejected. 1..=32 characters.
    pub exchange: String,
    /// Window length in seconds, 1..=86400. Default 60.
    pub interval_s: Option<f64>,
    /// Grace period in ms of event time, 0..=86400000. Default 5000.
    pub grace_ms: Option<f64>,
    /// Most consecutive filled candles of a silent pair before it goes dormant (0 = never fill). Default 10080.
    pub max_fill_windows: Option<f64>,
    /// Trade ids of closed windows remembered per pair (late-duplicate detection), 0..=10000000. Default 65536.
    pub recent_ids_per_pair: Option<f64>,
    /// Most distinct pairs, 1..=65536. Default 1024.
    pub max_pairs: Option<f64>,
}

fn whole_u32(field: &str, v: Option<f64>, default: u32) -> Result<u32> {
    match v {
        None => Ok(default),
        Some(x) if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) => Ok(x as u32),
        Some(x) => Err(err(Code::InvalidOptions, format!("invalid aggregator option {field}: {x} is not a whole number ≥ 0"))),
    }
}

impl TryFrom<AggregatorOptions> for core::AggregatorConfig {
    type Error = Error<Code>;

    fn try_from(o: AggregatorOptions) -> Result<Self> {
        let config = core::AggregatorConfig {
            interval_s: whole_u32("intervalS", o.interval_s, core::DEFAULT_INTERVAL_S)?,
            grace_ms: u64::from(whole_u32("graceMs", o.grace_ms, core::DEFAULT_GRACE_MS as u32)?),
            max_fill_windows: whole_u32("maxFillWindows", o.max_fill_windows, core::DEFAULT_MAX_FILL_WINDOWS)?,
            recent_ids_per_pair: whole_u32("recentIdsPerPair", o.recent_ids_per_pair, core::DEFAULT_RECENT_IDS_PER_PAIR)?,
            max_pairs: whole_u32("maxPairs", o.max_pairs, core::DEFAULT_MAX_PAIRS)?,
            exchange: o.exchange,
        };
        config.validate().map_err(|e| err(Code::InvalidOptions, e))?;
        Ok(config)
    }
}

/// One trade: the contract's `Trade` message (exchange optional; trade_id may also be a number).
#[napi(object)]
pub struct TradeInput {
    /// When present, must equal the aggregator's exchange.
    pub exchange: Option<String>,
    /// `BASE/QUOTE`, e.g. `BTC/USD`.
    pub pair: String,
    /// Trade id: a string, or a whole number 0..=2^53.
    #[napi(js_name = "trade_id")]
    pub trade_id: Either<String, f64>,
    /// Price, > 0.
    pub price: f64,
    /// Quantity, > 0.
    pub qty: f64,
    /// `buy`, `sell` or `unknown` (taker side).
    pub side: String,
    /// Event time, whole ms since the epoch.
    #[napi(js_name = "ts_ms")]
    pub ts_ms: f64,
}

/// A closed window: the contract's `Candle` message, field for field.
#[napi(object)]
pub struct Candle {
    /// Exchange.
    pub exchange: String,
    /// Pair.
    pub pair: String,
    /// Window length in seconds.
    #[napi(js_name = "interval_s")]
    pub interval_s: u32,
    /// Window start, inclusive (ms).
    #[napi(js_name = "window_start_ms")]
    pub window_start_ms: f64,
    /// Window end, exclusive (ms).
    #[napi(js_name = "window_end_ms")]
    pub window_end_ms: f64,
    /// First price (by event time, then numeric trade id, else arrival order).
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price (by event time, then numeric trade id, else arrival order).
    pub close: f64,
    /// Total quantity.
    pub volume: f64,
    /// Taker-buy quantity.
    #[napi(js_name = "buy_volume")]
    pub buy_volume: f64,
    /// Taker-sell quantity.
    #[napi(js_name = "sell_volume")]
    pub sell_volume: f64,
    /// Volume-weighted average price (previous close when filled).
    pub vwap: f64,
    /// Number of trades.
    #[napi(js_name = "trade_count")]
    pub trade_count: f64,
    /// True when the window had no trades.
    pub filled: bool,
}

/// The result of `push`.
#[napi(object)]
pub struct PushResult {
    /// What happened to the trade: `accepted`, `duplicate` (ignored), `late` (window
    /// closed: not merged) or `late_duplicate` (window closed and id remembered: a replay).
    /// Rejected trades throw instead (code `TICKCAST_AGG_BAD_TRADE`).
    #[napi(ts_type = "'accepted' | 'duplicate' | 'late' | 'late_duplicate'")]
    pub outcome: String,
    /// Windows closed by this trade (usually none), oldest first.
    pub candles: Vec<Candle>,
    /// For late trades: start of the closed window the trade belongs to.
    pub late_window_start_ms: Option<f64>,
    /// For late trades: the pair's watermark when it arrived.
    pub watermark_ms: Option<f64>,
}

/// Trades as columns of one length; rows name their pair by index into `pairs`.
#[napi(object)]
pub struct TradeBatch {
    /// When present, must equal the aggregator's exchange.
    pub exchange: Option<String>,
    /// Pair names (`BASE/QUOTE`).
    pub pairs: Vec<String>,
    /// Per row: index into `pairs`.
    pub pair_idx: Uint32Array,
    /// Per row: trade id (BigInt64Array and Float64Array: whole numbers ≥ 0; strings: as for `push`).
    /// Ignored when `tradeIdsText` and `tradeIdEnds` are given.
    pub trade_ids: Either3<BigInt64Array, Float64Array, Vec<String>>,
    /// String ids concatenated into one string (one conversion instead of one per row), with
    /// `tradeIdEnds`: row i's id is the UTF-8 bytes `tradeIdEnds[i - 1]..tradeIdEnds[i]` of it
    /// (from 0 for the first row); read as the strings of `tradeIds` are. A range out of
    /// bounds or not on character boundaries is an empty id (rejected as a bad trade id).
    pub trade_ids_text: Option<String>,
    /// Per row: the end (UTF-8 byte offset) of its id in `tradeIdsText`.
    pub trade_id_ends: Option<Uint32Array>,
    /// Per row: price.
    pub prices: Float64Array,
    /// Per row: quantity.
    pub qtys: Float64Array,
    /// Per row: 0 = unknown, 1 = buy, 2 = sell.
    pub sides: Uint8Array,
    /// Per row: event time, whole ms since the epoch.
    pub ts_ms: Float64Array,
}

/// Closed candles as columns: row i is one `Candle` (pair = `pairs[pairIdx[i]]`, filled = `filled[i] === 1`).
#[napi(object)]
pub struct CandleColumns {
    /// Exchange of every row.
    pub exchange: String,
    /// Window length of every row, seconds.
    pub interval_s: u32,
    /// Every pair the aggregator knows, indexed by `pairIdx`.
    pub pairs: Vec<String>,
    /// Per row: index into `pairs`.
    pub pair_idx: Uint32Array,
    /// Per row: window start (ms, inclusive).
    pub window_start_ms: Float64Array,
    /// Per row: window end (ms, exclusive).
    pub window_end_ms: Float64Array,
    /// Per row: open.
    pub open: Float64Array,
    /// Per row: high.
    pub high: Float64Array,
    /// Per row: low.
    pub low: Float64Array,
    /// Per row: close.
    pub close: Float64Array,
    /// Per row: volume.
    pub volume: Float64Array,
    /// Per row: taker-buy volume.
    pub buy_volume: Float64Array,
    /// Per row: taker-sell volume.
    pub sell_volume: Float64Array,
    /// Per row: VWAP.
    pub vwap: Float64Array,
    /// Per row: trade count.
    pub trade_count: Float64Array,
    /// Per row: 1 when filled, else 0.
    pub filled: Uint8Array,
}

/// The result of `pushBatch`; row numbers refer to the input batch.
#[napi(object)]
pub struct BatchResult {
    /// Windows closed by the batch, in emission order.
    pub candles: CandleColumns,
    /// Rows added to a window.
    pub accepted: f64,
    /// Rows ignored as duplicates.
    pub duplicate_rows: Uint32Array,
    /// Late rows (window already closed; not merged).
    pub late_rows: Uint32Array,
    /// Per late row: start of its closed window.
    pub late_window_start_ms: Float64Array,
    /// Per late row: 1 when its id was remembered (a replay), else 0.
    pub late_duplicate: Uint8Array,
    /// Rejected rows.
    pub rejected_rows: Uint32Array,
    /// Per rejected row: reason code (`bad_price`, `bad_qty`, `bad_time`, ...).
    pub rejected_reasons: Vec<String>,
}

/// Counters since construction or restore.
#[napi(object)]
pub struct AggregatorStats {
    /// Trades added to a window.
    pub accepted: f64,
    /// Duplicates ignored.
    pub duplicates: f64,
    /// Late trades (id not remembered).
    pub late: f64,
    /// Late trades whose id was remembered.
    pub late_duplicates: f64,
    /// Rejected trades, all reasons.
    pub rejected: f64,
    /// Rejected trades by reason code.
    pub rejected_by_reason: BTreeMap<String, f64>,
    /// Candles emitted (filled included).
    pub candles: f64,
    /// Filled candles emitted.
    pub filled_candles: f64,
    /// Times a pair went dormant after maxFillWindows filled candles.
    pub dormant: f64,
}

/// Trades to OHLCV candles per pair in event-time windows (see README.md).
#[napi]
pub struct Aggregator {
    /// Shared with a `parseAndPush` task while it runs on the thread pool.
    inner: Arc<Mutex<core::Aggregator>>,
}

#[napi]
impl Aggregator {
    /// A new aggregator; throws `TICKCAST_AGG_INVALID_OPTIONS` on bad options.
    #[napi(constructor)]
    pub fn new(options: AggregatorOptions) -> Result<Self> {
        let config = core::AggregatorConfig::try_from(options)?;
        let inner = core::Aggregator::new(config).map_err(|e| err(Code::InvalidOptions, e))?;
        Ok(Self { inner: Arc::new(Mutex::new(inner)) })
    }

    /// Resumes from `snapshot()` output; throws `TICKCAST_AGG_BAD_SNAPSHOT`.
    #[napi(factory)]
    pub fn restore(snapshot: String) -> Result<Self> {
        let inner = core::Aggregator::restore(&snapshot).map_err(|e| err(Code::BadSnapshot, e))?;
        Ok(Self { inner: Arc::new(Mutex::new(inner)) })
    }

    /// The core (waits for a running `parseAndPush` task; the core never panics, so a poisoned
    /// lock still holds a consistent state).
    fn core(&self) -> MutexGuard<'_, core::Aggregator> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The whole state as JSON (counters excluded).
    #[napi]
    pub fn snapshot(&self) -> String {
        self.core().snapshot()
    }

    /// One pair's state as JSON (open windows, watermark, remembered ids), or null for an unseen pair.
    #[napi]
    pub fn snapshot_pair(&self, pair: String) -> Option<String> {
        self.core().snapshot_pair(&pair)
    }

    /// `snapshotPair()` in two parts: `[live, recentIds]`, the state without the remembered ids of closed
    /// windows (changes with every trade, small) and those ids (change only when a window with trades closes);
    /// null for an unseen pair. `restorePair(live, recentIds)` takes them back.
    #[napi(ts_return_type = "[string, string] | null")]
    pub fn snapshot_pair_parts(&self, pair: String) -> Option<Vec<String>> {
        self.core().snapshot_pair_parts(&pair).map(|(a, b)| vec![a, b])
    }

    /// Sets one pair's state from `snapshotPair()` output, or from `snapshotPairParts()`' two parts (replacing it if present; other pairs untouched)
    /// and returns the pair's name; throws `TICKCAST_AGG_BAD_SNAPSHOT` (nothing changed).
    #[napi]
    pub fn restore_pair(&mut self, snapshot: String, recent_ids: Option<String>) -> Result<String> {
        let mut agg = self.core();
        match recent_ids {
            None => agg.restore_pair(&snapshot),
            Some(r) => agg.restore_pair_parts(&snapshot, Some(&r)),
        }
        .map_err(|e| err(Code::BadSnapshot, e))
    }

    /// Feeds one trade. Throws `TICKCAST_AGG_BAD_TRADE` (message `<reason>: ...`) for a rejected trade.
    #[napi]
    pub fn push(&mut self, trade: TradeInput) -> Result<PushResult> {
        let trade_id = match &trade.trade_id {
            Either::A(s) => core::TradeIdIn::Str(s),
            Either::B(n) => core::TradeIdIn::F64(*n),
        };
        let t = core::TradeIn {
            exchange: trade.exchange.as_deref(),
            pair: &trade.pair,
            trade_id,
            price: trade.price,
            qty: trade.qty,
            side: core::SideIn::Name(&trade.side),
            ts_ms: trade.ts_ms,
        };
        let mut out = Vec::new();
        let mut agg = self.core();
        let outcome = agg.push(&t, &mut out).map_err(|r| err(Code::BadTrade, r))?;
        let (outcome, late) = match outcome {
            core::Outcome::Accepted => ("accepted", None),
            core::Outcome::Duplicate => ("duplicate", None),
            core::Outcome::Late(l) if l.duplicate => ("late_duplicate", Some(l)),
            core::Outcome::Late(l) => ("late", Some(l)),
        };
        Ok(PushResult {
            outcome: outcome.to_owned(),
            candles: candles(&agg, &out),
            late_window_start_ms: late.map(|l| l.window_start_ms as f64),
            watermark_ms: late.map(|l| l.watermark_ms as f64),
        })
    }

    /// Feeds a batch of trades in columns, in one call. Throws `TICKCAST_AGG_BAD_BATCH`
    /// before reading any row if the columns differ in length.
    #[napi]
    pub fn push_batch(&mut self, batch: TradeBatch) -> Result<BatchResult> {
        let trade_ids = match (&batch.trade_ids_text, &batch.trade_id_ends) {
            (Some(text), Some(ends)) => core::TradeIdColumn::Joined { text, ends },
            _ => match &batch.trade_ids {
                Either3::A(v) => core::TradeIdColumn::I64(v),
                Either3::B(v) => core::TradeIdColumn::F64(v),
                Either3::C(v) => core::TradeIdColumn::Str(v),
            },
        };
        let cols = core::TradeColumns {
            exchange: batch.exchange.as_deref(),
            pairs: &batch.pairs,
            pair_idx: &batch.pair_idx,
            trade_ids,
            prices: &batch.prices,
            qtys: &batch.qtys,
            sides: &batch.sides,
            ts_ms: &batch.ts_ms,
        };
        let mut out = core::BatchOutcome::default();
        let mut agg = self.core();
        agg.push_columns(&cols, &mut out).map_err(|e| err(Code::BadBatch, e))?;
        Ok(batch_result(&agg, &out, |r| r))
    }

    /// Reads the next batch of `parser` (as its `next`) and feeds it to this aggregator, on the
    /// thread pool: JavaScript goes on meanwhile (a file import stores the previous batch's
    /// candles). The parser and this aggregator wait for the task if called before it is done.
    /// `skipRows` rows of the batch are left out first (the rest of a resumed import's skip).
    #[napi(ts_return_type = "Promise<ParsedStep>")]
    pub fn parse_and_push(&self, parser: &TradeCsvParser, max_rows: u32, max_ts_ms: f64, skip_rows: f64, from_ms: Option<f64>, to_ms: Option<f64>) -> AsyncTask<ParseAndPush> {
        AsyncTask::new(ParseAndPush {
            agg: Arc::clone(&self.inner),
            parser: Arc::clone(&parser.inner),
            max_rows: max_rows as usize,
            max_ts: ts_limit(max_ts_ms),
            skip: if skip_rows.is_finite() && skip_rows > 0.0 { skip_rows as usize } else { 0 },
            from_ms,
            to_ms,
        })
    }

    /// Raises the watermark of `pair` (or of every pair when omitted) to
    /// `watermarkMs` and returns the windows that close. The caller picks the
    /// value (e.g. wall clock − grace when the market is quiet). Throws
    /// `TICKCAST_AGG_BAD_WATERMARK`.
    #[napi]
    pub fn advance_watermark(&mut self, watermark_ms: f64, pair: Option<String>) -> Result<Vec<Candle>> {
        let mut out = Vec::new();
        let mut agg = self.core();
        agg.advance_watermark(pair.as_deref(), watermark_ms, &mut out).map_err(|e| err(Code::BadWatermark, e))?;
        Ok(candles(&agg, &out))
    }

    /// The watermark of a pair, or null before any time input for it.
    #[napi]
    pub fn watermark_ms(&self, pair: String) -> Option<f64> {
        self.core().watermark_ms(&pair).map(|w| w as f64)
    }

    /// Counters since construction or restore.
    #[napi]
    pub fn stats(&self) -> AggregatorStats {
        let agg = self.core();
        let s = agg.stats();
        AggregatorStats {
            accepted: s.accepted as f64,
            duplicates: s.duplicates as f64,
            late: s.late as f64,
            late_duplicates: s.late_duplicates as f64,
            rejected: s.rejected_total() as f64,
            rejected_by_reason: core::RejectReason::ALL
                .iter()
                .map(|r| (r.as_str().to_owned(), s.rejected[r.index()] as f64))
                .collect(),
            candles: s.candles as f64,
            filled_candles: s.filled_candles as f64,
            dormant: s.dormant as f64,
        }
    }

}

fn candles(agg: &core::Aggregator, out: &[core::Candle]) -> Vec<Candle> {
    let cfg = agg.config();
    out.iter()
        .map(|c| Candle {
            exchange: cfg.exchange.clone(),
            pair: agg.pair_name(c.pair).unwrap_or_default().to_owned(),
            interval_s: cfg.interval_s,
            window_start_ms: c.window_start_ms as f64,
            window_end_ms: c.window_end_ms as f64,
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            volume: c.volume,
            buy_volume: c.buy_volume,
            sell_volume: c.sell_volume,
            vwap: c.vwap,
            trade_count: c.trade_count as f64,
            filled: c.filled,
        })
        .collect()
}

fn candle_columns(agg: &core::Aggregator, out: &[core::Candle]) -> CandleColumns {
    let cfg = agg.config();
    let col = |f: fn(&core::Candle) -> f64| Float64Array::new(out.iter().map(f).collect());
    CandleColumns {
        exchange: cfg.exchange.clone(),
        interval_s: cfg.interval_s,
        pairs: agg.pair_names().map(str::to_owned).collect(),
        pair_idx: Uint32Array::new(out.iter().map(|c| c.pair).collect()),
        window_start_ms: col(|c| c.window_start_ms as f64),
        window_end_ms: col(|c| c.window_end_ms as f64),
        open: col(|c| c.open),
        high: col(|c| c.high),
        low: col(|c| c.low),
        close: col(|c| c.close),
        volume: col(|c| c.volume),
        buy_volume: col(|c| c.buy_volume),
        sell_volume: col(|c| c.sell_volume),
        vwap: col(|c| c.vwap),
        trade_count: col(|c| c.trade_count as f64),
        filled: Uint8Array::new(out.iter().map(|c| u8::from(c.filled)).collect()),
    }
}

/// A batch outcome for JS, its rows as rows of the caller's batch.
fn batch_result(agg: &core::Aggregator, out: &core::BatchOutcome, row: impl Fn(u32) -> u32) -> BatchResult {
    BatchResult {
        candles: candle_columns(agg, &out.candles),
        accepted: out.accepted as f64,
        duplicate_rows: Uint32Array::new(out.duplicate_rows.iter().map(|&r| row(r)).collect()),
        late_rows: Uint32Array::new(out.late.iter().map(|l| row(l.row)).collect()),
        late_window_start_ms: Float64Array::new(out.late.iter().map(|l| l.late.window_start_ms as f64).collect()),
        late_duplicate: Uint8Array::new(out.late.iter().map(|l| u8::from(l.late.duplicate)).collect()),
        rejected_rows: Uint32Array::new(out.rejected.iter().map(|r| row(r.0)).collect()),
        rejected_reasons: out.rejected.iter().map(|r| r.1.as_str().to_owned()).collect(),
    }
}

/// Options of a `TradeCsvParser`.
#[napi(object)]
pub struct TradeCsvParserOptions {
    /// The pair of every row of a single-pair format (absent or outside the contract: every row goes to the caller).
    pub pair: Option<String>,
    /// Key of synthetic trade ids (`<fileKey>:<n>`).
    pub file_key: String,
}

/// What `next` read.
#[napi(object)]
pub struct CsvNext {
    /// Why it stopped: the batch is full, `slowLine` is for the caller, more input is needed, the input is
    /// done, or a line over 1 MiB was skipped (`slowLine`: its first 200 bytes).
    #[napi(ts_type = "'full' | 'slow' | 'input' | 'end' | 'toolong'")]
    pub stop: String,
    /// Rows in the batch (read with `tradeAt` until the next call).
    pub rows: u32,
    /// With stop `slow`: the line (after the batch's rows) the caller's general reader must judge; with
    /// `toolong`: the first bytes of the skipped line.
    pub slow_line: Option<String>,
}

/// Rows of one pair in a batch.
#[napi(object)]
pub struct PairRows {
    /// Pair.
    pub pair: String,
    /// Rows.
    pub rows: u32,
}

/// A row of the batch, as the contract's trade fields (exchange left to the caller).
#[napi(object)]
pub struct ParsedTrade {
    /// Pair.
    pub pair: String,
    /// Trade id.
    #[napi(js_name = "trade_id")]
    pub trade_id: String,
    /// Price.
    pub price: f64,
    /// Quantity.
    pub qty: f64,
    /// `buy`, `sell` or `unknown`.
    #[napi(ts_type = "'buy' | 'sell' | 'unknown'")]
    pub side: String,
    /// Event time (ms).
    #[napi(js_name = "ts_ms")]
    pub ts_ms: f64,
}

/// Trade CSV bytes to trade columns: the fast path of a file import (see the crate's csv module).
/// Plainly valid rows become columns; any other line is returned for the caller's general reader.
#[napi]
pub struct TradeCsvParser {
    /// Shared with a `parseAndPush` task while it runs on the thread pool.
    inner: Arc<Mutex<core::TradeCsvParser>>,
}

#[napi]
impl TradeCsvParser {
    /// A parser of one file.
    #[napi(constructor)]
    pub fn new(options: TradeCsvParserOptions) -> Self {
        Self { inner: Arc::new(Mutex::new(core::TradeCsvParser::new(options.pair.as_deref(), &options.file_key))) }
    }

    /// The core (waits for a running `parseAndPush` task).
    fn core(&self) -> MutexGuard<'_, core::TradeCsvParser> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends bytes of the file. Throws `TICKCAST_AGG_BAD_CSV` after `end()`.
    #[napi]
    pub fn push(&mut self, chunk: Uint8Array) -> Result<()> {
        self.core().push(&chunk).map_err(|e| err(Code::BadCsv, e))
    }

    /// No more bytes.
    #[napi]
    pub fn end(&mut self) {
        self.core().end();
    }

    /// The first line once complete (taken from the input), else null (an empty file: null at its end).
    /// Throws `TICKCAST_AGG_BAD_CSV` when reading the file fails.
    #[napi]
    pub fn first_line(&mut self) -> Result<Option<String>> {
        self.core().first_line().map_err(|e| err(Code::BadCsv, e))
    }

    /// The parser reads the file at `path` itself, as it needs bytes (instead of `push` and
    /// `end`): no chunk crosses into JavaScript. Throws `TICKCAST_AGG_BAD_CSV` when it cannot be
    /// opened (the message says why) or input was given already.
    #[napi]
    pub fn read_file(&mut self, path: String) -> Result<()> {
        let f = std::fs::File::open(&path).map_err(|e| err(Code::BadCsv, format!("{path}: {e}")))?;
        self.core().read_from(Box::new(f)).map_err(|e| err(Code::BadCsv, e))
    }

    /// Sets the format (`kraken-history`, `bitcoincharts`, `ccxt`, `kraken-rest`, `kraken-rest-id`, `binance`, `mtgox`).
    #[napi]
    pub fn set_format(&mut self, format: String) -> Result<()> {
        let f = core::CsvFormat::from_name(&format).ok_or_else(|| err(Code::BadCsv, format!("unknown trade CSV format {format:?}")))?;
        self.core().set_format(f);
        Ok(())
    }

    /// Reads up to `maxRows` rows (see `CsvNext`); rows after `maxTsMs` go to the caller.
    #[napi]
    pub fn next(&mut self, max_rows: u32, max_ts_ms: f64) -> Result<CsvNext> {
        let mut p = self.core();
        let stop = p.next(max_rows as usize, ts_limit(max_ts_ms)).map_err(|e| err(Code::BadCsv, e))?;
        let rows = p.batch().len() as u32;
        let (stop, slow_line) = stop_name(stop);
        Ok(CsvNext { stop: stop.to_owned(), rows, slow_line })
    }

    /// The synthetic index of the next row of `pair` that the caller read itself; counts it.
    #[napi]
    pub fn synthetic_index(&mut self, pair: String) -> f64 {
        self.core().synthetic_index(&pair) as f64
    }

    /// What a ccxt `asset,currency` names (null: rows of it go to the caller).
    #[napi]
    pub fn set_ccxt_pair(&mut self, asset: String, currency: String, pair: Option<String>) {
        self.core().set_ccxt_pair(&asset, &currency, pair.as_deref());
    }

    /// Rows of the batch per pair (pairs without rows left out).
    #[napi]
    pub fn pair_counts(&self) -> Vec<PairRows> {
        let parser = self.core();
        let mut counts = vec![0u32; parser.pairs().len()];
        for &p in &parser.batch().pair_idx {
            if let Some(c) = counts.get_mut(p as usize) {
                *c += 1;
            }
        }
        parser
            .pairs()
            .iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(pair, rows)| PairRows { pair: pair.clone(), rows })
            .collect()
    }

    /// Row `row` of the batch, or null past its end.
    #[napi]
    pub fn trade_at(&self, row: u32) -> Option<ParsedTrade> {
        let parser = self.core();
        let b = parser.batch();
        let r = row as usize;
        if r >= b.len() {
            return None;
        }
        Some(ParsedTrade {
            pair: parser.pairs().get(b.pair_idx[r] as usize).cloned().unwrap_or_default(),
            trade_id: b.id(r).to_owned(),
            price: b.prices[r],
            qty: b.qtys[r],
            side: match b.sides[r] {
                1 => "buy",
                2 => "sell",
                _ => "unknown",
            }
            .to_owned(),
            ts_ms: b.ts_ms[r],
        })
    }
}

/// A stop as JS sees it: its name and the line that comes with it (`slow`, `toolong`).
fn stop_name(stop: core::Stop) -> (&'static str, Option<String>) {
    match stop {
        core::Stop::Full => ("full", None),
        core::Stop::Slow(line) => ("slow", Some(line)),
        core::Stop::NeedInput => ("input", None),
        core::Stop::End => ("end", None),
        core::Stop::TooLong(prefix) => ("toolong", Some(prefix)),
    }
}

/// The time limit of `next` as the core takes it: beyond the contract's maximum (or NaN) is no limit.
fn ts_limit(max_ts_ms: f64) -> i64 {
    if max_ts_ms.is_nan() || max_ts_ms >= core::MAX_TRADE_TS_MS as f64 {
        core::MAX_TRADE_TS_MS
    } else {
        max_ts_ms.floor().max(-1.0) as i64
    }
}

/// What `parseAndPush` did.
#[napi(object)]
pub struct ParsedStep {
    /// As `CsvNext.stop`. With `input` nothing was fed: the batch fills on with the next call.
    #[napi(ts_type = "'full' | 'slow' | 'input' | 'end' | 'toolong'")]
    pub stop: String,
    /// Rows in the batch (read with `tradeAt` until the next call).
    pub rows: u32,
    /// With stop `slow`: the line after the batch's rows, for the caller's general reader; with
    /// `toolong`: the first bytes of the skipped line.
    pub slow_line: Option<String>,
    /// Rows left out as the rest of `skipRows`.
    pub skipped: u32,
    /// What the fed rows did (row numbers are rows of the batch).
    pub result: BatchResult,
    /// Rows fed (after the skip and the time range).
    pub pushed: u32,
    /// The latest time among them, or null when none.
    pub cursor_ms: Option<f64>,
}

/// The thread-pool work of `parseAndPush`.
pub struct ParseAndPush {
    agg: Arc<Mutex<core::Aggregator>>,
    parser: Arc<Mutex<core::TradeCsvParser>>,
    max_rows: usize,
    max_ts: i64,
    skip: usize,
    from_ms: Option<f64>,
    to_ms: Option<f64>,
}

impl Task for ParseAndPush {
    type Output = core::ParsedStep;
    type JsValue = ParsedStep;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let mut parser = self.parser.lock().unwrap_or_else(PoisonError::into_inner);
        let mut agg = self.agg.lock().unwrap_or_else(PoisonError::into_inner);
        core::parse_and_push(&mut agg, &mut parser, self.max_rows, self.max_ts, self.skip, self.from_ms, self.to_ms).map_err(napi::Error::from_reason)
    }

    fn resolve(&mut self, _env: Env, o: Self::Output) -> napi::Result<Self::JsValue> {
        let agg = self.agg.lock().unwrap_or_else(PoisonError::into_inner);
        let (stop, slow_line) = stop_name(o.stop);
        let p = o.pushed.unwrap_or_default();
        let result = batch_result(&agg, &p.outcome, |r| p.batch_row(r));
        let (pushed, cursor_ms) = (p.pushed as u32, p.cursor_ms);
        Ok(ParsedStep { stop: stop.to_owned(), rows: o.rows as u32, slow_line, skipped: o.skipped as u32, result, pushed, cursor_ms })
    }
}
