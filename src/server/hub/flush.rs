//! Writing output: flushes every connection with queued bytes once per
//! turn, keeps its WRITABLE interest in step (asked for only while output
//! is pending), closes a connection whose last response is written, and
//! gives back buffers nobody used. It must not encode or queue output: it
//! writes what is queued.

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

impl Hub {
    /// Writes what is queued for every connection that has output. Called by
    /// the reactor once per loop turn, so replies produced in one turn go out
    /// in one write per connection.
    pub(crate) fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &key in &dirty {
            self.flush(key);
        }
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty;
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
        match conn.flush() {
            Ok(Flushed::Done) => {
                if conn.close_after_flush || conn.transport.close_after_flush() {
                    let id = conn.id_string();
                    conn.closing = true;
                    conn.transport.closing();
                    self.to_close.push(key);
                    if conn.peer_done {
                        self.log(Level::Info, "close", &id, "disconnected");
                    } else {
                        self.log(Level::Debug, "close", &id, "closed after reply");
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
    }

    /// Gives back buffers nobody used since the last call: pooled bodies,
    /// shared arenas and idle connections' output buffers. Called about
    /// once a second, so a busy connection keeps its buffers between turns.
    pub(crate) fn release_idle_buffers(&mut self) {
        self.fan.release_idle();
        for (_, conn) in self.conns.iter_mut() {
            if !conn.closing {
                conn.out.release();
            }
        }
    }
}
