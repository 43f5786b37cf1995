//! Indicators without a TA-Lib equivalent against plain recomputations.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::random_bars;
use tickcast_indicators::batch::run_f64;
use tickcast_indicators::*;

fn close_enough(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

#[test]
fn rolling_vwap_log_return_realized_vol_bollinger_extras() {
    let bars = random_bars(2000, 40_000.0, 11);
    let c: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let n = 20;
    let vwap = run_f64(&mut RollingVwap::new(n).unwrap(), bars.iter().copied());
    let lr = run_f64(&mut LogReturn::new(3).unwrap(), c.iter().copied());
    let rv = run_f64(&mut RealizedVolatility::new(n).unwrap(), c.iter().copied());
    let mut bb = BollingerBands::new(n, 2.0, 2.0).unwrap();
    for i in 0..bars.len() {
        let b = bb.update(c[i]);
        if i + 1 < n {
            assert!(vwap[i].is_nan() && b.is_none());
        } else {
            let w = &bars[i + 1 - n..=i];
            let (mut pv, mut v) = (0.0, 0.0);
            for bar in w {
                pv += bar.vwap * bar.volume;
                v += bar.volume;
            }
            let expect = if v == 0.0 { bars[i].vwap } else { pv / v };
            assert!(close_enough(vwap[i], expect), "vwap {i}: {} vs {expect}", vwap[i]);
            let b = b.unwrap();
            assert!(close_enough(b.width, (b.upper - b.lower) / b.middle));
            assert!(close_enough(b.percent_b, (c[i] - b.lower) / (b.upper - b.lower)));
        }
        if i >= 3 {
            assert!(close_enough(lr[i], (c[i] / c[i - 3]).ln()));
        } else {
            assert!(lr[i].is_nan());
        }
        if i >= n {
            let sum: f64 = (i + 1 - n..=i).map(|j| (c[j] / c[j - 1]).ln().powi(2)).sum();
            assert!(close_enough(rv[i], sum.sqrt()), "rv {i}");
        } else {
            assert!(rv[i].is_nan());
        }
    }
}

/// The rolling max/min behind the stochastics and Williams %R against a
/// rescan of the window, bit for bit, for periods around and across its block
/// boundaries, on prices with many ties (halves).
#[test]
fn rolling_extremes_against_rescans() {
    let bars: Vec<Bar> = random_bars(3000, 100.0, 21)
        .into_iter()
        .map(|b| Bar::new(b.open, (b.high * 2.0).round() / 2.0, (b.low * 2.0).round() / 2.0, b.close, b.volume))
        .collect();
    for p in [1, 2, 3, 5, 13, 14, 15, 64, 100, 2999, 3000, 3001] {
        // Slowing 1: %K is the raw %K itself (an SMA of one value is exact).
        let st = batch::run(&mut Stochastic::new(p, 1, 1).unwrap(), bars.iter().copied());
        let wr = (p >= 2).then(|| run_f64(&mut WilliamsR::new(p).unwrap(), bars.iter().copied()));
        for (i, bar) in bars.iter().enumerate() {
            if i + 1 < p {
                assert!(st[i].is_none());
                continue;
            }
            let window = &bars[i + 1 - p..=i];
            let hi = window.iter().map(|b| b.high).fold(f64::NEG_INFINITY, f64::max);
            let lo = window.iter().map(|b| b.low).fold(f64::INFINITY, f64::min);
            let range = (hi - lo) / 100.0;
            let k = if range != 0.0 { (bar.close - lo) / range } else { 0.0 };
            let got = st[i].unwrap();
            assert_eq!(got.k.to_bits(), k.to_bits(), "stoch %K, period {p}, row {i}");
            assert_eq!(got.d.to_bits(), k.to_bits(), "stoch %D, period {p}, row {i}");
            if let Some(wr) = &wr {
                let range = (hi - lo) / -100.0;
                let want = if range != 0.0 { (hi - bar.close) / range } else { 0.0 };
                assert_eq!(wr[i].to_bits(), want.to_bits(), "willr, period {p}, row {i}");
            }
        }
    }
}
