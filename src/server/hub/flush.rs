//! Writing output: flushes every connection with queued bytes once per
//! turn, deliveries before the replies to the connection being read (a
//! subscriber's message does not wait behind the publisher's ACK), keeps
//! WRITABLE interest in step (asked for only while output is pending),
//! closes a connection whose last response is written, and gives back
//! buffers nobody used. It must not encode or queue output: it writes what
//! is queued.

use mio::{Interest, Token};

use super::Hub;
use crate::server::conn::Flushed;
use crate::server::log::Level;

fn interest(write: bool) -> Interest {
    if write {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    }
}

/// The connections with output to write this turn, in the order their
/// output was first queued, except that a connection whose input was being
/// handled then (`Hub::feeding`: the publisher whose ACK comes before the
/// fan-out it caused) is written after the others. On two CPUs the first
/// write's peer often takes the other one: it should be the subscriber
/// waiting for the message, not the publisher getting its ACK.
#[derive(Default)]
pub(super) struct Dirty {
    first: Vec<usize>,
    last: Vec<usize>,
}

impl Dirty {
    /// Whether no connection is scheduled.
    pub(super) fn is_empty(&self) -> bool {
        self.first.is_empty() && self.last.is_empty()
    }

    /// Schedules `key`, once per turn (the caller keeps `Conn::dirty`).
    pub(super) fn push(&mut self, key: usize, feeding: Option<usize>) {
        if feeding == Some(key) {
            self.last.push(key);
        } else {
            self.first.push(key);
        }
    }
}

impl Hub {
    /// Writes what is queued for every connection that has output. Called by
    /// the reactor once per loop turn, so replies produced in one turn go out
    /// in one write per connection.
    pub(crate) fn flush_dirty(&mut self) {
        let mut first = std::mem::take(&mut self.dirty.first);
        let mut last = std::mem::take(&mut self.dirty.last);
        for &key in first.iter().chain(last.iter()) {
            self.flush(key);
        }
        // Output queued while flushing (a log line) waits for the next turn;
        // the lists keep their capacity otherwise.
        first.clear();
        last.clear();
        if self.dirty.first.is_empty() {
            self.dirty.first = first;
        }
        if self.dirty.last.is_empty() {
            self.dirty.last = last;
        }
    }

    /// Flushes one connection and keeps its WRITABLE interest in step.
    pub(crate) fn flush(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.dirty = false;
        if conn.closing {
            return;
        }
        let before = conn.pending_output();
        let flushed = conn.flush();
        // Back-pressure: drained to the low-water mark, the queue lets
        // go of the connections it held; any bytes written restart its
        // output timeout (a slow reader that keeps draining is not stuck).
        let pending = conn.pending_output();
        let drained = conn.congested && pending <= self.settings.output_low_water;
        let progressed = conn.congested && pending < before;
        match flushed {
            Ok(Flushed::Done) => {
                if conn.close_after_flush || conn.transport.close_after_flush() {
                    conn.closing = true;
                    conn.transport.closing();
                    self.to_close.push(key);
                    let peer_done = conn.peer_done;
                    self.park(key);
                    if peer_done {
                        self.log_conn(Level::Info, "close", key, "disconnected");
                    } else {
                        self.log_conn(Level::Debug, "close", key, "closed after reply");
                    }
                } else if conn.want_write {
                    conn.want_write = false;
                    let _ = self
                        .registry
                        .reregister(&mut conn.socket, Token(key), interest(false));
                }
            }
            Ok(Flushed::Blocked) => {
                if !conn.want_write {
                    conn.want_write = true;
                    if let Err(e) =
                        self.registry
                            .reregister(&mut conn.socket, Token(key), interest(true))
                    {
                        self.close(key, &format!("reregister failed: {e}"));
                    }
                }
            }
            Err(e) => self.close(key, &format!("write error: {e}")),
        }
        if drained {
            self.release(key);
        } else if progressed {
            self.progressed(key);
        }
    }

    /// Gives back buffers nobody used since the last call: pooled bodies,
    /// shared arenas and idle connections' output buffers. Called about
    /// once a second, so a busy connection keeps its buffers between turns.
    /// (Public only so tests can observe it without waiting for the timer.)
    #[doc(hidden)]
    pub fn release_idle_buffers(&mut self) {
        self.fan.release_idle();
        for (_, conn) in self.conns.iter_mut() {
            if !conn.closing {
                conn.out.release();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Dirty;

    #[test]
    fn the_connection_being_read_is_written_after_the_others() {
        let mut d = Dirty::default();
        // The publisher's ACK is queued first, then its fan-out.
        d.push(7, Some(7));
        d.push(3, Some(7));
        d.push(9, Some(7));
        // Output queued outside any input (a timer's): in order.
        d.push(4, None);
        assert_eq!(d.first, [3, 9, 4]);
        assert_eq!(d.last, [7]);
    }
}
