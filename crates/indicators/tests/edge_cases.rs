//! Edge cases: period 1, constant prices, NaN, extreme price levels, invalid
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
//! parameters; batch == streaming; reset-then-replay == fresh.

mod common;

use common::{random_bars, same_bits, ALL_FEATURES};
use tickcast_indicators::batch::{run, run_f64};
use tickcast_indicators::*;

fn closes(bars: &[Bar]) -> Vec<f64> {
    bars.iter().map(|b| b.close).collect()
}

fn stream(set: &mut FeatureSet, bars: &[Bar]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut row = vec![0.0; set.len()];
    for bar in bars {
        set.update(bar, &mut row);
        out.extend_from_slice(&row);
    }
    out
}

fn columns_of(bars: &[Bar]) -> [Vec<f64>; 6] {
    [
        bars.iter().map(|b| b.open).collect(),
        bars.iter().map(|b| b.high).collect(),
        bars.iter().map(|b| b.low).collect(),
        bars.iter().map(|b| b.close).collect(),
        bars.iter().map(|b| b.volume).collect(),
        bars.iter().map(|b| b.vwap).collect(),
    ]
}

#[test]
fn batch_equals_streaming_bit_for_bit() {
    let bars = random_bars(3000, 40_000.0, 7);
    let mut set = FeatureSet::new(ALL_FEATURES).unwrap();
    let streamed = stream(&mut set, &bars);
    let [o, h, l, c, v, w] = columns_of(&bars);
    let cols = Columns { open: &o, high: &h, low: &l, close: &c, volume: &v, vwap: Some(&w) };
    let batched = FeatureSet::new(ALL_FEATURES).unwrap().batch(&cols).unwrap();
    assert_eq!(streamed.len(), batched.len());
    for (i, (a, b)) in streamed.iter().zip(&batched).enumerate() {
        assert!(same_bits(*a, *b), "cell {i}: streamed {a} vs batch {b}");
    }
    // batch() starts fresh and leaves the streaming instance untouched.
    let again = set.batch(&cols).unwrap();
    assert!(again.iter().zip(&batched).all(|(a, b)| same_bits(*a, *b)));

    // Per indicator: batch::run is update in a loop.
    let mut by_hand = Rsi::new(14).unwrap();
    let manual: Vec<f64> = c.iter().map(|x| by_hand.update(*x).unwrap_or(f64::NAN)).collect();
    let folded = run_f64(&mut Rsi::new(14).unwrap(), c.iter().copied());
    assert!(manual.iter().zip(&folded).all(|(a, b)| same_bits(*a, *b)));
}

#[test]
fn reset_then_replay_equals_fresh() {
    let first = random_bars(700, 100.0, 1);
    let second = random_bars(900, 2_500.0, 2);
    let mut used = FeatureSet::new(ALL_FEATURES).unwrap();
    stream(&mut used, &first);
    used.reset();
    let replayed = stream(&mut used, &second);
    let fresh = stream(&mut FeatureSet::new(ALL_FEATURES).unwrap(), &second);
    for (i, (a, b)) in replayed.iter().zip(&fresh).enumerate() {
        assert!(same_bits(*a, *b), "cell {i}: after reset {a} vs fresh {b}");
    }
    // Composite: MACD owns three EMAs, reset cascades.
    let c = closes(&second);
    let mut macd = Macd::new(12, 26, 9).unwrap();
    run(&mut macd, closes(&first));
    macd.reset();
    assert!(!macd.is_ready());
    let a = run(&mut macd, c.iter().copied());
    let b = run(&mut Macd::new(12, 26, 9).unwrap(), c.iter().copied());
    assert_eq!(a, b);
}

#[test]
fn warm_up_lengths_match_talib_lookbacks() {
    let bars = random_bars(200, 50.0, 3);
    let names = [
        ("sma_20", 19), ("ema_12", 11), ("wma_10", 9), ("rsi_14", 14), ("macd_12_26_9_hist", 33),
        ("bb_20_2_upper", 19), ("atr_14", 14), ("natr_14", 14), ("obv", 0), ("stoch_14_3_3_d", 17),
        ("stochrsi_14_5_3_k", 20), ("adx_14", 27), ("plus_di_14", 14), ("minus_di_1", 1), ("cci_20", 19),
        ("mfi_14", 14), ("roc_10", 10), ("willr_14", 13), ("vwap_20", 19), ("log_return_5", 5),
        ("realized_vol_30", 30), ("atr_1", 1), ("sma_1", 0),
    ];
    for (name, lookback) in names {
        let mut set = FeatureSet::new(&[name]).unwrap();
        let out = stream(&mut set, &bars);
        let warm = out.iter().take_while(|v| v.is_nan()).count();
        assert_eq!(warm, lookback, "{name}");
        assert!(out[warm..].iter().all(|v| v.is_finite()), "{name} has a NaN after warm-up");
    }
}

#[test]
fn period_one() {
    let bars = random_bars(50, 10.0, 4);
    let c = closes(&bars);
    for (name, got) in [
        ("sma", run_f64(&mut Sma::new(1).unwrap(), c.iter().copied())),
        ("ema", run_f64(&mut Ema::new(1).unwrap(), c.iter().copied())),
        ("wma", run_f64(&mut Wma::new(1).unwrap(), c.iter().copied())),
    ] {
        assert_eq!(got, c, "{name}_1 is the identity");
    }
    // ATR(1) is the true range; ROC(1) the one-bar change; +DI(1) the bar's DM/TR.
    let atr = run_f64(&mut Atr::new(1).unwrap(), bars.iter().copied());
    let roc = run_f64(&mut Roc::new(1).unwrap(), c.iter().copied());
    let pdi = run_f64(&mut DirectionalIndex::new(DirectionalSide::Plus, 1).unwrap(), bars.iter().copied());
    assert!(atr[0].is_nan() && roc[0].is_nan() && pdi[0].is_nan());
    for i in 1..bars.len() {
        let (b, p) = (bars[i], bars[i - 1]);
        let tr = (b.high - b.low).max((b.high - p.close).abs()).max((b.low - p.close).abs());
        assert_eq!(atr[i], tr);
        assert!((roc[i] - (c[i] / c[i - 1] - 1.0) * 100.0).abs() < 1e-12);
        let up = b.high - p.high;
        let down = p.low - b.low;
        let dm = if up > 0.0 && up > down { up } else { 0.0 };
        assert!((pdi[i] - 100.0 * dm / tr).abs() < 1e-12, "bar {i}");
    }
    // Stochastic 1/1/1: the range is the bar's own high-low.
    let st = run(&mut Stochastic::new(1, 1, 1).unwrap(), bars.iter().copied());
    for (s, b) in st.iter().zip(&bars) {
        let s = s.unwrap();
        assert!((s.k - 100.0 * (b.close - b.low) / (b.high - b.low)).abs() < 1e-9);
        assert_eq!(s.k, s.d);
    }
}

#[test]
fn constant_prices() {
    let price = 100.0;
    let bars: Vec<Bar> = (0..120).map(|_| Bar::new(price, price, price, price, 5.0)).collect();
    let mut set = FeatureSet::new(ALL_FEATURES).unwrap();
    let out = stream(&mut set, &bars);
    let last = &out[out.len() - set.len()..];
    let get = |name: &str| last[ALL_FEATURES.iter().position(|n| *n == name).unwrap()];
    for name in ["sma_20", "ema_12", "wma_10", "bb_20_2_upper", "bb_20_2_middle", "bb_20_2_lower", "vwap_20"] {
        assert_eq!(get(name), price, "{name}");
    }
    // Zero variance: the bands collapse, width 0, %B 0.5 by definition.
    assert_eq!(get("bb_20_2_width"), 0.0);
    assert_eq!(get("bb_20_2_pctb"), 0.5);
    // No gains and no losses: TA-Lib's RSI is 0 (not 50), ours too.
    assert_eq!(get("rsi_14"), 0.0);
    for name in ["macd_12_26_9_hist", "atr_14", "natr_14", "stoch_14_3_3_k", "stochrsi_14_5_3_k", "adx_14",
        "plus_di_14", "cci_20", "mfi_14", "roc_10", "willr_14", "log_return_1", "realized_vol_30"]
    {
        assert_eq!(get(name), 0.0, "{name}");
    }
    assert_eq!(get("obv"), 5.0, "OBV keeps the first volume when the close never moves");

    // Only gains (zero losses): RSI is exactly 100.
    let rising: Vec<f64> = (0..40).map(|i| 100.0 + i as f64).collect();
    let rsi = run_f64(&mut Rsi::new(14).unwrap(), rising);
    assert!(rsi[14..].iter().all(|v| *v == 100.0));
}

#[test]
fn nan_is_rejected_by_the_feature_set_and_propagates_in_the_core() {
    let bars = random_bars(100, 30.0, 5);
    let mut with_nan = FeatureSet::new(ALL_FEATURES).unwrap();
    let mut clean = FeatureSet::new(ALL_FEATURES).unwrap();
    let (mut r1, mut r2) = (vec![0.0; with_nan.len()], vec![0.0; clean.len()]);
    for (i, bar) in bars.iter().enumerate() {
        if i == 50 {
            let mut bad = *bar;
            bad.close = f64::NAN;
            let err = with_nan.update_checked(&bad, &mut r1).unwrap_err();
            assert_eq!(err, IndicatorError::NonFiniteInput { field: "close" });
            assert_eq!(err.code(), "E_NON_FINITE_INPUT");
            bad.close = bar.close;
            bad.high = f64::INFINITY;
            assert!(with_nan.update_checked(&bad, &mut r1).is_err());
        }
        with_nan.update_checked(bar, &mut r1).unwrap();
        clean.update(bar, &mut r2);
        assert!(r1.iter().zip(&r2).all(|(a, b)| same_bits(*a, *b)), "a rejected candle changed the state");
    }
    // Unknown vwap (NaN) is allowed.
    let mut bar = bars[0];
    bar.vwap = f64::NAN;
    assert!(with_nan.update_checked(&bar, &mut r1).is_ok());

    // Core indicators do not check: NaN propagates (never a panic).
    let mut sma = Sma::new(3).unwrap();
    let out = run_f64(&mut sma, [1.0, 2.0, f64::NAN, 4.0, 5.0, 6.0]);
    assert!(out[2].is_nan() && out[3].is_nan() && out[4].is_nan());
    let mut stoch = Stochastic::new(3, 1, 1).unwrap();
    for b in [Bar::new(1.0, f64::NAN, 0.5, 1.0, 1.0), Bar::new(1.0, 2.0, 0.5, 1.5, 1.0), Bar::new(1.0, 2.0, 0.5, 1.5, 1.0)] {
        stoch.update(b);
    }
}

#[test]
fn extreme_price_levels() {
    // Scale-invariant indicators agree at 1e-8 and 1e12 with the same walk at 1.
    let base = random_bars(400, 1.0, 6);
    let scale_free = ["rsi_14", "stoch_14_3_3_k", "stochrsi_14_5_3_d", "willr_14", "cci_20", "roc_10", "natr_14",
        "log_return_1", "realized_vol_30", "adx_14", "plus_di_14"];
    let reference = stream(&mut FeatureSet::new(&scale_free).unwrap(), &base);
    for scale in [1e12, 1e-4] {
        let scaled: Vec<Bar> = base
            .iter()
            .map(|b| Bar { open: b.open * scale, high: b.high * scale, low: b.low * scale, close: b.close * scale,
                volume: b.volume, vwap: b.vwap * scale })
            .collect();
        let got = stream(&mut FeatureSet::new(&scale_free).unwrap(), &scaled);
        for (i, (a, b)) in got.iter().zip(&reference).enumerate() {
            let name = scale_free[i % scale_free.len()];
            assert!(a.is_nan() == b.is_nan(), "{name} at scale {scale}");
            if b.is_finite() {
                assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{name} at scale {scale}: {a} vs {b}");
            }
        }
        // Price-level outputs scale with the price and stay finite.
        let levels = ["sma_20", "ema_12", "wma_10", "bb_20_2_middle", "atr_14", "vwap_20", "macd_12_26_9_line"];
        let a = stream(&mut FeatureSet::new(&levels).unwrap(), &base);
        let b = stream(&mut FeatureSet::new(&levels).unwrap(), &scaled);
        for (x, y) in a.iter().zip(&b) {
            if x.is_finite() {
                assert!((y / scale - x).abs() <= 1e-9 * x.abs().max(1e-3), "{x} vs {y}");
            }
        }
    }
    // Bollinger width/%B are scale-free at large prices; at tiny prices
    // TA-Lib's absolute variance threshold (1e-14) collapses the bands.
    let bb = ["bb_20_2_width", "bb_20_2_pctb"];
    let reference = stream(&mut FeatureSet::new(&bb).unwrap(), &base);
    for (scale, collapsed) in [(1e12, false), (1e-7, true)] {
        let scaled: Vec<Bar> = base.iter().map(|b| Bar::new(b.open * scale, b.high * scale, b.low * scale, b.close * scale, b.volume)).collect();
        let got = stream(&mut FeatureSet::new(&bb).unwrap(), &scaled);
        for (i, (a, b)) in got.iter().zip(&reference).enumerate().filter(|(_, (_, b))| b.is_finite()) {
            let expect = if collapsed { [0.0, 0.5][i % 2] } else { *b };
            assert!((a - expect).abs() <= 1e-6 * expect.abs().max(1.0), "{} at {scale}: {a}", bb[i % 2]);
        }
    }
    // Documented TA-Lib threshold: RSI's |gain + loss| < 1e-14 gives 0, so at
    // 1e-17 price levels RSI reads 0 (TA-Lib identical).
    let tiny: Vec<f64> = base.iter().map(|b| b.close * 1e-17).collect();
    let rsi = run_f64(&mut Rsi::new(14).unwrap(), tiny);
    assert!(rsi[14..].iter().all(|v| *v == 0.0));
}

#[test]
fn invalid_parameters_are_errors_not_panics() {
    assert!(matches!(Sma::new(0), Err(IndicatorError::InvalidParameter { name: "period", .. })));
    assert!(Ema::new(MAX_PERIOD + 1).is_err());
    assert!(Rsi::new(1).is_err(), "TA-Lib's RSI minimum is 2");
    assert!(Macd::new(1, 26, 9).is_err());
    assert!(Macd::new(12, 26, 0).is_err());
    assert!(BollingerBands::new(1, 2.0, 2.0).is_err());
    assert!(BollingerBands::new(20, f64::NAN, 2.0).is_err());
    assert!(BollingerBands::new(20, 2.0, -1.0).is_err());
    assert!(Stochastic::new(14, 0, 3).is_err());
    assert!(Adx::new(1).is_err());
    assert!(WilliamsR::new(1).is_err());
    assert!(Cci::new(1).is_err());
    assert!(Mfi::new(0).is_err());
    let msg = Sma::new(0).unwrap_err().to_string();
    assert!(msg.contains("period") && msg.contains("minimum 1"), "{msg}");

    for (name, fragment) in [
        ("foo_14", "unknown indicator"),
        ("rsi", "expected rsi_<n>"),
        ("rsi_14_3", "expected rsi_<n>"),
        ("rsi_x", "not a whole number"),
        ("rsi_-3", "not a whole number"),
        ("rsi_0", "minimum"),
        ("macd_12_26_9", "expected macd_<n>_<n>_<n>_<line|signal|hist>"),
        ("macd_12_26_9_foo", "unknown output"),
        ("bb_20_x_width", "multiplier"),
        ("bb_20_1.2.3_width", "multiplier"),
        ("obv_3", "expected obv"),
        ("sma_99999999999999999999999", "too large"),
    ] {
        let err = FeatureSet::new(&[name]).unwrap_err();
        assert_eq!(err.code(), "E_INVALID_FEATURE");
        assert!(err.to_string().contains(fragment), "{name}: {err}");
    }
    assert!(FeatureSet::new(&["rsi_14", "rsi_14"]).unwrap_err().to_string().contains("twice"));
    assert!(FeatureSet::new::<&str>(&[]).is_err());
    let set = FeatureSet::new(&["sma_2"]).unwrap();
    let (a, b) = (vec![1.0; 3], vec![1.0; 2]);
    let cols = Columns { open: &a, high: &a, low: &b, close: &a, volume: &a, vwap: None };
    assert_eq!(set.batch(&cols).unwrap_err().code(), "E_LENGTH_MISMATCH");
}

#[test]
fn shared_instances_and_names() {
    let set = FeatureSet::new(&["macd_12_26_9_hist", "rsi_14", "macd_12_26_9_line", "bb_20_2.5_pctb"]).unwrap();
    assert_eq!(set.names(), ["macd_12_26_9_hist", "rsi_14", "macd_12_26_9_line", "bb_20_2.5_pctb"]);
    // MACD swap: slow < fast is accepted and equals the swapped order (TA-Lib).
    let c = closes(&random_bars(200, 10.0, 8));
    assert_eq!(run(&mut Macd::new(26, 12, 9).unwrap(), c.iter().copied()), run(&mut Macd::new(12, 26, 9).unwrap(), c.iter().copied()));
}

#[test]
fn batch_rejects_a_bad_bar_with_the_streaming_error() {
    let bars = random_bars(5000, 40_000.0, 9);
    let clean = columns_of(&bars);
    fn as_columns(c: &[Vec<f64>; 6]) -> Columns<'_> {
        Columns { open: &c[0], high: &c[1], low: &c[2], close: &c[3], volume: &c[4], vwap: Some(&c[5]) }
    }
    // The check runs with the first indicator: one reading the close, one
    // reading whole bars, one with several outputs, every family at once.
    let bands = ["bb_20_2_upper", "bb_20_2_lower", "rsi_14"];
    for names in [&["sma_20"][..], &["atr_14", "sma_5"][..], &bands[..], ALL_FEATURES] {
        let set = FeatureSet::new(names).unwrap();
        let before = set.batch(&as_columns(&clean)).unwrap();
        // Without a vwap column, a bad close or volume is still caught.
        for (column, field) in [(3, "close"), (4, "volume")] {
            let mut cols = clean.clone();
            cols[column][777] = f64::INFINITY;
            let without_vwap = Columns { vwap: None, ..as_columns(&cols) };
            assert_eq!(set.batch(&without_vwap).unwrap_err(), IndicatorError::NonFiniteInput { field });
        }
        for (column, field) in ["open", "high", "low", "close", "volume", "vwap"].into_iter().enumerate() {
            let cases = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY].into_iter().flat_map(|b| [(b, false), (b, true)]);
            for (bad, later) in cases {
                if field == "vwap" && bad.is_nan() {
                    continue; // NaN vwap means unknown: allowed
                }
                let mut cols = clean.clone();
                cols[column][3210] = bad;
                if later {
                    // A later bad bar in another field: the first bad bar decides.
                    cols[(column + 1) % 5][4000] = f64::NAN;
                }
                let err = set.batch(&as_columns(&cols)).unwrap_err();
                assert_eq!(err, IndicatorError::NonFiniteInput { field }, "{names:?}: {field} = {bad}");
                // The same error as streaming gives for the first bad bar.
                let mut streaming = FeatureSet::new(names).unwrap();
                let mut row = vec![0.0; streaming.len()];
                let streamed = (0..bars.len())
                    .find_map(|i| {
                        let bar = Bar {
                            open: cols[0][i],
                            high: cols[1][i],
                            low: cols[2][i],
                            close: cols[3][i],
                            volume: cols[4][i],
                            vwap: cols[5][i],
                        };
                        streaming.update_checked(&bar, &mut row).err()
                    })
                    .unwrap();
                assert_eq!(err, streamed);
            }
        }
        // Unknown vwap everywhere is fine; a rejected call left nothing behind.
        let mut unknown = clean.clone();
        unknown[5].iter_mut().for_each(|w| *w = f64::NAN);
        assert!(set.batch(&as_columns(&unknown)).is_ok());
        let after = set.batch(&as_columns(&clean)).unwrap();
        assert!(after.iter().zip(&before).all(|(a, b)| same_bits(*a, *b)));
    }
}
