//! Training parameters: a JSON object validated against LightGBM's own list
//! of parameter names and aliases, with this crate's reproducibility
//! defaults filled in.
//!
//! Defaults added when the caller does not set them (documented in the
//! package README and the `TrainParams` docs of the Node binding):
//! - `num_threads = 1`: results do not depend on the machine's core count;
//!   LightGBM's own default (0 = all cores) is refused.
//! - `deterministic = true` and `force_col_wise = true` (unless
//!   `force_row_wise` is given): LightGBM otherwise picks row- or column-wise
//!   histograms by timing them, so two runs could differ.
//! - `verbosity = -1`: LightGBM writes its log to stdout otherwise.
//!
//! Names are canonicalised (an alias such as `n_estimators` becomes
//! `num_iterations`); giving a parameter twice under two aliases is an error.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde_json::{Map, Number, Value};

use crate::error::{ErrorCode, LgbmError, Result};
use crate::ffi;

/// Parameters that name files or drive LightGBM's command-line program:
/// meaningless through this API.
const REFUSED: &[&str] = &[
    "config",
    "task",
    "data",
    "valid",
    "input_model",
    "output_model",
    "output_result",
    "save_binary",
    "snapshot_freq",
    "convert_model",
    "convert_model_language",
    "machine_list_filename",
    "machines",
    "initscore_filename",
    "valid_data_initscores",
    "forcedsplits_filename",
    "forcedbins_filename",
];

fn invalid(message: impl Into<String>) -> LgbmError {
    LgbmError::new(ErrorCode::InvalidParams, message)
}

/// alias (and canonical name) -> canonical name, from LightGBM itself.
fn aliases() -> Result<&'static HashMap<String, String>> {
    static ALIASES: OnceLock<std::result::Result<HashMap<String, String>, String>> = OnceLock::new();
    ALIASES
        .get_or_init(|| {
            let json = ffi::dump_param_aliases().map_err(|e| e.to_string())?;
            let parsed: Map<String, Value> = serde_json::from_str(&json).map_err(|e| e.to_string())?;
            let mut map = HashMap::new();
            for (name, list) in parsed {
                if let Some(list) = list.as_array() {
                    for alias in list.iter().filter_map(Value::as_str) {
                        map.insert(alias.to_owned(), name.clone());
                    }
                }
                map.insert(name.clone(), name);
            }
            Ok(map)
        })
        .as_ref()
        .map_err(|e| LgbmError::new(ErrorCode::LightGbm, format!("cannot read LightGBM's parameter list: {e}")))
}

/// An integer value, whether JSON carried it as an integer or as an
/// integral float (JavaScript numbers arrive as floats).
fn as_int(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    #[allow(clippy::cast_possible_truncation)] // guarded: integral and within ±2^53
    if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
        Some(f as i64)
    } else {
        None
    }
}

fn format_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => match as_int(&Value::Number(n.clone())) {
            Some(i) => i.to_string(),
            None => format!("{f}"),
        },
        _ => n.to_string(),
    }
}

fn check_scalar(name: &str, v: &Value) -> Result<String> {
    match v {
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => {
            if n.as_f64().is_some_and(f64::is_finite) {
                Ok(format_number(n))
            } else {
                Err(invalid(format!("parameter {name}: number is not finite")))
            }
        }
        Value::String(s) => {
            if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '=' || c == '\0' || c == '"') {
                Err(invalid(format!("parameter {name}: string {s:?} is empty or has whitespace, '=' or quotes")))
            } else {
                Ok(s.clone())
            }
        }
        _ => Err(invalid(format!("parameter {name}: expected a number, string or boolean, got {v}"))),
    }
}

/// Validated training parameters (canonical LightGBM names).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    entries: BTreeMap<String, Value>,
}

impl Params {
    /// Validates a JSON object of parameters and fills in the defaults
    /// described in the module docs. Errors with `InvalidParams` on unknown
    /// names, refused names, duplicates under aliases, wrong value types and
    /// out-of-range values of the parameters this crate interprets itself
    /// (`num_threads`, `num_iterations`, `early_stopping_round`).
    pub fn from_json(params: &Value) -> Result<Self> {
        let object = match params {
            Value::Object(o) => o,
            Value::Null => &Map::new(),
            other => return Err(invalid(format!("parameters must be an object, got {other}"))),
        };
        let aliases = aliases()?;
        let mut entries = BTreeMap::new();
        let mut given_as: HashMap<String, String> = HashMap::new();
        for (key, value) in object {
            let Some(name) = aliases.get(key) else {
                return Err(invalid(format!("unknown parameter: {key}")));
            };
            if REFUSED.contains(&name.as_str()) {
                return Err(invalid(format!("parameter {key} is not supported by this binding (file or CLI option)")));
            }
            if let Some(first) = given_as.insert(name.clone(), key.clone()) {
                return Err(invalid(format!("parameter {name} given twice (as {first} and {key})")));
            }
            match value {
                Value::Array(items) if !items.is_empty() => {
                    for item in items {
                        check_scalar(key, item)?;
                    }
                }
                Value::Array(_) => return Err(invalid(format!("parameter {key}: empty list"))),
                scalar => {
                    check_scalar(key, scalar)?;
                }
            }
            entries.insert(name.clone(), value.clone());
        }
        let mut p = Params { entries };
        p.default("num_threads", Value::from(1));
        p.default("deterministic", Value::Bool(true));
        if !p.entries.contains_key("force_row_wise") {
            p.default("force_col_wise", Value::Bool(true));
        }
        p.default("verbosity", Value::from(-1));
        p.check_int("num_threads", 1)?;
        p.check_int("num_iterations", 1)?;
        p.check_int("early_stopping_round", 0)?;
        Ok(p)
    }

    fn default(&mut self, name: &str, value: Value) {
        self.entries.entry(name.to_owned()).or_insert(value);
    }

    fn check_int(&self, name: &str, min: i64) -> Result<()> {
        match self.entries.get(name) {
            None => Ok(()),
            Some(v) => match as_int(v) {
                Some(i) if i >= min => Ok(()),
                _ => Err(invalid(format!("parameter {name} must be an integer >= {min}, got {v}"))),
            },
        }
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.entries.get(name).and_then(as_int)
    }

    /// Threads LightGBM uses for training and batch prediction.
    pub fn num_threads(&self) -> usize {
        usize::try_from(self.int("num_threads").unwrap_or(1)).unwrap_or(1)
    }

    /// Boosting rounds (LightGBM's default 100).
    pub fn num_iterations(&self) -> usize {
        usize::try_from(self.int("num_iterations").unwrap_or(100)).unwrap_or(100)
    }

    /// Rounds without improvement on the validation set before training
    /// stops; 0 = no early stopping.
    pub fn early_stopping_round(&self) -> usize {
        usize::try_from(self.int("early_stopping_round").unwrap_or(0)).unwrap_or(0)
    }

    /// Minimum improvement that counts (LightGBM's `early_stopping_min_delta`).
    pub fn early_stopping_min_delta(&self) -> f64 {
        self.entries.get("early_stopping_min_delta").and_then(Value::as_f64).unwrap_or(0.0)
    }

    /// Whether early stopping watches only the first metric.
    pub fn first_metric_only(&self) -> bool {
        self.entries.get("first_metric_only").and_then(Value::as_bool).unwrap_or(false)
    }

    /// The effective parameters (canonical names, defaults included) as JSON.
    pub fn to_json(&self) -> Value {
        Value::Object(self.entries.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// LightGBM's `key=value key=value` form (lists comma-joined, as the
    /// Python package writes them).
    pub fn to_lightgbm_string(&self) -> String {
        let mut parts = Vec::with_capacity(self.entries.len());
        for (k, v) in &self.entries {
            let value = match v {
                Value::Array(items) => {
                    items.iter().map(|i| check_scalar(k, i).unwrap_or_default()).collect::<Vec<_>>().join(",")
                }
                scalar => check_scalar(k, scalar).unwrap_or_default(),
            };
            parts.push(format!("{k}={value}"));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aliases_become_canonical_and_defaults_fill_in() {
        let p = Params::from_json(&json!({"n_estimators": 7.0, "eta": 0.05, "objective": "regression"})).unwrap();
        let s = p.to_lightgbm_string();
        assert!(s.contains("num_iterations=7"), "{s}");
        assert!(s.contains("learning_rate=0.05"), "{s}");
        assert!(s.contains("num_threads=1"), "{s}");
        assert!(s.contains("deterministic=true"), "{s}");
        assert!(s.contains("force_col_wise=true"), "{s}");
        assert_eq!(p.num_iterations(), 7);
    }

    #[test]
    fn bad_parameters_are_refused_with_a_code() {
        for bad in [
            json!({"no_such_param": 1}),
            json!({"num_iterations": 5, "n_estimators": 6}),
            json!({"learning_rate": null}),
            json!({"learning_rate": {"a": 1}}),
            json!({"objective": "regression l1"}),
            json!({"num_threads": 0}),
            json!({"num_iterations": 2.5}),
            json!({"task": "train"}),
            json!([1, 2]),
        ] {
            let e = Params::from_json(&bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidParams, "{bad}");
        }
    }
}
