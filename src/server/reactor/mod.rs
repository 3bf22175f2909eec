//! The reactor: one thread, one `mio::Poll`, a slab of connections. It is
//! the only code that polls, accepts and reads sockets, and it registers
//! listeners, the waker and command-set event sources (the hub registers
//! connection sockets). It turns input into messages through each
//! connection's codec and hands them to the dispatcher (`read.rs`), then
//! has the hub flush all output produced in that turn (one write per
//! connection). The `Waker` is the only thread-safe entry point. It must
//! not know any command or write to a connection itself.
//!
//! Token space: a connection's token is its slab key. Listeners, the waker
//! and command-set event sources (a Lua file watcher, say) use tokens at the
//! top of the range, far above any slab key.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use super::bridges::Bridges;
use super::conn::Conn;
use super::dispatcher::{CommandSet, Dispatcher};
use super::hub::{Hub, NOBODY};
use super::log::Level;
use super::settings::Settings;
use super::streams;
use crate::proto::{message::nack, State};
use crate::transport::http::{HttpLimits, HttpOrWs};
use crate::transport::mqtt;
use crate::transport::tcp::TcpCodec;
use crate::transport::{LastMessage, TransportFactory};

mod bridges;
mod read;

const WAKER: Token = Token(usize::MAX);
const LISTENER_BASE: usize = usize::MAX - 1;
const MAX_LISTENERS: usize = 1024;
const SOURCE_BASE: usize = LISTENER_BASE - MAX_LISTENERS;
/// How often buffers unused since the last time are given back.
const BUFFER_RELEASE: Duration = Duration::from_secs(1);
/// How long accepting pauses after the process ran out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Stops a running reactor from any thread, or from a signal handler (it
/// stores an atomic flag and writes to an eventfd; nothing else).
#[derive(Clone)]
pub struct StopHandle {
    waker: Arc<Waker>,
    flag: Arc<AtomicBool>,
}

impl StopHandle {
    /// Asks the reactor to stop; `run` returns after the current turn.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }

    /// Wakes the reactor without stopping it.
    pub fn wake(&self) {
        let _ = self.waker.wake();
    }
}

struct Listener {
    socket: TcpListener,
    factory: TransportFactory,
    addr: SocketAddr,
}

/// A ducq broker: listeners, connections, broker state and commands, driven
/// by one thread.
pub struct Reactor {
    poll: Poll,
    events: Events,
    listeners: Vec<Listener>,
    sources: Vec<usize>,
    stop: StopHandle,
    hub: Hub,
    dispatcher: Dispatcher,
    /// Shared read buffer: input is decoded here and only a partial frame
    /// is copied into the connection, so idle connections hold no buffer.
    scratch: Vec<u8>,
    /// Connections to read next turn without waiting for an event: those
    /// that used their read budget and have more to read, and those let go
    /// by back-pressure. The flag reads to the end of the stream (a peer's
    /// close seen before may have no new event to announce it).
    backlog: Vec<(usize, bool)>,
    /// Reused list of this turn's events: token, readable, writable, and
    /// whether the peer closed or the socket has an error.
    ready: Vec<(Token, bool, bool, bool)>,
    accept_resume: Option<Instant>,
    emfile_logged: bool,
    next_idle_check: Instant,
    next_buffer_release: Instant,
    /// How often idle buffers are given back (`BUFFER_RELEASE`).
    buffer_release: Duration,
    /// Connections this broker dials (`server::bridges`).
    bridges: Bridges,
}

impl Reactor {
    /// A reactor with these settings and no listener yet.
    pub fn new(settings: Settings) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let registry = poll.registry().try_clone()?;
        let queues = super::queues::QueueService::for_settings(&settings)?;
        let mut reactor = Reactor {
            poll,
            events: Events::with_capacity(1024),
            listeners: Vec::new(),
            sources: Vec::new(),
            stop: StopHandle {
                waker,
                flag: Arc::new(AtomicBool::new(false)),
            },
            hub: Hub::new(settings, registry),
            dispatcher: Dispatcher::new(),
            scratch: Vec::new(),
            backlog: Vec::new(),
            ready: Vec::new(),
            accept_resume: None,
            emfile_logged: false,
            next_idle_check: Instant::now(),
            next_buffer_release: Instant::now(),
            buffer_release: BUFFER_RELEASE,
            bridges: Bridges::default(),
        };
        reactor.hub.set_queues(queues);
        Ok(reactor)
    }

    /// Listens for length-framed TCP clients on `addr` (`"0.0.0.0:59090"`,
    /// `"127.0.0.1:0"`, …). Returns the bound address.
    pub fn listen_tcp(&mut self, addr: &str) -> io::Result<SocketAddr> {
        let max = self.hub.settings().max_message;
        self.listen(addr, Box::new(move || Box::new(TcpCodec::new(max))))
    }

    /// Listens for HTTP and WebSocket clients on `addr` (one port serves
    /// both: a request with `Upgrade: websocket` becomes a WebSocket).
    pub fn listen_http(&mut self, addr: &str) -> io::Result<SocketAddr> {
        let max = self.hub.settings().max_message;
        let limits = HttpLimits {
            max_body: max,
            max_message: max,
            ..HttpLimits::default()
        };
        self.listen(addr, Box::new(move || Box::new(HttpOrWs::new(limits))))
    }

    /// Listens for MQTT 3.1.1 and 5 clients on `addr` (docs/MQTT.md), with
    /// packets as large as `max_message`. Each call is a listener of its
    /// own: its clients share sessions with each other, not with another
    /// MQTT listener's.
    pub fn listen_mqtt(&mut self, addr: &str) -> io::Result<SocketAddr> {
        let cfg = mqtt::Config {
            max_packet: u32::try_from(self.hub.settings().max_message).unwrap_or(u32::MAX),
            ..mqtt::Config::default()
        };
        self.listen(addr, mqtt::factory(cfg))
    }

    /// Listens on `addr` with a transport made by `factory` for each client.
    pub fn listen(&mut self, addr: &str, factory: TransportFactory) -> io::Result<SocketAddr> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let socket = TcpListener::bind(addr)?;
        self.add_listener(socket, factory)
    }

    /// Adds an already bound listener (tests bind port 0 this way).
    pub fn add_listener(
        &mut self,
        mut socket: TcpListener,
        factory: TransportFactory,
    ) -> io::Result<SocketAddr> {
        if self.listeners.len() >= MAX_LISTENERS {
            return Err(io::Error::other("too many listeners"));
        }
        let token = Token(LISTENER_BASE - self.listeners.len());
        self.poll
            .registry()
            .register(&mut socket, token, Interest::READABLE)?;
        let addr = socket.local_addr()?;
        self.listeners.push(Listener {
            socket,
            factory,
            addr,
        });
        let text = format!("listening on {addr}");
        self.hub.log(Level::Info, "listen", "server", &text);
        Ok(addr)
    }

    /// Addresses of every listener, in the order they were added.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().map(|l| l.addr).collect()
    }

    /// A handle that stops the reactor from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The poll file descriptor: readable when the reactor has work, so a
    /// host loop can wait on it and then call `run_once(Some(ZERO))`.
    pub fn fd(&self) -> RawFd {
        self.poll.as_raw_fd()
    }

    /// Connections and broker state.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Connections and broker state, mutably (an embedder's own commands).
    pub fn hub_mut(&mut self) -> &mut Hub {
        &mut self.hub
    }

    /// The dispatcher (to list commands).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// Both halves at once, for code that runs commands by hand.
    pub fn parts_mut(&mut self) -> (&mut Hub, &mut Dispatcher) {
        (&mut self.hub, &mut self.dispatcher)
    }

    /// Adds a command set. If it has an event source (a file watcher), that
    /// descriptor is registered and the set is told when it is readable.
    pub fn add_command_set(&mut self, mut set: Box<dyn CommandSet>) -> io::Result<()> {
        let index = self.dispatcher.sets_mut().len();
        if let Some(fd) = set.event_fd() {
            self.poll.registry().register(
                &mut SourceFd(&fd),
                Token(SOURCE_BASE - index),
                Interest::READABLE,
            )?;
            self.sources.push(index);
        }
        set.on_attach(&mut self.hub);
        self.dispatcher.add_set(set);
        Ok(())
    }

    /// Gives idle buffers back every `every` from now on, instead of every
    /// second. Public only so tests that observe the release can take its
    /// timing out of the clock's hands and call
    /// `Hub::release_idle_buffers` themselves.
    #[doc(hidden)]
    pub fn set_buffer_release_interval(&mut self, every: Duration) {
        self.buffer_release = every;
        self.next_buffer_release = Instant::now() + every;
    }

    /// Whether `stop` was called.
    pub fn is_stopped(&self) -> bool {
        self.stop.flag.load(Ordering::SeqCst)
    }

    /// Runs until stopped.
    pub fn run(&mut self) -> io::Result<()> {
        while !self.is_stopped() {
            self.run_once(None)?;
        }
        // What the last turn handed out is counted on disk too.
        self.hub.end_queue_turn(Instant::now());
        self.hub.flush_dirty();
        self.hub
            .log(Level::Info, "stop", "server", "reactor stopped");
        Ok(())
    }

    /// Longest a host may wait before calling `run_once` again, even when
    /// the fd stays quiet (idle checks, back-offs, leftover input).
    pub fn next_timeout(&self) -> Duration {
        if !self.backlog.is_empty() || self.hub.has_closing() || self.hub.queues().wants_turn() {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let mut at = self.next_idle_check.min(self.next_buffer_release);
        if let Some(t) = self.hub.queues().next_deadline() {
            at = at.min(t);
        }
        if let Some(t) = self.accept_resume {
            at = at.min(t);
        }
        if let Some(t) = self.hub.next_output_timeout() {
            at = at.min(t);
        }
        if let Some(t) = self.bridges.next_due(&self.hub) {
            at = at.min(t);
        }
        at.saturating_duration_since(now)
    }

    /// One turn: wait for events (at most `timeout`, or until the next timer
    /// when `None`), handle them, flush output.
    pub fn run_once(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let wait = match timeout {
            Some(t) => t.min(self.next_timeout()),
            None => self.next_timeout(),
        };
        match self.poll.poll(&mut self.events, Some(wait)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        let mut ready = std::mem::take(&mut self.ready);
        ready.extend(self.events.iter().map(|e| {
            let ended = e.is_read_closed() || e.is_error();
            (e.token(), e.is_readable() || ended, e.is_writable(), ended)
        }));
        for &(token, readable, writable, ended) in &ready {
            match token.0 {
                t if t == WAKER.0 => {}
                t if t > LISTENER_BASE - MAX_LISTENERS => self.accept(LISTENER_BASE - t, now),
                t if t > SOURCE_BASE - MAX_LISTENERS => {
                    let index = SOURCE_BASE - t;
                    let (hub, dispatcher) = (&mut self.hub, &mut self.dispatcher);
                    if let Some(set) = dispatcher.sets_mut().get_mut(index) {
                        set.on_event(hub);
                    }
                }
                key => {
                    if writable {
                        self.hub.flush(key);
                    }
                    if readable {
                        self.read(key, now, ended);
                    }
                }
            }
        }
        ready.clear();
        self.ready = ready;
        for (key, to_end) in std::mem::take(&mut self.backlog) {
            self.read(key, now, to_end);
        }
        // One group commit for every queue change of the turn (its replies
        // wait for it).
        self.hub.end_queue_turn(Instant::now());
        // What this turn's input produced goes out before any housekeeping
        // (walks of every connection, once a second) can delay it; what
        // the housekeeping queues (pings) goes out right after.
        self.hub.flush_dirty();
        self.timers(now);
        self.hub.flush_dirty();
        // After the flush: a connection whose last reply was just written
        // is marked for closing there.
        if self.last_words() {
            self.hub.flush_dirty();
        }
        // Streamed payloads: publishers paused by a full window are read
        // again once their subscribers drained (next turn, at once).
        streams::check(&mut self.hub, now);
        self.hub.reap();
        self.resume_released();
        Ok(())
    }

    /// The periodic work that is due: accepting again after running out
    /// of descriptors, idle checks, giving buffers back, output timeouts.
    fn timers(&mut self, now: Instant) {
        if self.accept_resume.is_some_and(|t| now >= t) {
            self.accept_resume = None;
            for i in 0..self.listeners.len() {
                self.accept(i, now);
            }
        }
        if now >= self.next_idle_check {
            self.hub.check_idle(now);
            self.parked(now);
            self.next_idle_check = now + self.hub.idle_check_interval();
        }
        if now >= self.next_buffer_release {
            self.hub.release_idle_buffers();
            self.next_buffer_release = now + self.buffer_release;
        }
        if self.hub.next_output_timeout().is_some_and(|t| now >= t) {
            self.hub.check_output_timeouts(now);
        }
        self.bridges.tick(&mut self.hub, now);
    }

    /// Connections let go by back-pressure, stream publishers whose
    /// window drained, and HTTP connections whose requests pipelined behind
    /// a late reply (one that waited for the commit, or for another
    /// connection) are free again, are read next turn, to the end of what
    /// waits: input that arrived or was held while they were not read
    /// raised its readiness edge then, and no new edge will come for it
    /// (nor for a close).
    fn resume_released(&mut self) {
        let held = self.hub.take_resumed().map(|key| (key, true));
        self.backlog.extend(held);
        let streamed = self.hub.streams.take_resumed();
        self.backlog
            .extend(streamed.into_iter().map(|key| (key, true)));
        let pipelined = self.hub.take_held_input();
        self.backlog
            .extend(pipelined.into_iter().map(|key| (key, true)));
    }

    /// Dispatches the last words of connections about to be removed (an
    /// MQTT will), as if they had sent them. A will may close others (a
    /// slow subscriber): theirs follow, each connection's once. Returns
    /// whether any were dispatched.
    fn last_words(&mut self) -> bool {
        let mut any = false;
        loop {
            let words = self.hub.take_last_words();
            if words.is_empty() {
                return any;
            }
            any = true;
            for (key, msg, keep) in words {
                self.hub.last_rule = keep;
                self.dispatcher.dispatch(&mut self.hub, key, &msg);
                self.hub.last_rule = LastMessage::Store;
                if let Some(conn) = self.hub.conns.get_mut(key) {
                    conn.transport.after_dispatch(conn.out.own());
                }
            }
        }
    }

    /// Subscriptions kept after their connection ended: their delayed
    /// publications (MQTT wills with a delay) are dispatched from no
    /// connection, then those no longer wanted are dropped.
    fn parked(&mut self, now: Instant) {
        for index in self.hub.parked_indices() {
            if let Some((msg, rule)) = self.hub.parked_due(index, now) {
                self.hub.last_rule = rule;
                self.dispatcher.dispatch(&mut self.hub, NOBODY, &msg);
                self.hub.last_rule = LastMessage::Store;
                self.hub.parked_dispatched(index);
            }
        }
        self.hub.check_parked(now);
    }

    fn accept(&mut self, index: usize, now: Instant) {
        loop {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            match listener.socket.accept() {
                Ok((mut stream, peer)) => {
                    self.emfile_logged = false;
                    let mut transport = (listener.factory)();
                    if self.hub.len() >= self.hub.settings().max_connections {
                        // A clear refusal, best effort, instead of a hang.
                        let mut out = Vec::new();
                        transport.encode(&nack(State::EMax), &mut out);
                        let _ = io::Write::write(&mut stream, &out);
                        self.hub.metrics.refused += 1;
                        let text = format!("refused {peer}: connection limit reached");
                        self.hub.log(Level::Warn, "accept", "server", &text);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let local = listener.addr;
                    self.hub.metrics.accepted(local);
                    let made = self
                        .hub
                        .insert(|gen| Conn::new(stream, transport, peer, gen, now));
                    let key = match made {
                        Ok(key) => key,
                        Err(e) => {
                            let text = format!("register {peer}: {e}");
                            self.hub.log(Level::Error, "accept", "server", &text);
                            continue;
                        }
                    };
                    if let Some(conn) = self.hub.conns.get_mut(key) {
                        conn.listener = Some(local);
                        conn.transport.accepted(peer);
                    }
                    super::adopt::welcome(&mut self.hub, key);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    // Out of descriptors or memory: pending clients stay in
                    // the kernel's queue; retry soon instead of spinning.
                    self.accept_resume = Some(now + ACCEPT_BACKOFF);
                    if !self.emfile_logged {
                        self.emfile_logged = true;
                        let text = format!("accept failed, pausing: {e}");
                        self.hub.log(Level::Error, "accept", "server", &text);
                    }
                    return;
                }
            }
        }
    }
}
