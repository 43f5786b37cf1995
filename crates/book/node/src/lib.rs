//! Node binding of `tickcast-book`: converts types, maps errors to JS errors
//! with a code, forwards. No book logic or arithmetic lives here.

use napi::bindgen_prelude::{Float64Array, Uint32Array, Uint8Array};
use napi_derive::napi;
use tickcast_book::batch::{self, Tape};
use tickcast_book::binance::{BinanceDepthBook as CoreBinance, DiffOutcome, SnapshotOutcome};
use tickcast_book::kraken::{KrakenBook as CoreKraken, DEFAULT_DEPTH};
use tickcast_book::tracker::{flat_levels, LevelInput};
use tickcast_book::{BookError, BookSide, BookTracker, MinuteRow, Scale, FEATURE_NAMES};

/// A JS error carrying the core error's code (e.g. `E_CHECKSUM_MISMATCH`).
type JsCodeError = napi::Error<&'static str>;

fn js_error(e: BookError) -> JsCodeError {
    napi::Error::new(e.code(), e.to_string())
}

/// A flat `[price, qty, price, qty, ...]` Float64Array of one side's levels.
/// (An alias because #[napi] treats a literal `&T` parameter as a class.)
type Levels<'a> = &'a [f64];

/// Options for a book: the instrument's decimal precision (Kraken's
/// `instrument` channel `price_precision` / `qty_precision`; for Binance the
/// decimals of its price and quantity strings) and the depth kept.
#[napi(object)]
pub struct BookOptions {
    /// Decimals of a price, 0..=12.
    pub price_precision: u32,
    /// Decimals of a quantity, 0..=12.
    pub qty_precision: u32,
    /// Levels kept per side. Kraken: the subscribed depth (10, 25, 100, 500
    /// or 1000; default 10). Binance and batch: default all.
    pub depth: Option<u32>,
}

fn scale_of(o: &BookOptions) -> Result<Scale, JsCodeError> {
    Scale::new(o.price_precision, o.qty_precision).map_err(js_error)
}

/// One closed minute of book features.
#[napi(object)]
pub struct BookMinute {
    /// Start of the minute (ms since the epoch).
    pub minute_start_ms: f64,
    /// Values in `bookFeatureNames()` order.
    pub values: Float64Array,
}

fn to_js(rows: &mut Vec<MinuteRow>) -> Vec<BookMinute> {
    rows.drain(..)
        .map(|r| BookMinute { minute_start_ms: r.minute_start_ms as f64, values: Float64Array::new(r.values.to_vec()) })
        .collect()
}

fn levels<'a>(bids: Levels<'a>, asks: Levels<'a>) -> Result<impl Iterator<Item = LevelInput> + 'a, JsCodeError> {
    Ok(flat_levels(BookSide::Bid, bids).map_err(js_error)?.chain(flat_levels(BookSide::Ask, asks).map_err(js_error)?))
}

fn time_ms(t: f64) -> Result<i64, JsCodeError> {
    if !t.is_finite() {
        return Err(napi::Error::new("E_INVALID_PARAMETER", format!("time {t} is not finite")));
    }
    Ok(t as i64)
}

fn update_id(name: &str, v: f64) -> Result<u64, JsCodeError> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0) {
        return Err(napi::Error::new("E_INVALID_PARAMETER", format!("{name} {v} is not a safe non-negative integer")));
    }
    Ok(v as u64)
}

/// The feature column names, in `BookMinute.values` order.
#[napi]
pub fn book_feature_names() -> Vec<&'static str> {
    FEATURE_NAMES.to_vec()
}

/// Levels of the best `n` of a side as a flat `[price, qty, ...]` array.
fn top_flat(book: &tickcast_book::Book, scale: &Scale, side: BookSide, n: u32) -> Float64Array {
    let v: Vec<f64> = book.top(side, n as usize).into_iter().flat_map(|(t, q)| [scale.price(t), scale.qty(q)]).collect();
    Float64Array::new(v)
}

/// A Kraken WebSocket v2 book: snapshot + updates, truncated to the
/// subscribed depth, CRC32 checksum verified on every message.
#[napi]
pub struct KrakenBook {
    inner: CoreKraken,
    rows: Vec<MinuteRow>,
}

#[napi]
impl KrakenBook {
    /// Throws `E_INVALID_PARAMETER` for a precision above 12 or a depth
    /// Kraken does not offer.
    #[napi(constructor)]
    pub fn new(options: BookOptions) -> Result<Self, JsCodeError> {
        let depth = options.depth.map_or(DEFAULT_DEPTH, |d| d as usize);
        Ok(Self { inner: CoreKraken::new(scale_of(&options)?, depth).map_err(js_error)?, rows: Vec::new() })
    }

    /// Applies one `book` message at `tMs` and verifies its checksum when
    /// given. Returns the number of closed minutes waiting in `drainMinutes()`.
    /// Throws `E_CHECKSUM_MISMATCH` (the book is emptied and refuses updates
    /// until a snapshot: resubscribe), `E_NOT_SYNCED` (an update without a
    /// snapshot), `E_INVALID_LEVEL` (the book is emptied as well).
    #[napi]
    pub fn on_message(
        &mut self,
        t_ms: f64,
        snapshot: bool,
        bids: Levels<'_>,
        asks: Levels<'_>,
        checksum: Option<u32>,
    ) -> Result<u32, JsCodeError> {
        let t = time_ms(t_ms)?;
        let lv = levels(bids, asks)?;
        self.inner.on_message(t, snapshot, lv, checksum, &mut self.rows).map_err(js_error)?;
        Ok(self.rows.len() as u32)
    }

    /// Watermark: closes the minutes ending at or before `tMs`; returns the
    /// number waiting.
    #[napi]
    pub fn advance(&mut self, t_ms: f64) -> Result<u32, JsCodeError> {
        self.inner.advance(time_ms(t_ms)?, &mut self.rows);
        Ok(self.rows.len() as u32)
    }

    /// The feed was lost at `tMs` (disconnect): the book is emptied and the
    /// features stop until the next snapshot. Returns the number of closed
    /// minutes waiting.
    #[napi]
    pub fn invalidate(&mut self, t_ms: f64) -> Result<u32, JsCodeError> {
        self.inner.invalidate(time_ms(t_ms)?, &mut self.rows);
        Ok(self.rows.len() as u32)
    }

    /// The closed minutes since the last call, oldest first.
    #[napi]
    pub fn drain_minutes(&mut self) -> Vec<BookMinute> {
        to_js(&mut self.rows)
    }

    /// The checksum of the book as it is now.
    #[napi]
    pub fn checksum(&self) -> u32 {
        self.inner.checksum()
    }

    /// Whether a snapshot is loaded and every message since verified.
    #[napi(getter)]
    pub fn synced(&self) -> bool {
        self.inner.is_synced()
    }

    /// Messages rejected for a checksum mismatch.
    #[napi(getter)]
    pub fn checksum_failures(&self) -> f64 {
        self.inner.checksum_failures() as f64
    }

    /// Best `n` bids, flat `[price, qty, ...]`, best first.
    #[napi]
    pub fn bids(&self, n: u32) -> Float64Array {
        top_flat(self.inner.book(), self.inner.scale(), BookSide::Bid, n)
    }

    /// Best `n` asks, flat `[price, qty, ...]`, best first.
    #[napi]
    pub fn asks(&self, n: u32) -> Float64Array {
        top_flat(self.inner.book(), self.inner.scale(), BookSide::Ask, n)
    }
}

/// A Binance spot book synchronised from `<symbol>@depth` diffs and a REST
/// snapshot by Binance's rules.
#[napi]
pub struct BinanceDepthBook {
    inner: CoreBinance,
    rows: Vec<MinuteRow>,
}

#[napi]
impl BinanceDepthBook {
    /// Throws `E_INVALID_PARAMETER` for a precision above 12 or depth 0.
    #[napi(constructor)]
    pub fn new(options: BookOptions) -> Result<Self, JsCodeError> {
        let inner = CoreBinance::new(scale_of(&options)?, options.depth.map(|d| d as usize)).map_err(js_error)?;
        Ok(Self { inner, rows: Vec::new() })
    }

    /// One diff event (`E` = tMs, `U` = firstId, `u` = lastId). Returns
    /// `buffered` (no snapshot yet), `stale`, `applied` or `gap` (the book is
    /// invalidated: fetch a snapshot).
    #[napi(ts_return_type = "'buffered' | 'stale' | 'applied' | 'gap'")]
    pub fn on_diff(&mut self, t_ms: f64, first_id: f64, last_id: f64, bids: Levels<'_>, asks: Levels<'_>) -> Result<&'static str, JsCodeError> {
        let (t, u0, u1) = (time_ms(t_ms)?, update_id("U", first_id)?, update_id("u", last_id)?);
        let lv = levels(bids, asks)?;
        Ok(match self.inner.on_diff(t, u0, u1, lv, &mut self.rows).map_err(js_error)? {
            DiffOutcome::Buffered => "buffered",
            DiffOutcome::Stale => "stale",
            DiffOutcome::Applied => "applied",
            DiffOutcome::Gap => "gap",
        })
    }

    /// A REST snapshot (`lastUpdateId`, bids, asks) taken at `tMs`. Returns
    /// `synced`, `too_old` (fetch another: the stream is past it) or `gap`.
    #[napi(ts_return_type = "'synced' | 'too_old' | 'gap'")]
    pub fn on_snapshot(&mut self, t_ms: f64, last_update_id: f64, bids: Levels<'_>, asks: Levels<'_>) -> Result<&'static str, JsCodeError> {
        let (t, id) = (time_ms(t_ms)?, update_id("lastUpdateId", last_update_id)?);
        let lv = levels(bids, asks)?;
        Ok(match self.inner.on_snapshot(t, id, lv, &mut self.rows).map_err(js_error)? {
            SnapshotOutcome::Synced { .. } => "synced",
            SnapshotOutcome::TooOld => "too_old",
            SnapshotOutcome::Gap => "gap",
        })
    }

    /// Watermark: closes the minutes ending at or before `tMs`.
    #[napi]
    pub fn advance(&mut self, t_ms: f64) -> Result<u32, JsCodeError> {
        self.inner.advance(time_ms(t_ms)?, &mut self.rows);
        Ok(self.rows.len() as u32)
    }

    /// The feed was lost at `tMs` (disconnect): the book is emptied and the
    /// features stop until the next snapshot. Returns the number of closed
    /// minutes waiting.
    #[napi]
    pub fn invalidate(&mut self, t_ms: f64) -> Result<u32, JsCodeError> {
        self.inner.invalidate(time_ms(t_ms)?, &mut self.rows);
        Ok(self.rows.len() as u32)
    }

    /// The closed minutes since the last call, oldest first.
    #[napi]
    pub fn drain_minutes(&mut self) -> Vec<BookMinute> {
        to_js(&mut self.rows)
    }

    /// Whether the book is in sync.
    #[napi(getter)]
    pub fn synced(&self) -> bool {
        self.inner.is_synced()
    }

    /// `u` of the last applied event, when in sync.
    #[napi(getter)]
    pub fn last_update_id(&self) -> Option<f64> {
        self.inner.last_update_id().map(|v| v as f64)
    }

    /// Gaps detected so far.
    #[napi(getter)]
    pub fn gaps(&self) -> f64 {
        self.inner.gaps() as f64
    }

    /// Events waiting for a snapshot.
    #[napi(getter)]
    pub fn buffered(&self) -> u32 {
        self.inner.buffered() as u32
    }

    /// Best `n` bids, flat `[price, qty, ...]`, best first.
    #[napi]
    pub fn bids(&self, n: u32) -> Float64Array {
        top_flat(self.inner.book(), self.inner.scale(), BookSide::Bid, n)
    }

    /// Best `n` asks, flat `[price, qty, ...]`, best first.
    #[napi]
    pub fn asks(&self, n: u32) -> Float64Array {
        top_flat(self.inner.book(), self.inner.scale(), BookSide::Ask, n)
    }
}

/// A book tape in columns (see `batchBookFeatures`).
#[napi(object)]
pub struct BookTape {
    /// Per message: time (ms since the epoch).
    pub t_ms: Float64Array,
    /// Per message: 0 update, 1 snapshot, 2 invalidation.
    pub kind: Uint8Array,
    /// Per message: exclusive end of its levels in the level columns.
    pub level_end: Uint32Array,
    /// Per level: 0 bid, 1 ask.
    pub side: Uint8Array,
    /// Per level: price.
    pub price: Float64Array,
    /// Per level: quantity (0 deletes).
    pub qty: Float64Array,
}

/// Book features over a whole tape of validated messages, from a fresh state
/// (a fold over the same step as `BookStream.apply`). `endMs` closes the
/// minutes ending at or before it. Throws `E_LENGTH_MISMATCH`,
/// `E_INVALID_PARAMETER`, `E_INVALID_LEVEL`.
#[napi]
pub fn batch_book_features(options: BookOptions, tape: BookTape, end_ms: Option<f64>) -> Result<Vec<BookMinute>, JsCodeError> {
    let scale = scale_of(&options)?;
    let t = Tape { t_ms: &tape.t_ms, kind: &tape.kind, level_end: &tape.level_end, side: &tape.side, price: &tape.price, qty: &tape.qty };
    let end = end_ms.map(time_ms).transpose()?;
    let mut rows = batch::features(scale, options.depth.map(|d| d as usize), &t, end).map_err(js_error)?;
    Ok(to_js(&mut rows))
}

/// A book fed validated messages one at a time (the streaming twin of
/// `batchBookFeatures`; no checksum or sequence logic).
#[napi]
pub struct BookStream {
    inner: BookTracker,
    rows: Vec<MinuteRow>,
}

#[napi]
impl BookStream {
    /// Throws `E_INVALID_PARAMETER` for a precision above 12 or depth 0.
    #[napi(constructor)]
    pub fn new(options: BookOptions) -> Result<Self, JsCodeError> {
        let inner = BookTracker::new(scale_of(&options)?, options.depth.map(|d| d as usize)).map_err(js_error)?;
        Ok(Self { inner, rows: Vec::new() })
    }

    /// One message: kind 0 update, 1 snapshot, 2 invalidation. Returns the
    /// number of closed minutes waiting.
    #[napi]
    pub fn apply(&mut self, t_ms: f64, kind: u32, bids: Levels<'_>, asks: Levels<'_>) -> Result<u32, JsCodeError> {
        let t = time_ms(t_ms)?;
        match kind {
            2 => self.inner.invalidate(t, &mut self.rows),
            0 | 1 => {
                let lv = levels(bids, asks)?;
                self.inner.apply(t, kind == 1, lv, &mut self.rows).map_err(js_error)?;
            }
            k => return Err(napi::Error::new("E_INVALID_PARAMETER", format!("kind {k} is not 0, 1 or 2"))),
        }
        Ok(self.rows.len() as u32)
    }

    /// Watermark: closes the minutes ending at or before `tMs`.
    #[napi]
    pub fn advance(&mut self, t_ms: f64) -> Result<u32, JsCodeError> {
        self.inner.advance(time_ms(t_ms)?, &mut self.rows);
        Ok(self.rows.len() as u32)
    }

    /// The closed minutes since the last call, oldest first.
    #[napi]
    pub fn drain_minutes(&mut self) -> Vec<BookMinute> {
        to_js(&mut self.rows)
    }
}
