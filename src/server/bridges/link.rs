//! The state of one bridge that outlives each of its connections: its
//! counters, the messages waiting to go out (before the remote accepts
//! them, or to be sent again after a reconnect), the ones sent and not yet
//! confirmed, and what its last connection said before it ended. The
//! bridge's codec and the bridge manager share it (`Rc<RefCell<Link>>`).
//! It must not touch a socket or the hub.

use std::collections::VecDeque;
use std::rc::Rc;

use super::config::BridgeConfig;

/// A message on its way to the remote, already spelled for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The remote name (MQTT topic, NATS subject, ducq route).
    pub name: Vec<u8>,
    /// The payload.
    pub payload: Vec<u8>,
    /// The ducq bridge's trace (origin and hops), when it has one.
    pub trace: Option<Vec<u8>>,
    /// Sent before, on a connection that ended unconfirmed.
    pub resent: bool,
    /// What the remote's confirmation will name it by (an MQTT packet
    /// identifier), set when it is sent.
    pub tag: u64,
}

impl Outgoing {
    /// A publication not sent yet, named `name` on the remote.
    pub fn new(name: Vec<u8>, payload: &[u8], trace: Option<Vec<u8>>) -> Outgoing {
        Outgoing {
            name,
            payload: payload.to_vec(),
            trace,
            resent: false,
            tag: 0,
        }
    }
}

/// What a bridge counted since the server started. Message counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Connections that completed their handshake.
    pub connects: u64,
    /// Connections that ended (after a handshake or not).
    pub disconnects: u64,
    /// Written to the remote (including sent again).
    pub sent: u64,
    /// Confirmed by the remote (ducq ACK, MQTT PUBACK, NATS PONG after it;
    /// MQTT QoS 0 counts as confirmed once written).
    pub confirmed: u64,
    /// Refused by the remote (ducq NACK, MQTT reason code ≥ 0x80).
    pub rejected: u64,
    /// Unconfirmed when a connection ended, hence sent again on the next.
    pub resent: u64,
    /// Unconfirmed, and no longer tracked because the buffer was full
    /// (sent, but not sent again if the connection ends).
    pub untracked: u64,
    /// Not forwarded: the remote has no spelling for the route.
    pub unmappable: u64,
    /// Not forwarded: the buffer was full.
    pub dropped: u64,
    /// Not forwarded: the message had already been where the remote is
    /// (ducq bridges' loop rule).
    pub looped: u64,
    /// Messages from the remote brought in.
    pub received: u64,
    /// Messages from the remote not brought in: outside the `in` patterns,
    /// an echo of the bridge's own, or a duplicate.
    pub ignored: u64,
    /// Messages from the remote the local broker refused (NACK).
    pub refused: u64,
}

/// One bridge's lasting state.
pub struct Link {
    /// Its configuration.
    pub cfg: Rc<BridgeConfig>,
    /// The current connection completed its handshake.
    pub open: bool,
    /// Counts.
    pub counters: Counters,
    /// Not sent yet, oldest first.
    pub waiting: VecDeque<Outgoing>,
    /// Sent on the current connection, not confirmed yet, oldest first.
    pub unconfirmed: VecDeque<Outgoing>,
    /// Payload bytes in `waiting` and `unconfirmed`.
    pub buffered_bytes: usize,
    /// Why the codec ended the connection, for the log.
    pub error: Option<String>,
    /// Lines the codec wants logged (a remote without bridge support, a
    /// refused subscription), taken by the manager.
    pub notes: Vec<String>,
    /// Bytes written since the server started (the manager pings after a
    /// while without any).
    pub written: u64,
}

impl Link {
    /// A link for `cfg`, not connected.
    pub fn new(cfg: Rc<BridgeConfig>) -> Link {
        Link {
            cfg,
            open: false,
            counters: Counters::default(),
            waiting: VecDeque::new(),
            unconfirmed: VecDeque::new(),
            buffered_bytes: 0,
            error: None,
            notes: Vec::new(),
            written: 0,
        }
    }

    /// The publication of `payload` under `name`, its route mapped to the
    /// remote's naming; a route the remote has no name for (`None`) is
    /// counted as unmappable and not sent.
    pub fn mapped(&mut self, name: Option<Vec<u8>>, payload: &[u8]) -> Option<Outgoing> {
        match name {
            Some(name) => Some(Outgoing::new(name, payload, None)),
            None => {
                self.counters.unmappable += 1;
                None
            }
        }
    }

    /// Messages currently sent and unconfirmed.
    pub fn in_flight(&self) -> usize {
        self.unconfirmed.len()
    }

    fn full(&self, more: usize) -> bool {
        self.waiting.len() + self.unconfirmed.len() >= self.cfg.buffer_messages
            || self.buffered_bytes + more > self.cfg.buffer_bytes
    }

    /// Queues a message to send when the remote can take it; dropped (and
    /// counted) when the buffer is full.
    pub fn wait(&mut self, msg: Outgoing) {
        if self.full(msg.payload.len()) {
            self.counters.dropped += 1;
            return;
        }
        self.buffered_bytes += msg.payload.len();
        self.waiting.push_back(msg);
    }

    /// The next waiting message, taken out.
    pub fn next_waiting(&mut self) -> Option<Outgoing> {
        let m = self.waiting.pop_front()?;
        self.buffered_bytes -= m.payload.len();
        Some(m)
    }

    /// Puts a message back at the front of the queue (the remote could not
    /// take it yet).
    pub fn unwait(&mut self, msg: Outgoing) {
        self.buffered_bytes += msg.payload.len();
        self.waiting.push_front(msg);
    }

    /// Notes a message written and awaiting confirmation. When the buffer
    /// is full the oldest unconfirmed one is no longer tracked.
    pub fn sent_unconfirmed(&mut self, msg: Outgoing) {
        self.counters.sent += 1;
        while self.full(msg.payload.len()) {
            let Some(old) = self.unconfirmed.pop_front() else {
                break;
            };
            self.buffered_bytes -= old.payload.len();
            self.counters.untracked += 1;
        }
        self.buffered_bytes += msg.payload.len();
        self.unconfirmed.push_back(msg);
    }

    /// Notes a message written that needs no confirmation.
    pub fn sent_confirmed(&mut self) {
        self.counters.sent += 1;
        self.counters.confirmed += 1;
    }

    /// The oldest unconfirmed message was confirmed (`accepted`) or
    /// refused by the remote.
    pub fn confirm_oldest(&mut self, accepted: bool) {
        if let Some(m) = self.unconfirmed.pop_front() {
            self.buffered_bytes -= m.payload.len();
            self.count_confirmation(accepted);
        }
    }

    /// The oldest `n` unconfirmed messages were confirmed.
    pub fn confirm_first(&mut self, n: usize) {
        for _ in 0..n.min(self.unconfirmed.len()) {
            self.confirm_oldest(true);
        }
    }

    /// Takes out the unconfirmed message `which` picks (an MQTT packet
    /// identifier's).
    pub fn confirm_where(&mut self, accepted: bool, which: impl Fn(&Outgoing) -> bool) {
        if let Some(i) = self.unconfirmed.iter().position(which) {
            if let Some(m) = self.unconfirmed.remove(i) {
                self.buffered_bytes -= m.payload.len();
                self.count_confirmation(accepted);
            }
        }
    }

    fn count_confirmation(&mut self, accepted: bool) {
        if accepted {
            self.counters.confirmed += 1;
        } else {
            self.counters.rejected += 1;
        }
    }

    /// The connection ended: what it left unconfirmed goes first in line
    /// for the next one (at least once: the remote may have had it).
    /// Returns how many.
    pub fn connection_ended(&mut self) -> usize {
        self.counters.disconnects += 1;
        self.open = false;
        let n = self.unconfirmed.len();
        while let Some(mut m) = self.unconfirmed.pop_back() {
            m.resent = true;
            self.waiting.push_front(m);
        }
        self.counters.resent += n as u64;
        n
    }

    /// Takes over what `old` (the same bridge before a reload changed its
    /// settings) had not delivered, and its counters: its unconfirmed
    /// messages are sent again, as after a lost connection. Only when the
    /// new settings spell messages the same way (same kind, same mapping);
    /// otherwise the messages are dropped and counted. Returns how many
    /// were taken over.
    pub fn take_over(&mut self, old: &mut Link) -> usize {
        if old.open || !old.unconfirmed.is_empty() {
            old.connection_ended();
        }
        self.counters = old.counters;
        let same = old.cfg.kind == self.cfg.kind && old.cfg.mapping == self.cfg.mapping;
        let mut n = 0;
        while let Some(m) = old.next_waiting() {
            if same {
                n += 1;
                self.wait(m);
            } else {
                self.counters.dropped += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::bridges::config::{BridgeConfig, Kind};

    fn link(messages: usize, bytes: usize) -> Link {
        let mut cfg = BridgeConfig::new(Kind::Nats, "127.0.0.1:1".parse().unwrap());
        cfg.buffer_messages = messages;
        cfg.buffer_bytes = bytes;
        Link::new(Rc::new(cfg))
    }

    fn msg(p: &str) -> Outgoing {
        Outgoing::new(b"s".to_vec(), p.as_bytes(), None)
    }

    #[test]
    fn waiting_is_bounded_in_messages_and_bytes() {
        let mut l = link(2, 100);
        l.wait(msg("a"));
        l.wait(msg("b"));
        l.wait(msg("c"));
        assert_eq!(l.waiting.len(), 2);
        assert_eq!(l.counters.dropped, 1);
        let mut l = link(100, 5);
        l.wait(msg("abc"));
        l.wait(msg("def"));
        assert_eq!(
            (l.waiting.len(), l.buffered_bytes, l.counters.dropped),
            (1, 3, 1)
        );
        assert_eq!(l.next_waiting().unwrap().payload, b"abc");
        assert_eq!(l.buffered_bytes, 0);
    }

    #[test]
    fn unconfirmed_go_first_after_a_break() {
        let mut l = link(10, 100);
        l.sent_unconfirmed(msg("1"));
        l.sent_unconfirmed(msg("2"));
        l.sent_unconfirmed(msg("3"));
        l.confirm_oldest(true);
        l.wait(msg("4"));
        assert_eq!(l.in_flight(), 2);
        assert_eq!(l.connection_ended(), 2);
        let order: Vec<_> = std::iter::from_fn(|| l.next_waiting())
            .map(|m| (String::from_utf8(m.payload).unwrap(), m.resent))
            .collect();
        assert_eq!(
            order,
            [("2".into(), true), ("3".into(), true), ("4".into(), false)]
        );
        let c = l.counters;
        assert_eq!((c.sent, c.confirmed, c.resent, c.disconnects), (3, 1, 2, 1));
        assert_eq!(l.buffered_bytes, 0);
    }

    #[test]
    fn a_full_buffer_stops_tracking_the_oldest_unconfirmed() {
        let mut l = link(2, 100);
        for p in ["1", "2", "3"] {
            l.sent_unconfirmed(msg(p));
        }
        assert_eq!(l.counters.untracked, 1);
        assert_eq!(l.unconfirmed.len(), 2);
        l.confirm_where(false, |m| m.payload == b"3");
        assert_eq!(
            (l.counters.rejected, l.in_flight(), l.buffered_bytes),
            (1, 1, 1)
        );
        l.sent_unconfirmed(msg("4"));
        l.sent_unconfirmed(msg("5"));
        assert_eq!(l.counters.untracked, 2);
        l.confirm_first(5);
        assert_eq!((l.counters.confirmed, l.in_flight()), (2, 0));
    }

    #[test]
    fn the_byte_bound_is_inclusive() {
        let mut l = link(100, 5);
        for p in ["a", "bcd", "e", "f"] {
            l.wait(msg(p));
        }
        // 1 + 3 + 1 is exactly the bound; the next byte is one too many.
        assert_eq!(
            (l.waiting.len(), l.buffered_bytes, l.counters.dropped),
            (3, 5, 1)
        );
    }

    #[test]
    fn put_back_goes_first_and_unconfirmed_sends_count_as_confirmed() {
        let mut l = link(10, 100);
        l.wait(msg("b"));
        let a = msg("aa");
        l.unwait(a.clone());
        assert_eq!(l.buffered_bytes, 3);
        assert_eq!(l.next_waiting(), Some(a));
        l.sent_confirmed();
        l.sent_confirmed();
        assert_eq!((l.counters.sent, l.counters.confirmed), (2, 2));
    }

    #[test]
    fn take_over_ends_the_old_connection_only_when_it_was_open_or_owed() {
        let cfg = |l: &Link| Rc::clone(&l.cfg);
        // Closed, nothing unconfirmed: no second disconnect is counted.
        let mut old = link(10, 100);
        old.counters.disconnects = 1;
        old.wait(msg("w"));
        let mut new = Link::new(cfg(&old));
        assert_eq!(new.take_over(&mut old), 1);
        assert_eq!(new.counters.disconnects, 1);
        // Closed but owing confirmations: they are sent again, first.
        let mut old = link(10, 100);
        old.sent_unconfirmed(msg("u"));
        old.wait(msg("w"));
        let mut new = Link::new(cfg(&old));
        assert_eq!(new.take_over(&mut old), 2);
        let c = new.counters;
        assert_eq!((c.disconnects, c.resent, c.sent), (1, 1, 1));
        let first = new.next_waiting().unwrap();
        assert_eq!((first.payload, first.resent), (b"u".to_vec(), true));
        // Open with nothing owed: the connection is still counted as ended.
        let mut old = link(10, 100);
        old.open = true;
        let mut new = Link::new(cfg(&old));
        assert_eq!(new.take_over(&mut old), 0);
        assert!(!old.open);
        assert_eq!(new.counters.disconnects, 1);
    }
}
