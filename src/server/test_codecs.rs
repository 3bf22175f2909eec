//! Codecs that stand in for real ones in the crate's unit tests: one whose
//! every answer is distinct, for the codecs that wrap another, and one
//! that leaves last words. Compiled for tests only; nothing here may be
//! used by the server itself.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

use crate::transport::{Decoded, LastMessage, SharedEncoding, Step, Transport};

/// A codec for tests of codecs that wrap another (`Named`, the bridges'
/// `PeerCodec`): each answer is distinct, the flags follow `on`, and
/// `closing` sets `closed`.
pub(crate) struct Distinct {
    pub(crate) on: Rc<Cell<bool>>,
    pub(crate) closed: Rc<Cell<bool>>,
}

impl Distinct {
    pub(crate) fn new(on: &Rc<Cell<bool>>) -> Distinct {
        Distinct {
            on: Rc::clone(on),
            closed: Rc::default(),
        }
    }
}

impl Transport for Distinct {
    fn name(&self) -> &str {
        "inner"
    }
    fn open(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"open;");
    }
    fn is_open(&self) -> bool {
        self.on.get()
    }
    /// Three bytes at a time, as a message.
    fn decode<'a>(&mut self, input: &'a mut [u8], _out: &mut Vec<u8>) -> Step<'a> {
        let n = input.len().min(3);
        Step {
            consumed: n,
            decoded: Decoded::Message(Cow::Borrowed(&input[..n])),
        }
    }
    fn frame_len(&self, input: &[u8]) -> Option<usize> {
        Some(input.len() + 5)
    }
    fn after_dispatch(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"after;");
    }
    fn accepts_push(&self) -> bool {
        self.on.get()
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(b"enc:");
        out.extend_from_slice(msg);
    }
    fn shared_encoding(&self) -> Option<SharedEncoding> {
        self.on.get().then_some(SharedEncoding::SseEvent)
    }
    fn close_after_flush(&self) -> bool {
        self.on.get()
    }
    fn keepalive(&mut self, out: &mut Vec<u8>) -> bool {
        out.extend_from_slice(b"ka;");
        self.on.get()
    }
    fn idle_timeout(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(7))
    }
    fn last_message(&self) -> LastMessage {
        LastMessage::Forget
    }
    fn closing(&mut self) {
        self.closed.set(true);
    }
    fn last_words(&mut self) -> Option<Vec<u8>> {
        Some(b"bye".to_vec())
    }
}

/// Checks that `c` forwards to a `Distinct` whose flags follow `on`:
/// its opening, after-dispatch and encoded bytes, its flags both ways,
/// its frame length and what it decodes.
pub(crate) fn check_forwarding(c: &mut dyn Transport, on: &Cell<bool>) {
    let mut out = Vec::new();
    c.open(&mut out);
    c.after_dispatch(&mut out);
    c.encode(b"ACK", &mut out);
    assert_eq!(out, b"open;after;enc:ACK");
    for flag in [true, false] {
        on.set(flag);
        let mut ka = Vec::new();
        let got = (c.is_open(), c.close_after_flush(), c.keepalive(&mut ka));
        assert_eq!(got, (flag, flag, flag));
        assert_eq!(ka, b"ka;");
    }
    assert_eq!(c.frame_len(b"xy"), Some(7));
    let mut input = b"abcdef".to_vec();
    let step = c.decode(&mut input, &mut out);
    assert_eq!(step.consumed, 3);
    assert_eq!(step.decoded, Decoded::Message(Cow::Borrowed(&b"abc"[..])));
}

/// A codec with `last_words`: `tag` then the message, unshared.
pub(crate) struct Parting(pub(crate) Option<&'static [u8]>);

impl Transport for Parting {
    fn name(&self) -> &str {
        "PART"
    }
    fn decode<'a>(&mut self, _input: &'a mut [u8], _out: &mut Vec<u8>) -> Step<'a> {
        Step::need_more()
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(msg);
    }
    fn last_words(&mut self) -> Option<Vec<u8>> {
        self.0.map(<[u8]>::to_vec)
    }
    fn last_message(&self) -> LastMessage {
        LastMessage::Forget
    }
}
