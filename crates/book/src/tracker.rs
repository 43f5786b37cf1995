//! A book plus its per-minute features: the one update path that the Kraken
//! and Binance books, streaming and batch all go through.

use crate::book::{Book, BookSide};
use crate::error::BookError;
use crate::features::{BookFeatures, MinuteRow, TopView, UpdateStats};
use crate::scale::Scale;

/// One price level of a message: side, price, quantity (0 deletes).
pub type LevelInput = (BookSide, f64, f64);

/// Book state and features of one instrument.
#[derive(Debug, Clone)]
pub struct BookTracker {
    book: Book,
    scale: Scale,
    features: BookFeatures,
    scratch: Vec<(BookSide, i64, i64)>,
}

impl BookTracker {
    /// An empty tracker; `depth` = levels kept per side (None: all).
    pub fn new(scale: Scale, depth: Option<usize>) -> Result<Self, BookError> {
        if depth == Some(0) {
            return Err(BookError::InvalidParameter { name: "depth", reason: "must be at least 1".into() });
        }
        Ok(Self { book: Book::new(depth), scale, features: BookFeatures::new(), scratch: Vec::new() })
    }

    /// The book.
    pub fn book(&self) -> &Book {
        &self.book
    }

    /// The scale.
    pub fn scale(&self) -> &Scale {
        &self.scale
    }

    /// Applies one message's levels to the book (a snapshot replaces it),
    /// then truncates to the depth. Every level is converted and checked
    /// before any is applied, so a rejected message leaves the book as it was.
    /// The features are not told yet: see [`Self::commit`].
    pub fn load<I: IntoIterator<Item = LevelInput>>(&mut self, snapshot: bool, levels: I) -> Result<UpdateStats, BookError> {
        self.scratch.clear();
        for (side, price, qty) in levels {
            let t = self.scale.price_ticks(price)?;
            let q = self.scale.qty_lots(qty)?;
            self.scratch.push((side, t, q));
        }
        if snapshot {
            self.book.clear();
        }
        let mut stats = UpdateStats::default();
        for &(side, t, q) in &self.scratch {
            stats.levels += 1;
            if self.book.set(side, t, q) {
                stats.deletes += 1;
            }
        }
        self.book.truncate();
        Ok(stats)
    }

    /// Tells the features that the book as it is now is valid from `t_ms`.
    pub fn commit(&mut self, t_ms: i64, stats: &UpdateStats, out: &mut Vec<MinuteRow>) {
        let view = TopView::of(&self.book, &self.scale);
        self.features.on_state(t_ms, &view, stats, out);
    }

    /// Load then commit (a message already known to be valid).
    pub fn apply<I: IntoIterator<Item = LevelInput>>(
        &mut self,
        t_ms: i64,
        snapshot: bool,
        levels: I,
        out: &mut Vec<MinuteRow>,
    ) -> Result<UpdateStats, BookError> {
        let stats = self.load(snapshot, levels)?;
        self.commit(t_ms, &stats, out);
        Ok(stats)
    }

    /// The book is no longer trustworthy from `t_ms`: empties it and stops
    /// the time-weighted features until the next snapshot.
    pub fn invalidate(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        self.book.clear();
        self.features.invalidate(t_ms, out);
    }

    /// Watermark: closes the minutes that end at or before `t_ms`.
    pub fn advance(&mut self, t_ms: i64, out: &mut Vec<MinuteRow>) {
        self.features.advance(t_ms, out);
    }

    /// Back to a fresh instance.
    pub fn reset(&mut self) {
        self.book.clear();
        self.features.reset();
    }
}

/// Pairs of a flat `[price, qty, price, qty, ...]` array as levels of one side.
pub fn flat_levels(side: BookSide, flat: &[f64]) -> Result<impl Iterator<Item = LevelInput> + '_, BookError> {
    if !flat.len().is_multiple_of(2) {
        return Err(BookError::LengthMismatch { column: "levels", len: flat.len(), expected: flat.len() + 1 });
    }
    Ok(flat.chunks_exact(2).map(move |c| (side, c[0], c[1])))
}
