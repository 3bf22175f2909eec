//! Broker state as plain data: who is subscribed to what (the stored
//! messages of each route are in `history`, re-exported here). No sockets
//! and no I/O; connections appear only as slab keys. A publish finds its
//! subscribers through an index (exact routes by hash, patterns in the
//! level tree of `route_index`), never by scanning every connection or
//! testing every pattern.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::keys::Keys;
use super::route_index::PatternIndex;
use crate::proto::route;

pub use super::history::LastStore;

/// A fast, non-cryptographic hasher for routes (folded multiply, as in
/// foldhash and aHash's fallback).
/// Routes come from peers, but a collision flood costs only lookup time in
/// one map, bounded by the stored-routes limit; SipHash on every publish
/// costs more than that risk is worth here.
#[derive(Default, Clone, Copy)]
pub struct RouteHasher(u64);

impl RouteHasher {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    /// Folded multiply: the high half of the 128-bit product depends on
    /// every bit of the input, the low half carries the rest; XORed, every
    /// bit of the result does. A plain 64-bit multiply leaves the low bits
    /// (which pick the bucket) blind to the high input bytes, where the
    /// digits of `room/17` sit.
    fn mix(&mut self, word: u64) {
        let p = u128::from(self.0 ^ word) * u128::from(Self::K);
        self.0 = (p as u64) ^ ((p >> 64) as u64);
    }
}

impl Hasher for RouteHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        // The last 1–7 bytes as one word, not one step each: a publish
        // hashes its route twice (store and subscribers). The word is read
        // in place, overlapping bytes already mixed (a copy into a padded
        // word was a call to memcpy per hash). Overlap cannot make two
        // routes equal: a slice's length is hashed before its bytes, and
        // for a given length the word's bytes determine the rest's.
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let word = match bytes.len().checked_sub(8) {
                Some(from) => word_at(bytes, from),
                None => short_word(rest),
            };
            self.mix(word);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The eight bytes of `bytes` from `at`, little-endian (0 past the end,
/// which the caller never asks for).
fn word_at(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// A word made of 1–7 bytes, every byte in it: two overlapping 4-byte
/// reads from 4 bytes up, else the first, middle and last byte.
fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    let get = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
    if n >= 4 {
        let half = |at: usize| {
            b.get(at..at + 4)
                .and_then(|h| h.try_into().ok())
                .map_or(0, |h| u64::from(u32::from_le_bytes(h)))
        };
        half(0) | half(n - 4) << 32
    } else {
        get(0) | get(n / 2) << 8 | get(n.saturating_sub(1)) << 16
    }
}

pub(crate) type RouteMap<V> = HashMap<Box<[u8]>, V, BuildHasherDefault<RouteHasher>>;

/// Subscriptions of every connection, indexed for publishing.
#[derive(Default)]
pub struct Subscriptions {
    exact: RouteMap<Keys>,
    patterns: PatternIndex,
    by_conn: HashMap<usize, Vec<Box<[u8]>>, BuildHasherDefault<RouteHasher>>,
    /// What `collect_subscribers` found for the route it was last asked
    /// about: a publisher mostly publishes on one route again and again,
    /// and a repeat then costs one comparison instead of a hash lookup and
    /// a walk of the pattern tree. Every change of a subscription forgets
    /// it (`forget_last`), so it never differs from a fresh lookup.
    last: LastLookup,
}

/// A route and its subscribers, as `for_each_subscriber` reported them.
/// Its buffers are reused from one route to the next.
#[derive(Default)]
struct LastLookup {
    valid: bool,
    route: Vec<u8>,
    keys: Vec<usize>,
}

/// Routes with more subscribers than this are not remembered: the lookup
/// is small beside their deliveries, and the copy would hold memory.
const REMEMBER_UP_TO: usize = 64;

impl Subscriptions {
    /// Subscribes `key` to `route`; without `add`, its previous
    /// subscriptions are dropped first (PROTOCOL.md §6: one by default).
    pub fn subscribe(&mut self, key: usize, route: &[u8], add: bool) {
        self.forget_last();
        if !add {
            self.remove_conn(key);
        }
        let routes = self.by_conn.entry(key).or_default();
        if routes.iter().any(|r| &**r == route) {
            return;
        }
        routes.push(route.into());
        if route::is_pattern(route) {
            self.patterns.insert(route, key);
        } else {
            self.exact.entry(route.into()).or_default().insert(key);
        }
    }

    /// Removes one subscription; false when `key` did not hold it.
    pub fn unsubscribe(&mut self, key: usize, route: &[u8]) -> bool {
        self.forget_last();
        let Some(routes) = self.by_conn.get_mut(&key) else {
            return false;
        };
        let Some(pos) = routes.iter().position(|r| &**r == route) else {
            return false;
        };
        routes.swap_remove(pos);
        if routes.is_empty() {
            self.by_conn.remove(&key);
        }
        self.unindex(key, route);
        true
    }

    /// Drops every subscription of `key` (it closed, or re-subscribed).
    pub fn remove_conn(&mut self, key: usize) {
        self.forget_last();
        if let Some(routes) = self.by_conn.remove(&key) {
            for r in routes.iter() {
                self.unindex(key, r);
            }
        }
    }

    fn unindex(&mut self, key: usize, route: &[u8]) {
        if route::is_pattern(route) {
            self.patterns.remove(route, key);
            return;
        }
        if let Some(keys) = self.exact.get_mut(route) {
            keys.remove(key);
            if keys.is_empty() {
                self.exact.remove(route);
            }
        }
    }

    /// The routes `key` is subscribed to, in subscription order (after
    /// removals, order is not guaranteed).
    pub fn routes_of(&self, key: usize) -> &[Box<[u8]>] {
        self.by_conn.get(&key).map(|v| &v[..]).unwrap_or(&[])
    }

    /// Calls `f` with every key subscribed to a pattern matching `published`.
    /// A key may be reported more than once when several of its routes match;
    /// the caller deduplicates.
    pub fn for_each_subscriber(&self, published: &[u8], mut f: impl FnMut(usize)) {
        if let Some(keys) = self.exact.get(published) {
            keys.as_slice().iter().for_each(|&k| f(k));
        }
        self.patterns.for_each_match(published, f);
    }

    /// Appends to `out` what `for_each_subscriber` reports for
    /// `published`, from the last lookup when it was for the same route
    /// and no subscription changed since (the publish path).
    pub fn collect_subscribers(&mut self, published: &[u8], out: &mut Vec<usize>) {
        let last = &mut self.last;
        if last.valid && last.route == published {
            out.extend_from_slice(&last.keys);
            return;
        }
        let start = out.len();
        self.for_each_subscriber(published, |k| out.push(k));
        let found = out.get(start..).unwrap_or_default();
        let last = &mut self.last;
        last.valid = found.len() <= REMEMBER_UP_TO;
        if last.valid {
            last.route.clear();
            last.route.extend_from_slice(published);
            last.keys.clear();
            last.keys.extend_from_slice(found);
        }
    }

    fn forget_last(&mut self) {
        self.last.valid = false;
    }

    /// Keys subscribed to exactly `route` (no pattern matching).
    pub fn exact_subscribers(&self, route: &[u8]) -> &[usize] {
        self.exact.get(route).map(Keys::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribers(s: &Subscriptions, route: &[u8]) -> Vec<usize> {
        let mut v = Vec::new();
        s.for_each_subscriber(route, |k| v.push(k));
        v.sort_unstable();
        v
    }

    #[test]
    fn sub_replaces_unless_add() {
        let mut s = Subscriptions::default();
        s.subscribe(1, b"a", false);
        s.subscribe(1, b"b", false);
        assert!(subscribers(&s, b"a").is_empty());
        assert_eq!(subscribers(&s, b"b"), vec![1]);
        s.subscribe(1, b"c/*", true);
        assert_eq!(subscribers(&s, b"c/x"), vec![1]);
        assert_eq!(subscribers(&s, b"b"), vec![1]);
        assert_eq!(s.routes_of(1).len(), 2);
    }

    #[test]
    fn unsubscribe_and_remove() {
        let mut s = Subscriptions::default();
        s.subscribe(1, b"a", true);
        s.subscribe(2, b"a", true);
        s.subscribe(2, b"*", true);
        assert!(s.unsubscribe(1, b"a"));
        assert!(!s.unsubscribe(1, b"a"));
        assert_eq!(subscribers(&s, b"a"), vec![2, 2]);
        s.remove_conn(2);
        assert!(subscribers(&s, b"a").is_empty());
        assert!(s.routes_of(2).is_empty());
    }

    /// The rule the type's doc names: per 8-byte little-endian word,
    /// `h = lo ^ hi` of the 128-bit `(h ^ w) * K`; a tail of 1–7 bytes is
    /// one more word: the last eight bytes when there are eight, else two
    /// overlapping 4-byte halves (4–7 bytes) or the first, middle and last
    /// byte (1–3). The values were worked out from that rule outside this
    /// code; a map stays correct with any hash, so only this pins it.
    #[test]
    fn route_hasher_is_the_folded_multiply_rule() {
        assert_eq!(hash_of(b""), 0);
        assert_eq!(hash_of(b"x"), 0x7b23_0027_42e4_950b);
        assert_eq!(hash_of(b"ab"), 0xca8a_7e68_e8e2_5d67);
        assert_eq!(hash_of(b"abc"), 0x8c41_a58a_f38d_aefa);
        assert_eq!(hash_of(b"abcd"), 0x20e8_a019_10ed_439d);
        assert_eq!(hash_of(b"abcde"), 0x0798_b17c_590e_1d86);
        assert_eq!(hash_of(b"abcdefg"), 0xd988_150d_2b47_9a7d);
        assert_eq!(hash_of(b"abcdefghi"), 0xf2bd_5c51_6168_e1dd);
        let mut h = RouteHasher::default();
        h.write_usize(7);
        h.write_usize(9);
        assert_eq!(h.finish(), 0x6a81_c7bf_98eb_c72f);
    }

    #[test]
    fn exact_subscribers_are_the_keys_of_that_route_only() {
        let mut s = Subscriptions::default();
        s.subscribe(4, b"log", true);
        s.subscribe(5, b"log", true);
        s.subscribe(6, b"l*", true);
        assert_eq!(s.exact_subscribers(b"log"), [4, 5]);
        assert_eq!(s.exact_subscribers(b"l*"), [] as [usize; 0]);
        assert_eq!(s.exact_subscribers(b"other"), [] as [usize; 0]);
        assert!(s.unsubscribe(4, b"log"));
        assert_eq!(s.exact_subscribers(b"log"), [5]);
        assert_eq!(subscribers(&s, b"log"), vec![5, 6]);
    }

    /// The publish path's remembered lookup never differs from a fresh
    /// one: after every kind of change, in a long random sequence of
    /// subscriptions, removals and publications on a few routes.
    #[test]
    fn remembered_subscribers_match_a_fresh_lookup_after_every_change() {
        let routes: [&[u8]; 6] = [b"a/b", b"a/*", b"a/+", b"a/#", b"c", b"a/b/c"];
        let published: [&[u8]; 4] = [b"a/b", b"c", b"a/b/c", b"x"];
        let mut s = Subscriptions::default();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n) as usize
        };
        let (mut hits, mut changes) = (0, 0);
        for _ in 0..20_000 {
            let key = next(5);
            let route = routes[next(6)];
            match next(8) {
                0 => s.subscribe(key, route, next(2) == 0),
                1 => {
                    s.unsubscribe(key, route);
                }
                2 => s.remove_conn(key),
                _ => {
                    let p = published[next(4)];
                    hits += usize::from(s.last.valid && s.last.route == p);
                    let mut got = vec![7];
                    s.collect_subscribers(p, &mut got);
                    let mut want = vec![7];
                    s.for_each_subscriber(p, |k| want.push(k));
                    assert_eq!(got, want, "{}", String::from_utf8_lossy(p));
                    continue;
                }
            }
            changes += 1;
            assert!(!s.last.valid, "a change forgets the last lookup");
        }
        assert!(hits > 1_000 && changes > 1_000, "{hits} {changes}");
    }

    #[test]
    fn a_route_with_many_subscribers_is_not_remembered() {
        let mut s = Subscriptions::default();
        for k in 0..=REMEMBER_UP_TO {
            s.subscribe(k, b"big", true);
        }
        s.subscribe(1000, b"small", true);
        let mut got = Vec::new();
        s.collect_subscribers(b"big", &mut got);
        assert_eq!(got.len(), REMEMBER_UP_TO + 1);
        assert!(!s.last.valid);
        assert!(s.last.keys.is_empty());
        got.clear();
        s.collect_subscribers(b"small", &mut got);
        assert_eq!(got, [1000]);
        assert!(s.last.valid);
        assert_eq!(
            (&s.last.route[..], &s.last.keys[..]),
            (&b"small"[..], &[1000][..])
        );
        // Exactly the limit is remembered.
        s.unsubscribe(0, b"big");
        got.clear();
        s.collect_subscribers(b"big", &mut got);
        assert_eq!(got.len(), REMEMBER_UP_TO);
        assert!(s.last.valid);
    }

    fn hash_of(bytes: &[u8]) -> u64 {
        let mut h = RouteHasher::default();
        h.write(bytes);
        h.finish()
    }

    /// What a route map relies on for speed: routes that differ in one
    /// byte, at any place, and connection keys all hash apart.
    #[test]
    fn routes_and_keys_hash_apart() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000u32 {
            assert!(seen.insert(hash_of(format!("sensors/{i}/t").as_bytes())));
        }
        let base = *b"sensors/room/temperature";
        for at in 0..base.len() {
            let mut r = base;
            r[at] ^= 1;
            assert!(seen.insert(hash_of(&r)), "byte {at}");
        }
        let mut keys = std::collections::HashSet::new();
        for k in 0..10_000usize {
            let mut h = RouteHasher::default();
            h.write_usize(k);
            assert!(keys.insert(h.finish()));
        }
    }
}
