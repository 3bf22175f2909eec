//! The reactor: one thread, one `mio::Poll`, a slab of connections. It is
//! the only code that polls, accepts, registers and reads sockets; it turns
//! input into messages through each connection's codec and hands them to the
//! dispatcher, then flushes all output produced in that turn (one write per
//! connection). The `Waker` is the only thread-safe entry point.
//!
//! Token space: a connection's token is its slab key. Listeners, the waker
//! and command-set event sources (a Lua file watcher, say) use tokens at the
//! top of the range, far above any slab key.

use std::borrow::Cow;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use super::conn::{Conn, ReadEnd};
use super::dispatcher::{CommandSet, Dispatcher};
use super::hub::Hub;
use super::log::Level;
use super::settings::Settings;
use crate::proto::{message::nack, State};
use crate::transport::http::{HttpLimits, HttpOrWs};
use crate::transport::tcp::TcpCodec;
use crate::transport::{Decoded, TransportFactory};

const WAKER: Token = Token(usize::MAX);
const LISTENER_BASE: usize = usize::MAX - 1;
const MAX_LISTENERS: usize = 1024;
const SOURCE_BASE: usize = LISTENER_BASE - MAX_LISTENERS;
/// Bytes read from one connection per turn before others get their turn.
const READ_BUDGET: usize = 256 << 10;
/// Room in the input buffer beyond the largest message, for frame headers.
const INPUT_SLACK: usize = 16 << 10;
/// Frames from this size on are read into a buffer of their own size and
/// shared once complete; below it, a copy costs less than the extra read
/// per frame that reading exactly one frame per buffer takes.
const LARGE_FRAME: usize = 32 << 10;
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
    /// Connections that used their read budget and have more to read.
    backlog: Vec<usize>,
    /// Reused list of this turn's events: token, readable, writable, and
    /// whether the peer closed or the socket has an error.
    ready: Vec<(Token, bool, bool, bool)>,
    accept_resume: Option<Instant>,
    emfile_logged: bool,
    next_idle_check: Instant,
    next_buffer_release: Instant,
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
    pub fn add_command_set(&mut self, set: Box<dyn CommandSet>) -> io::Result<()> {
        let index = self.dispatcher.sets_mut().len();
        if let Some(fd) = set.event_fd() {
            self.poll.registry().register(
                &mut SourceFd(&fd),
                Token(SOURCE_BASE - index),
                Interest::READABLE,
            )?;
            self.sources.push(index);
        }
        self.dispatcher.add_set(set);
        Ok(())
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
        for key in std::mem::take(&mut self.backlog) {
            self.read(key, now, false);
        }
        if self.accept_resume.is_some_and(|t| now >= t) {
            self.accept_resume = None;
            for i in 0..self.listeners.len() {
                self.accept(i, now);
            }
        }
        if now >= self.next_idle_check {
            self.hub.check_idle(now);
            self.next_idle_check = now + self.hub.idle_check_interval();
        }
        if now >= self.next_buffer_release {
            self.hub.release_idle_buffers();
            self.next_buffer_release = now + BUFFER_RELEASE;
        }
        // One group commit for every queue change of the turn.
        self.hub.end_queue_turn(Instant::now());
        self.hub.flush_dirty();
        self.hub.reap();
        Ok(())
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
                        let text = format!("refused {peer}: connection limit reached");
                        self.hub.log(Level::Warn, "accept", "server", &text);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let key = self
                        .hub
                        .insert(|gen| Conn::new(stream, transport, peer, gen, now));
                    let Some(conn) = self.hub.conns.get_mut(key) else {
                        continue;
                    };
                    if let Err(e) = self.poll.registry().register(
                        &mut conn.socket,
                        Token(key),
                        Interest::READABLE,
                    ) {
                        self.hub.conns.remove(key);
                        let text = format!("register {peer}: {e}");
                        self.hub.log(Level::Error, "accept", "server", &text);
                        continue;
                    }
                    conn.transport.open(conn.out.own());
                    let id = conn.id_string();
                    if conn.pending_output() > 0 {
                        self.hub.mark_dirty(key);
                    }
                    self.hub.log(Level::Info, "accept", &id, "connected");
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

    /// Reads and handles what `key` sent, within the read budget of one
    /// turn. Unless the peer closed (`ended`), a read that returns less than
    /// asked for is taken to have drained the socket: new data raises a new
    /// edge, so the `WouldBlock` read that would confirm it is skipped (one
    /// system call per turn saved).
    fn read(&mut self, key: usize, now: Instant, ended: bool) {
        let mut budget = READ_BUDGET;
        while self.read_round(key, now, ended, &mut budget) {}
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
        let Some(conn) = self.hub.conns.get_mut(key) else {
            return false;
        };
        if conn.closing {
            return false;
        }
        let hint = conn.frame_hint;
        let own = !conn.input.is_empty() || hint > 0;
        let mut input = if !conn.input.is_empty() {
            std::mem::take(&mut conn.input)
        } else if hint > 0 {
            conn.input_end = hint;
            self.hub.input_buffer(hint)
        } else {
            std::mem::take(&mut self.scratch)
        };
        let Some(conn) = self.hub.conns.get_mut(key) else {
            return false;
        };
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
        let (got, end, error) = match conn.read_into(&mut input, limit, allowance, ended) {
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
        let eof = end == ReadEnd::Eof;
        // The buffer holds one complete large frame and nothing else.
        let whole = conn.input_end > 0 && input.len() == conn.input_end;

        let mut pos = 0;
        let mut wants_close = false;
        let mut shared = false;
        let len = input.len();
        loop {
            let conn = match self.hub.conns.get_mut(key) {
                Some(c) if !c.closing => c,
                _ => break,
            };
            let before = conn.out.pending();
            let base = input.as_ptr() as usize;
            let Some(rest) = input.get_mut(pos..) else {
                break;
            };
            let step = conn.transport.decode(rest, conn.out.own());
            if conn.out.pending() != before {
                self.hub.mark_dirty(key);
            }
            let consumed = step.consumed;
            pos += consumed;
            let msg = match step.decoded {
                Decoded::Message(Cow::Borrowed(m)) if whole && consumed == len => {
                    // Where the message lies in the buffer, if it does.
                    match (m.as_ptr() as usize).checked_sub(base) {
                        Some(start) if start + m.len() <= len => Got::InPlace(start, m.len()),
                        _ => Got::Message(Cow::Borrowed(m)),
                    }
                }
                Decoded::Message(m) => Got::Message(m),
                Decoded::Close => {
                    wants_close = true;
                    break;
                }
                Decoded::Nothing if consumed == 0 => break,
                Decoded::Nothing => continue,
            };
            match msg {
                Got::InPlace(start, n) => {
                    let buf = Rc::new(std::mem::take(&mut input));
                    pos = 0;
                    shared = true;
                    if let Some(m) = buf.get(start..start + n) {
                        self.hub.offer_input(Rc::clone(&buf), start);
                        self.dispatcher.dispatch(&mut self.hub, key, m);
                        self.hub.end_offer();
                    }
                }
                Got::Message(m) => self.dispatcher.dispatch(&mut self.hub, key, &m),
            }
            // A reply that waits for the turn's commit completes the request.
            let deferred = self.hub.take_deferred();
            if let Some(conn) = self.hub.conns.get_mut(key).filter(|_| !deferred) {
                let before = conn.out.pending();
                conn.transport.after_dispatch(conn.out.own());
                if conn.out.pending() != before {
                    self.hub.mark_dirty(key);
                }
            }
        }
        let stuck = pos == 0 && input.len() >= max;

        // Keep only the unprocessed tail, in a buffer of the connection's own.
        let rest = input.get(pos..).unwrap_or(&[]);
        let large = self
            .hub
            .conns
            .get(key)
            .and_then(|c| c.transport.frame_len(rest))
            .filter(|&n| n >= LARGE_FRAME && n <= max);
        let mut fresh = match large {
            Some(n) if !(own && pos == 0) => Some(self.hub.input_buffer(n)),
            _ => None,
        };
        let mut again = false;
        if let Some(conn) = self.hub.conns.get_mut(key) {
            let partial = !rest.is_empty();
            match (partial, conn.partial_since) {
                (true, None) => conn.partial_since = Some(now),
                (false, Some(_)) => conn.partial_since = None,
                _ => {}
            }
            conn.input_end = large.unwrap_or(0);
            // Keep expecting large frames while they keep coming.
            conn.frame_hint = match large {
                Some(n) => n,
                None if !partial && (shared || len == 0) => conn.frame_hint,
                None => 0,
            };
            match (large, fresh.take()) {
                // A large frame arriving: in a buffer of its own size.
                (Some(_), Some(mut buf)) => {
                    buf.extend_from_slice(rest);
                    conn.input = buf;
                }
                (Some(n), None) => {
                    input.reserve_exact(n.saturating_sub(input.len()));
                    conn.input = std::mem::take(&mut input);
                }
                (None, _) if partial => {
                    if own {
                        input.drain(..pos);
                        conn.input = std::mem::take(&mut input);
                    } else {
                        conn.input = rest.to_vec();
                    }
                }
                (None, _) => {}
            }
            // Reading stopped at the buffer's end (a large frame's own
            // buffer, say), not because the socket was empty: no new edge
            // will come for what is left, so read on while budget remains
            // (and from the backlog next turn otherwise). A round that read
            // nothing is not repeated: that would never end.
            again = end == ReadEnd::Full && got > 0 && *budget > 0;
        }
        // The buffer read into goes back where it came from.
        if !own {
            input.clear();
            self.scratch = input;
        } else if input.capacity() >= LARGE_FRAME {
            input.clear();
            self.hub.return_buffer(input);
        }
        if let Some(e) = error {
            self.hub.close(key, &format!("read error: {e}"));
        } else if stuck {
            self.hub
                .close(key, "input buffer full without a complete message");
        } else if wants_close || eof {
            if let Some(conn) = self.hub.conns.get_mut(key) {
                conn.peer_done = eof;
            }
            self.hub.close_after_flush(key);
        } else if *budget == 0 {
            self.backlog.push(key);
        } else {
            return again;
        }
        false
    }
}

/// A message decoded in `read_round`.
enum Got<'a> {
    /// Bytes `start..start + len` of the input buffer, which holds nothing
    /// else: it can be shared instead of copied.
    InPlace(usize, usize),
    /// Anything else.
    Message(Cow<'a, [u8]>),
}
