//! Client-side wire protocols of the brokers under test: ducq, MQTT 3.1.1 at
//! QoS 0, the NATS text protocol and Redis pub/sub (RESP2), each hand-encoded
//! in a few dozen lines. Sans-IO like the library's codecs: bytes in, events
//! out; `conn` owns the sockets. These are benchmark clients only — they
//! implement the subset a publisher and a subscriber need and treat anything
//! unexpected as a failure rather than trying to recover.

use std::borrow::Cow;
use std::net::SocketAddr;

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

/// Position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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
    fn numbers() {
        assert_eq!(parse_usize(b"0"), Some(0));
        assert_eq!(parse_usize(b"65536"), Some(65536));
        assert_eq!(parse_usize(b""), None);
        assert_eq!(parse_usize(b"1x"), None);
        assert_eq!(find(b"ab\r\ncd", b"\r\n"), Some(2));
    }
}
