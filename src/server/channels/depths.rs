//! The history depths channels set (`history=N`), as the message store
//! looks them up on every publication it stores: patterns in the route
//! index, so a store with no such channel pays one test, and one with some
//! walks the index instead of testing each pattern. Plain data.

use crate::server::broker::Subscriptions;

/// Route patterns and the depth each sets; the first in the order given
/// (channel name order) wins when several match a route.
#[derive(Default)]
pub struct RouteDepths {
    index: Subscriptions,
    depths: Vec<usize>,
}

impl RouteDepths {
    /// Depths by pattern, in precedence order.
    pub fn new<'a>(rules: impl IntoIterator<Item = (&'a [u8], usize)>) -> RouteDepths {
        let mut d = RouteDepths::default();
        for (k, (pattern, depth)) in rules.into_iter().enumerate() {
            d.index.subscribe(k, pattern, true);
            d.depths.push(depth);
        }
        d
    }

    /// Whether no pattern sets a depth.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.depths.is_empty()
    }

    /// The depth set for `route`, if a pattern matches it.
    pub fn depth(&self, route: &[u8]) -> Option<usize> {
        let mut first: Option<usize> = None;
        self.index
            .for_each_subscriber(route, |k| first = Some(first.map_or(k, |f| f.min(k))));
        first.and_then(|k| self.depths.get(k).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_pattern_sets_the_depth() {
        let d = RouteDepths::new([(&b"a/#"[..], 5), (b"a/b", 0), (b"*", 2)]);
        assert_eq!(d.depth(b"a/b"), Some(5));
        assert_eq!(d.depth(b"x"), Some(2));
        let d = RouteDepths::new([(&b"a/b"[..], 0)]);
        assert_eq!(d.depth(b"a/b"), Some(0));
        assert_eq!(d.depth(b"a/c"), None);
        assert!(RouteDepths::default().is_empty());
    }
}
