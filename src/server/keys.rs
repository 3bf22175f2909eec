//! The connection keys subscribed to one route or one pattern: a list that
//! a publication walks in order, and removal in constant time however many
//! share the route. Ten thousand devices subscribed to one route that drop
//! off together (a network blip) would otherwise cost a scan of the list
//! each, quadratic in all, on the one reactor thread every client waits on.
//! Plain data: no sockets, no knowledge of what a key names.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::broker::RouteHasher;

/// Lists up to this long are searched; past it each key's place is indexed.
/// Most routes have a handful of subscribers, for whom a scan of one or two
/// cache lines is cheaper than a hash and costs no memory.
const SCAN_UP_TO: usize = 64;

/// Subscribed keys, each at most once, in no particular order.
#[derive(Debug, Default)]
pub struct Keys {
    list: Vec<usize>,
    /// Where each key is in `list`, kept while `list` is longer than
    /// `SCAN_UP_TO / 2` once it has passed `SCAN_UP_TO` (the gap keeps a
    /// list at the boundary from building and dropping the index in turn).
    at: Option<HashMap<usize, usize, BuildHasherDefault<RouteHasher>>>,
}

impl Keys {
    /// Adds `key`; false when it was there already (nothing changes).
    pub fn insert(&mut self, key: usize) -> bool {
        let present = match &self.at {
            Some(at) => at.contains_key(&key),
            None => self.list.contains(&key),
        };
        if present {
            return false;
        }
        if let Some(at) = &mut self.at {
            at.insert(key, self.list.len());
        }
        self.list.push(key);
        if self.at.is_none() && self.list.len() > SCAN_UP_TO {
            self.at = Some(self.list.iter().enumerate().map(|(i, &k)| (k, i)).collect());
        }
        true
    }

    /// Removes `key`; false when it was not there.
    pub fn remove(&mut self, key: usize) -> bool {
        let found = match &mut self.at {
            Some(at) => at.remove(&key),
            None => self.list.iter().position(|&k| k == key),
        };
        let Some(i) = found else {
            return false;
        };
        self.list.swap_remove(i);
        if let (Some(at), Some(&moved)) = (&mut self.at, self.list.get(i)) {
            at.insert(moved, i);
        }
        if self.list.len() <= SCAN_UP_TO / 2 {
            self.at = None;
        }
        true
    }

    /// The keys, for a publication to walk.
    pub fn as_slice(&self) -> &[usize] {
        &self.list
    }

    /// Whether no key is left.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether the places of the keys are indexed (the list is long).
    #[cfg(test)]
    fn indexed(&self) -> bool {
        self.at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `keys` against the set it should hold: the same keys, once
    /// each, and an index (when there is one) that points at every key.
    fn check(keys: &Keys, want: &std::collections::BTreeSet<usize>) {
        let mut got = keys.as_slice().to_vec();
        got.sort_unstable();
        assert_eq!(got, want.iter().copied().collect::<Vec<_>>());
        if let Some(at) = &keys.at {
            assert_eq!(at.len(), keys.list.len());
            for (i, k) in keys.list.iter().enumerate() {
                assert_eq!(at.get(k), Some(&i), "key {k}");
            }
        }
    }

    #[test]
    fn a_key_is_held_once_and_removed_once() {
        let mut keys = Keys::default();
        assert!(keys.insert(7));
        assert!(!keys.insert(7));
        assert_eq!(keys.as_slice(), [7]);
        assert!(!keys.remove(8));
        assert!(keys.remove(7));
        assert!(!keys.remove(7));
        assert!(keys.is_empty());
    }

    #[test]
    fn the_index_comes_past_the_scan_length_and_goes_at_half_of_it() {
        let mut keys = Keys::default();
        for k in 0..SCAN_UP_TO {
            assert!(keys.insert(k));
        }
        assert!(!keys.indexed());
        assert!(keys.insert(SCAN_UP_TO));
        assert!(keys.indexed());
        // Held while longer than half the scan length.
        for k in 0..=SCAN_UP_TO - SCAN_UP_TO / 2 - 1 {
            assert!(keys.remove(k));
            assert!(keys.indexed(), "{} keys left", keys.as_slice().len());
        }
        assert_eq!(keys.as_slice().len(), SCAN_UP_TO / 2 + 1);
        assert!(keys.remove(SCAN_UP_TO));
        assert!(!keys.indexed());
        // Still every key, found by scanning now.
        let want = (SCAN_UP_TO - SCAN_UP_TO / 2..SCAN_UP_TO).collect();
        check(&keys, &want);
        assert!(!keys.insert(SCAN_UP_TO - 1));
    }

    #[test]
    fn any_order_of_inserts_and_removes_keeps_the_set_and_the_index_true() {
        // A fixed pseudo-random walk over 0..300: long enough to build,
        // drop and rebuild the index many times.
        let mut want = std::collections::BTreeSet::new();
        let mut keys = Keys::default();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut was_indexed = 0;
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = (x % 300) as usize;
            // Lean towards growing in the first half, shrinking after.
            let grow = (x >> 32) % 100 < if step < 10_000 { 70 } else { 30 };
            if grow {
                assert_eq!(keys.insert(key), want.insert(key), "insert {key}");
            } else {
                assert_eq!(keys.remove(key), want.remove(&key), "remove {key}");
            }
            was_indexed += usize::from(keys.indexed());
            if step % 97 == 0 {
                check(&keys, &want);
            }
        }
        check(&keys, &want);
        assert!(was_indexed > 1000, "the walk never got long");
    }
}
