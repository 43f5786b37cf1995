//! Batch book features: a fold of [`BookTracker::apply`] over a tape of
//! already validated book messages (the same update path as streaming, so
//! the two agree bit for bit; a test proves it).
//!
//! A tape is columns: per message `t_ms`, `kind` (0 update, 1 snapshot,
//! 2 invalidation) and `level_end` (exclusive end of its levels in the level
//! columns); per level `side` (0 bid, 1 ask), `price`, `qty`.

use crate::book::BookSide;
use crate::error::BookError;
use crate::features::MinuteRow;
use crate::scale::Scale;
use crate::tracker::BookTracker;

/// Message kinds of a tape.
pub const KIND_UPDATE: u8 = 0;
/// A snapshot replaces the book.
pub const KIND_SNAPSHOT: u8 = 1;
/// The book became invalid (checksum failure, sequence gap).
pub const KIND_INVALIDATE: u8 = 2;

/// Columns of book messages.
#[derive(Debug, Clone, Copy)]
pub struct Tape<'a> {
    /// Message time (ms since the epoch).
    pub t_ms: &'a [f64],
    /// Message kind.
    pub kind: &'a [u8],
    /// Exclusive end index of each message's levels.
    pub level_end: &'a [u32],
    /// Level side (0 bid, 1 ask).
    pub side: &'a [u8],
    /// Level price.
    pub price: &'a [f64],
    /// Level quantity (0 deletes).
    pub qty: &'a [f64],
}

impl Tape<'_> {
    /// Checks column lengths and offsets.
    pub fn validate(&self) -> Result<(), BookError> {
        let n = self.t_ms.len();
        for (column, len) in [("kind", self.kind.len()), ("level_end", self.level_end.len())] {
            if len != n {
                return Err(BookError::LengthMismatch { column, len, expected: n });
            }
        }
        let m = self.side.len();
        for (column, len) in [("price", self.price.len()), ("qty", self.qty.len())] {
            if len != m {
                return Err(BookError::LengthMismatch { column, len, expected: m });
            }
        }
        let mut prev = 0u32;
        for &e in self.level_end {
            if e < prev || e as usize > m {
                return Err(BookError::LengthMismatch { column: "level_end", len: e as usize, expected: m });
            }
            prev = e;
        }
        if let Some(&k) = self.kind.iter().find(|&&k| k > KIND_INVALIDATE) {
            return Err(BookError::InvalidParameter { name: "kind", reason: format!("{k} is not 0, 1 or 2") });
        }
        if let Some(&s) = self.side.iter().find(|&&s| s > 1) {
            return Err(BookError::InvalidParameter { name: "side", reason: format!("{s} is not 0 or 1") });
        }
        if let Some(&t) = self.t_ms.iter().find(|t| !t.is_finite()) {
            return Err(BookError::InvalidParameter { name: "t_ms", reason: format!("{t} is not finite") });
        }
        Ok(())
    }

    /// The levels of message `i`.
    pub fn levels(&self, i: usize) -> impl Iterator<Item = (BookSide, f64, f64)> + '_ {
        let start = if i == 0 { 0 } else { self.level_end[i - 1] as usize };
        let end = self.level_end[i] as usize;
        (start..end).map(move |j| (if self.side[j] == 0 { BookSide::Bid } else { BookSide::Ask }, self.price[j], self.qty[j]))
    }
}

/// Applies message `i` of a validated tape to a tracker (the streaming step).
pub fn step(tracker: &mut BookTracker, tape: &Tape<'_>, i: usize, out: &mut Vec<MinuteRow>) -> Result<(), BookError> {
    let t = tape.t_ms[i] as i64;
    match tape.kind[i] {
        KIND_INVALIDATE => tracker.invalidate(t, out),
        k => {
            tracker.apply(t, k == KIND_SNAPSHOT, tape.levels(i), out)?;
        }
    }
    Ok(())
}

/// Every minute closed by the tape, then those closed by `end_ms` if given.
pub fn features(scale: Scale, depth: Option<usize>, tape: &Tape<'_>, end_ms: Option<i64>) -> Result<Vec<MinuteRow>, BookError> {
    tape.validate()?;
    let mut tracker = BookTracker::new(scale, depth)?;
    let mut out = Vec::new();
    for i in 0..tape.t_ms.len() {
        step(&mut tracker, tape, i, &mut out)?;
    }
    if let Some(end) = end_ms {
        tracker.advance(end, &mut out);
    }
    Ok(out)
}
