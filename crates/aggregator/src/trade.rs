//! Trade input, its validation, and the reasons a trade is rejected.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::MAX_EPOCH_MS;

/// Taker side of a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// Taker bought (counts into `buy_volume`).
    Buy,
    /// Taker sold (counts into `sell_volume`).
    Sell,
    /// The exchange gives no side (counts into `volume` only).
    Unknown,
}

/// A side as it arrives: the contract's name or a column code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideIn<'a> {
    /// `"buy"`, `"sell"` or `"unknown"` (the contract's `TradeSide`).
    Name(&'a str),
    /// Column code: 0 = unknown, 1 = buy, 2 = sell.
    Code(u8),
}

impl SideIn<'_> {
    /// The side, or [`RejectReason::BadSide`].
    pub fn resolve(self) -> Result<Side, RejectReason> {
        match self {
            SideIn::Name("buy") | SideIn::Code(1) => Ok(Side::Buy),
            SideIn::Name("sell") | SideIn::Code(2) => Ok(Side::Sell),
            SideIn::Name("unknown") | SideIn::Code(0) => Ok(Side::Unknown),
            _ => Err(RejectReason::BadSide),
        }
    }
}

/// A trade id as it arrives.
///
/// Ids become a 64-bit key used for duplicate detection and as the tie-break
/// between trades with the same event time:
/// - a whole number 0 ≤ id < 2^63 (given as `I64`, as an integral `F64` up to
///   2^53, or as a canonical decimal string such as `"3735683259"`) is its own
///   key, so the numeric and the string forms of one id agree;
/// - any other string (1..=256 bytes) is hashed with 64-bit FNV-1a and the top
///   bit is set, so it never meets a numeric key. Two distinct string ids with
///   the same hash would be taken for duplicates (probability ~ n²/2^64). A
///   hash carries no order: trades with such ids and the same event time keep
///   their arrival order in a candle (see the window's order key).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TradeIdIn<'a> {
    /// The contract's string id.
    Str(&'a str),
    /// A numeric id from a `BigInt64Array`.
    I64(i64),
    /// A numeric id from a `Float64Array` (must be integral, 0..=2^53).
    F64(f64),
    /// The key itself, computed as [`TradeIdIn::key`] computes it for the id (a trade file's
    /// parser does this while it reads the id).
    Key(u64),
}

/// Set in the key of a hashed (non-numeric) string id; never in a numeric one.
pub(crate) const HASHED_BIT: u64 = 1 << 63;
const MAX_SAFE_F64_ID: f64 = 9_007_199_254_740_992.0; // 2^53

impl TradeIdIn<'_> {
    /// The dedup key, or [`RejectReason::BadTradeId`].
    pub fn key(self) -> Result<u64, RejectReason> {
        match self {
            TradeIdIn::I64(v) => u64::try_from(v).map_err(|_| RejectReason::BadTradeId),
            TradeIdIn::F64(v) => {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_SAFE_F64_ID {
                    // Exact: integral and within 2^53.
                    Ok(v as u64)
                } else {
                    Err(RejectReason::BadTradeId)
                }
            }
            TradeIdIn::Str(s) => string_key(s),
            TradeIdIn::Key(k) => Ok(k),
        }
    }
}

pub(crate) fn string_key(s: &str) -> Result<u64, RejectReason> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 256 {
        return Err(RejectReason::BadTradeId);
    }
    let canonical = b.len() <= 19 && b.iter().all(u8::is_ascii_digit) && (b.len() == 1 || b[0] != b'0');
    if canonical {
        if let Ok(v) = s.parse::<u64>() {
            if v < HASHED_BIT {
                return Ok(v);
            }
        }
    }
    Ok(fnv1a64(b) | HASHED_BIT)
}

/// 64-bit FNV-1a: stable across versions, so keys in a snapshot stay valid.
fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_on(FNV_OFFSET, bytes)
}

/// FNV-1a's starting state.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `bytes` after the bytes that gave `h` (so a shared prefix is hashed once).
pub(crate) fn fnv1a64_on(mut h: u64, bytes: &[u8]) -> u64 {
    for &x in bytes {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An event time in ms as it arrives (a JS number), or [`RejectReason::BadTime`]
/// unless it is a whole number in 0..=[`MAX_EPOCH_MS`].
pub fn epoch_ms(ts_ms: f64) -> Result<i64, RejectReason> {
    if ts_ms.is_finite() && ts_ms >= 0.0 && ts_ms.fract() == 0.0 && ts_ms <= MAX_EPOCH_MS as f64 {
        // Exact: integral and far below 2^53.
        Ok(ts_ms as i64)
    } else {
        Err(RejectReason::BadTime)
    }
}

/// One trade as it arrives, borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub struct TradeIn<'a> {
    /// When present, must equal the aggregator's exchange.
    pub exchange: Option<&'a str>,
    /// `BASE/QUOTE`, upper-case letters and digits (the contract's pattern), at most 32 characters.
    pub pair: &'a str,
    /// Trade id (see [`TradeIdIn`]).
    pub trade_id: TradeIdIn<'a>,
    /// Price, finite and > 0.
    pub price: f64,
    /// Quantity, finite and > 0.
    pub qty: f64,
    /// Taker side.
    pub side: SideIn<'a>,
    /// Event time, whole ms since the Unix epoch.
    pub ts_ms: f64,
}

/// Checks a pair name against the contract: `^[A-Z0-9]+/[A-Z0-9]+$`, 3..=32 bytes.
pub fn valid_pair(pair: &str) -> bool {
    let b = pair.as_bytes();
    if b.len() < 3 || b.len() > 32 {
        return false;
    }
    let mut slashes = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'/' {
            slashes += 1;
            if i == 0 || i == b.len() - 1 {
                return false;
            }
        } else if !(c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return false;
        }
    }
    slashes == 1
}

/// Why a trade was rejected. Rejected trades are counted and change no state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The trade names another exchange than the aggregator's.
    ExchangeMismatch,
    /// The pair does not match `BASE/QUOTE` (or, in a batch, its index is outside the table).
    BadPair,
    /// The pair would exceed `max_pairs`.
    TooManyPairs,
    /// Empty, too long, negative or non-integral trade id.
    BadTradeId,
    /// Price is NaN, infinite, zero or negative.
    BadPrice,
    /// Quantity is NaN, infinite, zero or negative.
    BadQty,
    /// Side is not buy / sell / unknown (codes 1 / 2 / 0).
    BadSide,
    /// Event time is NaN, negative, fractional or after year 3000.
    BadTime,
}

impl RejectReason {
    /// Every reason, in the order of [`RejectReason::index`].
    pub const ALL: [RejectReason; 8] = [
        RejectReason::ExchangeMismatch,
        RejectReason::BadPair,
        RejectReason::TooManyPairs,
        RejectReason::BadTradeId,
        RejectReason::BadPrice,
        RejectReason::BadQty,
        RejectReason::BadSide,
        RejectReason::BadTime,
    ];

    /// A stable position in [`RejectReason::ALL`] (used for counters).
    pub fn index(self) -> usize {
        match self {
            RejectReason::ExchangeMismatch => 0,
            RejectReason::BadPair => 1,
            RejectReason::TooManyPairs => 2,
            RejectReason::BadTradeId => 3,
            RejectReason::BadPrice => 4,
            RejectReason::BadQty => 5,
            RejectReason::BadSide => 6,
            RejectReason::BadTime => 7,
        }
    }

    /// A stable snake_case code, e.g. `bad_price`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::ExchangeMismatch => "exchange_mismatch",
            RejectReason::BadPair => "bad_pair",
            RejectReason::TooManyPairs => "too_many_pairs",
            RejectReason::BadTradeId => "bad_trade_id",
            RejectReason::BadPrice => "bad_price",
            RejectReason::BadQty => "bad_qty",
            RejectReason::BadSide => "bad_side",
            RejectReason::BadTime => "bad_time",
        }
    }

    /// A sentence for humans.
    pub fn message(self) -> &'static str {
        match self {
            RejectReason::ExchangeMismatch => "trade exchange differs from the aggregator's exchange",
            RejectReason::BadPair => "pair must match BASE/QUOTE in upper-case letters and digits, at most 32 characters",
            RejectReason::TooManyPairs => "pair would exceed the aggregator's max_pairs",
            RejectReason::BadTradeId => "trade id must be a non-empty string of at most 256 bytes or a whole number 0..=2^53",
            RejectReason::BadPrice => "price must be a finite number > 0",
            RejectReason::BadQty => "qty must be a finite number > 0",
            RejectReason::BadSide => "side must be buy, sell or unknown (codes 1, 2, 0)",
            RejectReason::BadTime => "ts_ms must be a whole number of ms from 0 to 32503680000000",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.as_str(), self.message())
    }
}

impl std::error::Error for RejectReason {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_string_ids_share_keys() {
        assert_eq!(TradeIdIn::Str("3735683259").key(), Ok(3_735_683_259));
        assert_eq!(TradeIdIn::I64(3_735_683_259).key(), Ok(3_735_683_259));
        assert_eq!(TradeIdIn::F64(3_735_683_259.0).key(), Ok(3_735_683_259));
        assert_eq!(TradeIdIn::Str("0").key(), Ok(0));
    }

    #[test]
    fn non_canonical_strings_are_hashed_apart_from_numbers() {
        let k = TradeIdIn::Str("007").key().unwrap_or(0);
        assert_ne!(k, 7);
        assert!(k & HASHED_BIT != 0);
        let k2 = TradeIdIn::Str("TXID-ABC").key().unwrap_or(0);
        assert!(k2 & HASHED_BIT != 0);
        assert_ne!(k, k2);
        // 2^63 does not fit the numeric space: hashed.
        assert!(TradeIdIn::Str("9223372036854775808").key().unwrap_or(0) & HASHED_BIT != 0);
    }

    #[test]
    fn bad_ids_are_rejected() {
        assert_eq!(TradeIdIn::Str("").key(), Err(RejectReason::BadTradeId));
        assert_eq!(TradeIdIn::I64(-1).key(), Err(RejectReason::BadTradeId));
        assert_eq!(TradeIdIn::F64(1.5).key(), Err(RejectReason::BadTradeId));
        assert_eq!(TradeIdIn::F64(f64::NAN).key(), Err(RejectReason::BadTradeId));
        assert_eq!(TradeIdIn::F64(1e300).key(), Err(RejectReason::BadTradeId));
    }

    #[test]
    fn times_and_pairs() {
        assert_eq!(epoch_ms(0.0), Ok(0));
        assert_eq!(epoch_ms(-1.0), Err(RejectReason::BadTime));
        assert_eq!(epoch_ms(1.5), Err(RejectReason::BadTime));
        assert_eq!(epoch_ms(f64::NAN), Err(RejectReason::BadTime));
        assert_eq!(epoch_ms(1.7e18), Err(RejectReason::BadTime));
        assert!(valid_pair("BTC/USD"));
        assert!(!valid_pair("btc/usd"));
        assert!(!valid_pair("BTCUSD"));
        assert!(!valid_pair("/BTC"));
        assert!(!valid_pair("BTC/"));
        assert!(!valid_pair("A/B/C"));
    }
}
