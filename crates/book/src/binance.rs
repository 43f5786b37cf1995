//! Binance spot diff-depth synchronisation (`<symbol>@depth@100ms` plus the
//! REST snapshot `GET /api/v3/depth`), by Binance's documented rules:
//!
//! 1. Diff events are buffered until a snapshot is loaded.
//! 2. On the snapshot (`lastUpdateId` = L), buffered events with `u <= L` are
//!    dropped; the first remaining event must straddle L + 1
//!    (`U <= L + 1 <= u`), otherwise the snapshot is too old (the caller
//!    fetches another, the buffer is kept) - unless a later buffered event
//!    straddles L + 1, in which case the events before it cannot be genuine
//!    (genuine events are contiguous) and are dropped.
//! 3. After that, every event must have `U == previous u + 1`; an event with
//!    `u <= previous u` is stale and ignored; anything else is a gap: the
//!    book is invalidated and the caller fetches a new snapshot (the event is
//!    kept in the buffer for it).
//!
//! A quantity of 0 removes the level (absent levels: nothing to do, which
//! Binance documents as normal). The buffer holds at most
//! [`MAX_BUFFERED_EVENTS`]; when full the oldest events are dropped, which at
//! worst makes the next snapshot "too old" and triggers another fetch.

use crate::book::Book;
use crate::error::BookError;
use crate::features::MinuteRow;
use crate::scale::Scale;
use crate::tracker::{BookTracker, LevelInput};

/// Diff events kept while waiting for a snapshot (at 10 events/s, 10 minutes).
pub const MAX_BUFFERED_EVENTS: usize = 6000;

/// What happened to one diff event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffOutcome {
    /// Kept until a snapshot is loaded.
    Buffered,
    /// Older than the book (`u <= previous u` or `u <= lastUpdateId`): ignored.
    Stale,
    /// Applied to the book.
    Applied,
    /// Not contiguous with the book: the book is invalidated; fetch a snapshot.
    Gap,
}

/// What happened when a snapshot was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// In sync; `applied` buffered events were applied on top of it.
    Synced {
        /// Buffered events applied after the snapshot.
        applied: usize,
    },
    /// The first buffered event after the snapshot starts beyond
    /// `lastUpdateId + 1` (the snapshot is older than the stream): fetch again.
    TooOld,
    /// The buffered events after the snapshot have a hole: fetch again.
    Gap,
}

#[derive(Debug, Clone)]
struct Buffered {
    t_ms: i64,
    first_id: u64,
    last_id: u64,
    levels: Vec<LevelInput>,
}

/// One Binance book kept in sync with the diff stream.
#[derive(Debug, Clone)]
pub struct BinanceDepthBook {
    tracker: BookTracker,
    /// `Some(u)` of the last applied event (or the snapshot's lastUpdateId) when in sync.
    last_id: Option<u64>,
    /// The next event must straddle `last_id + 1` (the first after a snapshot).
    expect_straddle: bool,
    buffer: std::collections::VecDeque<Buffered>,
    gaps: u64,
}

impl BinanceDepthBook {
    /// An empty, unsynchronised book.
    pub fn new(scale: Scale, depth: Option<usize>) -> Result<Self, BookError> {
        Ok(Self {
            tracker: BookTracker::new(scale, depth)?,
            last_id: None,
            expect_straddle: false,
            buffer: Default::default(),
            gaps: 0,
        })
    }

    /// One diff event (`U` = `first_id`, `u` = `last_id`, event time `E` = `t_ms`).
    pub fn on_diff<I: IntoIterator<Item = LevelInput>>(
        &mut self,
        t_ms: i64,
        first_id: u64,
        last_id: u64,
        levels: I,
        out: &mut Vec<MinuteRow>,
    ) -> Result<DiffOutcome, BookError> {
        if first_id > last_id {
            return Err(BookError::InvalidParameter { name: "U", reason: format!("first update id {first_id} is after the last {last_id}") });
        }
        let Some(prev) = self.last_id else {
            let levels: Vec<LevelInput> = levels.into_iter().collect();
            if self.buffer.len() == MAX_BUFFERED_EVENTS {
                self.buffer.pop_front();
            }
            self.buffer.push_back(Buffered { t_ms, first_id, last_id, levels });
            return Ok(DiffOutcome::Buffered);
        };
        if last_id <= prev {
            return Ok(DiffOutcome::Stale);
        }
        let contiguous = if self.expect_straddle { first_id <= prev + 1 } else { first_id == prev + 1 };
        if !contiguous {
            self.gap(t_ms, out);
            self.buffer.push_back(Buffered { t_ms, first_id, last_id, levels: levels.into_iter().collect() });
            return Ok(DiffOutcome::Gap);
        }
        match self.tracker.apply(t_ms, false, levels, out) {
            Ok(_) => {
                self.last_id = Some(last_id);
                self.expect_straddle = false;
                Ok(DiffOutcome::Applied)
            }
            Err(e) => {
                // A level we cannot represent: the book is no longer Binance's.
                self.gap(t_ms, out);
                Err(e)
            }
        }
    }

    /// The stream was lost at `t_ms` (disconnect): the book is invalidated,
    /// the buffer emptied (the next connection's events start a new one), and
    /// a snapshot is needed. Not counted as a gap.
    pub fn invalidate(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        self.last_id = None;
        self.expect_straddle = false;
        self.buffer.clear();
        self.tracker.invalidate(t_ms, out);
    }

    fn gap(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        self.gaps += 1;
        self.last_id = None;
        self.expect_straddle = false;
        self.tracker.invalidate(t_ms, out);
    }

    /// Loads a REST snapshot taken at `t_ms` with `lastUpdateId` =
    /// `last_update_id`, then applies the buffered events that follow it.
    pub fn on_snapshot<I: IntoIterator<Item = LevelInput>>(
        &mut self,
        t_ms: i64,
        last_update_id: u64,
        levels: I,
        out: &mut Vec<MinuteRow>,
    ) -> Result<SnapshotOutcome, BookError> {
        while self.buffer.front().is_some_and(|b| b.last_id <= last_update_id) {
            self.buffer.pop_front();
        }
        if self.buffer.front().is_some_and(|first| first.first_id > last_update_id + 1) {
            // Genuine events are contiguous, so if a later buffered event straddles L + 1 the
            // ones before it cannot be (a corrupted or misordered event): start from it.
            // Otherwise the snapshot is older than the stream.
            let straddles = |b: &Buffered| b.first_id <= last_update_id + 1 && last_update_id < b.last_id;
            match self.buffer.iter().position(straddles) {
                Some(i) => {
                    self.buffer.drain(..i);
                }
                None => return Ok(SnapshotOutcome::TooOld),
            }
        }
        let stats = self.tracker.load(true, levels)?;
        self.tracker.commit(t_ms, &stats, out);
        self.last_id = Some(last_update_id);
        self.expect_straddle = true;
        let pending: Vec<Buffered> = self.buffer.drain(..).collect();
        let mut applied = 0;
        let mut iter = pending.into_iter();
        for b in iter.by_ref() {
            match self.on_diff(b.t_ms, b.first_id, b.last_id, b.levels, out)? {
                DiffOutcome::Applied => applied += 1,
                DiffOutcome::Stale => {}
                DiffOutcome::Gap => {
                    self.buffer.extend(iter);
                    return Ok(SnapshotOutcome::Gap);
                }
                DiffOutcome::Buffered => {}
            }
        }
        Ok(SnapshotOutcome::Synced { applied })
    }

    /// Watermark: closes the minutes that end at or before `t_ms`.
    pub fn advance(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        self.tracker.advance(t_ms, out);
    }

    /// Whether the book is in sync.
    pub fn is_synced(&self) -> bool {
        self.last_id.is_some()
    }

    /// `u` of the last applied event (or the snapshot id), when in sync.
    pub fn last_update_id(&self) -> Option<u64> {
        self.last_id
    }

    /// Gaps detected so far (each one asks for a new snapshot).
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Events waiting for a snapshot.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The book.
    pub fn book(&self) -> &Book {
        self.tracker.book()
    }

    /// The instrument's scale.
    pub fn scale(&self) -> &Scale {
        self.tracker.scale()
    }
}
