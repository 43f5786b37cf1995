//! Core throughput without Node: `cargo run --release --example indicators_throughput -p tickcast-indicators`.
//! (The Node benchmark with peers is bench/indicators.ts.)

use std::time::Instant;
use tickcast_indicators::batch::run_f64;
use tickcast_indicators::{Bar, Columns, FeatureSet, Indicator, Sma};

fn main() {
    let n = 1_000_000;
    let mut x = 40_000.0_f64;
    let bars: Vec<Bar> = (0..n)
        .map(|i| {
            x *= 1.0 + ((i * 7919 % 1000) as f64 - 499.5) * 1e-6;
            Bar::new(x, x * 1.001, x * 0.999, x, 1.0 + (i % 13) as f64)
        })
        .collect();
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let t = Instant::now();
    let out = run_f64(&mut Sma::new(20).unwrap_or_else(|e| unreachable!("{e}")), closes.iter().copied());
    println!("Sma::update x {n}: {:.1} ns/value ({})", t.elapsed().as_nanos() as f64 / n as f64, out[n - 1]);
    let mut sma = Sma::new(20).unwrap_or_else(|e| unreachable!("{e}"));
    let t = Instant::now();
    let mut acc = 0.0;
    for c in &closes {
        acc += sma.update(*c).unwrap_or(0.0);
    }
    println!("Sma::update loop: {:.1} ns/value ({acc})", t.elapsed().as_nanos() as f64 / n as f64);
    let o: Vec<f64> = bars.iter().map(|b| b.open).collect();
    let h: Vec<f64> = bars.iter().map(|b| b.high).collect();
    let l: Vec<f64> = bars.iter().map(|b| b.low).collect();
    let v: Vec<f64> = bars.iter().map(|b| b.volume).collect();
    let cols = Columns { open: &o, high: &h, low: &l, close: &closes, volume: &v, vwap: None };
    for names in [&["sma_20"][..], &["rsi_14", "macd_12_26_9_hist", "bb_20_2_width", "atr_14", "stoch_14_3_3_k", "adx_14", "cci_20", "mfi_14", "willr_14", "obv"][..]] {
        let set = FeatureSet::new(names).unwrap_or_else(|e| unreachable!("{e}"));
        let t = Instant::now();
        let m = set.batch(&cols).unwrap_or_else(|e| unreachable!("{e}"));
        println!("FeatureSet::batch {:?}: {:.1} ns/candle ({})", names, t.elapsed().as_nanos() as f64 / n as f64, m[m.len() - 1]);
    }
}
