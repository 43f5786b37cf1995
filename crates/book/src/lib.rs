//! Order books and per-minute book features for tickcast, pure Rust.
//!
//! - [`book::Book`]: an L2 book in integer ticks and lots ([`scale::Scale`]
//!   turns an exchange's decimal numbers into exact integers).
//! - [`kraken::KrakenBook`]: Kraken WebSocket v2 `book` semantics with the
//!   CRC32 checksum of [`checksum`] verified on every message.
//! - [`binance::BinanceDepthBook`]: Binance's diff-depth stream synchronised
//!   with a REST snapshot by Binance's rules.
//! - [`features`]: spread, mid/microprice, depth, imbalance, order-flow
//!   imbalance and update counts per minute, one family per file, driven by
//!   an event clock (time is an input; nothing reads a clock).
//! - [`batch`]: the same features over a tape of messages, a fold over the
//!   streaming update.

pub mod batch;
pub mod binance;
pub mod book;
pub mod checksum;
mod error;
pub mod features;
pub mod kraken;
pub mod scale;
pub mod tracker;

pub use book::{Book, BookSide};
pub use error::BookError;
pub use features::{BookFeatures, MinuteRow, FEATURE_NAMES, N_FEATURES};
pub use scale::Scale;
pub use tracker::BookTracker;
