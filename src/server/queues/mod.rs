//! The server side of durable queues and request/reply: [`QueueService`]
//! turns queue commands into calls on [`Durable`] and the replies, answers
//! and deliveries into wire messages addressed to connections. It owns no
//! socket: commands and the reactor send what it returns through the hub.
//! The wire forms are in PROTOCOL.md §14.

use std::collections::HashMap;
use std::time::Instant;

use crate::proto::queue::{Delivered, QueueLine};
use crate::proto::{message, State, ACK, END, PARTS};
use crate::queue::book::Delivery;
use crate::queue::{Answer, Clock, Durable, Limits, Listing, QueueError, Store, StoreError};
use crate::server::conn::ConnId;

mod glue;
pub mod rpc;

pub use rpc::{Out, Rpc};

/// Most messages one `qget`/`qtake` returns.
pub const MAX_BATCH: usize = 1000;
/// Largest prefetch a consumer may ask for.
pub const MAX_PREFETCH: u32 = 10_000;
/// Requests in flight at once, all requesters together.
pub const MAX_REQUESTS: usize = 100_000;

/// `qmsg Q\n<id> <deliveries>\n<payload>`: a message handed out.
pub fn delivery_message(d: &Delivery) -> Vec<u8> {
    Delivered {
        queue: d.queue.as_bytes(),
        id: d.id,
        deliveries: d.deliveries,
        payload: &d.payload,
    }
    .format()
}

fn parts(items: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = vec![PARTS.to_vec()];
    out.extend(items);
    out.push(END.to_vec());
    out
}

/// A queue's listing as its `lsq` line, which every rendering of queue
/// counts starts from (`lsq`, `/metrics`, `/stats`, the dashboard).
pub fn queue_line(l: &Listing) -> QueueLine<'_> {
    let s = &l.stats;
    QueueLine {
        name: l.name.as_bytes(),
        depth: s.depth as u64,
        ready: s.ready as u64,
        in_flight: s.in_flight as u64,
        consumers: s.consumers as u64,
        oldest_ms: s.oldest.map_or(0, |d| d.as_millis() as u64),
    }
}

/// The NACK that answers a refused change: the state's code and text, and
/// for a store out of space why, so a client can tell a full disk from a
/// broken one (the log has the system's words for either).
fn refusal(e: &QueueError) -> Vec<u8> {
    let state = e.state();
    match e {
        QueueError::Store(s) if s.full => {
            format!("NACK *\n{}\n{}: {STORE_FULL}", state.code(), state.text()).into_bytes()
        }
        _ => message::nack(state),
    }
}

/// What a NACK 7 adds when the queue store is out of space (a full disk or
/// a file-size limit).
pub const STORE_FULL: &str = "queue store full, no space left";

/// A decimal in a payload (surrounding whitespace allowed); `default` when
/// the payload is empty; `EMsgInv` when it is not a number in `1..=max`.
pub fn count(payload: &[u8], default: u64, max: u64) -> Result<u64, State> {
    let text = std::str::from_utf8(payload)
        .map_err(|_| State::EMsgInv)?
        .trim();
    if text.is_empty() {
        return Ok(default);
    }
    match text.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(State::EMsgInv),
    }
}

/// Queues and request/reply for one server.
pub struct QueueService {
    durable: Durable<ConnId>,
    /// Consumer number (the connection's generation) → connection.
    consumers: HashMap<u64, ConnId>,
    /// Serving members and requests in flight.
    pub rpc: Rpc,
    /// Connections whose input held behind a late reply can be decoded
    /// again (`glue.rs`).
    held_input: Vec<usize>,
    /// Commits failed in a row, and how the last one failed.
    failed_commits: u64,
    last_failure: Option<StoreError>,
    /// Commits that wrote something, and those that failed (`/metrics`).
    commits: u64,
    commit_failures: u64,
}

impl QueueService {
    /// Opens `store` and recovers the queues it holds.
    pub fn open(store: Box<dyn Store>, limits: Limits) -> Result<QueueService, StoreError> {
        let durable = Durable::open(store, limits, Clock::system(), Instant::now())?;
        Ok(QueueService::around(durable))
    }

    /// A service over `durable`: no consumers, requests or commits yet.
    fn around(durable: Durable<ConnId>) -> QueueService {
        QueueService {
            durable,
            consumers: HashMap::new(),
            rpc: Rpc::new(MAX_REQUESTS),
            held_input: Vec::new(),
            failed_commits: 0,
            last_failure: None,
            commits: 0,
            commit_failures: 0,
        }
    }

    /// The service `settings` ask for: queues in `data_dir` (recovered
    /// from it), or in memory when it is `None`.
    pub fn for_settings(settings: &crate::server::Settings) -> std::io::Result<QueueService> {
        match &settings.data_dir {
            None => Ok(QueueService::memory(settings.queue_limits)),
            Some(dir) => {
                let store = Box::new(crate::queue::DiskStore::lazy(dir));
                QueueService::open(store, settings.queue_limits)
                    .map_err(|e| std::io::Error::other(format!("queue store: {e}")))
            }
        }
    }

    /// Queues kept in memory only (not durable).
    pub fn memory(limits: Limits) -> QueueService {
        QueueService::around(Durable::empty(
            Box::new(crate::queue::MemStore),
            limits,
            Clock::system(),
        ))
    }

    /// The queues, for listings and tests.
    pub fn durable(&self) -> &Durable<ConnId> {
        &self.durable
    }

    /// Records to commit with this turn's changes (MQTT sessions; see
    /// `Durable::put_records`).
    pub fn put_records(&mut self, ops: Vec<crate::queue::store::Op>) {
        self.durable.put_records(ops);
    }

    /// The records read back at start whose key starts with `prefix`.
    pub fn take_records(&mut self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        self.durable.take_records(prefix)
    }

    /// What the store is, for the log.
    pub fn describe(&self) -> String {
        self.durable.describe()
    }

    /// `enq Q\nP`: answered with the id at the end of the turn.
    pub fn enqueue(
        &mut self,
        caller: ConnId,
        queue: &[u8],
        payload: &[u8],
        now: Instant,
    ) -> Result<(), State> {
        self.durable
            .enqueue(caller, queue, payload, now)
            .map_err(|e| e.state())
    }

    /// Enqueues with nobody waiting for the id (a script's enqueue): it is
    /// committed with the turn; a failed commit drops it, logged.
    pub fn enqueue_quiet(
        &mut self,
        queue: &[u8],
        payload: &[u8],
        now: Instant,
    ) -> Result<u64, State> {
        self.durable
            .queues_mut()
            .enqueue(queue, payload, now)
            .map_err(|e| e.state())
    }

    /// Keeps every committed enqueue from now on, for `take_enqueued`
    /// (a bridge mirroring queues asks; nothing is copied otherwise).
    pub fn keep_enqueued(&mut self) {
        self.durable.keep_enqueued();
    }

    /// The enqueues committed since the last call, in commit order.
    pub fn take_enqueued(&mut self) -> Vec<crate::queue::durable::Enqueued> {
        self.durable.take_enqueued()
    }

    /// Every queue with its counts, by name.
    pub fn listing(&self, now: Instant) -> Vec<crate::queue::Listing> {
        self.durable.queues().list(now)
    }

    /// Payload bytes held by every queue.
    pub fn bytes(&self) -> usize {
        self.durable.queues().bytes()
    }

    /// Commits of the store that wrote something, and commits that failed
    /// (their turn's changes refused), since the server started.
    pub fn commit_counts(&self) -> (u64, u64) {
        (self.commits, self.commit_failures)
    }

    /// `qcreate Q\nOPTIONS`: ACK at the end of the turn.
    pub fn create(&mut self, caller: ConnId, queue: &[u8], options: &[u8]) -> Result<(), State> {
        self.durable
            .create(caller, queue, options)
            .map_err(|e| e.state())
    }

    /// `qdel Q\n`: ACK at the end of the turn.
    pub fn delete(&mut self, caller: ConnId, queue: &[u8]) -> Result<(), State> {
        self.durable.delete(caller, queue).map_err(|e| e.state())
    }

    /// `qack Q\nID`: ACK at the end of the turn.
    pub fn ack(&mut self, caller: ConnId, queue: &[u8], id: &[u8]) -> Result<(), State> {
        let id = count(id, 0, u64::MAX)?;
        self.durable
            .ack(caller, queue, id, caller.gen)
            .map_err(|e| e.state())
    }

    /// `qtake Q\nN`: PARTS, the messages, END at the end of the turn.
    pub fn take(&mut self, caller: ConnId, queue: &[u8], n: &[u8]) -> Result<(), State> {
        let n = count(n, 1, MAX_BATCH as u64)? as usize;
        self.durable.take(caller, queue, n).map_err(|e| e.state())
    }

    /// `qsub Q\nPREFETCH`: the reply (ACK); deliveries follow.
    pub fn consume(
        &mut self,
        caller: ConnId,
        queue: &[u8],
        prefetch: &[u8],
    ) -> Result<Vec<u8>, State> {
        let prefetch = count(prefetch, 1, MAX_PREFETCH as u64)? as u32;
        self.durable
            .queues_mut()
            .consume(queue, caller.gen, prefetch)
            .map_err(|e| e.state())?;
        self.consumers.insert(caller.gen, caller);
        Ok(ACK.to_vec())
    }

    /// `qunsub Q\n`: the reply (ACK); what the caller held goes out again.
    pub fn cancel(&mut self, caller: ConnId, queue: &[u8], now: Instant) -> Result<Vec<u8>, State> {
        self.durable
            .queues_mut()
            .cancel(queue, caller.gen, now)
            .map_err(|e| e.state())?;
        Ok(ACK.to_vec())
    }

    /// `qget Q\nN`: the replies (PARTS, leased messages, END).
    pub fn lease(&mut self, queue: &[u8], n: &[u8], now: Instant) -> Result<Vec<Vec<u8>>, State> {
        let n = count(n, 1, MAX_BATCH as u64)? as usize;
        let got = self
            .durable
            .queues_mut()
            .lease(queue, n, now)
            .map_err(|e| e.state())?;
        Ok(parts(got.iter().map(delivery_message)))
    }

    /// `lsq`: PARTS, `name,depth,ready,in_flight,consumers,oldest_ms` per
    /// queue, END.
    pub fn list(&self, now: Instant) -> Vec<Vec<u8>> {
        parts(
            self.durable
                .queues()
                .list(now)
                .iter()
                .map(|l| queue_line(l).format()),
        )
    }

    /// Connection `conn` closed: what it held is handed out again, it
    /// serves nothing, requesters waiting on it are told.
    pub fn closed(&mut self, conn: ConnId, now: Instant) -> Vec<Out> {
        if self.consumers.remove(&conn.gen).is_some() {
            self.durable.queues_mut().disconnect(conn.gen, now);
        }
        self.rpc.closed(conn)
    }

    /// Whether the turn must end with `end_turn` at once (replies wait, or
    /// messages wait for consumers with credit).
    pub fn wants_turn(&self) -> bool {
        self.durable.needs_commit() || self.durable.queues().wants_pump()
    }

    /// The next visibility deadline, for the poll timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.durable.next_deadline()
    }

    /// Ends the turn: one commit for everything it changed, then the
    /// answers that waited for it and the deliveries, as wire messages;
    /// plus lines for the log.
    pub fn end_turn(&mut self, now: Instant) -> (Vec<Out>, Vec<String>) {
        let turn = self.durable.end_turn(now);
        let mut out = Vec::new();
        for (to, answer) in turn.answers {
            match answer {
                Ok(Answer::Id(id)) => out.push((to, id.to_string().into_bytes())),
                Ok(Answer::Done) => out.push((to, ACK.to_vec())),
                Ok(Answer::Messages(m)) => out.extend(
                    parts(m.iter().map(delivery_message))
                        .into_iter()
                        .map(|x| (to, x)),
                ),
                Err(e) => out.push((to, refusal(&e))),
            }
        }
        for d in &turn.deliveries {
            let Some(to) = d.consumer.and_then(|c| self.consumers.get(&c)) else {
                continue;
            };
            out.push((*to, delivery_message(d)));
        }
        let mut logs = turn.notes;
        logs.extend(self.commit_outcome(turn.error, turn.ops));
        (out, logs)
    }

    /// A line for the log about the turn's commit: its failure, unless the
    /// previous one failed the same way (a full disk fails every turn until
    /// space returns, and a log line per turn would fill what is left), or
    /// the first success after failures.
    fn commit_outcome(&mut self, error: Option<StoreError>, ops: usize) -> Option<String> {
        match &error {
            Some(_) => self.commit_failures += 1,
            None if ops > 0 => self.commits += 1,
            None => {}
        }
        match error {
            Some(e) => {
                self.failed_commits += 1;
                // Out of space is one condition, whatever the call that
                // ran into it (a write, the reopening that follows).
                let repeated = self
                    .last_failure
                    .as_ref()
                    .is_some_and(|last| *last == e || last.full && e.full);
                self.last_failure = Some(e.clone());
                (!repeated)
                    .then(|| format!("queue commit failed, the turn's changes were refused: {e}"))
            }
            None if ops > 0 && self.failed_commits > 0 => {
                let n = std::mem::take(&mut self.failed_commits);
                self.last_failure = None;
                Some(format!(
                    "queue commit succeeds again, after {n} failed (their changes were refused)"
                ))
            }
            None => None,
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
