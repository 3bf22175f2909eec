//! Client-side wire protocols of the brokers under test: ducq, MQTT 3.1.1 at
//! QoS 0, the NATS text protocol and Redis pub/sub (RESP2), each hand-encoded
//! in a few dozen lines. Sans-IO like the library's codecs: bytes in, events
//! out; `conn` owns the sockets. These are benchmark clients only — they
//! implement the subset a publisher and a subscriber need and treat anything
//! unexpected as a failure rather than trying to recover.

use std::borrow::Cow;
use std::net::SocketAddr;

use ::ducq::proto::message::memchr;

mod ducq;
mod mqtt;
mod nats;
mod resp;

/// Something a connection's decoder produced.
#[derive(Debug)]
pub enum Event<'a> {
    /// Bytes were consumed that mean nothing to the benchmark (INFO, +OK, a
    /// keep-alive already answered).
    Nothing,
    /// The session opened by [`Wire::hello`] is confirmed.
    Ready,
    /// A subscription is confirmed: from now on it receives every publication.
    Subscribed,
    /// The broker acknowledged one publication (ducq `ACK`, Redis `:n`).
    Acked,
    /// A delivered publication; the bytes are its payload.
    Message(Cow<'a, [u8]>),
}

/// The client side of one broker protocol, for one connection.
pub trait Wire: Send {
    /// Appends what opens a session. Returns whether the broker confirms it
    /// ([`Event::Ready`] follows); when not, the connection is usable at once.
    fn hello(&mut self, out: &mut Vec<u8>) -> bool;

    /// Appends a subscription to `topic`; [`Event::Subscribed`] follows once
    /// the broker has applied it.
    fn subscribe(&mut self, topic: &str, out: &mut Vec<u8>);

    /// Appends one publication.
    fn publish(&mut self, topic: &str, payload: &[u8], out: &mut Vec<u8>);

    /// Whether each publication is answered ([`Event::Acked`]); such answers
    /// must be drained and counted by the publisher.
    fn acks_publish(&self) -> bool;

    /// Decodes at most one item from the front of `input`: `Ok(None)` when
    /// more bytes are needed, else the bytes consumed and what they meant.
    /// Replies the protocol requires (pongs) are appended to `out`.
    fn decode<'a>(
        &mut self,
        input: &'a mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<(usize, Event<'a>)>, String>;
}

/// Which protocol an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ducq over length-framed TCP.
    DucqTcp,
    /// ducq over WebSocket (S6).
    DucqWs,
    /// MQTT 3.1.1, QoS 0 (mosquitto).
    Mqtt,
    /// The NATS text protocol (nats-server).
    Nats,
    /// Redis pub/sub over RESP2 (redis-server).
    Redis,
}

/// Where and how to reach a broker.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// The protocol spoken.
    pub kind: Kind,
    /// A loopback address.
    pub addr: SocketAddr,
}

/// A fresh codec for one connection to `ep`; `name` must be unique among
/// the live connections of a run (MQTT client ids). Fails for a protocol
/// the bench cannot speak, with the reason shown as "n/a" in the table.
pub fn new_wire(ep: &Endpoint, name: &str) -> Result<Box<dyn Wire>, String> {
    match ep.kind {
        Kind::DucqTcp => Ok(Box::new(ducq::Ducq::tcp())),
        // Any library transport plugs into the same ducq client.
        Kind::DucqWs => Ok(Box::new(ducq::Ducq::ws(&ep.addr.to_string()))),
        Kind::Mqtt => Ok(Box::new(mqtt::Mqtt::new(name))),
        Kind::Nats => Ok(Box::new(nats::Nats::new())),
        Kind::Redis => Ok(Box::new(resp::Resp::new())),
    }
}

/// Position of `needle` in `hay`: candidates for its first byte are found
/// eight bytes at a time with the library's `memchr`, as ducq's own
/// decoding does, so no protocol's subscriber pays for a byte loop that
/// another's does not.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut at = 0;
    loop {
        let p = at + memchr(first, hay.get(at..)?)?;
        if hay.get(p + 1..)?.starts_with(rest) {
            return Some(p);
        }
        at = p + 1;
    }
}

/// The bytes a protocol writes before a publication's payload, kept for
/// the last topic and payload length. A run publishes one size on one
/// topic, so every later publication is a copy of these bytes and the
/// payload. Every protocol's publisher has this shortcut (ducq's since
/// round 5, the others' since round 6): S1 compares the brokers, not how
/// much formatting the bench does for each.
#[derive(Debug, Default)]
pub(super) struct Prefix {
    kept: Option<(String, usize, Vec<u8>)>,
}

impl Prefix {
    /// The kept bytes, when they were made for `topic` and `len`.
    pub(super) fn get(&self, topic: &str, len: usize) -> Option<&[u8]> {
        match &self.kept {
            Some((t, n, bytes)) if *n == len && t == topic => Some(bytes),
            _ => None,
        }
    }

    /// Keeps `bytes` as what precedes a payload of `len` bytes on `topic`.
    pub(super) fn set(&mut self, topic: &str, len: usize, bytes: &[u8]) {
        self.kept = Some((topic.to_string(), len, bytes.to_vec()));
    }

    /// Forgets the kept bytes.
    pub(super) fn clear(&mut self) {
        self.kept = None;
    }
}

/// Parses an unsigned ASCII decimal number.
fn parse_usize(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + usize::from(b - b'0'))
    })
}

/// Borrows part of a decoded message, keeping it borrowed when it was.
fn sub_cow(c: Cow<'_, [u8]>, from: usize) -> Cow<'_, [u8]> {
    match c {
        Cow::Borrowed(b) => Cow::Borrowed(&b[from..]),
        Cow::Owned(v) => Cow::Owned(v[from..].to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` to `wire` and returns the events as strings.
    pub(super) fn events(wire: &mut dyn Wire, input: &[u8]) -> (Vec<String>, Vec<u8>, usize) {
        let mut buf = input.to_vec();
        let mut pos = 0;
        let mut out = Vec::new();
        let mut seen = Vec::new();
        while let Some((n, ev)) = wire.decode(&mut buf[pos..], &mut out).unwrap() {
            pos += n;
            seen.push(match ev {
                Event::Nothing => "nothing".to_string(),
                Event::Ready => "ready".to_string(),
                Event::Subscribed => "subscribed".to_string(),
                Event::Acked => "acked".to_string(),
                Event::Message(m) => format!("msg:{}", String::from_utf8_lossy(&m)),
            });
        }
        (seen, out, pos)
    }

    #[test]
    fn find_takes_the_first_whole_match() {
        assert_eq!(find(b"abc\r\n", b"\r\n"), Some(3));
        // A first byte without the rest is passed over, also in the word
        // the library's memchr reads eight bytes at a time.
        assert_eq!(find(b"a\rb\rc\r\nd\r\n", b"\r\n"), Some(5));
        assert_eq!(find(b"0123456789abcdef\rx\r\n", b"\r\n"), Some(18));
        assert_eq!(find(b"abc\r", b"\r\n"), None);
        assert_eq!(find(b"", b"\r\n"), None);
        assert_eq!(find(b"abc", b""), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_usize(b"0"), Some(0));
        assert_eq!(parse_usize(b"65536"), Some(65536));
        assert_eq!(parse_usize(b""), None);
        assert_eq!(parse_usize(b"1x"), None);
        assert_eq!(find(b"ab\r\ncd", b"\r\n"), Some(2));
    }
}
