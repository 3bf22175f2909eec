//! Loop safety between ducq brokers (PROTOCOL.md §16): every message that
//! crosses a ducq bridge carries a trace — the broker it was first
//! published on, its number there, and the brokers it has passed through —
//! and every broker keeps a bounded window of the (origin, number) pairs it
//! has seen. A broker drops a message whose trace names it or that it has
//! seen, and never sends a message to a broker its trace names; so in any
//! cycle of bridges each broker delivers a message once, and a message
//! crosses each bridge at most once in each direction. Pure data.

use std::collections::{HashSet, VecDeque};
use std::fmt::Write;

/// Most brokers a trace may name after its origin; a longer one is refused
/// as malformed (a real path is a handful of hops).
pub const MAX_HOPS: usize = 32;

/// Pairs remembered by [`Seen`]: enough for every message in flight
/// around a cycle, a few MiB at most.
pub const SEEN_WINDOW: usize = 65_536;

/// Where a message has been.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The broker it was first published on.
    pub origin: u64,
    /// Its publication number there.
    pub seq: u64,
    /// Brokers it passed through since, in order.
    pub hops: Vec<u64>,
}

impl Trace {
    /// A trace for a message published on broker `origin` as number `seq`.
    pub fn new(origin: u64, seq: u64) -> Trace {
        Trace {
            origin,
            seq,
            hops: Vec::new(),
        }
    }

    /// Parses `<origin hex>:<seq decimal>[,<hop hex>]...`.
    pub fn parse(text: &[u8]) -> Option<Trace> {
        let text = std::str::from_utf8(text).ok()?;
        let mut parts = text.split(',');
        let (origin, seq) = parts.next()?.split_once(':')?;
        let mut t = Trace::new(broker_id(origin)?, seq.parse().ok()?);
        for hop in parts {
            if t.hops.len() == MAX_HOPS {
                return None;
            }
            t.hops.push(broker_id(hop)?);
        }
        Some(t)
    }

    /// Whether broker `id` is its origin or one of its hops.
    pub fn names(&self, id: u64) -> bool {
        self.origin == id || self.hops.contains(&id)
    }

    /// Its wire form (what [`Trace::parse`] reads).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{:016x}:{}", self.origin, self.seq);
        for h in &self.hops {
            let _ = write!(s, ",{h:016x}");
        }
        s.into_bytes()
    }
}

/// A broker id: 1 to 16 hexadecimal digits.
pub fn broker_id(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

/// The (origin, number) pairs seen lately, oldest forgotten first.
#[derive(Debug, Default)]
pub struct Seen {
    set: HashSet<(u64, u64)>,
    order: VecDeque<(u64, u64)>,
}

impl Seen {
    /// Records the pair; false when it was already there (a duplicate).
    pub fn insert(&mut self, origin: u64, seq: u64) -> bool {
        if !self.set.insert((origin, seq)) {
            return false;
        }
        self.order.push_back((origin, seq));
        if self.order.len() > SEEN_WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Pairs remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_round_trips() {
        let mut t = Trace::new(0xabc, 42);
        assert_eq!(t.to_bytes(), b"0000000000000abc:42");
        t.hops = vec![1, u64::MAX];
        let wire = t.to_bytes();
        assert_eq!(
            wire,
            b"0000000000000abc:42,0000000000000001,ffffffffffffffff"
        );
        assert_eq!(Trace::parse(&wire), Some(t.clone()));
        assert!(t.names(0xabc) && t.names(1) && t.names(u64::MAX) && !t.names(2));
        assert_eq!(Trace::parse(b"f:0"), Some(Trace::new(15, 0)));
    }

    #[test]
    fn malformed_traces_are_refused() {
        let too_long = format!("1:1{}", ",2".repeat(MAX_HOPS + 1));
        for bad in [
            &b""[..],
            b"abc",
            b":1",
            b"x:1",
            b"1:",
            b"1:-1",
            b"1:1,",
            b"1:1,zz",
            b"11111111111111111:1",
            // 17 digits are refused by their count, not by their value.
            b"00000000000000001:1",
            b"1:1,00000000000000002",
            b"1:1,\xff",
            too_long.as_bytes(),
        ] {
            assert_eq!(
                Trace::parse(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let max = format!("1:1{}", ",2".repeat(MAX_HOPS));
        assert_eq!(Trace::parse(max.as_bytes()).unwrap().hops.len(), MAX_HOPS);
        // 16 digits with leading zeros are an id.
        assert_eq!(broker_id("0000000000000001"), Some(1));
    }

    #[test]
    fn seen_is_a_bounded_window() {
        let mut s = Seen::default();
        assert!(s.is_empty());
        assert!(s.insert(1, 1));
        assert!(!s.is_empty());
        assert!(!s.insert(1, 1));
        assert!(s.insert(2, 1));
        for n in 0..SEEN_WINDOW as u64 {
            s.insert(9, n);
        }
        assert_eq!(s.len(), SEEN_WINDOW);
        // The oldest were forgotten, the newest are still there.
        assert!(s.insert(1, 1));
        assert!(!s.insert(9, SEEN_WINDOW as u64 - 1));
    }
}
