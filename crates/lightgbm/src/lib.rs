//! A small safe wrapper over LightGBM 4.x for tickcast: train from a
//! row-major f64 matrix with labels and validated JSON parameters (optional
//! validation set and early stopping), save and load model text, batch
//! prediction and a prepared single-row predictor for serving, which runs
//! the model compiled into flat Rust arrays ([`CompiledModel`], equal to
//! LightGBM bit for bit) or, for what that does not cover, LightGBM's own
//! single-row path.
//!
//! LightGBM itself (4.7.0) comes from the `lightgbm3-sys` crate, which
//! bundles its sources and builds them with cmake and g++. We wrap its C API
//! directly rather than the high-level `lightgbm3` crate because that one
//! builds datasets without the training parameters (so `max_bin`,
//! `min_data_in_leaf`'s feature pre-filter etc. would silently differ from
//! Python lightgbm), panics on some inputs (`unwrap` on C strings and in
//! `Drop`), and stops early by its own rule rather than Python's.
//!
//! Reproducibility: unless set, parameters get `num_threads = 1`,
//! `deterministic = true`, `force_col_wise = true` and `verbosity = -1`
//! (see [`Params`]). With the same data and parameters, training here and in
//! the Python package (same LightGBM version) gives the same model.
//!
//! Every failure is an [`LgbmError`] with an [`ErrorCode`]; no function
//! panics on bad input.

mod booster;
mod compiled_model;
mod error;
mod ffi;
mod params;

pub use booster::{Booster, EvalHistory, FastPredictor, ImportanceType, LabeledData, Matrix, PredictorEngine};
pub use compiled_model::CompiledModel;
pub use error::{ErrorCode, LgbmError, Result};
pub use params::Params;

/// The LightGBM version compiled into this crate.
pub const LIGHTGBM_VERSION: &str = "4.7.0";
