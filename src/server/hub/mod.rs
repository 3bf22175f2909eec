//! The hub: every connection plus the broker state, and the operations
//! commands use on them — send to a connection, publish to subscribers,
//! close, log. It never reads sockets or parses input (the reactor does),
//! and it does not know which protocol a connection speaks beyond calling
//! its codec.
//!
//! Its parts live in separate files, each with its own state where it has
//! some, all fields of the one `Hub` (no indirection on the publish path):
//! - this file: connection bookkeeping — the slab, identities, the output
//!   bound, marking for close and `reap`, the only place a connection
//!   leaves the slab;
//! - `fanout`: publishing — the shared-encoding arenas, the large-body
//!   pool (`body_pool`) and the input buffer offered by the reactor;
//! - `flush`: writing queued output and keeping WRITABLE interest in step,
//!   giving idle buffers back;
//! - `idle`: idle and frame timeouts;
//! - `pressure`: back-pressure — holding the connections that fill a
//!   queue past its high-water mark, slow-consumer disconnection;
//! - `logging`: log records to the logger and to `LOG` subscribers;
//! - `parked`: subscriptions a protocol keeps after its connection ended.
//!
//! The hub registers, reregisters and deregisters connection sockets; the
//! reactor registers only listeners, the waker and command-set sources.

use std::io;

use mio::{Interest, Registry, Token};
use slab::Slab;

use super::auth::Auth;
use super::broker::{LastStore, Subscriptions};
use super::channels::Channels;
use super::conn::{Conn, ConnId};
use super::log::{Level, Logger};
use super::metrics::Counters;
use super::settings::Settings;
use super::streams::{self, Streams};
use crate::proto::State;
use crate::transport::LastMessage;

mod batch;
mod body_pool;
mod fanout;
mod flush;
mod idle;
mod logging;
mod parked;
mod pressure;
mod repeat;
#[cfg(test)]
pub(crate) mod tests;

use fanout::FanOut;
use parked::Parking;
pub(crate) use parked::NOBODY;

/// Connections and broker state, shared by the reactor and the commands.
pub struct Hub {
    pub(crate) conns: Slab<Conn>,
    /// Who is subscribed to what.
    pub subs: Subscriptions,
    /// Stored messages of each route.
    pub last: LastStore,
    /// Open streamed payloads.
    pub streams: Streams,
    /// Channels: behaviour attached to route patterns.
    pub channels: Channels,
    pub(crate) settings: Settings,
    pub(crate) logger: Logger,
    registry: Registry,
    /// Connections with output to write this turn.
    dirty: flush::Dirty,
    /// Connections marked for closing, removed by `reap`.
    to_close: Vec<usize>,
    next_gen: u64,
    /// The publish path's own state.
    fan: FanOut,
    /// Users, access lists, pending authentication answers.
    pub(crate) auth: Auth,
    /// Whom a message dispatched from no connection (`NOBODY`) acts for:
    /// the client a parked state was kept for, while its delayed
    /// publication is dispatched; access control judges it as that client.
    pub(crate) acting: Option<super::auth::ConnAuth>,
    /// A `reload` command asked for the configuration to be re-read; the
    /// reactor does it at the end of the turn and answers this connection.
    pub(crate) reload_asked: Option<super::conn::ConnId>,
    /// Connections the hub has started closing, ever: the reactor compares
    /// it around each connection's turn to hand a closing bridge's
    /// subscriptions to its stand-in at once (`Bridges::take_over_closing`).
    pub(crate) closes: u64,
    /// The connection whose input is being handled (set by the reactor):
    /// the one held when its message fills a queue past the high-water
    /// mark.
    pub(crate) feeding: Option<usize>,
    /// Queues above the high-water mark and whom they hold.
    pressure: pressure::Pressure,
    /// A queue above this many bytes holds its feeder back or, past the
    /// hard limit, is disconnected: the high-water mark, or the hard limit
    /// when that is lower.
    high_water: usize,
    /// What the server counted so far (`/metrics`); bytes of open
    /// connections are in the connections until they close.
    pub metrics: Counters,
    /// What `publish` does to the stored messages of the route it fans
    /// out to: as the codec of the message being dispatched says
    /// (`Transport::last_message`), `Store` otherwise.
    pub(crate) last_rule: LastMessage,
    /// The message being dispatched is its codec's own bookkeeping
    /// (`Transport::own_request`): it passes the admin-only rule.
    pub(crate) own_request: bool,
    /// Durable queues and request/reply (`queues/glue.rs`).
    pub(crate) queues: super::queues::QueueService,
    /// The command being dispatched answers once the turn's commit is done.
    pub(crate) reply_deferred: bool,
    /// Subscriptions kept after their connection ended (`parked`).
    parked: Parking,
    /// A run of publications repeating the last one's head (`repeat`).
    repeat: repeat::Repeat,
}

impl Hub {
    pub(crate) fn new(settings: Settings, registry: Registry) -> Hub {
        let queue_limits = settings.queue_limits;
        Hub {
            conns: Slab::new(),
            subs: Subscriptions::default(),
            last: LastStore::with_depth(
                settings.max_stored_routes,
                settings.max_stored_bytes,
                settings.history,
            ),
            streams: Streams::default(),
            channels: Channels::default(),
            logger: Logger::new(settings.log_level),
            registry,
            dirty: flush::Dirty::default(),
            to_close: Vec::new(),
            next_gen: 1,
            fan: FanOut::default(),
            auth: Auth::default(),
            acting: None,
            reload_asked: None,
            closes: 0,
            feeding: None,
            pressure: pressure::Pressure::default(),
            high_water: settings.output_high_water.min(settings.max_output),
            metrics: Counters::default(),
            last_rule: LastMessage::Store,
            own_request: false,
            queues: super::queues::QueueService::memory(queue_limits),
            reply_deferred: false,
            settings,
            parked: Parking::default(),
            repeat: repeat::Repeat::default(),
        }
    }

    /// Replaces the limits. Codecs of new connections use the new message
    /// limits; the last-message store keeps the bounds it was made with.
    pub fn set_settings(&mut self, settings: Settings) {
        // Only the level: a hook installed by an embedder stays.
        self.logger.level = settings.log_level;
        self.settings = settings;
    }

    /// The server's limits.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Adds a connection and registers its socket for READABLE. When
    /// registering fails the connection is closed at once (removed by
    /// `reap` at the end of the turn, like any other) and the error
    /// returned; its key is not handed out.
    pub(crate) fn insert(&mut self, make: impl FnOnce(u64) -> Conn) -> io::Result<usize> {
        let gen = self.next_gen;
        self.next_gen += 1;
        let key = self.conns.insert(make(gen));
        let Some(conn) = self.conns.get_mut(key) else {
            return Err(io::Error::other("connection vanished"));
        };
        if let Err(e) = self
            .registry
            .register(&mut conn.socket, Token(key), Interest::READABLE)
        {
            conn.closing = true;
            self.to_close.push(key);
            return Err(e);
        }
        Ok(key)
    }

    /// The identity of a live connection.
    pub fn conn_id(&self, key: usize) -> Option<ConnId> {
        self.conns.get(key).map(|c| ConnId { key, gen: c.gen })
    }

    /// The slab key of `id` if that very connection is still open.
    pub fn resolve(&self, id: ConnId) -> Option<usize> {
        match self.conns.get(id.key) {
            Some(c) if c.gen == id.gen && !c.closing => Some(id.key),
            _ => None,
        }
    }

    /// A live connection.
    pub fn conn(&self, key: usize) -> Option<&Conn> {
        self.conns.get(key).filter(|c| !c.closing)
    }

    /// `TCP:<ip>:<port>` style id of a connection.
    pub fn client_id(&self, key: usize) -> Option<String> {
        self.conns.get(key).map(Conn::id_string)
    }

    /// How `lsconn` (and every listing of clients) names a connection: its
    /// id, prefixed `<user>@` once it authenticated.
    pub fn client_label(&self, key: usize) -> Option<String> {
        self.conns.get(key).map(Conn::label)
    }

    /// Keys of every open connection, in slab order.
    pub fn clients(&self) -> Vec<usize> {
        self.conns
            .iter()
            .filter(|(_, c)| !c.closing)
            .map(|(k, _)| k)
            .collect()
    }

    /// Number of open connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether there is no connection.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Queues one message for `key`, encoded by its transport.
    pub fn send(&mut self, key: usize, msg: &[u8]) -> Result<(), State> {
        let conn = match self.conns.get_mut(key) {
            Some(c) if !c.closing => c,
            _ => return Err(State::ENotFound),
        };
        conn.transport.encode(msg, conn.out.own());
        self.metrics.messages_out += 1;
        self.queued(key)
    }

    /// Schedules a flush of `key` (its output was appended to directly).
    pub(crate) fn mark_dirty(&mut self, key: usize) {
        let _ = self.queued(key);
    }

    /// Bookkeeping after output was appended to `key`: back-pressure and
    /// the hard limit above the high-water mark (`pressure.rs`), schedule a
    /// flush.
    fn queued(&mut self, key: usize) -> Result<(), State> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Err(State::ENotFound);
        };
        let pending = conn.pending_output();
        if pending <= self.high_water {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(key, self.feeding);
            }
            return Ok(());
        }
        self.over_high_water(key, pending)?;
        if let Some(conn) = self.conns.get_mut(key).filter(|c| !c.dirty) {
            conn.dirty = true;
            self.dirty.push(key, self.feeding);
        }
        Ok(())
    }

    /// Marks `key` for closing now; its pending output is dropped.
    pub fn close(&mut self, key: usize, reason: &str) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.closing {
            return;
        }
        conn.closing = true;
        self.closes += 1;
        conn.transport.closing();
        self.metrics.dropped_bytes += conn.pending_output() as u64;
        self.to_close.push(key);
        self.park(key);
        self.log_conn(Level::Info, "close", key, reason);
    }

    /// Closes `key` once its pending output is written.
    pub fn close_after_flush(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            conn.close_after_flush = true;
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(key, self.feeding);
            }
        }
    }

    /// Removes every connection marked for closing.
    pub(crate) fn reap(&mut self) {
        while let Some(key) = self.to_close.pop() {
            if self.conns.get(key).is_some_and(|c| c.closing) {
                // Its streams end with an error for their subscribers,
                // written now rather than a turn later.
                streams::publisher_gone(self, key);
                let mut conn = self.conns.remove(key);
                if conn.congested {
                    self.release(key);
                }
                self.metrics.bytes_in += conn.bytes_in;
                self.metrics.bytes_out += conn.bytes_out;
                let _ = self.registry.deregister(&mut conn.socket);
                self.subs.remove_conn(key);
                let id = super::conn::ConnId { key, gen: conn.gen };
                self.queue_conn_closed(id, std::time::Instant::now());
            }
        }
        if !self.dirty.is_empty() {
            self.flush_dirty();
        }
    }

    /// The last words (`Transport::last_words`) of connections marked for
    /// closing that have not been asked yet, with their keys and what a
    /// publication they make does to the store (`Transport::last_message`).
    pub(crate) fn take_last_words(&mut self) -> Vec<(usize, Vec<u8>, LastMessage)> {
        let mut words = Vec::new();
        for &key in &self.to_close {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if conn.closing && !conn.last_words_asked {
                conn.last_words_asked = true;
                if let Some(msg) = conn.transport.last_words() {
                    words.push((key, msg, conn.transport.last_message()));
                }
            }
        }
        words
    }

    /// Whether connections wait to be removed.
    pub(crate) fn has_closing(&self) -> bool {
        !self.to_close.is_empty()
    }
}

/// Whether `Hub::queued` has nothing to do for `conn`: already due for a
/// flush, and at or below the high-water mark. The publish path asks this
/// inline, once per delivery, before paying for the call (a free function:
/// the caller holds `conn` from the hub's slab).
#[inline]
fn queued_is_noop(conn: &Conn, high_water: usize) -> bool {
    conn.dirty && conn.pending_output() <= high_water
}
