//! Where the queue service meets the hub: sending what it returns to
//! connections, the end-of-turn group commit, closed connections, replies
//! that wait for a commit. Kept here so the hub and reactor each call one
//! method and know nothing else about queues.

use std::time::Instant;

use super::{Out, QueueService};
use crate::proto::State;
use crate::server::conn::ConnId;
use crate::server::hub::Hub;
use crate::server::log::Level;

impl Hub {
    /// Queues and request/reply.
    pub fn queues(&self) -> &QueueService {
        &self.queues
    }

    /// Queues and request/reply, mutably (commands, embedders).
    pub fn queues_mut(&mut self) -> &mut QueueService {
        &mut self.queues
    }

    /// Replaces the queue service (the reactor does, with the store its
    /// settings name).
    pub fn set_queues(&mut self, queues: QueueService) {
        self.queues = queues;
    }

    /// The command being dispatched answers later (at the end of the turn,
    /// once durable): an HTTP request must not be completed without it.
    pub(crate) fn defer_reply(&mut self) {
        self.reply_deferred = true;
    }

    /// Whether the command just dispatched deferred its reply; resets it.
    pub(crate) fn take_deferred(&mut self) -> bool {
        std::mem::take(&mut self.reply_deferred)
    }

    /// Sends to connection `id` if it is still that connection. Every
    /// reply that comes later than the read that brought its request goes
    /// through here: when it frees input the codec held back (HTTP
    /// requests pipelined behind it), the connection is read again next
    /// turn (`take_held_input`), since no new readiness event will come
    /// for bytes already read.
    pub(crate) fn send_to(&mut self, id: ConnId, msg: &[u8]) -> bool {
        let Some(key) = self.resolve(id) else {
            return false;
        };
        let held = self
            .conns
            .get(key)
            .is_some_and(|c| c.transport.holds_input() && !c.input.is_empty());
        let sent = self.send(key, msg).is_ok();
        let freed = held
            && self
                .conns
                .get(key)
                .is_some_and(|c| !c.closing && !c.transport.holds_input());
        if freed && !self.queues.held_input.contains(&key) {
            self.queues.held_input.push(key);
        }
        sent
    }

    /// Connections whose held input a late reply freed: the reactor reads
    /// them again in its next turn (taken once).
    pub(crate) fn take_held_input(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.queues.held_input)
    }

    fn send_all(&mut self, outs: Vec<Out>) {
        for (to, msg) in outs {
            self.send_to(to, &msg);
        }
    }

    /// Whether the connection can carry messages it did not ask for
    /// (deliveries, requests): not a plain HTTP request/response.
    pub(crate) fn can_stream(&self, key: usize) -> bool {
        self.conn(key).is_some_and(|c| c.accepts_push())
    }

    /// Forwards a request from `from` to a live serving member of `route`;
    /// on refusal, the correlation id (`*` when unreadable) and the state
    /// to answer.
    pub(crate) fn forward_request(
        &mut self,
        from: ConnId,
        route: &[u8],
        payload: &[u8],
    ) -> Result<(), (Vec<u8>, State)> {
        let conns = &self.conns;
        let alive = |c: ConnId| {
            conns
                .get(c.key)
                .is_some_and(|x| x.gen == c.gen && !x.closing)
        };
        let (member, msg) = self.queues.rpc.request(from, route, payload, alive)?;
        if !self.send_to(member, &msg) {
            // The member's output limit closed it just now.
            let outs = self.queues.rpc.closed(member);
            self.send_all(outs);
        }
        Ok(())
    }

    /// A member's reply to request `token`, sent on to its requester, or
    /// dropped and logged when the requester is gone.
    pub(crate) fn relay_reply(&mut self, from: ConnId, token: &[u8], payload: &[u8], ok: bool) {
        let sender = self.client_id(from.key).unwrap_or_default();
        match self.queues.rpc.reply(from, token, payload, ok) {
            Ok((to, msg)) => {
                if !self.send_to(to, &msg) {
                    let text = "reply dropped: its requester is gone";
                    self.log(Level::Info, "rep", &sender, text);
                }
            }
            Err(text) => self.log(Level::Info, "rep", &sender, &text),
        }
    }

    /// Ends the turn for queues: one commit, then the replies that waited
    /// for it and the deliveries. Called by the reactor once per turn.
    pub(crate) fn end_queue_turn(&mut self, now: Instant) {
        let (outs, logs) = self.queues.end_turn(now);
        self.send_all(outs);
        for line in logs {
            self.log(Level::Warn, "queue", "server", &line);
        }
    }

    /// Connection `id` is gone: what it held is handed out again, what it
    /// served and asked is settled.
    pub(crate) fn queue_conn_closed(&mut self, id: ConnId, now: Instant) {
        let outs = self.queues.closed(id, now);
        self.send_all(outs);
    }
}
