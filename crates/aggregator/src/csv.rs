//! Trade files (CSV) straight into trade columns: the fast path of a file
//! import. It reads the rows that are plainly valid trades; every other line
//! (one that would be rejected, or needs the slower, general reading:
//! whitespace around a field, non-ASCII text, an unknown pair) is handed back
//! to the caller as text, in file order, for its general parser to judge.
//! So the fast path never decides a reject, and what it accepts is exactly
//! what the general parser would accept, field for field (proved by the
//! Node tests against the TypeScript reader on real and mangled files).
//!
//! Lines end at `\n`, `\r\n` or a lone `\r`; empty lines are skipped. The
//! first line (header or data) is taken by the caller with
//! [`TradeCsvParser::first_line`], which then names the format.

use std::fmt;
use std::io::Read;

use crate::aggregator::Aggregator;
use crate::batch::{BatchError, BatchOutcome, TradeColumns, TradeIdColumn};
use crate::trade::{fnv1a64_on, string_key, valid_pair, FNV_OFFSET, HASHED_BIT};

/// The trade CSV formats (see the TypeScript reader's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvFormat {
    /// `unix_time,price,volume`, no header (Kraken "Time and Sales").
    KrakenHistory,
    /// `unix_time,price,amount`.
    Bitcoincharts,
    /// `exchange,asset,currency,time(ms),timestamp,side,price,amount`.
    Ccxt,
    /// `price,volume,time,buy/sell,market/limit,miscellaneous`.
    KrakenRest,
    /// `time_unix,time_utc,price,volume,side,ordertype,misc,trade_id`.
    KrakenRestId,
    /// `local_recv_ns,event_time_ms,trade_time_ms,trade_time_utc,trade_id,price,qty,is_buyer_maker,...`.
    Binance,
    /// `id,price,amount,type` (id = µs since the epoch).
    Mtgox,
}

impl CsvFormat {
    /// The format of its name (`kraken-history`, `ccxt`, ...).
    pub fn from_name(name: &str) -> Option<CsvFormat> {
        Some(match name {
            "kraken-history" => CsvFormat::KrakenHistory,
            "bitcoincharts" => CsvFormat::Bitcoincharts,
            "ccxt" => CsvFormat::Ccxt,
            "kraken-rest" => CsvFormat::KrakenRest,
            "kraken-rest-id" => CsvFormat::KrakenRestId,
            "binance" => CsvFormat::Binance,
            "mtgox" => CsvFormat::Mtgox,
            _ => return None,
        })
    }

    /// True when rows carry no trade id (a synthetic `<fileKey>:<n>` is made).
    fn synthetic_ids(self) -> bool {
        matches!(self, CsvFormat::KrakenHistory | CsvFormat::Bitcoincharts | CsvFormat::Ccxt | CsvFormat::KrakenRest)
    }
}

/// Why [`TradeCsvParser::next`] stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The batch holds `max_rows` rows.
    Full,
    /// This line (taken from the input) is for the caller's general parser;
    /// the rows before it are in the batch.
    Slow(String),
    /// Every complete line is read; push more bytes (or call `end`). The batch is not done: the
    /// next call adds to it.
    NeedInput,
    /// The input ended and every line is read.
    End,
    /// A line longer than [`MAX_LINE`] bytes (taken from the input without being kept: memory
    /// stays bounded): its first [`LONG_LINE_PREFIX`] bytes, for the caller's reject.
    TooLong(String),
}

/// The longest line read; a longer one is skipped as [`Stop::TooLong`].
pub const MAX_LINE: usize = 1 << 20;
/// What a too-long first line starts with (no header or row does).
pub const LONG_LINE_MARK: &str = "\u{0}line over 1 MiB\u{0}";
/// Bytes of a too-long line kept for its reject.
pub const LONG_LINE_PREFIX: usize = 200;

/// A line taken from the input.
enum Line {
    /// `buf[start..end]`.
    Text(usize, usize),
    /// A line over [`MAX_LINE`]: its first bytes.
    TooLong(String),
}

/// Parser errors (misuse, not bad rows: bad rows are never errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CsvError {
    /// `next` before `set_format`.
    NoFormat,
    /// `push` after `end`.
    Ended,
    /// Reading the file failed.
    Io(String),
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::NoFormat => f.write_str("the format is not set: call setFormat after reading the first line"),
            CsvError::Ended => f.write_str("input already ended"),
            CsvError::Io(e) => write!(f, "reading the trade file failed: {e}"),
        }
    }
}

impl std::error::Error for CsvError {}

/// Rows read by the fast path, as columns (see [`TradeColumns`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedBatch {
    /// Per row: index into the parser's pairs.
    pub pair_idx: Vec<u32>,
    /// The trade ids, one after the other.
    pub ids_text: String,
    /// Per row: the end of its id in `ids_text`.
    pub id_ends: Vec<u32>,
    /// Per row: the id's dedup key (as the aggregator computes it from the id).
    pub keys: Vec<u64>,
    /// Per row: price.
    pub prices: Vec<f64>,
    /// Per row: quantity.
    pub qtys: Vec<f64>,
    /// Per row: 0 unknown, 1 buy, 2 sell.
    pub sides: Vec<u8>,
    /// Per row: event time (ms).
    pub ts_ms: Vec<f64>,
}

impl ParsedBatch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.ts_ms.len()
    }

    /// True when the batch holds no row.
    pub fn is_empty(&self) -> bool {
        self.ts_ms.is_empty()
    }

    /// The id of a row.
    pub fn id(&self, row: usize) -> &str {
        let start = if row == 0 { 0 } else { self.id_ends.get(row - 1).copied().unwrap_or(0) as usize };
        let end = self.id_ends.get(row).copied().unwrap_or(0) as usize;
        self.ids_text.get(start..end).unwrap_or("")
    }

    fn clear(&mut self) {
        self.pair_idx.clear();
        self.ids_text.clear();
        self.id_ends.clear();
        self.keys.clear();
        self.prices.clear();
        self.qtys.clear();
        self.sides.clear();
        self.ts_ms.clear();
    }
}

/// The contract's latest event time: year 3000 (`EpochMs`' maximum).
pub const MAX_TRADE_TS_MS: i64 = 32_503_680_000_000;
/// The contract's longest trade id.
const MAX_ID_LEN: usize = 256;
/// Most distinct `asset,currency` texts remembered (ccxt files).
const MAX_CCXT_PAIRS: usize = 1024;
/// Bytes per read when the parser reads the file itself.
const READ_BYTES: usize = 1 << 20;
/// Most fields a format reads (binance reads c[7]).
const FIELDS: usize = 9;

/// A row's fields as a format places them: pair, id (None: synthetic), price, qty, side code, time.
type RowFields<'a> = (Option<u32>, Option<&'a [u8]>, &'a [u8], &'a [u8], u8, Option<i64>);

/// The reader a parser reads its file from.
struct Source(Box<dyn Read + Send>);

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Source")
    }
}

/// Reads trade CSV bytes into [`ParsedBatch`]es (see the module docs).
#[derive(Debug)]
pub struct TradeCsvParser {
    format: Option<CsvFormat>,
    /// The pair of every row of a single-pair format (index into `pairs`), if valid.
    pair: Option<u32>,
    file_key: String,
    /// FNV-1a state after `<file_key>:` (synthetic ids share it).
    key_prefix: u64,
    pairs: Vec<String>,
    next_synthetic: Vec<u64>,
    ccxt: Vec<(Vec<u8>, Vec<u8>, Option<u32>)>,
    ccxt_last: usize,
    buf: Vec<u8>,
    pos: usize,
    ended: bool,
    first_taken: bool,
    /// The batch is still filling (the last `next` needed input).
    filling: bool,
    /// Where more bytes come from when the parser reads the file itself.
    source: Option<Source>,
    /// Inside a too-long line: its first bytes (the rest is skipped up to its end).
    too_long: Option<String>,
    batch: ParsedBatch,
}

impl TradeCsvParser {
    /// A parser of one file. `pair` is the pair of single-pair formats (None, or a pair outside the
    /// contract: every row goes to the caller); `file_key` keys synthetic ids.
    pub fn new(pair: Option<&str>, file_key: &str) -> Self {
        let mut p = TradeCsvParser {
            format: None,
            pair: None,
            file_key: file_key.to_owned(),
            key_prefix: fnv1a64_on(fnv1a64_on(FNV_OFFSET, file_key.as_bytes()), b":"),
            pairs: Vec::new(),
            next_synthetic: Vec::new(),
            ccxt: Vec::new(),
            ccxt_last: 0,
            buf: Vec::new(),
            pos: 0,
            ended: false,
            first_taken: false,
            filling: false,
            source: None,
            too_long: None,
            batch: ParsedBatch::default(),
        };
        if let Some(name) = pair.filter(|n| valid_pair(n)) {
            p.pair = Some(p.pair_index(name));
        }
        p
    }

    /// Appends bytes of the file.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), CsvError> {
        if self.ended || self.source.is_some() {
            return Err(CsvError::Ended);
        }
        self.compact();
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The parser reads its bytes from `source` itself, as it needs them, to its end (instead
    /// of `push` and `end`).
    pub fn read_from(&mut self, source: Box<dyn Read + Send>) -> Result<(), CsvError> {
        if self.ended || self.source.is_some() {
            return Err(CsvError::Ended);
        }
        self.source = Some(Source(source));
        Ok(())
    }

    fn compact(&mut self) {
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// More bytes from the source; false when there is no source (or it had ended).
    fn fill(&mut self) -> Result<bool, CsvError> {
        let Some(src) = self.source.as_mut() else {
            return Ok(false);
        };
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + READ_BYTES, 0);
        let n = loop {
            match src.0.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(CsvError::Io(e.to_string()));
                }
            }
        };
        self.buf.truncate(len + n);
        if n == 0 {
            self.source = None;
            self.ended = true;
        }
        Ok(true)
    }

    /// No more bytes: a last line without a line break is a line. (A parser that reads its
    /// source itself ends at the source's end; this changes nothing for it.)
    pub fn end(&mut self) {
        if self.source.is_none() {
            self.ended = true;
        }
    }

    /// Sets the format (after the first line).
    pub fn set_format(&mut self, format: CsvFormat) {
        self.format = Some(format);
    }

    /// The pairs rows refer to by index.
    pub fn pairs(&self) -> &[String] {
        &self.pairs
    }

    /// The rows of the last [`TradeCsvParser::next`].
    pub fn batch(&self) -> &ParsedBatch {
        &self.batch
    }

    /// The last batch as aggregator columns.
    pub fn columns(&self) -> TradeColumns<'_> {
        TradeColumns {
            exchange: None,
            pairs: &self.pairs,
            pair_idx: &self.batch.pair_idx,
            trade_ids: TradeIdColumn::Keys(&self.batch.keys),
            prices: &self.batch.prices,
            qtys: &self.batch.qtys,
            sides: &self.batch.sides,
            ts_ms: &self.batch.ts_ms,
        }
    }

    /// The first line of the file, once it is complete (taken from the input); None until then,
    /// after it was taken, and for an empty file (no line at all).
    /// A too-long first line gives its first bytes after [`LONG_LINE_MARK`].
    pub fn first_line(&mut self) -> Result<Option<String>, CsvError> {
        if self.first_taken {
            return Ok(None);
        }
        let text = match self.take_line()? {
            None => return Ok(None),
            Some(Line::Text(start, end)) => String::from_utf8_lossy(&self.buf[start..end]).into_owned(),
            Some(Line::TooLong(prefix)) => format!("{LONG_LINE_MARK}{prefix}"),
        };
        self.first_taken = true;
        Ok(Some(text))
    }

    /// The next complete line, reading the source for more when there is one; None when the
    /// input has no complete line now (or has ended). A line over MAX_LINE bytes is not kept.
    fn take_line(&mut self) -> Result<Option<Line>, CsvError> {
        loop {
            if self.pos < self.buf.len() {
                if let Some((end, next)) = self.line_at(self.pos) {
                    let start = self.pos;
                    self.pos = next;
                    if let Some(prefix) = self.too_long.take() {
                        return Ok(Some(Line::TooLong(prefix)));
                    }
                    if end - start > MAX_LINE {
                        return Ok(Some(Line::TooLong(prefix_of(&self.buf[start..end]))));
                    }
                    return Ok(Some(Line::Text(start, end)));
                }
                if self.buf.len() - self.pos > MAX_LINE {
                    if self.too_long.is_none() {
                        self.too_long = Some(prefix_of(&self.buf[self.pos..]));
                    }
                    // Skip what is here, but a last '\r' (it may begin a "\r\n").
                    self.pos = self.buf.len() - usize::from(self.buf.last() == Some(&b'\r'));
                }
            } else if self.ended {
                return Ok(self.too_long.take().map(Line::TooLong));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// The synthetic index of the next row of `pair` (the caller read a row of it); counts it.
    pub fn synthetic_index(&mut self, pair: &str) -> u64 {
        let i = self.pair_index(pair) as usize;
        let n = self.next_synthetic[i];
        self.next_synthetic[i] += 1;
        n
    }

    /// What a ccxt `asset,currency` names: a pair, or None (rows of it go to the caller).
    pub fn set_ccxt_pair(&mut self, asset: &str, currency: &str, pair: Option<&str>) {
        if self.ccxt.len() >= MAX_CCXT_PAIRS || self.ccxt.iter().any(|(a, c, _)| a == asset.as_bytes() && c == currency.as_bytes()) {
            return;
        }
        let p = pair.filter(|n| valid_pair(n)).map(|n| self.pair_index(n));
        self.ccxt.push((asset.as_bytes().to_vec(), currency.as_bytes().to_vec(), p));
    }

    fn pair_index(&mut self, name: &str) -> u32 {
        if let Some(i) = self.pairs.iter().position(|p| p == name) {
            return i as u32;
        }
        self.pairs.push(name.to_owned());
        self.next_synthetic.push(0);
        (self.pairs.len() - 1) as u32
    }

    /// The end of the line starting at `start` and where the next one starts, or None when the
    /// line is not complete yet. A `\r` at the end of the input waits for the next byte (`\r\n`).
    fn line_at(&self, start: usize) -> Option<(usize, usize)> {
        let b = &self.buf[start..];
        match memchr::memchr2(b'\n', b'\r', b) {
            Some(i) if b[i] == b'\n' => Some((start + i, start + i + 1)),
            Some(i) => match b.get(i + 1) {
                Some(b'\n') => Some((start + i, start + i + 2)),
                Some(_) => Some((start + i, start + i + 1)),
                None if self.ended => Some((start + i, start + i + 1)),
                None => None,
            },
            None if self.ended => Some((self.buf.len(), self.buf.len())),
            None => None,
        }
    }

    /// Reads lines into a fresh batch (or on into the last one, after [`Stop::NeedInput`]) until it
    /// holds `max_rows` rows, a line needs the caller, or the input runs out. Rows after `max_ts_ms` (the future limit) go to the caller.
    pub fn next(&mut self, max_rows: usize, max_ts_ms: i64) -> Result<Stop, CsvError> {
        let format = self.format.ok_or(CsvError::NoFormat)?;
        // After NeedInput the batch is not handed out yet: it fills on.
        if !self.filling {
            self.batch.clear();
        }
        self.filling = false;
        let max_ts = max_ts_ms.min(MAX_TRADE_TS_MS);
        while self.batch.len() < max_rows {
            let (start, end) = match self.take_line()? {
                None if self.ended && self.pos >= self.buf.len() => return Ok(Stop::End),
                None => {
                    self.filling = true;
                    return Ok(Stop::NeedInput);
                }
                Some(Line::TooLong(prefix)) => return Ok(Stop::TooLong(prefix)),
                Some(Line::Text(start, end)) => (start, end),
            };
            if end == start {
                continue; // an empty line
            }
            if !self.fast_row(format, start, end, max_ts) {
                return Ok(Stop::Slow(String::from_utf8_lossy(&self.buf[start..end]).into_owned()));
            }
        }
        Ok(Stop::Full)
    }

    /// Adds the line as a row when it is plainly a valid trade; false (nothing added) otherwise.
    fn fast_row(&mut self, format: CsvFormat, start: usize, end: usize, max_ts: i64) -> bool {
        let line = &self.buf[start..end];
        let mut f: [&[u8]; FIELDS] = [&[]; FIELDS];
        let mut count = 0;
        let mut field_start = 0;
        for i in memchr::memchr_iter(b',', line) {
            if count < FIELDS {
                f[count] = &line[field_start..i];
            }
            count += 1;
            field_start = i + 1;
        }
        if count < FIELDS {
            f[count] = &line[field_start..];
        }
        count += 1;
        let (pair, id, price, qty, side, ts): RowFields<'_> = match format {
            CsvFormat::KrakenHistory | CsvFormat::Bitcoincharts => {
                if count < 3 {
                    return false;
                }
                (self.pair, None, f[1], f[2], 0, decimal_seconds_ms(f[0]))
            }
            CsvFormat::Ccxt => {
                if count < 8 {
                    return false;
                }
                let side = match f[5] {
                    b"buy" => 1,
                    b"sell" => 2,
                    _ => return false,
                };
                (ccxt_pair(&self.ccxt, &mut self.ccxt_last, f[1], f[2]), None, f[6], f[7], side, whole_ms(f[3]))
            }
            CsvFormat::KrakenRest | CsvFormat::KrakenRestId => {
                let rest = format == CsvFormat::KrakenRest;
                if count < if rest { 4 } else { 8 } {
                    return false;
                }
                let (price, qty, time, side, id) = if rest { (f[0], f[1], f[2], f[3], None) } else { (f[2], f[3], f[0], f[4], Some(f[7])) };
                let side = match side {
                    b"b" => 1,
                    b"s" => 2,
                    _ => return false,
                };
                (self.pair, id, price, qty, side, decimal_seconds_ms(time))
            }
            CsvFormat::Binance => {
                if count < 8 {
                    return false;
                }
                let side = match f[7] {
                    b"true" => 2,
                    b"false" => 1,
                    _ => return false,
                };
                (self.pair, Some(f[4]), f[5], f[6], side, whole_ms(f[2]))
            }
            CsvFormat::Mtgox => {
                if count < 3 {
                    return false;
                }
                (self.pair, Some(f[0]), f[1], f[2], 0, whole_us(f[0]).map(|us| us / 1000))
            }
        };
        let (Some(pair), Some(ts), Some(price), Some(qty)) = (pair, ts, positive(price), positive(qty)) else {
            return false;
        };
        if ts > max_ts {
            return false;
        }
        if let Some(id) = id {
            if id.is_empty() || id.len() > MAX_ID_LEN || !id.iter().all(u8::is_ascii_digit) {
                return false;
            }
        }
        let b = &mut self.batch;
        let id_start = b.ids_text.len();
        // Every row read counts for the pair's synthetic index, with or without an id of its own
        // (as in the general reader, where a kraken-rest-id row without its id column gets one).
        let n = self.next_synthetic[pair as usize];
        let key = match id {
            // Digits only: ASCII, so valid UTF-8.
            Some(id) => {
                id.iter().for_each(|&c| b.ids_text.push(char::from(c)));
                string_key(&b.ids_text[id_start..])
            }
            None => {
                debug_assert!(format.synthetic_ids());
                b.ids_text.push_str(&self.file_key);
                b.ids_text.push(':');
                let digits = b.ids_text.len();
                push_decimal(&mut b.ids_text, n);
                // Never canonical (it holds ':'): FNV-1a of the whole id, the shared prefix hashed once.
                Ok(fnv1a64_on(self.key_prefix, &b.ids_text.as_bytes()[digits..]) | HASHED_BIT)
            }
        };
        let (id_end, key) = match (u32::try_from(b.ids_text.len()), key) {
            (Ok(end), Ok(key)) if b.ids_text.len() - id_start <= MAX_ID_LEN => (end, key),
            _ => {
                b.ids_text.truncate(id_start);
                return false;
            }
        };
        b.keys.push(key);
        self.next_synthetic[pair as usize] = n + 1;
        b.id_ends.push(id_end);
        b.pair_idx.push(pair);
        b.prices.push(price);
        b.qtys.push(qty);
        b.sides.push(side);
        // Exact: at most MAX_TRADE_TS_MS, far below 2^53.
        b.ts_ms.push(ts as f64);
        true
    }

}

/// What a ccxt `asset,currency` names (`last`: the index of the previous hit, tried first).
fn ccxt_pair(table: &[(Vec<u8>, Vec<u8>, Option<u32>)], last: &mut usize, asset: &[u8], currency: &[u8]) -> Option<u32> {
    if let Some((a, c, p)) = table.get(*last) {
        if a == asset && c == currency {
            return *p;
        }
    }
    let i = table.iter().position(|(a, c, _)| a == asset && c == currency)?;
    *last = i;
    table[i].2
}

/// What feeding a parser's batch to an aggregator did ([`push_parsed`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedPush {
    /// The outcome; its rows index `kept` when that is given, else the batch.
    pub outcome: BatchOutcome,
    /// The batch rows fed, when not all of them were.
    pub kept: Option<Vec<u32>>,
    /// Rows fed.
    pub pushed: usize,
    /// The latest time among them (ms), None when none.
    pub cursor_ms: Option<f64>,
}

impl ParsedPush {
    /// A row of `outcome` as a row of the batch.
    pub fn batch_row(&self, row: u32) -> u32 {
        self.kept.as_ref().map_or(row, |k| k.get(row as usize).copied().unwrap_or(row))
    }
}

/// Feeds the parser's last batch to `agg`, leaving out its first `skip` rows (the rest of a
/// resumed import's skip) and rows whose time is outside `[from_ms, to_ms)` (the bounds of
/// `tickcast backfill --from/--to`, as JavaScript numbers).
pub fn push_parsed(agg: &mut Aggregator, parser: &TradeCsvParser, skip: usize, from_ms: Option<f64>, to_ms: Option<f64>) -> Result<ParsedPush, BatchError> {
    let batch = parser.batch();
    let skip = skip.min(batch.len());
    let inside = |t: f64| from_ms.is_none_or(|f| t >= f) && to_ms.is_none_or(|e| t < e);
    let cursor_ms = batch.ts_ms[skip..].iter().copied().filter(|&t| inside(t)).reduce(f64::max);
    let mut outcome = BatchOutcome::default();
    if skip == 0 && batch.ts_ms.iter().all(|&t| inside(t)) {
        agg.push_columns(&parser.columns(), &mut outcome)?;
        return Ok(ParsedPush { outcome, kept: None, pushed: batch.len(), cursor_ms });
    }
    let kept: Vec<u32> = (skip..batch.len()).filter(|&r| inside(batch.ts_ms[r])).map(|r| r as u32).collect();
    let pick = |col: &[f64]| kept.iter().map(|&r| col[r as usize]).collect::<Vec<f64>>();
    let keys: Vec<u64> = kept.iter().map(|&r| batch.keys[r as usize]).collect();
    let (prices, qtys, ts) = (pick(&batch.prices), pick(&batch.qtys), pick(&batch.ts_ms));
    let pair_idx: Vec<u32> = kept.iter().map(|&r| batch.pair_idx[r as usize]).collect();
    let sides: Vec<u8> = kept.iter().map(|&r| batch.sides[r as usize]).collect();
    let cols = TradeColumns {
        exchange: None,
        pairs: parser.pairs(),
        pair_idx: &pair_idx,
        trade_ids: TradeIdColumn::Keys(&keys),
        prices: &prices,
        qtys: &qtys,
        sides: &sides,
        ts_ms: &ts,
    };
    agg.push_columns(&cols, &mut outcome)?;
    let pushed = kept.len();
    Ok(ParsedPush { outcome, kept: Some(kept), pushed, cursor_ms })
}

/// What [`parse_and_push`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedStep {
    /// Why reading stopped (with [`Stop::NeedInput`] nothing was fed: the batch fills on).
    pub stop: Stop,
    /// Rows in the parser's batch.
    pub rows: usize,
    /// Of them, left out as the rest of `skip`.
    pub skipped: usize,
    /// What the fed rows did, when rows were fed.
    pub pushed: Option<ParsedPush>,
}

/// The parser's next batch ([`TradeCsvParser::next`]) fed to `agg` ([`push_parsed`]): one
/// call, for a thread of its own.
#[allow(clippy::too_many_arguments)] // one call's inputs, each used once; a struct would only rename them
pub fn parse_and_push(
    agg: &mut Aggregator,
    parser: &mut TradeCsvParser,
    max_rows: usize,
    max_ts_ms: i64,
    skip: usize,
    from_ms: Option<f64>,
    to_ms: Option<f64>,
) -> Result<ParsedStep, String> {
    let stop = parser.next(max_rows, max_ts_ms).map_err(|e| e.to_string())?;
    let rows = parser.batch().len();
    if stop == Stop::NeedInput || rows == 0 {
        return Ok(ParsedStep { stop, rows, skipped: 0, pushed: None });
    }
    let skipped = skip.min(rows);
    let pushed = push_parsed(agg, parser, skipped, from_ms, to_ms).map_err(|e| e.to_string())?;
    Ok(ParsedStep { stop, rows, skipped, pushed: Some(pushed) })
}

fn prefix_of(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(LONG_LINE_PREFIX)]).into_owned()
}

/// The field without the ASCII whitespace JavaScript's `trim()` (and `Number()`) would remove
/// around it (tab, vertical tab, form feed, space; a line holds no line break). Other
/// whitespace is not ASCII: such a line is left to the general reader.
fn trim_ascii(f: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b'\t' | b'\x0b' | b'\x0c' | b' ');
    let start = f.iter().position(|c| !ws(c)).unwrap_or(f.len());
    let end = f.iter().rposition(|c| !ws(c)).map_or(start, |e| e + 1);
    &f[start..end]
}

/// `^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$` on the trimmed field (the TypeScript check), as a
/// finite number > 0; None otherwise.
fn positive(f: &[u8]) -> Option<f64> {
    let f = trim_ascii(f);
    let mut i = 0;
    if matches!(f.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_digits = f[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if f.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = f[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    let mut exp_start = None;
    if matches!(f.get(i), Some(b'e' | b'E')) {
        exp_start = Some(i);
        i += 1;
        if matches!(f.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = f[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != f.len() {
        return None;
    }
    let digits = int_digits + frac_digits;
    if exp_start.is_none() && digits <= 15 && f.first() != Some(&b'-') {
        // Clinger's fast path: the digits as an integer m < 10^15 < 2^53 and 10^k (k <= 15) are
        // both exact doubles, so the one division m / 10^k is the correctly rounded value, as
        // JavaScript's Number (and Rust's parse) gives it.
        let sign = usize::from(matches!(f.first(), Some(b'+')));
        let m = f[sign..].iter().filter(|c| c.is_ascii_digit()).fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
        let v = m as f64 / POW10[frac_digits];
        return (v > 0.0).then_some(v);
    }
    // ASCII checked above; Rust's parse, like JavaScript's Number, rounds correctly.
    let v: f64 = std::str::from_utf8(f).ok()?.parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v)
}

/// 10^0..=10^15, exact doubles.
const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// `^(\d+)(?:\.(\d*))?$` on the trimmed field: seconds to ms: whole seconds * 1000 + the first three fraction digits.
/// At most 15 whole digits (beyond, the caller's general reader decides).
fn decimal_seconds_ms(f: &[u8]) -> Option<i64> {
    let f = trim_ascii(f);
    let int_len = f.iter().take_while(|c| c.is_ascii_digit()).count();
    if int_len == 0 || int_len > 15 {
        return None;
    }
    let secs = digits_value(&f[..int_len]);
    let mut ms = 0;
    match f.get(int_len) {
        None => {}
        Some(b'.') => {
            let frac = &f[int_len + 1..];
            if !frac.iter().all(u8::is_ascii_digit) {
                return None;
            }
            for k in 0..3 {
                ms = ms * 10 + frac.get(k).map_or(0, |&c| i64::from(c - b'0'));
            }
        }
        Some(_) => return None,
    }
    Some(secs * 1000 + ms)
}

/// `^\d+$` on the trimmed field, at most 15 digits, as a number of ms.
fn whole_ms(f: &[u8]) -> Option<i64> {
    let f = trim_ascii(f);
    (!f.is_empty() && f.len() <= 15 && f.iter().all(u8::is_ascii_digit)).then(|| digits_value(f))
}

/// `^\d+$`, at most 2^53 (µs; read exactly by JavaScript's Number, and floor(us / 1000) is then
/// the integer quotient).
fn whole_us(f: &[u8]) -> Option<i64> {
    let f = trim_ascii(f);
    (!f.is_empty() && f.len() <= 16 && f.iter().all(u8::is_ascii_digit))
        .then(|| digits_value(f))
        .filter(|&v| v <= 1 << 53)
}

fn digits_value(f: &[u8]) -> i64 {
    f.iter().fold(0i64, |v, &c| v * 10 + i64::from(c - b'0'))
}

fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[i..].iter().for_each(|&c| out.push(char::from(c)));
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (String, f64, f64, u8, f64);

    fn all(p: &mut TradeCsvParser) -> (Vec<Row>, Vec<String>) {
        let mut rows = Vec::new();
        let mut slow = Vec::new();
        loop {
            let stop = p.next(2, MAX_TRADE_TS_MS).unwrap_or(Stop::End);
            if stop == Stop::NeedInput {
                return (rows, slow);
            }
            let b = p.batch();
            for r in 0..b.len() {
                rows.push((b.id(r).to_owned(), b.prices[r], b.qtys[r], b.sides[r], b.ts_ms[r]));
            }
            match stop {
                Stop::Slow(l) | Stop::TooLong(l) => slow.push(l),
                Stop::Full => {}
                Stop::NeedInput | Stop::End => return (rows, slow),
            }
        }
    }

    #[test]
    fn ccxt_rows_and_slow_lines_in_file_order() {
        let mut p = TradeCsvParser::new(None, "f.csv");
        let text = "exchange,asset,currency,time,timestamp,side,price,amount\r\nkraken,BTC,USD,1561939203172,x,sell,10749.4,0.004\n\nkraken,BTC,USD,1561939205224,x,buy,1e4,.5\rkraken,BTC,USD,1,x, buy,1,1\nkraken,ETH,USD,2,x,buy,1,1";
        p.push(text.as_bytes()).unwrap_or(());
        assert_eq!(p.first_line().ok().flatten().as_deref(), Some("exchange,asset,currency,time,timestamp,side,price,amount"));
        p.set_format(CsvFormat::Ccxt);
        // The pair is not known yet: the first row goes to the caller, which names it.
        assert_eq!(p.next(10, MAX_TRADE_TS_MS), Ok(Stop::Slow("kraken,BTC,USD,1561939203172,x,sell,10749.4,0.004".into())));
        assert_eq!(p.synthetic_index("BTC/USD"), 0);
        p.set_ccxt_pair("BTC", "USD", Some("BTC/USD"));
        let (rows, slow) = all(&mut p);
        assert_eq!(rows, vec![("f.csv:1".to_owned(), 10_000.0, 0.5, 1, 1_561_939_205_224.0)]);
        // A space before the side (not trimmed: a reject), then an unknown pair; the last line (no break) waits for end().
        assert_eq!(slow, vec!["kraken,BTC,USD,1,x, buy,1,1".to_owned()]);
        p.end();
        let (rows, slow) = all(&mut p);
        assert!(rows.is_empty());
        assert_eq!(slow, vec!["kraken,ETH,USD,2,x,buy,1,1".to_owned()]);
    }

    #[test]
    fn reading_the_source_itself_gives_what_pushing_gives() {
        let text = "unix_time,price,amount\r\n1561939203,10,1\r1561939204, 10,1\n\n1561939205,11,2".repeat(40_000);
        let run = |p: &mut TradeCsvParser| {
            let first = p.first_line();
            p.set_format(CsvFormat::Bitcoincharts);
            let mut out = vec![format!("{first:?}")];
            loop {
                let stop = p.next(7_777, MAX_TRADE_TS_MS).unwrap_or(Stop::End);
                out.push(format!("{:?} {} {:?}", stop, p.batch().len(), p.batch().keys.last()));
                if stop == Stop::End || stop == Stop::NeedInput {
                    return out;
                }
            }
        };
        let mut pushed = TradeCsvParser::new(Some("BTC/USD"), "k");
        pushed.push(text.as_bytes()).unwrap_or(());
        pushed.end();
        let mut reading = TradeCsvParser::new(Some("BTC/USD"), "k");
        reading.read_from(Box::new(std::io::Cursor::new(text.clone().into_bytes()))).unwrap_or(());
        assert_eq!(reading.push(b"x"), Err(CsvError::Ended));
        let (a, b) = (run(&mut pushed), run(&mut reading));
        assert!(a.len() > 10);
        assert_eq!(a, b);
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_with_bounded_memory() {
        for reads_itself in [false, true] {
            let mut text = b"unix_time,price,amount\n1561939203,10,1\n".to_vec();
            text.extend(std::iter::repeat_n(b'7', 3 * MAX_LINE + 5));
            text.extend_from_slice(b"\r\n1561939204,11,2\n");
            text.extend(std::iter::repeat_n(b'8', MAX_LINE + 1));
            let mut p = TradeCsvParser::new(Some("BTC/USD"), "k");
            let mut peak = 0;
            if reads_itself {
                p.read_from(Box::new(std::io::Cursor::new(text.clone()))).unwrap_or(());
            }
            let mut stops = Vec::new();
            let mut chunks = text.chunks(100_000);
            loop {
                if !reads_itself && p.first_taken {
                    match chunks.next() {
                        Some(c) => p.push(c).unwrap_or(()),
                        None => p.end(),
                    }
                } else if !reads_itself {
                    p.push(chunks.next().unwrap_or_default()).unwrap_or(());
                }
                if !p.first_taken {
                    if p.first_line().ok().flatten().is_some() {
                        p.set_format(CsvFormat::Bitcoincharts);
                    }
                    continue;
                }
                let stop = p.next(10, MAX_TRADE_TS_MS).unwrap_or(Stop::End);
                peak = peak.max(p.buf.capacity());
                let rows = p.batch().len();
                match stop {
                    Stop::NeedInput => continue,
                    Stop::End => {
                        stops.push(format!("end {rows}"));
                        break;
                    }
                    Stop::TooLong(prefix) => stops.push(format!("long {rows} {}", prefix.len())),
                    other => stops.push(format!("{other:?} {rows}")),
                }
            }
            assert_eq!(stops, vec![format!("long 1 {LONG_LINE_PREFIX}"), format!("long 1 {LONG_LINE_PREFIX}"), "end 0".to_owned()], "reads itself: {reads_itself}");
            assert!(peak < 3 * MAX_LINE, "buffer peak {peak} bytes");
        }
    }

    #[test]
    fn push_parsed_skips_and_filters_as_single_pushes_of_the_kept_rows_would() {
        let text: String = (0..500).map(|i| format!("{},{}.5,0.{}\n", 1_561_939_200 + i * 7, 10_000 + i % 13, i % 9 + 1)).collect();
        for (skip, from, to) in [(0, None, None), (17, None, None), (0, Some(1_561_939_800_000.0), Some(1_561_941_000_000.0)), (150, Some(1_561_939_500_000.0), None), (600, None, None)] {
            let mut p = TradeCsvParser::new(Some("BTC/USD"), "k.csv");
            p.push(format!("unix_time,price,amount\n{text}").as_bytes()).unwrap_or(());
            p.end();
            let _ = p.first_line();
            p.set_format(CsvFormat::Bitcoincharts);
            let mut agg = Aggregator::new(crate::AggregatorConfig::new("kraken")).unwrap_or_else(|_| unreachable!());
            let step = parse_and_push(&mut agg, &mut p, 1000, MAX_TRADE_TS_MS, skip, from, to).unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!((step.stop.clone(), step.rows, step.skipped), (Stop::End, 500, skip.min(500)));
            let pushed = step.pushed.unwrap_or_default();
            // The reference: the kept rows one by one, their ids as text.
            let mut reference = Aggregator::new(crate::AggregatorConfig::new("kraken")).unwrap_or_else(|_| unreachable!());
            let mut ref_candles = Vec::new();
            let b = p.batch();
            let mut kept = Vec::new();
            for r in skip.min(500)..500 {
                let t = b.ts_ms[r];
                if from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e) {
                    kept.push(r as u32);
                    let trade = crate::TradeIn { exchange: None, pair: "BTC/USD", trade_id: crate::TradeIdIn::Str(b.id(r)), price: b.prices[r], qty: b.qtys[r], side: crate::SideIn::Code(b.sides[r]), ts_ms: t };
                    assert!(reference.push(&trade, &mut ref_candles).is_ok());
                }
            }
            assert_eq!(pushed.pushed, kept.len());
            assert_eq!(pushed.outcome.candles, ref_candles, "skip {skip} from {from:?} to {to:?}");
            assert_eq!(pushed.cursor_ms, kept.iter().map(|&r| b.ts_ms[r as usize]).reduce(f64::max));
            assert_eq!((0..pushed.pushed as u32).map(|r| pushed.batch_row(r)).collect::<Vec<_>>(), kept);
            assert_eq!(agg.snapshot(), reference.snapshot());
        }
    }

    #[test]
    fn keys_are_the_aggregators_keys_of_the_ids() {
        for (format, file_key, text) in [
            (CsvFormat::KrakenHistory, "kraken_XBTUSD_history.csv", "1561939203,10,1\n1561939204,10,1\n1561939205,11,2\n"),
            (CsvFormat::Binance, "b", "1,2,1723161240000,x,3735683259,1,1,true\n1,2,1723161240001,x,007,1,1,false\n1,2,1723161240002,x,99999999999999999999,1,1,false\n"),
            (CsvFormat::KrakenHistory, "", "1561939203,10,1\n"),
        ] {
            let mut p = TradeCsvParser::new(Some("BTC/USD"), file_key);
            p.push(format!("header\n{text}").as_bytes()).unwrap_or(());
            p.end();
            assert!(p.first_line().ok().flatten().is_some());
            p.set_format(format);
            assert_eq!(p.next(100, MAX_TRADE_TS_MS), Ok(Stop::End));
            let b = p.batch();
            assert_eq!(b.len(), text.lines().count());
            for r in 0..b.len() {
                assert_eq!(Ok(b.keys[r]), crate::TradeIdIn::Str(b.id(r)).key(), "{}", b.id(r));
            }
        }
    }

    #[test]
    fn numbers_as_the_typescript_reader_reads_them() {
        assert_eq!(positive(b"10749.4"), Some(10749.4));
        assert_eq!(positive(b"+.5"), Some(0.5));
        assert_eq!(positive(b"1."), Some(1.0));
        assert_eq!(positive(b"2E-3"), Some(0.002));
        assert_eq!(positive(b" \t1.5\x0c "), Some(1.5));
        assert_eq!(whole_ms(b" 17\t"), Some(17));
        assert_eq!(decimal_seconds_ms(b"  1561939203.5 "), Some(1_561_939_203_500));
        for bad in [&b"0"[..], b"-1", b"1e400", b"1e-400", b"", b".", b"1e", b"0x10", b" 1 x", b"\xc2\xa01", b"1..2", b"NaN", b"Infinity"] {
            assert_eq!(positive(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        // The fast path against Rust's parse (correctly rounded) on many decimals.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 15 + 1) as usize;
            let m = x % 10u64.pow(digits as u32);
            let text = format!("{m:0digits$}");
            let point = (x >> 40) as usize % (digits + 1);
            let s = format!("{}.{}", &text[..point], &text[point..]);
            let want: f64 = s.parse().unwrap_or(f64::NAN);
            assert_eq!(positive(s.as_bytes()), (want > 0.0).then_some(want), "{s}");
        }
        assert_eq!(decimal_seconds_ms(b"1561939203.17299"), Some(1_561_939_203_172));
        assert_eq!(decimal_seconds_ms(b"1561939203."), Some(1_561_939_203_000));
        assert_eq!(decimal_seconds_ms(b"1561939203"), Some(1_561_939_203_000));
        assert_eq!(decimal_seconds_ms(b".5"), None);
        assert_eq!(decimal_seconds_ms(b"1.5e3"), None);
        assert_eq!(whole_ms(b"0017"), Some(17));
        assert_eq!(whole_ms(b"1234567890123456"), None);
        assert_eq!(whole_us(b"1309000000000001"), Some(1_309_000_000_000_001));
        assert_eq!(whole_us(b"9007199254740993"), None);
        let mut s = String::new();
        push_decimal(&mut s, 0);
        push_decimal(&mut s, 18_446_744_073_709_551_615);
        assert_eq!(s, "018446744073709551615");
    }

    #[test]
    fn a_carriage_return_at_the_end_of_a_chunk_waits_for_the_next_byte() {
        let mut p = TradeCsvParser::new(Some("BTC/USD"), "k");
        p.push(b"1,2,3\r").unwrap_or(());
        assert_eq!(p.first_line(), Ok(None));
        p.push(b"\n1561939203,10,1\r").unwrap_or(());
        assert_eq!(p.first_line().ok().flatten().as_deref(), Some("1,2,3"));
        p.set_format(CsvFormat::KrakenHistory);
        assert_eq!(p.next(10, MAX_TRADE_TS_MS), Ok(Stop::NeedInput));
        p.push(b"1561939204.5,11,2").unwrap_or(());
        p.end();
        let (rows, slow) = all(&mut p);
        assert!(slow.is_empty());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], ("k:1".to_owned(), 11.0, 2.0, 0, 1_561_939_204_500.0));
    }

    #[test]
    fn rows_past_the_limits_go_to_the_caller() {
        let mut p = TradeCsvParser::new(Some("BTC/USD"), "k");
        p.push(b"id,price,amount,type\n1561939203000000,10,1,x\n32503680000001000,10,1,x\n").unwrap_or(());
        p.end();
        assert!(p.first_line().ok().flatten().is_some());
        p.set_format(CsvFormat::Mtgox);
        assert_eq!(p.next(10, 1_561_939_202_999), Ok(Stop::Slow("1561939203000000,10,1,x".into())));
        let (rows, slow) = all(&mut p);
        assert!(rows.is_empty());
        assert_eq!(slow.len(), 1);
        // Without a valid pair every row goes to the caller.
        let mut q = TradeCsvParser::new(Some("btc/usd"), "k");
        q.push(b"1561939203,10,1\n1561939204,10,1\n").unwrap_or(());
        q.end();
        assert!(q.first_line().ok().flatten().is_some());
        q.set_format(CsvFormat::KrakenHistory);
        assert_eq!(q.next(10, MAX_TRADE_TS_MS), Ok(Stop::Slow("1561939204,10,1".into())));
        assert_eq!(q.push(b"1"), Err(CsvError::Ended));
        assert_eq!(q.next(10, MAX_TRADE_TS_MS), Ok(Stop::End));
    }
}
