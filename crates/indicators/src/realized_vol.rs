//! Realized volatility.

use crate::ring::Ring;
use crate::{check_period, Indicator, IndicatorError};

/// Realized volatility over `period` bars: `sqrt(sum of r^2)` over the last
/// `period` one-bar log returns `r = ln(x / x[-1])`, not annualised and not
/// demeaned (not in TA-Lib).
///
/// Warm-up: `period` inputs give `None` (it needs `period + 1` prices).
/// O(1) with a running sum of squares; a negative rounding residue is
/// clamped to 0, and the sum restarts from exact zero whenever the window
/// holds only zero returns (flat prices), so flat stretches give exactly 0.
#[derive(Debug, Clone)]
pub struct RealizedVolatility {
    prev: Option<f64>,
    squares: Ring,
    sum: f64,
    nonzero: usize,
}

impl RealizedVolatility {
    /// `period` in `1..=100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self { prev: None, squares: Ring::new(period), sum: 0.0, nonzero: 0 })
    }
}

impl Indicator for RealizedVolatility {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        let prev = self.prev.replace(x)?;
        let r = (x / prev).ln();
        let sq = r * r;
        if let Some(old) = self.squares.push(sq) {
            self.sum -= old;
            if old != 0.0 {
                self.nonzero -= 1;
            }
        }
        self.sum += sq;
        if sq != 0.0 {
            self.nonzero += 1;
        }
        if self.nonzero == 0 {
            self.sum = 0.0;
        }
        if !self.squares.is_full() {
            return None;
        }
        Some(self.sum.max(0.0).sqrt())
    }

    fn is_ready(&self) -> bool {
        self.squares.is_full()
    }

    fn reset(&mut self) {
        self.prev = None;
        self.squares.clear();
        self.sum = 0.0;
        self.nonzero = 0;
    }
}
