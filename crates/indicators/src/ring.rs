//! A fixed-capacity ring buffer: the only memory an indicator keeps.

/// Ring of `f64` with a capacity fixed at construction.
#[derive(Debug, Clone)]
pub struct Ring {
    buf: Vec<f64>,
    head: usize,
    len: usize,
}

impl Ring {
    /// A ring holding at most `capacity` values (capacity >= 1).
    pub fn new(capacity: usize) -> Self {
        Self { buf: vec![0.0; capacity.max(1)], head: 0, len: 0 }
    }

    /// Appends `x`; returns the value evicted when the ring was full.
    #[inline]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        let cap = self.buf.len();
        let slot = self.head;
        let evicted = if self.len == cap { Some(self.buf[slot]) } else { None };
        self.buf[slot] = x;
        self.head = if slot + 1 == cap { 0 } else { slot + 1 };
        if self.len < cap {
            self.len += 1;
        }
        evicted
    }

    /// The oldest value held, if any.
    #[inline]
    pub fn oldest(&self) -> Option<f64> {
        if self.len == 0 {
            return None;
        }
        // `(head + cap - len) % cap` without the integer division (len <= cap,
        // head < cap): this sits on every update of the windowed indicators.
        let idx = if self.head >= self.len { self.head - self.len } else { self.head + self.buf.len() - self.len };
        Some(self.buf[idx])
    }

    /// The capacity fixed at construction.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// True when `len() == capacity`.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Number of values held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values in physical slot order (slot 0 first), as TA-Lib's circular
    /// buffers are summed; only meaningful once full.
    #[inline]
    pub fn slots(&self) -> &[f64] {
        &self.buf[..self.len]
    }

    /// Empties the ring and puts the write position back to slot 0.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}
