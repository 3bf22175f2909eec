//! Reference models and drivers shared by the property tests and the fuzz
//! targets (which include this file by path), so both check the parsers
//! against the same oracles.
//!
//! Everything here is written for obviousness, not speed: a reference must be
//! simple enough to trust by reading. It must not call the code it checks to
//! compute an expected answer, and it does no I/O.

// Each includer uses a different subset of these helpers.
#![allow(dead_code)]

pub mod http;
pub mod ws;

use ducq::proto::{message::nack, Kind, State};
use ducq::transport::{tcp::TcpCodec, Decoded, Decoder, Frame, SharedEncoding, Step, Transport};

/// Route matching as the protocol defines it (PROTOCOL.md §7), by dynamic
/// programming: `done[j]` says whether the pattern read so far matches the
/// first `j` bytes of the route. `*` matches any byte sequence; every other
/// byte matches itself.
pub fn glob(pattern: &[u8], route: &[u8]) -> bool {
    let mut done = vec![false; route.len() + 1];
    done[0] = true;
    for &p in pattern {
        let mut next = vec![false; route.len() + 1];
        for j in 0..=route.len() {
            next[j] = if p == b'*' {
                // The star swallows nothing (done[j]) or one more byte.
                done[j] || (j > 0 && next[j - 1])
            } else {
                j > 0 && done[j - 1] && route[j - 1] == p
            };
        }
        done = next;
    }
    done[route.len()]
}

/// A message's (command, route, payload, whether a `\n` closed the route).
pub type Parts<'a> = (&'a [u8], &'a [u8], &'a [u8], bool);

/// A message split the way PROTOCOL.md §3 reads it, or `None` when the
/// protocol calls it invalid (empty, or a NUL in the route).
pub fn split_message(raw: &[u8]) -> Option<Parts<'_>> {
    if raw.is_empty() {
        return None;
    }
    let (head, payload, has_newline) = match raw.iter().position(|&b| b == b'\n') {
        Some(i) => (&raw[..i], &raw[i + 1..], true),
        None => (raw, &raw[raw.len()..], false),
    };
    let (command, route) = match head.iter().position(|&b| b == b' ') {
        Some(i) => (&head[..i], &head[i + 1..]),
        None => (head, &head[head.len()..]),
    };
    if route.contains(&0) {
        return None;
    }
    Some((command, route, payload, has_newline))
}

/// The kind a client gives a received message (PROTOCOL.md §4), without the
/// state a NACK carries: NACK is checked first since it is the only prefix
/// another could be confused with.
pub fn kind_by_prefix(msg: &[u8]) -> &'static str {
    for (prefix, name) in [
        (&b"NACK"[..], "nack"),
        (b"ACK", "ack"),
        (b"PARTS", "parts"),
        (b"END", "end"),
        (b"PING", "ping"),
        (b"PONG", "pong"),
    ] {
        if msg.starts_with(prefix) {
            return name;
        }
    }
    "data"
}

/// The same naming for a [`Kind`], to compare with [`kind_by_prefix`].
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Nack(_) => "nack",
        Kind::Ack => "ack",
        Kind::Parts => "parts",
        Kind::End => "end",
        Kind::Ping => "ping",
        Kind::Pong => "pong",
        Kind::Data => "data",
    }
}

/// What a stream produced when fed through a decoder.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Messages delivered, in order.
    pub messages: Vec<Vec<u8>>,
    /// Bytes the decoder asked to send back.
    pub out: Vec<u8>,
    /// Whether the decoder closed the stream.
    pub closed: bool,
    /// Bytes left waiting in the input buffer at the end (0 once closed:
    /// what follows a close is never read).
    pub leftover: usize,
}

/// Feeds `chunks` through `codec` the way the reactor does: each chunk is
/// appended to an input buffer, then the shared [`Decoder`] runs until the
/// codec needs more or closes, and the consumed bytes are dropped.
///
/// Checks the contract of [`Transport::decode`] on every step: it never
/// claims more bytes than it was given, and a message always consumes bytes
/// (otherwise the reactor would loop forever).
pub fn feed<T: Transport + ?Sized>(codec: &mut T, chunks: &[&[u8]]) -> Fed {
    feed_replying(codec, chunks, |_| Vec::new())
}

/// [`feed`], with a broker behind the codec: each message is answered with
/// `replies(message)`, encoded by the codec, then `after_dispatch` runs, in
/// the reactor's order.
pub fn feed_replying<T: Transport + ?Sized>(
    codec: &mut T,
    chunks: &[&[u8]],
    replies: impl Fn(&[u8]) -> Vec<Vec<u8>>,
) -> Fed {
    let mut codec = Checked(codec);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = Fed::default();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut dec = Decoder::new();
        while let Some(frame) = dec.next(&mut codec, &mut buf, &mut fed.out) {
            let Frame::Message(m) = frame else {
                fed.closed = true;
                return fed;
            };
            let m = m.into_owned();
            for r in replies(&m) {
                codec.encode(&r, &mut fed.out);
            }
            codec.after_dispatch(&mut fed.out);
            fed.messages.push(m);
        }
        buf.drain(..dec.consumed());
    }
    fed.leftover = buf.len();
    fed
}

/// A codec that asserts the contract of every `decode` step it delegates.
struct Checked<'c, T: ?Sized>(&'c mut T);

impl<T: Transport + ?Sized> Transport for Checked<'_, T> {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn open(&mut self, out: &mut Vec<u8>) {
        self.0.open(out)
    }
    fn is_open(&self) -> bool {
        self.0.is_open()
    }
    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        let available = input.len();
        let step = self.0.decode(input, out);
        let consumed = step.consumed;
        assert!(consumed <= available, "consumed {consumed} of {available}");
        if let Decoded::Message(_) = step.decoded {
            assert!(consumed > 0, "a message that consumed nothing");
        }
        step
    }
    fn frame_len(&self, input: &[u8]) -> Option<usize> {
        self.0.frame_len(input)
    }
    fn after_dispatch(&mut self, out: &mut Vec<u8>) {
        self.0.after_dispatch(out)
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        self.0.encode(msg, out)
    }
    fn shared_encoding(&self) -> Option<SharedEncoding> {
        self.0.shared_encoding()
    }
    fn close_after_flush(&self) -> bool {
        self.0.close_after_flush()
    }
    fn keepalive(&mut self, out: &mut Vec<u8>) -> bool {
        self.0.keepalive(out)
    }
}

/// Cuts `stream` into chunks at the given offsets (out of range or unsorted
/// offsets are clamped, so any list of numbers is a valid split).
pub fn split_at<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        let end = cut.clamp(start, stream.len());
        chunks.push(&stream[start..end]);
        start = end;
    }
    chunks.push(&stream[start..]);
    chunks
}

/// Cuts `stream` into chunks whose sizes follow from one seed byte: the high
/// nibble bounds the chunk size (1 to 16 bytes), and a small xorshift
/// generator started from the seed picks each size. Seeds below 16 feed one
/// byte at a time, the harshest split.
pub fn split_by_seed(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let bound = u32::from(seed >> 4) + 1;
    // Odd, so never the xorshift's stuck state 0.
    let mut state = u32::from(seed).wrapping_mul(0x9e37_79b9) | 1;
    let mut chunks = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = (1 + state % bound) as usize;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// Whether `out` is a sequence of framed NACKs that the TCP codec may send on
/// its own (framing errors only: invalid, too big, closed).
pub fn only_framing_nacks(out: &[u8]) -> bool {
    let fed = feed(&mut TcpCodec::new(usize::MAX), &[out]);
    let allowed = [State::EMsgInv, State::EMsgSize, State::EConnClosed];
    !fed.closed
        && fed.leftover == 0
        && fed
            .messages
            .iter()
            .all(|m| allowed.iter().any(|&s| *m == nack(s)))
}
