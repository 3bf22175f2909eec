//! The hub: every connection plus the broker state, and the operations
//! commands use on them — send to a connection, publish to subscribers,
//! close, log. It owns output buffering and flushing; it never reads
//! sockets or parses input (the reactor does), and it does not know which
//! protocol a connection speaks beyond calling its codec.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};
use slab::Slab;

use super::broker::{LastStore, Subscriptions};
use super::conn::{Conn, ConnId, Flushed, SharedRef};
use super::log::{Level, Logger, Record};
use super::settings::Settings;
use crate::proto::State;
use crate::transport::tcp::encode_header;
use crate::transport::SharedEncoding;

/// Connections and broker state, shared by the reactor and the commands.
pub struct Hub {
    pub(crate) conns: Slab<Conn>,
    /// Who is subscribed to what.
    pub subs: Subscriptions,
    /// Last message of each route.
    pub last: LastStore,
    pub(crate) settings: Settings,
    pub(crate) logger: Logger,
    registry: Registry,
    dirty: Vec<usize>,
    to_close: Vec<usize>,
    next_gen: u64,
    delivery_seq: u64,
    /// Per shared encoding, the buffer fan-outs are encoded into; see
    /// `fan_out`.
    arenas: [Option<Rc<RefCell<Vec<u8>>>>; 3],
    /// Buffers for large message bodies, reused once nothing else holds
    /// them.
    bodies: BodyPool,
    /// A fan-out used the arenas since the last idle check.
    arenas_used: bool,
    /// The input buffer of the message being dispatched and where the
    /// message starts in it (see `offer_input`).
    offered: Option<(Rc<Vec<u8>>, usize)>,
    /// Reused list of fan-out targets (no allocation per publish).
    targets: Vec<usize>,
    in_log: bool,
    /// Durable queues and request/reply (`queues/glue.rs`).
    pub(crate) queues: super::queues::QueueService,
    pub(crate) reply_deferred: bool,
}

fn interest(write: bool) -> Interest {
    if write {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    }
}

impl Hub {
    pub(crate) fn new(settings: Settings, registry: Registry) -> Hub {
        let queue_limits = settings.queue_limits;
        Hub {
            conns: Slab::new(),
            subs: Subscriptions::default(),
            last: LastStore::new(settings.max_stored_routes, settings.max_stored_bytes),
            logger: Logger::new(settings.log_level),
            settings,
            registry,
            dirty: Vec::new(),
            to_close: Vec::new(),
            next_gen: 1,
            delivery_seq: 0,
            arenas: [None, None, None],
            bodies: BodyPool::default(),
            arenas_used: false,
            offered: None,
            targets: Vec::new(),
            in_log: false,
            queues: super::queues::QueueService::memory(queue_limits),
            reply_deferred: false,
        }
    }

    /// The server's limits.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The logger (to change its level or install a hook).
    pub fn logger_mut(&mut self) -> &mut Logger {
        &mut self.logger
    }

    pub(crate) fn insert(&mut self, make: impl FnOnce(u64) -> Conn) -> usize {
        let gen = self.next_gen;
        self.next_gen += 1;
        self.conns.insert(make(gen))
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
        self.queued(key)
    }

    /// Schedules a flush of `key` (its output was appended to directly).
    pub(crate) fn mark_dirty(&mut self, key: usize) {
        let _ = self.queued(key);
    }

    /// Bookkeeping after output was appended to `key`: enforce the output
    /// bound, schedule a flush.
    fn queued(&mut self, key: usize) -> Result<(), State> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Err(State::ENotFound);
        };
        if conn.pending_output() > self.settings.max_output {
            let pending = conn.pending_output();
            conn.out.clear();
            self.close(
                key,
                &format!("output limit exceeded ({pending} bytes queued): slow consumer"),
            );
            return Err(State::EMax);
        }
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(key);
        }
        Ok(())
    }

    /// Publishes `msg` (the publisher's message, unchanged) to every
    /// connection subscribed to a pattern matching `route`. Each connection
    /// receives it once, whatever number of its patterns match. Returns the
    /// number of deliveries.
    ///
    /// The message is encoded once per shared encoding, into an arena
    /// buffer that the subscribers' output queues point into: no copy per
    /// subscriber. Successive publications land next to each other in the
    /// arena, so a subscriber that receives them all writes them with one
    /// buffer. Once every queue has let go of the arena it is reused.
    pub fn fan_out(&mut self, route: &[u8], msg: &[u8]) -> usize {
        self.fan_out_with(route, msg, None)
    }

    /// `fan_out`, with `msg`'s bytes already in a shared buffer: connections
    /// whose encoding is a header followed by the message get the header
    /// from the arena and the body from `body`, uncopied.
    fn fan_out_with(
        &mut self,
        route: &[u8],
        msg: &[u8],
        body: Option<(&Rc<Vec<u8>>, usize)>,
    ) -> usize {
        self.delivery_seq += 1;
        let seq = self.delivery_seq;
        let mut targets = std::mem::take(&mut self.targets);
        self.subs.for_each_subscriber(route, |k| targets.push(k));
        self.arenas_used = true;
        // Where this publication's encoding lies in each shared encoding's
        // arena, once made.
        let mut encoded: [Option<(usize, usize)>; 3] = [None, None, None];
        let mut delivered = 0;
        for &key in &targets {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if conn.closing || conn.last_delivery == seq {
                continue;
            }
            conn.last_delivery = seq;
            let slot = conn.transport.shared_encoding().and_then(|enc| {
                let i = shared_slot(enc);
                let body = body.filter(|_| enc == SharedEncoding::TcpFrame);
                encoded
                    .get_mut(i)
                    .zip(self.arenas.get_mut(i))
                    .map(|s| (s, body))
            });
            match slot {
                Some(((done, arena), body)) => {
                    if done.is_none() {
                        *done = encode_shared(arena, conn, msg, body.is_some());
                    }
                    match (*done, arena.as_ref()) {
                        (Some((start, end)), Some(arena)) => {
                            conn.out.push_shared(SharedRef::Arena(arena), start, end);
                            if let Some((b, at)) = body {
                                conn.out
                                    .push_shared(SharedRef::Frozen(b), at, at + msg.len());
                            }
                        }
                        _ => conn.transport.encode(msg, conn.out.own()),
                    }
                }
                None => conn.transport.encode(msg, conn.out.own()),
            }
            if self.queued(key).is_ok() {
                delivered += 1;
            }
        }
        targets.clear();
        self.targets = targets;
        delivered
    }

    /// Stores `msg` as the last message of `route` and fans it out. A large
    /// message is shared by the store and every length-framed TCP
    /// subscriber: the input buffer it arrived in when the reactor offered
    /// it (no copy at all), else one pooled copy.
    pub fn publish(&mut self, route: &[u8], msg: &[u8]) -> usize {
        if msg.len() < SHARE_BODY_FROM {
            self.last.set(route, msg);
            return self.fan_out(route, msg);
        }
        let offered = self.offered.as_ref().filter(|(buf, start)| {
            buf.get(*start..start + msg.len())
                .is_some_and(|b| std::ptr::eq(b, msg))
        });
        let (body, start) = match offered {
            Some((buf, start)) => (Rc::clone(buf), *start),
            None => (self.bodies.copy_of(msg), 0),
        };
        let range = start..start + msg.len();
        self.last.set_shared(route, Rc::clone(&body), range);
        self.fan_out_with(route, msg, Some((&body, start)))
    }

    /// Tells `publish` that the message being dispatched starts at `start`
    /// in `buf`, which it may keep instead of copying the message.
    pub(crate) fn offer_input(&mut self, buf: Rc<Vec<u8>>, start: usize) {
        self.offered = Some((buf, start));
    }

    /// Ends an `offer_input`; the buffer goes to the pool, to be read into
    /// again once the store and the queues let go of it.
    pub(crate) fn end_offer(&mut self) {
        if let Some((buf, _)) = self.offered.take() {
            self.bodies.keep(buf);
        }
    }

    /// An empty buffer with room for `len` bytes, from the pool when one is
    /// free, to read a large frame into.
    pub(crate) fn input_buffer(&mut self, len: usize) -> Vec<u8> {
        self.bodies.take(len)
    }

    /// Takes back a buffer from `input_buffer` that is no longer needed.
    pub(crate) fn return_buffer(&mut self, buf: Vec<u8>) {
        self.bodies.keep(Rc::new(buf));
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
        let id = conn.id_string();
        self.to_close.push(key);
        self.log(Level::Info, "close", &id, reason);
    }

    /// Closes `key` once its pending output is written.
    pub fn close_after_flush(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            conn.close_after_flush = true;
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(key);
            }
        }
    }

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

    /// Removes every connection marked for closing.
    pub(crate) fn reap(&mut self) {
        while let Some(key) = self.to_close.pop() {
            if self.conns.get(key).is_some_and(|c| c.closing) {
                let mut conn = self.conns.remove(key);
                let _ = self.registry.deregister(&mut conn.socket);
                self.subs.remove_conn(key);
                self.queue_conn_closed(ConnId { key, gen: conn.gen }, Instant::now());
            }
        }
    }

    /// Whether connections wait to be removed.
    pub(crate) fn has_closing(&self) -> bool {
        !self.to_close.is_empty()
    }

    /// Logs a record to stderr/the hook and to subscribers of `LOG`.
    pub fn log(&mut self, level: Level, function: &str, sender: &str, text: &str) {
        if !self.logger.enabled(level) || self.in_log {
            return;
        }
        self.in_log = true;
        let rec = Record {
            level,
            function,
            sender,
            text,
        };
        self.logger.write(&rec);
        let listeners = self.subs.exact_subscribers(b"LOG").to_vec();
        if !listeners.is_empty() {
            let line = rec.line();
            for key in listeners {
                let _ = self.send(key, line.as_bytes());
            }
        }
        self.in_log = false;
    }

    /// Gives back buffers nobody used since the last call: pooled bodies,
    /// shared arenas and idle connections' output buffers. Called about
    /// once a second, so a busy connection keeps its buffers between turns.
    pub(crate) fn release_idle_buffers(&mut self) {
        self.bodies.trim();
        if !std::mem::take(&mut self.arenas_used) {
            for arena in self.arenas.iter_mut() {
                if arena.as_ref().is_some_and(|a| Rc::strong_count(a) == 1) {
                    *arena = None;
                }
            }
        }
        for (_, conn) in self.conns.iter_mut() {
            if !conn.closing {
                conn.out.release();
            }
        }
    }

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

    /// Closes connections silent past the idle timeout, pings those silent
    /// for half of it, and gives up on messages left incomplete too long.
    pub(crate) fn check_idle(&mut self, now: Instant) {
        let timeout = self.settings.idle_timeout;
        let frame_timeout = self.settings.frame_timeout;
        let mut expired = Vec::new();
        let mut stalled = Vec::new();
        let mut pinged = Vec::new();
        for (key, conn) in self.conns.iter_mut() {
            if conn.closing {
                continue;
            }
            if conn.partial_since.is_some_and(|t| {
                !frame_timeout.is_zero() && now.saturating_duration_since(t) >= frame_timeout
            }) {
                stalled.push(key);
                continue;
            }
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

/// Arena buffers start this large; one is replaced rather than reused once
/// it has grown past four times that (after a large message).
const ARENA_CHUNK: usize = 64 << 10;

/// Messages from this size on are shared between the last-message store and
/// the subscribers' queues instead of being copied into each.
const SHARE_BODY_FROM: usize = 8 << 10;
/// Bytes of body buffers kept for reuse (about what a subscriber may have
/// queued by default), and the largest body pooled.
const BODY_POOL_BYTES: usize = 8 << 20;
const POOLED_BODY_MAX: usize = 256 << 10;

/// Buffers for large message bodies. A buffer is reused once the pool holds
/// the only reference (every queue wrote it, the store replaced it), so a
/// steady stream of large messages allocates nothing: a large allocation
/// per message would be handed back to the system and faulted in again.
#[derive(Default)]
struct BodyPool {
    bufs: Vec<Rc<Vec<u8>>>,
    /// Capacity of `bufs`, in bytes.
    bytes: usize,
    /// Where the search for a free buffer starts (just after the last one).
    next: usize,
    /// A body was taken since the last `trim`.
    used: bool,
}

impl BodyPool {
    /// A shared copy of `msg`, in a pooled buffer when one is free.
    fn copy_of(&mut self, msg: &[u8]) -> Rc<Vec<u8>> {
        self.used = true;
        let n = self.bufs.len();
        if msg.len() <= POOLED_BODY_MAX {
            for i in 0..n {
                let at = (self.next + i) % n;
                let Some(body) = self.bufs.get_mut(at) else {
                    continue;
                };
                if let Some(buf) = Rc::get_mut(body) {
                    let before = buf.capacity();
                    buf.clear();
                    buf.extend_from_slice(msg);
                    self.bytes = self.bytes - before + buf.capacity();
                    self.next = at + 1;
                    return Rc::clone(body);
                }
            }
        }
        let body = Rc::new(msg.to_vec());
        if msg.len() <= POOLED_BODY_MAX && self.bytes + body.capacity() <= BODY_POOL_BYTES {
            self.bytes += body.capacity();
            self.bufs.push(Rc::clone(&body));
        }
        body
    }

    /// An empty buffer with room for `len` bytes: a free pooled one (taken
    /// out of the pool) or a new one.
    fn take(&mut self, len: usize) -> Vec<u8> {
        self.used = true;
        if len <= POOLED_BODY_MAX {
            let free = self.bufs.iter().position(|b| Rc::strong_count(b) == 1);
            if let Some(buf) = free.map(|i| self.bufs.swap_remove(i)) {
                self.bytes -= buf.capacity();
                if let Ok(mut v) = Rc::try_unwrap(buf) {
                    v.clear();
                    v.reserve_exact(len);
                    return v;
                }
            }
        }
        Vec::with_capacity(len)
    }

    /// Adds `buf` to the pool if there is room; it is reused once nothing
    /// else holds it.
    fn keep(&mut self, buf: Rc<Vec<u8>>) {
        self.used = true;
        let cap = buf.capacity();
        if cap <= POOLED_BODY_MAX && self.bytes + cap <= BODY_POOL_BYTES {
            self.bytes += cap;
            self.bufs.push(buf);
        }
    }

    /// Lets go of every buffer unless the pool was used since the last
    /// call (buffers still held elsewhere are freed by their last holder).
    fn trim(&mut self) {
        if !std::mem::take(&mut self.used) {
            self.bufs = Vec::new();
            self.bytes = 0;
            self.next = 0;
        }
    }
}

/// Encodes `msg` with `conn`'s codec at the end of `arena` (reusing it when
/// no queue points into it any more, starting a new one when it is full and
/// still in use); with `header_only` (length-framed TCP whose body is sent
/// from a shared buffer), only the frame header goes into the arena.
/// Returns where the encoding lies in the arena.
fn encode_shared(
    arena: &mut Option<Rc<RefCell<Vec<u8>>>>,
    conn: &mut Conn,
    msg: &[u8],
    header_only: bool,
) -> Option<(usize, usize)> {
    let need = if header_only { 32 } else { msg.len() + 64 };
    let fits = match arena.as_mut() {
        // Nobody points into it: start over at the front.
        Some(a) if Rc::strong_count(a) == 1 => Rc::get_mut(a).is_some_and(|v| {
            let v = v.get_mut();
            v.clear();
            v.capacity() <= 4 * ARENA_CHUNK
        }),
        Some(a) => a
            .try_borrow()
            .is_ok_and(|v| v.len() + need <= v.capacity().max(ARENA_CHUNK)),
        None => false,
    };
    if !fits {
        *arena = Some(Rc::new(RefCell::new(Vec::with_capacity(
            ARENA_CHUNK.max(need),
        ))));
    }
    let mut buf = arena.as_ref()?.try_borrow_mut().ok()?;
    let start = buf.len();
    if header_only {
        encode_header(msg.len(), &mut buf);
    } else {
        conn.transport.encode(msg, &mut buf);
    }
    Some((start, buf.len()))
}

fn shared_slot(enc: SharedEncoding) -> usize {
    match enc {
        SharedEncoding::TcpFrame => 0,
        SharedEncoding::WsServerFrame => 1,
        SharedEncoding::SseEvent => 2,
    }
}
