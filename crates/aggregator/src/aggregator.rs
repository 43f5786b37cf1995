//! The aggregator: trades in, closed candles out, time only from its inputs.

use std::collections::VecDeque;
use std::fmt;

use rustc_hash::FxHashMap;

use crate::batch::{BatchError, BatchOutcome, LateRow, TradeColumns, TradeIdColumn};
use crate::candle::{Candle, PairId};
use crate::config::{AggregatorConfig, ConfigError};
use crate::recent_ids::RecentIds;
use crate::trade::{epoch_ms, valid_pair, RejectReason, Side, SideIn, TradeIdIn, TradeIn};
use crate::window::{filled_candle, WindowAcc};

/// What happened to an accepted-for-processing trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Added to its (open) window.
    Accepted,
    /// Its id was already seen in an open window or among the remembered
    /// ids of closed windows: ignored and counted.
    Duplicate,
    /// Its window had already closed: not merged, counted and reported here.
    Late(Late),
}

/// A trade whose window had closed when it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Late {
    /// Start of the (closed) window the trade belongs to.
    pub window_start_ms: i64,
    /// The pair's watermark when the trade arrived.
    pub watermark_ms: i64,
    /// True when its id is also remembered (a replayed trade of a closed window).
    pub duplicate: bool,
}

/// Counters since construction or restore (not part of a snapshot).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Trades added to a window.
    pub accepted: u64,
    /// Duplicates of trades in open windows (or remembered ids) ignored.
    pub duplicates: u64,
    /// Late trades whose id was not remembered.
    pub late: u64,
    /// Late trades whose id was remembered (replays of closed windows).
    pub late_duplicates: u64,
    /// Rejected trades, by [`RejectReason::index`].
    pub rejected: [u64; 8],
    /// Candles emitted, filled ones included.
    pub candles: u64,
    /// Filled candles emitted.
    pub filled_candles: u64,
    /// Times a pair went dormant after `max_fill_windows` filled candles.
    pub dormant: u64,
}

impl Stats {
    /// All rejected trades.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

/// The per-pair state.
#[derive(Clone, Debug)]
pub(crate) struct PairState {
    pub(crate) name: String,
    /// Latest event time of an accepted trade.
    pub(crate) max_event_ms: Option<i64>,
    /// Windows with `end <= watermark` are closed. Never decreases.
    pub(crate) watermark_ms: Option<i64>,
    /// Start of the next window to emit; `None` before the first trade and while dormant.
    pub(crate) cursor_ms: Option<i64>,
    /// Close of the last emitted real candle (the level of filled candles).
    pub(crate) last_close: Option<f64>,
    /// Consecutive filled candles emitted since the last real one.
    pub(crate) filled_run: u32,
    /// Open windows, ascending by start, all at or after `cursor_ms`.
    pub(crate) windows: VecDeque<WindowAcc>,
    pub(crate) recent: RecentIds,
}

impl PairState {
    pub(crate) fn new(name: String, recent_cap: usize) -> Self {
        Self {
            name,
            max_event_ms: None,
            watermark_ms: None,
            cursor_ms: None,
            last_close: None,
            filled_run: 0,
            windows: VecDeque::new(),
            recent: RecentIds::new(recent_cap),
        }
    }

    fn seen(&self, key: u64) -> bool {
        self.windows.iter().any(|w| w.ids.contains(key)) || self.recent.contains(key)
    }
}

/// An invalid watermark or pair in [`Aggregator::advance_watermark`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatermarkError {
    /// Not a whole number of ms in 0..=MAX_EPOCH_MS.
    BadTime,
    /// The pair is invalid or would exceed `max_pairs`.
    BadPair(RejectReason),
}

impl fmt::Display for WatermarkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatermarkError::BadTime => f.write_str("watermark_ms must be a whole number of ms from 0 to 32503680000000"),
            WatermarkError::BadPair(r) => write!(f, "{r}"),
        }
    }
}

impl std::error::Error for WatermarkError {}

/// Trades to OHLCV candles per pair in event-time tumbling windows.
///
/// Rules (per pair):
/// - A trade at `ts` belongs to the window `[floor(ts/I)*I, +I)` (I = interval,
///   aligned to the epoch): a trade at exactly a window end opens the next window.
/// - watermark = max(latest accepted event time − grace, any value given to
///   [`Aggregator::advance_watermark`]); it never decreases.
/// - A window closes when `watermark >= window_end`. Closed windows are emitted
///   in time order, gaps filled with flat candles at the previous close
///   (`filled`), at most `max_fill_windows` in a row; then the pair is dormant
///   and its next trade starts a new series without back-filling. No candle is
///   emitted before a pair's first trade.
/// - A trade whose window is closed is late: reported ([`Outcome::Late`]),
///   counted, never merged.
/// - A trade id seen in an open window, or in a recently closed window, is a
///   duplicate: ignored and counted. Closed windows' ids are forgotten whole,
///   oldest first, while more than `recent_ids_per_pair` are held. Memory per
///   pair is bounded by the ids of open windows (at most grace/interval + 2
///   windows) plus `recent_ids_per_pair` plus one window's ids.
///
/// Time is only an input: the same sequence of calls gives the same candles,
/// bit for bit, however trades are split between [`Aggregator::push`] and
/// [`Aggregator::push_columns`] calls, and across snapshot/restore.
#[derive(Clone, Debug)]
pub struct Aggregator {
    pub(crate) config: AggregatorConfig,
    pub(crate) interval_ms: i64,
    pub(crate) grace_ms: i64,
    pub(crate) pairs: Vec<PairState>,
    pub(crate) index: FxHashMap<String, PairId>,
    pub(crate) stats: Stats,
}

impl Aggregator {
    /// A new aggregator with no pairs.
    pub fn new(config: AggregatorConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::from_parts(config, Vec::new()))
    }

    pub(crate) fn from_parts(config: AggregatorConfig, pairs: Vec<PairState>) -> Self {
        let index = pairs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i as PairId))
            .collect();
        Self {
            interval_ms: config.interval_ms(),
            grace_ms: config.grace_ms as i64,
            config,
            pairs,
            index,
            stats: Stats::default(),
        }
    }

    /// The validated configuration.
    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    /// Counters since construction or restore.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Name of a pair id from a [`Candle`].
    pub fn pair_name(&self, id: PairId) -> Option<&str> {
        self.pairs.get(id as usize).map(|p| p.name.as_str())
    }

    /// Every pair name, indexed by [`PairId`].
    pub fn pair_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.pairs.iter().map(|p| p.name.as_str())
    }

    /// The watermark of a pair (None for an unknown pair or before any time input).
    pub fn watermark_ms(&self, pair: &str) -> Option<i64> {
        self.index.get(pair).and_then(|&i| self.pairs.get(i as usize)).and_then(|p| p.watermark_ms)
    }

    /// Looks up a pair, registering it if it is new and valid.
    fn resolve_pair(&mut self, pair: &str) -> Result<PairId, RejectReason> {
        if let Some(&id) = self.index.get(pair) {
            return Ok(id);
        }
        if !valid_pair(pair) {
            return Err(RejectReason::BadPair);
        }
        if self.pairs.len() >= self.config.max_pairs as usize {
            return Err(RejectReason::TooManyPairs);
        }
        let id = self.pairs.len() as PairId;
        self.pairs.push(PairState::new(pair.to_owned(), self.config.recent_ids_per_pair as usize));
        self.index.insert(pair.to_owned(), id);
        Ok(id)
    }

    /// Feeds one trade; closed candles (usually none) are appended to `out`.
    pub fn push(&mut self, trade: &TradeIn<'_>, out: &mut Vec<Candle>) -> Result<Outcome, RejectReason> {
        let result = self.push_inner(trade, out);
        self.count(&result);
        result
    }

    fn push_inner(&mut self, t: &TradeIn<'_>, out: &mut Vec<Candle>) -> Result<Outcome, RejectReason> {
        if let Some(ex) = t.exchange {
            if ex != self.config.exchange {
                return Err(RejectReason::ExchangeMismatch);
            }
        }
        let v = Valid::check(t.trade_id, t.price, t.qty, t.side, t.ts_ms)?;
        let pair = self.resolve_pair(t.pair)?;
        self.apply(pair, v, out)
    }

    fn count(&mut self, result: &Result<Outcome, RejectReason>) {
        match result {
            Ok(Outcome::Accepted) => self.stats.accepted += 1,
            Ok(Outcome::Duplicate) => self.stats.duplicates += 1,
            Ok(Outcome::Late(l)) if l.duplicate => self.stats.late_duplicates += 1,
            Ok(Outcome::Late(_)) => self.stats.late += 1,
            Err(r) => self.stats.rejected[r.index()] += 1,
        }
    }

    /// The one update path behind both `push` and `push_columns`.
    #[inline]
    fn apply(&mut self, pair: PairId, v: Valid, out: &mut Vec<Candle>) -> Result<Outcome, RejectReason> {
        let Valid { key, price, qty, side, ts } = v;
        let interval = self.interval_ms;
        let start = ts - ts.rem_euclid(interval);
        let st = self.pairs.get_mut(pair as usize).ok_or(RejectReason::BadPair)?;

        if let Some(wm) = st.watermark_ms {
            if start + interval <= wm {
                let duplicate = st.seen(key);
                return Ok(Outcome::Late(Late { window_start_ms: start, watermark_ms: wm, duplicate }));
            }
        }
        if st.seen(key) {
            return Ok(Outcome::Duplicate);
        }
        add_to_window(&mut st.windows, start, ts, key, price, qty, side);

        let max_event = st.max_event_ms.map_or(ts, |m| m.max(ts));
        st.max_event_ms = Some(max_event);
        let wm = max_event - self.grace_ms;
        if st.watermark_ms.is_none_or(|w| wm > w) {
            st.watermark_ms = Some(wm);
            self.close_windows(pair, out);
        }
        Ok(Outcome::Accepted)
    }

    /// Feeds a batch of trades in columns, row by row through the same update as
    /// [`Aggregator::push`]; closed candles, duplicates, late and rejected rows
    /// are appended to `out`. A shape error (columns of unequal length, more
    /// than 2^32 − 1 rows, another exchange) is returned before any row is read.
    pub fn push_columns(&mut self, cols: &TradeColumns<'_>, out: &mut BatchOutcome) -> Result<(), BatchError> {
        let n = cols.pair_idx.len();
        let id_len = match cols.trade_ids {
            TradeIdColumn::I64(v) => v.len(),
            TradeIdColumn::F64(v) => v.len(),
            TradeIdColumn::Str(v) => v.len(),
            TradeIdColumn::Joined { ends, .. } => ends.len(),
            TradeIdColumn::Keys(v) => v.len(),
        };
        if [id_len, cols.prices.len(), cols.qtys.len(), cols.sides.len(), cols.ts_ms.len()].iter().any(|&l| l != n) {
            return Err(BatchError::LengthMismatch);
        }
        if u32::try_from(n).is_err() {
            return Err(BatchError::TooManyRows);
        }
        if let Some(ex) = cols.exchange {
            if ex != self.config.exchange {
                return Err(BatchError::ExchangeMismatch);
            }
        }
        // Pairs of the table are registered on first use, as per-trade calls would.
        let mut table: Vec<Option<Result<PairId, RejectReason>>> = vec![None; cols.pairs.len()];
        for row in 0..n {
            let result = self.push_row(cols, &mut table, row, &mut out.candles);
            self.count(&result);
            let row32 = row as u32;
            match result {
                Ok(Outcome::Accepted) => out.accepted += 1,
                Ok(Outcome::Duplicate) => out.duplicate_rows.push(row32),
                Ok(Outcome::Late(late)) => out.late.push(LateRow { row: row32, late }),
                Err(reason) => out.rejected.push((row32, reason)),
            }
        }
        Ok(())
    }

    #[inline]
    fn push_row(
        &mut self,
        cols: &TradeColumns<'_>,
        table: &mut [Option<Result<PairId, RejectReason>>],
        row: usize,
        out: &mut Vec<Candle>,
    ) -> Result<Outcome, RejectReason> {
        // Lengths were checked: the fallbacks below are never used, and keep indexing panic-free.
        let trade_id = match cols.trade_ids {
            TradeIdColumn::I64(v) => TradeIdIn::I64(v.get(row).copied().unwrap_or(-1)),
            TradeIdColumn::F64(v) => TradeIdIn::F64(v.get(row).copied().unwrap_or(f64::NAN)),
            TradeIdColumn::Str(v) => TradeIdIn::Str(v.get(row).map(String::as_str).unwrap_or("")),
            // An unused key on a missing row (lengths were checked); never reached.
            TradeIdColumn::Keys(v) => v.get(row).map_or(TradeIdIn::Str(""), |&k| TradeIdIn::Key(k)),
            TradeIdColumn::Joined { text, ends } => {
                let start = if row == 0 { Some(0) } else { ends.get(row - 1).copied() };
                let end = ends.get(row).copied();
                TradeIdIn::Str(match (start, end) {
                    (Some(a), Some(b)) => text.get(a as usize..b as usize).unwrap_or(""),
                    _ => "",
                })
            }
        };
        let price = cols.prices.get(row).copied().unwrap_or(f64::NAN);
        let qty = cols.qtys.get(row).copied().unwrap_or(f64::NAN);
        let side = SideIn::Code(cols.sides.get(row).copied().unwrap_or(u8::MAX));
        let ts = cols.ts_ms.get(row).copied().unwrap_or(f64::NAN);
        let v = Valid::check(trade_id, price, qty, side, ts)?;
        let pi = cols.pair_idx.get(row).copied().ok_or(RejectReason::BadPair)? as usize;
        let pair = match table.get(pi) {
            None => return Err(RejectReason::BadPair),
            Some(Some(resolved)) => *resolved,
            Some(None) => {
                let name = cols.pairs.get(pi).map(String::as_str).unwrap_or("");
                let resolved = self.resolve_pair(name);
                // Cached either way: a refused pair stays refused (pairs are never removed).
                if let Some(slot) = table.get_mut(pi) {
                    *slot = Some(resolved);
                }
                resolved
            }
        }?;
        self.apply(pair, v, out)
    }

    /// Raises the watermark of one pair (registering it, so that earlier trades
    /// become late) or, with `None`, of every known pair, to `watermark_ms`, and
    /// appends the windows that close to `out`. It never lowers a watermark.
    ///
    /// The caller decides the value, e.g. wall clock − grace for a quiet
    /// market; the aggregator never reads a clock.
    pub fn advance_watermark(
        &mut self,
        pair: Option<&str>,
        watermark_ms: f64,
        out: &mut Vec<Candle>,
    ) -> Result<(), WatermarkError> {
        let wm = epoch_ms(watermark_ms).map_err(|_| WatermarkError::BadTime)?;
        let ids: Vec<PairId> = match pair {
            Some(name) => vec![self.resolve_pair(name).map_err(WatermarkError::BadPair)?],
            None => (0..self.pairs.len() as PairId).collect(),
        };
        for id in ids {
            let Some(st) = self.pairs.get_mut(id as usize) else { continue };
            if st.watermark_ms.is_none_or(|w| wm > w) {
                st.watermark_ms = Some(wm);
                self.close_windows(id, out);
            }
        }
        Ok(())
    }

    /// Emits, in time order, every window of `pair` that ends at or before its watermark.
    fn close_windows(&mut self, pair: PairId, out: &mut Vec<Candle>) {
        let interval = self.interval_ms;
        let max_fill = self.config.max_fill_windows;
        let Some(st) = self.pairs.get_mut(pair as usize) else { return };
        let Some(wm) = st.watermark_ms else { return };
        loop {
            let front_start = st.windows.front().map(|w| w.start_ms);
            let Some(cursor) = st.cursor_ms.or(front_start) else { break };
            if cursor + interval > wm {
                break;
            }
            if front_start == Some(cursor) {
                let Some(w) = st.windows.pop_front() else { break };
                out.push(w.candle(pair, interval));
                self.stats.candles += 1;
                st.last_close = Some(w.close);
                st.filled_run = 0;
                st.recent.push_window(w.ids);
            } else {
                match st.last_close {
                    Some(close) if st.filled_run < max_fill => {
                        out.push(filled_candle(pair, cursor, interval, close));
                        self.stats.candles += 1;
                        self.stats.filled_candles += 1;
                        st.filled_run += 1;
                    }
                    _ => {
                        // Dormant: the next open window (if any) starts a new series.
                        if st.cursor_ms.is_some() && st.last_close.is_some() {
                            self.stats.dormant += 1;
                        }
                        st.cursor_ms = None;
                        st.last_close = None;
                        st.filled_run = 0;
                        if st.windows.is_empty() {
                            break;
                        }
                        continue;
                    }
                }
            }
            st.cursor_ms = Some(cursor + interval);
        }
    }
}

/// A trade whose fields passed validation.
#[derive(Clone, Copy)]
struct Valid {
    key: u64,
    price: f64,
    qty: f64,
    side: Side,
    ts: i64,
}

impl Valid {
    /// Field checks, in the order their reasons are reported.
    #[inline]
    fn check(trade_id: TradeIdIn<'_>, price: f64, qty: f64, side: SideIn<'_>, ts_ms: f64) -> Result<Self, RejectReason> {
        let key = trade_id.key()?;
        if !(price.is_finite() && price > 0.0) {
            return Err(RejectReason::BadPrice);
        }
        if !(qty.is_finite() && qty > 0.0) {
            return Err(RejectReason::BadQty);
        }
        let side = side.resolve()?;
        let ts = epoch_ms(ts_ms)?;
        Ok(Self { key, price, qty, side, ts })
    }
}

/// Adds a trade to its window, creating the window in order if needed.
#[inline]
fn add_to_window(windows: &mut VecDeque<WindowAcc>, start: i64, ts: i64, key: u64, price: f64, qty: f64, side: Side) {
    // Most trades land in the newest window: search from the back.
    let mut pos = windows.len();
    for (i, w) in windows.iter_mut().enumerate().rev() {
        if w.start_ms == start {
            w.add(ts, key, price, qty, side);
            return;
        }
        if w.start_ms < start {
            break;
        }
        pos = i;
    }
    windows.insert(pos, WindowAcc::first(start, ts, key, price, qty, side));
}
