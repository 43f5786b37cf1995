//! Moving average convergence/divergence.

use crate::ring::Ring;
use crate::{check_period, Ema, Indicator, IndicatorError};

/// One MACD output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdOutput {
    /// Fast EMA minus slow EMA.
    pub line: f64,
    /// EMA of the line over `signal` values.
    pub signal: f64,
    /// `line - signal`.
    pub hist: f64,
}

/// MACD (TA-Lib `MACD`), with TA-Lib's alignment.
///
/// If `slow < fast` the two are swapped (as TA-Lib does). Both EMAs are
/// SMA-seeded at the same bar, index `slow - 1`: the slow EMA with the mean
/// of the first `slow` prices, the fast EMA with the mean of the last `fast`
/// prices up to that bar (TA-Lib starts the fast EMA late so both line up).
/// The signal EMA runs over the line from that bar on, SMA-seeded. Warm-up:
/// `slow + signal - 2` inputs give `None`; the line, signal and histogram are
/// all reported from then on (TA-Lib lookback `slow - 1 + signal - 1`).
#[derive(Debug, Clone)]
pub struct Macd {
    fast_period: usize,
    slow_period: usize,
    recent: Ring,
    count: usize,
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

impl Macd {
    /// `fast`, `slow` in `2..=100_000`, `signal` in `1..=100_000`.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        let fast = check_period("fast", fast, 2)?;
        let slow = check_period("slow", slow, 2)?;
        let signal = check_period("signal", signal, 1)?;
        let (fast, slow) = if slow < fast { (slow, fast) } else { (fast, slow) };
        Ok(Self {
            fast_period: fast,
            slow_period: slow,
            recent: Ring::new(fast),
            count: 0,
            fast: Ema::new(fast)?,
            slow: Ema::new(slow)?,
            signal: Ema::new(signal)?,
        })
    }
}

impl Indicator for Macd {
    type Input = f64;
    type Output = MacdOutput;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<MacdOutput> {
        let slow = self.slow.update(x);
        let fast = if self.count < self.slow_period {
            self.count += 1;
            self.recent.push(x);
            if self.count == self.slow_period {
                // Seed the fast EMA with the mean of the last `fast` prices,
                // summed oldest first as TA-Lib does.
                let mut sum = 0.0;
                let slots = self.recent.slots();
                let head = self.count % self.fast_period;
                for i in 0..self.fast_period {
                    sum += slots[(head + i) % self.fast_period];
                }
                let seed = sum / self.fast_period as f64;
                self.fast.seed(seed);
                Some(seed)
            } else {
                None
            }
        } else {
            Some(self.fast.update(x).unwrap_or(f64::NAN))
        };
        let (fast, slow) = (fast?, slow?);
        let line = fast - slow;
        let signal = self.signal.update(line)?;
        Some(MacdOutput { line, signal, hist: line - signal })
    }

    fn is_ready(&self) -> bool {
        self.signal.is_ready()
    }

    fn reset(&mut self) {
        self.recent.clear();
        self.count = 0;
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
    }
}
