//! Kraken WebSocket v2 `book` channel semantics: a snapshot replaces the
//! book, updates set levels (qty 0 deletes), the book is truncated to the
//! subscribed depth after every message, and the CRC32 checksum of the top
//! 10 levels ([`crate::checksum`]) is verified after every message. A
//! message whose checksum does not match empties the book, is counted, never
//! reaches the features, and every update is refused until the next snapshot
//! (the caller resubscribes the pair).

use crate::book::{Book, BookSide};
use crate::checksum::kraken_checksum;
use crate::error::BookError;
use crate::features::MinuteRow;
use crate::scale::Scale;
use crate::tracker::{BookTracker, LevelInput};

/// Kraken's default subscription depth.
pub const DEFAULT_DEPTH: usize = 10;
/// The depths Kraken's v2 `book` channel accepts.
pub const VALID_DEPTHS: [usize; 5] = [10, 25, 100, 500, 1000];

/// One Kraken v2 book with its features.
#[derive(Debug, Clone)]
pub struct KrakenBook {
    tracker: BookTracker,
    synced: bool,
    checksum_failures: u64,
}

impl KrakenBook {
    /// A book for an instrument of the given precision, subscribed at `depth`
    /// (one of [`VALID_DEPTHS`]).
    pub fn new(scale: Scale, depth: usize) -> Result<Self, BookError> {
        if !VALID_DEPTHS.contains(&depth) {
            return Err(BookError::InvalidParameter { name: "depth", reason: format!("{depth} is not one of {VALID_DEPTHS:?}") });
        }
        Ok(Self { tracker: BookTracker::new(scale, Some(depth))?, synced: false, checksum_failures: 0 })
    }

    /// Applies one `book` message (snapshot or update) received at `t_ms`
    /// and verifies `checksum` when given. On success the new state reaches
    /// the features; closed minutes are pushed to `out`.
    pub fn on_message<I: IntoIterator<Item = LevelInput>>(
        &mut self,
        t_ms: i64,
        snapshot: bool,
        levels: I,
        checksum: Option<u32>,
        out: &mut Vec<MinuteRow>,
    ) -> Result<(), BookError> {
        if !snapshot && !self.synced {
            return Err(BookError::NotSynced);
        }
        let stats = match self.tracker.load(snapshot, levels) {
            Ok(s) => s,
            Err(e) => {
                // A level we cannot represent: the book no longer matches Kraken's.
                self.fail(t_ms, out);
                return Err(e);
            }
        };
        if let Some(expected) = checksum {
            let computed = kraken_checksum(self.tracker.book());
            if computed != expected {
                self.checksum_failures += 1;
                self.fail(t_ms, out);
                return Err(BookError::ChecksumMismatch { expected, computed });
            }
        }
        self.synced = true;
        self.tracker.commit(t_ms, &stats, out);
        Ok(())
    }

    /// The feed was lost at `t_ms` (disconnect, unsubscribe): the book is
    /// emptied and updates are refused until the next snapshot.
    pub fn invalidate(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        self.fail(t_ms, out);
    }

    fn fail(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        self.synced = false;
        self.tracker.invalidate(t_ms, out);
    }

    /// Watermark: closes the minutes that end at or before `t_ms`.
    pub fn advance(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        self.tracker.advance(t_ms, out);
    }

    /// The checksum of the book as it is.
    pub fn checksum(&self) -> u32 {
        kraken_checksum(self.tracker.book())
    }

    /// Whether a snapshot is loaded and every message since verified.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Messages rejected for a checksum mismatch so far.
    pub fn checksum_failures(&self) -> u64 {
        self.checksum_failures
    }

    /// The book.
    pub fn book(&self) -> &Book {
        self.tracker.book()
    }

    /// The instrument's scale.
    pub fn scale(&self) -> &Scale {
        self.tracker.scale()
    }

    /// Up to `n` best levels of a side as (price, qty).
    pub fn top(&self, side: BookSide, n: usize) -> Vec<(f64, f64)> {
        let s = self.tracker.scale();
        self.book().top(side, n).into_iter().map(|(t, q)| (s.price(t), s.qty(q))).collect()
    }
}
