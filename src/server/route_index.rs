//! The index of subscription patterns (routes with `*`, `+` or `#`), so a
//! publication finds the patterns it matches without testing every one.
//! Plain data keyed by connection slab keys; no sockets, no I/O.
//!
//! Patterns live in a tree of their levels. A literal level is a hashed
//! edge, a whole-level `+` an edge of its own, a final `#` a list at the
//! node of its parent level. `*` crosses levels, so a pattern is indexed up
//! to the level that holds its first `*`; from there on its tail is kept at
//! that node and tested with the glob. A publication walks the tree along
//! its own levels (taking the `+` edge beside the literal one), so its cost
//! grows with its depth and with the patterns that share its levels, not
//! with the number of patterns.
//!
//! The walk uses a reusable stack of node numbers: no recursion (a route may
//! have a thousand levels) and no allocation per publication.

use std::cell::RefCell;

use super::broker::RouteMap;
use crate::proto::route;

/// One level of the tree.
#[derive(Default)]
struct Node {
    /// Literal next levels.
    children: RouteMap<usize>,
    /// The `+` next level.
    plus: Option<usize>,
    /// Keys of `<this level>/#` (at the root: of `#`).
    hash: Vec<usize>,
    /// Keys of patterns that end with this level.
    end: Vec<usize>,
    /// Patterns with a `*` from the next level on: the tail from that level,
    /// and its keys.
    globs: Vec<(Box<[u8]>, Vec<usize>)>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_empty()
            && self.end.is_empty()
            && self.globs.is_empty()
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
        match path.slot {
            Slot::Hash => node.hash.push(key),
            Slot::End => node.end.push(key),
            Slot::Glob(tail) => match node.globs.iter_mut().find(|(t, _)| **t == *tail) {
                Some((_, keys)) => keys.push(key),
                None => node.globs.push((tail.into(), vec![key])),
            },
        }
        self.len += 1;
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
            Slot::Hash => remove_key(&mut node.hash, key),
            Slot::End => remove_key(&mut node.end, key),
            Slot::Glob(tail) => match node.globs.iter().position(|(t, _)| **t == *tail) {
                Some(i) => {
                    let gone = node
                        .globs
                        .get_mut(i)
                        .is_some_and(|(_, keys)| remove_key(keys, key));
                    if node.globs.get(i).is_some_and(|(_, keys)| keys.is_empty()) {
                        node.globs.swap_remove(i);
                    }
                    gone
                }
                None => false,
            },
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
                node.hash.iter().for_each(|&k| f(k));
            }
            let Some(pos) = pos else {
                // Every level of the route is used.
                node.end.iter().for_each(|&k| f(k));
                continue;
            };
            let rest = route.get(pos..).unwrap_or(&[]);
            for (tail, keys) in &node.globs {
                if route::matches_tail(tail, rest) {
                    keys.iter().for_each(|&k| f(k));
                }
            }
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

fn remove_key(keys: &mut Vec<usize>, key: usize) -> bool {
    match keys.iter().position(|&k| k == key) {
        Some(i) => {
            keys.swap_remove(i);
            true
        }
        None => false,
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
    fn deep_routes_need_no_recursion() {
        let mut ix = PatternIndex::default();
        let deep = "a/".repeat(2000) + "+";
        ix.insert(deep.as_bytes(), 7);
        let route = "a/".repeat(2000) + "z";
        assert_eq!(matching(&ix, &route), vec![7]);
    }
}
