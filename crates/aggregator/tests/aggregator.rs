//! Behaviour of the aggregator, time driven by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test
#![allow(missing_docs)] // test functions

use tickcast_aggregator::{
    Aggregator, AggregatorConfig, BatchError, BatchOutcome, Candle, Late, Outcome, RejectReason, SideIn, TradeColumns,
    TradeIdColumn, TradeIdIn, TradeIn,
};

const MIN: i64 = 60_000;
/// 2024-08-08T23:54:00Z, a minute boundary.
const T0: i64 = 1_723_161_240_000;

fn config(grace_ms: u64) -> AggregatorConfig {
    let mut c = AggregatorConfig::new("kraken");
    c.grace_ms = grace_ms;
    c
}

fn agg(grace_ms: u64) -> Aggregator {
    Aggregator::new(config(grace_ms)).unwrap()
}

#[derive(Clone, Debug)]
struct T {
    pair: &'static str,
    id: u64,
    price: f64,
    qty: f64,
    side: &'static str,
    ts: i64,
}

fn t(pair: &'static str, id: u64, price: f64, qty: f64, side: &'static str, ts: i64) -> T {
    T { pair, id, price, qty, side, ts }
}

fn push(a: &mut Aggregator, x: &T, out: &mut Vec<Candle>) -> Result<Outcome, RejectReason> {
    let id = x.id.to_string();
    a.push(
        &TradeIn {
            exchange: None,
            pair: x.pair,
            trade_id: TradeIdIn::Str(&id),
            price: x.price,
            qty: x.qty,
            side: SideIn::Name(x.side),
            ts_ms: x.ts as f64,
        },
        out,
    )
}

fn push_ok(a: &mut Aggregator, x: &T) -> Vec<Candle> {
    let mut out = Vec::new();
    assert_eq!(push(a, x, &mut out), Ok(Outcome::Accepted), "{x:?}");
    out
}

fn advance(a: &mut Aggregator, pair: Option<&str>, wm: i64) -> Vec<Candle> {
    let mut out = Vec::new();
    a.advance_watermark(pair, wm as f64, &mut out).unwrap();
    out
}

fn bits(c: &Candle) -> [u64; 13] {
    [
        u64::from(c.pair),
        c.window_start_ms as u64,
        c.window_end_ms as u64,
        c.open.to_bits(),
        c.high.to_bits(),
        c.low.to_bits(),
        c.close.to_bits(),
        c.volume.to_bits(),
        c.buy_volume.to_bits(),
        c.sell_volume.to_bits(),
        c.vwap.to_bits(),
        c.trade_count,
        u64::from(c.filled),
    ]
}

#[test]
fn one_window_ohlcv_vwap_and_sides() {
    let mut a = agg(0);
    assert!(push_ok(&mut a, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0 + 1_000)).is_empty());
    assert!(push_ok(&mut a, &t("BTC/USD", 2, 110.0, 2.0, "sell", T0 + 20_000)).is_empty());
    assert!(push_ok(&mut a, &t("BTC/USD", 3, 90.0, 1.0, "unknown", T0 + 40_000)).is_empty());
    assert!(push_ok(&mut a, &t("BTC/USD", 4, 105.0, 4.0, "buy", T0 + 59_999)).is_empty());
    let out = push_ok(&mut a, &t("BTC/USD", 5, 107.0, 1.0, "buy", T0 + MIN)); // exactly at end: next window
    assert_eq!(out.len(), 1);
    let c = out[0];
    assert_eq!((c.window_start_ms, c.window_end_ms), (T0, T0 + MIN));
    assert_eq!((c.open, c.high, c.low, c.close), (100.0, 110.0, 90.0, 105.0));
    assert_eq!(c.volume, 8.0);
    assert_eq!((c.buy_volume, c.sell_volume), (5.0, 2.0));
    assert_eq!(c.trade_count, 4);
    assert_eq!(c.vwap, (100.0 + 220.0 + 90.0 + 420.0) / 8.0);
    assert!(!c.filled);
    assert_eq!(a.pair_name(c.pair), Some("BTC/USD"));
}

#[test]
fn window_closes_exactly_when_watermark_reaches_its_end() {
    let mut a = agg(5_000);
    push_ok(&mut a, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0 + 10));
    // watermark = T0 + 64_999 - 5_000 < end
    assert!(push_ok(&mut a, &t("BTC/USD", 2, 101.0, 1.0, "buy", T0 + MIN + 4_999)).is_empty());
    // watermark = T0 + 65_000 - 5_000 = end: closes
    let out = push_ok(&mut a, &t("BTC/USD", 3, 102.0, 1.0, "buy", T0 + MIN + 5_000));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].window_end_ms, T0 + MIN);
    assert_eq!(a.watermark_ms("BTC/USD"), Some(T0 + MIN));
}

#[test]
fn out_of_order_within_grace_is_merged_and_open_close_follow_event_time() {
    let mut a = agg(10_000);
    push_ok(&mut a, &t("BTC/USD", 2, 101.0, 1.0, "buy", T0 + 30_000));
    push_ok(&mut a, &t("BTC/USD", 3, 103.0, 1.0, "buy", T0 + MIN + 5_000)); // next window; wm = T0+55s
    // Belongs to the first window; wm T0+55s < end T0+60s: still open.
    push_ok(&mut a, &t("BTC/USD", 1, 99.0, 1.0, "sell", T0 + 1_000));
    // Same time as id 2 but larger id: it is the close by the (time, id) order.
    push_ok(&mut a, &t("BTC/USD", 4, 98.0, 1.0, "sell", T0 + 30_000));
    let out = advance(&mut a, None, T0 + MIN);
    assert_eq!(out.len(), 1);
    let c = out[0];
    assert_eq!((c.open, c.high, c.low, c.close, c.trade_count), (99.0, 101.0, 98.0, 98.0, 3));
}

/// Pushes a trade with a string id that is not a number (as files without ids get).
fn push_str(a: &mut Aggregator, id: &str, price: f64, ts: i64) -> Vec<Candle> {
    let mut out = Vec::new();
    let t = TradeIn {
        exchange: None,
        pair: "BTC/USD",
        trade_id: TradeIdIn::Str(id),
        price,
        qty: 1.0,
        side: SideIn::Name("unknown"),
        ts_ms: ts as f64,
    };
    assert_eq!(a.push(&t, &mut out), Ok(Outcome::Accepted), "{id}");
    out
}

#[test]
fn same_time_trades_with_hashed_ids_keep_arrival_order() {
    // The ids' hashes order differently from the names: whatever they hash to,
    // the first trade of the ms opens and the last one closes.
    for names in [["f.csv:0", "f.csv:1", "f.csv:2"], ["f.csv:2", "f.csv:1", "f.csv:0"], ["zz", "a", "m"]] {
        let mut a = agg(5_000);
        push_str(&mut a, names[0], 2.72, T0 + 4_000);
        push_str(&mut a, names[1], 2.90, T0 + 4_000);
        push_str(&mut a, names[2], 3.00, T0 + 4_000);
        let out = advance(&mut a, None, T0 + MIN);
        assert_eq!((out[0].open, out[0].close, out[0].trade_count), (2.72, 3.00, 3), "{names:?}");
    }
    // Earlier event time still wins over arrival; a duplicate does not move the order.
    let mut a = agg(5_000);
    push_str(&mut a, "x:1", 5.0, T0 + 2_000);
    push_str(&mut a, "x:0", 4.0, T0 + 1_000);
    push_str(&mut a, "x:2", 6.0, T0 + 2_000);
    let mut out = Vec::new();
    let dup = TradeIn { exchange: None, pair: "BTC/USD", trade_id: TradeIdIn::Str("x:1"), price: 5.0, qty: 1.0, side: SideIn::Name("unknown"), ts_ms: (T0 + 2_000) as f64 };
    assert_eq!(a.push(&dup, &mut out), Ok(Outcome::Duplicate));
    let out = advance(&mut a, None, T0 + MIN);
    assert_eq!((out[0].open, out[0].close), (4.0, 6.0));
}

#[test]
fn hashed_id_order_survives_snapshot_restore() {
    let mut a = agg(5_000);
    push_str(&mut a, "f:0", 2.72, T0 + 4_000);
    push_str(&mut a, "f:1", 2.80, T0 + 4_000);
    let mut b = Aggregator::restore(&a.snapshot()).unwrap();
    push_str(&mut b, "f:2", 3.00, T0 + 4_000);
    let out = advance(&mut b, None, T0 + MIN);
    assert_eq!((out[0].open, out[0].close, out[0].trade_count), (2.72, 3.00, 3));
}

#[test]
fn late_trades_are_reported_counted_and_not_merged() {
    let mut a = agg(1_000);
    push_ok(&mut a, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0 + 500));
    let closed = push_ok(&mut a, &t("BTC/USD", 2, 101.0, 1.0, "buy", T0 + MIN + 1_000));
    assert_eq!(closed.len(), 1);
    let mut out = Vec::new();
    let r = push(&mut a, &t("BTC/USD", 3, 50.0, 7.0, "buy", T0 + 59_000), &mut out).unwrap();
    assert_eq!(r, Outcome::Late(Late { window_start_ms: T0, watermark_ms: T0 + MIN, duplicate: false }));
    // A replay of trade 1 (closed window) is a late duplicate, never counted twice.
    let r = push(&mut a, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0 + 500), &mut out).unwrap();
    assert!(matches!(r, Outcome::Late(Late { duplicate: true, .. })));
    assert!(out.is_empty());
    assert_eq!((a.stats().late, a.stats().late_duplicates), (1, 1));
    // The next window did not receive the late trades either.
    let out = advance(&mut a, None, T0 + 2 * MIN);
    assert_eq!((out[0].volume, out[0].trade_count), (1.0, 1));
}

#[test]
fn duplicates_in_open_windows_are_ignored_and_counted() {
    let mut a = agg(5_000);
    push_ok(&mut a, &t("BTC/USD", 7, 100.0, 1.0, "buy", T0 + 1));
    let mut out = Vec::new();
    assert_eq!(push(&mut a, &t("BTC/USD", 7, 100.0, 1.0, "buy", T0 + 1), &mut out), Ok(Outcome::Duplicate));
    // Same id with another time is still the same trade.
    assert_eq!(push(&mut a, &t("BTC/USD", 7, 120.0, 3.0, "buy", T0 + MIN + 1), &mut out), Ok(Outcome::Duplicate));
    // Numeric and string forms of an id agree.
    let r = a.push(
        &TradeIn {
            exchange: None,
            pair: "BTC/USD",
            trade_id: TradeIdIn::F64(7.0),
            price: 1.0,
            qty: 1.0,
            side: SideIn::Code(1),
            ts_ms: (T0 + 2) as f64,
        },
        &mut out,
    );
    assert_eq!(r, Ok(Outcome::Duplicate));
    // The same id in another pair is another trade.
    push_ok(&mut a, &t("ETH/USD", 7, 10.0, 1.0, "buy", T0 + 1));
    assert_eq!(a.stats().duplicates, 3);
    let out = advance(&mut a, None, T0 + MIN);
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].trade_count, out[0].volume), (1, 1.0));
}

#[test]
fn duplicate_of_a_closed_window_id_arriving_on_time_is_ignored() {
    let mut a = agg(0);
    push_ok(&mut a, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0));
    push_ok(&mut a, &t("BTC/USD", 2, 100.0, 1.0, "buy", T0 + MIN));
    let mut out = Vec::new();
    // id 1 again, with a time in the open window: duplicate by id.
    assert_eq!(push(&mut a, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0 + MIN + 1), &mut out), Ok(Outcome::Duplicate));
}

#[test]
fn remembered_ids_are_bounded() {
    let mut c = config(0);
    c.recent_ids_per_pair = 2;
    let mut a = Aggregator::new(c).unwrap();
    for i in 0..4 {
        push_ok(&mut a, &t("BTC/USD", i, 100.0, 1.0, "buy", T0 + i as i64 * MIN));
    }
    // Windows 0..=2 closed; ids 1 and 2 remembered, id 0 forgotten.
    let mut out = Vec::new();
    assert!(matches!(push(&mut a, &t("BTC/USD", 0, 1.0, 1.0, "buy", T0), &mut out), Ok(Outcome::Late(Late { duplicate: false, .. }))));
    assert!(matches!(push(&mut a, &t("BTC/USD", 1, 1.0, 1.0, "buy", T0 + MIN), &mut out), Ok(Outcome::Late(Late { duplicate: true, .. }))));
}

#[test]
fn quiet_minutes_yield_filled_candles_and_no_candle_before_the_first_trade() {
    let mut a = agg(0);
    // Watermark far ahead of any trade of the pair: nothing to emit, nothing invented.
    assert!(advance(&mut a, None, T0).is_empty());
    assert!(advance(&mut a, Some("BTC/USD"), T0).is_empty());
    push_ok(&mut a, &t("BTC/USD", 1, 100.0, 2.0, "buy", T0 + 5));
    push_ok(&mut a, &t("BTC/USD", 2, 104.0, 2.0, "buy", T0 + 10));
    let out = push_ok(&mut a, &t("BTC/USD", 3, 90.0, 1.0, "sell", T0 + 3 * MIN + 1));
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].window_start_ms, T0);
    assert!(!out[0].filled);
    for (k, c) in out.iter().enumerate().skip(1) {
        assert_eq!(c.window_start_ms, T0 + k as i64 * MIN);
        assert!(c.filled);
        assert_eq!((c.open, c.high, c.low, c.close, c.vwap), (104.0, 104.0, 104.0, 104.0, 104.0));
        assert_eq!((c.volume, c.buy_volume, c.sell_volume, c.trade_count), (0.0, 0.0, 0.0, 0));
    }
    // An explicit watermark closes quiet minutes too (the market went silent).
    let out = advance(&mut a, Some("BTC/USD"), T0 + 6 * MIN);
    assert_eq!(out.iter().map(|c| (c.window_start_ms, c.filled)).collect::<Vec<_>>(), vec![
        (T0 + 3 * MIN, false),
        (T0 + 4 * MIN, true),
        (T0 + 5 * MIN, true)
    ]);
    assert_eq!(out[2].close, 90.0);
    // The watermark never goes back.
    assert!(advance(&mut a, None, T0).is_empty());
    assert_eq!(a.watermark_ms("BTC/USD"), Some(T0 + 6 * MIN));
}

#[test]
fn advancing_an_unknown_pair_registers_it_so_older_trades_are_late() {
    let mut a = agg(0);
    assert!(advance(&mut a, Some("ETH/USD"), T0 + MIN).is_empty());
    let mut out = Vec::new();
    assert!(matches!(push(&mut a, &t("ETH/USD", 1, 1.0, 1.0, "buy", T0 + 59_999), &mut out), Ok(Outcome::Late(_))));
    push_ok(&mut a, &t("ETH/USD", 2, 1.0, 1.0, "buy", T0 + MIN));
    let mut e = Vec::new();
    assert!(a.advance_watermark(Some("eth-usd"), 1.0, &mut e).is_err());
    assert!(a.advance_watermark(None, f64::NAN, &mut e).is_err());
    assert!(a.advance_watermark(None, -1.0, &mut e).is_err());
}

#[test]
fn a_pair_silent_beyond_max_fill_windows_goes_dormant_then_restarts() {
    let mut c = config(0);
    c.max_fill_windows = 3;
    let mut a = Aggregator::new(c).unwrap();
    push_ok(&mut a, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0));
    let out = push_ok(&mut a, &t("BTC/USD", 2, 200.0, 1.0, "buy", T0 + 10 * MIN + 7));
    // One real candle, three filled, then the hole (dormant): 1 + 3.
    assert_eq!(out.len(), 4);
    assert_eq!(out.iter().filter(|c| c.filled).count(), 3);
    assert_eq!(a.stats().dormant, 1);
    let out = advance(&mut a, None, T0 + 12 * MIN);
    assert_eq!(out.iter().map(|c| (c.window_start_ms, c.filled)).collect::<Vec<_>>(), vec![
        (T0 + 10 * MIN, false),
        (T0 + 11 * MIN, true)
    ]);
    // Same output when the silence is crossed by many small watermark steps.
    let mut c = config(0);
    c.max_fill_windows = 3;
    let mut b = Aggregator::new(c).unwrap();
    let mut all = push_ok(&mut b, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0));
    for k in 1..=10 {
        all.extend(advance(&mut b, None, T0 + k * MIN));
    }
    all.extend(push_ok(&mut b, &t("BTC/USD", 2, 200.0, 1.0, "buy", T0 + 10 * MIN + 7)));
    all.extend(advance(&mut b, None, T0 + 12 * MIN));
    let mut a2 = Aggregator::new({
        let mut c = config(0);
        c.max_fill_windows = 3;
        c
    })
    .unwrap();
    let mut direct = push_ok(&mut a2, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0));
    direct.extend(push_ok(&mut a2, &t("BTC/USD", 2, 200.0, 1.0, "buy", T0 + 10 * MIN + 7)));
    direct.extend(advance(&mut a2, None, T0 + 12 * MIN));
    assert_eq!(all, direct);
}

#[test]
fn pairs_are_independent() {
    let mut a = agg(0);
    push_ok(&mut a, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0));
    push_ok(&mut a, &t("ETH/USD", 1, 10.0, 1.0, "buy", T0 + 3 * MIN));
    // ETH's time does not close BTC's window: each pair has its watermark.
    assert_eq!(a.watermark_ms("BTC/USD"), Some(T0));
    let out = push_ok(&mut a, &t("BTC/USD", 2, 101.0, 1.0, "buy", T0 + MIN));
    assert_eq!(out.len(), 1);
    assert_eq!(a.pair_name(out[0].pair), Some("BTC/USD"));
    // The global watermark closes every pair; ETH has no candle before its first trade.
    let out = advance(&mut a, None, T0 + 4 * MIN);
    let names: Vec<_> = out.iter().map(|c| (a.pair_name(c.pair).unwrap(), c.window_start_ms, c.filled)).collect();
    assert_eq!(names, vec![
        ("BTC/USD", T0 + MIN, false),
        ("BTC/USD", T0 + 2 * MIN, true),
        ("BTC/USD", T0 + 3 * MIN, true),
        ("ETH/USD", T0 + 3 * MIN, false)
    ]);
}

#[test]
fn bad_trades_are_rejected_with_a_reason_and_change_nothing() {
    let mut a = agg(0);
    let mut out = Vec::new();
    let base = TradeIn {
        exchange: Some("kraken"),
        pair: "BTC/USD",
        trade_id: TradeIdIn::Str("1"),
        price: 100.0,
        qty: 1.0,
        side: SideIn::Name("buy"),
        ts_ms: T0 as f64,
    };
    let cases: Vec<(TradeIn, RejectReason)> = vec![
        (TradeIn { price: f64::NAN, ..base }, RejectReason::BadPrice),
        (TradeIn { price: 0.0, ..base }, RejectReason::BadPrice),
        (TradeIn { price: -1.0, ..base }, RejectReason::BadPrice),
        (TradeIn { price: f64::INFINITY, ..base }, RejectReason::BadPrice),
        (TradeIn { qty: 0.0, ..base }, RejectReason::BadQty),
        (TradeIn { qty: f64::NAN, ..base }, RejectReason::BadQty),
        (TradeIn { ts_ms: -1.0, ..base }, RejectReason::BadTime),
        (TradeIn { ts_ms: f64::NAN, ..base }, RejectReason::BadTime),
        (TradeIn { ts_ms: 0.5, ..base }, RejectReason::BadTime),
        (TradeIn { side: SideIn::Name("b"), ..base }, RejectReason::BadSide),
        (TradeIn { side: SideIn::Code(3), ..base }, RejectReason::BadSide),
        (TradeIn { trade_id: TradeIdIn::Str(""), ..base }, RejectReason::BadTradeId),
        (TradeIn { pair: "BTCUSD", ..base }, RejectReason::BadPair),
        (TradeIn { exchange: Some("binance"), ..base }, RejectReason::ExchangeMismatch),
    ];
    for (trade, reason) in &cases {
        assert_eq!(a.push(trade, &mut out), Err(*reason), "{trade:?}");
    }
    assert_eq!(a.stats().rejected_total(), cases.len() as u64);
    assert_eq!(a.stats().rejected[RejectReason::BadPrice.index()], 4);
    assert!(out.is_empty());
    assert_eq!(a.pair_names().count(), 0, "a rejected trade registers no pair");
    assert_eq!(a.push(&base, &mut out), Ok(Outcome::Accepted));
}

#[test]
fn max_pairs_is_enforced() {
    let mut c = config(0);
    c.max_pairs = 1;
    let mut a = Aggregator::new(c).unwrap();
    push_ok(&mut a, &t("BTC/USD", 1, 1.0, 1.0, "buy", T0));
    let mut out = Vec::new();
    assert_eq!(push(&mut a, &t("ETH/USD", 1, 1.0, 1.0, "buy", T0), &mut out), Err(RejectReason::TooManyPairs));
}

#[test]
fn invalid_config_is_an_error() {
    for f in [
        |c: &mut AggregatorConfig| c.interval_s = 0,
        |c: &mut AggregatorConfig| c.interval_s = 86_401,
        |c: &mut AggregatorConfig| c.grace_ms = 86_400_001,
        |c: &mut AggregatorConfig| c.exchange = String::new(),
        |c: &mut AggregatorConfig| c.max_pairs = 0,
    ] {
        let mut c = config(0);
        f(&mut c);
        assert!(Aggregator::new(c).is_err());
    }
}

// ---------- batch == streaming == restart, bit for bit ----------

/// splitmix64: a seeded generator so the test is reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Tape {
    pairs: Vec<String>,
    pair_idx: Vec<u32>,
    ids: Vec<f64>,
    prices: Vec<f64>,
    qtys: Vec<f64>,
    sides: Vec<u8>,
    ts: Vec<f64>,
}

impl Tape {
    fn len(&self) -> usize {
        self.ts.len()
    }
    fn cols(&self, r: std::ops::Range<usize>) -> TradeColumns<'_> {
        TradeColumns {
            exchange: None,
            pairs: &self.pairs,
            pair_idx: &self.pair_idx[r.clone()],
            trade_ids: TradeIdColumn::F64(&self.ids[r.clone()]),
            prices: &self.prices[r.clone()],
            qtys: &self.qtys[r.clone()],
            sides: &self.sides[r.clone()],
            ts_ms: &self.ts[r],
        }
    }
}

/// Two pairs, random walk, jittered arrival (some beyond grace), duplicates,
/// a few bad rows and quiet gaps.
fn tape(seed: u64, n: usize) -> Tape {
    let mut rng = Rng(seed);
    let pairs = vec!["BTC/USD".to_owned(), "ETH/USD".to_owned()];
    let mut tp = Tape { pairs, pair_idx: vec![], ids: vec![], prices: vec![], qtys: vec![], sides: vec![], ts: vec![] };
    let mut now = T0 as f64;
    let mut price = [60_000.0, 2_600.0];
    let mut next_id = [1_000u64, 5_000u64];
    for _ in 0..n {
        now += (rng.below(4_000) + if rng.below(200) == 0 { 240_000 } else { 0 }) as f64;
        let p = rng.below(2) as usize;
        price[p] *= 1.0 + (rng.unit() - 0.5) * 0.002;
        let r = rng.below(100);
        let (id, ts) = if r < 3 && next_id[p] > 1_010 {
            // duplicate of a recent trade (its original time is unknown here: reuse now)
            (next_id[p] - 1 - rng.below(10), now)
        } else {
            next_id[p] += 1;
            let jitter = rng.below(if r < 10 { 20_000 } else { 3_000 }) as f64;
            (next_id[p], (now - jitter).max(0.0))
        };
        let bad = rng.below(500) == 0;
        tp.pair_idx.push(p as u32);
        tp.ids.push(id as f64);
        tp.prices.push(if bad { f64::NAN } else { (price[p] * 100.0).round() / 100.0 });
        tp.qtys.push((rng.unit() * 2.0 * 1e8).round() / 1e8 + 1e-8);
        tp.sides.push(rng.below(3) as u8);
        tp.ts.push(ts);
    }
    tp
}

#[derive(Debug, Default, PartialEq)]
struct Log {
    candles: Vec<[u64; 13]>,
    outcomes: Vec<String>,
}

fn log_batch(log: &mut Log, offset: usize, out: &BatchOutcome) {
    log.candles.extend(out.candles.iter().map(bits));
    log.outcomes.extend(out.duplicate_rows.iter().map(|r| format!("{} dup", *r as usize + offset)));
    log.outcomes.extend(out.late.iter().map(|l| format!("{} late {:?}", l.row as usize + offset, l.late)));
    log.outcomes.extend(out.rejected.iter().map(|(r, why)| format!("{} rej {why:?}", *r as usize + offset)));
}

fn run_batches(a: &mut Aggregator, tp: &Tape, cuts: &[usize], log: &mut Log) {
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&tp.len())) {
        let mut out = BatchOutcome::default();
        a.push_columns(&tp.cols(from..to), &mut out).unwrap();
        log_batch(log, from, &out);
        from = to;
    }
}

fn run_single(a: &mut Aggregator, tp: &Tape, r: std::ops::Range<usize>, log: &mut Log) {
    let mut per_row = Vec::new();
    for i in r {
        let mut out = Vec::new();
        let id = (tp.ids[i] as u64).to_string();
        let res = a.push(
            &TradeIn {
                exchange: None,
                pair: &tp.pairs[tp.pair_idx[i] as usize],
                trade_id: TradeIdIn::Str(&id),
                price: tp.prices[i],
                qty: tp.qtys[i],
                side: SideIn::Name(["unknown", "buy", "sell"][tp.sides[i] as usize]),
                ts_ms: tp.ts[i],
            },
            &mut out,
        );
        log.candles.extend(out.iter().map(bits));
        match res {
            Ok(Outcome::Accepted) => {}
            Ok(Outcome::Duplicate) => per_row.push((0, format!("{i} dup"))),
            Ok(Outcome::Late(l)) => per_row.push((1, format!("{i} late {l:?}"))),
            Err(why) => per_row.push((2, format!("{i} rej {why:?}"))),
        }
    }
    // Batches report by kind, then row: order the single-trade log the same way.
    per_row.sort_by_key(|(k, _)| *k);
    log.outcomes.extend(per_row.into_iter().map(|(_, s)| s));
}

fn sorted(mut log: Log) -> Log {
    log.outcomes.sort();
    log
}

#[test]
fn batch_equals_streaming_bit_for_bit_for_random_splits() {
    let tp = tape(42, 20_000);
    // Reference: trade by trade.
    let mut a = agg(5_000);
    let mut single = Log::default();
    run_single(&mut a, &tp, 0..tp.len(), &mut single);
    let wm_last = tp.ts.iter().cloned().fold(0.0, f64::max) + 600_000.0;
    let mut tail = Vec::new();
    a.advance_watermark(None, wm_last, &mut tail).unwrap();
    single.candles.extend(tail.iter().map(bits));
    assert!(single.candles.len() > 300, "the tape spans many windows");
    assert!(a.stats().duplicates > 0 && a.stats().late > 0 && a.stats().rejected_total() > 0);
    assert!(a.stats().filled_candles > 0);
    let single = sorted(single);

    let mut rng = Rng(7);
    for round in 0..20 {
        let mut cuts: Vec<usize> = (0..rng.below(30)).map(|_| rng.below(tp.len() as u64) as usize).collect();
        if round == 0 {
            cuts.clear(); // one batch of everything
        }
        cuts.sort_unstable();
        let mut b = agg(5_000);
        let mut log = Log::default();
        run_batches(&mut b, &tp, &cuts, &mut log);
        let mut tail = Vec::new();
        b.advance_watermark(None, wm_last, &mut tail).unwrap();
        log.candles.extend(tail.iter().map(bits));
        let log = sorted(log);
        assert_eq!(log.candles, single.candles, "round {round}, cuts {cuts:?}");
        assert_eq!(log.outcomes, single.outcomes, "round {round}");
        assert_eq!(b.stats(), a.stats());
    }
}

#[test]
fn snapshot_restore_resumes_bit_for_bit_and_ignores_a_replayed_overlap() {
    let tp = tape(9, 12_000);
    let wm_last = tp.ts.iter().cloned().fold(0.0, f64::max) + 600_000.0;
    let finish = |a: &mut Aggregator, log: &mut Log| {
        let mut tail = Vec::new();
        a.advance_watermark(None, wm_last, &mut tail).unwrap();
        log.candles.extend(tail.iter().map(bits));
    };
    let mut a = agg(5_000);
    let mut whole = Log::default();
    run_batches(&mut a, &tp, &[], &mut whole);
    finish(&mut a, &mut whole);

    let mut rng = Rng(11);
    for _ in 0..10 {
        let cut = rng.below(tp.len() as u64) as usize;
        let mut log = Log::default();
        let mut b2 = agg(5_000);
        let mut first = BatchOutcome::default();
        b2.push_columns(&tp.cols(0..cut), &mut first).unwrap();
        log.candles.extend(first.candles.iter().map(bits));
        let json = b2.snapshot();
        let mut c = Aggregator::restore(&json).unwrap();
        assert_eq!(c.snapshot(), json, "snapshot of a restored aggregator is identical");
        // Plain resume.
        let mut rest = BatchOutcome::default();
        c.push_columns(&tp.cols(cut..tp.len()), &mut rest).unwrap();
        log.candles.extend(rest.candles.iter().map(bits));
        finish(&mut c, &mut log);
        assert_eq!(log.candles, whole.candles, "cut {cut}");

        // Restart that replays an overlap (at-least-once delivery): the
        // replayed trades are duplicates or late, never counted twice.
        let overlap_from = cut.saturating_sub(rng.below(500) as usize);
        let mut d = Aggregator::restore(&json).unwrap();
        let mut replay_log = Log { candles: first.candles.iter().map(bits).collect(), outcomes: vec![] };
        let mut replay = BatchOutcome::default();
        d.push_columns(&tp.cols(overlap_from..tp.len()), &mut replay).unwrap();
        replay_log.candles.extend(replay.candles.iter().map(bits));
        finish(&mut d, &mut replay_log);
        assert_eq!(replay_log.candles, whole.candles, "cut {cut}, replay from {overlap_from}");
    }
}

#[test]
fn restore_rejects_garbage() {
    assert!(Aggregator::restore("").is_err());
    assert!(Aggregator::restore("{}").is_err());
    let json = agg(0).snapshot().replace("tickcast-aggregator/1", "other/9");
    assert!(Aggregator::restore(&json).is_err());
    let json = agg(0).snapshot().replace("\"interval_s\":60", "\"interval_s\":0");
    assert!(Aggregator::restore(&json).is_err());
}

#[test]
fn batch_shape_errors_process_nothing() {
    let tp = tape(1, 10);
    let mut a = agg(0);
    let mut cols = tp.cols(0..10);
    cols.prices = &tp.prices[0..9];
    let mut out = BatchOutcome::default();
    assert_eq!(a.push_columns(&cols, &mut out), Err(BatchError::LengthMismatch));
    let mut cols = tp.cols(0..10);
    cols.exchange = Some("binance");
    assert_eq!(a.push_columns(&cols, &mut out), Err(BatchError::ExchangeMismatch));
    assert_eq!(a.stats().accepted, 0);
    // A row naming a pair outside the table is rejected, the others go on.
    let idx = [0u32, 5, 1];
    let ids = [1.0, 2.0, 3.0];
    let f = [1.0, 1.0, 1.0];
    let cols = TradeColumns {
        exchange: Some("kraken"),
        pairs: &tp.pairs,
        pair_idx: &idx,
        trade_ids: TradeIdColumn::F64(&ids),
        prices: &f,
        qtys: &f,
        sides: &[0, 1, 2],
        ts_ms: &[T0 as f64; 3],
    };
    a.push_columns(&cols, &mut out).unwrap();
    assert_eq!(out.accepted, 2);
    assert_eq!(out.rejected, vec![(1, RejectReason::BadPair)]);
}

#[test]
fn pair_snapshots_move_pairs_between_aggregators_bit_for_bit() {
    let tp = tape(9, 12_000);
    let wm_last = tp.ts.iter().cloned().fold(0.0, f64::max) + 600_000.0;
    let finish = |a: &mut Aggregator, log: &mut Log| {
        let mut tail = Vec::new();
        a.advance_watermark(None, wm_last, &mut tail).unwrap();
        log.candles.extend(tail.iter().map(bits));
    };
    let mut a = agg(5_000);
    let mut whole = Log::default();
    run_batches(&mut a, &tp, &[], &mut whole);
    finish(&mut a, &mut whole);

    let mut rng = Rng(29);
    for _ in 0..6 {
        let cut = rng.below(tp.len() as u64) as usize;
        let mut b = agg(5_000);
        let mut log = Log::default();
        let mut first = BatchOutcome::default();
        b.push_columns(&tp.cols(0..cut), &mut first).unwrap();
        log.candles.extend(first.candles.iter().map(bits));
        // Every pair moves on its own record, into an aggregator that already
        // holds a stale copy of one of them (replaced, not merged).
        let names: Vec<String> = b.pair_names().map(str::to_owned).collect();
        let mut c = agg(5_000);
        if cut > 10 {
            let mut stale = BatchOutcome::default();
            c.push_columns(&tp.cols(0..cut / 2), &mut stale).unwrap();
            c = Aggregator::restore(&c.snapshot()).unwrap();
        }
        for n in &names {
            let json = b.snapshot_pair(n).unwrap();
            assert_eq!(c.restore_pair(&json).unwrap(), *n);
            assert_eq!(c.snapshot_pair(n).unwrap(), json, "a restored pair snapshots identically");
            // The same state in two parts (live state, remembered ids) comes back whole.
            let (live, recent) = b.snapshot_pair_parts(n).unwrap();
            assert!(!live.contains("recent_ids\":[[") && live.len() < json.len() || recent == "[]");
            let mut d = agg(5_000);
            d.restore_pair_parts(&live, Some(&recent)).unwrap();
            assert_eq!(d.snapshot_pair(n).unwrap(), json, "parts restore the whole pair");
            assert!(d.restore_pair_parts(&json, None).is_err() || recent == "[]", "a whole snapshot is not a live part");
        }
        let mut rest = BatchOutcome::default();
        c.push_columns(&tp.cols(cut..tp.len()), &mut rest).unwrap();
        log.candles.extend(rest.candles.iter().map(bits));
        finish(&mut c, &mut log);
        assert_eq!(log.candles, whole.candles, "cut {cut}");
    }
}

#[test]
fn restore_pair_rejects_other_settings_and_garbage_changing_nothing() {
    let mut a = agg(5_000);
    push_ok(&mut a, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0 + 1_000));
    let json = a.snapshot_pair("BTC/USD").unwrap();
    assert!(a.snapshot_pair("ETH/USD").is_none());
    let mut other_grace = agg(0);
    assert!(other_grace.restore_pair(&json).is_err());
    assert_eq!(other_grace.pair_names().count(), 0);
    let mut b = agg(5_000);
    assert!(b.restore_pair("{}").is_err());
    assert!(b.restore_pair(&json.replace("tickcast-aggregator-pair/1", "x/1")).is_err());
    assert!(b.restore_pair(&json.replace("\"trade_count\":1", "\"trade_count\":0")).is_err());
    assert_eq!(b.pair_names().count(), 0);
    assert_eq!(b.restore_pair(&json).unwrap(), "BTC/USD");
    // The restored pair remembers its trade id: a redelivery is a duplicate.
    let mut out = Vec::new();
    assert_eq!(push(&mut b, &t("BTC/USD", 1, 100.0, 1.0, "buy", T0 + 1_000), &mut out), Ok(Outcome::Duplicate));
}

/// Joined string ids (one text, end offsets) give what the same ids as separate strings give,
/// on the random tape with its ids turned into non-decimal strings (hashed keys), one or
/// several batches; a range out of bounds, decreasing or inside a character is a bad trade id.
#[test]
fn joined_string_ids_equal_separate_strings() {
    let tp = tape(7, 3000);
    let strs: Vec<String> = tp.ids.iter().map(|&x| format!("file.csv:{}", x as u64)).collect();
    let text: String = strs.concat();
    let ends: Vec<u32> = strs.iter().scan(0u32, |e, s| {
        *e += s.len() as u32;
        Some(*e)
    }).collect();
    for cuts in [vec![], vec![1, 700, 701, 2999]] {
        let mut logs = Vec::new();
        for joined in [false, true] {
            let mut a = agg(5000);
            let mut log = Log { candles: Vec::new(), outcomes: Vec::new() };
            let mut from = 0;
            for &to in cuts.iter().chain(std::iter::once(&tp.len())) {
                let mut cols = tp.cols(from..to);
                // A slice of the ends keeps absolute offsets: the text is cut to start at row `from`.
                let base = if from == 0 { 0 } else { ends[from - 1] as usize };
                let rel: Vec<u32> = ends[from..to].iter().map(|e| e - base as u32).collect();
                cols.trade_ids = if joined { TradeIdColumn::Joined { text: &text[base..], ends: &rel } } else { TradeIdColumn::Str(&strs[from..to]) };
                let mut out = BatchOutcome::default();
                a.push_columns(&cols, &mut out).unwrap();
                log_batch(&mut log, from, &out);
                from = to;
            }
            logs.push(log);
        }
        assert_eq!(logs[0].candles, logs[1].candles);
        assert_eq!(logs[0].outcomes, logs[1].outcomes);
        assert!(!logs[0].candles.is_empty());
    }

    // Bad ranges: past the end, decreasing, inside "é" (2 bytes); good rows around them.
    let text = "aéb";
    let mut a = agg(5000);
    let mut out = BatchOutcome::default();
    let f = [1.0; 5];
    let pairs = vec!["BTC/USD".to_owned()];
    let cols = TradeColumns {
        exchange: None,
        pairs: &pairs,
        pair_idx: &[0; 5],
        trade_ids: TradeIdColumn::Joined { text, ends: &[1, 2, 4, 3, 9] },
        prices: &f,
        qtys: &f,
        sides: &[1; 5],
        ts_ms: &[T0 as f64; 5],
    };
    a.push_columns(&cols, &mut out).unwrap();
    assert_eq!(out.accepted, 1, "only \"a\" is a whole id");
    assert_eq!(out.rejected, vec![(1, RejectReason::BadTradeId), (2, RejectReason::BadTradeId), (3, RejectReason::BadTradeId), (4, RejectReason::BadTradeId)]);
}
