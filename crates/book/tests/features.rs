//! Book features per minute against a naive recomputation (a BTreeMap book,
//! every state kept, each minute integrated by brute force), and streaming
//! (one message at a time, random watermarks in between) equal to batch bit
//! for bit, on random tapes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::collections::BTreeMap;
use tickcast_book::batch::{self, Tape, KIND_INVALIDATE, KIND_SNAPSHOT, KIND_UPDATE};
use tickcast_book::features::BookFeatures;
use tickcast_book::{BookTracker, MinuteRow, Scale, FEATURE_NAMES, N_FEATURES};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct OwnedTape {
    t_ms: Vec<f64>,
    kind: Vec<u8>,
    level_end: Vec<u32>,
    side: Vec<u8>,
    price: Vec<f64>,
    qty: Vec<f64>,
}

impl OwnedTape {
    fn tape(&self) -> Tape<'_> {
        Tape { t_ms: &self.t_ms, kind: &self.kind, level_end: &self.level_end, side: &self.side, price: &self.price, qty: &self.qty }
    }
}

/// A random tape: snapshots, small updates (a quarter deletions), occasional
/// invalidations followed by a snapshot, times over about `minutes` minutes
/// with bursts and silences (some longer than a minute).
fn random_tape(seed: u64, n: usize) -> OwnedTape {
    let mut rng = Rng(seed);
    let mut tp = OwnedTape::default();
    let mut t = 1_700_000_000_000f64 + rng.below(60_000) as f64;
    let mut need_snapshot = true;
    let mut mid = 100_000i64;
    for _ in 0..n {
        t += match rng.below(10) {
            0 => 0.0,
            1 => rng.below(150_000) as f64,
            _ => rng.below(3000) as f64,
        };
        let kind = if need_snapshot {
            KIND_SNAPSHOT
        } else if rng.below(60) == 0 {
            KIND_INVALIDATE
        } else {
            KIND_UPDATE
        };
        need_snapshot = kind == KIND_INVALIDATE;
        mid += rng.below(5) as i64 - 2;
        let levels = match kind {
            KIND_SNAPSHOT => 5 + rng.below(40),
            KIND_UPDATE => 1 + rng.below(5),
            _ => 0,
        };
        for _ in 0..levels {
            let bid = rng.below(2) == 0;
            let off = 1 + rng.below(30) as i64;
            let k = if bid { mid - off } else { mid + off };
            let q = if kind == KIND_UPDATE && rng.below(4) == 0 { 0.0 } else { (1 + rng.below(9999)) as f64 / 1000.0 };
            tp.side.push(u8::from(!bid));
            tp.price.push(k as f64 / 100.0);
            tp.qty.push(q);
        }
        tp.t_ms.push(t);
        tp.kind.push(kind);
        tp.level_end.push(tp.side.len() as u32);
    }
    tp
}

/// Bids best first, asks best first.
type Levels2 = (Vec<(f64, f64)>, Vec<(f64, f64)>);

/// One recorded state for the oracle.
#[derive(Clone)]
struct State {
    t: i64,
    /// None = invalidation.
    book: Option<Levels2>,
    levels: u32,
    deletes: u32,
}

fn oracle_states(tp: &OwnedTape, depth: usize) -> Vec<State> {
    let mut bids: BTreeMap<i64, f64> = BTreeMap::new();
    let mut asks: BTreeMap<i64, f64> = BTreeMap::new();
    let mut states = Vec::new();
    let mut start = 0usize;
    for i in 0..tp.t_ms.len() {
        let end = tp.level_end[i] as usize;
        let t = tp.t_ms[i] as i64;
        if tp.kind[i] == KIND_INVALIDATE {
            bids.clear();
            asks.clear();
            states.push(State { t, book: None, levels: 0, deletes: 0 });
            start = end;
            continue;
        }
        if tp.kind[i] == KIND_SNAPSHOT {
            bids.clear();
            asks.clear();
        }
        let (mut levels, mut deletes) = (0, 0);
        for j in start..end {
            let m = if tp.side[j] == 0 { &mut bids } else { &mut asks };
            let k = (tp.price[j] * 100.0).round() as i64;
            levels += 1;
            if tp.qty[j] == 0.0 {
                deletes += 1;
                m.remove(&k);
            } else {
                m.insert(k, tp.qty[j]);
            }
        }
        while bids.len() > depth {
            let k = *bids.keys().next().unwrap();
            bids.remove(&k);
        }
        while asks.len() > depth {
            let k = *asks.keys().next_back().unwrap();
            asks.remove(&k);
        }
        start = end;
        let b: Vec<(f64, f64)> = bids.iter().rev().map(|(k, q)| (*k as f64 / 100.0, *q)).collect();
        let a: Vec<(f64, f64)> = asks.iter().map(|(k, q)| (*k as f64 / 100.0, *q)).collect();
        states.push(State { t, book: Some((b, a)), levels, deletes });
    }
    states
}

fn best(v: &[(f64, f64)]) -> (f64, f64) {
    v.first().copied().unwrap_or((f64::NAN, 0.0))
}

fn depth_k(v: &[(f64, f64)], k: usize) -> f64 {
    v.iter().take(k).map(|l| l.1).sum()
}

/// Naive per-minute features for every minute from the first state's to the
/// one ending at or before `end`.
fn oracle_rows(states: &[State], end: i64) -> Vec<MinuteRow> {
    let mut rows = Vec::new();
    let first = states[0].t.div_euclid(60_000) * 60_000;
    let mut m = first;
    while m + 60_000 <= end {
        let m1 = m + 60_000;
        // State in force at an instant: the last event at or before it.
        let at = |x: i64| states.iter().rposition(|s| s.t <= x);
        let before = states.iter().rposition(|s| s.t < m);
        let valid_entering = before.is_some_and(|i| states[i].book.is_some());
        let inside: Vec<usize> = (0..states.len()).filter(|&i| states[i].t >= m && states[i].t < m1).collect();
        let any_valid_inside = inside.iter().any(|&i| states[i].book.is_some());
        if valid_entering || any_valid_inside {
            let mut v = [0.0; N_FEATURES];
            // Time integration, millisecond by millisecond boundaries.
            let mut bounds: Vec<i64> = vec![m];
            bounds.extend(inside.iter().map(|&i| states[i].t));
            bounds.push(m1);
            bounds.dedup();
            let (mut ws, mut w, mut covered) = (0.0, 0.0, 0.0);
            for win in bounds.windows(2) {
                if let Some(i) = at(win[0]) {
                    if let Some((b, a)) = &states[i].book {
                        let dt = (win[1] - win[0]) as f64;
                        covered += dt;
                        let s = best(a).0 - best(b).0;
                        if s.is_finite() {
                            ws += s * dt;
                            w += dt;
                        }
                    }
                }
            }
            v[0] = if w > 0.0 { ws / w } else { f64::NAN };
            v[16] = covered;
            // Close values: last valid state before m1.
            if let Some(i) = states.iter().rposition(|s| s.t < m1 && s.book.is_some()) {
                let (b, a) = states[i].book.as_ref().unwrap();
                let ((pb, qb), (pa, qa)) = (best(b), best(a));
                v[1] = pa - pb;
                v[2] = (pb + pa) / 2.0;
                v[3] = if qb + qa > 0.0 { (pb * qa + pa * qb) / (qb + qa) } else { f64::NAN };
                v[4] = depth_k(b, 1);
                v[5] = depth_k(b, 5);
                v[6] = depth_k(b, 10);
                v[7] = depth_k(a, 1);
                v[8] = depth_k(a, 5);
                v[9] = depth_k(a, 10);
                let wsum = |x: &[(f64, f64)]| x.iter().take(10).enumerate().map(|(i, l)| l.1 / (i as f64 + 1.0)).sum::<f64>();
                let (bw, aw) = (wsum(b), wsum(a));
                v[10] = if bw + aw > 0.0 { (bw - aw) / (bw + aw) } else { f64::NAN };
            } else {
                for x in v.iter_mut().take(11).skip(1) {
                    *x = f64::NAN;
                }
                v[4..10].fill(0.0);
            }
            // OFI and counts over the valid states inside the minute.
            for &i in &inside {
                let Some((b, a)) = &states[i].book else { continue };
                v[12] += 1.0;
                v[13] += states[i].levels as f64;
                v[14] += states[i].deletes as f64;
                if i > 0 {
                    if let Some((pb_, pa_)) = &states[i - 1].book {
                        let ((pb, qb), (pa, qa)) = (best(b), best(a));
                        let ((ppb, pqb), (ppa, pqa)) = (best(pb_), best(pa_));
                        let mut e = 0.0;
                        if pb.is_finite() && ppb.is_finite() {
                            e += if pb >= ppb { qb } else { 0.0 } - if pb <= ppb { pqb } else { 0.0 };
                        }
                        if pa.is_finite() && ppa.is_finite() {
                            e += -(if pa <= ppa { qa } else { 0.0 }) + if pa >= ppa { pqa } else { 0.0 };
                        }
                        v[11] += e;
                        let same = |x: f64, y: f64| x == y || (x.is_nan() && y.is_nan());
                        if !same(pb, ppb) || !same(pa, ppa) {
                            v[15] += 1.0;
                        }
                    }
                }
            }
            rows.push(MinuteRow { minute_start_ms: m, values: v });
        }
        m = m1;
    }
    rows
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn the_feature_names_are_the_families_own() {
    assert_eq!(BookFeatures::new().names(), FEATURE_NAMES.to_vec());
}

#[test]
fn batch_features_match_a_naive_recomputation() {
    for seed in 1..=12u64 {
        let tp = random_tape(seed.wrapping_mul(0x2545_F491_4F6C_DD1D), 1500);
        let end = *tp.t_ms.last().unwrap() as i64 + 90_000;
        let got = batch::features(Scale::new(2, 3).unwrap(), Some(25), &tp.tape(), Some(end)).unwrap();
        let want = oracle_rows(&oracle_states(&tp, 25), end);
        assert_eq!(got.len(), want.len(), "seed {seed}: minutes");
        assert!(got.len() > 20, "seed {seed}: the tape should span many minutes");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.minute_start_ms, w.minute_start_ms, "seed {seed}");
            for (k, name) in FEATURE_NAMES.iter().enumerate() {
                assert!(close(g.values[k], w.values[k]), "seed {seed} minute {} {name}: got {} want {}", g.minute_start_ms, g.values[k], w.values[k]);
            }
        }
    }
}

fn same_bits(a: &[MinuteRow], b: &[MinuteRow]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.minute_start_ms == y.minute_start_ms && x.values.iter().zip(&y.values).all(|(p, q)| p.to_bits() == q.to_bits())
        })
}

#[test]
fn streaming_with_random_watermarks_equals_batch_bit_for_bit() {
    for seed in 1..=20u64 {
        let tp = random_tape(seed ^ 0xDEAD_BEEF, 1000);
        let tape = tp.tape();
        let end = *tp.t_ms.last().unwrap() as i64 + 60_000;
        let scale = Scale::new(2, 3).unwrap();
        let want = batch::features(scale, Some(10), &tape, Some(end)).unwrap();
        let mut rng = Rng(seed + 7);
        let mut tracker = BookTracker::new(scale, Some(10)).unwrap();
        let mut got = Vec::new();
        for i in 0..tp.t_ms.len() {
            if i > 0 && rng.below(3) == 0 {
                // A watermark between the previous message and this one.
                let (a, b) = (tp.t_ms[i - 1] as i64, tp.t_ms[i] as i64);
                tracker.advance(a + rng.below((b - a + 1) as u64) as i64, &mut got);
            }
            batch::step(&mut tracker, &tape, i, &mut got).unwrap();
        }
        tracker.advance(end, &mut got);
        assert!(same_bits(&got, &want), "seed {seed}");
        // Reset then replay equals a fresh instance.
        tracker.reset();
        let mut again = Vec::new();
        for i in 0..tp.t_ms.len() {
            batch::step(&mut tracker, &tape, i, &mut again).unwrap();
        }
        tracker.advance(end, &mut again);
        assert!(same_bits(&again, &want), "seed {seed} after reset");
    }
}

#[test]
fn a_long_silence_emits_no_idle_minutes_and_bad_tapes_are_rejected() {
    let scale = Scale::new(0, 0).unwrap();
    let mut tr = BookTracker::new(scale, None).unwrap();
    let mut out = Vec::new();
    use tickcast_book::BookSide::{Ask, Bid};
    tr.apply(0, true, vec![(Bid, 99.0, 1.0), (Ask, 101.0, 1.0)], &mut out).unwrap();
    tr.advance(5 * 60_000, &mut out);
    assert_eq!(out.len(), 5); // idle minutes with a valid book are emitted
    assert_eq!(out[4].values[16], 60_000.0);
    tr.advance(5 * 60_000 + 2 * 1440 * 60_000, &mut out);
    assert_eq!(out.len(), 6); // the stale stretch is skipped
    let bad = Tape { t_ms: &[0.0, 1.0], kind: &[1], level_end: &[0, 0], side: &[], price: &[], qty: &[] };
    assert_eq!(batch::features(scale, None, &bad, None).unwrap_err().code(), "E_LENGTH_MISMATCH");
    let bad = Tape { t_ms: &[0.0], kind: &[1], level_end: &[2], side: &[0], price: &[1.0], qty: &[1.0] };
    assert_eq!(batch::features(scale, None, &bad, None).unwrap_err().code(), "E_LENGTH_MISMATCH");
    let bad = Tape { t_ms: &[0.0], kind: &[7], level_end: &[0], side: &[], price: &[], qty: &[] };
    assert!(batch::features(scale, None, &bad, None).is_err());
}
