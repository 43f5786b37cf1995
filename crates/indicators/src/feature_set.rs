//! A named set of features computed from one candle at a time.
//!
//! # Feature name grammar
//!
//! ```text
//! feature := family ("_" param)* ["_" output]
//! param   := decimal integer (periods) | decimal number (the Bollinger multiplier)
//! ```
//!
//! | name | parameters | outputs | indicator |
//! | --- | --- | --- | --- |
//! | `sma_N`, `ema_N`, `wma_N` | period | | moving averages of close |
//! | `rsi_N` | period (>= 2) | | [`crate::Rsi`] |
//! | `macd_F_S_G_<out>` | fast, slow, signal | `line`, `signal`, `hist` | [`crate::Macd`] |
//! | `bb_N_K_<out>` | period (>= 2), multiplier K (both sides) | `upper`, `middle`, `lower`, `width`, `pctb` | [`crate::BollingerBands`] |
//! | `atr_N`, `natr_N` | period | | [`crate::Atr`], [`crate::Natr`] |
//! | `obv` | | | [`crate::Obv`] |
//! | `stoch_K_SK_SD_<out>` | fast %K, slow %K, slow %D | `k`, `d` | [`crate::Stochastic`] |
//! | `stochrsi_N_K_D_<out>` | RSI period, fast %K, fast %D | `k`, `d` | [`crate::StochasticRsi`] |
//! | `adx_N`, `plus_di_N`, `minus_di_N` | period | | [`crate::Adx`], [`crate::DirectionalIndex`] |
//! | `cci_N`, `mfi_N`, `willr_N`, `roc_N` | period | | [`crate::Cci`], [`crate::Mfi`], [`crate::WilliamsR`], [`crate::Roc`] |
//! | `vwap_N` | period | | [`crate::RollingVwap`] |
//! | `log_return_N` | period | | [`crate::LogReturn`] of close |
//! | `realized_vol_N` | period | | [`crate::RealizedVolatility`] of close |
//!
//! Examples: `rsi_14`, `macd_12_26_9_hist`, `bb_20_2_width`, `bb_20_2.5_pctb`,
//! `stoch_14_3_3_k`, `plus_di_14`, `log_return_1`, `realized_vol_30`.
//! Names sharing an indicator (e.g. `macd_12_26_9_line` and
//! `macd_12_26_9_hist`) share one instance. Price inputs are the close.

use crate::{
    Adx, Atr, Bar, BollingerBands, BollingerOutput, Cci, DirectionalIndex, DirectionalSide, Ema, Indicator,
    IndicatorError, LogReturn, Macd, MacdOutput, Mfi, Natr, Obv, RealizedVolatility, Roc, RollingVwap, Rsi, Sma,
    Stochastic, StochasticOutput, StochasticRsi, WilliamsR, Wma,
};

/// A parsed indicator configuration (one instance in a feature set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureSpec {
    /// `sma_N`
    Sma(usize),
    /// `ema_N`
    Ema(usize),
    /// `wma_N`
    Wma(usize),
    /// `rsi_N`
    Rsi(usize),
    /// `macd_F_S_G`
    Macd(usize, usize, usize),
    /// `bb_N_K`
    Bollinger(usize, f64),
    /// `atr_N`
    Atr(usize),
    /// `natr_N`
    Natr(usize),
    /// `obv`
    Obv,
    /// `stoch_K_SK_SD`
    Stoch(usize, usize, usize),
    /// `stochrsi_N_K_D`
    StochRsi(usize, usize, usize),
    /// `adx_N`
    Adx(usize),
    /// `plus_di_N`
    PlusDi(usize),
    /// `minus_di_N`
    MinusDi(usize),
    /// `cci_N`
    Cci(usize),
    /// `mfi_N`
    Mfi(usize),
    /// `roc_N`
    Roc(usize),
    /// `willr_N`
    WillR(usize),
    /// `vwap_N`
    Vwap(usize),
    /// `log_return_N`
    LogReturn(usize),
    /// `realized_vol_N`
    RealizedVol(usize),
}

/// (family, number of parameters, output names).
const FAMILIES: &[(&str, usize, &[&str])] = &[
    ("sma", 1, &[]),
    ("ema", 1, &[]),
    ("wma", 1, &[]),
    ("rsi", 1, &[]),
    ("macd", 3, &["line", "signal", "hist"]),
    ("bb", 2, &["upper", "middle", "lower", "width", "pctb"]),
    ("atr", 1, &[]),
    ("natr", 1, &[]),
    ("obv", 0, &[]),
    ("stoch", 3, &["k", "d"]),
    ("stochrsi", 3, &["k", "d"]),
    ("adx", 1, &[]),
    ("plus_di", 1, &[]),
    ("minus_di", 1, &[]),
    ("cci", 1, &[]),
    ("mfi", 1, &[]),
    ("roc", 1, &[]),
    ("willr", 1, &[]),
    ("vwap", 1, &[]),
    ("log_return", 1, &[]),
    ("realized_vol", 1, &[]),
];

fn bad(name: &str, reason: impl Into<String>) -> IndicatorError {
    IndicatorError::InvalidFeatureName { name: name.to_string(), reason: reason.into() }
}

fn parse_int(name: &str, token: &str) -> Result<usize, IndicatorError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(name, format!("parameter {token:?} is not a whole number")));
    }
    token.parse::<usize>().map_err(|_| bad(name, format!("parameter {token:?} is too large")))
}

/// Parses one feature name into its indicator configuration and output index.
pub fn parse_feature(name: &str) -> Result<(FeatureSpec, usize), IndicatorError> {
    let family = FAMILIES
        .iter()
        .filter(|(f, _, _)| name == *f || name.strip_prefix(f).is_some_and(|r| r.starts_with('_')))
        .max_by_key(|(f, _, _)| f.len());
    let Some(&(family, n_params, outputs)) = family else {
        return Err(bad(name, "unknown indicator (see the feature name grammar)"));
    };
    let rest = &name[family.len()..];
    let tokens: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest[1..].split('_').collect() };
    let expected = n_params + usize::from(!outputs.is_empty());
    if tokens.len() != expected {
        let shape = match (n_params, outputs.is_empty()) {
            (0, _) => family.to_string(),
            (n, true) => format!("{family}{}", "_<n>".repeat(n)),
            (n, false) => format!("{family}{}_<{}>", "_<n>".repeat(n), outputs.join("|")),
        };
        return Err(bad(name, format!("expected {shape}")));
    }
    let output = match tokens.last() {
        Some(last) if !outputs.is_empty() => outputs
            .iter()
            .position(|o| o == last)
            .ok_or_else(|| bad(name, format!("unknown output {last:?}, expected one of {}", outputs.join(", "))))?,
        _ => 0,
    };
    let int = |i: usize| -> Result<usize, IndicatorError> { parse_int(name, tokens.get(i).copied().unwrap_or("")) };
    let spec = match family {
        "sma" => FeatureSpec::Sma(int(0)?),
        "ema" => FeatureSpec::Ema(int(0)?),
        "wma" => FeatureSpec::Wma(int(0)?),
        "rsi" => FeatureSpec::Rsi(int(0)?),
        "macd" => FeatureSpec::Macd(int(0)?, int(1)?, int(2)?),
        "bb" => {
            let k_token = tokens.get(1).copied().unwrap_or("");
            let valid = !k_token.is_empty()
                && k_token.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && k_token.bytes().filter(|&b| b == b'.').count() <= 1;
            let k: f64 = if valid { k_token.parse().map_err(|_| bad(name, "bad multiplier"))? } else {
                return Err(bad(name, format!("multiplier {k_token:?} is not a decimal number like 2 or 2.5")));
            };
            FeatureSpec::Bollinger(int(0)?, k)
        }
        "atr" => FeatureSpec::Atr(int(0)?),
        "natr" => FeatureSpec::Natr(int(0)?),
        "obv" => FeatureSpec::Obv,
        "stoch" => FeatureSpec::Stoch(int(0)?, int(1)?, int(2)?),
        "stochrsi" => FeatureSpec::StochRsi(int(0)?, int(1)?, int(2)?),
        "adx" => FeatureSpec::Adx(int(0)?),
        "plus_di" => FeatureSpec::PlusDi(int(0)?),
        "minus_di" => FeatureSpec::MinusDi(int(0)?),
        "cci" => FeatureSpec::Cci(int(0)?),
        "mfi" => FeatureSpec::Mfi(int(0)?),
        "roc" => FeatureSpec::Roc(int(0)?),
        "willr" => FeatureSpec::WillR(int(0)?),
        "vwap" => FeatureSpec::Vwap(int(0)?),
        "log_return" => FeatureSpec::LogReturn(int(0)?),
        _ => FeatureSpec::RealizedVol(int(0)?),
    };
    Ok((spec, output))
}

/// One live indicator of a feature set.
#[derive(Debug, Clone)]
enum Node {
    Sma(Sma),
    Ema(Ema),
    Wma(Wma),
    Rsi(Rsi),
    Macd(Macd),
    Bollinger(BollingerBands),
    Atr(Atr),
    Natr(Natr),
    Obv(Obv),
    Stoch(Stochastic),
    StochRsi(StochasticRsi),
    Adx(Adx),
    Di(DirectionalIndex),
    Cci(Cci),
    Mfi(Mfi),
    Roc(Roc),
    WillR(WilliamsR),
    Vwap(RollingVwap),
    LogReturn(LogReturn),
    RealizedVol(RealizedVolatility),
}

// One indicator output as a fixed array of values (NaN while warming up).
// Streaming (`Node::update`) and batch (`Node::fold`) both go through these,
// so the two paths lay out the same values in the same slots.

#[inline(always)]
fn scalar(v: Option<f64>) -> [f64; 1] {
    [v.unwrap_or(f64::NAN)]
}

#[inline(always)]
fn macd_values(v: Option<MacdOutput>) -> [f64; 3] {
    v.map_or([f64::NAN; 3], |m| [m.line, m.signal, m.hist])
}

#[inline(always)]
fn bollinger_values(v: Option<BollingerOutput>) -> [f64; 5] {
    v.map_or([f64::NAN; 5], |b| [b.upper, b.middle, b.lower, b.width, b.percent_b])
}

#[inline(always)]
fn stoch_values(v: Option<StochasticOutput>) -> [f64; 2] {
    v.map_or([f64::NAN; 2], |s| [s.k, s.d])
}

#[inline(always)]
fn put<const W: usize>(out: &mut [f64], values: [f64; W]) {
    out.iter_mut().zip(values).for_each(|(o, v)| *o = v);
}

/// Where [`Node::fold`] writes one indicator's outputs: a row-major
/// `rows x width` matrix, each row getting the indicator's output `slot` at
/// `col` for each `(col, slot)` of `targets`.
struct Sink<'o> {
    out: &'o mut [f64],
    width: usize,
    targets: &'o [(usize, usize)],
}

/// The batch loop for one concrete indicator: `update` over the inputs of
/// `rows` in order (the streaming update itself, monomorphised and inlined),
/// each output spread by `values` and written to `sink`. One function per
/// indicator type (not inlined into the dispatch), a local copy of the
/// indicator and no call in the loop: the loop gets its own registers and the
/// indicator's scalar state lives in them.
#[inline(never)]
fn fold<T, I, const W: usize>(
    indicator: &I,
    rows: impl Iterator<Item = T>,
    values: impl Fn(Option<I::Output>) -> [f64; W],
    sink: Sink<'_>,
) where
    I: Indicator<Input = T> + Clone,
{
    // A local copy (the caller's is a fresh, reset instance): its address
    // never escapes, so the optimiser can keep its scalar state in registers.
    let mut indicator = indicator.clone();
    let Sink { out, width, targets } = sink;
    // Slots are below W by construction; clamping lets the compiler drop the
    // per-row index check.
    let clamp = |slot: usize| slot.min(W - 1);
    match *targets {
        [(_, slot)] if width == 1 => {
            let slot = clamp(slot);
            for (cell, x) in out.iter_mut().zip(rows) {
                *cell = values(indicator.update(x))[slot];
            }
        }
        [(col, slot)] => {
            let slot = clamp(slot);
            for (row, x) in out.chunks_exact_mut(width).zip(rows) {
                row[col] = values(indicator.update(x))[slot];
            }
        }
        _ => {
            for (row, x) in out.chunks_exact_mut(width).zip(rows) {
                let v = values(indicator.update(x));
                for &(col, slot) in targets {
                    row[col] = v[clamp(slot)];
                }
            }
        }
    }
}

/// [`fold`] for close-only indicators, reading the close column directly.
#[inline(always)]
fn fold_close<I, const W: usize>(
    indicator: &I,
    columns: &Columns<'_>,
    values: impl Fn(Option<I::Output>) -> [f64; W],
    sink: Sink<'_>,
) where
    I: Indicator<Input = f64> + Clone,
{
    fold(indicator, columns.close.iter().copied(), values, sink);
}

/// [`fold`] for bar indicators: the bars are read from the columns (no
/// per-row bounds checks; the lengths were checked by the caller).
#[inline(always)]
fn fold_bars<I, const W: usize>(
    indicator: &I,
    columns: &Columns<'_>,
    values: impl Fn(Option<I::Output>) -> [f64; W],
    sink: Sink<'_>,
) where
    I: Indicator<Input = Bar> + Clone,
{
    let ohlcv = columns.open.iter().zip(columns.high).zip(columns.low).zip(columns.close).zip(columns.volume);
    match columns.vwap {
        None => fold(
            indicator,
            ohlcv.map(|((((&open, &high), &low), &close), &volume)| Bar {
                open,
                high,
                low,
                close,
                volume,
                vwap: f64::NAN,
            }),
            values,
            sink,
        ),
        Some(vwap) => fold(
            indicator,
            ohlcv
                .zip(vwap)
                .map(|(((((&open, &high), &low), &close), &volume), &vwap)| Bar { open, high, low, close, volume, vwap }),
            values,
            sink,
        ),
    }
}

/// A specialised batch kernel for `node`, when it has one and its output is
/// the whole matrix (a set of one single-output feature: SMA, EMA, WMA, RSI,
/// ROC, OBV, MFI, CCI, PLUS_DI, MINUS_DI, WILLR; and a set of STOCH outputs alone): it writes every row itself, bit-identical to [`fold`]
/// over `update` (each kernel's doc; tests/batch_kernels.rs compares them on
/// random inputs and periods).
#[derive(Clone, Copy, PartialEq)]
enum Kernel {
    /// None: the caller folds.
    None,
    /// Reads the close and the other columns marked (high, low, volume) and
    /// flags any non-finite value of them while it runs (a flag may also be
    /// a finite overflow: the caller then checks the columns exactly and,
    /// when they pass, recomputes the rows with the fold, so a kernel need
    /// only match the fold on rows whose intermediate values are finite).
    Checked { high_low: bool, volume: bool },
}

impl Kernel {
    fn of(nodes: &[Node], width: usize) -> Self {
        match nodes {
            [Node::Sma(_) | Node::Ema(_) | Node::Wma(_) | Node::Rsi(_) | Node::Roc(_)] if width == 1 => {
                Self::Checked { high_low: false, volume: false }
            }
            [Node::Obv(_)] if width == 1 => Self::Checked { high_low: false, volume: true },
            [Node::Mfi(_)] if width == 1 => Self::Checked { high_low: true, volume: true },
            [Node::Cci(_) | Node::Di(_) | Node::WillR(_)] if width == 1 => {
                Self::Checked { high_low: true, volume: false }
            }
            [Node::Stoch(_)] => Self::Checked { high_low: true, volume: false },
            _ => Self::None,
        }
    }

    /// Runs the kernel of `node` (the set's only indicator) into `out`, a
    /// row-major matrix whose column `c` is the node's output `picks[c]`
    /// (one column for all but STOCH); false when it saw a value that may be
    /// non-finite.
    fn run(node: &Node, columns: &Columns<'_>, picks: &[usize], out: &mut [f64]) -> bool {
        let x = columns.close;
        match node {
            Node::Stoch(i) => i.fill(columns.high, columns.low, x, picks, out),
            Node::Sma(i) => i.fill(x, out),
            Node::Ema(i) => i.fill(x, out),
            Node::Wma(i) => i.fill(x, out),
            Node::Rsi(i) => i.fill(x, out),
            Node::Roc(i) => i.fill(x, out),
            Node::Obv(_) => Obv::fill(x, columns.volume, out),
            Node::Mfi(i) => i.fill(columns.high, columns.low, x, columns.volume, out),
            Node::Cci(i) => i.fill(columns.high, columns.low, x, out),
            Node::Di(i) => i.fill(columns.high, columns.low, x, out),
            Node::WillR(i) => i.fill(columns.high, columns.low, x, out),
            _ => true,
        }
    }
}

impl Node {
    fn new(spec: FeatureSpec) -> Result<Self, IndicatorError> {
        Ok(match spec {
            FeatureSpec::Sma(n) => Self::Sma(Sma::new(n)?),
            FeatureSpec::Ema(n) => Self::Ema(Ema::new(n)?),
            FeatureSpec::Wma(n) => Self::Wma(Wma::new(n)?),
            FeatureSpec::Rsi(n) => Self::Rsi(Rsi::new(n)?),
            FeatureSpec::Macd(f, s, g) => Self::Macd(Macd::new(f, s, g)?),
            FeatureSpec::Bollinger(n, k) => Self::Bollinger(BollingerBands::new(n, k, k)?),
            FeatureSpec::Atr(n) => Self::Atr(Atr::new(n)?),
            FeatureSpec::Natr(n) => Self::Natr(Natr::new(n)?),
            FeatureSpec::Obv => Self::Obv(Obv::new()),
            FeatureSpec::Stoch(k, sk, sd) => Self::Stoch(Stochastic::new(k, sk, sd)?),
            FeatureSpec::StochRsi(n, k, d) => Self::StochRsi(StochasticRsi::new(n, k, d)?),
            FeatureSpec::Adx(n) => Self::Adx(Adx::new(n)?),
            FeatureSpec::PlusDi(n) => Self::Di(DirectionalIndex::new(DirectionalSide::Plus, n)?),
            FeatureSpec::MinusDi(n) => Self::Di(DirectionalIndex::new(DirectionalSide::Minus, n)?),
            FeatureSpec::Cci(n) => Self::Cci(Cci::new(n)?),
            FeatureSpec::Mfi(n) => Self::Mfi(Mfi::new(n)?),
            FeatureSpec::Roc(n) => Self::Roc(Roc::new(n)?),
            FeatureSpec::WillR(n) => Self::WillR(WilliamsR::new(n)?),
            FeatureSpec::Vwap(n) => Self::Vwap(RollingVwap::new(n)?),
            FeatureSpec::LogReturn(n) => Self::LogReturn(LogReturn::new(n)?),
            FeatureSpec::RealizedVol(n) => Self::RealizedVol(RealizedVolatility::new(n)?),
        })
    }

    fn width(spec: FeatureSpec) -> usize {
        match spec {
            FeatureSpec::Macd(..) => 3,
            FeatureSpec::Bollinger(..) => 5,
            FeatureSpec::Stoch(..) | FeatureSpec::StochRsi(..) => 2,
            _ => 1,
        }
    }

    #[inline]
    fn update(&mut self, bar: &Bar, out: &mut [f64]) {
        let c = bar.close;
        match self {
            Self::Sma(i) => put(out, scalar(i.update(c))),
            Self::Ema(i) => put(out, scalar(i.update(c))),
            Self::Wma(i) => put(out, scalar(i.update(c))),
            Self::Rsi(i) => put(out, scalar(i.update(c))),
            Self::Macd(i) => put(out, macd_values(i.update(c))),
            Self::Bollinger(i) => put(out, bollinger_values(i.update(c))),
            Self::Atr(i) => put(out, scalar(i.update(*bar))),
            Self::Natr(i) => put(out, scalar(i.update(*bar))),
            Self::Obv(i) => put(out, scalar(i.update(*bar))),
            Self::Stoch(i) => put(out, stoch_values(i.update(*bar))),
            Self::StochRsi(i) => put(out, stoch_values(i.update(c))),
            Self::Adx(i) => put(out, scalar(i.update(*bar))),
            Self::Di(i) => put(out, scalar(i.update(*bar))),
            Self::Cci(i) => put(out, scalar(i.update(*bar))),
            Self::Mfi(i) => put(out, scalar(i.update(*bar))),
            Self::Roc(i) => put(out, scalar(i.update(c))),
            Self::WillR(i) => put(out, scalar(i.update(*bar))),
            Self::Vwap(i) => put(out, scalar(i.update(*bar))),
            Self::LogReturn(i) => put(out, scalar(i.update(c))),
            Self::RealizedVol(i) => put(out, scalar(i.update(c))),
        }
    }

    /// [`Self::update`] over whole columns: dispatches once, then runs the
    /// concrete indicator's own `update` in a tight loop (see [`fold`]), so
    /// each indicator sees exactly the inputs, in the order, that streaming
    /// would feed it. Close-only indicators read the close column directly.
    fn fold(&self, columns: &Columns<'_>, sink: Sink<'_>) {
        match self {
            Self::Sma(i) => fold_close(i, columns, scalar, sink),
            Self::Ema(i) => fold_close(i, columns, scalar, sink),
            Self::Wma(i) => fold_close(i, columns, scalar, sink),
            Self::Rsi(i) => fold_close(i, columns, scalar, sink),
            Self::Macd(i) => fold_close(i, columns, macd_values, sink),
            // Width and %B cost two divisions per row; when no feature asks
            // for them, a three-value spread lets the compiler drop them.
            Self::Bollinger(i) if sink.targets.iter().all(|&(_, slot)| slot < 3) => {
                let bands = |v: Option<BollingerOutput>| bollinger_values(v).first_chunk().copied();
                fold_close(i, columns, move |v| bands(v).unwrap_or([f64::NAN; 3]), sink)
            }
            Self::Bollinger(i) => fold_close(i, columns, bollinger_values, sink),
            Self::Atr(i) => fold_bars(i, columns, scalar, sink),
            Self::Natr(i) => fold_bars(i, columns, scalar, sink),
            Self::Obv(i) => fold_bars(i, columns, scalar, sink),
            Self::Stoch(i) => fold_bars(i, columns, stoch_values, sink),
            Self::StochRsi(i) => fold_close(i, columns, stoch_values, sink),
            Self::Adx(i) => fold_bars(i, columns, scalar, sink),
            Self::Di(i) => fold_bars(i, columns, scalar, sink),
            Self::Cci(i) => fold_bars(i, columns, scalar, sink),
            Self::Mfi(i) => fold_bars(i, columns, scalar, sink),
            Self::Roc(i) => fold_close(i, columns, scalar, sink),
            Self::WillR(i) => fold_bars(i, columns, scalar, sink),
            Self::Vwap(i) => fold_bars(i, columns, scalar, sink),
            Self::LogReturn(i) => fold_close(i, columns, scalar, sink),
            Self::RealizedVol(i) => fold_close(i, columns, scalar, sink),
        }
    }

    fn reset(&mut self) {
        match self {
            Self::Sma(i) => i.reset(),
            Self::Ema(i) => i.reset(),
            Self::Wma(i) => i.reset(),
            Self::Rsi(i) => i.reset(),
            Self::Macd(i) => i.reset(),
            Self::Bollinger(i) => i.reset(),
            Self::Atr(i) => i.reset(),
            Self::Natr(i) => i.reset(),
            Self::Obv(i) => i.reset(),
            Self::Stoch(i) => i.reset(),
            Self::StochRsi(i) => i.reset(),
            Self::Adx(i) => i.reset(),
            Self::Di(i) => i.reset(),
            Self::Cci(i) => i.reset(),
            Self::Mfi(i) => i.reset(),
            Self::Roc(i) => i.reset(),
            Self::WillR(i) => i.reset(),
            Self::Vwap(i) => i.reset(),
            Self::LogReturn(i) => i.reset(),
            Self::RealizedVol(i) => i.reset(),
        }
    }
}

/// Columns for [`FeatureSet::batch`]: all the same length; `vwap` optional.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    /// Open prices.
    pub open: &'a [f64],
    /// High prices.
    pub high: &'a [f64],
    /// Low prices.
    pub low: &'a [f64],
    /// Close prices.
    pub close: &'a [f64],
    /// Volumes.
    pub volume: &'a [f64],
    /// Per-bar VWAP, if known.
    pub vwap: Option<&'a [f64]>,
}

/// Many named features from one candle at a time; owns its indicators
/// (`reset` cascades to all of them).
#[derive(Debug, Clone)]
pub struct FeatureSet {
    names: Vec<String>,
    nodes: Vec<Node>,
    /// Offset of each node's outputs in `scratch`.
    offsets: Vec<usize>,
    /// Index in `scratch` of each feature.
    picks: Vec<usize>,
    scratch: Vec<f64>,
}

impl FeatureSet {
    /// Builds a set from feature names (see the module doc for the grammar).
    /// Rejects an empty list, duplicate names and invalid names/parameters.
    pub fn new<S: AsRef<str>>(names: &[S]) -> Result<Self, IndicatorError> {
        if names.is_empty() {
            return Err(bad("", "the feature list is empty"));
        }
        let mut specs: Vec<FeatureSpec> = Vec::new();
        let mut nodes = Vec::new();
        let mut offsets = Vec::new();
        let mut picks = Vec::with_capacity(names.len());
        let mut width = 0;
        let mut owned: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            if owned.iter().any(|n| n == name) {
                return Err(bad(name, "listed twice"));
            }
            let (spec, output) = parse_feature(name)?;
            let node = match specs.iter().position(|s| *s == spec) {
                Some(i) => i,
                None => {
                    nodes.push(Node::new(spec).map_err(|e| match e {
                        IndicatorError::InvalidParameter { name: p, value, reason, min } => bad(
                            name,
                            format!("parameter {p} = {value} is {reason} (minimum {min}, maximum {})", crate::MAX_PERIOD),
                        ),
                        other => other,
                    })?);
                    specs.push(spec);
                    offsets.push(width);
                    width += Node::width(spec);
                    nodes.len() - 1
                }
            };
            picks.push(offsets[node] + output);
            owned.push(name.to_string());
        }
        Ok(Self { names: owned, nodes, offsets, picks, scratch: vec![f64::NAN; width] })
    }

    /// Feature names, in row order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of features (row length).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never true (an empty set is rejected); for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Feeds one bar and writes one row (NaN while a feature warms up).
    /// `row.len()` must equal [`Self::len`]; extra slots are left alone.
    /// Inputs are not checked (see [`Self::update_checked`]).
    #[inline]
    pub fn update(&mut self, bar: &Bar, row: &mut [f64]) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let start = self.offsets[i];
            let end = self.offsets.get(i + 1).copied().unwrap_or(self.scratch.len());
            node.update(bar, &mut self.scratch[start..end]);
        }
        for (slot, &pick) in row.iter_mut().zip(&self.picks) {
            *slot = self.scratch[pick];
        }
    }

    /// [`Self::update`] that first rejects a bar whose open, high, low, close
    /// or volume is NaN or infinite, or whose vwap is infinite (NaN vwap
    /// means unknown). A rejected bar leaves the state untouched.
    pub fn update_checked(&mut self, bar: &Bar, row: &mut [f64]) -> Result<(), IndicatorError> {
        check_bar(bar)?;
        self.update(bar, row);
        Ok(())
    }

    /// Forgets all inputs (cascades to every indicator).
    pub fn reset(&mut self) {
        self.nodes.iter_mut().for_each(Node::reset);
        self.scratch.iter_mut().for_each(|v| *v = f64::NAN);
    }

    /// Runs a fresh copy of this set (state reset, this instance untouched)
    /// over columns and returns a row-major `rows x len()` matrix; each
    /// indicator folds its own streaming `update` over the bars (or runs a
    /// batch kernel proven bit-identical to that fold), so the result is
    /// bit-identical to streaming.
    ///
    /// Every bar is checked as [`Self::update_checked`] checks it, and a bad
    /// one fails the call with the error streaming gives for the first bad
    /// bar, no matrix is returned and this instance is unchanged.
    pub fn batch(&self, columns: &Columns<'_>) -> Result<Vec<f64>, IndicatorError> {
        // Every cell is written by batch_into (each column belongs to exactly
        // one indicator, which writes every row), so the matrix starts zeroed:
        // a fresh zeroed allocation needs no fill pass.
        let mut out = vec![0.0; columns.close.len() * self.len()];
        self.batch_into(columns, &mut out)?;
        Ok(out)
    }

    /// [`Self::batch`] into a caller-provided row-major matrix: `out.len()`
    /// must be `rows * len()` (else [`IndicatorError::LengthMismatch`] for
    /// column `out`, `out` untouched). After a
    /// [`IndicatorError::NonFiniteInput`] error `out`'s contents are
    /// unspecified (a kernel may have written rows before the bad value).
    ///
    /// Columns that are the same slice as `close` (same address and length)
    /// are checked once: a caller whose set reads only some columns can pass
    /// the close in place of the others (the Node binding does this for the
    /// columns a caller leaves out; see [`Self::columns_read`]).
    pub fn batch_into(&self, columns: &Columns<'_>, out: &mut [f64]) -> Result<(), IndicatorError> {
        let n = columns.close.len();
        let lens = [
            ("open", columns.open.len()),
            ("high", columns.high.len()),
            ("low", columns.low.len()),
            ("volume", columns.volume.len()),
            ("vwap", columns.vwap.map_or(n, <[f64]>::len)),
        ];
        if let Some(&(column, len)) = lens.iter().find(|(_, len)| *len != n) {
            return Err(IndicatorError::LengthMismatch { column, len, expected: n });
        }
        let width = self.picks.len();
        if out.len() != n * width {
            return Err(IndicatorError::LengthMismatch { column: "out", len: out.len(), expected: n * width });
        }
        let mut fresh = self.clone();
        fresh.reset();
        let Self { nodes, offsets, picks, scratch, .. } = fresh;
        let kernel = Kernel::of(&nodes, width);
        // One read-only pass over each distinct column (branch-free,
        // vectorised; see all_finite), except those the kernel checks in its
        // own loop; the error for the first bad bar only when there is one.
        if !columns_valid(columns, kernel) {
            check_rows(columns)?;
        }
        if let (Kernel::Checked { .. }, [node]) = (kernel, &nodes[..]) {
            if Kernel::run(node, columns, &picks, out) {
                return Ok(());
            }
            // A bad value (the first one's error), or a finite overflow in
            // the kernel's check: no error, and the fold below recomputes
            // the rows (the kernel's may differ where a value overflowed).
            check_rows(columns)?;
        }
        // Indicators are independent, so the fold runs indicator by indicator
        // (same update calls, same order per indicator, better locality).
        for (k, node) in nodes.iter().enumerate() {
            let start = offsets[k];
            let end = offsets.get(k + 1).copied().unwrap_or(scratch.len());
            let targets: Vec<(usize, usize)> = picks
                .iter()
                .enumerate()
                .filter(|(_, &p)| (start..end).contains(&p))
                .map(|(col, &p)| (col, p - start))
                .collect();
            node.fold(columns, Sink { out: &mut *out, width, targets: &targets });
        }
        Ok(())
    }

    /// The candle columns this set's indicators read, in the order open,
    /// high, low, close, volume, vwap (close is always read). The others'
    /// values never reach an output.
    pub fn columns_read(&self) -> Vec<&'static str> {
        let mut read = [false, false, false, true, false, false];
        for node in &self.nodes {
            let (h, l, v, w) = match node {
                Node::Atr(_) | Node::Natr(_) | Node::Stoch(_) | Node::Adx(_) | Node::Di(_) | Node::Cci(_) => {
                    (true, true, false, false)
                }
                Node::WillR(_) => (true, true, false, false),
                Node::Mfi(_) => (true, true, true, false),
                Node::Obv(_) => (false, false, true, false),
                Node::Vwap(_) => (true, true, true, true),
                _ => (false, false, false, false),
            };
            read[1] |= h;
            read[2] |= l;
            read[4] |= v;
            read[5] |= w;
        }
        ["open", "high", "low", "close", "volume", "vwap"].iter().zip(read).filter(|(_, r)| *r).map(|(c, _)| *c).collect()
    }
}

/// True when every value of `column` is finite (`infinite_only`: not
/// infinite, NaN allowed). Branch-free over blocks so it vectorises; stops at
/// the first block with a bad value.
fn all_finite(column: &[f64], infinite_only: bool) -> bool {
    column.chunks(1024).all(|block| {
        if infinite_only {
            block.iter().fold(true, |ok, v| ok & !v.is_infinite())
        } else {
            block.iter().fold(true, |ok, v| ok & v.is_finite())
        }
    })
}

/// Whether every bar passes [`check_bar`]: each distinct column once (a
/// column that is the close slice itself is not read again), except the
/// columns `kernel` checks in its own loop.
fn columns_valid(columns: &Columns<'_>, kernel: Kernel) -> bool {
    let close = columns.close;
    let (by_kernel, high_low, volume) = match kernel {
        Kernel::Checked { high_low, volume } => (true, high_low, volume),
        Kernel::None => (false, false, false),
    };
    let distinct = |c: &[f64]| !std::ptr::eq(c, close);
    (by_kernel || all_finite(close, false))
        && [(columns.open, false), (columns.high, high_low), (columns.low, high_low), (columns.volume, volume)]
            .iter()
            .all(|&(c, checked)| checked || !distinct(c) || all_finite(c, false))
        && columns.vwap.is_none_or(|w| !distinct(w) || all_finite(w, true))
}

/// Checks the bars in order with [`check_bar`]: the first bad one's error.
fn check_rows(columns: &Columns<'_>) -> Result<(), IndicatorError> {
    for i in 0..columns.close.len() {
        check_bar(&Bar {
            open: columns.open[i],
            high: columns.high[i],
            low: columns.low[i],
            close: columns.close[i],
            volume: columns.volume[i],
            vwap: columns.vwap.map_or(f64::NAN, |v| v[i]),
        })?;
    }
    Ok(())
}

fn check_bar(bar: &Bar) -> Result<(), IndicatorError> {
    for (field, v) in
        [("open", bar.open), ("high", bar.high), ("low", bar.low), ("close", bar.close), ("volume", bar.volume)]
    {
        if !v.is_finite() {
            return Err(IndicatorError::NonFiniteInput { field });
        }
    }
    if bar.vwap.is_infinite() {
        return Err(IndicatorError::NonFiniteInput { field: "vwap" });
    }
    Ok(())
}
