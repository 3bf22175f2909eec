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
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use super::bridges::Bridges;
use super::dispatcher::{CommandSet, Dispatcher};
use super::hub::{Hub, NOBODY};
use super::log::Level;
use super::settings::Settings;
use super::streams;
use crate::transport::http::OriginPolicy;
use crate::transport::LastMessage;

mod bridges;
mod listeners;
mod mqtt_store;
mod read;
mod reload;
#[cfg(test)]
mod tests;

pub use listeners::{ListenerKind, ListenerOptions};
pub use reload::{ReloadHandle, ReloadHook};

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

/// A ducq broker: listeners, connections, broker state and commands, driven
/// by one thread.
pub struct Reactor {
    poll: Poll,
    events: Events,
    listeners: Vec<listeners::Listener>,
    /// Browser origin and Host rules for HTTP listeners.
    http_policy: Rc<OriginPolicy>,
    /// Re-reads the configuration (SIGHUP, the `reload` command).
    reload_hook: Option<ReloadHook>,
    reload_flag: Arc<AtomicBool>,
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
        let mut hub = Hub::new(settings, registry);
        hub.auth.set_waker(Arc::clone(&waker));
        let mut reactor = Reactor {
            poll,
            events: Events::with_capacity(1024),
            listeners: Vec::new(),
            http_policy: Rc::new(OriginPolicy::default()),
            reload_hook: None,
            reload_flag: Arc::new(AtomicBool::new(false)),
            sources: Vec::new(),
            stop: StopHandle {
                waker,
                flag: Arc::new(AtomicBool::new(false)),
            },
            hub,
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
            // Event sources' tokens lie in a range of MAX_LISTENERS below
            // the listeners'; a set past it would be taken for a
            // connection and its events lost.
            if index >= MAX_LISTENERS {
                return Err(io::Error::other(
                    "too many command sets: one with an event source must be among the first 1024",
                ));
            }
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
        self.save_mqtt_sessions();
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
        if let Some(t) = self.hub.auth.next_due() {
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
                    let closes = self.hub.closes;
                    if writable {
                        self.hub.flush(key);
                    }
                    if readable {
                        self.read(key, now, ended);
                    }
                    if self.hub.closes != closes {
                        self.bridges.take_over_closing(&mut self.hub, now);
                    }
                }
            }
        }
        ready.clear();
        self.ready = ready;
        if !self.hub.auth.idle() {
            // Answers to `auth` that are due: their connections are read
            // again, to the end of what waits (no new edge comes for it).
            let mut resumed = Vec::new();
            self.hub.auth_tick(now, &mut resumed);
            self.backlog
                .extend(resumed.into_iter().map(|key| (key, true)));
        }
        for (key, to_end) in std::mem::take(&mut self.backlog) {
            let closes = self.hub.closes;
            self.read(key, now, to_end);
            if self.hub.closes != closes {
                self.bridges.take_over_closing(&mut self.hub, now);
            }
        }
        if self.hub.reload_asked.is_some() || self.reload_flag.load(Ordering::Relaxed) {
            self.reload_now();
        }
        // One group commit for every queue change of the turn (its replies
        // wait for it), MQTT persistent sessions with them.
        self.save_mqtt_sessions();
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
                self.hub.acting = self.hub.parked_identity(index);
                self.dispatcher.dispatch(&mut self.hub, NOBODY, &msg);
                self.hub.acting = None;
                self.hub.last_rule = LastMessage::Store;
                self.hub.parked_dispatched(index);
            }
        }
        self.hub.check_parked(now);
    }
}
