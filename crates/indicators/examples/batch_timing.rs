//! Per-indicator `FeatureSet::batch` timings without Node, on the candles and
//! indicator set of bench/indicators.ts (which times ours from Node against the
//! peers): `cargo run --release --example batch_timing -p tickcast-indicators
//! -- [candles.csv] [repeat] [indicator prefix]`. Best of 5 (of 40 with a
//! prefix) of `batch_into` one reused output buffer, given the columns the
//! set reads. This isolates the Rust core: no napi boundary.

use std::time::Instant;
use tickcast_indicators::{Columns, FeatureSet};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        let shared = std::env::var("TICKCAST_SHARED_DATA").unwrap_or_else(|_| "../shared/data".into());
        format!("{shared}/candles/ftx_BTC-PERP_1m_20211231-20220201.csv")
    });
    let repeat: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(23);
    let only = args.next();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| unreachable!("{path}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |k: &str| header.iter().position(|h| *h == k).unwrap_or_else(|| unreachable!("no column {k}"));
    let idx = [col("open"), col("high"), col("low"), col("close"), col("volume")];
    let mut base: [Vec<f64>; 5] = Default::default();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        for (c, &i) in base.iter_mut().zip(&idx) {
            c.push(f[i].parse().unwrap_or(f64::NAN));
        }
    }
    // Leaked: 'static columns, so each set's view can mix them with the close.
    let cols: &'static [Vec<f64>] = Vec::leak(base.iter().map(|c| c.repeat(repeat)).collect());
    let columns =
        Columns { open: &cols[0], high: &cols[1], low: &cols[2], close: &cols[3], volume: &cols[4], vwap: None };
    let n = cols[3].len();
    let sets: &[(&str, &[&str])] = &[
        ("SMA(20)", &["sma_20"]),
        ("EMA(20)", &["ema_20"]),
        ("WMA(20)", &["wma_20"]),
        ("RSI(14)", &["rsi_14"]),
        ("MACD(12,26,9)", &["macd_12_26_9_line", "macd_12_26_9_signal", "macd_12_26_9_hist"]),
        ("BBANDS(20,2)", &["bb_20_2_upper", "bb_20_2_middle", "bb_20_2_lower"]),
        ("ATR(14)", &["atr_14"]),
        ("NATR(14)", &["natr_14"]),
        ("OBV", &["obv"]),
        ("STOCH(14,3,3)", &["stoch_14_3_3_k", "stoch_14_3_3_d"]),
        ("STOCHRSI(14,14,3)", &["stochrsi_14_14_3_k", "stochrsi_14_14_3_d"]),
        ("ADX(14)", &["adx_14"]),
        ("PLUS_DI(14)", &["plus_di_14"]),
        ("MINUS_DI(14)", &["minus_di_14"]),
        ("CCI(20)", &["cci_20"]),
        ("MFI(14)", &["mfi_14"]),
        ("ROC(10)", &["roc_10"]),
        ("WILLR(14)", &["willr_14"]),
    ];
    let mut total = 0.0;
    for (label, names) in sets {
        if only.as_deref().is_some_and(|o| !label.starts_with(o)) {
            continue;
        }
        let set = FeatureSet::new(names).unwrap_or_else(|e| unreachable!("{e}"));
        // The columns the set reads (as TA-Lib's call gets them); the others
        // are the close slice, which batch_into checks once.
        let read = set.columns_read();
        let pick = |name: &str, col: &'static [f64]| if read.contains(&name) { col } else { columns.close };
        let cols = Columns {
            open: pick("open", columns.open),
            high: pick("high", columns.high),
            low: pick("low", columns.low),
            volume: pick("volume", columns.volume),
            ..columns
        };
        let mut out = vec![0.0; n * set.len()];
        let mut best = f64::INFINITY;
        let mut check = 0.0;
        for _ in 0..if only.is_some() { 40 } else { 5 } {
            let t = Instant::now();
            set.batch_into(&cols, &mut out).unwrap_or_else(|e| unreachable!("{e}"));
            best = best.min(t.elapsed().as_secs_f64());
            check += out[out.len() - 1];
        }
        total += best;
        println!("{label:<20} {:>8.2} ms {:>6.2} ns/candle  ({check})", best * 1e3, best * 1e9 / n as f64);
    }
    println!("{:<20} {:>8.2} ms  ({n} candles)", "sum", total * 1e3);
}
