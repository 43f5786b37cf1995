//! Times the trade CSV fast path and the aggregator on a file: `cargo run --release --example csv_month -- <file.csv> <pair>`.
use std::time::Instant;
use tickcast_aggregator::{Aggregator, AggregatorConfig, BatchOutcome, CsvFormat, Stop, TradeCsvParser, MAX_TRADE_TS_MS};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(pair)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: csv_month <file.csv> <pair>");
        std::process::exit(2);
    };
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut p = TradeCsvParser::new(Some(pair), "kraken_XBTUSD_month.csv");
    let t = Instant::now();
    let mut rows = 0usize;
    let mut slow = 0usize;
    let mut agg = Aggregator::new(AggregatorConfig::new("kraken")).unwrap_or_else(|_| std::process::exit(1));
    let mut parse_s = 0.0;
    let mut agg_s = 0.0;
    for chunk in bytes.chunks(1 << 20) {
        let t0 = Instant::now();
        let _ = p.push(chunk);
        if rows == 0 && slow == 0 {
            let _ = p.first_line();
            p.set_format(CsvFormat::Ccxt);
            p.set_ccxt_pair("BTC", "USD", Some(pair));
        }
        parse_s += t0.elapsed().as_secs_f64();
        loop {
            let t0 = Instant::now();
            let stop = p.next(50_000, MAX_TRADE_TS_MS).unwrap_or(Stop::End);
            parse_s += t0.elapsed().as_secs_f64();
            if stop == Stop::NeedInput {
                break;
            }
            rows += p.batch().len();
            let t1 = Instant::now();
            let mut out = BatchOutcome::default();
            let _ = agg.push_columns(&p.columns(), &mut out);
            agg_s += t1.elapsed().as_secs_f64();
            if let Stop::Slow(_) = stop {
                slow += 1;
            }
            if stop == Stop::End {
                break;
            }
        }
    }
    println!("{rows} rows, {slow} slow; parse {parse_s:.3} s ({:.0} ns/row), aggregate {agg_s:.3} s ({:.0} ns/row), total {:.3} s", parse_s * 1e9 / rows as f64, agg_s * 1e9 / rows as f64, t.elapsed().as_secs_f64());
}
