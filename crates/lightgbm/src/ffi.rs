//! Every call into LightGBM's C API (through `lightgbm3-sys`) lives here,
//! behind small safe functions that check the return code and turn failures
//! into [`LgbmError`]s. The C API catches C++ exceptions itself and reports
//! them as `-1` plus `LGBM_GetLastError()`, so no exception unwinds into Rust.
//!
//! Handles are owned by the RAII types [`DatasetPtr`], [`BoosterPtr`] and
//! [`FastConfigPtr`]; their `Drop` frees them and ignores the (never
//! observed) failure code rather than panicking.

use std::ffi::{c_char, c_void, CStr, CString};

use lightgbm3_sys as sys;

use crate::error::{ErrorCode, LgbmError, Result};

const DTYPE_F64: i32 = sys::C_API_DTYPE_FLOAT64 as i32;
const DTYPE_F32: i32 = sys::C_API_DTYPE_FLOAT32 as i32;
const PREDICT_NORMAL: i32 = sys::C_API_PREDICT_NORMAL as i32;

/// The last error message recorded by LightGBM on this thread.
fn last_error() -> String {
    // SAFETY: LGBM_GetLastError returns a pointer to a thread-local,
    // NUL-terminated buffer that stays valid until the next failing call on
    // this thread; we copy it out immediately.
    let ptr = unsafe { sys::LGBM_GetLastError() };
    if ptr.is_null() {
        return "unknown LightGBM error".to_owned();
    }
    // SAFETY: non-null, NUL-terminated (see above).
    unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
}

/// Maps a C API return code to a Result (0 = ok, anything else = failure).
fn check(ret: i32) -> Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(LgbmError::new(ErrorCode::LightGbm, last_error()))
    }
}

/// A Rust string as a C string; an interior NUL is an input error.
pub(crate) fn c_string(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| LgbmError::new(ErrorCode::InvalidInput, format!("{what} contains a NUL character")))
}

fn to_i32(n: usize, what: &str) -> Result<i32> {
    i32::try_from(n).map_err(|_| LgbmError::new(ErrorCode::InvalidInput, format!("{what} ({n}) exceeds {}", i32::MAX)))
}

/// All parameter names with their aliases, as LightGBM's JSON
/// (`{"name": ["alias", ...], ...}`).
pub(crate) fn dump_param_aliases() -> Result<String> {
    let mut out_len: i64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let buf_len = i64::try_from(buf.len()).unwrap_or(i64::MAX);
        // SAFETY: buf is writable for buf_len bytes; out_len is a valid out pointer.
        check(unsafe { sys::LGBM_DumpParamAliases(buf_len, &mut out_len, buf.as_mut_ptr().cast::<c_char>()) })?;
        let needed = usize::try_from(out_len).unwrap_or(0);
        if needed <= buf.len() {
            return Ok(c_buffer_to_string(&buf));
        }
        buf = vec![0u8; needed];
    }
}

/// The text up to the first NUL of a buffer filled by LightGBM.
fn c_buffer_to_string(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// An owned `DatasetHandle`.
pub(crate) struct DatasetPtr(sys::DatasetHandle);

impl DatasetPtr {
    /// A dataset from a row-major f64 matrix and its labels (stored as f32 by
    /// LightGBM, as the Python package does). `reference` gives the bin
    /// mappers of a training set to a validation set.
    pub(crate) fn from_mat(
        values: &[f64],
        n_rows: usize,
        n_features: usize,
        labels: &[f32],
        params: &CStr,
        reference: Option<&DatasetPtr>,
    ) -> Result<Self> {
        debug_assert_eq!(values.len(), n_rows * n_features);
        debug_assert_eq!(labels.len(), n_rows);
        let nrow = to_i32(n_rows, "row count")?;
        let ncol = to_i32(n_features, "feature count")?;
        let mut handle: sys::DatasetHandle = std::ptr::null_mut();
        let reference = reference.map_or(std::ptr::null_mut(), |r| r.0);
        // SAFETY: values holds nrow*ncol f64 (checked by the caller), params
        // is NUL-terminated, reference is null or a live dataset, handle is a
        // valid out pointer.
        check(unsafe {
            sys::LGBM_DatasetCreateFromMat(
                values.as_ptr().cast::<c_void>(),
                DTYPE_F64,
                nrow,
                ncol,
                1,
                params.as_ptr(),
                reference,
                &mut handle,
            )
        })?;
        let dataset = DatasetPtr(handle);
        let field = c"label";
        // SAFETY: live dataset; labels holds nrow f32.
        check(unsafe {
            sys::LGBM_DatasetSetField(dataset.0, field.as_ptr(), labels.as_ptr().cast::<c_void>(), nrow, DTYPE_F32)
        })?;
        Ok(dataset)
    }

    /// Sets the feature names (count checked by the caller).
    pub(crate) fn set_feature_names(&self, names: &[String]) -> Result<()> {
        let owned = names.iter().map(|n| c_string(n, "feature name")).collect::<Result<Vec<_>>>()?;
        let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        let n = to_i32(ptrs.len(), "feature count")?;
        // SAFETY: live dataset; ptrs holds n NUL-terminated strings that outlive the call.
        check(unsafe { sys::LGBM_DatasetSetFeatureNames(self.0, ptrs.as_mut_ptr(), n) })
    }
}

impl Drop for DatasetPtr {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_DatasetCreateFromMat and is freed once.
        let _ = unsafe { sys::LGBM_DatasetFree(self.0) };
    }
}

/// An owned `BoosterHandle`.
pub(crate) struct BoosterPtr(sys::BoosterHandle);

// SAFETY: a LightGBM booster is not tied to the thread that made it, and its
// C++ methods take the booster's own (shared) mutex, so it may be moved to
// and used from other threads.
unsafe impl Send for BoosterPtr {}
// SAFETY: see above (reads take a shared lock, updates an exclusive one).
unsafe impl Sync for BoosterPtr {}

impl BoosterPtr {
    /// A booster ready to train on `train`.
    pub(crate) fn create(train: &DatasetPtr, params: &CStr) -> Result<Self> {
        let mut handle: sys::BoosterHandle = std::ptr::null_mut();
        // SAFETY: live dataset, NUL-terminated params, valid out pointer.
        check(unsafe { sys::LGBM_BoosterCreate(train.0, params.as_ptr(), &mut handle) })?;
        Ok(BoosterPtr(handle))
    }

    /// A booster parsed from model text.
    pub(crate) fn from_model_string(text: &CStr) -> Result<Self> {
        let mut handle: sys::BoosterHandle = std::ptr::null_mut();
        let mut n_iter: i32 = 0;
        // SAFETY: NUL-terminated text, valid out pointers.
        check(unsafe { sys::LGBM_BoosterLoadModelFromString(text.as_ptr(), &mut n_iter, &mut handle) })?;
        Ok(BoosterPtr(handle))
    }

    /// Adds a validation set (its metrics are evaluated at index 1, 2, ...).
    pub(crate) fn add_valid(&self, valid: &DatasetPtr) -> Result<()> {
        // SAFETY: live booster and dataset; LightGBM keeps a pointer to the
        // dataset, so the caller keeps `valid` alive as long as the booster.
        check(unsafe { sys::LGBM_BoosterAddValidData(self.0, valid.0) })
    }

    /// One boosting round; true when LightGBM can split no more.
    pub(crate) fn update_one_iter(&self) -> Result<bool> {
        let mut finished: i32 = 0;
        // SAFETY: live booster, valid out pointer.
        check(unsafe { sys::LGBM_BoosterUpdateOneIter(self.0, &mut finished) })?;
        Ok(finished != 0)
    }

    /// Names of the evaluation metrics, in evaluation order.
    pub(crate) fn eval_names(&self) -> Result<Vec<String>> {
        let mut count: i32 = 0;
        // SAFETY: live booster, valid out pointer.
        check(unsafe { sys::LGBM_BoosterGetEvalCounts(self.0, &mut count) })?;
        self.strings(count, |len, out_len, buf_len, out_buf_len, ptrs| {
            // SAFETY: ptrs holds `len` buffers of `buf_len` bytes each.
            check(unsafe { sys::LGBM_BoosterGetEvalNames(self.0, len, out_len, buf_len, out_buf_len, ptrs) })
        })
    }

    /// Metric values on dataset `data_idx` (0 = train, 1.. = validation sets).
    pub(crate) fn eval(&self, data_idx: i32, n_metrics: usize) -> Result<Vec<f64>> {
        let mut out = vec![0.0f64; n_metrics];
        let mut out_len: i32 = 0;
        // SAFETY: live booster; out holds one f64 per metric (count from eval_names).
        check(unsafe { sys::LGBM_BoosterGetEval(self.0, data_idx, &mut out_len, out.as_mut_ptr()) })?;
        out.truncate(usize::try_from(out_len).unwrap_or(0));
        Ok(out)
    }

    /// Number of boosting rounds held.
    pub(crate) fn current_iteration(&self) -> Result<i32> {
        let mut n: i32 = 0;
        // SAFETY: live booster, valid out pointer.
        check(unsafe { sys::LGBM_BoosterGetCurrentIteration(self.0, &mut n) })?;
        Ok(n)
    }

    /// Number of trees held (rounds x trees per round).
    pub(crate) fn num_total_models(&self) -> Result<usize> {
        let mut n: i32 = 0;
        // SAFETY: live booster, valid out pointer.
        check(unsafe { sys::LGBM_BoosterNumberOfTotalModel(self.0, &mut n) })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Number of input features.
    pub(crate) fn num_features(&self) -> Result<usize> {
        let mut n: i32 = 0;
        // SAFETY: live booster, valid out pointer.
        check(unsafe { sys::LGBM_BoosterGetNumFeature(self.0, &mut n) })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Number of outputs per row (classes; 1 for regression/binary).
    pub(crate) fn num_classes(&self) -> Result<usize> {
        let mut n: i32 = 0;
        // SAFETY: live booster, valid out pointer.
        check(unsafe { sys::LGBM_BoosterGetNumClasses(self.0, &mut n) })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Model text of the first `num_iteration` rounds (<= 0: all).
    pub(crate) fn save_model_string(&self, num_iteration: i32) -> Result<String> {
        let mut needed: i64 = 0;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let buf_len = i64::try_from(buf.len()).unwrap_or(i64::MAX);
            // SAFETY: live booster; buf is writable for buf_len bytes.
            check(unsafe {
                sys::LGBM_BoosterSaveModelToString(
                    self.0,
                    0,
                    num_iteration,
                    sys::C_API_FEATURE_IMPORTANCE_SPLIT as i32,
                    buf_len,
                    &mut needed,
                    buf.as_mut_ptr().cast::<c_char>(),
                )
            })?;
            let needed = usize::try_from(needed).unwrap_or(0);
            if needed <= buf.len() {
                return Ok(c_buffer_to_string(&buf));
            }
            buf = vec![0u8; needed];
        }
    }

    /// Feature names as stored in the model.
    pub(crate) fn feature_names(&self) -> Result<Vec<String>> {
        let n = to_i32(self.num_features()?, "feature count")?;
        self.strings(n, |len, out_len, buf_len, out_buf_len, ptrs| {
            // SAFETY: ptrs holds `len` buffers of `buf_len` bytes each.
            check(unsafe { sys::LGBM_BoosterGetFeatureNames(self.0, len, out_len, buf_len, out_buf_len, ptrs) })
        })
    }

    /// Calls a LightGBM "fill these string buffers" function, growing the
    /// buffers once if LightGBM reports that a string did not fit.
    fn strings(
        &self,
        count: i32,
        call: impl Fn(i32, &mut i32, usize, &mut usize, *mut *mut c_char) -> Result<()>,
    ) -> Result<Vec<String>> {
        let n = usize::try_from(count).unwrap_or(0);
        let mut buf_len: usize = 256;
        loop {
            let mut bufs: Vec<Vec<u8>> = vec![vec![0u8; buf_len]; n];
            let mut ptrs: Vec<*mut c_char> = bufs.iter_mut().map(|b| b.as_mut_ptr().cast::<c_char>()).collect();
            let mut out_len: i32 = 0;
            let mut needed: usize = 0;
            call(count, &mut out_len, buf_len, &mut needed, ptrs.as_mut_ptr())?;
            if needed > buf_len {
                buf_len = needed;
                continue;
            }
            let got = usize::try_from(out_len).unwrap_or(0).min(n);
            return Ok(bufs[..got].iter().map(|b| c_buffer_to_string(b)).collect());
        }
    }

    /// Feature importance summed over all rounds (`gain` or split counts).
    pub(crate) fn feature_importance(&self, gain: bool) -> Result<Vec<f64>> {
        let mut out = vec![0.0f64; self.num_features()?];
        let kind = if gain { sys::C_API_FEATURE_IMPORTANCE_GAIN } else { sys::C_API_FEATURE_IMPORTANCE_SPLIT };
        // SAFETY: live booster; out holds one f64 per feature.
        check(unsafe { sys::LGBM_BoosterFeatureImportance(self.0, 0, kind as i32, out.as_mut_ptr()) })?;
        Ok(out)
    }

    /// Normal predictions for a row-major matrix (shape checked by the caller).
    pub(crate) fn predict_mat(
        &self,
        values: &[f64],
        n_rows: usize,
        n_features: usize,
        n_outputs: usize,
        params: &CStr,
    ) -> Result<Vec<f64>> {
        let nrow = to_i32(n_rows, "row count")?;
        let ncol = to_i32(n_features, "feature count")?;
        let mut out = vec![0.0f64; n_rows * n_outputs];
        let mut out_len: i64 = 0;
        // SAFETY: live booster; values holds nrow*ncol f64 and out n_rows *
        // n_outputs f64 (LightGBM writes num_class values per row for a
        // normal prediction).
        check(unsafe {
            sys::LGBM_BoosterPredictForMat(
                self.0,
                values.as_ptr().cast::<c_void>(),
                DTYPE_F64,
                nrow,
                ncol,
                1,
                PREDICT_NORMAL,
                0,
                -1,
                params.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
            )
        })?;
        out.truncate(usize::try_from(out_len).unwrap_or(0));
        Ok(out)
    }

    /// A prepared single-row predictor of `n_features` f64 inputs.
    pub(crate) fn fast_config(&self, n_features: usize, params: &CStr) -> Result<FastConfigPtr> {
        let ncol = to_i32(n_features, "feature count")?;
        let mut handle: sys::FastConfigHandle = std::ptr::null_mut();
        // SAFETY: live booster, NUL-terminated params, valid out pointer.
        check(unsafe {
            sys::LGBM_BoosterPredictForMatSingleRowFastInit(
                self.0,
                PREDICT_NORMAL,
                0,
                -1,
                DTYPE_F64,
                ncol,
                params.as_ptr(),
                &mut handle,
            )
        })?;
        Ok(FastConfigPtr(handle))
    }
}

impl Drop for BoosterPtr {
    fn drop(&mut self) {
        // SAFETY: the handle came from LightGBM and is freed once; every
        // FastConfigPtr made from it holds an Arc to its owner, so none outlives it.
        let _ = unsafe { sys::LGBM_BoosterFree(self.0) };
    }
}

/// An owned `FastConfigHandle` (LightGBM's prepared single-row predictor).
/// The owner must keep the booster it was made from alive.
pub(crate) struct FastConfigPtr(sys::FastConfigHandle);

// SAFETY: the fast config is plain heap data plus a booster pointer (see
// BoosterPtr); it may move between threads. It is not Sync: one caller at a time.
unsafe impl Send for FastConfigPtr {}

impl FastConfigPtr {
    /// Predicts one row into `out`. `row.len()` must equal the feature count
    /// given at creation and `out.len()` the model's output count (both
    /// checked by the caller: LightGBM reads and writes exactly that many).
    pub(crate) fn predict(&self, row: &[f64], out: &mut [f64]) -> Result<()> {
        let mut out_len: i64 = 0;
        // SAFETY: live fast config; row and out sized as documented above.
        check(unsafe {
            sys::LGBM_BoosterPredictForMatSingleRowFast(
                self.0,
                row.as_ptr().cast::<c_void>(),
                &mut out_len,
                out.as_mut_ptr(),
            )
        })
    }
}

impl Drop for FastConfigPtr {
    fn drop(&mut self) {
        // SAFETY: the handle came from ...SingleRowFastInit and is freed once.
        let _ = unsafe { sys::LGBM_FastConfigFree(self.0) };
    }
}
