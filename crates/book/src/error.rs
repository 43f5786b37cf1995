//! Errors: invalid configuration or input, never a panic.

use std::fmt;

/// Why a configuration, an input or a message was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum BookError {
    /// A configuration value is out of range.
    InvalidParameter {
        /// Parameter name, e.g. `depth`.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// A price or quantity is not finite, negative, too large, or has more
    /// decimals than the instrument's precision.
    InvalidLevel {
        /// `price` or `qty`.
        field: &'static str,
        /// The rejected value.
        value: f64,
        /// Why.
        reason: &'static str,
    },
    /// Columns of different lengths, or level offsets out of order.
    LengthMismatch {
        /// Column name.
        column: &'static str,
        /// Its length.
        len: usize,
        /// The expected length.
        expected: usize,
    },
    /// The book after a Kraken message does not match the message's checksum.
    ChecksumMismatch {
        /// The checksum the exchange sent.
        expected: u32,
        /// The checksum of our book.
        computed: u32,
    },
    /// An update arrived while no snapshot is loaded (after a checksum
    /// failure, before the first snapshot).
    NotSynced,
}

impl BookError {
    /// Stable machine-readable code, used for JS error codes.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidParameter { .. } => "E_INVALID_PARAMETER",
            Self::InvalidLevel { .. } => "E_INVALID_LEVEL",
            Self::LengthMismatch { .. } => "E_LENGTH_MISMATCH",
            Self::ChecksumMismatch { .. } => "E_CHECKSUM_MISMATCH",
            Self::NotSynced => "E_NOT_SYNCED",
        }
    }
}

impl fmt::Display for BookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParameter { name, reason } => write!(f, "invalid {name}: {reason}"),
            Self::InvalidLevel { field, value, reason } => write!(f, "invalid {field} {value}: {reason}"),
            Self::LengthMismatch { column, len, expected } => {
                write!(f, "column {column} has {len} entries, expected {expected}")
            }
            Self::ChecksumMismatch { expected, computed } => {
                write!(f, "book checksum mismatch: exchange sent {expected}, our book gives {computed}")
            }
            Self::NotSynced => write!(f, "update before a snapshot: the book is not synchronised"),
        }
    }
}

impl std::error::Error for BookError {}
