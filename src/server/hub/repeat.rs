//! Repeated publications: while the reactor handles one connection's input,
//! a `pub` whose head (`pub <route>\n`) is the same bytes as the plain
//! publication before it is published without being dispatched again. The
//! first of them went the whole way (parse, access, route check, channels)
//! and found nothing to act on; access lists are judged by connection,
//! command and route alone, and within one read of one connection nothing
//! else runs that could change any of those answers, so the next ones get
//! the same ACK and reach the same subscribers (connections or parked
//! sessions, through the same delivery code) at the cost of a comparison.
//! The route's store is written once, with the newest, when the run ends.
//!
//! It must not outlive the input being handled (the reactor ends it
//! before any other dispatch and at the end of the input), nor take a
//! publication the full path would treat otherwise: anything but the
//! common case (a channel, debug logging, history deeper than one, a
//! publisher subscribed to its own route, a codec whose answers are not
//! plain frames) is never armed, and a large message (shared, not copied,
//! by `publish`) is never a repeat.

use super::fanout::SHARE_BODY_FROM;
use super::{queued_is_noop, Hub};
use crate::proto::{Message, ACK};
use crate::server::log::Level;
use crate::transport::{LastMessage, SharedEncoding};

/// The run of publications being repeated, its buffers kept between runs.
#[derive(Default)]
pub(super) struct Repeat {
    /// A run is on: the fields below describe it.
    armed: bool,
    /// The publisher.
    caller: usize,
    /// `pub <route>\n`, as the first publication of the run had it.
    head: Vec<u8>,
    /// Where the route lies in `head`.
    route: (usize, usize),
    /// The publisher's encoding of `ACK`.
    ack: Vec<u8>,
    /// The route's subscribers as looked up (kept to reuse its buffer;
    /// `batch` holds them sorted by how they are delivered to).
    targets: Vec<usize>,
    /// `batch` holds this run's subscribers.
    targets_known: bool,
    /// `Hub::closes` when they were looked up.
    closes: u64,
    /// The newest repeated publication, not yet in the store.
    newest: Vec<u8>,
    /// Repeats since the run began (all owed to the store).
    unstored: u64,
    /// How the run's deliveries are queued (`batch.rs`).
    pub(super) batch: super::batch::Batch,
    /// Repeats ever (`Hub::repeats`).
    #[cfg(test)]
    repeats: u64,
}

impl Hub {
    /// After `msg` from `caller` was published as sent: starts a run of
    /// repeats of its head when nothing but the common case applies (see
    /// the module doc). Called by `pub` only.
    pub(crate) fn arm_repeat(&mut self, caller: usize, msg: &Message<'_>) {
        self.end_repeat();
        let plain = self.feeding == Some(caller)
            && msg.has_newline
            && self.last_rule == LastMessage::Store
            && !self.own_request
            && !self.logger.enabled(Level::Debug)
            && self.last.overwrites(msg.route)
            && (self.channels.is_empty() || !self.channels.any_matching(msg.route));
        if !plain {
            return;
        }
        let Some(conn) = self.conns.get_mut(caller).filter(|c| !c.closing) else {
            return;
        };
        // Codecs whose output is a plain frame per message: their `ACK` is
        // the same bytes every time (an MQTT answer is not).
        if !matches!(
            conn.transport.shared_encoding(),
            Some(SharedEncoding::TcpFrame | SharedEncoding::WsServerFrame)
        ) {
            return;
        }
        let r = &mut self.repeat;
        r.ack.clear();
        conn.transport.encode(ACK, &mut r.ack);
        let head = msg.raw.len() - msg.payload.len();
        let route_start = head - 1 - msg.route.len();
        r.head.clear();
        r.head
            .extend_from_slice(msg.raw.get(..head).unwrap_or_default());
        r.route = (route_start, head - 1);
        r.caller = caller;
        r.targets_known = false;
        r.unstored = 0;
        r.armed = true;
    }

    /// Publishes `raw` from `caller` as a repeat of the run's head, and
    /// returns true; false when it is not one (the caller dispatches it,
    /// after `end_repeat`).
    pub(crate) fn repeat_publication(&mut self, caller: usize, raw: &[u8]) -> bool {
        let r = &self.repeat;
        if !r.armed
            || r.caller != caller
            || raw.len() >= SHARE_BODY_FROM
            || !raw.starts_with(&r.head)
            || self.last_rule != LastMessage::Store
            || self.own_request
        {
            return false;
        }
        // A connection closing may hand its subscriptions to a parked
        // session: the subscribers are looked up again after any close.
        let stale = !self.repeat.targets_known || self.repeat.closes != self.closes;
        if stale && !self.find_repeat_targets() {
            self.end_repeat();
            return false;
        }
        let Some(conn) = self.conns.get_mut(caller).filter(|c| !c.closing) else {
            return false;
        };
        // As `dispatch` and `pub` would: count it, ACK it, then fan out.
        self.metrics.messages_in += 1;
        conn.out.own().extend_from_slice(&self.repeat.ack);
        self.metrics.messages_out += 1;
        if !queued_is_noop(conn, self.high_water) {
            // The slow path may hold or log: what the run delivered so
            // far is queued first, as it would have been.
            self.batch_flush();
            let _ = self.queued(caller);
        }
        self.repeat.newest.clear();
        self.repeat.newest.extend_from_slice(raw);
        self.repeat.unstored += 1;
        #[cfg(test)]
        {
            self.repeat.repeats += 1;
        }
        self.batch_deliver(raw);
        true
    }

    /// Looks up the run's subscribers. False when the full path is needed
    /// for them: the publisher is one (its ACK must come before its own
    /// copy, which `pub` does by queueing them in turn).
    fn find_repeat_targets(&mut self) -> bool {
        let r = &mut self.repeat;
        r.targets.clear();
        let route = r.head.get(r.route.0..r.route.1).unwrap_or_default();
        self.subs.collect_subscribers(route, &mut r.targets);
        r.closes = self.closes;
        r.targets_known = !r.targets.contains(&r.caller);
        if r.targets_known {
            let mut targets = std::mem::take(&mut r.targets);
            self.batch_targets(&mut targets);
            self.repeat.targets = targets;
        }
        self.repeat.targets_known
    }

    /// Publications published as repeats since the hub began (tests tell
    /// by it that a run took place).
    #[cfg(test)]
    pub(crate) fn repeats(&self) -> u64 {
        self.repeat.repeats
    }

    /// Ends the run, if one is on: the newest repeat goes to the store,
    /// counted as every repeat. Before any other dispatch and at the end
    /// of a connection's input.
    pub(crate) fn end_repeat(&mut self) {
        self.batch_flush();
        let r = &mut self.repeat;
        if !std::mem::take(&mut r.armed) || r.unstored == 0 {
            return;
        }
        let route = r.head.get(r.route.0..r.route.1).unwrap_or_default();
        self.last.set_repeated(route, &r.newest, r.unstored);
        r.unstored = 0;
    }
}
