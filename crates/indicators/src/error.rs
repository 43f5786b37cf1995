//! Errors: invalid configuration or input, never a panic.

use std::fmt;

/// Why a configuration or an input was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum IndicatorError {
    /// A period or multiplier is out of range.
    InvalidParameter {
        /// Parameter name, e.g. `period`.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// Why, e.g. "below the minimum".
        reason: &'static str,
        /// The smallest accepted value.
        min: f64,
    },
    /// A feature name does not follow the grammar (see [`crate::feature_set`]).
    InvalidFeatureName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Batch columns of different lengths.
    LengthMismatch {
        /// Column name.
        column: &'static str,
        /// Its length.
        len: usize,
        /// The expected length (that of `close`).
        expected: usize,
    },
    /// A candle field is NaN or infinite (only from checked entry points).
    NonFiniteInput {
        /// Field name.
        field: &'static str,
    },
}

impl IndicatorError {
    /// Stable machine-readable code, used for JS error codes.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidParameter { .. } => "E_INVALID_PARAMETER",
            Self::InvalidFeatureName { .. } => "E_INVALID_FEATURE",
            Self::LengthMismatch { .. } => "E_LENGTH_MISMATCH",
            Self::NonFiniteInput { .. } => "E_NON_FINITE_INPUT",
        }
    }
}

impl fmt::Display for IndicatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParameter { name, value, reason, min } => write!(
                f,
                "invalid parameter {name} = {value}: {reason} (minimum {min}, maximum {})",
                crate::MAX_PERIOD
            ),
            Self::InvalidFeatureName { name, reason } => {
                write!(f, "invalid feature name {name:?}: {reason}")
            }
            Self::LengthMismatch { column, len, expected } => write!(
                f,
                "column {column} has {len} values, expected {expected} (the length of close)"
            ),
            Self::NonFiniteInput { field } => write!(f, "candle field {field} is NaN or infinite"),
        }
    }
}

impl std::error::Error for IndicatorError {}
