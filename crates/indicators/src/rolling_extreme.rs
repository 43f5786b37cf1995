//! Rolling maximum / minimum over a fixed window (monotonic deque in a ring).

/// Rolling max (or min) of the last `period` values, amortised O(1) per
/// update, memory `period` slots. The result is the exact max/min, so it is
/// bit-identical to TA-Lib's rescanning approach.
#[derive(Debug, Clone)]
pub(crate) struct RollingExtreme {
    is_max: bool,
    period: usize,
    // Deque of (sequence number, value) in a ring of `period` slots.
    idx: Vec<u64>,
    val: Vec<f64>,
    front: usize,
    len: usize,
    seq: u64,
}

impl RollingExtreme {
    pub(crate) fn new(period: usize, is_max: bool) -> Self {
        let cap = period.max(1);
        Self { is_max, period: cap, idx: vec![0; cap], val: vec![0.0; cap], front: 0, len: 0, seq: 0 }
    }

    /// Pushes `x`; returns the extreme over the last `period` values (fewer
    /// during warm-up).
    #[inline]
    pub(crate) fn push(&mut self, x: f64) -> f64 {
        let cap = self.period;
        // Drop the expired front.
        if self.len > 0 && self.idx[self.front] + cap as u64 <= self.seq {
            self.front = (self.front + 1) % cap;
            self.len -= 1;
        }
        // Drop dominated back values (ties: keep the newest, like TA-Lib's
        // `>=` / `<=` updates; the value is the same either way).
        while self.len > 0 {
            let back = (self.front + self.len - 1) % cap;
            let v = self.val[back];
            let dominated = if self.is_max { v <= x } else { v >= x };
            if !dominated {
                break;
            }
            self.len -= 1;
        }
        let slot = (self.front + self.len) % cap;
        self.idx[slot] = self.seq;
        self.val[slot] = x;
        self.len += 1;
        self.seq += 1;
        self.val[self.front]
    }

    pub(crate) fn reset(&mut self) {
        self.front = 0;
        self.len = 0;
        self.seq = 0;
    }
}
