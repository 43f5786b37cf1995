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

/// Columns for `FeatureSet.batch`: Float64Arrays of equal length. `close` is
/// required; `open`, `high`, `low`, `volume` only when the set reads them
/// (`FeatureSet.columnsRead`), and every column given is checked. `vwap`
/// optional (default: unknown for every candle).
#[napi(object)]
pub struct CandleColumns {
    /// Open prices.
    pub open: Option<Float64Array>,
    /// High prices.
    pub high: Option<Float64Array>,
    /// Low prices.
    pub low: Option<Float64Array>,
    /// Close prices.
    pub close: Float64Array,
    /// Volumes.
    pub volume: Option<Float64Array>,
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

    /// The candle columns the set reads (of open, high, low, close, volume,
    /// vwap): `batch` needs these (vwap stays optional).
    #[napi(getter)]
    pub fn columns_read(&self) -> Vec<&'static str> {
        self.inner.columns_read()
    }

    /// Computes the features over whole columns from a fresh state (this
    /// instance's streaming state is untouched). Returns a row-major
    /// `rows x names.length` Float64Array. Throws `E_MISSING_COLUMN` when a
    /// column the set reads is left out, `E_LENGTH_MISMATCH`,
    /// `E_NON_FINITE_INPUT` (first bad candle).
    #[napi]
    pub fn batch(&self, columns: CandleColumns) -> Result<Float64Array, JsCodeError> {
        let mut out = vec![0.0; columns.close.len() * self.inner.len()];
        self.batch_to(&columns, &mut out)?;
        Ok(Float64Array::new(out))
    }

    /// `batch` into a caller-owned row-major Float64Array of exactly
    /// `rows x names.length` values (no allocation; reuse it across calls).
    /// After an `E_NON_FINITE_INPUT` error its contents are unspecified.
    #[napi(ts_args_type = "columns: CandleColumns, out: Float64Array")]
    pub fn batch_into(&self, columns: CandleColumns, out: OutRow<'_>) -> Result<(), JsCodeError> {
        self.batch_to(&columns, out)
    }
}

/// The column given, or the close for a column the set does not read.
fn given_or_close<'a>(
    name: &'static str,
    given: &'a Option<Float64Array>,
    read: &[&str],
    close: &'a [f64],
) -> Result<&'a [f64], JsCodeError> {
    match given {
        Some(c) => Ok(c),
        None if read.contains(&name) => Err(napi::Error::new(
            "E_MISSING_COLUMN",
            format!("column {name} is missing: the set reads {}", read.join(", ")),
        )),
        None => Ok(close),
    }
}

impl FeatureSet {
    fn batch_to(&self, columns: &CandleColumns, out: &mut [f64]) -> Result<(), JsCodeError> {
        let close: &[f64] = &columns.close;
        let read = self.inner.columns_read();
        // A column left out must be one the set does not read; the core then
        // gets the close in its place (checked once, values never used).
        let column = |name, given| given_or_close(name, given, &read, close);
        let cols = Columns {
            open: column("open", &columns.open)?,
            high: column("high", &columns.high)?,
            low: column("low", &columns.low)?,
            close,
            volume: column("volume", &columns.volume)?,
            vwap: columns.vwap.as_deref(),
        };
        self.inner.batch_into(&cols, out).map_err(js_error)
    }
}
