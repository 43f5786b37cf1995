//! A bounded memory of the trade keys of recently closed windows.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::id_set::IdSet;
use crate::trade::HASHED_BIT;

/// The key sets of the most recently closed windows of one pair, newest last.
///
/// Bound: whole windows are forgotten, oldest first, while the total number
/// of keys exceeds `cap` (the newest window is always kept), so memory is at
/// most `cap` keys plus one window's keys. `cap = 0` remembers nothing.
///
/// Hashed keys (ids that are not canonical decimals: `HASHED_BIT` set) are
/// spread over the whole key range, so every window's bounds would admit them
/// and a lookup would search every remembered window (a thousand and more
/// when the windows are small): they are also counted in one hash map, and a
/// hashed key is looked up there alone. Exchange ids (ascending numbers)
/// keep the per-window search, which their bounds make short.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecentIds {
    cap: usize,
    windows: VecDeque<IdSet>,
    total: usize,
    lo: u64,
    hi: u64,
    /// Each hashed key of the remembered windows, with the number of windows holding it.
    hashed: FxHashMap<u64, u32>,
}

impl RecentIds {
    pub(crate) fn new(cap: usize) -> Self {
        Self { cap, windows: VecDeque::new(), total: 0, lo: u64::MAX, hi: 0, hashed: FxHashMap::default() }
    }

    #[inline]
    pub(crate) fn contains(&self, key: u64) -> bool {
        if key < self.lo || key > self.hi {
            return false;
        }
        if key & HASHED_BIT != 0 {
            return self.hashed.contains_key(&key);
        }
        self.windows.iter().rev().any(|w| w.contains(key))
    }

    /// Remembers the keys of a window that just closed.
    pub(crate) fn push_window(&mut self, ids: IdSet) {
        if self.cap == 0 || ids.len() == 0 {
            return;
        }
        self.total += ids.len();
        if ids.bounds().is_some_and(|(_, hi)| hi & HASHED_BIT != 0) {
            for k in ids.keys().filter(|k| k & HASHED_BIT != 0) {
                *self.hashed.entry(k).or_insert(0) += 1;
            }
        }
        self.windows.push_back(ids);
        let mut evicted = false;
        while self.total > self.cap && self.windows.len() > 1 {
            if let Some(old) = self.windows.pop_front() {
                self.total -= old.len();
                evicted = true;
                if old.bounds().is_some_and(|(_, hi)| hi & HASHED_BIT != 0) {
                    for k in old.keys().filter(|k| k & HASHED_BIT != 0) {
                        if let Some(n) = self.hashed.get_mut(&k) {
                            *n -= 1;
                            if *n == 0 {
                                self.hashed.remove(&k);
                            }
                        }
                    }
                }
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
    fn hashed_keys_are_found_and_forgotten_with_their_window() {
        const H: u64 = 1 << 63;
        let mut r = RecentIds::new(5);
        r.push_window(IdSet::from_keys([H | 7, 3, H | 2]));
        r.push_window(IdSet::from_keys([H | 5, 4]));
        for k in [H | 7, 3, H | 2, H | 5, 4] {
            assert!(r.contains(k), "{k}");
        }
        assert!(!r.contains(H | 6) && !r.contains(6));
        // The first window goes (6 keys > cap 5): its hashed keys with it.
        r.push_window(IdSet::from_keys([H | 9]));
        assert!(!r.contains(H | 7) && !r.contains(H | 2) && !r.contains(3));
        assert!(r.contains(H | 5) && r.contains(4) && r.contains(H | 9));
        // The same hashed key in two windows (a restored state may hold that): kept until both are gone.
        let mut r = RecentIds::new(2);
        r.push_window(IdSet::from_keys([H | 1]));
        r.push_window(IdSet::from_keys([H | 1]));
        r.push_window(IdSet::from_keys([H | 3]));
        assert!(r.contains(H | 1));
        r.push_window(IdSet::from_keys([H | 4]));
        assert!(!r.contains(H | 1) && r.contains(H | 3) && r.contains(H | 4));
    }

    #[test]
    fn zero_cap_remembers_nothing() {
        let mut r = RecentIds::new(0);
        r.push_window(IdSet::from_keys([1]));
        assert!(!r.contains(1));
    }
}
