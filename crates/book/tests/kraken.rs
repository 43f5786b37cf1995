//! Kraken v2 book semantics: zero quantity deletes, truncation to the
//! subscribed depth after every message, checksum verified per message, a
//! failed message never reaches the features. Expected checksums come from
//! a naive model in this file (a BTreeMap book, decimal text via format!,
//! bitwise CRC32), not from the crate.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::collections::BTreeMap;
use tickcast_book::kraken::KrakenBook;
use tickcast_book::{BookError, BookSide, Scale};

fn crc32_bitwise(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
    }
    !c
}

/// A naive book: price text -> qty, kept as decimal strings at the precision.
#[derive(Default, Clone)]
struct Naive {
    bids: BTreeMap<i64, f64>,
    asks: BTreeMap<i64, f64>,
}

const PP: usize = 2;
const QP: usize = 4;

fn key(p: f64) -> i64 {
    (p * 100.0).round() as i64
}

impl Naive {
    fn apply(&mut self, levels: &[(BookSide, f64, f64)], depth: usize) {
        for &(s, p, q) in levels {
            let m = if s == BookSide::Bid { &mut self.bids } else { &mut self.asks };
            if q == 0.0 {
                m.remove(&key(p));
            } else {
                m.insert(key(p), q);
            }
        }
        while self.bids.len() > depth {
            let k = *self.bids.keys().next().unwrap();
            self.bids.remove(&k);
        }
        while self.asks.len() > depth {
            let k = *self.asks.keys().next_back().unwrap();
            self.asks.remove(&k);
        }
    }
    fn checksum(&self) -> u32 {
        let fmt = |k: &i64, q: &f64| {
            let p = format!("{:.PP$}", *k as f64 / 100.0);
            let q = format!("{q:.QP$}");
            format!("{}{}", p.replace('.', "").trim_start_matches('0'), q.replace('.', "").trim_start_matches('0'))
        };
        let mut s = String::new();
        for (k, q) in self.asks.iter().take(10) {
            s += &fmt(k, q);
        }
        for (k, q) in self.bids.iter().rev().take(10) {
            s += &fmt(k, q);
        }
        crc32_bitwise(s.as_bytes())
    }
}

/// Deterministic xorshift generator (no dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_levels(rng: &mut Rng, n: usize, mid: i64) -> Vec<(BookSide, f64, f64)> {
    (0..n)
        .map(|_| {
            let bid = rng.below(2) == 0;
            let off = 1 + rng.below(40) as i64;
            let k = if bid { mid - off } else { mid + off };
            let q = if rng.below(4) == 0 { 0.0 } else { (1 + rng.below(50_000)) as f64 / 10_000.0 };
            (if bid { BookSide::Bid } else { BookSide::Ask }, k as f64 / 100.0, q)
        })
        .collect()
}

#[test]
fn random_messages_match_the_naive_book_at_every_depth() {
    for depth in [10usize, 25, 100] {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ depth as u64);
        let scale = Scale::new(PP as u32, QP as u32).unwrap();
        let mut book = KrakenBook::new(scale, depth).unwrap();
        let mut naive = Naive::default();
        let mut out = Vec::new();
        let snap = random_levels(&mut rng, 300, 1_000_000);
        let snap: Vec<_> = snap.into_iter().filter(|l| l.2 > 0.0).collect();
        naive.apply(&snap, depth);
        book.on_message(0, true, snap, Some(naive.checksum()), &mut out).unwrap();
        for i in 0..2000 {
            let n = 1 + rng.below(6) as usize;
            let lv = random_levels(&mut rng, n, 1_000_000);
            naive.apply(&lv, depth);
            book.on_message(i, false, lv, Some(naive.checksum()), &mut out).unwrap();
            assert!(book.book().len(BookSide::Bid) <= depth && book.book().len(BookSide::Ask) <= depth);
        }
        assert_eq!(book.checksum_failures(), 0);
        let bids: Vec<(f64, f64)> = naive.bids.iter().rev().map(|(k, q)| (*k as f64 / 100.0, *q)).collect();
        assert_eq!(book.top(BookSide::Bid, depth), bids);
    }
}

#[test]
fn truncation_drops_the_worst_level_after_an_insert() {
    let scale = Scale::new(0, 0).unwrap();
    let mut book = KrakenBook::new(scale, 10).unwrap();
    let mut out = Vec::new();
    let snap: Vec<_> = (0..10).map(|i| (BookSide::Bid, 100.0 - i as f64, 1.0)).chain([(BookSide::Ask, 101.0, 1.0)]).collect();
    book.on_message(0, true, snap, None, &mut out).unwrap();
    // A quantity change keeps 10 levels; a delete and re-insert in one
    // message too; a new best bid (101) pushes the 10th (91) out.
    book.on_message(1, false, vec![(BookSide::Bid, 99.0, 2.0)], None, &mut out).unwrap();
    assert_eq!(book.top(BookSide::Bid, 20).len(), 10);
    book.on_message(2, false, vec![(BookSide::Bid, 100.0, 0.0), (BookSide::Bid, 100.0, 3.0), (BookSide::Ask, 100.0, 0.0)], None, &mut out).unwrap();
    assert_eq!(book.top(BookSide::Bid, 20).len(), 10);
    book.on_message(2, false, vec![(BookSide::Ask, 102.0, 1.0), (BookSide::Ask, 101.0, 0.0), (BookSide::Bid, 101.0, 3.0)], None, &mut out).unwrap();
    let bids = book.top(BookSide::Bid, 20);
    assert_eq!(bids.len(), 10);
    assert_eq!(bids.last().unwrap().0, 92.0);
    // Deleting a level does not bring the dropped one back (Kraken sends it if it re-enters).
    book.on_message(3, false, vec![(BookSide::Bid, 100.0, 0.0)], None, &mut out).unwrap();
    assert_eq!(book.top(BookSide::Bid, 20).len(), 9);
}

#[test]
fn a_mismatch_is_counted_empties_the_book_and_refuses_updates_until_a_snapshot() {
    let scale = Scale::new(PP as u32, QP as u32).unwrap();
    let mut book = KrakenBook::new(scale, 10).unwrap();
    let mut naive = Naive::default();
    let mut out = Vec::new();
    let snap = vec![(BookSide::Bid, 99.0, 1.0), (BookSide::Ask, 101.0, 2.0)];
    naive.apply(&snap, 10);
    book.on_message(0, true, snap.clone(), Some(naive.checksum()), &mut out).unwrap();
    let upd = vec![(BookSide::Bid, 99.5, 1.5)];
    let err = book.on_message(60_000, false, upd.clone(), Some(naive.checksum() ^ 1), &mut out).unwrap_err();
    assert!(matches!(err, BookError::ChecksumMismatch { .. }));
    assert_eq!(err.code(), "E_CHECKSUM_MISMATCH");
    assert_eq!(book.checksum_failures(), 1);
    assert!(!book.is_synced());
    assert!(book.book().is_empty());
    assert_eq!(book.on_message(60_001, false, upd, None, &mut out).unwrap_err(), BookError::NotSynced);
    // The minute closed by the failure holds only the snapshot's state.
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].values[1], 2.0); // spread_close of the snapshot (101 - 99)
    book.on_message(61_000, true, snap, Some(naive.checksum()), &mut out).unwrap();
    assert!(book.is_synced());
}

#[test]
fn bad_levels_and_depths_are_rejected() {
    let scale = Scale::new(1, 8).unwrap();
    assert!(KrakenBook::new(scale, 11).is_err());
    assert!(Scale::new(13, 2).is_err());
    let mut book = KrakenBook::new(scale, 10).unwrap();
    let mut out = Vec::new();
    for bad in [(45283.55, 1.0), (f64::NAN, 1.0), (-1.0, 1.0), (1.0, -0.5), (1.0, 0.123456789), (0.0, 1.0), (1e14, 1.0)] {
        let e = book.on_message(0, true, vec![(BookSide::Bid, bad.0, bad.1)], None, &mut out).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_LEVEL", "{bad:?}");
        assert!(!book.is_synced());
    }
}
