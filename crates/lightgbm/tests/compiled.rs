//! The compiled single-row predictor against LightGBM itself: models
//! trained on real BTC-USD features (the bench/test data set), each row's
//! compiled prediction must equal LightGBM's `LGBM_BoosterPredictForMat`
//! (`Booster::predict`) and `...SingleRowFast` bit for bit, on the test rows
//! and on edge rows: NaN, exact zeros, -0.0, values LightGBM reads as zero
//! (|x| <= 1e-35f), +-inf, every split threshold of the model exactly and
//! one ulp either side. Models that cannot be compiled fall back to
//! LightGBM's predictor and still predict the same.
//!
//! Data: `coinbase_BTCUSD_1m_lean.csv` from the shared data folder
//! (`<repo>/../shared/data`, or `TICKCAST_SHARED_DATA`), the same features
//! as ts/test/lightgbm/oracle.ts `realFeatures`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap or panic is a failed test

use std::path::PathBuf;

use serde_json::{json, Value};
use tickcast_lightgbm::{Booster, CompiledModel, LabeledData, Matrix, Params, PredictorEngine};

const K: usize = 8;

struct Features {
    train_x: Vec<f64>,
    train_y: Vec<f64>,
    test_x: Vec<f64>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn shared_data() -> PathBuf {
    match std::env::var_os("TICKCAST_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

/// Lagged 1-minute log returns (bps), 5- and 15-minute returns, the bar's
/// range and log volume; label: the 5-minute-ahead log return. Rows whose
/// 15 minutes back and 5 ahead are all present; 70 % train, the last 15 % test.
fn real_features() -> Features {
    let path = shared_data().join("candles/coinbase_BTCUSD_1m_lean.csv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set TICKCAST_SHARED_DATA to the shared data folder)", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (i_date, i_ms, i_high, i_low, i_close, i_vol) =
        (col("date"), col("ms_since_midnight"), col("high"), col("low"), col("close"), col("volume"));
    struct Bar {
        minute: i64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    }
    let bars: Vec<Bar> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let date: i64 = f[i_date].parse().unwrap();
            let days = days_from_civil(date / 10000, date / 100 % 100, date % 100);
            Bar {
                minute: days * 1440 + f[i_ms].parse::<i64>().unwrap() / 60_000,
                high: f[i_high].parse().unwrap(),
                low: f[i_low].parse().unwrap(),
                close: f[i_close].parse().unwrap(),
                volume: f[i_vol].parse().unwrap(),
            }
        })
        .collect();
    let lr = |a: f64, b: f64| 1e4 * (a / b).ln();
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for i in 15..bars.len().saturating_sub(5) {
        if bars[i + 5].minute - bars[i - 15].minute != 20 {
            continue;
        }
        let c = |k: isize| bars[(i as isize + k) as usize].close;
        let b = &bars[i];
        rows.push([
            lr(c(0), c(-1)),
            lr(c(-1), c(-2)),
            lr(c(-2), c(-3)),
            lr(c(-3), c(-4)),
            lr(c(0), c(-5)),
            lr(c(0), c(-15)),
            1e4 * (b.high - b.low) / b.close,
            b.volume.ln_1p(),
        ]);
        labels.push(lr(c(5), c(0)));
    }
    assert!(rows.len() > 8000, "only {} rows", rows.len());
    let a = rows.len() * 70 / 100;
    let v = rows.len() * 85 / 100;
    Features {
        train_x: rows[..a].iter().flatten().copied().collect(),
        train_y: labels[..a].to_vec(),
        test_x: rows[v..].iter().flatten().copied().collect(),
    }
}

fn train(x: &[f64], y: &[f64], extra: Value) -> Booster {
    let mut p = json!({"objective": "regression", "learning_rate": 0.05, "num_leaves": 31, "num_iterations": 300});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    let params = Params::from_json(&p).unwrap();
    Booster::train(LabeledData { x: Matrix::new(x, K).unwrap(), y }, None, None, &params).unwrap()
}

/// `(feature, threshold)` of every split in the model text (read here with
/// a plain split, independently of the compiler).
fn splits(text: &str) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    let mut features: Vec<usize> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("split_feature=") {
            features = v.split_whitespace().map(|s| s.parse().unwrap()).collect();
        } else if let Some(v) = line.strip_prefix("threshold=") {
            let thresholds: Vec<f64> = v.split_whitespace().map(|s| s.parse().unwrap()).collect();
            out.extend(features.iter().copied().zip(thresholds));
        }
    }
    out
}

/// The missing types ((decision_type >> 2) & 3) and default-left bits used in the model.
fn decision_types(text: &str) -> Vec<u8> {
    text.lines()
        .filter_map(|l| l.strip_prefix("decision_type="))
        .flat_map(|v| v.split_whitespace().map(|s| s.parse::<u8>().unwrap()).collect::<Vec<_>>())
        .collect()
}

/// Test rows plus edge rows built on a few of them.
fn edge_rows(text: &str, base: &[f64]) -> Vec<f64> {
    let zero_threshold = f64::from(1e-35_f32);
    let mut specials = vec![
        f64::NAN,
        0.0,
        -0.0,
        1e-40,
        -1e-40,
        zero_threshold,
        -zero_threshold,
        zero_threshold.next_up(),
        (-zero_threshold).next_down(),
        f64::MIN_POSITIVE,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN,
    ];
    specials.dedup();
    let mut rows: Vec<f64> = base.to_vec();
    let bases: Vec<&[f64]> = base.chunks(K).step_by(97).collect();
    for (i, row) in bases.iter().enumerate() {
        for f in 0..K {
            for &s in &specials {
                let mut r = row.to_vec();
                r[f] = s;
                rows.extend_from_slice(&r);
            }
        }
        // Every feature missing at once, all zero at once.
        rows.extend(std::iter::repeat_n(f64::NAN, K));
        rows.extend(std::iter::repeat_n(0.0, K));
        // Mixed: NaN in one feature, zero in the next.
        let mut r = row.to_vec();
        r[i % K] = f64::NAN;
        r[(i + 1) % K] = 0.0;
        rows.extend_from_slice(&r);
    }
    for (n, (f, t)) in splits(text).into_iter().enumerate() {
        let row = bases[n % bases.len()];
        for v in [t, t.next_up(), t.next_down()] {
            let mut r = row.to_vec();
            r[f] = v;
            rows.extend_from_slice(&r);
        }
    }
    rows
}

fn bits_equal(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

/// The compiled predictor (required to be compiled) equals LightGBM's batch
/// and single-row predictions bit for bit on `rows`. Returns the row count.
fn assert_compiled_equals_lightgbm(booster: &Booster, rows: &[f64], what: &str) -> usize {
    let fast = booster.fast_predictor().unwrap();
    assert_eq!(fast.engine(), PredictorEngine::Compiled, "{what}: not compiled: {:?}", fast.fallback_reason());
    let reference = booster.lightgbm_fast_predictor().unwrap();
    assert_eq!(reference.engine(), PredictorEngine::LightGbm);
    let batch = booster.predict(rows).unwrap();
    for (i, row) in rows.chunks(K).enumerate() {
        let got = fast.predict(row).unwrap();
        assert!(bits_equal(got, batch[i]), "{what}: row {i} {row:?}: compiled {got:e} vs LightGBM {:e}", batch[i]);
        let single = reference.predict(row).unwrap();
        assert!(bits_equal(got, single), "{what}: row {i}: compiled {got:e} vs single-row {single:e}");
    }
    batch.len()
}

#[test]
fn real_data_models_compile_and_equal_lightgbm_bit_for_bit() {
    let d = real_features();
    // The bench model, and smaller and larger ones.
    for extra in [
        json!({}),
        json!({"num_leaves": 15, "num_iterations": 100}),
        json!({"num_leaves": 48, "num_iterations": 60, "min_data_in_leaf": 5}), // 33..64 leaves: 64-bit leaf sets
        json!({"num_leaves": 64, "num_iterations": 30, "min_data_in_leaf": 2}),
        json!({"num_leaves": 7, "num_iterations": 50, "feature_fraction": 0.5, "bagging_fraction": 0.7, "bagging_freq": 1, "lambda_l2": 1.0}),
    ] {
        let b = train(&d.train_x, &d.train_y, extra.clone());
        let text = b.model_text().unwrap();
        let rows = edge_rows(&text, &d.test_x);
        let n = assert_compiled_equals_lightgbm(&b, &rows, &extra.to_string());
        assert!(n > d.test_x.len() / K + 1000, "{extra}: only {n} rows");
    }
}

#[test]
fn models_with_missing_values_use_both_missing_types_and_match() {
    let d = real_features();
    // NaN-valued training data: splits with missing type NaN, default left and right.
    let mut x = d.train_x.clone();
    for (i, v) in x.iter_mut().enumerate() {
        let (row, f) = (i / K, i % K);
        if (f == 0 && row % 5 == 0) || (f == 5 && row % 3 == 1) || (f == 7 && row % 11 == 0) {
            *v = f64::NAN;
        }
    }
    let with_nan = train(&x, &d.train_y, json!({"num_iterations": 150}));
    let text = with_nan.model_text().unwrap();
    let types = decision_types(&text);
    assert!(types.iter().any(|&t| (t >> 2) & 3 == 2 && t & 2 != 0), "no NaN split with default left");
    assert!(types.iter().any(|&t| (t >> 2) & 3 == 2 && t & 2 == 0), "no NaN split with default right");
    assert_compiled_equals_lightgbm(&with_nan, &edge_rows(&text, &d.test_x), "NaN missing type");

    // zero_as_missing: splits with missing type Zero (the returns are often exactly 0).
    let zero = train(&x, &d.train_y, json!({"num_iterations": 150, "zero_as_missing": true}));
    let text = zero.model_text().unwrap();
    let types = decision_types(&text);
    assert!(types.iter().any(|&t| (t >> 2) & 3 == 1 && t & 2 != 0), "no Zero split with default left");
    assert!(types.iter().any(|&t| (t >> 2) & 3 == 1 && t & 2 == 0), "no Zero split with default right");
    assert_compiled_equals_lightgbm(&zero, &edge_rows(&text, &d.test_x), "Zero missing type");

    // use_missing = false: missing type None everywhere, NaN read as 0.
    let none = train(&x, &d.train_y, json!({"num_iterations": 60, "use_missing": false}));
    let text = none.model_text().unwrap();
    assert!(decision_types(&text).iter().all(|&t| (t >> 2) & 3 == 0));
    assert_compiled_equals_lightgbm(&none, &edge_rows(&text, &d.test_x), "no missing handling");
}

#[test]
fn objectives_with_output_transforms_match() {
    let d = real_features();
    let up: Vec<f64> = d.train_y.iter().map(|&y| f64::from(u8::from(y > 0.0))).collect();
    let prob: Vec<f64> = d.train_y.iter().map(|&y| 1.0 / (1.0 + (-y / 10.0).exp())).collect();
    let count: Vec<f64> = d.train_y.iter().map(|&y| y.abs().round()).collect();
    let positive: Vec<f64> = d.train_y.iter().map(|&y| y.abs() + 0.5).collect();
    let cases: Vec<(&str, &[f64], Value)> = vec![
        ("binary", &up, json!({"objective": "binary", "num_iterations": 100})),
        ("binary sigmoid 2", &up, json!({"objective": "binary", "sigmoid": 2.0, "num_iterations": 60})),
        ("cross_entropy", &prob, json!({"objective": "cross_entropy", "num_iterations": 60})),
        ("poisson", &count, json!({"objective": "poisson", "num_iterations": 60})),
        ("gamma", &positive, json!({"objective": "gamma", "num_iterations": 60})),
        ("tweedie", &count, json!({"objective": "tweedie", "num_iterations": 60})),
        ("huber", &d.train_y, json!({"objective": "huber", "alpha": 5.0, "num_iterations": 60})),
        ("l1", &d.train_y, json!({"objective": "l1", "num_iterations": 60})),
        ("quantile", &d.train_y, json!({"objective": "quantile", "alpha": 0.8, "num_iterations": 60})),
        ("fair", &d.train_y, json!({"objective": "fair", "num_iterations": 60})),
        ("mape", &positive, json!({"objective": "mape", "num_iterations": 60})),
        (
            "random forest (average_output)",
            &d.train_y,
            json!({"boosting": "rf", "bagging_fraction": 0.7, "bagging_freq": 1, "num_iterations": 80}),
        ),
        ("dart", &d.train_y, json!({"boosting": "dart", "num_iterations": 60})),
    ];
    for (what, y, extra) in cases {
        let b = train(&d.train_x, y, extra);
        let text = b.model_text().unwrap();
        if what.starts_with("random forest") {
            assert!(text.lines().any(|l| l == "average_output"), "rf model without average_output");
        }
        assert_compiled_equals_lightgbm(&b, &edge_rows(&text, &d.test_x), what);
    }
}

#[test]
fn a_single_leaf_tree_predicts_its_leaf() {
    let d = real_features();
    // No split can keep min_data_in_leaf rows on both sides: one tree, one leaf.
    let n = d.train_y.len();
    let b = train(&d.train_x, &d.train_y, json!({"min_data_in_leaf": n, "num_iterations": 5}));
    let text = b.model_text().unwrap();
    assert!(text.contains("num_leaves=1\n"), "expected a single-leaf tree");
    assert_compiled_equals_lightgbm(&b, &edge_rows(&text, &d.test_x), "single leaf");
}

#[test]
fn models_that_do_not_compile_fall_back_and_predict_the_same() {
    let d = real_features();
    // Categorical feature: the volume bucketed into small integers.
    let mut x = d.train_x.clone();
    for row in x.chunks_mut(K) {
        row[7] = row[7].floor().clamp(0.0, 9.0);
    }
    let classes: Vec<f64> = d.train_y.iter().map(|&y| if y < -2.0 { 0.0 } else if y > 2.0 { 2.0 } else { 1.0 }).collect();
    let cases: Vec<(&str, Vec<f64>, Value, &str)> = vec![
        (
            "categorical",
            d.train_y.clone(),
            json!({"categorical_feature": "7", "num_iterations": 40, "min_data_per_group": 5, "cat_smooth": 1.0}),
            "categorical",
        ),
        ("linear trees", d.train_y.clone(), json!({"linear_tree": true, "num_iterations": 20}), "linear"),
        ("multiclass", classes, json!({"objective": "multiclass", "num_class": 3, "num_iterations": 20}), "per iteration"),
        ("127 leaves", d.train_y.clone(), json!({"num_leaves": 127, "min_data_in_leaf": 2, "num_iterations": 5}), "leaves"),
        ("sqrt", d.train_y.clone(), json!({"reg_sqrt": true, "num_iterations": 20}), "sqrt"),
    ];
    for (what, y, extra, reason) in cases {
        let b = train(&x, &y, extra);
        let fast = b.fast_predictor().unwrap();
        assert_eq!(fast.engine(), PredictorEngine::LightGbm, "{what} compiled");
        let why = fast.fallback_reason().unwrap_or_default();
        assert!(why.contains(reason), "{what}: reason {why:?}");
        let mut test_x = d.test_x.clone();
        for row in test_x.chunks_mut(K) {
            row[7] = row[7].floor().clamp(0.0, 9.0);
        }
        let rows = edge_rows(&b.model_text().unwrap(), &test_x);
        let batch = b.predict(&rows).unwrap();
        let outputs = fast.num_outputs();
        let mut out = vec![0.0; outputs];
        for (i, row) in rows.chunks(K).enumerate() {
            fast.predict_into(row, &mut out).unwrap();
            for (j, &v) in out.iter().enumerate() {
                assert!(bits_equal(v, batch[i * outputs + j]), "{what}: row {i} output {j}");
            }
        }
    }
}

#[test]
fn compiled_model_refuses_bad_text_without_panicking() {
    let d = real_features();
    let b = train(&d.train_x, &d.train_y, json!({"num_iterations": 20}));
    let text = b.model_text().unwrap();
    let model = CompiledModel::from_model_text(&text, K).unwrap();
    assert_eq!(model.num_trees(), 20);
    assert_eq!(model.num_features(), K);
    assert_eq!(model.predict(&[0.0; K - 1]), None);
    assert!(CompiledModel::from_model_text(&text, K + 1).is_err(), "feature count differs from max_feature_idx");
    // Cut anywhere: Ok only once the trees are complete, otherwise Err; never a panic.
    let end = text.find("end of trees").unwrap();
    let expected: Vec<f64> = d.test_x.chunks(K).take(50).map(|r| model.predict(r).unwrap()).collect();
    for i in 0..300 {
        let at = text.len() * i / 300;
        match CompiledModel::from_model_text(&text[..at], K) {
            Ok(m) => {
                assert!(at > end, "cut at {at} compiled");
                let got: Vec<f64> = d.test_x.chunks(K).take(50).map(|r| m.predict(r).unwrap()).collect();
                assert_eq!(got, expected);
            }
            Err(why) => assert!(!why.is_empty()),
        }
    }
    // Edited structure: a cycle (the first tree's root as its own left
    // child), an out-of-range child, an unknown objective, a bad number.
    let edit_first = |key: &str, value: &str| -> String {
        let at = text.find(&format!("\n{key}=")).unwrap() + key.len() + 2;
        let end = at + text[at..].find([' ', '\n']).unwrap();
        format!("{}{value}{}", &text[..at], &text[end..])
    };
    let cycle = edit_first("left_child", "0");
    assert!(CompiledModel::from_model_text(&cycle, K).unwrap_err().contains("twice"), "cycle");
    let out_of_range = edit_first("right_child", "-99");
    assert!(CompiledModel::from_model_text(&out_of_range, K).unwrap_err().contains("out of range"), "child out of range");
    let objective = text.replacen("objective=regression", "objective=lambdarank", 1);
    assert!(CompiledModel::from_model_text(&objective, K).unwrap_err().contains("lambdarank"));
    let bad_number = text.replacen("leaf_value=", "leaf_value=abc ", 1);
    assert!(CompiledModel::from_model_text(&bad_number, K).is_err());
}
