//! Node binding of `tickcast-indicators`: converts types, maps errors to JS
//! errors with a code, forwards. No arithmetic lives here.

use napi::bindgen_prelude::Float64Array;
use napi_derive::napi;
use tickcast_indicators::{Bar, Columns, FeatureSet as CoreFeatureSet, IndicatorError};

/// A JS error carrying the core error's code (e.g. `E_INVALID_FEATURE`) as
/// its `code` property. (Spelled out as `Result<T, JsCodeError>` in each
/// signature: the #[napi] macro recognises a `Result` return by its name.)
type JsCodeError = napi::Error<&'static str>;

fn js_error(e: IndicatorError) -> JsCodeError {
    napi::Error::new(e.code(), e.to_string())
}

/// A caller-owned Float64Array the row is written into. (An alias because
/// #[napi] treats a literal `&mut T` parameter as a class reference.)
type OutRow<'a> = &'a mut [f64];

/// Options for `new FeatureSet(options)`.
#[napi(object)]
pub struct FeatureSetOptions {
    /// Feature names, e.g. `["rsi_14", "macd_12_26_9_hist", "bb_20_2_width"]`
    /// (grammar in the package README). Required, non-empty, no duplicates.
    pub features: Vec<String>,
}

/// One candle. `vwap` is optional (default: unknown; the rolling VWAP then
/// uses the typical price).
#[napi(object)]
pub struct CandleInput {
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Volume.
    pub volume: f64,
    /// The candle's own VWAP, if known.
    pub vwap: Option<f64>,
}

/// Columns for `FeatureSet.batch`: Float64Arrays of equal length; `vwap`
/// optional (default: unknown for every candle).
#[napi(object)]
pub struct CandleColumns {
    /// Open prices.
    pub open: Float64Array,
    /// High prices.
    pub high: Float64Array,
    /// Low prices.
    pub low: Float64Array,
    /// Close prices.
    pub close: Float64Array,
    /// Volumes.
    pub volume: Float64Array,
    /// Per-candle VWAP.
    pub vwap: Option<Float64Array>,
}

impl From<CandleInput> for Bar {
    fn from(c: CandleInput) -> Self {
        Bar { open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume, vwap: c.vwap.unwrap_or(f64::NAN) }
    }
}

/// The validated core configuration: options become a core feature set.
struct Validated(CoreFeatureSet);

impl TryFrom<FeatureSetOptions> for Validated {
    type Error = IndicatorError;
    fn try_from(options: FeatureSetOptions) -> Result<Self, IndicatorError> {
        CoreFeatureSet::new(&options.features).map(Validated)
    }
}

/// Named technical features, fed one candle at a time (or in batch).
#[napi]
pub struct FeatureSet {
    inner: CoreFeatureSet,
    row: Vec<f64>,
}

#[napi]
impl FeatureSet {
    /// Builds the set; throws `E_INVALID_FEATURE` for a bad name or parameter.
    #[napi(constructor)]
    pub fn new(options: FeatureSetOptions) -> Result<Self, JsCodeError> {
        let Validated(inner) = Validated::try_from(options).map_err(js_error)?;
        let row = vec![f64::NAN; inner.len()];
        Ok(Self { inner, row })
    }

    /// Feature names, in row order.
    #[napi(getter)]
    pub fn names(&self) -> Vec<String> {
        self.inner.names().to_vec()
    }

    /// Feeds one candle; returns the row (NaN while a feature warms up).
    /// Throws `E_NON_FINITE_INPUT` for a NaN/infinite field (state unchanged).
    #[napi]
    pub fn update(&mut self, candle: CandleInput) -> Result<Float64Array, JsCodeError> {
        self.inner.update_checked(&Bar::from(candle), &mut self.row).map_err(js_error)?;
        Ok(Float64Array::new(self.row.clone()))
    }

    /// Like `update` with positional numbers and no allocation: writes the row
    /// into `out` (length >= the number of features). Omit `vwap` (or pass
    /// NaN) when unknown.
    #[napi(
        ts_args_type = "out: Float64Array, open: number, high: number, low: number, close: number, volume: number, vwap?: number"
    )]
    #[allow(clippy::too_many_arguments)] // positional numbers are the point: no object to read per candle
    pub fn update_into(
        &mut self,
        out: OutRow<'_>,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
        vwap: Option<f64>,
    ) -> Result<(), JsCodeError> {
        let bar = Bar { open, high, low, close, volume, vwap: vwap.unwrap_or(f64::NAN) };
        if out.len() < self.inner.len() {
            return Err(napi::Error::new(
                "E_LENGTH_MISMATCH",
                format!("out has {} slots, the set has {} features", out.len(), self.inner.len()),
            ));
        }
        self.inner.update_checked(&bar, out).map_err(js_error)
    }

    /// Forgets all candles (every indicator is reset).
    #[napi]
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    /// Computes the features over whole columns from a fresh state (this
    /// instance's streaming state is untouched). Returns a row-major
    /// `rows x names.length` Float64Array.
    #[napi]
    pub fn batch(&self, columns: CandleColumns) -> Result<Float64Array, JsCodeError> {
        let cols = Columns {
            open: &columns.open,
            high: &columns.high,
            low: &columns.low,
            close: &columns.close,
            volume: &columns.volume,
            vwap: columns.vwap.as_deref(),
        };
        self.inner.batch(&cols).map(Float64Array::new).map_err(js_error)
    }
}
