//! Validated aggregator configuration.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Default window length: one-minute candles.
pub const DEFAULT_INTERVAL_S: u32 = 60;
/// Default grace period: a window closes 5 s (event time) after its end.
pub const DEFAULT_GRACE_MS: u64 = 5_000;
/// Default cap on consecutive filled candles of a silent pair: one week of minutes.
pub const DEFAULT_MAX_FILL_WINDOWS: u32 = 10_080;
/// Default bound on trade ids remembered per pair after their window closed.
pub const DEFAULT_RECENT_IDS_PER_PAIR: u32 = 65_536;
/// Default cap on distinct pairs one aggregator tracks.
pub const DEFAULT_MAX_PAIRS: u32 = 1_024;

/// Largest accepted event time: 3000-01-01T00:00:00Z, the contract's `EpochMs` maximum.
pub const MAX_EPOCH_MS: i64 = 32_503_680_000_000;
/// Largest window length: one day (the contract's `interval_s` maximum).
pub const MAX_INTERVAL_S: u32 = 86_400;
/// Largest grace period: one day.
pub const MAX_GRACE_MS: u64 = 86_400_000;
/// Largest remembered-id bound per pair.
pub const MAX_RECENT_IDS_PER_PAIR: u32 = 10_000_000;
/// Largest pair cap.
pub const MAX_MAX_PAIRS: u32 = 65_536;

/// Configuration of one [`crate::Aggregator`]: one exchange, one window length.
///
/// Build it with [`AggregatorConfig::new`] (defaults below) and adjust fields;
/// [`crate::Aggregator::new`] validates it.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `exchange` | (required) | copied into every candle; trades naming another exchange are rejected |
/// | `interval_s` | 60 | window length, 1..=86400 s; windows are aligned to the Unix epoch |
/// | `grace_ms` | 5000 | watermark = latest event time of the pair − grace; 0..=86400000 |
/// | `max_fill_windows` | 10080 | a silent pair gets at most this many consecutive filled candles, then goes dormant (0 = never fill) |
/// | `recent_ids_per_pair` | 65536 | trade ids of closed windows remembered per pair (whole windows are forgotten, oldest first, beyond it), to tell late duplicates from late trades (0 = none) |
/// | `max_pairs` | 1024 | distinct pairs tracked; a trade for one more pair is rejected |
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorConfig {
    /// Exchange name written into every candle (1..=32 characters).
    pub exchange: String,
    /// Window length in seconds.
    pub interval_s: u32,
    /// Grace period in milliseconds of event time.
    pub grace_ms: u64,
    /// Cap on consecutive filled candles per pair.
    pub max_fill_windows: u32,
    /// Bound on remembered trade ids of closed windows, per pair.
    pub recent_ids_per_pair: u32,
    /// Cap on distinct pairs.
    pub max_pairs: u32,
}

impl AggregatorConfig {
    /// A configuration with every default and the given exchange name.
    pub fn new(exchange: impl Into<String>) -> Self {
        Self {
            exchange: exchange.into(),
            interval_s: DEFAULT_INTERVAL_S,
            grace_ms: DEFAULT_GRACE_MS,
            max_fill_windows: DEFAULT_MAX_FILL_WINDOWS,
            recent_ids_per_pair: DEFAULT_RECENT_IDS_PER_PAIR,
            max_pairs: DEFAULT_MAX_PAIRS,
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = self.exchange.chars().count();
        if n == 0 || n > 32 {
            return Err(ConfigError::new("exchange", "must be 1 to 32 characters"));
        }
        if self.interval_s == 0 || self.interval_s > MAX_INTERVAL_S {
            return Err(ConfigError::new("interval_s", "must be 1 to 86400"));
        }
        if self.grace_ms > MAX_GRACE_MS {
            return Err(ConfigError::new("grace_ms", "must be 0 to 86400000"));
        }
        if self.recent_ids_per_pair > MAX_RECENT_IDS_PER_PAIR {
            return Err(ConfigError::new("recent_ids_per_pair", "must be 0 to 10000000"));
        }
        if self.max_pairs == 0 || self.max_pairs > MAX_MAX_PAIRS {
            return Err(ConfigError::new("max_pairs", "must be 1 to 65536"));
        }
        Ok(())
    }

    /// Window length in milliseconds.
    pub fn interval_ms(&self) -> i64 {
        i64::from(self.interval_s) * 1000
    }
}

/// A configuration field out of its range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The offending field.
    pub field: &'static str,
    /// What the field must be.
    pub expected: &'static str,
}

impl ConfigError {
    fn new(field: &'static str, expected: &'static str) -> Self {
        Self { field, expected }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid aggregator option {}: {}", self.field, self.expected)
    }
}

impl std::error::Error for ConfigError {}
