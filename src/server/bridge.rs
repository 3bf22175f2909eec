//! Descriptors an embedder asks the reactor to poll, the original's way:
//! listening descriptors with an accept callback, and connections driven
//! through blocking message calls (a protocol written in C: `recv` one
//! whole message, `send` one message). They live in a poll of their own
//! whose descriptor is one event source of the reactor, so the reactor has
//! a single kind of connection.
//!
//! A message-driven connection is bridged: a Unix socket pair joins it to
//! an ordinary connection of the hub (length-framed, named after the
//! connection's own id). A message the port receives is written into the
//! pair, where the reactor reads and dispatches it like any other; what
//! the hub queues for that connection comes out of the pair and is handed
//! to the port's `send`. Either side closing closes the other. Blocking
//! calls run on the reactor's thread, as in the original: that is the
//! price of this compatibility path (the non-blocking codec of
//! `ducq_reactor_listen_proto` is the fast one).

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use super::adopt;
use super::conn::ConnId;
use super::dispatcher::CommandSet;
use super::hub::Hub;
use super::log::Level;
use crate::proto::{Message, State};
use crate::transport::tcp::{encode_frame, TcpCodec};
use crate::transport::{Decoder, Frame};

/// Calls of one descriptor's callback per event before others get a turn.
const TURNS: usize = 64;

/// A connection driven by whole messages (a protocol written in C). Its
/// owner releases it when it is dropped.
pub trait Port {
    /// The descriptor to poll for input.
    fn fd(&self) -> RawFd;
    /// Receives one whole message into `buf` (its length in `buf.len()`);
    /// `Ok(false)` for a protocol message to ignore. Blocking.
    fn recv(&mut self, hub: &mut Hub, buf: &mut Vec<u8>) -> Result<bool, State>;
    /// Sends one message. Blocking.
    fn send(&mut self, hub: &mut Hub, msg: &[u8]) -> Result<(), State>;
    /// Answers a failed receive before the connection is dropped (the
    /// original sent a NACK); best effort.
    fn refuse(&mut self, hub: &mut Hub, state: State);
}

/// A listening descriptor and what to do when it is readable.
pub trait Acceptor {
    /// The descriptor to poll.
    fn fd(&self) -> RawFd;
    /// Takes one waiting connection (it may add it to the hub).
    fn accept(&mut self, hub: &mut Hub);
}

/// One bridged connection.
struct Bridge {
    port: Box<dyn Port>,
    /// Our end of the pair.
    near: UnixStream,
    /// Bytes read from the pair, not yet a whole frame.
    inbox: Vec<u8>,
    /// Frames for the hub not yet written into the pair.
    outbox: Vec<u8>,
    codec: TcpCodec,
    id: String,
}

enum Entry {
    Listener(Box<dyn Acceptor>),
    Bridge(Bridge),
}

struct Inner {
    poll: RefCell<Poll>,
    registry: Registry,
    entries: RefCell<Slab<Option<Entry>>>,
    /// The receive buffer bridges share.
    scratch: RefCell<Vec<u8>>,
}

/// The embedder's descriptors of one reactor: add it as a command set
/// (it has no commands; its event source is its poll).
#[derive(Clone)]
pub struct Sources(Rc<Inner>);

/// Whether `fd` has input waiting (or an end or error to report) now.
fn ready(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents != 0
}

/// Token of an entry's descriptor: the port's (or listener's) and the
/// pair's.
fn token(key: usize, pair: bool) -> Token {
    Token(key * 2 + usize::from(pair))
}

impl Sources {
    /// An empty set with a poll of its own.
    pub fn new() -> io::Result<Sources> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        Ok(Sources(Rc::new(Inner {
            poll: RefCell::new(poll),
            registry,
            entries: RefCell::new(Slab::new()),
            scratch: RefCell::new(Vec::new()),
        })))
    }

    /// Polls a listening descriptor; `acceptor` is called while it is
    /// readable.
    pub fn add_listener(&self, acceptor: Box<dyn Acceptor>) -> Result<(), State> {
        let fd = acceptor.fd();
        let mut entries = self.0.entries.borrow_mut();
        let key = entries.insert(Some(Entry::Listener(acceptor)));
        let registered =
            self.0
                .registry
                .register(&mut SourceFd(&fd), token(key, false), Interest::READABLE);
        if registered.is_err() {
            entries.remove(key);
            return Err(State::ECommLayer);
        }
        Ok(())
    }

    /// Bridges `port` into the hub as a connection named `name` (its id
    /// prefix, `peer` after it). Returns its identity; on failure the port
    /// is handed back with the state.
    pub fn add_port(
        &self,
        hub: &mut Hub,
        port: Box<dyn Port>,
        name: &str,
        peer: SocketAddr,
    ) -> Result<ConnId, (State, Box<dyn Port>)> {
        let pair = UnixStream::pair().and_then(|(near, far)| {
            near.set_nonblocking(true)?;
            far.set_nonblocking(true)?;
            Ok((near, far))
        });
        let Ok((near, far)) = pair else {
            return Err((State::ECommLayer, port));
        };
        let transport = Box::new(adopt::Named::new(
            name,
            TcpCodec::new(hub.settings().max_message),
        ));
        let far_fd = far.into_raw_fd();
        let id = match adopt::adopt_with(hub, far_fd, transport, Some(peer)) {
            Ok(id) => id,
            Err(s) => {
                // SAFETY: adopt_with gave the descriptor back on failure.
                drop(unsafe { <UnixStream as std::os::fd::FromRawFd>::from_raw_fd(far_fd) });
                return Err((s, port));
            }
        };
        let fd = port.fd();
        let bridge = Bridge {
            port,
            near,
            inbox: Vec::new(),
            outbox: Vec::new(),
            codec: TcpCodec::new(hub.settings().max_message),
            id: hub
                .resolve(id)
                .and_then(|k| hub.client_id(k))
                .unwrap_or_default(),
        };
        let near_fd = bridge.near.as_raw_fd();
        let mut entries = self.0.entries.borrow_mut();
        let slot = entries.vacant_entry();
        let key = slot.key();
        let reg = &self.0.registry;
        let both = reg
            .register(&mut SourceFd(&fd), token(key, false), Interest::READABLE)
            .and_then(|()| {
                reg.register(
                    &mut SourceFd(&near_fd),
                    token(key, true),
                    Interest::READABLE | Interest::WRITABLE,
                )
            });
        if both.is_err() {
            let _ = reg.deregister(&mut SourceFd(&fd));
            // Dropping our end of the pair makes the hub drop its end.
            return Err((State::ECommLayer, bridge.port));
        }
        slot.insert(Some(Entry::Bridge(bridge)));
        Ok(id)
    }

    /// Handles what is ready (called when the poll's descriptor is).
    fn on_ready(&self, hub: &mut Hub) {
        let mut events = Events::with_capacity(64);
        loop {
            if self
                .0
                .poll
                .borrow_mut()
                .poll(&mut events, Some(Duration::ZERO))
                .is_err()
            {
                return;
            }
            if events.is_empty() {
                return;
            }
            let ready: Vec<(usize, bool)> = events
                .iter()
                .map(|e| (e.token().0 / 2, e.token().0 % 2 == 1))
                .collect();
            for (key, pair) in ready {
                self.serve(hub, key, pair);
            }
        }
    }

    /// Serves one entry: takes it out of the slab while its callbacks run
    /// (they may add entries), puts it back unless it ended.
    fn serve(&self, hub: &mut Hub, key: usize, pair: bool) {
        let taken = self
            .0
            .entries
            .borrow_mut()
            .get_mut(key)
            .and_then(Option::take);
        let Some(entry) = taken else { return };
        let keep = match entry {
            Entry::Listener(mut a) => {
                let fd = a.fd();
                let mut turns = 0;
                while turns < TURNS && ready(fd) {
                    a.accept(hub);
                    turns += 1;
                }
                if turns == TURNS {
                    self.rearm(fd, key, false);
                }
                Some(Entry::Listener(a))
            }
            Entry::Bridge(mut b) => {
                let alive = if pair {
                    self.hub_to_port(hub, &mut b)
                } else {
                    self.port_to_hub(hub, &mut b, key)
                };
                match alive {
                    Ok(()) => Some(Entry::Bridge(b)),
                    Err(why) => {
                        self.end(hub, b, &why);
                        None
                    }
                }
            }
        };
        let mut entries = self.0.entries.borrow_mut();
        match keep {
            Some(e) => {
                if let Some(slot) = entries.get_mut(key) {
                    *slot = Some(e);
                }
            }
            None => {
                entries.try_remove(key);
            }
        }
    }

    /// Asks for another event on `fd` (after a turn that left input).
    fn rearm(&self, fd: RawFd, key: usize, pair: bool) {
        let interest = if pair {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let _ = self
            .0
            .registry
            .reregister(&mut SourceFd(&fd), token(key, pair), interest);
    }

    /// Messages the port received go into the pair, for the hub.
    fn port_to_hub(&self, hub: &mut Hub, b: &mut Bridge, key: usize) -> Result<(), String> {
        let fd = b.port.fd();
        let mut scratch = std::mem::take(&mut *self.0.scratch.borrow_mut());
        let mut turns = 0;
        let mut result = Ok(());
        while turns < TURNS && ready(fd) {
            turns += 1;
            scratch.clear();
            match b.port.recv(hub, &mut scratch) {
                Ok(true) => encode_frame(&scratch, &mut b.outbox),
                Ok(false) => {}
                Err(state) => {
                    b.port.refuse(hub, state);
                    result = Err(format!("disconnecting: {}", state.text()));
                    break;
                }
            }
        }
        *self.0.scratch.borrow_mut() = scratch;
        result?;
        if turns == TURNS {
            self.rearm(fd, key, false);
        }
        flush(b).map_err(|e| format!("bridge write: {e}"))
    }

    /// Frames the hub queued come out of the pair, to the port.
    fn hub_to_port(&self, hub: &mut Hub, b: &mut Bridge) -> Result<(), String> {
        flush(b).map_err(|e| format!("bridge write: {e}"))?;
        let mut chunk = [0u8; 16 << 10];
        let mut closed = false;
        loop {
            match b.near.read(&mut chunk) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => b.inbox.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("bridge read: {e}")),
            }
        }
        // The hub's frames, in order, each to the port.
        let Bridge {
            port, inbox, codec, ..
        } = b;
        let mut out = Vec::new();
        let mut dec = Decoder::new();
        while let Some(frame) = dec.next(codec, inbox, &mut out) {
            match frame {
                Frame::Message(m) => {
                    if let Err(state) = port.send(hub, &m) {
                        return Err(format!("send failed: {}", state.text()));
                    }
                }
                Frame::Close => return Err("closed".into()),
            }
        }
        inbox.drain(..dec.consumed());
        if closed {
            return Err("closed by the server".into());
        }
        Ok(())
    }

    /// Ends a bridge: stops polling, closes the pair (the hub's end sees it
    /// and drops its connection), releases the port.
    fn end(&self, hub: &mut Hub, b: Bridge, why: &str) {
        let (fd, near) = (b.port.fd(), b.near.as_raw_fd());
        let _ = self.0.registry.deregister(&mut SourceFd(&fd));
        let _ = self.0.registry.deregister(&mut SourceFd(&near));
        hub.log(Level::Info, "bridge", &b.id, why);
        drop(b);
    }
}

/// Writes what the hub is owed into the pair, as far as it takes it.
fn flush(b: &mut Bridge) -> io::Result<()> {
    while !b.outbox.is_empty() {
        match b.near.write(&b.outbox) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                b.outbox.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl CommandSet for Sources {
    fn list(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn has(&self, _name: &[u8]) -> bool {
        false
    }

    fn exec(&mut self, _: &mut Hub, _: usize, _: &Message<'_>) -> Result<(), State> {
        Err(State::ENoCmd)
    }

    fn event_fd(&self) -> Option<RawFd> {
        Some(self.0.poll.borrow().as_raw_fd())
    }

    fn on_event(&mut self, hub: &mut Hub) {
        self.on_ready(hub);
    }
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
