//! A bounded memory of the trade keys of recently closed windows.

use std::collections::VecDeque;

use crate::id_set::IdSet;

/// The key sets of the most recently closed windows of one pair, newest last.
///
/// Bound: whole windows are forgotten, oldest first, while the total number
/// of keys exceeds `cap` (the newest window is always kept), so memory is at
/// most `cap` keys plus one window's keys. `cap = 0` remembers nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecentIds {
    cap: usize,
    windows: VecDeque<IdSet>,
    total: usize,
    lo: u64,
    hi: u64,
}

impl RecentIds {
    pub(crate) fn new(cap: usize) -> Self {
        Self { cap, windows: VecDeque::new(), total: 0, lo: u64::MAX, hi: 0 }
    }

    #[inline]
    pub(crate) fn contains(&self, key: u64) -> bool {
        if key < self.lo || key > self.hi {
            return false;
        }
        self.windows.iter().rev().any(|w| w.contains(key))
    }

    /// Remembers the keys of a window that just closed.
    pub(crate) fn push_window(&mut self, ids: IdSet) {
        if self.cap == 0 || ids.len() == 0 {
            return;
        }
        self.total += ids.len();
        self.windows.push_back(ids);
        let mut evicted = false;
        while self.total > self.cap && self.windows.len() > 1 {
            if let Some(old) = self.windows.pop_front() {
                self.total -= old.len();
                evicted = true;
            }
        }
        let (mut lo, mut hi) = if evicted { (u64::MAX, 0) } else { (self.lo, self.hi) };
        let changed = if evicted { self.windows.range(..) } else { self.windows.range(self.windows.len() - 1..) };
        for (l, h) in changed.filter_map(IdSet::bounds) {
            lo = lo.min(l);
            hi = hi.max(h);
        }
        self.lo = lo;
        self.hi = hi;
    }

    /// Each remembered window's keys, ascending; windows oldest first.
    pub(crate) fn windows(&self) -> impl Iterator<Item = Vec<u64>> + '_ {
        self.windows.iter().map(IdSet::sorted_keys)
    }

    /// Rebuilds from [`RecentIds::windows`] output.
    pub(crate) fn from_windows(cap: usize, windows: Vec<Vec<u64>>) -> Self {
        let mut r = Self::new(cap);
        for w in windows {
            r.push_window(IdSet::from_keys(w));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::RecentIds;
    use crate::id_set::IdSet;

    #[test]
    fn forgets_whole_windows_oldest_first_beyond_cap() {
        let mut r = RecentIds::new(3);
        r.push_window(IdSet::from_keys([5, 1]));
        r.push_window(IdSet::from_keys([9]));
        assert!(r.contains(5) && r.contains(1) && r.contains(9));
        r.push_window(IdSet::from_keys([7]));
        assert!(!r.contains(5) && !r.contains(1));
        assert!(r.contains(9) && r.contains(7));
        assert_eq!(r.windows().collect::<Vec<_>>(), vec![vec![9], vec![7]]);
        // A window larger than the cap is still kept whole (the newest one always is).
        r.push_window(IdSet::from_keys([20, 21, 22, 23]));
        assert!(r.contains(23) && !r.contains(9));
    }

    #[test]
    fn zero_cap_remembers_nothing() {
        let mut r = RecentIds::new(0);
        r.push_window(IdSet::from_keys([1]));
        assert!(!r.contains(1));
    }
}
