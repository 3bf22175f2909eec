//! The stored messages of each route: its last `depth` publications
//! (`--history N`, default 1, the original's "last message"), bounded in
//! routes and bytes. Plain data; no sockets, no I/O, no knowledge of who
//! asks.
//!
//! Bounds: over the route bound, the least recently published routes go
//! (with their whole history); over the byte bound, the oldest messages go,
//! whatever their route. Both cut to 15/16 of the bound, so the sort that
//! finds what to drop is paid rarely; the message just stored is never the
//! one dropped.

use std::collections::VecDeque;
use std::ops::Range;
use std::rc::Rc;

use super::broker::RouteMap;
use super::channels::RouteDepths;
use crate::proto::route;

/// Drops the oldest messages of each route while `stale(route, messages
/// left, oldest)` says so, and the routes left with none; the bytes freed
/// (bodies and route names): the one place eviction counts bytes.
fn drop_oldest(
    map: &mut RouteMap<Stored>,
    mut stale: impl FnMut(&[u8], usize, &Entry) -> bool,
) -> usize {
    let mut freed = 0;
    map.retain(|r, s| {
        while let Some(e) = s.msgs.front() {
            if !stale(r, s.msgs.len(), e) {
                break;
            }
            if let Some(e) = s.msgs.pop_front() {
                freed += e.body.bytes().len();
            }
        }
        if s.msgs.is_empty() {
            freed += r.len();
        }
        !s.msgs.is_empty()
    });
    freed
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

/// One stored message and when it was stored (a store-wide counter).
struct Entry {
    seq: u64,
    body: Body,
}

/// The messages of one route, oldest first.
#[derive(Default)]
struct Stored {
    msgs: VecDeque<Entry>,
    /// Publications stored for this route since it entered the store (the
    /// dashboard's per-route rate).
    count: u64,
}

impl Stored {
    fn newest_seq(&self) -> u64 {
        self.msgs.back().map_or(0, |e| e.seq)
    }

    /// Route and message bytes, as the byte bound counts them.
    fn size(&self, route: &[u8]) -> usize {
        route.len()
            + self
                .msgs
                .iter()
                .map(|e| e.body.bytes().len())
                .sum::<usize>()
    }
}

/// The last messages published on each route. A hash map, since every
/// publish updates it; route order is produced only when a pattern asks.
pub struct LastStore {
    map: RouteMap<Stored>,
    bytes: usize,
    seq: u64,
    depth: usize,
    /// Routes whose channel sets another depth (`history=N`).
    route_depths: RouteDepths,
    max_routes: usize,
    max_bytes: usize,
}

impl LastStore {
    /// An empty store keeping the last message of each route, within these
    /// bounds.
    pub fn new(max_routes: usize, max_bytes: usize) -> LastStore {
        LastStore::with_depth(max_routes, max_bytes, 1)
    }

    /// An empty store keeping the last `depth` messages of each route.
    pub fn with_depth(max_routes: usize, max_bytes: usize, depth: usize) -> LastStore {
        LastStore {
            map: RouteMap::default(),
            bytes: 0,
            seq: 0,
            depth,
            route_depths: RouteDepths::default(),
            max_routes,
            max_bytes,
        }
    }

    /// Sets the depths channels give their routes, and trims the routes
    /// stored now to them (a depth of 0 forgets a route).
    pub fn set_route_depths(&mut self, depths: RouteDepths) {
        self.route_depths = depths;
        let (default, depths) = (self.depth, &self.route_depths);
        let freed = drop_oldest(&mut self.map, |r, len, _| {
            len > depths.depth(r).unwrap_or(default)
        });
        self.bytes -= freed;
    }

    /// How many messages `route` keeps.
    fn depth_of(&self, route: &[u8]) -> usize {
        if self.route_depths.is_empty() {
            return self.depth;
        }
        self.route_depths.depth(route).unwrap_or(self.depth)
    }

    /// How many messages each route keeps.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Stores `msg` as the newest message of `route`.
    pub fn set(&mut self, route: &[u8], msg: &[u8]) {
        // The common case of the default depth of one: the route's one
        // stored copy is overwritten where it lies (no entry moved out of
        // and back into the queue: a tenth of a small publication's store).
        if self.depth == 1
            && self.route_depths.is_empty()
            && route.len() + msg.len() <= self.max_bytes
        {
            if let Some(stored) = self.map.get_mut(route) {
                if let (
                    1,
                    Some(Entry {
                        seq,
                        body: Body::Own(v),
                    }),
                ) = (stored.msgs.len(), stored.msgs.front_mut())
                {
                    self.seq += 1;
                    *seq = self.seq;
                    self.bytes = self.bytes - v.len() + msg.len();
                    v.clear();
                    v.extend_from_slice(msg);
                    stored.count += 1;
                    if self.bytes > self.max_bytes {
                        self.evict_bytes();
                    }
                    return;
                }
            }
        }
        self.store(route, msg.len(), |old| match old {
            // The common case: the dropped oldest message's buffer is reused.
            Some(Body::Own(mut v)) => {
                v.clear();
                v.extend_from_slice(msg);
                Body::Own(v)
            }
            _ => Body::Own(msg.to_vec()),
        });
    }

    /// Stores bytes `range` of `buf` as the newest message of `route`,
    /// without copying them.
    pub fn set_shared(&mut self, route: &[u8], buf: Rc<Vec<u8>>, range: Range<usize>) {
        if buf.get(range.clone()).is_none() {
            return;
        }
        let len = range.len();
        self.store(route, len, |_| Body::Shared(buf, range));
    }

    /// Stores a message of `len` bytes for `route`: `make` builds its body,
    /// given the body of the message it pushes out of the route's history,
    /// if any, to reuse.
    fn store(&mut self, route: &[u8], len: usize, make: impl FnOnce(Option<Body>) -> Body) {
        let depth = self.depth_of(route);
        if depth == 0 || self.max_routes == 0 || route.len() + len > self.max_bytes {
            return;
        }
        self.seq += 1;
        let seq = self.seq;
        let stored = match self.map.get_mut(route) {
            Some(s) => s,
            None => {
                self.bytes += route.len();
                self.map.entry(route.into()).or_default()
            }
        };
        let mut recycled = None;
        while stored.msgs.len() >= depth {
            let Some(old) = stored.msgs.pop_front() else {
                break;
            };
            self.bytes -= old.body.bytes().len();
            recycled = Some(old.body);
        }
        stored.msgs.push_back(Entry {
            seq,
            body: make(recycled),
        });
        stored.count += 1;
        self.bytes += len;
        if self.map.len() > self.max_routes {
            self.evict_routes();
        }
        if self.bytes > self.max_bytes {
            self.evict_bytes();
        }
    }

    /// Drops the least recently published routes, down to 15/16 of the
    /// route bound.
    fn evict_routes(&mut self) {
        let mut by_age: Vec<u64> = self.map.values().map(Stored::newest_seq).collect();
        by_age.sort_unstable();
        let keep = self.max_routes - self.max_routes / 16;
        let drop = self.map.len().saturating_sub(keep);
        // Never the route just published (it holds the newest seq).
        let cut = by_age
            .get(drop.wrapping_sub(1))
            .copied()
            .filter(|_| drop > 0)
            .map_or(0, |c| c.min(self.seq - 1));
        let mut freed = 0;
        self.map.retain(|r, s| {
            let gone = s.newest_seq() <= cut;
            if gone {
                freed += s.size(r);
            }
            !gone
        });
        self.bytes -= freed;
    }

    /// Drops the oldest messages of any route, down to 15/16 of the byte
    /// bound; routes left without messages go too.
    fn evict_bytes(&mut self) {
        let mut by_age: Vec<(u64, usize)> = self
            .map
            .values()
            .flat_map(|s| s.msgs.iter().map(|e| (e.seq, e.body.bytes().len())))
            .collect();
        by_age.sort_unstable();
        let target = self.max_bytes - self.max_bytes / 16;
        let mut bytes = self.bytes;
        let mut cut = 0;
        for (seq, size) in by_age {
            if bytes <= target || seq >= self.seq {
                break;
            }
            bytes -= size;
            cut = seq;
        }
        let freed = drop_oldest(&mut self.map, |_, _, e| e.seq <= cut);
        self.bytes -= freed;
    }

    /// The newest message of `route`.
    pub fn get(&self, route: &[u8]) -> Option<&[u8]> {
        self.map
            .get(route)
            .and_then(|s| s.msgs.back())
            .map(|e| e.body.bytes())
    }

    /// Up to `n` of the newest messages of `route`, oldest first.
    pub fn history(&self, route: &[u8], n: usize) -> impl Iterator<Item = &[u8]> {
        let msgs = self.map.get(route).map(|s| &s.msgs);
        let skip = msgs.map_or(0, |m| m.len().saturating_sub(n));
        msgs.into_iter()
            .flatten()
            .skip(skip)
            .map(|e| e.body.bytes())
    }

    /// The newest message of every stored route matching `pattern`, in
    /// route order.
    pub fn matching(&self, pattern: &[u8]) -> Vec<&[u8]> {
        self.matching_history(pattern, 1)
    }

    /// `matching`, with the number of publications stored for each route
    /// since it entered the store.
    pub fn matching_counted(&self, pattern: &[u8]) -> Vec<(&[u8], u64)> {
        let mut found: Vec<(&[u8], &[u8], u64)> = self
            .map
            .iter()
            .filter(|(r, _)| route::matches(pattern, r))
            .filter_map(|(r, s)| Some((&r[..], s.msgs.back()?.body.bytes(), s.count)))
            .collect();
        found.sort_unstable_by(|a, b| a.0.cmp(b.0));
        found.into_iter().map(|(_, m, n)| (m, n)).collect()
    }

    /// Up to `n` of the newest messages of every stored route matching
    /// `pattern`: routes in route order, each route's messages oldest first.
    pub fn matching_history(&self, pattern: &[u8], n: usize) -> Vec<&[u8]> {
        let mut routes: Vec<&[u8]> = self
            .map
            .keys()
            .filter(|r| route::matches(pattern, r))
            .map(|r| &r[..])
            .collect();
        routes.sort_unstable();
        routes
            .into_iter()
            .flat_map(|r| self.history(r, n))
            .collect()
    }

    /// Removes every stored message of exactly `route` (MQTT's retained
    /// message deletion, `forget`). Returns whether it had any.
    pub fn remove(&mut self, route: &[u8]) -> bool {
        match self.map.remove(route) {
            Some(s) => {
                self.bytes -= s.size(route);
                true
            }
            None => false,
        }
    }

    /// Removes the stored messages of every route `pattern` matches.
    /// Returns how many routes had some.
    pub fn remove_matching(&mut self, pattern: &[u8]) -> usize {
        let (mut routes, mut freed) = (0, 0);
        self.map.retain(|r, s| {
            let gone = route::matches(pattern, r);
            if gone {
                routes += 1;
                freed += s.size(r);
            }
            !gone
        });
        self.bytes -= freed;
        routes
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

    /// What the byte count should be, recomputed from scratch.
    fn recount(l: &LastStore) -> usize {
        l.map.iter().map(|(r, s)| s.size(r)).sum()
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
        assert_eq!(l.get(b"b"), Some(&b"12345"[..]));
        assert_eq!(l.get(b"a"), None);
        l.set(b"c", b"this one is far too large");
        assert_eq!(l.get(b"c"), None);
        assert_eq!(l.bytes(), recount(&l));
    }

    #[test]
    fn the_depth_one_shortcut_behaves_as_the_general_store() {
        // The same operations on a store that takes the shortcut and on
        // one kept off it by a channel depth rule for a route never used
        // (the same depth of one everywhere): every observable must match
        // after every step, through route and byte evictions.
        let routes: [&[u8]; 6] = [b"a", b"b/c", b"d", b"eeeeeeee", b"f", b"g/h/i"];
        for (max_routes, max_bytes) in [(4, 60), (3, 1000), (100, 25)] {
            let mut fast = LastStore::new(max_routes, max_bytes);
            let mut slow = LastStore::new(max_routes, max_bytes);
            slow.set_route_depths(RouteDepths::new([(&b"zz/never"[..], 1)]));
            let mut x = 0x853c_49e6_748f_ea9bu64;
            for step in 0..5_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let route = routes[(x % 6) as usize];
                let msg = vec![b'0' + (step % 10) as u8; (x >> 8) as usize % 30];
                match (x >> 16) % 10 {
                    0 => {
                        let buf = Rc::new(msg.repeat(2));
                        let range = 1..buf.len().max(1);
                        fast.set_shared(route, Rc::clone(&buf), range.clone());
                        slow.set_shared(route, buf, range);
                    }
                    1 => assert_eq!(fast.remove(route), slow.remove(route)),
                    _ => {
                        fast.set(route, &msg);
                        slow.set(route, &msg);
                    }
                }
                assert_eq!(
                    (fast.len(), fast.bytes()),
                    (slow.len(), slow.bytes()),
                    "{step}"
                );
                assert_eq!(fast.bytes(), recount(&fast), "{step}");
                assert_eq!(
                    fast.matching_counted(b"*"),
                    slow.matching_counted(b"*"),
                    "{step}"
                );
                assert_eq!(fast.matching_counted(b"*/*"), slow.matching_counted(b"*/*"));
                for r in routes {
                    assert_eq!(fast.get(r), slow.get(r), "{step}");
                }
            }
        }
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

    #[test]
    fn history_keeps_the_last_n_oldest_first() {
        let mut l = LastStore::with_depth(10, 1000, 3);
        for m in ["1", "2", "3", "4", "5"] {
            l.set(b"r", m.as_bytes());
        }
        let all: Vec<&[u8]> = l.history(b"r", 10).collect();
        assert_eq!(all, vec![&b"3"[..], b"4", b"5"]);
        let two: Vec<&[u8]> = l.history(b"r", 2).collect();
        assert_eq!(two, vec![&b"4"[..], b"5"]);
        assert_eq!(l.history(b"r", 0).count(), 0);
        assert_eq!(l.history(b"none", 5).count(), 0);
        assert_eq!(l.get(b"r"), Some(&b"5"[..]));
        assert_eq!(l.bytes(), 1 + 3);
        l.set(b"q/a", b"x");
        l.set(b"q/b", b"y");
        l.set(b"q/a", b"z");
        assert_eq!(l.matching_history(b"q/+", 5), vec![&b"x"[..], b"z", b"y"]);
        assert_eq!(l.matching(b"q/+"), vec![&b"z"[..], b"y"]);
        assert_eq!(l.bytes(), recount(&l));
    }

    #[test]
    fn history_reuses_the_buffer_it_drops() {
        let mut l = LastStore::with_depth(10, 1000, 2);
        l.set(b"r", b"aaaa");
        l.set(b"r", b"bbbb");
        let first = l
            .map
            .get(&b"r"[..])
            .and_then(|s| s.msgs.front())
            .map(|e| e.body.bytes().as_ptr());
        l.set(b"r", b"cccc");
        let newest = l
            .map
            .get(&b"r"[..])
            .and_then(|s| s.msgs.back())
            .map(|e| e.body.bytes().as_ptr());
        assert_eq!(first, newest);
    }

    #[test]
    fn over_the_byte_bound_the_oldest_messages_go_first() {
        // Messages of 10 bytes on routes of 2, within 40 bytes.
        let mut l = LastStore::with_depth(10, 40, 4);
        l.set(b"aa", b"a000000001");
        l.set(b"bb", b"b000000001");
        l.set(b"aa", b"a000000002");
        // 2 + 2 + 30 = 34; the next message makes 44 > 40: the oldest
        // message (a…1) goes, and more down to 15/16 of 40 = 38.
        l.set(b"bb", b"b000000002");
        assert_eq!(l.bytes(), recount(&l));
        // 44 - 10 = 34 is within 38: nothing more goes.
        assert_eq!(l.bytes(), 34);
        let a: Vec<&[u8]> = l.history(b"aa", 4).collect();
        let b: Vec<&[u8]> = l.history(b"bb", 4).collect();
        assert_eq!(a, vec![&b"a000000002"[..]]);
        assert_eq!(b, vec![&b"b000000001"[..], b"b000000002"]);
        // A route whose every message went is gone with its bytes.
        l.set(b"cc", b"c000000001");
        l.set(b"cc", b"c000000002");
        // c…1 makes 46: b…1 goes (36); c…2 makes 46: a…2 goes with its
        // route (34).
        assert_eq!(l.get(b"aa"), None);
        assert_eq!(l.bytes(), recount(&l));
        assert_eq!(l.bytes(), 34);
        let b: Vec<&[u8]> = l.history(b"bb", 4).collect();
        assert_eq!(b, vec![&b"b000000002"[..]]);
    }

    #[test]
    fn the_message_just_stored_is_never_dropped() {
        let mut l = LastStore::with_depth(10, 100, 5);
        l.set(b"a", &[1; 50]);
        l.set(b"b", &[2; 99]);
        assert_eq!(l.get(b"b"), Some(&[2; 99][..]));
        assert_eq!(l.get(b"a"), None);
        assert_eq!(l.bytes(), 100);
        let mut l = LastStore::with_depth(1, 1000, 5);
        l.set(b"a", b"1");
        l.set(b"b", b"2");
        assert_eq!(l.get(b"b"), Some(&b"2"[..]));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn routes_count_their_publications() {
        let mut l = LastStore::with_depth(10, 1000, 2);
        for m in ["1", "2", "3"] {
            l.set(b"c/a", m.as_bytes());
        }
        l.set(b"c/b", b"x");
        assert_eq!(
            l.matching_counted(b"c/#"),
            vec![(&b"3"[..], 3), (&b"x"[..], 1)]
        );
    }

    #[test]
    fn removing_a_route_frees_its_bytes_and_history() {
        let mut l = LastStore::with_depth(10, 1 << 20, 3);
        l.set(b"a/1", b"pub a/1\nx");
        l.set(b"a/1", b"pub a/1\ny");
        l.set(b"a/2", b"pub a/2\nz");
        l.set(b"b", b"pub b\nw");
        l.set_shared(b"c", Rc::new(b"pub c\nshared".to_vec()), 0..12);
        assert!(l.remove(b"a/1"));
        assert!(!l.remove(b"a/1"));
        assert_eq!(l.history(b"a/1", 3).count(), 0);
        assert_eq!(l.get(b"a/2"), Some(&b"pub a/2\nz"[..]));
        assert_eq!(l.bytes(), recount(&l));
        assert!(l.remove(b"c"));
        assert_eq!(l.bytes(), recount(&l));
        // A pattern clears every route it matches, and only those.
        l.set(b"a/3", b"pub a/3\nv");
        assert_eq!(l.remove_matching(b"a/*"), 2);
        assert_eq!(l.remove_matching(b"a/*"), 0);
        assert_eq!(l.len(), 1);
        assert_eq!(l.get(b"b"), Some(&b"pub b\nw"[..]));
        assert_eq!(l.bytes(), recount(&l));
        // Stored again afterwards like any new route.
        l.set(b"a/1", b"pub a/1\nagain");
        assert_eq!(l.get(b"a/1"), Some(&b"pub a/1\nagain"[..]));
        assert_eq!(l.bytes(), recount(&l));
    }

    #[test]
    fn depth_zero_stores_nothing() {
        let mut l = LastStore::with_depth(10, 1000, 0);
        l.set(b"r", b"m");
        assert!(l.is_empty());
        assert_eq!(l.bytes(), 0);
    }
}
