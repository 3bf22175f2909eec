//! The reactor's read path: one connection's input, read within a budget
//! per turn into the shared scratch buffer (or, for a large frame, a buffer
//! of its own size), decoded, dispatched, and its unfinished tail kept in
//! the connection. It must not write to sockets (the hub flushes) or know
//! any command (the dispatcher does).
//!
//! A read that returns less than asked for ends the round as "drained":
//! with edge-triggered epoll a new edge comes when more data arrives, so
//! the `WouldBlock` read that would confirm it is skipped (see
//! ARCHITECTURE.md, invariants).

use std::io;
use std::rc::Rc;
use std::time::Instant;

use super::Reactor;
use crate::server::conn::ReadEnd;
use crate::server::log::Level;
use crate::transport::{Decoder, Frame, LastMessage};

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "repeat_tests.rs"]
mod repeat_tests;

/// Bytes read from one connection per turn before others get their turn.
const READ_BUDGET: usize = 256 << 10;
/// Room in the input buffer beyond the largest message, for frame headers.
const INPUT_SLACK: usize = 16 << 10;
/// Frames from this size on are read into a buffer of their own size and
/// shared once complete; below it, a copy costs less than the extra read
/// per frame that reading exactly one frame per buffer takes.
const LARGE_FRAME: usize = 32 << 10;

impl Reactor {
    /// Reads and handles what `key` sent, within the read budget of one
    /// turn. Unless the peer closed (`ended`), a read that returns less than
    /// asked for is taken to have drained the socket: new data raises a new
    /// edge, so the `WouldBlock` read that would confirm it is skipped (one
    /// system call per turn saved).
    pub(super) fn read(&mut self, key: usize, now: Instant, ended: bool) {
        let mut budget = READ_BUDGET;
        // A publisher whose stream window is full is not read: what it
        // sends waits in the socket until `streams::check` resumes it.
        while !self.hub.streams.is_paused(key) && self.read_round(key, now, ended, &mut budget) {}
    }

    /// One buffer's worth of `read`: fill a buffer, handle every message in
    /// it, keep the unfinished tail. Small input goes through the shared
    /// scratch buffer and only a partial frame is copied into the
    /// connection. A large frame (its length known from its header) gets a
    /// buffer of exactly its size: reads stop at its end, and once complete
    /// the buffer is handed to the hub as it is (no copy) while the message
    /// is dispatched. Returns whether to read again: when reading stopped at
    /// the buffer's end rather than on an empty socket, while budget remains.
    fn read_round(&mut self, key: usize, now: Instant, ended: bool, budget: &mut usize) -> bool {
        let max = self.hub.settings().max_message + INPUT_SLACK;
        let Some(mut buf) = self.take_input(key) else {
            return false;
        };
        let Some(filled) = self.fill(key, &mut buf.bytes, max, now, ended, budget) else {
            self.give_back(buf);
            return false;
        };
        let len = buf.bytes.len();
        let handled = self.handle_input(key, &mut buf.bytes, filled.whole);
        let stuck = handled.pos == 0 && buf.bytes.len() >= max;
        let kept = self.keep_tail(key, &mut buf, &handled, len, now, max);
        self.give_back(buf);
        // Reading stopped at the buffer's end (a large frame's own buffer,
        // say), not because the socket was empty: no new edge will come for
        // what is left, so read on while budget remains (and from the
        // backlog next turn otherwise). A round that read nothing is not
        // repeated: that would never end.
        let again = kept && filled.end == ReadEnd::Full && filled.got > 0 && *budget > 0;
        self.end_round(key, filled, stuck, handled.wants_close, *budget, again)
    }

    /// The buffer a round reads into: the connection's own (a partial
    /// frame, or a large frame's own buffer), a pooled one the size of the
    /// large frame it expects, or the shared scratch buffer. `None` when the
    /// connection is gone or closing.
    fn take_input(&mut self, key: usize) -> Option<RoundBuf> {
        // A connection held back by back-pressure, or waiting for the
        // answer to its `auth`, is not read; the hub has it read again
        // when it lets go.
        let conn = self
            .hub
            .conns
            .get_mut(key)
            .filter(|c| !c.closing && !c.input_held())?;
        if !conn.input.is_empty() {
            let bytes = std::mem::take(&mut conn.input);
            return Some(RoundBuf { bytes, own: true });
        }
        if conn.frame_hint > 0 {
            let hint = conn.frame_hint;
            conn.input_end = hint;
            let bytes = self.hub.input_buffer(hint);
            return Some(RoundBuf { bytes, own: true });
        }
        let bytes = std::mem::take(&mut self.scratch);
        Some(RoundBuf { bytes, own: false })
    }

    /// Reads into `input` up to its limit (a large frame's end, else `max`)
    /// within the budget, and charges the budget. `None` when the
    /// connection is gone.
    fn fill(
        &mut self,
        key: usize,
        input: &mut Vec<u8>,
        max: usize,
        now: Instant,
        ended: bool,
        budget: &mut usize,
    ) -> Option<Filled> {
        let conn = self.hub.conns.get_mut(key)?;
        let limit = if conn.input_end > 0 {
            conn.input_end
        } else {
            max
        };
        // A large frame in progress may always be completed in one go (the
        // budget is overrun by at most one frame); an extra read per turn
        // for its last piece costs more than it shares out.
        let allowance = if conn.input_end > 0 {
            (*budget).max(limit.saturating_sub(input.len()))
        } else {
            *budget
        };
        let (got, end, error) = match conn.read_into(input, limit, allowance, ended) {
            Ok((n, end)) => {
                if n > 0 {
                    conn.last_rx = now;
                    conn.pinged = false;
                }
                *budget = budget.saturating_sub(n);
                (n, end, None)
            }
            Err(e) => (0, ReadEnd::Drained, Some(e)),
        };
        if conn.tls.is_some() {
            self.after_tls_read(key);
        }
        let conn = self.hub.conns.get_mut(key)?;
        // The buffer holds one complete large frame and nothing else.
        let whole = conn.input_end > 0 && input.len() == conn.input_end;
        Some(Filled {
            got,
            end,
            error,
            whole,
            to_end: ended,
        })
    }

    /// Decodes every message in `input` and dispatches it, in order, while
    /// the connection stays open and is not held back (a message of its
    /// filled a queue past the high-water mark: the rest waits in the
    /// connection). When `whole` and the message fills the buffer, the
    /// buffer itself is shared with the hub (it is moved out of `input`).
    fn handle_input(&mut self, key: usize, input: &mut Vec<u8>, whole: bool) -> Handled {
        let mut dec = Decoder::new();
        let mut wants_close = false;
        let mut shared = false;
        let len = input.len();
        self.hub.feeding = Some(key);
        loop {
            let conn = match self.hub.conns.get_mut(key) {
                Some(c) if !c.closing && !c.input_held() => c,
                _ => break,
            };
            let before = conn.out.pending();
            let base = input.as_ptr() as usize;
            let at = dec.consumed();
            let frame = dec.next(&mut *conn.transport, input, conn.out.own());
            if conn.out.pending() != before {
                self.hub.mark_dirty(key);
            }
            let m = match frame {
                Some(Frame::Message(m)) => m,
                Some(Frame::Close) => {
                    wants_close = true;
                    break;
                }
                None => break,
            };
            // What a publication this message makes does to the store,
            // and whether the codec itself asks.
            let (rule, own) = self
                .hub
                .conns
                .get(key)
                .map_or((LastMessage::Store, false), |c| {
                    (c.transport.last_message(), c.transport.own_request())
                });
            self.hub.last_rule = rule;
            self.hub.own_request = own;
            // A large frame alone in its own buffer: share the buffer.
            let in_place = if whole && at == 0 && dec.consumed() == len {
                place_in(&m, base, len)
            } else {
                None
            };
            match in_place {
                Some((start, n)) => {
                    drop(m);
                    shared = true;
                    self.hub.end_repeat();
                    self.dispatch_shared(key, std::mem::take(input), start, n);
                }
                // A publication repeating the head of the one before it is
                // published without a dispatch (`hub/repeat.rs`). Nothing
                // below applies: its codec (ducq over TCP or WebSocket)
                // answers nothing after a dispatch, and the rule and
                // request flags were as they are reset to.
                None if self.hub.repeat_publication(key, &m) => continue,
                None => {
                    self.hub.end_repeat();
                    self.dispatcher.dispatch(&mut self.hub, key, &m);
                }
            }
            self.hub.last_rule = LastMessage::Store;
            self.hub.own_request = false;
            self.after_dispatch(key);
        }
        self.hub.end_repeat();
        self.hub.feeding = None;
        Handled {
            // Nothing is left of a buffer that was shared.
            pos: if shared { 0 } else { dec.consumed() },
            wants_close,
            shared,
        }
    }

    /// Dispatches bytes `start..start + n` of `buf` with the buffer offered
    /// to the hub, which may keep it instead of copying the message.
    fn dispatch_shared(&mut self, key: usize, buf: Vec<u8>, start: usize, n: usize) {
        let buf = Rc::new(buf);
        if let Some(m) = buf.get(start..start + n) {
            self.hub.offer_input(Rc::clone(&buf), start);
            self.dispatcher.dispatch(&mut self.hub, key, m);
            self.hub.end_offer();
        }
    }

    /// After a TLS connection read: its handshake records need writing, a
    /// failure is logged, a client certificate may name the user.
    fn after_tls_read(&mut self, key: usize) {
        let Some(conn) = self.hub.conns.get_mut(key) else {
            return;
        };
        let wants_write = conn.tls_wants_write();
        let Some(tls) = conn.tls.as_mut() else {
            return;
        };
        let failure = tls.take_failure();
        let cert = tls.take_peer_cert();
        let id = conn.id_string();
        if wants_write || (cert.is_some() && conn.out.pending() > 0) {
            // Handshake records to send, or output queued during the
            // handshake that can now be encrypted.
            self.hub.mark_dirty(key);
        }
        if let Some(why) = failure {
            self.hub.log(Level::Warn, "tls", &id, &why);
        }
        if let Some(der) = cert {
            let cn = der.as_deref().and_then(crate::tls::common_name);
            self.hub.auth_by_cert(key, cn);
        }
    }

    /// Lets the codec answer a message that got no reply (HTTP), unless
    /// the reply waits for the turn's commit (a queue command).
    fn after_dispatch(&mut self, key: usize) {
        let deferred = self.hub.take_deferred();
        if let Some(conn) = self.hub.conns.get_mut(key).filter(|_| !deferred) {
            let before = conn.out.pending();
            conn.transport.after_dispatch(conn.out.own());
            if conn.out.pending() != before {
                self.hub.mark_dirty(key);
            }
        }
    }

    /// Keeps the unprocessed tail of the buffer (from `handled.pos`) in the
    /// connection, in a buffer of its own: a large frame that is arriving
    /// gets one of exactly its size. `len` is how much the buffer held
    /// before it was decoded. Returns false when the connection is gone.
    fn keep_tail(
        &mut self,
        key: usize,
        buf: &mut RoundBuf,
        handled: &Handled,
        len: usize,
        now: Instant,
        max: usize,
    ) -> bool {
        let pos = handled.pos;
        let rest = buf.bytes.get(pos..).unwrap_or(&[]);
        // Held back, the tail may hold whole messages: it is kept as it is
        // and is no frame in progress (no frame timeout, no large-frame
        // buffer).
        let conn = self.hub.conns.get(key);
        let held = conn.is_some_and(|c| c.holds > 0);
        let large = conn
            .filter(|_| !held)
            .and_then(|c| c.transport.frame_len(rest))
            .filter(|&n| n >= LARGE_FRAME && n <= max);
        let fresh = match large {
            Some(n) if !(buf.own && pos == 0) => Some(self.hub.input_buffer(n)),
            _ => None,
        };
        let Some(conn) = self.hub.conns.get_mut(key) else {
            return false;
        };
        let partial = !rest.is_empty();
        match (partial && !held, conn.partial_since) {
            (true, None) => conn.partial_since = Some(now),
            (false, Some(_)) => conn.partial_since = None,
            _ => {}
        }
        conn.input_end = large.unwrap_or(0);
        // Keep expecting large frames while they keep coming.
        conn.frame_hint = match large {
            Some(n) => n,
            None if !partial && (handled.shared || len == 0) => conn.frame_hint,
            None => 0,
        };
        match (large, fresh) {
            // A large frame arriving: in a buffer of its own size.
            (Some(_), Some(mut fresh)) => {
                fresh.extend_from_slice(rest);
                conn.input = fresh;
            }
            (Some(n), None) => {
                buf.bytes.reserve_exact(n.saturating_sub(buf.bytes.len()));
                conn.input = std::mem::take(&mut buf.bytes);
            }
            (None, _) if partial => {
                if buf.own {
                    buf.bytes.drain(..pos);
                    conn.input = std::mem::take(&mut buf.bytes);
                } else {
                    conn.input = rest.to_vec();
                }
            }
            (None, _) => {}
        }
        true
    }

    /// The buffer read into goes back where it came from (unless the
    /// connection kept it).
    fn give_back(&mut self, buf: RoundBuf) {
        let mut bytes = buf.bytes;
        if !buf.own {
            bytes.clear();
            self.scratch = bytes;
        } else if bytes.capacity() >= LARGE_FRAME {
            bytes.clear();
            self.hub.return_buffer(bytes);
        }
    }

    /// Closes the connection when the round ended its stream, or queues it
    /// for the next turn when the budget is spent. Returns `again` when
    /// neither.
    fn end_round(
        &mut self,
        key: usize,
        filled: Filled,
        stuck: bool,
        wants_close: bool,
        budget: usize,
        again: bool,
    ) -> bool {
        let eof = filled.end == ReadEnd::Eof;
        let held = self.hub.conns.get(key).is_some_and(|c| c.input_held());
        if let Some(e) = filled.error {
            self.hub.close(key, &format!("read error: {e}"));
        } else if filled.end == ReadEnd::Failed {
            // Its last words (a TLS alert, a plain-text refusal) go first.
            self.hub.close_after_flush(key);
        } else if held {
            // Input left in the connection (even after the peer's close)
            // is handled when the hub lets go of it; not before.
        } else if stuck {
            self.hub
                .close(key, "input buffer full without a complete message");
        } else if wants_close || eof {
            if let Some(conn) = self.hub.conns.get_mut(key) {
                conn.peer_done = eof;
            }
            self.hub.close_after_flush(key);
        } else if budget == 0 {
            self.backlog.push((key, filled.to_end));
        } else {
            return again;
        }
        false
    }
}

/// The buffer one read round fills.
struct RoundBuf {
    bytes: Vec<u8>,
    /// Taken from the connection or the pool (else it is the scratch
    /// buffer, which goes back to the reactor).
    own: bool,
}

/// What a round's read brought.
struct Filled {
    /// Bytes read.
    got: usize,
    /// Why reading stopped.
    end: ReadEnd,
    error: Option<io::Error>,
    /// The buffer holds one complete large frame and nothing else.
    whole: bool,
    /// Read to the end of the stream (the peer closed).
    to_end: bool,
}

/// What decoding a round's buffer left.
struct Handled {
    /// Bytes of the buffer handled; the rest is a partial frame.
    pos: usize,
    /// The codec closed the stream.
    wants_close: bool,
    /// The buffer was handed to the hub as a shared message.
    shared: bool,
}

/// Where message `m` lies in the buffer that starts at address `base` and
/// holds `len` bytes, if it does (a copy lies elsewhere: two live
/// allocations never overlap).
fn place_in(m: &[u8], base: usize, len: usize) -> Option<(usize, usize)> {
    let start = (m.as_ptr() as usize).checked_sub(base)?;
    (start + m.len() <= len).then_some((start, m.len()))
}
