//! Node binding of `tickcast-lightgbm`: converts types, maps errors to JS
//! errors with a code, forwards. No logic lives here (STYLE.md 1).

use napi::bindgen_prelude::Float64Array;
use napi_derive::napi;
use tickcast_lightgbm::{
    Booster as CoreBooster, FastPredictor as CoreFastPredictor, ImportanceType, LabeledData, LgbmError, Matrix,
    Params,
};

/// A JS error carrying the core error's code (e.g. `E_INVALID_PARAMS`) as
/// its `code` property. (Spelled out as `Result<T, JsCodeError>` in each
/// signature: the #[napi] macro recognises a `Result` return by its name.)
type JsCodeError = napi::Error<&'static str>;

fn js_error(e: LgbmError) -> JsCodeError {
    napi::Error::new(e.code().as_str(), e.message().to_owned())
}

fn invalid_input(message: String) -> JsCodeError {
    napi::Error::new("E_INVALID_INPUT", message)
}

/// A labelled validation set for `Booster.train` (same feature count).
#[napi(object)]
pub struct ValidationSet {
    /// Row-major features, `rows x nFeatures`.
    pub x: Float64Array,
    /// One label per row.
    pub y: Float64Array,
}

/// Input of `Booster.train`.
#[napi(object)]
pub struct TrainInput {
    /// Row-major features, `rows x nFeatures`.
    pub x: Float64Array,
    /// One label per row.
    pub y: Float64Array,
    /// Columns of `x` (>= 1).
    pub n_features: u32,
    /// Evaluated after every round; needed for early stopping.
    pub valid: Option<ValidationSet>,
    /// One name per feature (no whitespace, unique); default `Column_<i>`.
    pub feature_names: Option<Vec<String>>,
    /// LightGBM parameters by name or alias
    /// (<https://lightgbm.readthedocs.io/en/latest/Parameters.html>), e.g.
    /// `{ objective: 'regression', learning_rate: 0.05, num_iterations: 500,
    /// early_stopping_round: 20 }`. Unknown names and bad values throw
    /// `E_INVALID_PARAMS`. Defaults added unless given: `num_threads: 1`,
    /// `deterministic: true`, `force_col_wise: true` (unless
    /// `force_row_wise`), `verbosity: -1`.
    #[napi(ts_type = "Record<string, string | number | boolean | Array<string | number>>")]
    pub params: Option<serde_json::Value>,
}

/// Options of `Booster.fromModelText`.
#[napi(object)]
pub struct LoadOptions {
    /// Threads for batch `predict` (default 1).
    pub num_threads: Option<u32>,
}

/// Validation metrics recorded while training.
#[napi(object)]
pub struct EvalHistory {
    /// Metric names, e.g. `["l2"]`.
    pub metrics: Vec<String>,
    /// `values[round][metric]` on the validation set.
    pub values: Vec<Vec<f64>>,
}

/// A trained or loaded LightGBM model.
#[napi]
pub struct Booster {
    inner: CoreBooster,
}

#[napi]
impl Booster {
    /// Trains a model (blocks the calling thread; run it in a worker thread
    /// to keep an event loop responsive). With `early_stopping_round` and a
    /// validation set, training stops by Python lightgbm's rule and keeps
    /// the best round. Throws `E_INVALID_PARAMS`, `E_INVALID_INPUT`,
    /// `E_FEATURE_COUNT` or `E_LIGHTGBM`.
    #[napi(factory)]
    pub fn train(input: TrainInput) -> Result<Self, JsCodeError> {
        let params = Params::from_json(input.params.as_ref().unwrap_or(&serde_json::Value::Null)).map_err(js_error)?;
        let n_features = input.n_features as usize;
        let train = LabeledData { x: Matrix::new(&input.x, n_features).map_err(js_error)?, y: &input.y };
        let valid = match &input.valid {
            Some(v) => Some(LabeledData { x: Matrix::new(&v.x, n_features).map_err(js_error)?, y: &v.y }),
            None => None,
        };
        CoreBooster::train(train, valid, input.feature_names.as_deref(), &params)
            .map(|inner| Self { inner })
            .map_err(js_error)
    }

    /// Loads LightGBM model text (ours or any LightGBM 4.x, e.g. Python's
    /// `model_to_string()`). Throws `E_MODEL_PARSE` for text LightGBM
    /// cannot read.
    #[napi(factory)]
    pub fn from_model_text(text: String, options: Option<LoadOptions>) -> Result<Self, JsCodeError> {
        let threads = options.and_then(|o| o.num_threads).unwrap_or(1) as usize;
        CoreBooster::from_model_text(&text, threads).map(|inner| Self { inner }).map_err(js_error)
    }

    /// The model as LightGBM text.
    #[napi]
    pub fn model_text(&self) -> Result<String, JsCodeError> {
        self.inner.model_text().map_err(js_error)
    }

    /// Number of input features.
    #[napi(getter)]
    pub fn num_features(&self) -> u32 {
        u32::try_from(self.inner.num_features()).unwrap_or(u32::MAX)
    }

    /// Predictions per row (1 except for multiclass).
    #[napi(getter)]
    pub fn num_outputs(&self) -> u32 {
        u32::try_from(self.inner.num_outputs()).unwrap_or(u32::MAX)
    }

    /// Boosting rounds in the model.
    #[napi(getter)]
    pub fn num_iterations(&self) -> u32 {
        u32::try_from(self.inner.num_iterations()).unwrap_or(u32::MAX)
    }

    /// Best round (1-based) chosen by early stopping; 0 without early
    /// stopping or for a loaded model.
    #[napi(getter)]
    pub fn best_iteration(&self) -> u32 {
        u32::try_from(self.inner.best_iteration()).unwrap_or(u32::MAX)
    }

    /// Feature names stored in the model.
    #[napi(getter)]
    pub fn feature_names(&self) -> Result<Vec<String>, JsCodeError> {
        self.inner.feature_names().map_err(js_error)
    }

    /// The effective training parameters (canonical names, defaults
    /// included); null for a loaded model.
    #[napi(getter, ts_return_type = "Record<string, string | number | boolean | Array<string | number>> | null")]
    pub fn params(&self) -> Option<serde_json::Value> {
        self.inner.params().map(Params::to_json)
    }

    /// Validation metrics per round (empty without a validation set).
    #[napi]
    pub fn eval_history(&self) -> EvalHistory {
        let h = self.inner.eval_history();
        EvalHistory { metrics: h.metrics.clone(), values: h.values.clone() }
    }

    /// Feature importance per feature: `'gain'` (total split gain) or
    /// `'split'` (number of splits).
    #[napi(ts_args_type = "kind: 'gain' | 'split'")]
    pub fn feature_importance(&self, kind: String) -> Result<Float64Array, JsCodeError> {
        let kind = match kind.as_str() {
            "gain" => ImportanceType::Gain,
            "split" => ImportanceType::Split,
            other => return Err(invalid_input(format!("importance kind must be 'gain' or 'split', got {other:?}"))),
        };
        self.inner.feature_importance(kind).map(Float64Array::new).map_err(js_error)
    }

    /// Predicts a row-major matrix (`rows x numFeatures`); returns
    /// `rows x numOutputs` values. Throws `E_FEATURE_COUNT` when the length
    /// is not a multiple of `numFeatures`.
    #[napi]
    pub fn predict(&self, x: Float64Array) -> Result<Float64Array, JsCodeError> {
        self.inner.predict(&x).map(Float64Array::new).map_err(js_error)
    }

    /// A prepared single-row predictor for serving. The model is compiled
    /// into a flat tree ensemble that predicts exactly what LightGBM does
    /// (`engine: 'compiled'`) when it can be; otherwise (categorical splits,
    /// linear trees, multiclass, some objectives, trees over 64 leaves) it
    /// is LightGBM's own single-row path (`engine: 'lightgbm'`, keeps this
    /// model alive) and `fallbackReason` says why.
    #[napi]
    pub fn fast_predictor(&self) -> Result<FastPredictor, JsCodeError> {
        self.inner.fast_predictor().map(|inner| FastPredictor { inner }).map_err(js_error)
    }

    /// LightGBM's own prepared single-row predictor
    /// (`LGBM_BoosterPredictForMatSingleRowFast`, one thread), even for a
    /// model that compiles: the reference for tests and benchmarks.
    #[napi]
    pub fn lightgbm_fast_predictor(&self) -> Result<FastPredictor, JsCodeError> {
        self.inner.lightgbm_fast_predictor().map(|inner| FastPredictor { inner }).map_err(js_error)
    }
}

/// A prepared single-row predictor: the compiled model or LightGBM's
/// `...SingleRowFast` (see `engine`).
#[napi]
pub struct FastPredictor {
    inner: CoreFastPredictor,
}

#[napi]
impl FastPredictor {
    /// Number of input features.
    #[napi(getter)]
    pub fn num_features(&self) -> u32 {
        u32::try_from(self.inner.num_features()).unwrap_or(u32::MAX)
    }

    /// `'compiled'` (the model compiled to flat arrays) or `'lightgbm'`
    /// (LightGBM's `LGBM_BoosterPredictForMatSingleRowFast`).
    #[napi(getter, ts_return_type = "'compiled' | 'lightgbm'")]
    pub fn engine(&self) -> &'static str {
        self.inner.engine().as_str()
    }

    /// Why `Booster.fastPredictor()` could not compile the model (null when
    /// compiled, or from `lightgbmFastPredictor()`).
    #[napi(getter)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.inner.fallback_reason().map(str::to_owned)
    }

    /// The prediction for one row (`numFeatures` values) of a
    /// single-output model. Throws `E_FEATURE_COUNT` for a row of another
    /// length.
    #[napi]
    pub fn predict(&self, row: &[f64]) -> Result<f64, JsCodeError> {
        self.inner.predict(row).map_err(js_error)
    }
}

/// The LightGBM version compiled into this addon.
#[napi]
pub fn lightgbm_version() -> &'static str {
    tickcast_lightgbm::LIGHTGBM_VERSION
}
