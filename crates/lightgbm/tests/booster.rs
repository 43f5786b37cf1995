//! End-to-end tests of the safe wrapper on a small seeded synthetic
//! regression: y = 3·x0 − 2·x1² + noise, x2 pure noise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap or panic is a failed test

use serde_json::json;
use tickcast_lightgbm::{Booster, ErrorCode, ImportanceType, LabeledData, Matrix, Params};

const N_FEATURES: usize = 3;

/// xorshift64*: a tiny seeded generator, uniform in [0, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn synthetic(n_rows: usize, seed: u64, noise: f64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng(seed);
    let mut x = Vec::with_capacity(n_rows * N_FEATURES);
    let mut y = Vec::with_capacity(n_rows);
    for _ in 0..n_rows {
        let (a, b, c) = (rng.next() * 2.0 - 1.0, rng.next() * 2.0 - 1.0, rng.next());
        x.extend_from_slice(&[a, b, c]);
        y.push(3.0 * a - 2.0 * b * b + noise * (rng.next() - 0.5));
    }
    (x, y)
}

fn params(extra: serde_json::Value) -> Params {
    let mut base = json!({"objective": "regression", "learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 10, "num_iterations": 60});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    Params::from_json(&base).unwrap()
}

fn data(x: &[f64], y: &[f64]) -> LabeledData<'static> {
    let x: &'static [f64] = Box::leak(x.to_vec().into_boxed_slice());
    let y: &'static [f64] = Box::leak(y.to_vec().into_boxed_slice());
    LabeledData { x: Matrix::new(x, N_FEATURES).unwrap(), y }
}

fn mse(pred: &[f64], y: &[f64]) -> f64 {
    pred.iter().zip(y).map(|(p, t)| (p - t) * (p - t)).sum::<f64>() / y.len() as f64
}

fn train_default() -> (Booster, Vec<f64>, Vec<f64>) {
    let (x, y) = synthetic(2000, 7, 0.2);
    let b = Booster::train(data(&x, &y), None, None, &params(json!({}))).unwrap();
    (b, x, y)
}

#[test]
fn training_lowers_the_loss_against_the_mean_and_over_rounds() {
    let (x, y) = synthetic(2000, 7, 0.2);
    let (vx, vy) = synthetic(500, 99, 0.2);
    let b = Booster::train(data(&x, &y), Some(data(&vx, &vy)), None, &params(json!({}))).unwrap();
    assert_eq!(b.num_iterations(), 60);
    assert_eq!(b.num_features(), 3);
    let h = b.eval_history();
    assert_eq!(h.metrics, vec!["l2".to_string()]);
    assert_eq!(h.values.len(), 60);
    let first = h.values[0][0];
    let last = h.values[59][0];
    assert!(last < first * 0.2, "validation l2 {first} -> {last}");
    // Independent check of the reported metric: recompute l2 on the validation set.
    let pred = b.predict(&vx).unwrap();
    let l2 = mse(&pred, &vy);
    assert!((l2 - last).abs() <= 1e-6 * last.max(1e-12), "recomputed {l2} vs reported {last}");
    let mean = vy.iter().sum::<f64>() / vy.len() as f64;
    let baseline = mse(&vec![mean; vy.len()], &vy);
    assert!(l2 < baseline * 0.1, "model {l2} vs mean baseline {baseline}");
}

#[test]
fn save_and_load_give_identical_predictions_and_text() {
    let (b, x, _) = train_default();
    let text = b.model_text().unwrap();
    assert!(text.starts_with("tree\n"), "{}", &text[..20]);
    let loaded = Booster::from_model_text(&text, 1).unwrap();
    assert_eq!(loaded.num_iterations(), b.num_iterations());
    let p1 = b.predict(&x).unwrap();
    let p2 = loaded.predict(&x).unwrap();
    assert_eq!(p1.len(), 2000);
    assert!(p1.iter().zip(&p2).all(|(a, c)| a.to_bits() == c.to_bits()));
    assert_eq!(loaded.model_text().unwrap(), text);
}

#[test]
fn fast_single_row_equals_batch_bit_for_bit() {
    let (b, x, _) = train_default();
    let batch = b.predict(&x).unwrap();
    let fast = b.fast_predictor().unwrap();
    for (row, expected) in x.chunks(N_FEATURES).zip(&batch) {
        let got = fast.predict(row).unwrap();
        assert_eq!(got.to_bits(), expected.to_bits(), "row {row:?}: {got} vs {expected}");
    }
    // The predictor keeps the model alive after the booster is dropped.
    let row = x[..N_FEATURES].to_vec();
    drop(b);
    assert_eq!(fast.predict(&row).unwrap().to_bits(), batch[0].to_bits());
}

#[test]
fn training_is_deterministic() {
    let (a, _, _) = train_default();
    let (b, _, _) = train_default();
    assert_eq!(a.model_text().unwrap(), b.model_text().unwrap());
}

#[test]
fn early_stopping_keeps_the_best_round() {
    // Heavy noise and a high learning rate: validation loss turns up early.
    let (x, y) = synthetic(400, 3, 6.0);
    let (vx, vy) = synthetic(400, 4, 6.0);
    let p = params(json!({"learning_rate": 0.5, "num_leaves": 31, "min_data_in_leaf": 3, "num_iterations": 300, "early_stopping_round": 10}));
    let b = Booster::train(data(&x, &y), Some(data(&vx, &vy)), None, &p).unwrap();
    let h = b.eval_history();
    let l2: Vec<f64> = h.values.iter().map(|r| r[0]).collect();
    // Independent: the first arg-min of the recorded curve.
    let mut best = 0;
    for (i, v) in l2.iter().enumerate() {
        if *v < l2[best] {
            best = i;
        }
    }
    assert!(b.best_iteration() < 300, "no early stop: {}", b.best_iteration());
    assert_eq!(b.best_iteration(), best + 1);
    assert_eq!(b.num_iterations(), best + 1);
    assert_eq!(l2.len(), best + 1 + 10, "stops 10 rounds after the best");
    let recomputed = mse(&b.predict(&vx).unwrap(), &vy);
    assert!((recomputed - l2[best]).abs() <= 1e-6 * l2[best]);
}

#[test]
fn feature_names_and_importance() {
    let (x, y) = synthetic(2000, 7, 0.2);
    let names: Vec<String> = ["ret_1m", "ret_5m", "noise"].iter().map(|s| s.to_string()).collect();
    let b = Booster::train(data(&x, &y), None, Some(&names), &params(json!({}))).unwrap();
    assert_eq!(b.feature_names().unwrap(), names);
    let gain = b.feature_importance(ImportanceType::Gain).unwrap();
    let split = b.feature_importance(ImportanceType::Split).unwrap();
    assert_eq!(gain.len(), 3);
    // x0 and x1 drive y, x2 is noise.
    assert!(gain[0] > 10.0 * gain[2] && gain[1] > 10.0 * gain[2], "{gain:?}");
    // Split counts are whole numbers bounded by (num_leaves - 1) per tree.
    assert!(split.iter().all(|s| s.fract() == 0.0));
    assert!(split.iter().sum::<f64>() <= 60.0 * 14.0);
    let loaded = Booster::from_model_text(&b.model_text().unwrap(), 1).unwrap();
    assert_eq!(loaded.feature_names().unwrap(), names);
    let default_names = Booster::train(data(&x, &y), None, None, &params(json!({}))).unwrap();
    assert_eq!(default_names.feature_names().unwrap(), vec!["Column_0", "Column_1", "Column_2"]);
}

#[test]
fn bad_parameters_are_errors_not_crashes() {
    let (x, y) = synthetic(200, 1, 0.1);
    for bad in [
        json!({"no_such_param": 1}),
        json!({"objective": "no_such_objective"}),
        json!({"learning_rate": "abc"}),
        json!({"num_leaves": 1}),
        json!({"num_threads": -1}),
    ] {
        let e = match Params::from_json(&bad) {
            Err(e) => e,
            Ok(p) => match Booster::train(data(&x, &y), None, None, &p) {
                Err(e) => e,
                Ok(_) => panic!("{bad} was accepted"),
            },
        };
        assert_eq!(e.code(), ErrorCode::InvalidParams, "{bad}: {e}");
        assert!(!e.message().is_empty());
    }
    // Early stopping without a validation set.
    let e = Booster::train(data(&x, &y), None, None, &params(json!({"early_stopping_round": 5}))).err().unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidParams);
}

#[test]
fn bad_shapes_are_errors() {
    let (x, y) = synthetic(200, 1, 0.1);
    assert_eq!(Matrix::new(&x[..10], 3).unwrap_err().code(), ErrorCode::InvalidInput);
    assert_eq!(Matrix::new(&x, 0).unwrap_err().code(), ErrorCode::InvalidInput);
    let short = LabeledData { x: Matrix::new(&x, 3).unwrap(), y: &y[..199] };
    assert_eq!(Booster::train(short, None, None, &params(json!({}))).err().unwrap().code(), ErrorCode::InvalidInput);
    let names = vec!["a".to_string(), "a".to_string(), "b".to_string()];
    assert_eq!(
        Booster::train(data(&x, &y), None, Some(&names), &params(json!({}))).err().unwrap().code(),
        ErrorCode::InvalidInput
    );
    let (b, _, _) = train_default();
    assert_eq!(b.predict(&x[..4]).unwrap_err().code(), ErrorCode::FeatureCount);
    let fast = b.fast_predictor().unwrap();
    assert_eq!(fast.predict(&x[..2]).unwrap_err().code(), ErrorCode::FeatureCount);
    assert_eq!(fast.predict(&x[..4]).unwrap_err().code(), ErrorCode::FeatureCount);
}

#[test]
fn corrupt_model_text_is_an_error() {
    let (b, _, _) = train_default();
    let text = b.model_text().unwrap();
    let truncated = &text[..text.len() / 2];
    let no_trees = text.split("Tree=0").next().unwrap().to_string();
    let bad_number = text.replacen("leaf_value=", "leaf_value=abc ", 1);
    for bad in ["", "not a model", "tree\nversion=v4\n", truncated, &no_trees, &bad_number, "a\0b"] {
        let e = Booster::from_model_text(bad, 1).err().unwrap_or_else(|| panic!("accepted: {:?}", &bad[..bad.len().min(40)]));
        assert_eq!(e.code(), ErrorCode::ModelParse, "{e}");
    }
}

#[test]
fn truncated_or_edited_model_text_never_crashes() {
    // LightGBM trusts `tree_sizes` blindly (see without_tree_sizes); cut the
    // text at 200 places and drop each of many lines: every result must be
    // Ok or Err(ModelParse), never an abort.
    let (b, x, _) = train_default();
    let text = b.model_text().unwrap();
    let expected = b.predict(&x[..30]).unwrap();
    let mut cuts = 0;
    for i in 0..200 {
        let at = text.len() * i / 200;
        let cut = &text[..at];
        match Booster::from_model_text(cut, 1) {
            Ok(m) => {
                // Only a cut after the trees may load, and it predicts the same.
                assert!(at >= text.find("end of trees").unwrap(), "cut at {at} loaded");
                assert_eq!(m.predict(&x[..30]).unwrap(), expected);
            }
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::ModelParse);
                cuts += 1;
            }
        }
    }
    assert!(cuts > 150);
    let lines: Vec<&str> = text.lines().collect();
    for skip in 0..lines.len() {
        let edited: String = lines.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, l)| format!("{l}\n")).collect();
        if let Err(e) = Booster::from_model_text(&edited, 1) {
            assert_eq!(e.code(), ErrorCode::ModelParse, "{e}");
        }
    }
}
