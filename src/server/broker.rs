//! Broker state as plain data: who is subscribed to what, and the last
//! message of each route. No sockets and no I/O; connections appear only as
//! slab keys. A publish finds its subscribers through an index (exact routes
//! by hash, patterns kept apart), never by scanning every connection.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::rc::Rc;

use crate::proto::route;

/// A fast, non-cryptographic hasher for routes (Fx-style multiply-rotate).
/// Routes come from peers, but a collision flood costs only lookup time in
/// one map, bounded by the stored-routes limit; SipHash on every publish
/// costs more than that risk is worth here.
#[derive(Default, Clone, Copy)]
pub struct RouteHasher(u64);

impl Hasher for RouteHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type RouteMap<V> = HashMap<Box<[u8]>, V, BuildHasherDefault<RouteHasher>>;

/// Subscriptions of every connection, indexed for publishing.
#[derive(Default)]
pub struct Subscriptions {
    exact: RouteMap<Vec<usize>>,
    patterns: RouteMap<Vec<usize>>,
    by_conn: HashMap<usize, Vec<Box<[u8]>>, BuildHasherDefault<RouteHasher>>,
}

impl Subscriptions {
    /// Subscribes `key` to `route`; without `add`, its previous
    /// subscriptions are dropped first (PROTOCOL.md §6: one by default).
    pub fn subscribe(&mut self, key: usize, route: &[u8], add: bool) {
        if !add {
            self.remove_conn(key);
        }
        let routes = self.by_conn.entry(key).or_default();
        if routes.iter().any(|r| &**r == route) {
            return;
        }
        routes.push(route.into());
        let index = if route::is_pattern(route) {
            &mut self.patterns
        } else {
            &mut self.exact
        };
        index.entry(route.into()).or_default().push(key);
    }

    /// Removes one subscription; false when `key` did not hold it.
    pub fn unsubscribe(&mut self, key: usize, route: &[u8]) -> bool {
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
        if let Some(routes) = self.by_conn.remove(&key) {
            for r in routes.iter() {
                self.unindex(key, r);
            }
        }
    }

    fn unindex(&mut self, key: usize, route: &[u8]) {
        let index = if route::is_pattern(route) {
            &mut self.patterns
        } else {
            &mut self.exact
        };
        if let Some(keys) = index.get_mut(route) {
            if let Some(p) = keys.iter().position(|&k| k == key) {
                keys.swap_remove(p);
            }
            if keys.is_empty() {
                index.remove(route);
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
            keys.iter().for_each(|&k| f(k));
        }
        for (pattern, keys) in &self.patterns {
            if route::matches(pattern, published) {
                keys.iter().for_each(|&k| f(k));
            }
        }
    }

    /// Keys subscribed to exactly `route` (no pattern matching).
    pub fn exact_subscribers(&self, route: &[u8]) -> &[usize] {
        self.exact.get(route).map(|v| &v[..]).unwrap_or(&[])
    }
}

/// A stored message: its own copy, or a range of a buffer shared with the
/// output queues it was fanned out to (large messages).
enum Body {
    Own(Vec<u8>),
    Shared(Rc<Vec<u8>>, Range<usize>),
}

impl Body {
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Own(v) => v,
            Body::Shared(s, range) => s.get(range.clone()).unwrap_or(&[]),
        }
    }
}

struct Stored {
    msg: Body,
    seq: u64,
}

/// The last message published on each route, bounded in routes and bytes.
/// When over a bound, the least recently published routes go first. A hash
/// map, since every publish updates it; route order is produced only when a
/// wildcard `last` asks for it.
pub struct LastStore {
    map: RouteMap<Stored>,
    bytes: usize,
    seq: u64,
    max_routes: usize,
    max_bytes: usize,
}

impl LastStore {
    /// An empty store with these bounds.
    pub fn new(max_routes: usize, max_bytes: usize) -> LastStore {
        LastStore {
            map: RouteMap::default(),
            bytes: 0,
            seq: 0,
            max_routes,
            max_bytes,
        }
    }

    /// Stores `msg` as the last message of `route`.
    pub fn set(&mut self, route: &[u8], msg: &[u8]) {
        self.store(route, msg.len(), |body| {
            match body {
                // The common case: a route published again, its buffer reused.
                Some(Body::Own(v)) => {
                    v.clear();
                    v.extend_from_slice(msg);
                }
                Some(other) => *other = Body::Own(msg.to_vec()),
                None => return Some(Body::Own(msg.to_vec())),
            }
            None
        });
    }

    /// Stores bytes `range` of `buf` as the last message of `route`,
    /// without copying them.
    pub fn set_shared(&mut self, route: &[u8], buf: Rc<Vec<u8>>, range: Range<usize>) {
        if buf.get(range.clone()).is_none() {
            return;
        }
        let len = range.len();
        let mut msg = Some((buf, range));
        self.store(route, len, |body| {
            let (buf, range) = msg.take()?;
            let new = Body::Shared(buf, range);
            match body {
                Some(old) => *old = new,
                None => return Some(new),
            }
            None
        });
    }

    /// Stores a message of `len` bytes for `route`: `fill` replaces the
    /// stored body in place, or returns the body of a new route.
    fn store(
        &mut self,
        route: &[u8],
        len: usize,
        fill: impl FnOnce(Option<&mut Body>) -> Option<Body>,
    ) {
        if self.max_routes == 0 || route.len() + len > self.max_bytes {
            return;
        }
        self.seq += 1;
        if let Some(s) = self.map.get_mut(route) {
            self.bytes = self.bytes - s.msg.bytes().len() + len;
            fill(Some(&mut s.msg));
            s.seq = self.seq;
        } else if let Some(msg) = fill(None) {
            self.bytes += route.len() + len;
            self.map.insert(route.into(), Stored { msg, seq: self.seq });
        }
        if self.map.len() > self.max_routes || self.bytes > self.max_bytes {
            self.evict();
        }
    }

    /// Drops the least recently published routes until within bounds, with
    /// some room below the route bound so this scan is paid rarely.
    fn evict(&mut self) {
        let mut by_age: Vec<(u64, usize)> = self
            .map
            .iter()
            .map(|(r, s)| (s.seq, r.len() + s.msg.bytes().len()))
            .collect();
        by_age.sort_unstable();
        let target_routes = self.max_routes - self.max_routes / 16;
        let (mut count, mut bytes, mut cut) = (self.map.len(), self.bytes, 0);
        for (seq, size) in by_age {
            if count <= target_routes && bytes <= self.max_bytes {
                break;
            }
            count -= 1;
            bytes -= size;
            cut = seq;
        }
        self.map.retain(|_, s| s.seq > cut);
        self.bytes = bytes;
    }

    /// The last message of `route`.
    pub fn get(&self, route: &[u8]) -> Option<&[u8]> {
        self.map.get(route).map(|s| s.msg.bytes())
    }

    /// The last messages of every stored route matching `pattern`, in route
    /// order.
    pub fn matching(&self, pattern: &[u8]) -> Vec<&[u8]> {
        let mut found: Vec<(&[u8], &[u8])> = self
            .map
            .iter()
            .filter(|(r, _)| route::matches(pattern, r))
            .map(|(r, s)| (&r[..], s.msg.bytes()))
            .collect();
        found.sort_unstable_by(|a, b| a.0.cmp(b.0));
        found.into_iter().map(|(_, m)| m).collect()
    }

    /// Number of stored routes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes stored (routes and messages).
    pub fn bytes(&self) -> usize {
        self.bytes
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

    #[test]
    fn last_store_bounds_routes_and_bytes() {
        let mut l = LastStore::new(3, 1 << 20);
        for i in 0..10u8 {
            l.set(&[b'r', i], b"m");
        }
        // The three most recent (1/16 of 3 is no margin), 3 bytes each.
        assert_eq!((l.len(), l.bytes()), (3, 9));
        assert_eq!(l.get(&[b'r', 9]), Some(&b"m"[..]));
        assert_eq!(l.get(&[b'r', 7]), Some(&b"m"[..]));
        assert_eq!(l.get(&[b'r', 6]), None);
        assert_eq!(l.get(&[b'r', 0]), None);

        let mut l = LastStore::new(100, 10);
        l.set(b"a", b"12345");
        l.set(b"b", b"12345");
        // 12 bytes: the older route goes, the newer stays.
        assert_eq!((l.len(), l.bytes()), (1, 6));
        assert_eq!(l.get(b"a"), None);
        assert_eq!(l.get(b"b"), Some(&b"12345"[..]));
        l.set(b"c", b"this one is far too large");
        assert_eq!(l.get(b"c"), None);
    }

    #[test]
    fn last_store_mixes_own_and_shared_bodies() {
        let mut l = LastStore::new(10, 1000);
        l.set(b"r", b"small");
        let big = Rc::new(b"[shared body]".to_vec());
        l.set_shared(b"r", Rc::clone(&big), 1..12);
        assert_eq!(l.get(b"r"), Some(&b"shared body"[..]));
        assert_eq!(Rc::strong_count(&big), 2);
        assert_eq!(l.bytes(), 1 + 11);
        l.set(b"r", b"again");
        assert_eq!(Rc::strong_count(&big), 1);
        assert_eq!(l.get(b"r"), Some(&b"again"[..]));
        l.set_shared(b"s", big, 1..12);
        assert_eq!(l.bytes(), 1 + 5 + 1 + 11);
        assert_eq!(l.matching(b"*"), vec![&b"again"[..], &b"shared body"[..]]);
    }

    #[test]
    fn last_store_updates_in_place_and_matches_in_order() {
        let mut l = LastStore::new(10, 1000);
        l.set(b"s/b", b"1");
        l.set(b"s/a", b"2");
        l.set(b"s/b", b"3");
        l.set(b"t", b"4");
        let got: Vec<&[u8]> = l.matching(b"s/*");
        assert_eq!(got, vec![&b"2"[..], &b"3"[..]]);
        assert_eq!(l.bytes(), 3 + 1 + 3 + 1 + 1 + 1);
    }
}
