//! Watching a live bridge connection, for the manager: the handshake's
//! deadline, keep-alive probes, and the two ways a remote can hang a
//! bridge without closing it — it stops answering (nothing comes back for
//! twice the keep-alive, probes included), or it stops reading (output
//! waits and the socket takes none of it for twice the keep-alive), and
//! a JetStream that acknowledges none of the mirror's messages for as
//! long (at least a second) while the server still answers. Each
//! ends the connection with a sentence saying which, for the log line of
//! the reconnect; the hub's own idle timeout is only a backstop behind
//! these. It must not encode or decode anything.

use std::time::{Duration, Instant};

use super::config::BridgeConfig;
use super::Slot;
use crate::server::conn::ConnId;
use crate::server::hub::Hub;
use crate::server::log::Level;

/// Shortest time a handshake is given before the connection is dropped.
const MIN_HANDSHAKE: Duration = Duration::from_secs(1);

/// The handshake's time limit: twice the keep-alive, at least a second.
pub(super) fn handshake_time(cfg: &BridgeConfig) -> Duration {
    (cfg.keepalive * 2).max(MIN_HANDSHAKE)
}

impl Slot {
    /// A live connection: its handshake deadline, its keep-alive, a
    /// remote gone silent or no longer reading.
    pub(super) fn watch(&mut self, hub: &mut Hub, key: usize, now: Instant) {
        if !self.link.borrow().open {
            let limit = handshake_time(&self.cfg);
            if now.saturating_duration_since(self.dialed_at) >= limit {
                let why = format!("no answer to the handshake in {:.1} s", limit.as_secs_f64());
                self.fail(hub, key, why, now);
            }
            return;
        }
        if !self.announced {
            self.announce(hub);
        }
        if let Some(why) = self.hung(hub, key, now) {
            self.fail(hub, key, why, now);
            return;
        }
        self.keep_alive(hub, key, now);
    }

    /// When `watch` has something to check on open connection `id`.
    pub(super) fn due(&self, hub: &Hub, id: ConnId) -> Instant {
        let ka = self.cfg.keepalive;
        let mut at = self.written.1.min(self.pinged) + ka / 2;
        if let Some(conn) = hub.resolve(id).and_then(|k| hub.conns.get(k)) {
            at = at.min(conn.last_rx + ka * 2);
            if conn.pending_output() > 0 {
                at = at.min(self.sent.1 + ka * 2);
            }
        }
        if self
            .mirror
            .as_ref()
            .is_some_and(|m| m.borrow().depths().1 > 0)
        {
            at = at.min(self.answered.1 + handshake_time(&self.cfg));
        }
        at
    }

    /// The log line of a connection that opened.
    fn announce(&mut self, hub: &mut Hub) {
        self.announced = true;
        self.attempt = 0;
        let resent = self
            .link
            .borrow()
            .waiting
            .iter()
            .filter(|m| m.resent)
            .count();
        let addr = self.addr.map(|a| a.to_string()).unwrap_or_default();
        let text = if resent > 0 {
            format!("connected to {addr}; sending again {resent} unconfirmed")
        } else {
            format!("connected to {addr}")
        };
        self.log(hub, Level::Info, &text);
    }

    /// Why the remote hangs the bridge, if it does: silent for twice the
    /// keep-alive, or reading none of the output for as long.
    fn hung(&mut self, hub: &Hub, key: usize, now: Instant) -> Option<String> {
        let conn = hub.conns.get(key)?;
        let limit = self.cfg.keepalive * 2;
        let silent = now.saturating_duration_since(conn.last_rx);
        if silent >= limit {
            return Some(format!(
                "nothing from the remote for {:.1} s, keep-alive probes unanswered",
                silent.as_secs_f64()
            ));
        }
        if let Some(why) = self.unacknowledged(now) {
            return Some(why);
        }
        let pending = conn.pending_output();
        if pending == 0 || conn.bytes_out != self.sent.0 {
            self.sent = (conn.bytes_out, now);
            return None;
        }
        let waited = now.saturating_duration_since(self.sent.1);
        (waited >= limit).then(|| {
            format!(
                "the remote stopped reading: none of {pending} bytes taken in {:.1} s",
                waited.as_secs_f64()
            )
        })
    }

    /// Why a mirror's stream hangs the bridge, if it does: PubAcks are
    /// awaited and none came for twice the keep-alive (at least a second)
    /// while the server itself still answers.
    fn unacknowledged(&mut self, now: Instant) -> Option<String> {
        let m = self.mirror.as_ref()?.borrow();
        let (_, unacked) = m.depths();
        let answered = m.counters.acked + m.counters.rejected;
        if unacked == 0 || answered != self.answered.0 {
            self.answered = (answered, now);
            return None;
        }
        let waited = now.saturating_duration_since(self.answered.1);
        (waited >= handshake_time(&self.cfg)).then(|| {
            format!(
                "JetStream acknowledged none of {unacked} messages in {:.1} s",
                waited.as_secs_f64()
            )
        })
    }

    /// A probe after half the keep-alive without sending anything (some
    /// remotes, MQTT's, drop a client that stays silent, whatever it
    /// receives) or without hearing anything (so a remote that went away
    /// is noticed while publications flow out).
    fn keep_alive(&mut self, hub: &mut Hub, key: usize, now: Instant) {
        let half = self.cfg.keepalive / 2;
        let written = self.link.borrow().written;
        if written != self.written.0 {
            self.written = (written, now);
        }
        let quiet = now.saturating_duration_since(self.written.1) >= half;
        let unheard = hub
            .conns
            .get(key)
            .is_some_and(|c| now.saturating_duration_since(c.last_rx) >= half);
        if !(quiet || unheard && now.saturating_duration_since(self.pinged) >= half) {
            return;
        }
        self.written.1 = now;
        self.pinged = now;
        if let Some(conn) = hub.conns.get_mut(key) {
            conn.transport.keepalive(conn.out.own());
            hub.mark_dirty(key);
        }
    }

    /// Ends connection `key` for `why`, and at once counts it lost (the
    /// log line, the reconnect plan), so the stand-in takes over its
    /// subscriptions in this same turn: a closing connection is given
    /// no more publications.
    fn fail(&mut self, hub: &mut Hub, key: usize, why: String, now: Instant) {
        hub.close(key, &format!("bridge connection ended: {why}"));
        self.link.borrow_mut().error = Some(why);
        self.lost(hub, now);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::server::bridges::config::Kind;
    use crate::server::bridges::jetstream::{JetStreamConfig, Mirror};
    use crate::server::bridges::manager_tests::{dialled, Dialled};

    const KA: Duration = Duration::from_secs(10);

    #[test]
    fn the_handshake_gets_twice_the_keepalive_and_at_least_a_second() {
        let mut cfg = BridgeConfig::new(Kind::Ducq, "127.0.0.1:1".parse().unwrap());
        cfg.keepalive = Duration::from_millis(200);
        assert_eq!(handshake_time(&cfg), Duration::from_secs(1));
        cfg.keepalive = Duration::from_millis(600);
        assert_eq!(handshake_time(&cfg), Duration::from_millis(1200));
        let mut d = dialled();
        assert_eq!(d.b.next_due(&d.hub), Some(d.t0 + 2 * KA));
        d.at(19.999);
        assert!(d.b.slots[0].conn.is_some());
        d.at(20.0);
        assert!(d.b.slots[0].conn.is_none());
        let addr = d.addr();
        assert_eq!(
            *d.log.borrow(),
            [
                format!(
                    "info,close,bridge-w:{addr},bridge connection ended: no answer to the \
                     handshake in 20.0 s"
                ),
                format!(
                    "warning,bridge,bridge-w,could not connect to {addr} (no answer to the \
                     handshake in 20.0 s); retrying in 0.10 s (attempt 1)"
                )
            ]
        );
    }

    #[test]
    fn an_open_connection_is_announced_and_pinged_after_half_the_keepalive() {
        let mut d = dialled();
        d.open();
        assert_eq!(d.b.next_due(&d.hub), Some(d.t0 + KA / 2));
        d.at(1.0);
        let connected = format!("info,bridge,bridge-w,connected to {}", d.addr());
        assert_eq!(*d.log.borrow(), [connected]);
        let key = d.key();
        let before = d.hub.conns.get(key).unwrap().pending_output();
        d.at(4.999);
        assert_eq!(d.hub.conns.get(key).unwrap().pending_output(), before);
        d.at(5.0);
        let ping = crate::server::hub::tests::frame(b"PING _\nping").len();
        assert_eq!(
            d.hub.conns.get(key).unwrap().pending_output(),
            before + ping
        );
        // The next probe: half a keep-alive after this one.
        assert_eq!(d.b.next_due(&d.hub), Some(d.t0 + KA));
        assert_eq!(d.log.borrow().len(), 1);
    }

    #[test]
    fn something_written_puts_the_probe_off_and_something_heard_too() {
        let mut d = dialled();
        d.open();
        d.at(1.0);
        let key = d.key();
        let before = d.hub.conns.get(key).unwrap().pending_output();
        // Written at 4 s: quiet only from 9 s; heard at 4 s too.
        d.b.slots[0].link.borrow_mut().written += 1;
        d.hub.conns.get_mut(key).unwrap().last_rx = d.t0 + Duration::from_secs(4);
        d.at(4.0);
        d.at(8.999);
        assert_eq!(d.hub.conns.get(key).unwrap().pending_output(), before);
        d.at(9.0);
        assert!(d.hub.conns.get(key).unwrap().pending_output() > before);
    }

    #[test]
    fn a_remote_silent_for_twice_the_keepalive_is_left() {
        let mut d = dialled();
        d.open();
        d.at(19.999);
        assert!(d.b.slots[0].conn.is_some());
        d.at(20.0);
        assert!(d.b.slots[0].conn.is_none());
        let lost = format!(
            "warning,bridge,bridge-w,connection to {} lost (nothing from the remote for \
             20.0 s, keep-alive probes unanswered); retrying in 0.10 s (attempt 1)",
            d.addr()
        );
        assert_eq!(d.log.borrow().last(), Some(&lost));
    }

    #[test]
    fn a_remote_that_stops_reading_is_left() {
        let mut d = dialled();
        d.open();
        let key = d.key();
        d.at(1.0);
        // It answers (probes), but takes none of the output.
        d.hub.conns.get_mut(key).unwrap().last_rx = d.t0 + Duration::from_secs(15);
        let pending = d.hub.conns.get(key).unwrap().pending_output();
        assert!(pending > 0);
        assert_eq!(d.b.next_due(&d.hub), Some(d.t0 + KA / 2));
        d.at(19.999);
        assert!(d.b.slots[0].conn.is_some());
        let pending = d.hub.conns.get(key).unwrap().pending_output();
        d.at(20.0);
        assert!(d.b.slots[0].conn.is_none());
        let lost = format!(
            "warning,bridge,bridge-w,connection to {} lost (the remote stopped reading: \
             none of {pending} bytes taken in 20.0 s); retrying in 0.10 s (attempt 1)",
            d.addr()
        );
        assert_eq!(d.log.borrow().last(), Some(&lost));
    }

    #[test]
    fn the_next_check_counts_unread_output_only_while_there_is_some() {
        let mut d = dialled();
        d.open();
        let key = d.key();
        // Heard at 15 s, probed at 16 s: the next probe is due at 21 s,
        // but the output unread since the dial is due at 20 s.
        d.hub.conns.get_mut(key).unwrap().last_rx = d.t0 + Duration::from_secs(15);
        d.at(16.0);
        assert!(d.hub.conns.get(key).unwrap().pending_output() > 0);
        assert_eq!(d.b.next_due(&d.hub), Some(d.t0 + 2 * KA));
        // Once it is all written, only the probe is. (Accepted first: the
        // dial is then surely connected, and the bytes have somewhere to go.)
        let _remote_end = d.remote.accept().unwrap();
        d.hub.flush_dirty();
        assert_eq!(d.hub.conns.get(key).unwrap().pending_output(), 0);
        assert_eq!(d.b.next_due(&d.hub), Some(d.t0 + Duration::from_secs(21)));
    }

    #[test]
    fn output_taken_bit_by_bit_is_not_a_remote_that_stopped_reading() {
        let mut d = dialled();
        d.open();
        let key = d.key();
        d.hub.conns.get_mut(key).unwrap().last_rx = d.t0 + Duration::from_secs(15);
        d.at(1.0);
        // Some of the output was taken at 10 s (none of it at 20 s).
        d.hub.conns.get_mut(key).unwrap().bytes_out += 1;
        d.at(10.0);
        d.at(20.0);
        assert!(d.b.slots[0].conn.is_some());
        d.at(30.0);
        assert!(d.b.slots[0].conn.is_none());
    }

    #[test]
    fn a_connection_that_opens_says_how_many_go_again() {
        let mut d = dialled();
        {
            let mut link = d.b.slots[0].link.borrow_mut();
            for p in ["1", "2"] {
                let mut m =
                    crate::server::bridges::link::Outgoing::new(b"o".to_vec(), p.as_bytes(), None);
                m.resent = true;
                link.waiting.push_back(m);
            }
            link.open = true;
        }
        d.at(1.0);
        let want = format!(
            "info,bridge,bridge-w,connected to {}; sending again 2 unconfirmed",
            d.addr()
        );
        assert_eq!(*d.log.borrow(), [want]);
    }

    /// A JetStream mirror of queue `q`, its stream created, holding
    /// messages `ids` sent and not yet acknowledged, fitted to the dialled
    /// bridge's slot.
    fn mirror_awaiting(d: &mut Dialled, ids: &[u64]) -> Rc<RefCell<Mirror>> {
        let mut js = JetStreamConfig::default();
        js.queues.push("q".into());
        let mut m = Mirror::new(js, 1, 10, 100);
        m.begin("T", 1 << 20, &mut Vec::new());
        m.reply(b"_INBOX.T.c", None, b"{}").unwrap();
        for &id in ids {
            m.offer(&Rc::from("q"), id, &Rc::from(&b"x"[..]));
        }
        assert_eq!(m.drain(&mut Vec::new()), ids.len());
        let m = Rc::new(RefCell::new(m));
        d.b.slots[0].mirror = Some(Rc::clone(&m));
        m
    }

    #[test]
    fn the_next_check_counts_unacknowledged_mirror_messages_only_while_there_are_some() {
        let mut d = dialled();
        d.open();
        let key = d.key();
        let m = mirror_awaiting(&mut d, &[1]);
        // Heard at 15 s, probed at 16 s, the output all written: the next
        // probe is due at 21 s, the PubAck awaited since the dial at 20 s.
        d.hub.conns.get_mut(key).unwrap().last_rx = d.t0 + Duration::from_secs(15);
        d.at(16.0);
        let _remote_end = d.remote.accept().unwrap();
        d.hub.flush_dirty();
        assert_eq!(d.b.next_due(&d.hub), Some(d.t0 + 2 * KA));
        // Acknowledged: only the probe.
        m.borrow_mut().reply(b"_INBOX.T.1", None, b"{}").unwrap();
        assert_eq!(d.b.next_due(&d.hub), Some(d.t0 + Duration::from_secs(21)));
    }

    #[test]
    fn a_jetstream_that_acknowledges_nothing_while_the_server_answers_is_left() {
        let mut d = dialled();
        d.open();
        let key = d.key();
        mirror_awaiting(&mut d, &[1]);
        d.hub.conns.get_mut(key).unwrap().last_rx = d.t0 + Duration::from_secs(15);
        d.at(19.999);
        assert!(d.b.slots[0].conn.is_some());
        d.at(20.0);
        assert!(d.b.slots[0].conn.is_none());
        let lost = format!(
            "warning,bridge,bridge-w,connection to {} lost (JetStream acknowledged none of 1 \
             messages in 20.0 s); 1 unconfirmed will be sent again; retrying in 0.10 s \
             (attempt 1)",
            d.addr()
        );
        assert_eq!(d.log.borrow().last(), Some(&lost));
    }

    #[test]
    fn a_refusal_from_jetstream_is_an_answer_too() {
        let mut d = dialled();
        d.open();
        let key = d.key();
        // The remote takes all output (flushed after each turn) and answers.
        let _remote_end = d.remote.accept().unwrap();
        d.hub.conns.get_mut(key).unwrap().last_rx = d.t0 + Duration::from_secs(25);
        let m = mirror_awaiting(&mut d, &[1, 2]);
        d.at(5.0);
        d.hub.flush_dirty();
        // At 10 s the first is refused: the wait for the other starts again.
        let refusal = br#"{"error":{"code":503,"description":"full"}}"#;
        m.borrow_mut().reply(b"_INBOX.T.1", None, refusal).unwrap();
        for t in [10.0, 15.0, 20.0, 25.0, 29.999] {
            d.at(t);
            d.hub.flush_dirty();
            assert!(d.b.slots[0].conn.is_some(), "{t}");
        }
        d.at(30.0);
        assert!(d.b.slots[0].conn.is_none());
        let last = d.log.borrow().last().cloned().unwrap();
        assert!(
            last.contains("(JetStream acknowledged none of 1 messages in 20.0 s)"),
            "{last}"
        );
    }

    #[test]
    fn either_quiet_or_unheard_is_enough_for_a_probe() {
        for heard_lately in [true, false] {
            let mut d = dialled();
            d.open();
            let key = d.key();
            let four = d.t0 + Duration::from_secs(4);
            if heard_lately {
                // Nothing written since the dial, but heard at 4 s.
                d.hub.conns.get_mut(key).unwrap().last_rx = four;
            } else {
                // Heard nothing since the dial, but written at 4 s.
                d.b.slots[0].link.borrow_mut().written += 1;
                d.at(4.0);
            }
            let before = d.hub.conns.get(key).unwrap().pending_output();
            d.at(5.0);
            let ping = crate::server::hub::tests::frame(b"PING _\nping").len();
            let after = d.hub.conns.get(key).unwrap().pending_output();
            assert_eq!(after, before + ping, "heard lately: {heard_lately}");
        }
    }
}
