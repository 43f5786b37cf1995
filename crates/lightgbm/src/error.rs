//! Errors as values with a stable code (STYLE.md 12): the Node binding turns
//! each into a JS error whose `code` is [`ErrorCode::as_str`].

use std::fmt;

/// What went wrong, coarse enough for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A parameter is unknown, has the wrong type or value, or LightGBM
    /// rejected the parameter set when building the dataset or booster.
    InvalidParams,
    /// Input arrays have inconsistent shapes (matrix length not a multiple of
    /// the feature count, label count differs from the row count, empty
    /// matrix, bad feature names).
    InvalidInput,
    /// A row or matrix has a different number of features than the model.
    FeatureCount,
    /// Model text could not be parsed.
    ModelParse,
    /// Any other failure reported by LightGBM.
    LightGbm,
}

impl ErrorCode {
    /// The code string carried to JavaScript, e.g. `E_INVALID_PARAMS`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParams => "E_INVALID_PARAMS",
            ErrorCode::InvalidInput => "E_INVALID_INPUT",
            ErrorCode::FeatureCount => "E_FEATURE_COUNT",
            ErrorCode::ModelParse => "E_MODEL_PARSE",
            ErrorCode::LightGbm => "E_LIGHTGBM",
        }
    }
}

/// An error with a [`ErrorCode`] and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LgbmError {
    code: ErrorCode,
    message: String,
}

impl LgbmError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// The error's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message without the code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error under another code (used where the calling context
    /// knows better what a LightGBM failure means).
    pub(crate) fn with_code(self, code: ErrorCode) -> Self {
        Self { code, ..self }
    }
}

impl fmt::Display for LgbmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for LgbmError {}

/// Result with [`LgbmError`].
pub type Result<T> = std::result::Result<T, LgbmError>;
