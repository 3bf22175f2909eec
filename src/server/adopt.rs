//! Connections an embedder accepted itself and hands to the reactor (the
//! original's `ducq_reactor_add_client` with a handle from
//! `ducq_new_tcp_connection`, `ducq_new_ws_connection` or
//! `ducq_new_http_connection`): the descriptor becomes an ordinary
//! non-blocking connection of the hub, with the codec its protocol needs,
//! exactly as if the reactor had accepted it on a listener; `welcome` is
//! the step both share once a connection is in.

use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::os::fd::{FromRawFd, RawFd};
use std::time::Instant;

use super::conn::{Conn, ConnId};
use super::hub::Hub;
use super::log::Level;
use super::settings::Settings;
use super::socket::{PeerAddr, Socket};
use crate::proto::State;
use crate::transport::http::{HttpLimits, HttpOrWs};
use crate::transport::tcp::TcpCodec;
use crate::transport::ws::WsServer;
use crate::transport::{Step, Transport};

/// The protocol an accepted descriptor speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Length-framed TCP.
    Tcp,
    /// WebSocket: the opening handshake is answered if the peer starts
    /// with one, frames are read at once otherwise.
    Ws,
    /// WebSocket whose handshake was already answered.
    WsUpgraded,
    /// HTTP/1.1, upgraded to WebSocket when asked.
    Http,
}

/// The codec for a connection of `proto`, with the server's limits.
pub fn transport(proto: Protocol, settings: &Settings) -> Box<dyn Transport> {
    let max = settings.max_message;
    match proto {
        Protocol::Tcp => Box::new(TcpCodec::new(max)),
        Protocol::Ws => Box::new(WsEither { max, ws: None }),
        Protocol::WsUpgraded => Box::new(WsServer::upgraded(max)),
        Protocol::Http => Box::new(HttpOrWs::new(HttpLimits {
            max_body: max,
            max_message: max,
            ..HttpLimits::default()
        })),
    }
}

/// A WebSocket server that learns from the first byte whether the peer
/// starts with the opening handshake (`G` of `GET`) or with a frame (a
/// client frame never starts with `G`: that would be a reserved opcode).
struct WsEither {
    max: usize,
    ws: Option<WsServer>,
}

impl WsEither {
    fn decide(&mut self, first: u8) -> &mut WsServer {
        let max = self.max;
        self.ws.get_or_insert_with(|| {
            if first == b'G' {
                WsServer::new(max)
            } else {
                WsServer::upgraded(max)
            }
        })
    }
}

impl Transport for WsEither {
    fn name(&self) -> &str {
        "WS"
    }

    fn is_open(&self) -> bool {
        self.ws.as_ref().is_none_or(|ws| ws.is_open())
    }

    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        match input.first() {
            None => Step::need_more(),
            Some(&first) => self.decide(first).decode(input, out),
        }
    }

    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        // Before the peer said anything, frames are what it will read.
        self.decide(0).encode(msg, out)
    }

    fn frame_len(&self, input: &[u8]) -> Option<usize> {
        self.ws.as_ref().and_then(|ws| ws.frame_len(input))
    }

    fn shared_encoding(&self) -> Option<crate::transport::SharedEncoding> {
        self.ws.as_ref().and_then(|ws| ws.shared_encoding())
    }

    fn close_after_flush(&self) -> bool {
        self.ws.as_ref().is_some_and(|ws| ws.close_after_flush())
    }

    fn keepalive(&mut self, out: &mut Vec<u8>) -> bool {
        self.decide(0).keepalive(out)
    }
}

/// A codec under another name: the id prefix of a connection bridged from
/// a protocol written in C (`LINE` in `LINE:127.0.0.1:4000`).
pub struct Named<T> {
    name: String,
    inner: T,
}

impl<T: Transport> Named<T> {
    /// `inner`, named `name`.
    pub fn new(name: &str, inner: T) -> Named<T> {
        Named {
            name: name.to_owned(),
            inner,
        }
    }
}

impl<T: Transport> Transport for Named<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn open(&mut self, out: &mut Vec<u8>) {
        self.inner.open(out)
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }

    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        self.inner.decode(input, out)
    }

    fn frame_len(&self, input: &[u8]) -> Option<usize> {
        self.inner.frame_len(input)
    }

    fn after_dispatch(&mut self, out: &mut Vec<u8>) {
        self.inner.after_dispatch(out)
    }

    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        self.inner.encode(msg, out)
    }

    fn shared_encoding(&self) -> Option<crate::transport::SharedEncoding> {
        self.inner.shared_encoding()
    }

    fn close_after_flush(&self) -> bool {
        self.inner.close_after_flush()
    }

    fn keepalive(&mut self, out: &mut Vec<u8>) -> bool {
        self.inner.keepalive(out)
    }
}

/// Makes the accepted descriptor `fd` a connection of the hub speaking
/// `proto`, as the reactor's own accept would. On failure the descriptor
/// is left as it was (open, the caller's): `EMax` at the connection limit,
/// `ECommLayer` when it is not a socket the reactor can poll.
pub fn adopt(hub: &mut Hub, fd: RawFd, proto: Protocol) -> Result<ConnId, State> {
    let transport = transport(proto, hub.settings());
    adopt_with(hub, fd, transport, None)
}

/// `adopt` with a codec of the caller's, and the peer's address when the
/// descriptor has none of its own (the other end of a Unix socket).
///
/// The connection lives on a duplicate of `fd`, and `fd` is closed once the
/// connection is in place: whatever fails before, the caller's descriptor
/// is untouched (a failed registration is reaped with the duplicate only).
pub fn adopt_with(
    hub: &mut Hub,
    fd: RawFd,
    transport: Box<dyn Transport>,
    peer: Option<SocketAddr>,
) -> Result<ConnId, State> {
    if hub.len() >= hub.settings().max_connections {
        hub.log(
            Level::Warn,
            "accept",
            "server",
            "refused an added client: connection limit reached",
        );
        return Err(State::EMax);
    }
    // SAFETY: F_DUPFD_CLOEXEC only reads `fd`; an invalid one is an error.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(State::ECommLayer);
    }
    // SAFETY: `dup` is a descriptor of our own from here.
    let std = unsafe { StdTcpStream::from_raw_fd(dup) };
    if std.set_nonblocking(true).is_err() {
        return Err(State::ECommLayer);
    }
    // An embedder's socket may be a Unix one: no peer address then.
    let peer = peer.unwrap_or_else(|| {
        std.peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    });
    let _ = std.set_nodelay(true);
    let stream = mio::net::TcpStream::from_std(std);
    let now = Instant::now();
    let (socket, peer) = (Socket::Tcp(stream), PeerAddr::Inet(peer));
    let key = match hub.insert(|gen| Conn::new(socket, transport, peer, gen, now)) {
        Ok(key) => key,
        Err(e) => {
            let text = format!("register an added client: {e}");
            hub.log(Level::Error, "accept", "server", &text);
            return Err(State::ECommLayer);
        }
    };
    // SAFETY: the caller's descriptor, now served through its duplicate.
    unsafe { libc::close(fd) };
    let id = hub.conn_id(key).ok_or(State::Error)?;
    welcome(hub, key);
    Ok(id)
}

/// What a connection gets once it is in the hub, however it came: its
/// codec's opening bytes (a greeting, a handshake) queued, and the
/// `connected` log line.
pub(crate) fn welcome(hub: &mut Hub, key: usize) {
    let Some(conn) = hub.conns.get_mut(key) else {
        return;
    };
    conn.transport.open(conn.out.own());
    if conn.pending_output() > 0 {
        hub.mark_dirty(key);
    }
    hub.log_conn(Level::Info, "accept", key, "connected");
}

#[cfg(test)]
#[path = "adopt_tests.rs"]
mod tests;
