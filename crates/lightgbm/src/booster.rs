//! Training, model text, batch prediction and the prepared single-row
//! predictor.

use std::ffi::CString;
use std::sync::Arc;

use crate::compiled_model::CompiledModel;
use crate::error::{ErrorCode, LgbmError, Result};
use crate::ffi::{self, BoosterPtr, DatasetPtr, FastConfigPtr};
use crate::params::Params;

fn input_error(message: impl Into<String>) -> LgbmError {
    LgbmError::new(ErrorCode::InvalidInput, message)
}

/// A row-major matrix borrowed from the caller: `values.len() == n_rows * n_features`.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    values: &'a [f64],
    n_features: usize,
}

impl<'a> Matrix<'a> {
    /// Checks the shape: `n_features >= 1` and `values.len()` a multiple of it.
    pub fn new(values: &'a [f64], n_features: usize) -> Result<Self> {
        if n_features == 0 {
            return Err(input_error("n_features must be at least 1"));
        }
        if !values.len().is_multiple_of(n_features) {
            return Err(input_error(format!(
                "matrix length {} is not a multiple of n_features {n_features}",
                values.len()
            )));
        }
        Ok(Self { values, n_features })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.values.len() / self.n_features
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
}

/// A matrix with one label per row.
#[derive(Debug, Clone, Copy)]
pub struct LabeledData<'a> {
    /// The features.
    pub x: Matrix<'a>,
    /// One label per row.
    pub y: &'a [f64],
}

impl LabeledData<'_> {
    fn check(&self, what: &str) -> Result<()> {
        if self.x.n_rows() == 0 {
            return Err(input_error(format!("{what}: the matrix has no rows")));
        }
        if self.y.len() != self.x.n_rows() {
            return Err(input_error(format!(
                "{what}: {} labels for {} rows",
                self.y.len(),
                self.x.n_rows()
            )));
        }
        Ok(())
    }

    /// Labels as f32: LightGBM stores labels as float32, as does the
    /// Python package (`np.float32`), so both round the same way.
    fn labels_f32(&self) -> Vec<f32> {
        #[allow(clippy::cast_possible_truncation)] // intended: LightGBM's label type is f32
        self.y.iter().map(|&v| v as f32).collect()
    }
}

/// Kind of feature importance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportanceType {
    /// How many splits use the feature.
    Split,
    /// Total gain of the splits that use the feature.
    Gain,
}

/// Validation metrics recorded during training, one row per round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalHistory {
    /// Metric names in LightGBM's order, e.g. `["l2"]`.
    pub metrics: Vec<String>,
    /// `values[round][metric]` on the validation set.
    pub values: Vec<Vec<f64>>,
}

fn check_feature_names(names: &[String], n_features: usize) -> Result<()> {
    if names.len() != n_features {
        return Err(input_error(format!("{} feature names for {n_features} features", names.len())));
    }
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || "\"',:[]{}\0".contains(c)) {
            return Err(input_error(format!(
                "feature name {name:?} is empty or contains whitespace or one of \" ' , : [ ] {{ }}"
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(input_error(format!("feature name {name:?} appears twice")));
        }
    }
    Ok(())
}

/// Model text prepared for LightGBM, and the number of trees its
/// `tree_sizes=` header line announces.
///
/// The line only lets LightGBM parse the trees in parallel, and LightGBM
/// 4.7's `GBDT::LoadModelFromString` trusts those sizes without a bounds
/// check (truncated or edited text makes it read past the end of the
/// buffer), while a parse error inside that OpenMP loop ends in
/// `std::terminate`, an abort of the whole process (the Python package 4.7.0
/// aborts the same way). So we drop the line: LightGBM then parses the trees
/// one after another, bounded by the text, and reports errors as error codes.
/// The loaded model is the same; saving writes `tree_sizes` again. The count
/// is checked against the trees LightGBM loaded, so truncated text that
/// still parses is refused too.
fn prepare_model_text(text: &str) -> (String, Option<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut in_header = true;
    let mut announced = None;
    for line in text.split_inclusive('\n') {
        if in_header && line.starts_with("Tree=") {
            in_header = false;
        }
        match line.strip_prefix("tree_sizes=") {
            Some(sizes) if in_header => announced = Some(sizes.split_whitespace().count()),
            _ => out.push_str(line),
        }
    }
    (out, announced)
}

/// Python lightgbm's early-stopping rule (`lightgbm.callback.early_stopping`,
/// 4.x), so that the same data and parameters stop at the same round.
struct EarlyStopping {
    rounds: usize,
    min_delta: f64,
    first_metric_only: bool,
    higher_better: Vec<bool>,
    best_score: Vec<f64>,
    best_iter: Vec<usize>,
}

impl EarlyStopping {
    fn new(rounds: usize, min_delta: f64, first_metric_only: bool, metrics: &[String]) -> Self {
        // Python: name.startswith(("auc", "ndcg@", "map@", "average_precision"))
        let higher_better = metrics
            .iter()
            .map(|m| ["auc", "ndcg@", "map@", "average_precision"].iter().any(|p| m.starts_with(p)))
            .collect();
        Self { rounds, min_delta, first_metric_only, higher_better, best_score: Vec::new(), best_iter: Vec::new() }
    }

    /// Feeds round `iteration` (0-based, of `last_iteration` + 1); returns
    /// the best round (0-based) when training should stop.
    fn update(&mut self, iteration: usize, last_iteration: usize, scores: &[f64], metrics: &[String]) -> Option<usize> {
        let first_time = self.best_score.is_empty();
        for (i, &score) in scores.iter().enumerate() {
            if first_time {
                self.best_score.push(score);
                self.best_iter.push(iteration);
            } else {
                let better = if self.higher_better.get(i).copied().unwrap_or(false) {
                    score > self.best_score[i] + self.min_delta
                } else {
                    score < self.best_score[i] - self.min_delta
                };
                if better {
                    self.best_score[i] = score;
                    self.best_iter[i] = iteration;
                }
            }
            if self.first_metric_only && metrics.get(i) != metrics.first() {
                continue;
            }
            if iteration - self.best_iter[i] >= self.rounds || iteration == last_iteration {
                return Some(self.best_iter[i]);
            }
        }
        None
    }
}

/// A trained or loaded LightGBM model.
pub struct Booster {
    ptr: Arc<BoosterPtr>,
    n_features: usize,
    n_outputs: usize,
    num_iterations: usize,
    best_iteration: usize,
    num_threads: usize,
    predict_params: CString,
    params: Option<Params>,
    history: EvalHistory,
}

impl Booster {
    /// Trains on `train`, evaluating on `valid` after every round when
    /// given. With `early_stopping_round > 0` (needs `valid`), training stops
    /// by Python lightgbm's rule and the model keeps the best round's trees,
    /// as `lightgbm.train` returns it. The returned booster is reloaded from
    /// its own model text, again as `lightgbm.train` does.
    pub fn train(
        train: LabeledData<'_>,
        valid: Option<LabeledData<'_>>,
        feature_names: Option<&[String]>,
        params: &Params,
    ) -> Result<Self> {
        train.check("training set")?;
        if let Some(v) = &valid {
            v.check("validation set")?;
            if v.x.n_features() != train.x.n_features() {
                return Err(LgbmError::new(
                    ErrorCode::FeatureCount,
                    format!(
                        "validation set has {} features, training set {}",
                        v.x.n_features(),
                        train.x.n_features()
                    ),
                ));
            }
        }
        if let Some(names) = feature_names {
            check_feature_names(names, train.x.n_features())?;
        }
        let es_rounds = params.early_stopping_round();
        if es_rounds > 0 && valid.is_none() {
            return Err(LgbmError::new(
                ErrorCode::InvalidParams,
                "early_stopping_round needs a validation set",
            ));
        }
        let pstr = ffi::c_string(&params.to_lightgbm_string(), "parameters")?;
        let as_params_error = |e: LgbmError| e.with_code(ErrorCode::InvalidParams);

        let train_labels = train.labels_f32();
        let train_ds = DatasetPtr::from_mat(
            train.x.values,
            train.x.n_rows(),
            train.x.n_features(),
            &train_labels,
            &pstr,
            None,
        )
        .map_err(as_params_error)?;
        if let Some(names) = feature_names {
            train_ds.set_feature_names(names)?;
        }
        let valid_ds = match &valid {
            Some(v) => {
                let labels = v.labels_f32();
                Some(
                    DatasetPtr::from_mat(v.x.values, v.x.n_rows(), v.x.n_features(), &labels, &pstr, Some(&train_ds))
                        .map_err(as_params_error)?,
                )
            }
            None => None,
        };
        let booster = BoosterPtr::create(&train_ds, &pstr).map_err(as_params_error)?;
        let mut history = EvalHistory::default();
        if let Some(v) = &valid_ds {
            booster.add_valid(v)?;
            history.metrics = booster.eval_names()?;
        }
        let mut stopping = if es_rounds > 0 {
            if history.metrics.is_empty() {
                return Err(LgbmError::new(
                    ErrorCode::InvalidParams,
                    "early stopping needs at least one metric (metric is empty or none)",
                ));
            }
            Some(EarlyStopping::new(
                es_rounds,
                params.early_stopping_min_delta(),
                params.first_metric_only(),
                &history.metrics,
            ))
        } else {
            None
        };

        let last = params.num_iterations().saturating_sub(1);
        let mut best_iteration = 0usize;
        for iteration in 0..=last {
            if booster.update_one_iter()? {
                // LightGBM can split no more; later rounds would add nothing.
                if let Some(es) = &stopping {
                    best_iteration = es.best_iter.first().map_or(0, |b| b + 1);
                }
                break;
            }
            if valid_ds.is_some() {
                let scores = booster.eval(1, history.metrics.len())?;
                let stop = stopping.as_mut().and_then(|es| es.update(iteration, last, &scores, &history.metrics));
                history.values.push(scores);
                if let Some(best) = stop {
                    best_iteration = best + 1;
                    break;
                }
            }
        }
        let num_iteration = if best_iteration > 0 { i32::try_from(best_iteration).unwrap_or(-1) } else { -1 };
        let text = booster.save_model_string(num_iteration)?;
        drop(booster);
        drop(valid_ds);
        drop(train_ds);
        let mut model = Self::from_model_text(&text, params.num_threads())?;
        model.best_iteration = best_iteration;
        model.params = Some(params.clone());
        model.history = history;
        Ok(model)
    }

    /// Loads model text (as written by [`Booster::model_text`] or by any
    /// LightGBM 4.x, e.g. Python's `Booster.model_to_string()`).
    /// `num_threads` is used for batch prediction.
    pub fn from_model_text(text: &str, num_threads: usize) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(LgbmError::new(ErrorCode::ModelParse, "model text is empty"));
        }
        if !text.lines().any(|l| l == "end of trees") {
            return Err(LgbmError::new(ErrorCode::ModelParse, "model text has no 'end of trees' line (truncated?)"));
        }
        let (prepared, announced_trees) = prepare_model_text(text);
        let ctext = ffi::c_string(&prepared, "model text").map_err(|e| e.with_code(ErrorCode::ModelParse))?;
        let ptr = BoosterPtr::from_model_string(&ctext).map_err(|e| e.with_code(ErrorCode::ModelParse))?;
        if let Some(announced) = announced_trees {
            let loaded = ptr.num_total_models()?;
            if loaded != announced {
                return Err(LgbmError::new(
                    ErrorCode::ModelParse,
                    format!("model text announces {announced} trees but {loaded} could be read"),
                ));
            }
        }
        let n_features = ptr.num_features()?;
        let n_outputs = ptr.num_classes()?;
        let num_iterations = usize::try_from(ptr.current_iteration()?).unwrap_or(0);
        if n_features == 0 || n_outputs == 0 {
            return Err(LgbmError::new(ErrorCode::ModelParse, "model text describes no features or no outputs"));
        }
        let num_threads = num_threads.max(1);
        let predict_params = ffi::c_string(&format!("num_threads={num_threads}"), "parameters")?;
        Ok(Self {
            ptr: Arc::new(ptr),
            n_features,
            n_outputs,
            num_iterations,
            best_iteration: 0,
            num_threads,
            predict_params,
            params: None,
            history: EvalHistory::default(),
        })
    }

    /// The model as LightGBM text (all rounds the booster holds).
    pub fn model_text(&self) -> Result<String> {
        self.ptr.save_model_string(-1)
    }

    /// Number of input features.
    pub fn num_features(&self) -> usize {
        self.n_features
    }

    /// Predictions per row (1 except for multiclass models).
    pub fn num_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Boosting rounds in the model.
    pub fn num_iterations(&self) -> usize {
        self.num_iterations
    }

    /// Best round (1-based) chosen by early stopping; 0 when training did
    /// not use early stopping or the model was loaded from text.
    pub fn best_iteration(&self) -> usize {
        self.best_iteration
    }

    /// Threads used by batch prediction.
    pub fn num_threads(&self) -> usize {
        self.num_threads
    }

    /// The effective training parameters (None for a loaded model).
    pub fn params(&self) -> Option<&Params> {
        self.params.as_ref()
    }

    /// Validation metrics per round (empty without a validation set).
    pub fn eval_history(&self) -> &EvalHistory {
        &self.history
    }

    /// Feature names stored in the model (`Column_<i>` when none were given).
    pub fn feature_names(&self) -> Result<Vec<String>> {
        self.ptr.feature_names()
    }

    /// Feature importance, one value per feature, over all rounds.
    pub fn feature_importance(&self, kind: ImportanceType) -> Result<Vec<f64>> {
        self.ptr.feature_importance(kind == ImportanceType::Gain)
    }

    fn check_row_width(&self, len: usize) -> Result<usize> {
        if !len.is_multiple_of(self.n_features) {
            return Err(LgbmError::new(
                ErrorCode::FeatureCount,
                format!(
                    "input length {len} is not a multiple of the model's {} features",
                    self.n_features
                ),
            ));
        }
        Ok(len / self.n_features)
    }

    /// Predicts every row of a row-major matrix with the model's feature
    /// count; returns `n_rows * num_outputs()` values (row-major).
    pub fn predict(&self, values: &[f64]) -> Result<Vec<f64>> {
        let n_rows = self.check_row_width(values.len())?;
        if n_rows == 0 {
            return Ok(Vec::new());
        }
        self.ptr.predict_mat(values, n_rows, self.n_features, self.n_outputs, &self.predict_params)
    }

    /// A prepared single-row predictor for serving, on one thread.
    ///
    /// The model is compiled into a flat tree ensemble
    /// ([`CompiledModel`], equal to LightGBM bit for bit) when it can be;
    /// otherwise (categorical splits, linear trees, multiclass, other
    /// objectives) this is LightGBM's own
    /// `LGBM_BoosterPredictForMatSingleRowFast`, and
    /// [`FastPredictor::fallback_reason`] says why.
    pub fn fast_predictor(&self) -> Result<FastPredictor> {
        let text = self.ptr.save_model_string(-1)?;
        match CompiledModel::from_model_text(&text, self.n_features) {
            Ok(model) if model.num_trees() == self.ptr.num_total_models()? && self.n_outputs == 1 => Ok(FastPredictor {
                engine: Engine::Compiled(Box::new(model)),
                fallback_reason: None,
                n_features: self.n_features,
                n_outputs: self.n_outputs,
            }),
            Ok(model) => {
                let reason = format!("compiled {} trees, LightGBM holds {}", model.num_trees(), self.ptr.num_total_models()?);
                self.lightgbm_predictor(Some(reason))
            }
            Err(reason) => self.lightgbm_predictor(Some(reason)),
        }
    }

    /// LightGBM's own prepared single-row predictor
    /// (`LGBM_BoosterPredictForMatSingleRowFast`, one thread) even when the
    /// model could be compiled: the reference for tests and benchmarks. It
    /// keeps this model alive.
    pub fn lightgbm_fast_predictor(&self) -> Result<FastPredictor> {
        self.lightgbm_predictor(None)
    }

    fn lightgbm_predictor(&self, fallback_reason: Option<String>) -> Result<FastPredictor> {
        let params = ffi::c_string("num_threads=1", "parameters")?;
        let config = self.ptr.fast_config(self.n_features, &params)?;
        Ok(FastPredictor {
            engine: Engine::LightGbm { config, _booster: Arc::clone(&self.ptr) },
            fallback_reason,
            n_features: self.n_features,
            n_outputs: self.n_outputs,
        })
    }
}

/// Which implementation a [`FastPredictor`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictorEngine {
    /// The compiled tree ensemble ([`CompiledModel`]).
    Compiled,
    /// LightGBM's `LGBM_BoosterPredictForMatSingleRowFast`.
    LightGbm,
}

impl PredictorEngine {
    /// `"compiled"` or `"lightgbm"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PredictorEngine::Compiled => "compiled",
            PredictorEngine::LightGbm => "lightgbm",
        }
    }
}

enum Engine {
    Compiled(Box<CompiledModel>),
    // Field order matters: the config is freed before the booster it uses.
    LightGbm { config: FastConfigPtr, _booster: Arc<BoosterPtr> },
}

/// A prepared single-row predictor; see [`Booster::fast_predictor`].
pub struct FastPredictor {
    engine: Engine,
    fallback_reason: Option<String>,
    n_features: usize,
    n_outputs: usize,
}

impl FastPredictor {
    /// Number of input features.
    pub fn num_features(&self) -> usize {
        self.n_features
    }

    /// Predictions per row.
    pub fn num_outputs(&self) -> usize {
        self.n_outputs
    }

    /// The implementation in use.
    pub fn engine(&self) -> PredictorEngine {
        match self.engine {
            Engine::Compiled(_) => PredictorEngine::Compiled,
            Engine::LightGbm { .. } => PredictorEngine::LightGbm,
        }
    }

    /// Why [`Booster::fast_predictor`] fell back to LightGBM's predictor
    /// (None when compiled, or from [`Booster::lightgbm_fast_predictor`]).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    fn check_row(&self, row: &[f64]) -> Result<()> {
        if row.len() != self.n_features {
            return Err(LgbmError::new(
                ErrorCode::FeatureCount,
                format!("row has {} values, the model {} features", row.len(), self.n_features),
            ));
        }
        Ok(())
    }

    /// Writes the `num_outputs()` predictions for one row into `out`.
    pub fn predict_into(&self, row: &[f64], out: &mut [f64]) -> Result<()> {
        self.check_row(row)?;
        if out.len() != self.n_outputs {
            return Err(input_error(format!(
                "output has room for {} values, the model gives {}",
                out.len(),
                self.n_outputs
            )));
        }
        match &self.engine {
            Engine::Compiled(model) => {
                out[0] = self.compiled(model, row)?;
                Ok(())
            }
            Engine::LightGbm { config, .. } => config.predict(row, out),
        }
    }

    fn compiled(&self, model: &CompiledModel, row: &[f64]) -> Result<f64> {
        model.predict(row).ok_or_else(|| input_error("row length differs from the compiled model's features"))
    }

    /// The prediction for one row of a single-output model (regression,
    /// binary); multiclass models use [`FastPredictor::predict_into`].
    pub fn predict(&self, row: &[f64]) -> Result<f64> {
        if self.n_outputs != 1 {
            return Err(input_error(format!(
                "the model gives {} outputs per row; use predict_into",
                self.n_outputs
            )));
        }
        self.check_row(row)?;
        match &self.engine {
            Engine::Compiled(model) => self.compiled(model, row),
            Engine::LightGbm { config, .. } => {
                let mut out = [0.0f64; 1];
                config.predict(row, &mut out)?;
                Ok(out[0])
            }
        }
    }
}
