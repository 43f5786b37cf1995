//! Checkpoint of the aggregator state as JSON.

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::aggregator::{Aggregator, PairState};
use crate::config::{AggregatorConfig, ConfigError};
use crate::id_set::IdSet;
use crate::recent_ids::RecentIds;
use crate::trade::valid_pair;
use crate::window::WindowAcc;

/// Format tag of the snapshot JSON.
pub const SNAPSHOT_FORMAT: &str = "tickcast-aggregator/1";

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
            if !valid_pair(&p.name) || !names.insert(p.name.clone()) {
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
            pairs.push(PairState {
                name: p.name,
                max_event_ms: p.max_event_ms,
                watermark_ms: p.watermark_ms,
                cursor_ms: p.cursor_ms,
                last_close: p.last_close,
                filled_run: p.filled_run,
                windows,
                recent: RecentIds::from_windows(cap, p.recent_ids),
            });
        }
        Ok(Aggregator::from_parts(snap.config, pairs))
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
