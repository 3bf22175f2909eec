//! One queue as a state machine: its messages (staged, ready or in
//! flight), its consumers and their credit, its visibility timers. Pure
//! logic driven by the `Instant` each call is given: no clock, no store,
//! no sockets. The set of named queues, dead-lettering between queues and
//! the journal of changes live in `book`.
//!
//! Delivery is credit-based with round-robin among the consumers that have
//! credit: a consumer is handed a message only while it holds fewer
//! unacknowledged messages than its prefetch, and the consumers that can
//! take one are served in turn. Credit is what keeps a slow consumer from
//! being flooded (plain round-robin would queue work behind it while others
//! idle); the rotation keeps equally fast consumers equally busy. Ready
//! messages go out lowest id first, so a redelivered message goes ahead of
//! newer ones and each queue keeps its order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::rc::Rc;
use std::time::Instant;

use super::config::Config;
use super::QueueError;

/// A message id: unique within its queue, increasing in enqueue order,
/// never reused (the next id is stored with the queue).
pub type MsgId = u64;
/// Who consumes: an opaque number the caller chooses (the server uses the
/// connection's identity).
pub type ConsumerId = u64;

/// Who holds an in-flight message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A consumer attached with a prefetch; released when it detaches.
    Consumer(ConsumerId),
    /// A one-off fetch (`qget`): released only by its visibility timeout,
    /// acknowledged by anyone who knows the id.
    Lease,
}

/// A message as it is kept: what the store holds plus the delivery count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its id in its queue.
    pub id: MsgId,
    /// The bytes enqueued.
    pub payload: Rc<[u8]>,
    /// When it was enqueued.
    pub enqueued: Instant,
    /// How often it has been handed out.
    pub deliveries: u32,
}

/// A message handed out: to a consumer, or to a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handout {
    /// Who now holds it.
    pub holder: Holder,
    /// Its id.
    pub id: MsgId,
    /// Deliveries so far, this one included (1 the first time).
    pub deliveries: u32,
    /// The bytes enqueued.
    pub payload: Rc<[u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Enqueued but not yet durable: invisible until confirmed.
    Staged,
    Ready,
    InFlight {
        holder: Holder,
        /// Which handout this is; a timer for an earlier one is stale.
        lease: u64,
    },
}

#[derive(Debug)]
struct Entry {
    msg: Stored,
    status: Status,
}

#[derive(Debug)]
struct Consumer {
    id: ConsumerId,
    prefetch: u32,
    held: BTreeSet<MsgId>,
}

impl Consumer {
    fn has_credit(&self) -> bool {
        self.held.len() < self.prefetch as usize
    }
}

/// Counts shown by `lsq` and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Messages enqueued (durably) and not yet acknowledged.
    pub depth: usize,
    /// Of those, waiting to be handed out.
    pub ready: usize,
    /// Of those, handed out and not yet acknowledged.
    pub in_flight: usize,
    /// Attached consumers.
    pub consumers: usize,
    /// Age of the oldest message counted in `depth`, if any.
    pub oldest: Option<std::time::Duration>,
    /// Payload bytes held, staged messages included.
    pub bytes: usize,
}

/// One queue.
#[derive(Debug)]
pub struct Queue {
    config: Config,
    entries: BTreeMap<MsgId, Entry>,
    ready: BTreeSet<MsgId>,
    /// Visibility deadlines: `(deadline, id, lease)`, stale ones skipped.
    timers: BinaryHeap<Reverse<(Instant, MsgId, u64)>>,
    consumers: Vec<Consumer>,
    /// Where the round-robin looks first.
    cursor: usize,
    next_id: MsgId,
    next_lease: u64,
    bytes: usize,
    staged: usize,
}

/// What became of an in-flight message given back (timeout, detach).
enum Released {
    Ready,
    Dead(Stored),
}

impl Queue {
    /// An empty queue whose next message gets id `next_id` (at least 1).
    pub fn new(config: Config, next_id: MsgId) -> Queue {
        Queue {
            config,
            entries: BTreeMap::new(),
            ready: BTreeSet::new(),
            timers: BinaryHeap::new(),
            consumers: Vec::new(),
            cursor: 0,
            next_id: next_id.max(1),
            next_lease: 0,
            bytes: 0,
            staged: 0,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces its configuration; messages in flight keep their deadline.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// The id the next enqueue gets.
    pub fn next_id(&self) -> MsgId {
        self.next_id
    }

    /// Payload bytes held, staged messages included.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds `msg`, ready, as found in the store on recovery (or given back
    /// by an undo). Ids at or past `next_id` move it on.
    pub fn put_back(&mut self, msg: Stored) {
        self.next_id = self.next_id.max(msg.id.saturating_add(1));
        self.bytes += msg.payload.len();
        self.ready.insert(msg.id);
        self.entries.insert(
            msg.id,
            Entry {
                msg,
                status: Status::Ready,
            },
        );
    }

    /// Adds a message that is not durable yet: it gets its id now but
    /// stays invisible until `confirm`.
    pub fn stage(&mut self, payload: Rc<[u8]>, deliveries: u32, now: Instant) -> Stored {
        let id = self.next_id;
        self.next_id += 1;
        let msg = Stored {
            id,
            payload,
            enqueued: now,
            deliveries,
        };
        self.bytes += msg.payload.len();
        self.staged += 1;
        self.entries.insert(
            id,
            Entry {
                msg: msg.clone(),
                status: Status::Staged,
            },
        );
        msg
    }

    /// A staged message became durable: it is ready.
    pub fn confirm(&mut self, id: MsgId) {
        if let Some(e) = self.entries.get_mut(&id) {
            if e.status == Status::Staged {
                e.status = Status::Ready;
                self.staged -= 1;
                self.ready.insert(id);
            }
        }
    }

    /// A staged message could not be made durable: it never existed.
    pub fn unstage(&mut self, id: MsgId) {
        if self
            .entries
            .get(&id)
            .is_some_and(|e| e.status == Status::Staged)
        {
            if let Some(e) = self.entries.remove(&id) {
                self.staged -= 1;
                self.bytes -= e.msg.payload.len();
            }
        }
    }

    /// Attaches consumer `id` accepting `prefetch` unacknowledged messages
    /// at once (at least 1); an attached one gets the new prefetch.
    pub fn attach(&mut self, id: ConsumerId, prefetch: u32) {
        let prefetch = prefetch.max(1);
        match self.consumers.iter_mut().find(|c| c.id == id) {
            Some(c) => c.prefetch = prefetch,
            None => self.consumers.push(Consumer {
                id,
                prefetch,
                held: BTreeSet::new(),
            }),
        }
    }

    /// Whether consumer `id` is attached.
    pub fn is_attached(&self, id: ConsumerId) -> bool {
        self.consumers.iter().any(|c| c.id == id)
    }

    /// Detaches consumer `id`: what it held is handed out again, or
    /// returned (removed from the queue) when it used up its deliveries.
    pub fn detach(&mut self, id: ConsumerId) -> Vec<Stored> {
        let Some(at) = self.consumers.iter().position(|c| c.id == id) else {
            return Vec::new();
        };
        let consumer = self.consumers.remove(at);
        if self.cursor > at {
            self.cursor -= 1;
        }
        let mut dead = Vec::new();
        for msg_id in consumer.held {
            if let Released::Dead(m) = self.release(msg_id) {
                dead.push(m);
            }
        }
        dead
    }

    /// Makes in-flight message `id` ready again, or removes it when its
    /// deliveries are used up. Its holder's credit is not touched.
    fn release(&mut self, id: MsgId) -> Released {
        let max = self.config.max_deliveries;
        let Some(e) = self.entries.get_mut(&id) else {
            return Released::Ready;
        };
        if max > 0 && e.msg.deliveries >= max {
            if let Some(e) = self.entries.remove(&id) {
                self.bytes -= e.msg.payload.len();
                return Released::Dead(e.msg);
            }
            return Released::Ready;
        }
        e.status = Status::Ready;
        self.ready.insert(id);
        Released::Ready
    }

    fn hand_out(&mut self, id: MsgId, holder: Holder, now: Instant) -> Option<Handout> {
        let deadline = now + self.config.visibility;
        let e = self.entries.get_mut(&id)?;
        self.next_lease += 1;
        e.status = Status::InFlight {
            holder,
            lease: self.next_lease,
        };
        e.msg.deliveries = e.msg.deliveries.saturating_add(1);
        self.timers.push(Reverse((deadline, id, self.next_lease)));
        Some(Handout {
            holder,
            id,
            deliveries: e.msg.deliveries,
            payload: Rc::clone(&e.msg.payload),
        })
    }

    /// Hands ready messages to consumers with credit, in turn, until either
    /// runs out; appends them to `out`.
    pub fn pump(&mut self, now: Instant, out: &mut Vec<Handout>) {
        while !self.ready.is_empty() {
            let n = self.consumers.len();
            let Some(at) = (0..n)
                .map(|i| (self.cursor + i) % n)
                .find(|&i| self.consumers.get(i).is_some_and(Consumer::has_credit))
            else {
                return;
            };
            let Some(id) = self.ready.pop_first() else {
                return;
            };
            let Some(consumer) = self.consumers.get_mut(at) else {
                return;
            };
            consumer.held.insert(id);
            let holder = Holder::Consumer(consumer.id);
            self.cursor = (at + 1) % n;
            out.extend(self.hand_out(id, holder, now));
        }
    }

    /// Whether `pump` would hand anything out.
    pub fn can_pump(&self) -> bool {
        !self.ready.is_empty() && self.consumers.iter().any(Consumer::has_credit)
    }

    /// Hands out up to `n` ready messages to a fetch: they come back after
    /// the visibility timeout unless acknowledged.
    pub fn lease(&mut self, n: usize, now: Instant) -> Vec<Handout> {
        let mut out = Vec::new();
        while out.len() < n {
            let Some(id) = self.ready.pop_first() else {
                break;
            };
            out.extend(self.hand_out(id, Holder::Lease, now));
        }
        out
    }

    /// Removes up to `n` ready messages as they are handed out, without
    /// acknowledgement (at most once); their delivery count includes it.
    pub fn take(&mut self, n: usize) -> Vec<Stored> {
        let mut out = Vec::new();
        while out.len() < n {
            let Some(id) = self.ready.pop_first() else {
                break;
            };
            if let Some(mut e) = self.entries.remove(&id) {
                self.bytes -= e.msg.payload.len();
                e.msg.deliveries = e.msg.deliveries.saturating_add(1);
                out.push(e.msg);
            }
        }
        out
    }

    /// Acknowledges in-flight message `id` for consumer `by` and removes
    /// it. A message held by a consumer can only be acknowledged by that
    /// consumer; a leased one by anyone. A message that is not in flight
    /// (unknown, acknowledged, or back in the queue after its timeout) is
    /// refused: its holder no longer owns it.
    pub fn ack(&mut self, id: MsgId, by: ConsumerId) -> Result<Stored, QueueError> {
        let holder = match self.entries.get(&id).map(|e| e.status) {
            Some(Status::InFlight { holder, .. }) => holder,
            _ => return Err(QueueError::NotInFlight),
        };
        if let Holder::Consumer(c) = holder {
            if c != by {
                return Err(QueueError::NotInFlight);
            }
            if let Some(consumer) = self.consumers.iter_mut().find(|x| x.id == c) {
                consumer.held.remove(&id);
            }
        }
        let e = self.entries.remove(&id).ok_or(QueueError::NotInFlight)?;
        self.bytes -= e.msg.payload.len();
        Ok(e.msg)
    }

    /// Gives back every message whose visibility timeout passed by `now`;
    /// returns those that used up their deliveries (removed from the queue).
    pub fn expire(&mut self, now: Instant) -> Vec<Stored> {
        let mut dead = Vec::new();
        while let Some(&Reverse((deadline, id, lease))) = self.timers.peek() {
            if deadline > now {
                break;
            }
            self.timers.pop();
            let holder = match self.entries.get(&id).map(|e| e.status) {
                Some(Status::InFlight { holder, lease: l }) if l == lease => holder,
                _ => continue,
            };
            if let Holder::Consumer(c) = holder {
                if let Some(consumer) = self.consumers.iter_mut().find(|x| x.id == c) {
                    consumer.held.remove(&id);
                }
            }
            if let Released::Dead(m) = self.release(id) {
                dead.push(m);
            }
        }
        dead
    }

    /// The earliest visibility deadline (possibly of a message since
    /// acknowledged: waking for it early is harmless).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Drops timers of messages no longer in flight, so a queue whose
    /// messages are acknowledged promptly does not accumulate them.
    pub fn compact_timers(&mut self) {
        if self.timers.len() > 64 && self.timers.len() > 2 * self.in_flight() {
            let entries = &self.entries;
            self.timers.retain(|Reverse((_, id, lease))| {
                matches!(entries.get(id).map(|e| e.status),
                    Some(Status::InFlight { lease: l, .. }) if l == *lease)
            });
        }
    }

    fn in_flight(&self) -> usize {
        self.entries.len() - self.ready.len() - self.staged
    }

    /// Depth, consumers, oldest age, at `now`.
    pub fn stats(&self, now: Instant) -> Stats {
        let oldest = self
            .entries
            .values()
            .find(|e| e.status != Status::Staged)
            .map(|e| now.saturating_duration_since(e.msg.enqueued));
        Stats {
            depth: self.entries.len() - self.staged,
            ready: self.ready.len(),
            in_flight: self.in_flight(),
            consumers: self.consumers.len(),
            oldest,
            bytes: self.bytes,
        }
    }

    /// Consumers attached, in attach order.
    pub fn consumer_ids(&self) -> Vec<ConsumerId> {
        self.consumers.iter().map(|c| c.id).collect()
    }
}

#[cfg(test)]
#[path = "single_tests.rs"]
mod tests;
