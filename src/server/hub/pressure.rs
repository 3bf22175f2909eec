//! Back-pressure on output. When a message takes a connection's queued
//! output past the high-water mark, the connection whose message it was
//! (the publisher, or the caller whose replies they are) is *held*: the
//! reactor stops reading it after that message. Held connections are let
//! go once every queue holding them has drained to the low-water mark
//! or has been closed. A queue above the high-water mark that makes no
//! progress (not one byte written) for the output timeout, or that passes
//! the hard limit, is disconnected as a slow consumer. So a stuck reader
//! holds its publishers back for at most the timeout, a slow reader that
//! keeps draining is never cut (it paces its publishers instead), and
//! nobody who sends it nothing is ever held.
//!
//! Nothing here runs per delivery below the high-water mark: `Hub::queued`
//! compares the queue with the mark (as it compared it with the hard limit
//! before) and calls in only above it. This file must not touch sockets:
//! the reactor reads the connections let go (`take_resumed`).

use std::time::Instant;

use super::Hub;
use crate::proto::State;
use crate::server::conn::ConnId;

/// The back-pressure state of the hub.
#[derive(Default)]
pub(super) struct Pressure {
    /// Connections above the high-water mark, with whom they hold. A
    /// handful at most in practice: searched linearly.
    congested: Vec<Congested>,
    /// Connections let go since the reactor last asked: it reads them (no
    /// readiness edge will come for input that waited meanwhile).
    resumed: Vec<usize>,
}

/// One queue above the high-water mark.
struct Congested {
    key: usize,
    /// When it passed the mark or last made progress (bytes written),
    /// whichever is later: the output timeout counts from then.
    since: Instant,
    /// Connections held until it drains (their messages filled it).
    held: Vec<ConnId>,
}

impl Hub {
    /// Cold path of `queued`, for a queue of `pending` bytes above the
    /// high-water mark: disconnects it past the hard limit (`EMax`), else
    /// holds the connection whose message is being handled, if any.
    pub(super) fn over_high_water(&mut self, key: usize, pending: usize) -> Result<(), State> {
        if pending > self.settings.max_output {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.out.clear();
            }
            self.metrics.slow_consumers += 1;
            self.metrics.dropped_bytes += pending as u64;
            self.close(
                key,
                &format!("output limit exceeded ({pending} bytes queued): slow consumer"),
            );
            return Err(State::EMax);
        }
        let feeder = self.feeding.and_then(|k| self.conn_id(k).map(|id| (k, id)));
        let Some(conn) = self.conns.get_mut(key) else {
            return Err(State::ENotFound);
        };
        let at = match self.pressure.congested.iter().position(|c| c.key == key) {
            Some(at) => at,
            None => {
                conn.congested = true;
                self.pressure.congested.push(Congested {
                    key,
                    since: Instant::now(),
                    held: Vec::new(),
                });
                self.pressure.congested.len() - 1
            }
        };
        let (Some((fkey, fid)), Some(entry)) = (feeder, self.pressure.congested.get_mut(at)) else {
            return Ok(());
        };
        if entry.held.contains(&fid) {
            return Ok(());
        }
        if let Some(f) = self.conns.get_mut(fkey) {
            entry.held.push(fid);
            f.holds += 1;
            self.metrics.publisher_holds += 1;
        }
        Ok(())
    }

    /// `key`'s queue drained to the low-water mark, or it is gone: the
    /// connections it held are let go (read again) unless another queue
    /// still holds them.
    pub(super) fn release(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            conn.congested = false;
        }
        let Some(at) = self.pressure.congested.iter().position(|c| c.key == key) else {
            return;
        };
        let entry = self.pressure.congested.swap_remove(at);
        for id in entry.held {
            let Some(conn) = self.conns.get_mut(id.key).filter(|c| c.gen == id.gen) else {
                continue;
            };
            conn.holds = conn.holds.saturating_sub(1);
            if conn.holds == 0 && !conn.closing {
                self.pressure.resumed.push(id.key);
            }
        }
    }

    /// `key`'s queue, above the high-water mark, had bytes written: its
    /// output timeout starts again. Called by `flush` only for a congested
    /// queue, so a reader below the mark pays nothing for it.
    pub(super) fn progressed(&mut self, key: usize) {
        if let Some(c) = self.pressure.congested.iter_mut().find(|c| c.key == key) {
            c.since = Instant::now();
        }
    }

    /// When `check_output_timeouts` must next run, if any queue is above
    /// the high-water mark and the timeout is on.
    pub(crate) fn next_output_timeout(&self) -> Option<Instant> {
        let timeout = self.settings.output_timeout;
        if timeout.is_zero() {
            return None;
        }
        let first = self.pressure.congested.iter().map(|c| c.since).min()?;
        Some(first + timeout)
    }

    /// Disconnects every connection above the high-water mark that made no
    /// progress for the output timeout; the connections it held are let go
    /// when it is reaped.
    pub(crate) fn check_output_timeouts(&mut self, now: Instant) {
        let timeout = self.settings.output_timeout;
        if timeout.is_zero() {
            return;
        }
        let late: Vec<usize> = self
            .pressure
            .congested
            .iter()
            .filter(|c| now.saturating_duration_since(c.since) >= timeout)
            .map(|c| c.key)
            .collect();
        for key in late {
            // The kernel announces a slow reader's progress (WRITABLE)
            // only once much of the socket's send buffer is free again; a
            // write tried now sees any room it made (`flush` restarts the
            // timeout, or lets go of the queue at the low-water mark).
            self.flush(key);
            let Some(waited) = self
                .pressure
                .congested
                .iter()
                .find(|c| c.key == key)
                .map(|c| now.saturating_duration_since(c.since))
                .filter(|&waited| waited >= timeout)
            else {
                continue;
            };
            let Some(pending) = self
                .conn(key)
                .filter(|c| !c.closing)
                .map(|c| c.pending_output())
            else {
                continue;
            };
            self.metrics.slow_consumers += 1;
            let reason = format!(
                "output above the high-water mark with nothing written for {} ms ({pending} bytes queued): slow consumer",
                waited.as_millis()
            );
            self.close(key, &reason);
        }
    }

    /// The connections let go since the last call.
    pub(crate) fn take_resumed(&mut self) -> std::vec::Drain<'_, usize> {
        self.pressure.resumed.drain(..)
    }
}
