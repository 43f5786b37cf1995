//! Checkpoint of the aggregator state as JSON.

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::aggregator::{Aggregator, PairState};
use crate::candle::PairId;
use crate::config::{AggregatorConfig, ConfigError};
use crate::id_set::IdSet;
use crate::recent_ids::RecentIds;
use crate::trade::valid_pair;
use crate::window::WindowAcc;

/// Format tag of the snapshot JSON.
pub const SNAPSHOT_FORMAT: &str = "tickcast-aggregator/1";

/// Format tag of one pair's snapshot JSON ([`Aggregator::snapshot_pair`]).
pub const PAIR_SNAPSHOT_FORMAT: &str = "tickcast-aggregator-pair/1";

/// One pair's state, with the settings it is only valid under.
#[derive(Serialize, Deserialize)]
struct PairSnapshot {
    format: String,
    interval_s: u32,
    grace_ms: u64,
    pair: PairSnap,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: String,
    config: AggregatorConfig,
    pairs: Vec<PairSnap>,
}

#[derive(Serialize, Deserialize)]
struct PairSnap {
    name: String,
    max_event_ms: Option<i64>,
    watermark_ms: Option<i64>,
    cursor_ms: Option<i64>,
    last_close: Option<f64>,
    filled_run: u32,
    windows: Vec<WindowSnap>,
    /// Remembered keys of closed windows: one ascending list per window, oldest window first.
    recent_ids: Vec<Vec<u64>>,
}

#[derive(Serialize, Deserialize)]
struct WindowSnap {
    start_ms: i64,
    open: f64,
    open_at: (i64, u64),
    high: f64,
    low: f64,
    close: f64,
    close_at: (i64, u64),
    volume: f64,
    buy_volume: f64,
    sell_volume: f64,
    notional: f64,
    trade_count: u64,
    /// Keys of the window's trades, ascending.
    ids: Vec<u64>,
}

/// A snapshot that cannot be restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// Not JSON of the expected shape.
    Parse(String),
    /// Another format tag.
    Format(String),
    /// The configuration inside is invalid.
    Config(ConfigError),
    /// The state inside breaks an invariant.
    Invalid(&'static str),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Parse(e) => write!(f, "snapshot is not valid JSON of the aggregator: {e}"),
            SnapshotError::Format(t) => write!(f, "snapshot format {t:?} is not {SNAPSHOT_FORMAT:?}"),
            SnapshotError::Config(e) => write!(f, "snapshot holds an {e}"),
            SnapshotError::Invalid(what) => write!(f, "snapshot state is invalid: {what}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

impl Aggregator {
    /// The whole state (configuration, pairs, open windows, remembered ids) as
    /// JSON; [`Aggregator::restore`] resumes from it bit for bit. Counters
    /// ([`Aggregator::stats`]) are not included.
    pub fn snapshot(&self) -> String {
        let snap = Snapshot {
            format: SNAPSHOT_FORMAT.to_owned(),
            config: self.config.clone(),
            pairs: self.pairs.iter().map(pair_snap).collect(),
        };
        // Serializing plain structs of numbers and strings cannot fail; keep a
        // readable fallback rather than a panic all the same.
        serde_json::to_string(&snap).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// An aggregator resumed from [`Aggregator::snapshot`] output.
    pub fn restore(json: &str) -> Result<Self, SnapshotError> {
        let snap: Snapshot = serde_json::from_str(json).map_err(|e| SnapshotError::Parse(e.to_string()))?;
        if snap.format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Format(snap.format));
        }
        snap.config.validate().map_err(SnapshotError::Config)?;
        if snap.pairs.len() > snap.config.max_pairs as usize {
            return Err(SnapshotError::Invalid("more pairs than max_pairs"));
        }
        let interval = snap.config.interval_ms();
        let cap = snap.config.recent_ids_per_pair as usize;
        let mut names = std::collections::HashSet::new();
        let mut pairs = Vec::with_capacity(snap.pairs.len());
        for p in snap.pairs {
            if !names.insert(p.name.clone()) {
                return Err(SnapshotError::Invalid("pair names must be valid and distinct"));
            }
            pairs.push(pair_state(p, interval, cap)?);
        }
        Ok(Aggregator::from_parts(snap.config, pairs))
    }
}

/// A pair's snapshot checked against the invariants, as live state.
fn pair_state(p: PairSnap, interval: i64, cap: usize) -> Result<PairState, SnapshotError> {
    if !valid_pair(&p.name) {
        return Err(SnapshotError::Invalid("pair names must be valid and distinct"));
    }
    let mut prev: Option<i64> = p.cursor_ms.map(|c| c - interval);
    let mut windows = VecDeque::with_capacity(p.windows.len());
    for w in p.windows {
        if w.start_ms.rem_euclid(interval) != 0 || prev.is_some_and(|s| w.start_ms <= s) {
            return Err(SnapshotError::Invalid("windows must be aligned, ascending and after the cursor"));
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if w.trade_count == 0 || !positive(w.volume) || !positive(w.low) || !positive(w.high) {
            return Err(SnapshotError::Invalid("an open window must hold a trade"));
        }
        prev = Some(w.start_ms);
        windows.push_back(WindowAcc {
            start_ms: w.start_ms,
            open: w.open,
            open_at: w.open_at,
            high: w.high,
            low: w.low,
            close: w.close,
            close_at: w.close_at,
            volume: w.volume,
            buy_volume: w.buy_volume,
            sell_volume: w.sell_volume,
            notional: w.notional,
            trade_count: w.trade_count,
            ids: IdSet::from_keys(w.ids),
        });
    }
    if p.cursor_ms.is_some() != p.last_close.is_some() {
        return Err(SnapshotError::Invalid("cursor and last close go together"));
    }
    Ok(PairState {
        name: p.name,
        max_event_ms: p.max_event_ms,
        watermark_ms: p.watermark_ms,
        cursor_ms: p.cursor_ms,
        last_close: p.last_close,
        filled_run: p.filled_run,
        windows,
        recent: RecentIds::from_windows(cap, p.recent_ids),
    })
}

impl Aggregator {
    /// One pair's state (open windows, watermark, remembered ids) as JSON, or
    /// `None` for a pair this aggregator has not seen. With
    /// [`Aggregator::restore_pair`] a pair's state moves between aggregators of
    /// the same interval and grace (a changelog record per pair).
    pub fn snapshot_pair(&self, pair: &str) -> Option<String> {
        let id = *self.index.get(pair)?;
        let p = self.pairs.get(id as usize)?;
        let snap = PairSnapshot {
            format: PAIR_SNAPSHOT_FORMAT.to_owned(),
            interval_s: self.config.interval_s,
            grace_ms: self.config.grace_ms,
            pair: pair_snap(p),
        };
        Some(serde_json::to_string(&snap).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
    }

    /// [`Aggregator::snapshot_pair`] in two parts, for a changelog that writes
    /// the part that changes with every trade often and the other rarely:
    /// the pair's state without the remembered ids of closed windows (open
    /// windows, watermark, cursor: small), and those remembered ids alone (a
    /// JSON array of ascending id-key arrays, oldest window first), which
    /// change only when a window with trades closes. `None` for an unseen pair.
    pub fn snapshot_pair_parts(&self, pair: &str) -> Option<(String, String)> {
        let id = *self.index.get(pair)?;
        let p = self.pairs.get(id as usize)?;
        let mut live = pair_snap(p);
        let recent = std::mem::take(&mut live.recent_ids);
        let snap = PairSnapshot {
            format: PAIR_SNAPSHOT_FORMAT.to_owned(),
            interval_s: self.config.interval_s,
            grace_ms: self.config.grace_ms,
            pair: live,
        };
        let live = serde_json::to_string(&snap).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        let recent = serde_json::to_string(&recent).unwrap_or_else(|_| "[]".to_owned());
        Some((live, recent))
    }

    /// Sets one pair's state from the two parts of
    /// [`Aggregator::snapshot_pair_parts`] (`recent_ids`: `None` = none
    /// remembered); see [`Aggregator::restore_pair`].
    pub fn restore_pair_parts(&mut self, live: &str, recent_ids: Option<&str>) -> Result<String, SnapshotError> {
        let mut snap: PairSnapshot = serde_json::from_str(live).map_err(|e| SnapshotError::Parse(e.to_string()))?;
        if !snap.pair.recent_ids.is_empty() {
            return Err(SnapshotError::Invalid("the live part of a pair snapshot holds remembered ids"));
        }
        if let Some(r) = recent_ids {
            snap.pair.recent_ids = serde_json::from_str(r).map_err(|e| SnapshotError::Parse(e.to_string()))?;
        }
        self.restore_pair_snapshot(snap)
    }

    /// Sets one pair's state from [`Aggregator::snapshot_pair`] output,
    /// replacing the pair's state if it has one; other pairs are untouched.
    /// Returns the pair's name. Fails (changing nothing) on another format,
    /// interval or grace, on state that breaks an invariant, and for a new
    /// pair beyond `max_pairs`.
    pub fn restore_pair(&mut self, json: &str) -> Result<String, SnapshotError> {
        let snap: PairSnapshot = serde_json::from_str(json).map_err(|e| SnapshotError::Parse(e.to_string()))?;
        self.restore_pair_snapshot(snap)
    }

    fn restore_pair_snapshot(&mut self, snap: PairSnapshot) -> Result<String, SnapshotError> {
        if snap.format != PAIR_SNAPSHOT_FORMAT {
            return Err(SnapshotError::Format(snap.format));
        }
        if snap.interval_s != self.config.interval_s || snap.grace_ms != self.config.grace_ms {
            return Err(SnapshotError::Invalid("the pair snapshot has another interval or grace than this aggregator"));
        }
        let state = pair_state(snap.pair, self.interval_ms, self.config.recent_ids_per_pair as usize)?;
        let name = state.name.clone();
        if let Some(&id) = self.index.get(&name) {
            if let Some(slot) = self.pairs.get_mut(id as usize) {
                *slot = state;
                return Ok(name);
            }
        }
        if self.pairs.len() >= self.config.max_pairs as usize {
            return Err(SnapshotError::Invalid("more pairs than max_pairs"));
        }
        self.index.insert(name.clone(), self.pairs.len() as PairId);
        self.pairs.push(state);
        Ok(name)
    }
}

fn pair_snap(p: &PairState) -> PairSnap {
    PairSnap {
        name: p.name.clone(),
        max_event_ms: p.max_event_ms,
        watermark_ms: p.watermark_ms,
        cursor_ms: p.cursor_ms,
        last_close: p.last_close,
        filled_run: p.filled_run,
        windows: p
            .windows
            .iter()
            .map(|w| {
                let ids = w.ids.sorted_keys();
                WindowSnap {
                    start_ms: w.start_ms,
                    open: w.open,
                    open_at: w.open_at,
                    high: w.high,
                    low: w.low,
                    close: w.close,
                    close_at: w.close_at,
                    volume: w.volume,
                    buy_volume: w.buy_volume,
                    sell_volume: w.sell_volume,
                    notional: w.notional,
                    trade_count: w.trade_count,
                    ids,
                }
            })
            .collect(),
        recent_ids: p.recent.windows().collect(),
    }
}
