//! Streaming technical indicators for tickcast, TA-Lib compatible.
//!
//! Every indicator is a small state machine implementing [`Indicator`]:
//! `update(input) -> Option<output>` (None while warming up), `is_ready()` and
//! `reset()`. State is bounded by the period (fixed rings, see [`ring`]); one
//! update costs O(1) (amortised O(1) for the rolling min/max of the
//! stochastics; CCI is O(period), see its doc). Batch computation is a fold
//! over the same update ([`batch`]), so batch and streaming agree bit for bit.
//!
//! Indicators that TA-Lib has follow TA-Lib's arithmetic (C library 0.6.4, as
//! bundled in the pinned PyPI `TA-Lib` wheel) (seeding,
//! warm-up, order of floating-point operations, zero thresholds), with its
//! unstable period 0 and default (non-Metastock) compatibility; each doc
//! comment states the convention. The named [`FeatureSet`] drives many
//! indicators from one candle at a time.
//!
//! NaN policy: inputs are not checked per update (that would cost every
//! caller for a case that should not occur); a NaN input propagates to the
//! outputs of the indicators whose window contains it, and for indicators with
//! running sums (SMA, BBANDS, VWAP...) or recursive smoothing (EMA, RSI, ATR...)
//! it poisons them until `reset()`. Callers that may see NaN should validate
//! candles at the edge (the stream contract does). [`FeatureSet::update_checked`]
//! rejects non-finite candles before they touch any state.

mod adx;
mod atr;
pub mod batch;
mod bbands;
mod candle;
mod cci;
mod directional;
mod ema;
mod error;
pub mod feature_set;
mod log_return;
mod macd;
mod mfi;
mod natr;
mod obv;
mod realized_vol;
pub mod ring;
mod roc;
mod rolling_extreme;
mod rsi;
mod sma;
mod stoch;
mod stochrsi;
mod true_range;
mod vwap;
mod willr;
mod wma;

pub use adx::Adx;
pub use atr::Atr;
pub use bbands::{BollingerBands, BollingerOutput};
pub use candle::Bar;
pub use cci::Cci;
pub use directional::{DirectionalIndex, DirectionalSide};
pub use ema::Ema;
pub use error::IndicatorError;
pub use feature_set::{Columns, FeatureSet, FeatureSpec};
pub use log_return::LogReturn;
pub use macd::{Macd, MacdOutput};
pub use mfi::Mfi;
pub use natr::Natr;
pub use obv::Obv;
pub use realized_vol::RealizedVolatility;
pub use roc::Roc;
pub use rsi::Rsi;
pub use sma::Sma;
pub use stoch::{Stochastic, StochasticOutput};
pub use stochrsi::StochasticRsi;
pub use true_range::TrueRange;
pub use vwap::RollingVwap;
pub use willr::WilliamsR;
pub use wma::Wma;

/// One streaming indicator: feed inputs in time order, get an output once warm.
pub trait Indicator {
    /// What one update consumes (a price, or a whole [`Bar`]).
    type Input;
    /// What one update produces once warm.
    type Output;
    /// Consumes one input; `None` while warming up.
    fn update(&mut self, input: Self::Input) -> Option<Self::Output>;
    /// True once `update` returns `Some`.
    fn is_ready(&self) -> bool;
    /// Forgets all inputs; the next updates behave as on a fresh instance.
    fn reset(&mut self);
}

/// Checks a period parameter: `min..=MAX_PERIOD`.
pub(crate) fn check_period(name: &'static str, value: usize, min: usize) -> Result<usize, IndicatorError> {
    if value < min || value > MAX_PERIOD {
        return Err(IndicatorError::InvalidParameter {
            name,
            value: value as f64,
            reason: if value < min { "below the minimum" } else { "above the maximum" },
            min: min as f64,
        });
    }
    Ok(value)
}

/// The largest period accepted (TA-Lib's limit too).
pub const MAX_PERIOD: usize = 100_000;
