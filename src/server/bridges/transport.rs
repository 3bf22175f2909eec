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
/// `BridgeConfig::finish`); with `gate`, only once the codec opens it
/// (a server that greets in plain text first).
pub(super) fn tls_layer(
    cfg: &BridgeConfig,
    addr: std::net::SocketAddr,
    now: std::time::Instant,
    gate: Option<Rc<std::cell::Cell<bool>>>,
) -> std::io::Result<Option<Box<TlsLayer>>> {
    if !cfg.tls {
        return Ok(None);
    }
    let Some(client) = &cfg.tls_client else {
        return Err(std::io::Error::other("TLS settings not loaded"));
    };
    let name = cfg.tls_server_name(addr);
    let config = std::sync::Arc::clone(&client.config);
    let layer = match gate {
        Some(gate) => TlsLayer::client_after_greeting(config, &name, now, gate),
        None => TlsLayer::client(config, &name, now),
    };
    layer
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

    /// Only publications cross a bridge: `to` and streams stay here.
    fn reads_ducq_messages(&self) -> bool {
        false
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::proto::message::nack;
    use crate::proto::State;
    use crate::server::bridges::config::Kind;

    /// A remote whose answers the test scripts.
    #[derive(Default)]
    struct Fake {
        ready: bool,
        /// What `decode` returns, in turn (`Ok((0, None))` when empty).
        decoded: VecDeque<Result<(usize, Option<Inbound>), String>>,
        /// What `send` answers, in turn (`Unconfirmed` when empty).
        answers: VecDeque<Sent>,
        handled: usize,
    }

    impl Remote for Fake {
        fn open(&mut self, _link: &mut Link, out: &mut Vec<u8>) {
            out.extend_from_slice(b"HELLO");
        }
        fn decode(
            &mut self,
            _link: &mut Link,
            _input: &mut [u8],
            out: &mut Vec<u8>,
        ) -> Result<(usize, Option<Inbound>), String> {
            out.extend_from_slice(b"ans");
            self.decoded.pop_front().unwrap_or(Ok((0, None)))
        }
        fn ready(&self) -> bool {
            self.ready
        }
        fn outgoing(
            &mut self,
            link: &mut Link,
            route: &[u8],
            payload: &[u8],
            _seq: u64,
        ) -> Option<Outgoing> {
            link.mapped((route != b"o/none").then(|| route.to_vec()), payload)
        }
        fn send(&mut self, _link: &mut Link, msg: &mut Outgoing, out: &mut Vec<u8>) -> Sent {
            let sent = self.answers.pop_front().unwrap_or(Sent::Unconfirmed);
            if matches!(sent, Sent::Unconfirmed | Sent::Confirmed) {
                out.extend_from_slice(&msg.payload);
            }
            sent
        }
        fn handled(&mut self, _link: &mut Link, out: &mut Vec<u8>) {
            self.handled += 1;
            out.push(b'H');
        }
        fn ping(&mut self, out: &mut Vec<u8>) {
            out.push(b'P');
        }
    }

    fn setup(parked: bool) -> (BridgeTransport<Fake>, Rc<RefCell<Link>>) {
        let mut cfg = BridgeConfig::new(Kind::Ducq, "127.0.0.1:1".parse().unwrap());
        cfg.name = "b".into();
        cfg.mapping.out = vec!["o/#".into()];
        let link = Rc::new(RefCell::new(Link::new(Rc::new(cfg))));
        (
            BridgeTransport::new(Fake::default(), Rc::clone(&link), parked),
            link,
        )
    }

    fn decode(
        t: &mut BridgeTransport<Fake>,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> (usize, Decoded<'static>) {
        let mut buf = input.to_vec();
        let step = t.decode(&mut buf, out);
        let decoded = match step.decoded {
            Decoded::Nothing => Decoded::Nothing,
            Decoded::Close => Decoded::Close,
            Decoded::Message(m) => Decoded::Message(Cow::Owned(m.into_owned())),
        };
        (step.consumed, decoded)
    }

    #[test]
    fn what_waits_goes_when_the_handshake_ends_and_every_byte_is_counted() {
        let (mut t, link) = setup(false);
        assert_eq!(t.name(), "bridge-b");
        let mut out = b"xx".to_vec();
        t.open(&mut out);
        assert_eq!(
            (out.as_slice(), link.borrow().written),
            (&b"xxHELLO"[..], 5)
        );
        // Before the handshake: publications wait; only forwarded `pub`s
        // and `publish`es count.
        out.clear();
        for msg in [
            "pub o/x\n1",
            "pub o/none\nz",
            "sub o/x\nadd",
            "pub p/x\nz",
            "publish o/y\n2",
        ] {
            t.encode_publication(msg.as_bytes(), 1, &mut out);
        }
        assert!(out.is_empty() && !t.is_open());
        assert_eq!(link.borrow().waiting.len(), 2);
        assert_eq!(link.borrow().counters.unmappable, 1);
        // A decode before the handshake ends sends none of it.
        assert_eq!(decode(&mut t, b"", &mut out), (0, Decoded::Nothing));
        assert_eq!(out, b"ans");
        assert_eq!(link.borrow().waiting.len(), 2);
        out.clear();
        // The handshake ends: opened once, what waits sent in order.
        t.remote.ready = true;
        t.remote.decoded.push_back(Ok((3, None)));
        assert_eq!(decode(&mut t, b"abc", &mut out), (3, Decoded::Nothing));
        assert_eq!(out, b"ans12");
        {
            let l = link.borrow();
            assert!(l.open && t.is_open());
            assert_eq!(
                (l.counters.connects, l.counters.sent, l.in_flight()),
                (1, 2, 2)
            );
            // The drained bytes count twice, by `write` and again by
            // `decode`: `written` is only watched for changing
            // (`watch.rs`), so the excess is harmless.
            assert_eq!(l.written, 5 + 3 + 5 + 2);
        }
        decode(&mut t, b"", &mut out);
        assert_eq!(link.borrow().counters.connects, 1);
        // Open and nothing waiting: written at once.
        out.clear();
        t.encode_publication(b"pub o/z\n3", 2, &mut out);
        assert_eq!(out, b"3");
        // The remote cannot take one: it waits, and so does the next, in
        // order, until a decode finds the remote taking them again.
        t.remote.answers.push_back(Sent::Wait);
        t.encode_publication(b"pub o/w\n4", 3, &mut out);
        t.encode_publication(b"pub o/v\n5", 4, &mut out);
        assert_eq!(out, b"3");
        assert_eq!(link.borrow().waiting.len(), 2);
        out.clear();
        decode(&mut t, b"", &mut out);
        assert_eq!(out, b"ans45");
        assert!(link.borrow().waiting.is_empty());
        // Confirmed as written, or skipped: neither is in flight.
        t.remote.answers.extend([Sent::Confirmed, Sent::Skipped]);
        out.clear();
        t.encode_publication(b"pub o/a\n6", 5, &mut out);
        t.encode_publication(b"pub o/b\n7", 6, &mut out);
        assert_eq!(out, b"6");
        let l = link.borrow();
        assert_eq!(
            (l.counters.sent, l.counters.confirmed, l.in_flight()),
            (6, 1, 5)
        );
        // The decodes' "ans", the drained "45" twice, "3" and "6".
        assert_eq!(l.written, 15 + 3 + 1 + (5 + 2) + 1);
    }

    #[test]
    fn an_inbound_message_is_injected_and_its_answers_kept_from_the_remote() {
        let (mut t, link) = setup(false);
        t.remote.ready = true;
        let inbound = Inbound {
            message: b"pub l/x\nv".to_vec(),
            last: LastMessage::Skip,
        };
        t.remote.decoded.push_back(Ok((4, Some(inbound))));
        let mut out = Vec::new();
        let got = decode(&mut t, b"abcd", &mut out);
        assert_eq!(
            got,
            (4, Decoded::Message(Cow::Owned(b"pub l/x\nv".to_vec())))
        );
        assert_eq!(link.borrow().counters.received, 1);
        assert_eq!(t.last_message(), LastMessage::Skip);
        // Answers to it: only a refusal is counted; its publication is
        // not sent back.
        t.encode(b"ACK *\n", &mut out);
        t.encode(&nack(State::EAccess), &mut out);
        t.encode_publication(b"pub o/x\nv", 1, &mut out);
        // (What `out` held before is not the remote's to count.)
        out = b"zz".to_vec();
        t.after_dispatch(&mut out);
        assert_eq!(out, b"zzH");
        {
            let l = link.borrow();
            assert_eq!(
                (l.counters.refused, l.counters.sent, l.written),
                (1, 0, 3 + 1)
            );
        }
        // Dispatch over: nothing more is its answer.
        t.encode(&nack(State::EAccess), &mut out);
        t.after_dispatch(&mut out);
        assert_eq!((t.remote.handled, link.borrow().counters.refused), (1, 1));
        // An error ends the connection, taking the whole input.
        t.remote.decoded.push_back(Err("bad".into()));
        assert_eq!(decode(&mut t, b"1234567", &mut out), (7, Decoded::Close));
        assert_eq!(link.borrow().error.as_deref(), Some("bad"));
        // Keep-alive probes, and the backstop: four keep-alives.
        out = b"zz".to_vec();
        let written = link.borrow().written;
        assert!(t.keepalive(&mut out));
        assert_eq!(
            (out.as_slice(), link.borrow().written),
            (&b"zzP"[..], written + 1)
        );
        assert_eq!(t.idle_timeout(), Some(Duration::from_secs(120)));
    }

    #[test]
    fn a_parked_stand_in_never_opens_pings_or_times_out() {
        let (mut t, link) = setup(true);
        let mut out = Vec::new();
        t.open(&mut out);
        assert!(!t.keepalive(&mut out));
        assert!(out.is_empty());
        assert_eq!(link.borrow().written, 0);
        assert_eq!(t.idle_timeout(), Some(Duration::ZERO));
    }

    #[test]
    fn the_tls_layer_only_for_tls_bridges_with_their_settings_loaded() {
        let addr = "127.0.0.1:8883".parse().unwrap();
        let now = std::time::Instant::now();
        let mut cfg = BridgeConfig::new(Kind::Mqtt, addr);
        assert!(tls_layer(&cfg, addr, now, None).unwrap().is_none());
        cfg.tls = true;
        let err = tls_layer(&cfg, addr, now, None).err().unwrap();
        assert_eq!(err.to_string(), "TLS settings not loaded");
        let dir = std::env::temp_dir().join(format!("ducq-bridge-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["x".to_string()]).unwrap();
        let path = dir.join("ca.pem");
        std::fs::write(&path, ca.cert.pem()).unwrap();
        cfg.ca = Some(path.to_string_lossy().into_owned());
        cfg.mapping.out.push("a".into());
        cfg.finish().unwrap();
        assert!(tls_layer(&cfg, addr, now, None).unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
