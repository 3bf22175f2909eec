//! The deliveries of a run of repeated publications (`repeat.rs`), queued
//! in batches: each publication is encoded once per shared encoding into
//! that encoding's arena, as `fan_out` does, but the range the run's
//! encodings fill is handed to each subscriber's queue once, when the run
//! ends or the arena changes, instead of once per publication. A run is one
//! read of one connection's input, so a subscriber's queue may pass the
//! high-water mark by that much before its publisher is held.
//!
//! It must not reorder what a subscriber receives: a batch is queued
//! before anything else can be (the run ends before any other dispatch,
//! and before a publisher's answer that takes the slow path, which may log
//! to subscribers). Subscribers without a shared encoding, and parked
//! sessions, get each publication as `fan_out` gives it.

use std::cell::RefCell;
use std::rc::Rc;

use super::fanout::{encode_shared, shared_slot};
use super::{queued_is_noop, Hub};
use crate::server::conn::SharedRef;

/// The run's subscribers, by how they are delivered to.
#[derive(Default)]
pub(super) struct Batch {
    /// Per shared encoding: its subscribers and their pending range.
    groups: [Group; 3],
    /// Subscribers given each publication in turn.
    singles: Vec<usize>,
}

/// Bytes `start..end` of an arena: encodings not yet queued.
type Range = (Rc<RefCell<Vec<u8>>>, usize, usize);

/// The subscribers of one shared encoding.
#[derive(Default)]
struct Group {
    keys: Vec<usize>,
    /// Where in which arena the encodings not yet queued lie.
    pending: Option<Range>,
}

impl Hub {
    /// Sorts `targets` (a route's subscribers, in any order, possibly more
    /// than once) into the batch, queueing whatever the last batch left. A
    /// closing connection goes with the singles, where, as in `fan_out`,
    /// it gets nothing and counts for no delivery.
    pub(super) fn batch_targets(&mut self, targets: &mut Vec<usize>) {
        self.batch_flush();
        targets.sort_unstable();
        targets.dedup();
        let batch = &mut self.repeat.batch;
        for g in batch.groups.iter_mut() {
            g.keys.clear();
        }
        batch.singles.clear();
        for &key in targets.iter() {
            let enc = self
                .conns
                .get(key)
                .filter(|c| !c.closing)
                .and_then(|c| c.transport.shared_encoding());
            match enc.and_then(|e| batch.groups.get_mut(shared_slot(e))) {
                Some(g) => g.keys.push(key),
                None => batch.singles.push(key),
            }
        }
    }

    /// Delivers one publication of the run to the batch's subscribers and
    /// counts it. Returns the number of deliveries.
    pub(super) fn batch_deliver(&mut self, msg: &[u8]) -> usize {
        self.fan.delivery_seq += 1;
        let seq = self.fan.delivery_seq;
        self.fan.arenas_used = true;
        let mut delivered = 0;
        for slot in 0..self.repeat.batch.groups.len() {
            delivered += self.batch_encode(slot, msg, seq);
        }
        let singles = std::mem::take(&mut self.repeat.batch.singles);
        let mut encoded = [None, None, None];
        for &key in &singles {
            delivered += usize::from(self.deliver_to(key, msg, seq, &mut encoded, None));
        }
        self.repeat.batch.singles = singles;
        self.metrics.publications += 1;
        self.metrics.deliveries += delivered as u64;
        self.metrics.messages_out += delivered as u64;
        delivered
    }

    /// Encodes `msg` into shared encoding `slot`'s arena, extending the
    /// group's pending range (or queueing it and starting another when the
    /// arena changed). Returns the group's deliveries.
    fn batch_encode(&mut self, slot: usize, msg: &[u8], seq: u64) -> usize {
        let Some(group) = self.repeat.batch.groups.get_mut(slot) else {
            return 0;
        };
        let Some(&first) = group.keys.first() else {
            return 0;
        };
        let (Some(conn), Some(arena)) = (self.conns.get_mut(first), self.fan.arenas.get_mut(slot))
        else {
            return 0;
        };
        // Every connection of a shared encoding encodes a message the same
        // way: the first one's codec stands for all.
        let (Some((start, end)), Some(arena)) = (encode_shared(arena, conn, msg, false), arena)
        else {
            return self.batch_one_by_one(slot, msg, seq);
        };
        match group.pending.as_mut() {
            Some((a, _, pend)) if Rc::ptr_eq(a, arena) && *pend == start => *pend = end,
            _ => {
                let next = Some((Rc::clone(arena), start, end));
                let done = std::mem::replace(&mut group.pending, next);
                self.queue_range(slot, done);
            }
        }
        self.repeat
            .batch
            .groups
            .get(slot)
            .map_or(0, |g| g.keys.len())
    }

    /// `msg` to each of group `slot`'s subscribers as `fan_out` gives it
    /// (the arena could not be had).
    #[cold]
    fn batch_one_by_one(&mut self, slot: usize, msg: &[u8], seq: u64) -> usize {
        self.batch_flush();
        let keys = self.take_keys(slot);
        let mut encoded = [None, None, None];
        let mut delivered = 0;
        for &key in &keys {
            delivered += usize::from(self.deliver_to(key, msg, seq, &mut encoded, None));
        }
        self.put_keys(slot, keys);
        delivered
    }

    /// Group `slot`'s subscribers, taken out to be walked while the hub is
    /// used (`put_keys` gives them back).
    fn take_keys(&mut self, slot: usize) -> Vec<usize> {
        let group = self.repeat.batch.groups.get_mut(slot);
        group
            .map(|g| std::mem::take(&mut g.keys))
            .unwrap_or_default()
    }

    fn put_keys(&mut self, slot: usize, keys: Vec<usize>) {
        if let Some(g) = self.repeat.batch.groups.get_mut(slot) {
            g.keys = keys;
        }
    }

    /// Queues every group's pending range to its subscribers.
    pub(super) fn batch_flush(&mut self) {
        for slot in 0..self.repeat.batch.groups.len() {
            let done = self
                .repeat
                .batch
                .groups
                .get_mut(slot)
                .and_then(|g| g.pending.take());
            self.queue_range(slot, done);
        }
    }

    /// Queues `range` (an arena and where in it) to every subscriber of
    /// group `slot` that is not closing.
    fn queue_range(&mut self, slot: usize, range: Option<Range>) {
        let Some((arena, start, end)) = range else {
            return;
        };
        let keys = self.take_keys(slot);
        for &key in &keys {
            let Some(conn) = self.conns.get_mut(key).filter(|c| !c.closing) else {
                continue;
            };
            conn.out.push_shared(SharedRef::Arena(&arena), start, end);
            if !queued_is_noop(conn, self.high_water) {
                let _ = self.queued(key);
            }
        }
        self.put_keys(slot, keys);
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
