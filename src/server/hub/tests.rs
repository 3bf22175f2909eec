//! Unit tests of the hub's parts (`fanout`, this module's bookkeeping,
//! `parked`, `logging`) on a real hub: connections over Unix socket pairs,
//! their peers' ends read back by the test, no reactor. What only a whole
//! server shows is in the socket tests under `tests/`.

use std::io::{ErrorKind, Read};
use std::time::Instant;

use mio::net::UnixStream;
use mio::Poll;

use super::Hub;
use crate::server::conn::Conn;
use crate::server::settings::Settings;
use crate::server::socket::{PeerAddr, Socket};
use crate::transport::tcp::TcpCodec;
use crate::transport::{SharedEncoding, Step, Transport};

/// A hub with default settings; the poll must outlive it.
pub(super) fn hub() -> (Hub, Poll) {
    let poll = Poll::new().unwrap();
    let hub = Hub::new(Settings::default(), poll.registry().try_clone().unwrap());
    (hub, poll)
}

/// Adds a connection speaking `transport`; returns its key and the peer's
/// end of its socket.
pub(super) fn connect(hub: &mut Hub, transport: Box<dyn Transport>) -> (usize, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let peer = PeerAddr::Unix {
        path: "/test".into(),
        n: 0,
    };
    let key = hub
        .insert(|gen| Conn::new(Socket::Unix(ours), transport, peer, gen, Instant::now()))
        .unwrap();
    (key, theirs)
}

/// A ducq TCP connection.
pub(super) fn tcp(hub: &mut Hub) -> (usize, UnixStream) {
    connect(hub, Box::new(TcpCodec::new(1 << 20)))
}

/// Everything the peer can read now.
pub(super) fn read_now(peer: &mut UnixStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        match peer.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return got,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// A ducq TCP frame of `msg`.
pub(super) fn frame(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    crate::transport::tcp::encode_header(msg.len(), &mut out);
    out.extend_from_slice(msg);
    out
}

/// A codec whose encoding is `tag` then the message, shared as `enc`.
struct Tagged {
    tag: u8,
    enc: SharedEncoding,
}

impl Transport for Tagged {
    fn name(&self) -> &str {
        "TAG"
    }
    fn decode<'a>(&mut self, _input: &'a mut [u8], _out: &mut Vec<u8>) -> Step<'a> {
        Step::need_more()
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        out.push(self.tag);
        out.extend_from_slice(msg);
    }
    fn shared_encoding(&self) -> Option<SharedEncoding> {
        Some(self.enc)
    }
}

pub(super) fn tagged(hub: &mut Hub, tag: u8, enc: SharedEncoding) -> (usize, UnixStream) {
    connect(hub, Box::new(Tagged { tag, enc }))
}

// ---- fanout.rs ----

#[test]
fn fan_out_counts_publications_and_deliveries() {
    let (mut hub, _poll) = hub();
    let (a, _pa) = tcp(&mut hub);
    let (b, _pb) = tcp(&mut hub);
    hub.subs.subscribe(a, b"r", true);
    hub.subs.subscribe(b, b"r", true);
    assert_eq!(hub.fan_out(b"r", b"one"), 2);
    assert_eq!(
        (
            hub.metrics.publications,
            hub.metrics.deliveries,
            hub.metrics.messages_out
        ),
        (1, 2, 2)
    );
    assert_eq!(hub.fan_out(b"r", b"two"), 2);
    assert_eq!(hub.fan_out(b"none", b"three"), 0);
    assert_eq!(
        (
            hub.metrics.publications,
            hub.metrics.deliveries,
            hub.metrics.messages_out
        ),
        (3, 4, 4)
    );
}

#[test]
fn each_shared_encoding_has_its_own_arena() {
    let (mut hub, _poll) = hub();
    let encs = [
        SharedEncoding::TcpFrame,
        SharedEncoding::WsServerFrame,
        SharedEncoding::SseEvent,
    ];
    let mut peers = Vec::new();
    for (i, enc) in encs.into_iter().enumerate() {
        // Two of each, so a second connection reuses the first's encoding.
        for _ in 0..2 {
            let (key, peer) = tagged(&mut hub, b'0' + i as u8, enc);
            hub.subs.subscribe(key, b"r", true);
            peers.push((i, peer));
        }
    }
    assert_eq!(hub.publish(b"r", b"msg"), 6);
    hub.flush_dirty();
    for (i, peer) in peers.iter_mut() {
        assert_eq!(read_now(peer), [&[b'0' + *i as u8][..], b"msg"].concat());
    }
}
