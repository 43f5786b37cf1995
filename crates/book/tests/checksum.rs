//! Kraken checksum: the CRC32 against the standard check value and a plain
//! bitwise CRC32, and the worked example of Kraken's "Book checksum
//! (WebSocket v2)" guide (BTC/USD, price precision 1, qty precision 8,
//! documented checksum 3310070434).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use tickcast_book::checksum::{crc32, kraken_checksum};
use tickcast_book::kraken::KrakenBook;
use tickcast_book::{Book, BookSide, Scale};

/// Independent oracle: bit-at-a-time CRC32 (no table).
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

/// The guide's snapshot, as the (price, qty) text it shows.
const DOC_BIDS: [(&str, &str); 10] = [
    ("45283.5", "0.10000000"), ("45283.4", "1.54582015"), ("45282.1", "0.10000000"), ("45281.0", "0.10000000"),
    ("45280.3", "1.54592586"), ("45279.0", "0.07990000"), ("45277.6", "0.03310103"), ("45277.5", "0.30000000"),
    ("45277.3", "1.54602737"), ("45276.6", "0.15445238"),
];
const DOC_ASKS: [(&str, &str); 10] = [
    ("45285.2", "0.00100000"), ("45286.4", "1.54571953"), ("45286.6", "1.54571109"), ("45289.6", "1.54560911"),
    ("45290.2", "0.15890660"), ("45291.8", "1.54553491"), ("45294.7", "0.04454749"), ("45296.1", "0.35380000"),
    ("45297.5", "0.09945542"), ("45299.5", "0.18772827"),
];
const DOC_CHECKSUM: u32 = 3_310_070_434;

/// The guide's string rule applied to decimal text: remove '.', strip leading zeros.
fn doc_text(levels: &[(&str, &str)]) -> String {
    levels
        .iter()
        .map(|(p, q)| format!("{}{}", p.replace('.', "").trim_start_matches('0'), q.replace('.', "").trim_start_matches('0')))
        .collect()
}

fn levels(side: BookSide, v: &[(&str, &str)]) -> Vec<(BookSide, f64, f64)> {
    v.iter().map(|(p, q)| (side, p.parse().unwrap(), q.parse().unwrap())).collect()
}

#[test]
fn crc32_matches_the_standard_check_value_and_a_bitwise_oracle() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    for s in ["a", "kraken", "452852100000", &"x".repeat(1000)] {
        assert_eq!(crc32(s.as_bytes()), crc32_bitwise(s.as_bytes()));
    }
}

#[test]
fn the_guides_string_gives_the_documented_checksum() {
    // The guide's first step: "45285.2" -> "452852", "0.00100000" -> "100000".
    let text = doc_text(&DOC_ASKS) + &doc_text(&DOC_BIDS);
    assert!(text.starts_with("452852100000"));
    assert_eq!(crc32_bitwise(text.as_bytes()), DOC_CHECKSUM);
    assert_eq!(crc32(text.as_bytes()), DOC_CHECKSUM);
}

#[test]
fn the_guides_snapshot_from_json_numbers_gives_the_documented_checksum() {
    let scale = Scale::new(1, 8).unwrap();
    let mut book = KrakenBook::new(scale, 10).unwrap();
    // Sent in the guide's order (bids best first); the book sorts them.
    let mut lv = levels(BookSide::Bid, &DOC_BIDS);
    lv.extend(levels(BookSide::Ask, &DOC_ASKS));
    let mut out = Vec::new();
    book.on_message(0, true, lv.clone(), Some(DOC_CHECKSUM), &mut out).unwrap();
    assert!(book.is_synced());
    assert_eq!(book.checksum(), DOC_CHECKSUM);
    // Shuffled input order changes nothing (the checksum reads the sorted book).
    lv.reverse();
    let mut b2 = KrakenBook::new(scale, 10).unwrap();
    b2.on_message(0, true, lv, Some(DOC_CHECKSUM), &mut out).unwrap();
}

#[test]
fn any_change_to_a_top_level_changes_the_checksum() {
    let scale = Scale::new(1, 8).unwrap();
    let mut base = Book::new(Some(10));
    for (side, p, q) in levels(BookSide::Bid, &DOC_BIDS).into_iter().chain(levels(BookSide::Ask, &DOC_ASKS)) {
        base.set(side, scale.price_ticks(p).unwrap(), scale.qty_lots(q).unwrap());
    }
    assert_eq!(kraken_checksum(&base), DOC_CHECKSUM);
    for side in [BookSide::Bid, BookSide::Ask] {
        for i in 0..10 {
            let (t, q) = base.level(side, i).unwrap();
            let mut b = base.clone();
            b.set(side, t, q + 1);
            assert_ne!(kraken_checksum(&b), DOC_CHECKSUM, "{side:?} level {i} qty +1 lot");
        }
    }
}
