//! [`Queues`]: every named queue, which consumer is attached where, and
//! the journal of one turn — the store [`Op`]s to commit and how to undo
//! each in memory should the commit fail. Dead letters move between queues
//! here. Pure logic driven by the `Instant` each call is given; committing
//! is `durable`'s job, choosing consumers within a queue is `single`'s.
//!
//! About 600 lines because each operation on the queues writes, in the
//! same place, the store op it commits and the undo that reverses it: the
//! journal cannot be pulled apart from the operations without the two
//! drifting. The tests are in `book_tests.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::time::Instant;

use super::clock::Clock;
use super::config::{check_name, Config};
use super::single::{ConsumerId, Handout, Holder, MsgId, Queue, Stats, Stored};
use super::store::{drop_counts_removed_later, Op, Qid, Snapshot};
use super::QueueError;

/// Limits on what queues may hold, so a flood of enqueues is refused
/// (NACK) instead of exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Payload bytes held by all queues together (default 256 MiB).
    pub max_bytes: usize,
    /// Number of queues (default 10 000).
    pub max_queues: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 256 << 20,
            max_queues: 10_000,
        }
    }
}

/// A message handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The consumer it goes to; `None` for a fetch or a take.
    pub consumer: Option<ConsumerId>,
    /// Its queue.
    pub queue: Rc<str>,
    /// Its id.
    pub id: MsgId,
    /// Deliveries so far, this one included.
    pub deliveries: u32,
    /// What was enqueued.
    pub payload: Rc<[u8]>,
}

/// One line of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The queue's name.
    pub name: Rc<str>,
    /// Its counts.
    pub stats: Stats,
    /// Its configuration.
    pub config: Config,
}

struct Slot {
    name: Rc<str>,
    queue: Queue,
}

/// How to take back one change in memory.
enum Undo {
    Created(Qid),
    Config(Qid, Config),
    Staged(Qid, MsgId),
    Removed(Qid, Stored),
    Deleted(Qid, Box<Slot>, Vec<ConsumerId>),
}

/// The changes of one turn: what to commit, and how to take it back.
pub struct Batch {
    /// The store operations, in order.
    pub ops: Vec<Op>,
    undo: Vec<Undo>,
}

impl Batch {
    /// Whether there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.undo.is_empty()
    }
}

/// Every queue, by name.
pub struct Queues {
    names: BTreeMap<Rc<str>, Qid>,
    slots: HashMap<Qid, Slot>,
    next_qid: Qid,
    attached: HashMap<ConsumerId, BTreeSet<Qid>>,
    ops: Vec<Op>,
    undo: Vec<Undo>,
    /// Queues whose next id moved on in this turn.
    moved: BTreeSet<Qid>,
    /// Queues that may have something to hand out.
    dirty: BTreeSet<Qid>,
    limits: Limits,
    bytes: usize,
    clock: Clock,
    notes: Vec<String>,
}

impl Queues {
    /// No queue yet.
    pub fn new(limits: Limits, clock: Clock) -> Queues {
        Queues {
            names: BTreeMap::new(),
            slots: HashMap::new(),
            next_qid: 1,
            attached: HashMap::new(),
            ops: Vec::new(),
            undo: Vec::new(),
            moved: BTreeSet::new(),
            dirty: BTreeSet::new(),
            limits,
            bytes: 0,
            clock,
            notes: Vec::new(),
        }
    }

    /// Rebuilds the queues a store held. Consumers and in-flight state are
    /// not stored: every message is ready again, with its delivery count.
    pub fn restore(&mut self, snapshot: Snapshot, now: Instant) {
        for saved in snapshot.queues {
            let config = Config::parse(saved.config.as_bytes()).unwrap_or_else(|_| {
                self.notes.push(format!(
                    "queue {}: stored configuration '{}' unreadable, defaults used",
                    saved.name, saved.config
                ));
                Config::default()
            });
            let name: Rc<str> = Rc::from(saved.name.as_str());
            let mut queue = Queue::new(config, saved.next_id);
            for m in saved.msgs {
                queue.put_back(Stored {
                    id: m.id,
                    payload: Rc::from(m.payload),
                    enqueued: self.clock.instant(m.unix_ms, now),
                    deliveries: m.deliveries,
                });
            }
            self.bytes += queue.bytes();
            self.next_qid = self.next_qid.max(saved.qid + 1);
            self.names.insert(Rc::clone(&name), saved.qid);
            self.slots.insert(saved.qid, Slot { name, queue });
        }
    }

    /// Payload bytes held by every queue.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Lines for the log (a stored configuration that could not be read,
    /// dead letters dropped), taken once.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn qid_of(&self, name: &[u8]) -> Result<Qid, QueueError> {
        let name = check_name(name)?;
        self.names.get(name).copied().ok_or(QueueError::NotFound)
    }

    /// Runs `f` on queue `qid`, keeping the byte count in step.
    fn with<R>(&mut self, qid: Qid, f: impl FnOnce(&mut Queue) -> R) -> Option<R> {
        let slot = self.slots.get_mut(&qid)?;
        let before = slot.queue.bytes();
        let r = f(&mut slot.queue);
        self.bytes = (self.bytes + slot.queue.bytes()).saturating_sub(before);
        Some(r)
    }

    fn put_queue_op(&self, qid: Qid) -> Option<Op> {
        let slot = self.slots.get(&qid)?;
        Some(Op::PutQueue {
            qid,
            name: Rc::clone(&slot.name),
            config: slot.queue.config().to_string(),
            next_id: slot.queue.next_id(),
        })
    }

    /// The queue named `name`, created with `config` when missing.
    fn ensure(&mut self, name: &str, config: impl FnOnce() -> Config) -> Result<Qid, QueueError> {
        if let Some(&qid) = self.names.get(name) {
            return Ok(qid);
        }
        if self.slots.len() >= self.limits.max_queues {
            return Err(QueueError::Full);
        }
        let qid = self.next_qid;
        self.next_qid += 1;
        let name: Rc<str> = Rc::from(name);
        self.names.insert(Rc::clone(&name), qid);
        let queue = Queue::new(config(), 1);
        self.slots.insert(qid, Slot { name, queue });
        self.ops.extend(self.put_queue_op(qid));
        self.undo.push(Undo::Created(qid));
        Ok(qid)
    }

    /// Creates queue `name` with `options` (see `Config::parse`), or gives
    /// an existing one those options.
    pub fn create(&mut self, name: &[u8], options: &[u8]) -> Result<(), QueueError> {
        let name = check_name(name)?;
        let config = Config::parse(options)?;
        if config.dead_letter_of(name).as_deref() == Some(name) {
            return Err(QueueError::BadOption);
        }
        let qid = self.ensure(name, || config.clone())?;
        let Some(slot) = self.slots.get_mut(&qid) else {
            return Err(QueueError::NotFound);
        };
        if *slot.queue.config() != config {
            let old = slot.queue.config().clone();
            slot.queue.set_config(config);
            self.undo.push(Undo::Config(qid, old));
            self.ops.extend(self.put_queue_op(qid));
        }
        Ok(())
    }

    /// Enqueues `payload` in `name` (created with defaults when missing).
    /// The id is the message's from now on, but the message stays
    /// invisible until the turn's commit succeeds (`finish`).
    pub fn enqueue(
        &mut self,
        name: &[u8],
        payload: &[u8],
        now: Instant,
    ) -> Result<MsgId, QueueError> {
        let name = check_name(name)?;
        if self.bytes.saturating_add(payload.len()) > self.limits.max_bytes {
            return Err(QueueError::Full);
        }
        let qid = self.ensure(name, Config::default)?;
        let payload: Rc<[u8]> = Rc::from(payload);
        let msg = self
            .with(qid, |q| q.stage(Rc::clone(&payload), 0, now))
            .ok_or(QueueError::NotFound)?;
        self.ops.push(Op::PutMsg {
            qid,
            id: msg.id,
            unix_ms: self.clock.unix_ms(now),
            deliveries: 0,
            payload,
        });
        self.undo.push(Undo::Staged(qid, msg.id));
        self.moved.insert(qid);
        Ok(msg.id)
    }

    /// Deletes queue `name` and its messages; its consumers are detached.
    pub fn delete(&mut self, name: &[u8]) -> Result<(), QueueError> {
        let qid = self.qid_of(name)?;
        let slot = self.slots.remove(&qid).ok_or(QueueError::NotFound)?;
        self.names.remove(&slot.name);
        self.bytes = self.bytes.saturating_sub(slot.queue.bytes());
        let consumers = slot.queue.consumer_ids();
        for c in &consumers {
            self.unlink(*c, qid);
        }
        self.ops.push(Op::DelQueue { qid });
        self.undo
            .push(Undo::Deleted(qid, Box::new(slot), consumers));
        Ok(())
    }

    fn unlink(&mut self, consumer: ConsumerId, qid: Qid) {
        if let Some(set) = self.attached.get_mut(&consumer) {
            set.remove(&qid);
            if set.is_empty() {
                self.attached.remove(&consumer);
            }
        }
    }

    /// Attaches `consumer` to `name` (created with defaults when missing),
    /// accepting `prefetch` unacknowledged messages at once.
    pub fn consume(
        &mut self,
        name: &[u8],
        consumer: ConsumerId,
        prefetch: u32,
    ) -> Result<(), QueueError> {
        let name = check_name(name)?;
        let qid = self.ensure(name, Config::default)?;
        self.with(qid, |q| q.attach(consumer, prefetch));
        self.attached.entry(consumer).or_default().insert(qid);
        self.dirty.insert(qid);
        Ok(())
    }

    /// Detaches `consumer` from `name`; what it held is handed out again.
    pub fn cancel(
        &mut self,
        name: &[u8],
        consumer: ConsumerId,
        now: Instant,
    ) -> Result<(), QueueError> {
        let qid = self.qid_of(name)?;
        if !self
            .slots
            .get(&qid)
            .is_some_and(|s| s.queue.is_attached(consumer))
        {
            return Err(QueueError::NotFound);
        }
        self.unlink(consumer, qid);
        let dead = self.with(qid, |q| q.detach(consumer)).unwrap_or_default();
        self.bury(qid, dead, now);
        self.dirty.insert(qid);
        Ok(())
    }

    /// `consumer` is gone (its connection closed): detached everywhere.
    pub fn disconnect(&mut self, consumer: ConsumerId, now: Instant) {
        let Some(qids) = self.attached.remove(&consumer) else {
            return;
        };
        for qid in qids {
            let dead = self.with(qid, |q| q.detach(consumer)).unwrap_or_default();
            self.bury(qid, dead, now);
            self.dirty.insert(qid);
        }
    }

    /// Acknowledges message `id` of `name` on behalf of `by`.
    pub fn ack(&mut self, name: &[u8], id: MsgId, by: ConsumerId) -> Result<(), QueueError> {
        let qid = self.qid_of(name)?;
        let msg = self
            .with(qid, |q| q.ack(id, by))
            .ok_or(QueueError::NotFound)??;
        self.ops.push(Op::DelMsg { qid, id });
        self.undo.push(Undo::Removed(qid, msg));
        self.dirty.insert(qid);
        Ok(())
    }

    fn delivery(&mut self, qid: Qid, name: &Rc<str>, h: Handout) -> Delivery {
        self.ops.push(Op::Deliveries {
            qid,
            id: h.id,
            n: h.deliveries,
        });
        Delivery {
            consumer: match h.holder {
                Holder::Consumer(c) => Some(c),
                Holder::Lease => None,
            },
            queue: Rc::clone(name),
            id: h.id,
            deliveries: h.deliveries,
            payload: h.payload,
        }
    }

    /// Leases up to `n` messages of `name`: they come back after the
    /// visibility timeout unless acknowledged.
    pub fn lease(
        &mut self,
        name: &[u8],
        n: usize,
        now: Instant,
    ) -> Result<Vec<Delivery>, QueueError> {
        let qid = self.qid_of(name)?;
        let handouts = self.with(qid, |q| q.lease(n, now)).unwrap_or_default();
        let name = self.name(qid);
        Ok(handouts
            .into_iter()
            .map(|h| self.delivery(qid, &name, h))
            .collect())
    }

    /// Removes and returns up to `n` messages of `name`, unacknowledged (at
    /// most once).
    pub fn take(&mut self, name: &[u8], n: usize) -> Result<Vec<Delivery>, QueueError> {
        let qid = self.qid_of(name)?;
        let taken = self.with(qid, |q| q.take(n)).unwrap_or_default();
        let name = self.name(qid);
        let mut out = Vec::with_capacity(taken.len());
        for m in taken {
            self.ops.push(Op::DelMsg { qid, id: m.id });
            out.push(Delivery {
                consumer: None,
                queue: Rc::clone(&name),
                id: m.id,
                deliveries: m.deliveries,
                payload: Rc::clone(&m.payload),
            });
            self.undo.push(Undo::Removed(qid, m));
        }
        Ok(out)
    }

    fn name(&self, qid: Qid) -> Rc<str> {
        self.slots
            .get(&qid)
            .map(|s| Rc::clone(&s.name))
            .unwrap_or_else(|| Rc::from(""))
    }

    /// Moves messages that used up their deliveries from `from` to its
    /// dead-letter queue (created when missing), or drops them when it has
    /// none. They were already removed from `from`.
    fn bury(&mut self, from: Qid, dead: Vec<Stored>, now: Instant) {
        if dead.is_empty() {
            return;
        }
        let Some(slot) = self.slots.get(&from) else {
            return;
        };
        let name = Rc::clone(&slot.name);
        let target = slot.queue.config().dead_letter_of(&name);
        for m in dead {
            self.ops.push(Op::DelMsg {
                qid: from,
                id: m.id,
            });
            let payload = Rc::clone(&m.payload);
            let (deliveries, id) = (m.deliveries, m.id);
            self.undo.push(Undo::Removed(from, m));
            let to = target
                .as_deref()
                .filter(|t| check_name(t.as_bytes()).is_ok())
                .and_then(|t| self.ensure(t, Config::dead_letter_queue).ok());
            let Some(to) = to else {
                self.notes.push(format!(
                    "queue {name}: message {id} dropped after {deliveries} deliveries (no dead-letter queue)"
                ));
                continue;
            };
            let staged = self.with(to, |q| q.stage(Rc::clone(&payload), deliveries, now));
            if let Some(msg) = staged {
                self.ops.push(Op::PutMsg {
                    qid: to,
                    id: msg.id,
                    unix_ms: self.clock.unix_ms(now),
                    deliveries,
                    payload,
                });
                self.undo.push(Undo::Staged(to, msg.id));
                self.moved.insert(to);
            }
        }
    }

    /// Gives back messages whose visibility timeout passed by `now`, and
    /// moves those that used up their deliveries to their dead-letter queue.
    pub fn expire(&mut self, now: Instant) {
        let due: Vec<Qid> = self
            .slots
            .iter()
            .filter(|(_, s)| s.queue.next_deadline().is_some_and(|t| t <= now))
            .map(|(&qid, _)| qid)
            .collect();
        for qid in due {
            let dead = self.with(qid, |q| {
                let dead = q.expire(now);
                q.compact_timers();
                dead
            });
            self.bury(qid, dead.unwrap_or_default(), now);
            self.dirty.insert(qid);
        }
    }

    /// The earliest visibility deadline of any queue.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .values()
            .filter_map(|s| s.queue.next_deadline())
            .min()
    }

    /// Hands ready messages to consumers with credit, in every queue where
    /// something changed since the last call.
    pub fn pump(&mut self, now: Instant) -> Vec<Delivery> {
        let mut out = Vec::new();
        let mut handouts = Vec::new();
        for qid in std::mem::take(&mut self.dirty) {
            self.with(qid, |q| q.pump(now, &mut handouts));
            if handouts.is_empty() {
                continue;
            }
            let name = self.name(qid);
            for h in handouts.drain(..) {
                let d = self.delivery(qid, &name, h);
                out.push(d);
            }
        }
        out
    }

    /// Whether `pump` may hand something out.
    pub fn wants_pump(&self) -> bool {
        self.dirty
            .iter()
            .any(|q| self.slots.get(q).is_some_and(|s| s.queue.can_pump()))
    }

    /// Every queue, by name, with its counts at `now`.
    pub fn list(&self, now: Instant) -> Vec<Listing> {
        self.names
            .iter()
            .filter_map(|(name, qid)| {
                let slot = self.slots.get(qid)?;
                Some(Listing {
                    name: Rc::clone(name),
                    stats: slot.queue.stats(now),
                    config: slot.queue.config().clone(),
                })
            })
            .collect()
    }

    /// The counts of queue `name`.
    pub fn stats(&self, name: &[u8], now: Instant) -> Result<Stats, QueueError> {
        let qid = self.qid_of(name)?;
        self.slots
            .get(&qid)
            .map(|s| s.queue.stats(now))
            .ok_or(QueueError::NotFound)
    }

    /// Whether something changed that should be committed without waiting
    /// for another reason to (all but delivery counts, which ride along).
    pub fn has_pending_changes(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether this turn changed anything that must be committed.
    pub fn has_changes(&self) -> bool {
        !self.ops.is_empty() || !self.undo.is_empty() || !self.moved.is_empty()
    }

    /// The changes of this turn, to commit; then `finish` with the outcome.
    pub fn take_batch(&mut self) -> Batch {
        for qid in std::mem::take(&mut self.moved) {
            if let Some(op) = self.put_queue_op(qid) {
                self.ops.push(op);
            }
        }
        let mut ops = std::mem::take(&mut self.ops);
        drop_counts_removed_later(&mut ops);
        Batch {
            ops,
            undo: std::mem::take(&mut self.undo),
        }
    }

    /// Applies the outcome of committing `batch`: staged messages become
    /// visible, or, when the commit failed, every change is taken back in
    /// memory, latest first, so memory again matches the store.
    pub fn finish(&mut self, batch: Batch, committed: bool) {
        if committed {
            for u in batch.undo {
                if let Undo::Staged(qid, id) = u {
                    self.with(qid, |q| q.confirm(id));
                    self.dirty.insert(qid);
                }
            }
            return;
        }
        for u in batch.undo.into_iter().rev() {
            match u {
                Undo::Created(qid) => {
                    if let Some(slot) = self.slots.remove(&qid) {
                        self.names.remove(&slot.name);
                        self.bytes = self.bytes.saturating_sub(slot.queue.bytes());
                        for c in slot.queue.consumer_ids() {
                            self.unlink(c, qid);
                        }
                    }
                }
                Undo::Config(qid, old) => {
                    self.with(qid, |q| q.set_config(old));
                }
                Undo::Staged(qid, id) => {
                    self.with(qid, |q| q.unstage(id));
                }
                Undo::Removed(qid, msg) => {
                    self.with(qid, |q| q.put_back(msg));
                    self.dirty.insert(qid);
                }
                Undo::Deleted(qid, slot, consumers) => {
                    self.bytes += slot.queue.bytes();
                    self.names.insert(Rc::clone(&slot.name), qid);
                    self.slots.insert(qid, *slot);
                    for c in consumers {
                        self.attached.entry(c).or_default().insert(qid);
                    }
                    self.dirty.insert(qid);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
