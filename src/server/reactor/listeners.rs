//! Listeners: what each one speaks (length-framed ducq, HTTP/WebSocket,
//! MQTT, or a codec from a factory), over TCP or a Unix socket, with or without
//! TLS, admitting anonymous clients or not; and accepting their clients.
//! The codec of each new client is made from the settings in force at that
//! moment, so a reload's limits apply to new connections. It must not read
//! client input (`read.rs` does).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use mio::{Interest, Token};
use rustls::ServerConfig;

use super::{Reactor, LISTENER_BASE, MAX_LISTENERS};
use crate::proto::{message::nack, State};
use crate::server::conn::Conn;
use crate::server::log::Level;
use crate::server::socket::{ListenSocket, PeerAddr};
use crate::server::tls::{PlainRefusal, TlsLayer};
use crate::transport::http::{HttpLimits, HttpOrWs};
use crate::transport::mqtt;
use crate::transport::tcp::TcpCodec;
use crate::transport::{Transport, TransportFactory};

/// What a listener's clients speak.
pub enum ListenerKind {
    /// Length-framed ducq (PROTOCOL.md §2).
    Framed,
    /// HTTP, with WebSocket upgrades (PROTOCOL.md §9, §10).
    Http,
    /// MQTT 3.1.1 and 5 (docs/MQTT.md), the listener's clients sharing its
    /// sessions.
    Mqtt(mqtt::Sessions),
    /// A codec from a factory (a C protocol vtable, say).
    Custom(TransportFactory),
}

/// How a listener treats its clients.
pub struct ListenerOptions {
    /// The protocol.
    pub kind: ListenerKind,
    /// TLS: the server configuration (certificate, key, client CA).
    pub tls: Option<Arc<ServerConfig>>,
    /// Whether clients that have not authenticated may do what the
    /// anonymous access list allows (default `true`); when `false` they
    /// may only authenticate and ping.
    pub anonymous: bool,
}

impl ListenerOptions {
    /// Plain, anonymous clients admitted.
    pub fn new(kind: ListenerKind) -> ListenerOptions {
        ListenerOptions {
            kind,
            tls: None,
            anonymous: true,
        }
    }
}

pub(super) struct Listener {
    pub(super) socket: ListenSocket,
    pub(super) opts: ListenerOptions,
    /// An MQTT listener's limits, remade when `max_message` changes.
    mqtt: Option<Rc<mqtt::Config>>,
}

impl Reactor {
    /// Listens for length-framed TCP clients on `addr` (`"0.0.0.0:59090"`,
    /// `"127.0.0.1:0"`, …). Returns the bound address.
    pub fn listen_tcp(&mut self, addr: &str) -> io::Result<SocketAddr> {
        self.listen_with(addr, ListenerOptions::new(ListenerKind::Framed))
    }

    /// Listens for HTTP and WebSocket clients on `addr` (one port serves
    /// both: a request with `Upgrade: websocket` becomes a WebSocket).
    pub fn listen_http(&mut self, addr: &str) -> io::Result<SocketAddr> {
        self.listen_with(addr, ListenerOptions::new(ListenerKind::Http))
    }

    /// Listens for length-framed ducq over TLS on `addr`.
    pub fn listen_tls(&mut self, addr: &str, tls: Arc<ServerConfig>) -> io::Result<SocketAddr> {
        let mut opts = ListenerOptions::new(ListenerKind::Framed);
        opts.tls = Some(tls);
        self.listen_with(addr, opts)
    }

    /// Listens for HTTPS and secure WebSocket (WSS) clients on `addr`.
    pub fn listen_https(&mut self, addr: &str, tls: Arc<ServerConfig>) -> io::Result<SocketAddr> {
        let mut opts = ListenerOptions::new(ListenerKind::Http);
        opts.tls = Some(tls);
        self.listen_with(addr, opts)
    }

    /// Listens for MQTT 3.1.1 and 5 clients on `addr` (docs/MQTT.md), with
    /// packets as large as `max_message`. Each call is a listener of its
    /// own: its clients share sessions with each other, not with another
    /// MQTT listener's.
    pub fn listen_mqtt(&mut self, addr: &str) -> io::Result<SocketAddr> {
        let kind = ListenerKind::Mqtt(mqtt::Sessions::new());
        self.listen_with(addr, ListenerOptions::new(kind))
    }

    /// Listens for MQTT over TLS (`mqtts`, usually port 8883) on `addr`.
    pub fn listen_mqtts(&mut self, addr: &str, tls: Arc<ServerConfig>) -> io::Result<SocketAddr> {
        let mut opts = ListenerOptions::new(ListenerKind::Mqtt(mqtt::Sessions::new()));
        opts.tls = Some(tls);
        self.listen_with(addr, opts)
    }

    /// Listens for length-framed ducq clients on a Unix domain socket at
    /// `path`, its permission bits set to `mode` when given. A stale socket
    /// file is replaced; a live one, or any other file, is an error.
    pub fn listen_unix(&mut self, path: &Path, mode: Option<u32>) -> io::Result<()> {
        let socket = ListenSocket::bind_unix(path, mode)?;
        self.add_listen_socket(socket, ListenerOptions::new(ListenerKind::Framed))
            .map(drop)
    }

    /// Listens on `addr` with a transport made by `factory` for each client.
    pub fn listen(&mut self, addr: &str, factory: TransportFactory) -> io::Result<SocketAddr> {
        self.listen_with(addr, ListenerOptions::new(ListenerKind::Custom(factory)))
    }

    /// Listens on TCP `addr` with the given options.
    pub fn listen_with(&mut self, addr: &str, opts: ListenerOptions) -> io::Result<SocketAddr> {
        let addr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let socket = mio::net::TcpListener::bind(addr)?;
        let index = self.add_listen_socket(ListenSocket::Tcp(socket), opts)?;
        self.listeners
            .get(index)
            .and_then(|l| l.socket.tcp_addr())
            .ok_or_else(|| io::Error::other("listener vanished"))
    }

    /// Adds an already bound listener (tests bind port 0 this way).
    pub fn add_listener(
        &mut self,
        socket: mio::net::TcpListener,
        factory: TransportFactory,
    ) -> io::Result<SocketAddr> {
        let opts = ListenerOptions::new(ListenerKind::Custom(factory));
        let index = self.add_listen_socket(ListenSocket::Tcp(socket), opts)?;
        self.listeners
            .get(index)
            .and_then(|l| l.socket.tcp_addr())
            .ok_or_else(|| io::Error::other("listener vanished"))
    }

    /// Adds a bound listening socket of any kind; returns its index (the
    /// order listeners were added in).
    pub fn add_listen_socket(
        &mut self,
        mut socket: ListenSocket,
        opts: ListenerOptions,
    ) -> io::Result<usize> {
        if self.listeners.len() >= MAX_LISTENERS {
            return Err(io::Error::other("too many listeners"));
        }
        let index = self.listeners.len();
        let token = Token(LISTENER_BASE - index);
        self.poll
            .registry()
            .register(&mut socket, token, Interest::READABLE)?;
        // Plain TCP and HTTP listeners keep the line tools already read
        // (`listening on <addr>`); the new kinds say what they are.
        let what = match (&opts.kind, opts.tls.is_some()) {
            (ListenerKind::Framed, true) => " (tls)",
            (ListenerKind::Http, true) => " (https)",
            (ListenerKind::Mqtt(_), false) => " (mqtt)",
            (ListenerKind::Mqtt(_), true) => " (mqtts)",
            _ => "",
        };
        let text = format!("listening on {}{what}", socket.describe());
        self.listeners.push(Listener {
            socket,
            opts,
            mqtt: None,
        });
        self.hub.log(Level::Info, "listen", "server", &text);
        self.restore_mqtt_sessions(index);
        Ok(index)
    }

    /// Addresses of every TCP listener, in the order they were added.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.socket.tcp_addr())
            .collect()
    }

    /// Every listener as clients reach it (`127.0.0.1:59090`,
    /// `unix:/run/ducq.sock`), in the order they were added.
    pub fn listener_names(&self) -> Vec<String> {
        self.listeners.iter().map(|l| l.socket.describe()).collect()
    }

    /// Replaces the TLS configuration (certificate, key, client CA) of
    /// listener `index`; connections accepted from now on use it, open
    /// ones keep theirs. False when there is no such TLS listener.
    pub fn set_listener_tls(&mut self, index: usize, tls: Arc<ServerConfig>) -> bool {
        match self.listeners.get_mut(index) {
            Some(l) if l.opts.tls.is_some() => {
                l.opts.tls = Some(tls);
                true
            }
            _ => false,
        }
    }

    /// Sets whether listener `index` admits anonymous clients (for
    /// connections accepted from now on).
    pub fn set_listener_anonymous(&mut self, index: usize, anonymous: bool) -> bool {
        match self.listeners.get_mut(index) {
            Some(l) => {
                l.opts.anonymous = anonymous;
                true
            }
            None => false,
        }
    }

    /// The codec for a new client of listener `index`, from the settings
    /// in force now.
    fn codec_for(&mut self, index: usize) -> Option<Box<dyn Transport>> {
        let max = self.hub.settings().max_message;
        let policy = Rc::clone(&self.http_policy);
        let users = !self.hub.auth_config().users.is_empty();
        let l = self.listeners.get_mut(index)?;
        let anonymous = l.opts.anonymous;
        Some(match &l.opts.kind {
            ListenerKind::Framed => Box::new(TcpCodec::new(max)),
            ListenerKind::Http => {
                let limits = HttpLimits {
                    max_body: max,
                    max_message: max,
                    ..HttpLimits::default()
                };
                Box::new(HttpOrWs::with_policy(limits, policy))
            }
            ListenerKind::Mqtt(_) => {
                let cfg = self.mqtt_config(index)?;
                let ListenerKind::Mqtt(sessions) = &self.listeners.get(index)?.opts.kind else {
                    return None;
                };
                let mut server = sessions.connection(cfg);
                server.set_anonymous(anonymous);
                server.set_users(users);
                Box::new(server)
            }
            ListenerKind::Custom(factory) => factory(),
        })
    }

    /// Sets the limits of MQTT listener `index` (its in-flight window,
    /// queues, sessions kept) for connections accepted from now on; false
    /// when it is not an MQTT listener.
    pub fn set_listener_mqtt_limits(&mut self, index: usize, limits: mqtt::Config) -> bool {
        match self.listeners.get_mut(index) {
            Some(Listener {
                opts:
                    ListenerOptions {
                        kind: ListenerKind::Mqtt(sessions),
                        ..
                    },
                mqtt,
                ..
            }) => {
                sessions.set_limits(limits);
                *mqtt = None;
                true
            }
            _ => false,
        }
    }

    /// The limits MQTT listener `index`'s connections share: its own,
    /// with the packet size bound by `max_message`; remade when either
    /// changed.
    pub(super) fn mqtt_config(&mut self, index: usize) -> Option<Rc<mqtt::Config>> {
        let max = self.hub.settings().max_message;
        let max_packet = u32::try_from(max).unwrap_or(u32::MAX);
        let l = self.listeners.get_mut(index)?;
        let ListenerKind::Mqtt(sessions) = &l.opts.kind else {
            return None;
        };
        Some(match &l.mqtt {
            Some(c) if c.max_packet == max_packet => Rc::clone(c),
            _ => {
                let c = Rc::new(mqtt::Config {
                    max_packet,
                    ..sessions.limits().clone()
                });
                l.mqtt = Some(Rc::clone(&c));
                c
            }
        })
    }

    pub(super) fn accept(&mut self, index: usize, now: Instant) {
        loop {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            let tls = listener.opts.tls.clone();
            let anonymous = listener.opts.anonymous;
            let refusal = match listener.opts.kind {
                ListenerKind::Http => PlainRefusal::Http,
                ListenerKind::Mqtt(_) => PlainRefusal::Close,
                _ => PlainRefusal::Framed,
            };
            let local = listener.socket.tcp_addr();
            match listener.socket.accept() {
                Ok((mut stream, peer)) => {
                    self.emfile_logged = false;
                    let Some(mut transport) = self.codec_for(index) else {
                        return;
                    };
                    if self.hub.len() >= self.hub.settings().max_connections {
                        // A clear refusal, best effort, instead of a hang
                        // (in plain text: no TLS session exists yet).
                        if tls.is_none() {
                            let mut out = Vec::new();
                            transport.encode(&nack(State::EMax), &mut out);
                            let _ = write_once(&mut stream, &out);
                        }
                        self.hub.metrics.refused += 1;
                        let text = format!("refused {peer}: connection limit reached");
                        self.hub.log(Level::Warn, "accept", "server", &text);
                        continue;
                    }
                    if let Some(local) = local {
                        self.hub.metrics.accepted(local);
                    }
                    let layer = match tls.map(|c| TlsLayer::new(c, refusal, now)).transpose() {
                        Ok(l) => l.map(Box::new),
                        Err(e) => {
                            self.hub.log(Level::Error, "accept", "server", &e);
                            continue;
                        }
                    };
                    let made = self.hub.insert(|gen| {
                        let mut conn = Conn::new(stream, transport, peer, gen, now);
                        conn.tls = layer;
                        conn.auth.anonymous = anonymous;
                        conn
                    });
                    let key = match made {
                        Ok(key) => key,
                        Err(e) => {
                            let text = format!("register: {e}");
                            self.hub.log(Level::Error, "accept", "server", &text);
                            continue;
                        }
                    };
                    if let Some(conn) = self.hub.conns.get_mut(key) {
                        conn.listener = local;
                        if let PeerAddr::Inet(addr) = conn.peer_addr() {
                            conn.transport.accepted(*addr);
                        }
                    }
                    crate::server::adopt::welcome(&mut self.hub, key);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    // Out of descriptors or memory: pending clients stay in
                    // the kernel's queue; retry soon instead of spinning.
                    self.accept_resume = Some(now + super::ACCEPT_BACKOFF);
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

/// One best-effort write to a socket that is about to be dropped.
fn write_once(socket: &mut crate::server::socket::Socket, bytes: &[u8]) -> io::Result<usize> {
    use crate::server::socket::Socket;
    match socket {
        Socket::Tcp(s) => io::Write::write(s, bytes),
        Socket::Unix(s) => io::Write::write(s, bytes),
    }
}

#[cfg(test)]
#[path = "listeners_tests.rs"]
mod tests;
