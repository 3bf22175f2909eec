//! The detached persistent sessions of one MQTT listener, in the order they
//! were detached (the oldest is dropped first past the bound), with when
//! each was detached. Every operation is constant time (amortised): a fleet
//! of devices with persistent sessions that drop off and come back together
//! after a network blip attaches, detaches and writes thousands of them in
//! a few turns, and a scan of the whole list for each would stall the
//! reactor thread quadratically. Keys only: no sessions, no I/O.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// Session keys in detach order, each at most once.
#[derive(Debug, Default)]
pub struct Detached {
    /// Every key detached and not yet popped, oldest first, with the
    /// number it was detached under; an entry whose number is no longer
    /// the key's in `live` was removed and is skipped when reached.
    order: VecDeque<(Rc<str>, u64)>,
    /// The keys detached now: (their number in `order`, unix ms).
    live: HashMap<Rc<str>, (u64, u64)>,
    next: u64,
}

impl Detached {
    /// Appends `key`, detached at `ms` (unix milliseconds), as the newest;
    /// a key already held moves to the end with the new time.
    pub fn push(&mut self, key: Rc<str>, ms: u64) {
        self.next += 1;
        self.live.insert(Rc::clone(&key), (self.next, ms));
        self.order.push_back((key, self.next));
        self.compact();
    }

    /// Removes `key`; false when it was not held.
    pub fn remove(&mut self, key: &str) -> bool {
        let held = self.live.remove(key).is_some();
        self.compact();
        held
    }

    /// When `key` was detached, if it is held.
    pub fn since(&self, key: &str) -> Option<u64> {
        self.live.get(key).map(|&(_, ms)| ms)
    }

    /// The number `key` was detached under, while it is held: each detach
    /// gets a new one, so a parked state made for one detach can tell it
    /// from a later one (the session was taken back and let go again).
    pub fn number(&self, key: &str) -> Option<u64> {
        self.live.get(key).map(|&(n, _)| n)
    }

    /// Removes and returns the oldest key.
    pub fn pop_oldest(&mut self) -> Option<Rc<str>> {
        while let Some((key, n)) = self.order.pop_front() {
            if self.live.get(&key).is_some_and(|&(m, _)| m == n) {
                self.live.remove(&key);
                return Some(key);
            }
        }
        None
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Drops the removed entries once they outnumber the held ones, so
    /// `order` stays within about twice the keys held: each removal pays
    /// for at most one entry's drop.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.live.len() + 16 {
            let live = &self.live;
            self.order
                .retain(|(key, n)| live.get(key).is_some_and(|&(m, _)| m == *n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_first_removed_ones_skipped_a_pushed_again_key_moves_to_the_end() {
        let mut d = Detached::default();
        for (k, ms) in [("a", 10), ("b", 20), ("c", 30)] {
            d.push(k.into(), ms);
        }
        assert_eq!(d.since("b"), Some(20));
        assert_eq!(d.number("b"), Some(2));
        assert!(d.remove("a"));
        assert_eq!(d.number("a"), None);
        assert!(!d.remove("a"));
        assert_eq!(d.since("a"), None);
        d.push("b".into(), 40);
        assert_eq!(d.since("b"), Some(40));
        assert_eq!(d.number("b"), Some(4));
        assert_eq!(d.len(), 2);
        assert_eq!(d.pop_oldest().as_deref(), Some("c"));
        assert_eq!(d.pop_oldest().as_deref(), Some("b"));
        assert_eq!(d.pop_oldest(), None);
        assert!(d.is_empty());
    }

    #[test]
    fn removals_never_let_the_order_grow_past_twice_the_held_keys() {
        let mut d = Detached::default();
        for i in 0..10_000 {
            d.push(format!("dev{i}").into(), i);
        }
        // Every device comes back, then goes again: each push and removal
        // is one step, and the queue is compacted as it goes.
        for round in 0..3 {
            for i in 0..10_000 {
                assert!(d.remove(&format!("dev{i}")), "round {round}, dev{i}");
                assert!(d.order.len() <= 2 * d.len() + 17);
            }
            for i in 0..10_000 {
                d.push(format!("dev{i}").into(), 100_000 * (round + 1) + i);
            }
        }
        assert_eq!(d.len(), 10_000);
        // A few removed entries may wait before the pushed ones; they are
        // passed over, not returned.
        assert!(d.order.len() > 10_000 && d.order.len() <= 10_016);
        assert_eq!(d.since("dev7"), Some(300_007));
        assert_eq!(d.pop_oldest().as_deref(), Some("dev0"));
        assert_eq!(d.order.len(), 9_999);
    }

    #[test]
    fn a_walk_of_pushes_removals_and_pops_matches_a_plain_list() {
        // The plain list is what the registry kept before: a VecDeque
        // scanned on every removal.
        let mut model: VecDeque<(String, u64)> = VecDeque::new();
        let mut d = Detached::default();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = format!("k{}", x % 97);
            match (x >> 40) % 10 {
                0..=4 => {
                    model.retain(|(k, _)| *k != key);
                    model.push_back((key.clone(), step));
                    d.push(key.as_str().into(), step);
                }
                5..=7 => {
                    let before = model.len();
                    model.retain(|(k, _)| *k != key);
                    assert_eq!(d.remove(&key), model.len() < before);
                }
                _ => {
                    let want = model.pop_front().map(|(k, _)| k);
                    assert_eq!(d.pop_oldest().as_deref(), want.as_deref());
                }
            }
            assert_eq!(d.len(), model.len());
            let probe = format!("k{}", step % 97);
            let want = model.iter().find(|(k, _)| *k == probe).map(|(_, t)| *t);
            assert_eq!(d.since(&probe), want);
        }
    }
}
