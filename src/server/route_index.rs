//! The index of subscription patterns (routes with `*`, `+` or `#`), so a
//! publication finds the patterns it matches without testing every one.
//! Plain data keyed by connection slab keys; no sockets, no I/O.
//!
//! Patterns live in a tree of their levels. A literal level is a hashed
//! edge, a whole-level `+` an edge of its own, a final `#` a list at the
//! node of its parent level. `*` crosses levels, so a pattern is indexed up
//! to the level that holds its first `*`; from there on its tail is kept at
//! that node and tested with the glob — only against routes that end with
//! its literal last level (`*/temp`) or start with its literal bytes before
//! the `*` (`room7*`), when it has them, so even many tails at one node are
//! rarely tested. A publication walks the tree along
//! its own levels (taking the `+` edge beside the literal one), so its cost
//! grows with its depth and with the patterns that share its levels, not
//! with the number of patterns.
//!
//! The walk uses a reusable stack of node numbers: no recursion (a route may
//! have a thousand levels) and no allocation per publication.

use std::cell::RefCell;

use super::broker::RouteMap;
use super::keys::Keys;
use crate::proto::route;

/// One level of the tree.
#[derive(Default)]
struct Node {
    /// Literal next levels.
    children: RouteMap<usize>,
    /// The `+` next level.
    plus: Option<usize>,
    /// Keys of `<this level>/#` (at the root: of `#`).
    hash: Keys,
    /// Keys of patterns that end with this level.
    end: Keys,
    /// Patterns with a `*` from the next level on: the tail from that level,
    /// and its keys. Kept where the fewest routes will test them: by their
    /// literal last level (a route can only match if it ends with it), else
    /// by the literal bytes before their first `*` (a route's next level
    /// must start with them), else in one list tested every time.
    globs: Globs,
    glob_ends: RouteMap<Globs>,
    glob_starts: RouteMap<Globs>,
    /// The distinct lengths of the keys of `glob_starts`.
    start_lens: Vec<usize>,
}

type Globs = Vec<(Box<[u8]>, Keys)>;

/// The literal last level of a glob tail, if it has one: not holding `*`
/// and not a whole-level `+` or `#`. A tail always has a `*` in its first
/// level, so such a last level is always preceded by a `/`.
fn literal_end(tail: &[u8]) -> Option<&[u8]> {
    let at = tail.iter().rposition(|&b| b == b'/')?;
    let last = tail.get(at + 1..)?;
    (!last.contains(&b'*') && last != b"+" && last != b"#").then_some(last)
}

/// The literal bytes before a tail's first `*` (all in its first level).
fn literal_start(tail: &[u8]) -> Option<&[u8]> {
    let at = tail.iter().position(|&b| b == b'*')?;
    tail.get(..at).filter(|p| !p.is_empty())
}

/// Where a glob tail is kept in its node.
enum Bucket<'a> {
    End(&'a [u8]),
    Start(&'a [u8]),
    Rest,
}

fn bucket(tail: &[u8]) -> Bucket<'_> {
    match (literal_end(tail), literal_start(tail)) {
        (Some(end), _) => Bucket::End(end),
        (None, Some(start)) => Bucket::Start(start),
        (None, None) => Bucket::Rest,
    }
}

impl Node {
    /// The list a glob tail belongs in.
    fn globs_for(&mut self, tail: &[u8]) -> &mut Globs {
        match bucket(tail) {
            Bucket::End(end) => self.glob_ends.entry(end.into()).or_default(),
            Bucket::Start(start) => {
                if let Err(i) = self.start_lens.binary_search(&start.len()) {
                    self.start_lens.insert(i, start.len());
                }
                self.glob_starts.entry(start.into()).or_default()
            }
            Bucket::Rest => &mut self.globs,
        }
    }

    /// Drops the bucket of `tail` if it is left empty.
    fn tidy(&mut self, tail: &[u8]) {
        match bucket(tail) {
            Bucket::End(end) => {
                if self.glob_ends.get(end).is_some_and(Vec::is_empty) {
                    self.glob_ends.remove(end);
                }
            }
            Bucket::Start(start) => {
                if self.glob_starts.get(start).is_some_and(Vec::is_empty) {
                    self.glob_starts.remove(start);
                    if !self.glob_starts.keys().any(|k| k.len() == start.len()) {
                        self.start_lens.retain(|&l| l != start.len());
                    }
                }
            }
            Bucket::Rest => {}
        }
    }

    /// Calls `f` with the keys of every glob tail here matching `rest` (the
    /// route from this node's next level on), whose last level is `last`.
    fn match_globs(&self, rest: &[u8], last: &[u8], f: &mut impl FnMut(usize)) {
        let ends = self.glob_ends.get(last).into_iter().flatten();
        let starts = self
            .start_lens
            .iter()
            .filter_map(|&n| rest.get(..n).and_then(|p| self.glob_starts.get(p)))
            .flatten();
        for (tail, keys) in self.globs.iter().chain(ends).chain(starts) {
            if route::matches_tail(tail, rest) {
                keys.as_slice().iter().for_each(|&k| f(k));
            }
        }
    }
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_empty()
            && self.end.is_empty()
            && self.globs.is_empty()
            && self.glob_ends.is_empty()
            && self.glob_starts.is_empty()
    }
}

/// Where a pattern's keys are kept in its last node.
enum Slot<'a> {
    Hash,
    End,
    Glob(&'a [u8]),
}

/// The edges leading to a pattern's node, and where its keys are kept there.
struct Path<'a> {
    levels: Vec<Edge<'a>>,
    slot: Slot<'a>,
}

#[derive(Clone, Copy)]
enum Edge<'a> {
    Literal(&'a [u8]),
    Plus,
}

/// Splits `pattern` into the edges to its node and its slot there.
fn path(pattern: &[u8]) -> Path<'_> {
    let mut levels = Vec::new();
    let mut start = 0;
    loop {
        let rest = pattern.get(start..).unwrap_or(&[]);
        let len = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let level = rest.get(..len).unwrap_or(&[]);
        let last = len == rest.len();
        if level.contains(&b'*') {
            return Path {
                levels,
                slot: Slot::Glob(rest),
            };
        }
        if level == b"#" && last {
            return Path {
                levels,
                slot: Slot::Hash,
            };
        }
        levels.push(if level == b"+" {
            Edge::Plus
        } else {
            Edge::Literal(level)
        });
        if last {
            return Path {
                levels,
                slot: Slot::End,
            };
        }
        start += len + 1;
    }
}

/// Subscription patterns, indexed by their levels.
pub struct PatternIndex {
    /// Node 0 is the root; freed nodes are reused.
    nodes: Vec<Node>,
    free: Vec<usize>,
    /// Distinct (pattern, key) pairs held.
    len: usize,
    /// The walk's stack: (node, where the route's next level starts, or
    /// `None` once every level is used). Reused between publications.
    stack: RefCell<Vec<(usize, Option<usize>)>>,
}

impl Default for PatternIndex {
    fn default() -> PatternIndex {
        PatternIndex {
            nodes: vec![Node::default()],
            free: Vec::new(),
            len: 0,
            stack: RefCell::new(Vec::new()),
        }
    }
}

impl PatternIndex {
    /// Whether no pattern is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn new_node(&mut self) -> usize {
        match self.free.pop() {
            Some(n) => n,
            None => {
                self.nodes.push(Node::default());
                self.nodes.len() - 1
            }
        }
    }

    /// Adds `key` to `pattern`'s subscribers. The caller makes sure it is
    /// not there already.
    pub fn insert(&mut self, pattern: &[u8], key: usize) {
        let path = path(pattern);
        let mut at = 0;
        for edge in &path.levels {
            let next = match self.nodes.get(at).and_then(|n| match *edge {
                Edge::Literal(l) => n.children.get(l).copied(),
                Edge::Plus => n.plus,
            }) {
                Some(n) => n,
                None => {
                    let n = self.new_node();
                    let Some(node) = self.nodes.get_mut(at) else {
                        return;
                    };
                    match *edge {
                        Edge::Literal(l) => {
                            node.children.insert(l.into(), n);
                        }
                        Edge::Plus => node.plus = Some(n),
                    }
                    n
                }
            };
            at = next;
        }
        let Some(node) = self.nodes.get_mut(at) else {
            return;
        };
        let added = match path.slot {
            Slot::Hash => node.hash.insert(key),
            Slot::End => node.end.insert(key),
            Slot::Glob(tail) => {
                let globs = node.globs_for(tail);
                match globs.iter_mut().find(|(t, _)| **t == *tail) {
                    Some((_, keys)) => keys.insert(key),
                    None => {
                        let mut keys = Keys::default();
                        keys.insert(key);
                        globs.push((tail.into(), keys));
                        true
                    }
                }
            }
        };
        self.len += usize::from(added);
    }

    /// Removes `key` from `pattern`'s subscribers; false if it was not
    /// there. Nodes left empty are freed.
    pub fn remove(&mut self, pattern: &[u8], key: usize) -> bool {
        let path = path(pattern);
        // The nodes along the path, root first.
        let mut trail = Vec::with_capacity(path.levels.len() + 1);
        let mut at = 0;
        trail.push(at);
        for edge in &path.levels {
            let next = self.nodes.get(at).and_then(|n| match *edge {
                Edge::Literal(l) => n.children.get(l).copied(),
                Edge::Plus => n.plus,
            });
            match next {
                Some(n) => at = n,
                None => return false,
            }
            trail.push(at);
        }
        let Some(node) = self.nodes.get_mut(at) else {
            return false;
        };
        let removed = match path.slot {
            Slot::Hash => node.hash.remove(key),
            Slot::End => node.end.remove(key),
            Slot::Glob(tail) => {
                let globs = node.globs_for(tail);
                let gone = match globs.iter().position(|(t, _)| **t == *tail) {
                    Some(i) => {
                        let gone = globs.get_mut(i).is_some_and(|(_, keys)| keys.remove(key));
                        if globs.get(i).is_some_and(|(_, keys)| keys.is_empty()) {
                            globs.swap_remove(i);
                        }
                        gone
                    }
                    None => false,
                };
                node.tidy(tail);
                gone
            }
        };
        if !removed {
            return false;
        }
        self.len -= 1;
        self.prune(&trail, &path.levels);
        true
    }

    /// Frees the empty nodes at the end of `trail` (never the root).
    fn prune(&mut self, trail: &[usize], edges: &[Edge<'_>]) {
        for (i, edge) in edges.iter().enumerate().rev() {
            let (Some(&parent), Some(&child)) = (trail.get(i), trail.get(i + 1)) else {
                return;
            };
            if !self.nodes.get(child).is_some_and(Node::is_empty) {
                return;
            }
            if let Some(p) = self.nodes.get_mut(parent) {
                match *edge {
                    Edge::Literal(l) => {
                        p.children.remove(l);
                    }
                    Edge::Plus => p.plus = None,
                }
            }
            if let Some(c) = self.nodes.get_mut(child) {
                // Drop the emptied map's memory too.
                *c = Node::default();
            }
            self.free.push(child);
        }
    }

    /// Calls `f` with the key of every subscription whose pattern matches
    /// `route` (once per matching pattern).
    pub fn for_each_match(&self, route: &[u8], mut f: impl FnMut(usize)) {
        if self.is_empty() {
            return;
        }
        // `+` and `#` in the first level do not match `$` routes.
        let dollar = route.first() == Some(&b'$');
        let last_level = route
            .iter()
            .rposition(|&b| b == b'/')
            .and_then(|at| route.get(at + 1..))
            .unwrap_or(route);
        let mut fresh = Vec::new();
        let mut borrowed = self.stack.try_borrow_mut();
        let stack = match borrowed.as_deref_mut() {
            Ok(s) => s,
            Err(_) => &mut fresh,
        };
        stack.clear();
        stack.push((0, Some(0)));
        while let Some((n, pos)) = stack.pop() {
            let Some(node) = self.nodes.get(n) else {
                continue;
            };
            let root = n == 0;
            if !(root && dollar) {
                node.hash.as_slice().iter().for_each(|&k| f(k));
            }
            let Some(pos) = pos else {
                // Every level of the route is used.
                node.end.as_slice().iter().for_each(|&k| f(k));
                continue;
            };
            let rest = route.get(pos..).unwrap_or(&[]);
            node.match_globs(rest, last_level, &mut f);
            let len = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
            let level = rest.get(..len).unwrap_or(&[]);
            let next = (len < rest.len()).then_some(pos + len + 1);
            if let Some(&child) = node.children.get(level) {
                stack.push((child, next));
            }
            if let Some(plus) = node.plus.filter(|_| !(root && dollar)) {
                stack.push((plus, next));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matching(index: &PatternIndex, route: &str) -> Vec<usize> {
        let mut v = Vec::new();
        index.for_each_match(route.as_bytes(), |k| v.push(k));
        v.sort_unstable();
        v
    }

    #[test]
    fn levels_plus_hash_and_globs() {
        let mut ix = PatternIndex::default();
        let patterns = ["a/+/c", "a/#", "#", "+", "a/b*", "*", "a/+/*", "+/b/#"];
        for (k, p) in patterns.iter().enumerate() {
            ix.insert(p.as_bytes(), k);
        }
        assert_eq!(matching(&ix, "a/b/c"), vec![0, 1, 2, 4, 5, 6, 7]);
        assert_eq!(matching(&ix, "a"), vec![1, 2, 3, 5]);
        assert_eq!(matching(&ix, "$x"), vec![5]);
        assert_eq!(matching(&ix, "x/b"), vec![2, 5, 7]);
    }

    #[test]
    fn removal_frees_nodes_and_keeps_the_rest() {
        let mut ix = PatternIndex::default();
        ix.insert(b"a/b/c/+", 1);
        ix.insert(b"a/b/#", 2);
        ix.insert(b"a/b/c/*", 3);
        assert!(!ix.remove(b"a/b/c/+", 2));
        assert!(!ix.remove(b"x/+", 1));
        assert!(ix.remove(b"a/b/c/+", 1));
        assert_eq!(matching(&ix, "a/b/c/d"), vec![2, 3]);
        assert!(ix.remove(b"a/b/c/*", 3));
        assert!(ix.remove(b"a/b/#", 2));
        assert!(ix.is_empty());
        // Only the root is left in use.
        assert_eq!(ix.nodes.len() - ix.free.len(), 1);
        assert!(ix.nodes.first().is_some_and(Node::is_empty));
        // Freed nodes are reused.
        let before = ix.nodes.len();
        ix.insert(b"q/r/+", 4);
        assert_eq!(ix.nodes.len(), before);
        assert_eq!(matching(&ix, "q/r/s"), vec![4]);
    }

    #[test]
    fn glob_tails_are_bucketed_and_tidied() {
        let mut ix = PatternIndex::default();
        // By last level, by leading bytes, and the rest.
        let patterns = ["s/*/temp", "s/room1*", "s/room12*", "s/*x", "s/*/+"];
        for (k, p) in patterns.iter().enumerate() {
            ix.insert(p.as_bytes(), k);
        }
        let node = ix.nodes.get(1).unwrap();
        assert_eq!(node.glob_ends.len(), 1);
        assert_eq!(node.glob_starts.len(), 2);
        assert_eq!(node.start_lens, vec![5, 6]);
        assert_eq!(node.globs.len(), 2);
        assert_eq!(matching(&ix, "s/room12/temp"), vec![0, 1, 2, 4]);
        assert_eq!(matching(&ix, "s/room1x"), vec![1, 3]);
        assert_eq!(matching(&ix, "s/a/b/temp"), vec![0, 4]);
        assert!(ix.remove(b"s/room12*", 2));
        assert_eq!(ix.nodes.get(1).unwrap().start_lens, vec![5]);
        for (k, p) in patterns.iter().enumerate().filter(|&(k, _)| k != 2) {
            assert!(ix.remove(p.as_bytes(), k));
        }
        assert!(ix.is_empty());
        assert_eq!(ix.nodes.len() - ix.free.len(), 1);
    }

    #[test]
    fn a_node_holding_anything_else_outlives_a_removed_neighbour() {
        // At node `s`, one thing of each kind a node holds; beside it a
        // pattern through `s` that is removed again, which prunes up to
        // `s` if `s` looks empty.
        let kinds = [
            ("s/c/d", "s/c/d"),
            ("s/+/d", "s/q/d"),
            ("s/#", "s/q"),
            ("s", "s"),
            ("s/*/temp", "s/q/temp"),
            ("s/room*", "s/room9"),
            ("s/*x", "s/qx"),
        ];
        for (pattern, route) in kinds {
            let mut ix = PatternIndex::default();
            ix.insert(pattern.as_bytes(), 1);
            ix.insert(b"s/x/y", 2);
            assert!(ix.remove(b"s/x/y", 2));
            assert_eq!(matching(&ix, route), vec![1], "{pattern}");
            assert!(ix.remove(pattern.as_bytes(), 1));
            assert_eq!(ix.nodes.len() - ix.free.len(), 1, "{pattern}");
        }
    }

    #[test]
    fn deep_routes_need_no_recursion() {
        let mut ix = PatternIndex::default();
        let deep = "a/".repeat(2000) + "+";
        ix.insert(deep.as_bytes(), 7);
        let route = "a/".repeat(2000) + "z";
        assert_eq!(matching(&ix, &route), vec![7]);
    }
}
