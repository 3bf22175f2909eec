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
