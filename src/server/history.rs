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

    /// Whether `route` keeps one message, overwritten by the next (the
    /// default depth, or a channel's `history=1`): then `times`
    /// publications of it leave what the last one alone would, bar the
    /// counts (`set_repeated`).
    pub fn overwrites(&self, route: &[u8]) -> bool {
        self.depth_of(route) == 1
    }

    /// Stores `msg` as the newest of `times` publications of `route` in a
    /// row, the earlier ones never read in between: as `times` calls of
    /// `set` would when `overwrites(route)`, bar the route's age among the
    /// others (that of one publication, which orders eviction the same).
    /// The route's count of publications advances by `times`.
    pub fn set_repeated(&mut self, route: &[u8], msg: &[u8], times: u64) {
        let before = self.seq;
        self.set(route, msg);
        if self.seq == before || times < 2 {
            return;
        }
        if let Some(stored) = self.map.get_mut(route) {
            stored.count += times - 1;
        }
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
mod tests;
