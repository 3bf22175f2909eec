//! Tests of adopted descriptors on a reactor driven turn by turn: each
//! protocol's codec and limits, the connection limit, a descriptor that
//! is not one, the opening bytes; and the two codecs of this module on
//! their own.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::rc::Rc;

use super::*;
use crate::server::test_codecs::{check_forwarding, Distinct};
use crate::server::test_server::{answer, logged_reactor};
use crate::transport::{Decoded, SharedEncoding};

const HANDSHAKE: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A bare reactor's answer to `ping` (it has no commands).
const UNKNOWN: &[u8] = b"NACK *\n17\ncommand unknown";

/// A connected pair: the client's end and the accepted end.
fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (accepted, _) = l.accept().unwrap();
    (client, accepted)
}

fn frame(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    crate::transport::tcp::encode_frame(msg, &mut out);
    out
}

/// A masked client text frame.
fn ws_frame(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

#[test]
fn an_adopted_descriptor_is_a_connection_like_an_accepted_one() {
    let (mut r, lines) = logged_reactor(Settings::default());
    let (mut client, accepted) = pair();
    let peer = client.local_addr().unwrap();
    let id = adopt(r.hub_mut(), accepted.into_raw_fd(), Protocol::Tcp).unwrap();
    let key = r.hub().resolve(id).unwrap();
    assert_eq!(r.hub().client_id(key).unwrap(), format!("TCP:{peer}"));
    assert_eq!(
        *lines.borrow(),
        [format!("info,accept,TCP:{peer},connected")]
    );
    client.write_all(&frame(b"ping")).unwrap();
    let want = frame(UNKNOWN);
    assert_eq!(answer(&mut r, &mut client, want.len()), want);
}

#[test]
fn each_protocol_gets_its_codec_with_the_servers_limits() {
    let settings = Settings {
        max_message: 100,
        ..Settings::default()
    };
    let (mut r, _lines) = logged_reactor(settings);
    // WebSocket starting with the handshake, and one already upgraded.
    let (mut c, a) = pair();
    adopt(r.hub_mut(), a.into_raw_fd(), Protocol::Ws).unwrap();
    c.write_all(HANDSHAKE).unwrap();
    let head = answer(&mut r, &mut c, 12);
    assert_eq!(&head[..12], b"HTTP/1.1 101");
    let (mut c, a) = pair();
    adopt(r.hub_mut(), a.into_raw_fd(), Protocol::WsUpgraded).unwrap();
    c.write_all(&ws_frame(b"ping")).unwrap();
    let mut want = vec![0x81, UNKNOWN.len() as u8];
    want.extend_from_slice(UNKNOWN);
    assert_eq!(answer(&mut r, &mut c, want.len()), want);
    // A frame of 101 bytes is over the largest message.
    c.write_all(&ws_frame(&[b'x'; 101])).unwrap();
    let close = answer(&mut r, &mut c, usize::MAX);
    assert_eq!(close[..4], [0x88, 17, 0x03, 0xf1]);
    assert_eq!(&close[4..], b"message too big");
    // HTTP: a body over the largest message is refused from its head.
    let (mut c, a) = pair();
    adopt(r.hub_mut(), a.into_raw_fd(), Protocol::Http).unwrap();
    c.write_all(b"POST /pub/a HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
        .unwrap();
    let got = answer(&mut r, &mut c, 12);
    assert_eq!(&got[..12], b"HTTP/1.1 413");
    // And its WebSockets' messages too.
    let (mut c, a) = pair();
    adopt(r.hub_mut(), a.into_raw_fd(), Protocol::Http).unwrap();
    c.write_all(HANDSHAKE).unwrap();
    let head = answer(&mut r, &mut c, 12);
    assert_eq!(&head[..12], b"HTTP/1.1 101");
    c.write_all(&ws_frame(&[b'x'; 101])).unwrap();
    let close = answer(&mut r, &mut c, usize::MAX);
    assert_eq!(&close[4..], b"message too big");
}

#[test]
fn at_the_connection_limit_the_descriptor_stays_the_callers() {
    let settings = Settings {
        max_connections: 1,
        ..Settings::default()
    };
    let (mut r, lines) = logged_reactor(settings);
    let (_c1, a1) = pair();
    adopt(r.hub_mut(), a1.into_raw_fd(), Protocol::Tcp).unwrap();
    let (mut c2, a2) = pair();
    let refused = adopt(r.hub_mut(), a2.as_raw_fd(), Protocol::Tcp);
    assert_eq!(refused, Err(State::EMax));
    assert_eq!(r.hub().len(), 1);
    assert_eq!(
        lines.borrow().last().unwrap(),
        "warning,accept,server,refused an added client: connection limit reached"
    );
    // Still open, still the caller's: what it writes arrives.
    (&a2).write_all(b"yours").unwrap();
    assert_eq!(answer(&mut r, &mut c2, 5), b"yours");
}

#[test]
fn a_descriptor_that_is_none_is_refused() {
    let (mut r, _lines) = logged_reactor(Settings::default());
    assert_eq!(
        adopt(r.hub_mut(), -1, Protocol::Tcp),
        Err(State::ECommLayer)
    );
    assert_eq!(r.hub().len(), 0);
}

#[test]
fn a_codecs_opening_bytes_go_out_at_once() {
    let (mut r, _lines) = logged_reactor(Settings::default());
    let (mut c, a) = pair();
    let inner = Distinct::new(&Rc::new(Cell::new(true)));
    let peer = "192.0.2.7:4000".parse().unwrap();
    let named = Box::new(Named::new("LINE", inner));
    let id = adopt_with(r.hub_mut(), a.into_raw_fd(), named, Some(peer)).unwrap();
    let key = r.hub().resolve(id).unwrap();
    assert_eq!(r.hub().client_id(key).unwrap(), "LINE:192.0.2.7:4000");
    assert_eq!(answer(&mut r, &mut c, 5), b"open;");
}

#[test]
fn ws_either_answers_a_handshake_or_reads_frames_at_once() {
    // Nothing heard yet: open, nothing to share, no frame length known.
    let mut e = WsEither { max: 100, ws: None };
    assert_eq!(e.name(), "WS");
    assert!(e.is_open());
    assert!(e.shared_encoding().is_none());
    assert!(!e.close_after_flush());
    // A `G`: the opening handshake, answered; closed until it is whole.
    let mut partial = b"GE".to_vec();
    let mut out = Vec::new();
    let step = e.decode(&mut partial, &mut out);
    assert_eq!((step.consumed, step.decoded), (0, Decoded::Nothing));
    assert!(!e.is_open());
    let mut input = HANDSHAKE.to_vec();
    let step = e.decode(&mut input, &mut out);
    assert_eq!(step.consumed, HANDSHAKE.len());
    assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(e.is_open());
    assert_eq!(e.shared_encoding(), Some(SharedEncoding::WsServerFrame));
    out.clear();
    e.encode(b"hi", &mut out);
    assert_eq!(out, b"\x81\x02hi");
    out.clear();
    assert!(e.keepalive(&mut out));
    assert_eq!(out, b"\x89\x04ping");
    // Anything else: frames from the first byte.
    let mut e = WsEither { max: 100, ws: None };
    let mut input = ws_frame(b"abc");
    let step = e.decode(&mut input, &mut out);
    assert_eq!(step.consumed, 9);
    assert_eq!(step.decoded, Decoded::Message(Cow::Borrowed(&b"abc"[..])));
    // Nothing heard, something to say: a frame.
    let mut e = WsEither { max: 100, ws: None };
    out.clear();
    e.encode(b"hi", &mut out);
    assert_eq!(out, b"\x81\x02hi");
    let mut e = WsEither { max: 100, ws: None };
    out.clear();
    assert!(e.keepalive(&mut out));
    assert_eq!(out, b"\x89\x04ping");
    // An empty input decides nothing.
    let mut e = WsEither { max: 100, ws: None };
    let step = e.decode(&mut [], &mut out);
    assert_eq!((step.consumed, step.decoded), (0, Decoded::Nothing));
    assert!(e.ws.is_none());
}

#[test]
fn named_is_its_inner_codec_under_another_name() {
    let on = Rc::new(Cell::new(true));
    let mut c = Named::new("LINE", Distinct::new(&on));
    assert_eq!(c.name(), "LINE");
    check_forwarding(&mut c, &on);
    for flag in [true, false] {
        on.set(flag);
        let shared = flag.then_some(SharedEncoding::SseEvent);
        assert_eq!(c.shared_encoding(), shared);
    }
}
