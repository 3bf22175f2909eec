//! A bridge connection as the hub sees it: one more connection whose codec
//! speaks the remote's protocol as a client ([`BridgeTransport`]). The
//! parts every kind shares live here: a message from the remote becomes a
//! local message the dispatcher runs (`pub R\nP` through the local
//! broker's own rules) while the local broker's answers to it are kept
//! from the remote and the publication is not echoed back on the same
//! bridge; a local publication on an `out` route is spelled for the remote
//! and sent, or queued until the remote can take it. What differs per
//! remote (handshake, framing, confirmations) is a [`Remote`]. Sans-IO.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::config::BridgeConfig;
use super::link::{Link, Outgoing};
use crate::proto::message::{classify, Kind};
use crate::proto::Message;
use crate::server::tls::TlsLayer;
use crate::transport::{Decoded, LastMessage, Step, Transport};

/// The TLS layer a connection to `addr` of bridge `cfg` goes through, if
/// it speaks TLS (its client configuration loaded by
/// `BridgeConfig::finish`).
pub(super) fn tls_layer(
    cfg: &BridgeConfig,
    addr: std::net::SocketAddr,
    now: std::time::Instant,
) -> std::io::Result<Option<Box<TlsLayer>>> {
    if !cfg.tls {
        return Ok(None);
    }
    let Some(client) = &cfg.tls_client else {
        return Err(std::io::Error::other("TLS settings not loaded"));
    };
    let name = cfg.tls_server_name(addr);
    TlsLayer::client(std::sync::Arc::clone(&client.config), &name, now)
        .map(|l| Some(Box::new(l)))
        .map_err(std::io::Error::other)
}

/// A local message made from one received from the remote.
#[derive(Debug, PartialEq, Eq)]
pub struct Inbound {
    /// The message the local dispatcher runs (`pub R\nP`, `bpub ...`).
    pub message: Vec<u8>,
    /// What its publication does to the route's stored messages (MQTT:
    /// stored only when retained, removed by an empty retained one).
    pub last: LastMessage,
}

/// What [`Remote::send`] did with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Written; the remote will confirm it.
    Unconfirmed,
    /// Written; nothing will confirm it.
    Confirmed,
    /// Not written: the remote cannot take more now (a full window).
    Wait,
    /// Not written, and never will be (counted by the remote as why).
    Skipped,
}

/// One remote protocol, client side.
pub trait Remote {
    /// Bytes to send on connecting.
    fn open(&mut self, link: &mut Link, out: &mut Vec<u8>);

    /// Decodes at most one frame from the front of `input`: how many bytes
    /// it used and the local message it makes, if any. May append answers
    /// (pongs, acknowledgements) to `out`. An error ends the connection.
    fn decode(
        &mut self,
        link: &mut Link,
        input: &mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, Option<Inbound>), String>;

    /// Whether the handshake is complete and messages may be sent.
    fn ready(&self) -> bool;

    /// The remote spelling of a local publication on `route` (already
    /// through the prefix rewrite), numbered `seq` on this broker. `None`
    /// when it is not to be forwarded (counted as why).
    fn outgoing(
        &mut self,
        link: &mut Link,
        route: &[u8],
        payload: &[u8],
        seq: u64,
    ) -> Option<Outgoing>;

    /// Writes one message for the remote (and may tag it, to know it by
    /// when it is confirmed).
    fn send(&mut self, link: &mut Link, msg: &mut Outgoing, out: &mut Vec<u8>) -> Sent;

    /// The local broker has handled the last inbound message: acknowledge
    /// it to the remote if its protocol wants that.
    fn handled(&mut self, _link: &mut Link, _out: &mut Vec<u8>) {}

    /// A keep-alive probe the remote answers.
    fn ping(&mut self, out: &mut Vec<u8>);
}

/// The codec of a bridge connection.
pub struct BridgeTransport<R: Remote> {
    remote: R,
    link: Rc<RefCell<Link>>,
    name: String,
    /// Between an inbound message and the end of its dispatch: what the
    /// hub encodes for this connection then is the local broker's answer
    /// to it, or its own publication coming back.
    injecting: bool,
    last: LastMessage,
    was_ready: bool,
    /// A stand-in while the bridge is down: it holds the bridge's local
    /// subscriptions on a socket nobody writes to, so what is published
    /// meanwhile waits in the link (bounded) for the next connection.
    parked: bool,
}

impl<R: Remote> BridgeTransport<R> {
    /// A codec speaking `remote` for the bridge whose state is `link`;
    /// `parked`: the stand-in of a bridge that is down (it never opens,
    /// pings or times out).
    pub fn new(remote: R, link: Rc<RefCell<Link>>, parked: bool) -> BridgeTransport<R> {
        let name = format!("bridge-{}", link.borrow().cfg.name);
        BridgeTransport {
            remote,
            link,
            name,
            injecting: false,
            last: LastMessage::Store,
            was_ready: false,
            parked,
        }
    }

    /// Sends what waits, in order, while the remote takes it.
    fn drain(&mut self, link: &mut Link, out: &mut Vec<u8>) {
        while let Some(msg) = link.next_waiting() {
            if !self.write(link, msg, out) {
                return;
            }
        }
    }

    /// Writes `msg`; false (and it waits again) when the remote cannot
    /// take it now.
    fn write(&mut self, link: &mut Link, mut msg: Outgoing, out: &mut Vec<u8>) -> bool {
        let before = out.len();
        match self.remote.send(link, &mut msg, out) {
            Sent::Unconfirmed => link.sent_unconfirmed(msg),
            Sent::Confirmed => link.sent_confirmed(),
            Sent::Skipped => {}
            Sent::Wait => {
                link.unwait(msg);
                return false;
            }
        }
        link.written += (out.len() - before) as u64;
        true
    }
}

impl<R: Remote> Transport for BridgeTransport<R> {
    fn name(&self) -> &str {
        &self.name
    }

    fn open(&mut self, out: &mut Vec<u8>) {
        if self.parked {
            return;
        }
        let mut link = self.link.borrow_mut();
        let before = out.len();
        self.remote.open(&mut link, out);
        link.written += (out.len() - before) as u64;
    }

    fn is_open(&self) -> bool {
        self.remote.ready()
    }

    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        let link = Rc::clone(&self.link);
        let mut link = link.borrow_mut();
        let before = out.len();
        let len = input.len();
        let result = self.remote.decode(&mut link, input, out);
        if !self.was_ready && self.remote.ready() {
            self.was_ready = true;
            link.open = true;
            link.counters.connects += 1;
            self.drain(&mut link, out);
        } else if self.remote.ready() && !link.waiting.is_empty() {
            // A confirmation may have opened the window.
            self.drain(&mut link, out);
        }
        link.written += (out.len() - before) as u64;
        match result {
            Err(e) => {
                link.error = Some(e);
                Step {
                    consumed: len,
                    decoded: Decoded::Close,
                }
            }
            Ok((n, None)) => Step {
                consumed: n,
                decoded: Decoded::Nothing,
            },
            Ok((n, Some(inbound))) => {
                self.injecting = true;
                self.last = inbound.last;
                link.counters.received += 1;
                Step {
                    consumed: n,
                    decoded: Decoded::Message(Cow::Owned(inbound.message)),
                }
            }
        }
    }

    fn encode(&mut self, msg: &[u8], _out: &mut Vec<u8>) {
        // The local broker's replies are for the bridge, not the remote:
        // only a refusal of what the bridge brought in is worth counting.
        if self.injecting && matches!(classify(msg), Kind::Nack(_)) {
            self.link.borrow_mut().counters.refused += 1;
        }
    }

    fn encode_publication(&mut self, msg: &[u8], seq: u64, out: &mut Vec<u8>) {
        if self.injecting {
            // Its own inbound message, published locally: not back.
            return;
        }
        let Ok(m) = Message::parse(msg) else {
            return;
        };
        if m.command != b"pub" && m.command != b"publish" {
            return;
        }
        let link = Rc::clone(&self.link);
        let mut link = link.borrow_mut();
        let Some(route) = link.cfg.mapping.outbound_route(m.route) else {
            return;
        };
        let Some(outgoing) = self.remote.outgoing(&mut link, &route, m.payload, seq) else {
            return;
        };
        if self.remote.ready() && link.waiting.is_empty() {
            self.write(&mut link, outgoing, out);
        } else {
            link.wait(outgoing);
        }
    }

    fn after_dispatch(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.injecting) {
            let link = Rc::clone(&self.link);
            let mut link = link.borrow_mut();
            let before = out.len();
            self.remote.handled(&mut link, out);
            link.written += (out.len() - before) as u64;
        }
    }

    fn last_message(&self) -> LastMessage {
        self.last
    }

    fn keepalive(&mut self, out: &mut Vec<u8>) -> bool {
        if self.parked {
            return false;
        }
        let before = out.len();
        self.remote.ping(out);
        self.link.borrow_mut().written += (out.len() - before) as u64;
        true
    }

    fn idle_timeout(&self) -> Option<Duration> {
        if self.parked {
            // Silent by design: zero turns the timeout off.
            return Some(Duration::ZERO);
        }
        // A backstop: the bridge manager ends a silent remote's
        // connection first, saying why (`watch.rs`).
        let cfg = &self.link.borrow().cfg;
        Some((cfg.keepalive * 3).max(super::watch::handshake_time(cfg) * 2))
    }
}
