//! Kraken's book checksum (WebSocket v2 `book` channel): CRC32 (IEEE 802.3,
//! the zlib/PNG polynomial) of the top 10 asks, lowest price first, then the
//! top 10 bids, highest price first; each level written as its price then its
//! quantity, both with the decimal point and the leading zeros removed.
//!
//! v2 sends JSON numbers, so the text is rebuilt from the instrument's
//! precision (`price_precision`, `qty_precision` of the `instrument`
//! channel): a price held as whole ticks at that precision, written in
//! decimal, *is* the price padded to its precision with the point and the
//! leading zeros removed ("45285.2" at precision 1 -> 452852; qty
//! "0.00100000" at precision 8 -> 100000).

use crate::book::{Book, BookSide};

/// The levels per side the checksum covers, whatever the subscribed depth.
pub const CHECKSUM_LEVELS: usize = 10;

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = crc_table();

/// Running CRC32 (reflected, polynomial 0xEDB88320, initial and final XOR
/// 0xFFFFFFFF), as zlib's `crc32`.
#[derive(Debug, Clone, Copy)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self(0xFFFF_FFFF)
    }
}

impl Crc32 {
    /// Feeds bytes.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The checksum of everything fed.
    pub fn finish(self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

/// CRC32 of a byte string.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::default();
    c.update(bytes);
    c.finish()
}

/// Writes a non-negative integer in decimal (no leading zeros; "0" for 0).
#[inline]
fn write_units(crc: &mut Crc32, mut v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    crc.update(&buf[i..]);
}

/// The Kraken v2 checksum of a book held in ticks and lots at the
/// instrument's precision. Fewer than 10 levels on a side: the levels there
/// are (as Kraken computes it on a thin book).
pub fn kraken_checksum(book: &Book) -> u32 {
    let mut crc = Crc32::default();
    for side in [BookSide::Ask, BookSide::Bid] {
        for i in 0..CHECKSUM_LEVELS {
            let Some((ticks, lots)) = book.level(side, i) else { break };
            write_units(&mut crc, ticks);
            write_units(&mut crc, lots);
        }
    }
    crc.finish()
}
