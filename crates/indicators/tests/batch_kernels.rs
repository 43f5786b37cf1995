//! The specialised batch kernels (a set of one single-output feature: SMA,
//! EMA, WMA, RSI, ROC, OBV, MFI, CCI, PLUS_DI, MINUS_DI, WILLR) against the streaming fold: on seeded random
//! series of random lengths (shorter and longer than the warm-up), with
//! random periods, flat runs (unchanged closes), zeros, negative and signed
//! zero values, every cell must have the same bits as `update` gives one bar
//! at a time. Also `batch_into`: its checks, and that it leaves `out`
//! untouched on an error.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{same_bits, Rng};
use tickcast_indicators::*;

/// A series of one of several shapes, chosen by the generator.
fn series(rng: &mut Rng, n: usize) -> (Vec<f64>, Vec<f64>) {
    let shape = (rng.next_f64() * 5.0) as usize;
    let mut x = 100.0 * (rng.next_f64() + 0.01);
    let mut close = Vec::with_capacity(n);
    let mut volume = Vec::with_capacity(n);
    for _ in 0..n {
        let r = rng.next_f64();
        x = match shape {
            // random walk
            0 => x * (1.0 + (r - 0.5) * 0.01),
            // flat runs: the close often unchanged
            1 => {
                if r < 0.5 {
                    x
                } else {
                    x + (r - 0.75) * 2.0
                }
            }
            // zeros and signed zeros among small values (ROC's zero past)
            2 => [0.0, -0.0, 1.0, -1.0, 0.5][(r * 5.0) as usize],
            // large swings around zero
            3 => (r - 0.5) * 1e6,
            // extreme level
            _ => 1e12 * (1.0 + r),
        };
        close.push(x);
        let v = rng.next_f64();
        volume.push(if v < 0.2 { 0.0 } else if v < 0.25 { -0.0 } else { v * 50.0 });
    }
    (close, volume)
}

/// High and low around the close (the high sometimes equal to the close,
/// so the typical price sometimes repeats with a flat close).
fn high_low(rng: &mut Rng, close: &[f64]) -> (Vec<f64>, Vec<f64>) {
    close
        .iter()
        .map(|&c| {
            let r = rng.next_f64();
            let spread = if r < 0.3 { 0.0 } else { c.abs() * r * 0.01 + r };
            (c + spread, c - spread * 0.5)
        })
        .unzip()
}

fn streamed(name: &str, [high, low, close, volume]: [&[f64]; 4]) -> Vec<f64> {
    let mut set = FeatureSet::new(&[name]).unwrap();
    let mut row = [0.0];
    (0..close.len())
        .map(|i| {
            let bar =
                Bar { open: close[i], high: high[i], low: low[i], close: close[i], volume: volume[i], vwap: f64::NAN };
            set.update(&bar, &mut row);
            row[0]
        })
        .collect()
}

#[test]
fn kernels_match_the_streaming_fold_bit_for_bit() {
    let mut rng = Rng::new(0x5eed_2026);
    let mut cases = 0;
    for round in 0..600 {
        let n = match round % 4 {
            0 => (rng.next_f64() * 8.0) as usize,
            1 => (rng.next_f64() * 60.0) as usize,
            _ => 100 + (rng.next_f64() * 900.0) as usize,
        };
        let (close, volume) = series(&mut rng, n);
        let (high, low) = high_low(&mut rng, &close);
        let p = 1 + (rng.next_f64() * 40.0) as usize;
        let p2 = p.max(2);
        for name in [
            format!("sma_{p}"),
            format!("ema_{p}"),
            format!("wma_{p}"),
            format!("rsi_{p2}"),
            format!("roc_{p}"),
            "obv".to_string(),
            format!("mfi_{p2}"),
            format!("cci_{p2}"),
            format!("plus_di_{p}"),
            format!("minus_di_{p}"),
            format!("willr_{p2}"),
        ] {
            let want = streamed(&name, [&high, &low, &close, &volume]);
            // The open is the close slice (read by none of these).
            let cols = Columns { open: &close, high: &high, low: &low, close: &close, volume: &volume, vwap: None };
            let got = FeatureSet::new(&[name.as_str()]).unwrap().batch(&cols).unwrap();
            assert_eq!(got.len(), want.len());
            for (i, (a, b)) in want.iter().zip(&got).enumerate() {
                assert!(same_bits(*a, *b), "{name}, n={n}, row {i}: streamed {a:?} vs batch {b:?}");
            }
            // Inside a wider set the same feature goes through the generic fold.
            let other = if name.starts_with("willr") { "sma_3" } else { "willr_3" };
            let wide = FeatureSet::new(&[name.as_str(), other]).unwrap().batch(&cols).unwrap();
            assert!(wide.chunks(2).zip(&got).all(|(row, v)| same_bits(row[0], *v)), "{name}: kernel vs fold");
            cases += 1;
        }
    }
    assert_eq!(cases, 6600);
}

#[test]
fn stoch_kernel_matches_the_streaming_fold_bit_for_bit() {
    // STOCH's kernel writes one or both outputs, in the order the names ask.
    let mut rng = Rng::new(0x57_0c4);
    for round in 0..300 {
        let n = if round % 3 == 0 { (rng.next_f64() * 40.0) as usize } else { 50 + (rng.next_f64() * 600.0) as usize };
        let (close, volume) = series(&mut rng, n);
        let (high, low) = high_low(&mut rng, &close);
        let mut param = |max: f64| 1 + (rng.next_f64() * max) as usize;
        let (fast, slow_k, slow_d) = (param(30.0), param(6.0), param(6.0));
        let k = format!("stoch_{fast}_{slow_k}_{slow_d}_k");
        let d = format!("stoch_{fast}_{slow_k}_{slow_d}_d");
        let cols = Columns { open: &close, high: &high, low: &low, close: &close, volume: &volume, vwap: None };
        for names in [vec![k.clone(), d.clone()], vec![d.clone(), k.clone()], vec![k.clone()], vec![d.clone()]] {
            let mut streaming = FeatureSet::new(&names).unwrap();
            let mut row = vec![0.0; names.len()];
            let want: Vec<f64> = (0..n)
                .flat_map(|i| {
                    let bar = Bar::new(close[i], high[i], low[i], close[i], volume[i]);
                    streaming.update(&bar, &mut row);
                    row.clone()
                })
                .collect();
            let got = FeatureSet::new(&names).unwrap().batch(&cols).unwrap();
            assert_eq!(got.len(), want.len());
            for (i, (a, b)) in want.iter().zip(&got).enumerate() {
                assert!(same_bits(*a, *b), "{names:?}, n={n}, cell {i}: streamed {a:?} vs batch {b:?}");
            }
        }
    }
}

#[test]
fn batch_into_checks_and_leaves_out_untouched_on_error() {
    let set = FeatureSet::new(&["sma_3", "obv"]).unwrap();
    let c = [1.0, 2.0, 3.0, 4.0];
    let v = [1.0, 1.0, f64::NAN, 1.0];
    let cols = Columns { open: &c, high: &c, low: &c, close: &c, volume: &c, vwap: None };
    let mut short = vec![7.0; 7];
    let err = set.batch_into(&cols, &mut short).unwrap_err();
    assert_eq!(err, IndicatorError::LengthMismatch { column: "out", len: 7, expected: 8 });
    let mut out = vec![7.0; 8];
    let bad = Columns { volume: &v, ..cols };
    assert_eq!(set.batch_into(&bad, &mut out).unwrap_err(), IndicatorError::NonFiniteInput { field: "volume" });
    assert!(out.iter().all(|&x| x == 7.0), "out written before the error: {out:?}");
    // A NaN close is found even when every other column is the close slice.
    let nan_close = [1.0, f64::INFINITY, 3.0, 4.0];
    let aliased = Columns { open: &nan_close, high: &nan_close, low: &nan_close, close: &nan_close, volume: &nan_close, vwap: None };
    assert_eq!(set.batch_into(&aliased, &mut out).unwrap_err(), IndicatorError::NonFiniteInput { field: "open" });
    set.batch_into(&cols, &mut out).unwrap();
    assert!(same_bits(out[4], 2.0) && same_bits(out[6], 3.0), "{out:?}");
}

#[test]
fn kernels_that_check_the_close_in_their_loop_find_every_bad_value() {
    // A one-feature set of a close-only kernel checks the close while it
    // runs: a bad close anywhere (warm-up or after) fails the call with the
    // first bad bar's error, as streaming's checked update would.
    let n = 40;
    for name in ["sma_5", "ema_5", "wma_5", "rsi_5", "roc_5", "sma_1", "wma_1", "ema_60", "rsi_60"] {
        let set = FeatureSet::new(&[name]).unwrap();
        for at in [0, 3, 4, 5, 6, 39] {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut close: Vec<f64> = (0..n).map(|i| 100.0 + i as f64).collect();
                close[at] = bad;
                let volume = vec![1.0; n];
                let cols = Columns { open: &volume, high: &volume, low: &volume, close: &close, volume: &volume, vwap: None };
                let mut out = vec![0.0; n];
                let err = set.batch_into(&cols, &mut out).unwrap_err();
                assert_eq!(err, IndicatorError::NonFiniteInput { field: "close" }, "{name}, bad close at {at}");
                // Streaming agrees on which bar and field.
                let mut streaming = FeatureSet::new(&[name]).unwrap();
                let mut row = [0.0];
                let first_err = (0..n)
                    .find_map(|i| {
                        let bar = Bar { open: 1.0, high: 1.0, low: 1.0, close: close[i], volume: 1.0, vwap: f64::NAN };
                        streaming.update_checked(&bar, &mut row).err().map(|e| (i, e))
                    })
                    .unwrap();
                assert_eq!(first_err, (at, err));
            }
        }
    }
}

#[test]
fn kernels_that_read_several_columns_find_every_bad_value() {
    // OBV, MFI and CCI flag a bad high, low, close or volume in their loop:
    // the first bad bar's error, the same as streaming's. A finite overflow
    // of the typical price (huge finite values) is no error.
    let n = 30;
    for name in ["obv", "mfi_5", "cci_5", "mfi_40", "cci_40", "plus_di_1", "minus_di_5", "plus_di_40", "willr_2", "willr_14", "stoch_5_3_3_d"] {
        let set = FeatureSet::new(&[name]).unwrap();
        for field in 0..4 {
            for at in [0, 1, 4, 5, 29] {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut cols: [Vec<f64>; 4] = std::array::from_fn(|k| (0..n).map(|i| 100.0 + (i * (k + 1)) as f64).collect());
                    cols[field][at] = bad;
                    let [h, l, c, v] = &cols;
                    let columns = Columns { open: c, high: h, low: l, close: c, volume: v, vwap: None };
                    let mut out = vec![0.0; n];
                    let got = set.batch_into(&columns, &mut out);
                    let mut streaming = FeatureSet::new(&[name]).unwrap();
                    let mut row = [0.0];
                    let want = (0..n).find_map(|i| {
                        let bar = Bar { open: c[i], high: h[i], low: l[i], close: c[i], volume: v[i], vwap: f64::NAN };
                        streaming.update_checked(&bar, &mut row).err()
                    });
                    // OBV reads no high or low: a bad one there is still a bad candle.
                    assert_eq!(got.err(), want, "{name}, field {field} bad at {at}");
                }
            }
        }
        let huge = vec![f64::MAX; n];
        let columns = Columns { open: &huge, high: &huge, low: &huge, close: &huge, volume: &huge, vwap: None };
        let batch = set.batch(&columns).unwrap();
        let want = streamed(name, [&huge, &huge, &huge, &huge]);
        assert!(batch.iter().zip(&want).all(|(a, b)| same_bits(*a, *b)), "{name} on f64::MAX");
    }
}

#[test]
fn columns_read_lists_what_the_indicators_use() {
    let read = |names: &[&str]| FeatureSet::new(names).unwrap().columns_read();
    assert_eq!(read(&["sma_5", "rsi_14", "macd_12_26_9_hist"]), ["close"]);
    assert_eq!(read(&["obv"]), ["close", "volume"]);
    assert_eq!(read(&["atr_14", "sma_2"]), ["high", "low", "close"]);
    assert_eq!(read(&["mfi_14"]), ["high", "low", "close", "volume"]);
    assert_eq!(read(&["vwap_5"]), ["high", "low", "close", "volume", "vwap"]);
    // What it says is read is what matters: changing any other column
    // changes no output.
    let mut rng = Rng::new(9);
    let (close, volume) = series(&mut rng, 200);
    let other: Vec<f64> = close.iter().map(|c| c * 3.0 + 1.0).collect();
    for names in [&["sma_5", "rsi_3", "ema_4", "wma_3", "roc_2", "bb_5_2_width"][..], &["obv"], &["stochrsi_5_3_3_k"]] {
        let set = FeatureSet::new(names).unwrap();
        let a = set.batch(&Columns { open: &close, high: &close, low: &close, close: &close, volume: &volume, vwap: None }).unwrap();
        let b = set.batch(&Columns { open: &other, high: &other, low: &other, close: &close, volume: &volume, vwap: Some(&other) }).unwrap();
        assert!(a.iter().zip(&b).all(|(x, y)| same_bits(*x, *y)), "{names:?}");
    }
}
