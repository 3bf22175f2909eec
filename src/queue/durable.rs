//! [`Durable`]: the queues plus a store, and the group commit that joins
//! them. Changes made during a reactor turn are journaled by [`Queues`];
//! `end_turn` commits them as one transaction (one fsync), then releases
//! the replies that waited for it — an enqueue's id, an acknowledgement's
//! ACK — or, if the commit failed, answers them all with the error and
//! takes the changes back in memory. Nothing is answered as durable before
//! it is. Recovery (`open`) rebuilds the queues from the store.
//!
//! Other parts of the server keep records in the same store and the same
//! commits (`put_records`, `take_records`: MQTT persistent sessions), so
//! there is one storage engine and one fsync per turn.
//!
//! It does not know connections: a reply's addressee is an opaque `T`.

use std::rc::Rc;
use std::time::Instant;

use super::book::{Delivery, Limits, Queues};
use super::clock::Clock;
use super::single::{ConsumerId, MsgId};
use super::store::{Op, Qid, Store, StoreError};
use super::QueueError;

/// The reply a change waits to send until it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An enqueue: the message's id.
    Id(MsgId),
    /// A create, delete or acknowledgement: done.
    Done,
    /// A take (consume without acknowledgement): the messages removed.
    Messages(Vec<Delivery>),
}

/// What one turn's end produced.
#[derive(Debug)]
pub struct Turn<T> {
    /// Replies released by the commit, to whom they go.
    pub answers: Vec<(T, Result<Answer, QueueError>)>,
    /// Messages handed to consumers.
    pub deliveries: Vec<Delivery>,
    /// The commit failed with this (every answer carries it too).
    pub error: Option<StoreError>,
    /// Store operations committed (0 when nothing was written).
    pub ops: usize,
    /// Lines for the log (dead letters dropped, …).
    pub notes: Vec<String>,
}

/// A message whose enqueue was committed (what a mirror of the queues
/// copies elsewhere: a bridge's JetStream stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// Its queue.
    pub queue: Rc<str>,
    /// Its id in that queue.
    pub id: MsgId,
    /// What was enqueued.
    pub payload: Rc<[u8]>,
}

/// Named queues kept in a store.
pub struct Durable<T> {
    queues: Queues,
    store: Box<dyn Store>,
    waiting: Vec<(T, Answer)>,
    /// Record changes (`PutRecord`, `DelRecord`) for the next commit.
    records: Vec<Op>,
    /// Records read back at `open`, until their owner takes them.
    restored: Vec<(String, Vec<u8>)>,
    /// Committed enqueues not taken yet; `None` while nobody asked for
    /// them (nothing is copied then).
    enqueued: Option<Vec<Enqueued>>,
}

impl<T> Durable<T> {
    /// Queues in `store` without reading it first: for a store known to be
    /// empty (memory), where nothing can fail.
    pub fn empty(store: Box<dyn Store>, limits: Limits, clock: Clock) -> Durable<T> {
        Durable {
            queues: Queues::new(limits, clock),
            store,
            waiting: Vec::new(),
            records: Vec::new(),
            restored: Vec::new(),
            enqueued: None,
        }
    }

    /// Opens `store` and rebuilds the queues it holds; `now` is when.
    pub fn open(
        mut store: Box<dyn Store>,
        limits: Limits,
        clock: Clock,
        now: Instant,
    ) -> Result<Durable<T>, StoreError> {
        let mut snapshot = store.load()?;
        let restored = std::mem::take(&mut snapshot.records);
        let mut queues = Queues::new(limits, clock);
        queues.restore(snapshot, now);
        Ok(Durable {
            queues,
            store,
            waiting: Vec::new(),
            records: Vec::new(),
            restored,
            enqueued: None,
        })
    }

    /// The queues (listing, counts).
    pub fn queues(&self) -> &Queues {
        &self.queues
    }

    /// The queues, for changes that need no durable reply: attaching and
    /// detaching consumers, leases.
    pub fn queues_mut(&mut self) -> &mut Queues {
        &mut self.queues
    }

    /// Record changes to commit with this turn's (only `PutRecord` and
    /// `DelRecord` belong here; a failed commit keeps them for the next).
    pub fn put_records(&mut self, ops: impl IntoIterator<Item = Op>) {
        self.records.extend(ops);
    }

    /// The records read back at `open` whose key starts with `prefix`,
    /// taken (each is handed out once).
    pub fn take_records(&mut self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let (mine, rest) = std::mem::take(&mut self.restored)
            .into_iter()
            .partition(|(k, _)| k.starts_with(prefix));
        self.restored = rest;
        mine
    }

    /// What the store is, for the log.
    pub fn describe(&self) -> String {
        self.store.describe()
    }

    /// Enqueues; `who` is answered with the id once it is durable.
    pub fn enqueue(
        &mut self,
        who: T,
        name: &[u8],
        payload: &[u8],
        now: Instant,
    ) -> Result<(), QueueError> {
        let id = self.queues.enqueue(name, payload, now)?;
        self.waiting.push((who, Answer::Id(id)));
        Ok(())
    }

    /// Creates or reconfigures; `who` is answered once it is durable.
    pub fn create(&mut self, who: T, name: &[u8], options: &[u8]) -> Result<(), QueueError> {
        self.queues.create(name, options)?;
        self.waiting.push((who, Answer::Done));
        Ok(())
    }

    /// Deletes; `who` is answered once it is durable.
    pub fn delete(&mut self, who: T, name: &[u8]) -> Result<(), QueueError> {
        self.queues.delete(name)?;
        self.waiting.push((who, Answer::Done));
        Ok(())
    }

    /// Acknowledges for consumer `by`; `who` is answered once it is durable.
    pub fn ack(
        &mut self,
        who: T,
        name: &[u8],
        id: MsgId,
        by: ConsumerId,
    ) -> Result<(), QueueError> {
        self.queues.ack(name, id, by)?;
        self.waiting.push((who, Answer::Done));
        Ok(())
    }

    /// Takes up to `n` messages without acknowledgement; `who` gets them
    /// once their removal is durable.
    pub fn take(&mut self, who: T, name: &[u8], n: usize) -> Result<(), QueueError> {
        let msgs = self.queues.take(name, n)?;
        self.waiting.push((who, Answer::Messages(msgs)));
        Ok(())
    }

    /// From now on, every committed enqueue (a dead letter moved on too)
    /// is kept for `take_enqueued`, until taken.
    pub fn keep_enqueued(&mut self) {
        self.enqueued.get_or_insert_with(Vec::new);
    }

    /// The enqueues committed since the last call, in commit order.
    pub fn take_enqueued(&mut self) -> Vec<Enqueued> {
        self.enqueued
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Whether replies or changes (a dead letter moved when a consumer
    /// left, say) wait for a commit: the next turn should come at once.
    pub fn needs_commit(&self) -> bool {
        !self.waiting.is_empty() || !self.records.is_empty() || self.queues.has_pending_changes()
    }

    /// The earliest visibility deadline, for the reactor's poll timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queues.next_deadline()
    }

    /// Ends a turn: gives back messages whose visibility timeout passed,
    /// commits every change of the turn as one transaction, releases the
    /// replies that waited for it, then hands ready messages to consumers.
    pub fn end_turn(&mut self, now: Instant) -> Turn<T> {
        if self.queues.next_deadline().is_some_and(|t| t <= now) {
            self.queues.expire(now);
        }
        let mut turn = Turn {
            answers: Vec::new(),
            deliveries: Vec::new(),
            error: None,
            ops: 0,
            notes: Vec::new(),
        };
        if self.queues.has_changes() || !self.waiting.is_empty() || !self.records.is_empty() {
            let mut batch = self.queues.take_batch();
            let records = std::mem::take(&mut self.records);
            let queue_ops = batch.ops.len();
            batch.ops.extend(records);
            let result = self.store.commit(&batch.ops);
            if let (Ok(()), Some(kept)) = (&result, self.enqueued.as_mut()) {
                committed_enqueues(&batch.ops, kept);
            }
            turn.ops = batch.ops.len();
            if result.is_err() {
                // Kept for the next commit, older first.
                let mut again: Vec<Op> = batch.ops.drain(queue_ops..).collect();
                again.append(&mut self.records);
                self.records = again;
            } else {
                batch.ops.truncate(queue_ops);
            }
            self.queues.finish(batch, result.is_ok());
            let waiting = std::mem::take(&mut self.waiting);
            match result {
                Ok(()) => turn.answers = waiting.into_iter().map(|(w, a)| (w, Ok(a))).collect(),
                Err(e) => {
                    turn.answers = waiting
                        .into_iter()
                        .map(|(w, _)| (w, Err(QueueError::Store(e.clone()))))
                        .collect();
                    turn.ops = 0;
                    turn.error = Some(e);
                }
            }
        }
        turn.deliveries = self.queues.pump(now);
        turn.notes = self.queues.take_notes();
        turn
    }
}

/// The messages `ops` enqueued, named by queue: every queue an enqueue
/// touched has its record in the same batch (its next id moved on).
fn committed_enqueues(ops: &[Op], into: &mut Vec<Enqueued>) {
    let name = |qid: Qid| {
        ops.iter().find_map(|op| match op {
            Op::PutQueue { qid: q, name, .. } if *q == qid => Some(Rc::clone(name)),
            _ => None,
        })
    };
    for op in ops {
        if let Op::PutMsg {
            qid, id, payload, ..
        } = op
        {
            if let Some(queue) = name(*qid) {
                into.push(Enqueued {
                    queue,
                    id: *id,
                    payload: Rc::clone(payload),
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "durable_tests.rs"]
mod tests;
