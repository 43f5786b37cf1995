//! Binance diff-depth synchronisation rules, driven by hand-written update
//! ids (the rules as Binance documents them, not as the crate implements them).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use tickcast_book::binance::{BinanceDepthBook, DiffOutcome, SnapshotOutcome};
use tickcast_book::{BookSide, Scale};

fn book() -> BinanceDepthBook {
    BinanceDepthBook::new(Scale::new(2, 4).unwrap(), None).unwrap()
}

fn bid(p: f64, q: f64) -> Vec<(BookSide, f64, f64)> {
    vec![(BookSide::Bid, p, q)]
}

#[test]
fn buffered_events_older_than_the_snapshot_are_dropped_and_the_first_straddles() {
    let mut b = book();
    let mut out = Vec::new();
    assert_eq!(b.on_diff(0, 90, 99, bid(1.0, 1.0), &mut out).unwrap(), DiffOutcome::Buffered);
    assert_eq!(b.on_diff(1, 100, 105, bid(2.0, 1.0), &mut out).unwrap(), DiffOutcome::Buffered);
    assert_eq!(b.on_diff(2, 106, 110, bid(3.0, 1.0), &mut out).unwrap(), DiffOutcome::Buffered);
    // Snapshot at 102: event 90..99 dropped (u <= 102), 100..105 straddles 103.
    let r = b.on_snapshot(3, 102, vec![(BookSide::Bid, 0.5, 1.0), (BookSide::Ask, 9.0, 1.0)], &mut out).unwrap();
    assert_eq!(r, SnapshotOutcome::Synced { applied: 2 });
    assert_eq!(b.last_update_id(), Some(110));
    let prices: Vec<i64> = b.book().top(BookSide::Bid, 10).iter().map(|l| l.0).collect();
    assert_eq!(prices, vec![300, 200, 50]); // 1.00 (the dropped event) is absent
    // Next must be U == 111.
    assert_eq!(b.on_diff(4, 105, 110, bid(4.0, 1.0), &mut out).unwrap(), DiffOutcome::Stale);
    assert_eq!(b.on_diff(5, 111, 111, bid(3.0, 0.0), &mut out).unwrap(), DiffOutcome::Applied);
    assert_eq!(b.book().top(BookSide::Bid, 1)[0].0, 200);
}

#[test]
fn a_snapshot_older_than_the_stream_is_refused_and_the_buffer_kept() {
    let mut b = book();
    let mut out = Vec::new();
    b.on_diff(0, 200, 210, bid(1.0, 1.0), &mut out).unwrap();
    assert_eq!(b.on_snapshot(1, 150, bid(0.5, 1.0), &mut out).unwrap(), SnapshotOutcome::TooOld);
    assert!(!b.is_synced());
    assert_eq!(b.buffered(), 1);
    assert_eq!(b.on_snapshot(2, 205, bid(0.5, 1.0), &mut out).unwrap(), SnapshotOutcome::Synced { applied: 1 });
}

#[test]
fn a_gap_invalidates_the_book_and_asks_for_a_new_snapshot() {
    let mut b = book();
    let mut out = Vec::new();
    assert_eq!(b.on_snapshot(0, 100, bid(1.0, 1.0), &mut out).unwrap(), SnapshotOutcome::Synced { applied: 0 });
    // First event after a snapshot with nothing buffered: must straddle 101.
    assert_eq!(b.on_diff(1, 95, 100, bid(2.0, 1.0), &mut out).unwrap(), DiffOutcome::Stale);
    assert_eq!(b.on_diff(2, 98, 104, bid(2.0, 1.0), &mut out).unwrap(), DiffOutcome::Applied);
    assert_eq!(b.on_diff(3, 105, 107, bid(2.0, 2.0), &mut out).unwrap(), DiffOutcome::Applied);
    // 108 missing: 109..110 is a gap.
    assert_eq!(b.on_diff(4, 109, 110, bid(2.0, 3.0), &mut out).unwrap(), DiffOutcome::Gap);
    assert!(!b.is_synced());
    assert!(b.book().is_empty());
    assert_eq!(b.gaps(), 1);
    assert_eq!(b.on_diff(5, 111, 112, bid(2.0, 4.0), &mut out).unwrap(), DiffOutcome::Buffered);
    assert_eq!(b.on_snapshot(6, 110, bid(2.0, 3.0), &mut out).unwrap(), SnapshotOutcome::Synced { applied: 1 });
    assert_eq!(b.book().top(BookSide::Bid, 1), vec![(200, 40_000)]);
    // Overlapping ids after sync are also a gap (every U must be previous u + 1).
    assert_eq!(b.on_diff(7, 112, 114, bid(2.0, 5.0), &mut out).unwrap(), DiffOutcome::Gap);
    // A gap inside the buffer after a snapshot.
    b.on_diff(8, 115, 116, bid(2.0, 5.0), &mut out).unwrap();
    b.on_diff(9, 118, 119, bid(2.0, 5.0), &mut out).unwrap();
    assert_eq!(b.on_snapshot(10, 113, bid(2.0, 1.0), &mut out).unwrap(), SnapshotOutcome::Gap);
    assert_eq!(b.gaps(), 3);
}

#[test]
fn a_corrupted_event_first_in_the_buffer_does_not_block_the_sync() {
    let mut b = book();
    let mut out = Vec::new();
    b.on_diff(0, 100, 110, bid(1.0, 1.0), &mut out).unwrap();
    assert_eq!(b.on_snapshot(1, 110, bid(1.0, 1.0), &mut out).unwrap(), SnapshotOutcome::Synced { applied: 0 });
    // A corrupted event (ids shifted by 1000) is a gap and waits in the buffer...
    assert_eq!(b.on_diff(2, 1111, 1115, bid(9.0, 1.0), &mut out).unwrap(), DiffOutcome::Gap);
    b.on_diff(3, 111, 115, bid(2.0, 1.0), &mut out).unwrap();
    b.on_diff(4, 116, 120, bid(3.0, 1.0), &mut out).unwrap();
    // ...the snapshot at 113 is straddled by 111..115, so the corrupted one before it is dropped.
    assert_eq!(b.on_snapshot(5, 113, bid(1.0, 1.0), &mut out).unwrap(), SnapshotOutcome::Synced { applied: 2 });
    let prices: Vec<i64> = b.book().top(BookSide::Bid, 10).iter().map(|l| l.0).collect();
    assert_eq!(prices, vec![300, 200, 100]);
    // Nothing straddles a snapshot older than every buffered event: too old.
    let mut c = book();
    c.on_diff(0, 200, 210, bid(1.0, 1.0), &mut out).unwrap();
    c.on_diff(1, 211, 220, bid(1.0, 1.0), &mut out).unwrap();
    assert_eq!(c.on_snapshot(2, 150, bid(1.0, 1.0), &mut out).unwrap(), SnapshotOutcome::TooOld);
}

#[test]
fn bad_ids_and_levels_are_errors() {
    let mut b = book();
    let mut out = Vec::new();
    assert!(b.on_diff(0, 10, 9, bid(1.0, 1.0), &mut out).is_err());
    b.on_snapshot(0, 100, bid(1.0, 1.0), &mut out).unwrap();
    assert_eq!(b.on_diff(1, 101, 101, bid(1.001, 1.0), &mut out).unwrap_err().code(), "E_INVALID_LEVEL");
    assert!(!b.is_synced());
}
