//! Timeouts: pings a connection silent for half the idle timeout, closes
//! one silent for all of it, and gives up on a message left incomplete
//! past the frame timeout. It must not read or write sockets: it queues a
//! ping or marks for closing.

use std::time::{Duration, Instant};

use super::Hub;

impl Hub {
    /// How often `check_idle` must run so that a connection silent for
    /// half the idle timeout is always pinged before the other half ends:
    /// a quarter of the timeout, at most a second, at least 10 ms.
    pub(crate) fn idle_check_interval(&self) -> Duration {
        let quarter = self.settings.idle_timeout / 4;
        if quarter.is_zero() {
            return Duration::from_secs(1);
        }
        quarter.clamp(Duration::from_millis(10), Duration::from_secs(1))
    }

    /// Closes connections silent past the idle timeout (the connection's
    /// own when its codec sets one: MQTT keep-alive), pings those silent
    /// for half of it, and gives up on messages left incomplete too long.
    pub(crate) fn check_idle(&mut self, now: Instant) {
        let server_timeout = self.settings.idle_timeout;
        let frame_timeout = self.settings.frame_timeout;
        let mut expired = Vec::new();
        let mut stalled = Vec::new();
        let mut pinged = Vec::new();
        for (key, conn) in self.conns.iter_mut() {
            // A connection waiting for its authentication answer is
            // silent by the server's doing.
            if conn.closing || conn.auth.held {
                continue;
            }
            // An unfinished TLS handshake counts as an incomplete message.
            let tls_since = conn.tls.as_ref().and_then(|t| t.handshake_since);
            if conn.partial_since.or(tls_since).is_some_and(|t| {
                !frame_timeout.is_zero() && now.saturating_duration_since(t) >= frame_timeout
            }) {
                stalled.push(key);
                continue;
            }
            let timeout = conn.transport.idle_timeout().unwrap_or(server_timeout);
            if timeout.is_zero() {
                continue;
            }
            let silent = now.saturating_duration_since(conn.last_rx);
            if silent >= timeout {
                expired.push(key);
            } else if silent >= timeout / 2 && !conn.pinged && conn.transport.is_open() {
                conn.pinged = true;
                if conn.transport.keepalive(conn.out.own()) {
                    pinged.push(key);
                } else {
                    // This peer cannot answer; its silence is expected.
                    conn.last_rx = now;
                    conn.pinged = false;
                    pinged.push(key);
                }
            }
        }
        for key in pinged {
            let _ = self.queued(key);
        }
        for key in expired {
            self.close(key, "idle timeout");
        }
        for key in stalled {
            self.close(key, "message left incomplete past the frame timeout");
        }
    }
}
