//! The trade keys of one window.

use rustc_hash::FxHashSet;

/// A set of trade keys tuned for exchange ids, which mostly arrive ascending:
/// a key above every earlier key is appended to a sorted `Vec` (no hashing);
/// any other key goes to a hash set. `lo..=hi` bounds all keys, so a lookup
/// of a new, larger id costs two comparisons.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdSet {
    ascending: Vec<u64>,
    others: FxHashSet<u64>,
    lo: u64,
    hi: u64,
}

impl IdSet {
    /// From keys in any order.
    pub(crate) fn from_keys(keys: impl IntoIterator<Item = u64>) -> Self {
        let mut s = Self::default();
        for k in keys {
            s.insert(k);
        }
        s
    }

    pub(crate) fn len(&self) -> usize {
        self.ascending.len() + self.others.len()
    }

    pub(crate) fn bounds(&self) -> Option<(u64, u64)> {
        (self.len() > 0).then_some((self.lo, self.hi))
    }

    #[inline]
    pub(crate) fn contains(&self, key: u64) -> bool {
        if self.len() == 0 || key < self.lo || key > self.hi {
            return false;
        }
        self.ascending.binary_search(&key).is_ok() || (!self.others.is_empty() && self.others.contains(&key))
    }

    /// Inserts a key known not to be present.
    #[inline]
    pub(crate) fn insert(&mut self, key: u64) {
        if self.len() == 0 {
            self.lo = key;
            self.hi = key;
        } else {
            self.lo = self.lo.min(key);
            self.hi = self.hi.max(key);
        }
        match self.ascending.last() {
            Some(&last) if last >= key => {
                self.others.insert(key);
            }
            _ => self.ascending.push(key),
        }
    }

    /// All keys, in no particular order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.ascending.iter().chain(self.others.iter()).copied()
    }

    /// All keys, ascending.
    pub(crate) fn sorted_keys(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.ascending.iter().chain(self.others.iter()).copied().collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::IdSet;

    #[test]
    fn ascending_and_other_keys() {
        let s = IdSet::from_keys([5, 9, 7, 12, 1]);
        for k in [1, 5, 7, 9, 12] {
            assert!(s.contains(k), "{k}");
        }
        for k in [0, 2, 8, 13, u64::MAX] {
            assert!(!s.contains(k), "{k}");
        }
        assert_eq!(s.len(), 5);
        assert_eq!(s.sorted_keys(), vec![1, 5, 7, 9, 12]);
        assert_eq!(s.bounds(), Some((1, 12)));
        assert!(!IdSet::default().contains(0));
    }
}
