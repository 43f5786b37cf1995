//! Core throughput without Node: `cargo run --release --example aggregator_throughput -p tickcast-aggregator`.
//! A seeded random walk, two pairs, ascending ids, small arrival jitter.
#![allow(clippy::unwrap_used, clippy::expect_used)] // an example program: failing loudly is fine
#![allow(missing_docs)]

use std::time::Instant;

use tickcast_aggregator::{Aggregator, AggregatorConfig, BatchOutcome, TradeColumns, TradeIdColumn};

fn main() {
    let n = 2_000_000usize;
    let mut s: u64 = 42;
    let mut next = || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let pairs = vec!["BTC/USDT".to_owned(), "ETH/USDT".to_owned()];
    let (mut idx, mut ids, mut px, mut qty, mut side, mut ts) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut t = 1_723_161_240_000.0;
    let mut p = [61_700.0, 2_680.0];
    for i in 0..n {
        let k = (next() % 2) as usize;
        p[k] *= 1.0 + ((next() % 1000) as f64 - 500.0) * 1e-7;
        t += (next() % 40) as f64;
        idx.push(k as u32);
        ids.push(i as f64);
        px.push(p[k]);
        qty.push(1e-4 + (next() % 10_000) as f64 * 1e-6);
        side.push(1 + (next() % 2) as u8);
        ts.push(t);
    }
    for _ in 0..5 {
        let mut cfg = AggregatorConfig::new("binance");
        cfg.grace_ms = 2_000;
        let mut a = Aggregator::new(cfg).unwrap();
        let cols = TradeColumns {
            exchange: None,
            pairs: &pairs,
            pair_idx: &idx,
            trade_ids: TradeIdColumn::F64(&ids),
            prices: &px,
            qtys: &qty,
            sides: &side,
            ts_ms: &ts,
        };
        let mut out = BatchOutcome::default();
        let t0 = Instant::now();
        a.push_columns(&cols, &mut out).unwrap();
        let dt = t0.elapsed().as_secs_f64();
        println!("{n} trades in {:.1} ms: {:.2} M trades/s ({} candles)", dt * 1e3, n as f64 / dt / 1e6, out.candles.len());
    }
}
