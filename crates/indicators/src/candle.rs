//! The input of bar-based indicators.

/// One OHLCV bar. `vwap` is optional (NaN when unknown); only the rolling
/// VWAP reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Traded volume.
    pub volume: f64,
    /// Volume-weighted average price of the bar, or NaN if unknown.
    pub vwap: f64,
}

impl Bar {
    /// A bar without VWAP.
    pub fn new(open: f64, high: f64, low: f64, close: f64, volume: f64) -> Self {
        Self { open, high, low, close, volume, vwap: f64::NAN }
    }

    /// TA-Lib's typical price `(high + low + close) / 3`, in that order.
    pub(crate) fn typical(&self) -> f64 {
        (self.high + self.low + self.close) / 3.0
    }
}
