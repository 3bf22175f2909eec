//! The one decode loop. [`Transport::decode`] decodes at most one message
//! per call and may return steps that consumed bytes but produced nothing
//! (a pong answered, a handshake line, skipped junk); every caller must
//! call it again after those, stop when a step consumes nothing, and drop
//! exactly the bytes consumed. [`Decoder`] keeps that contract in one place
//! for the reactor, the blocking client, the tools, the tests and the
//! benchmarks.
//!
//! It must not allocate, copy a message or own a buffer: it walks a buffer
//! the caller owns and hands out what the codec produced, borrowed from it.
//! Like the codecs, it never touches a socket.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use super::{Decoded, Transport};

/// What the decode loop hands its caller.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// One complete ducq message.
    Message(Cow<'a, [u8]>),
    /// The stream is over: write what the codec appended to `out`, then
    /// close. Nothing after it is decoded.
    Close,
}

/// A cursor over one input buffer: call [`Decoder::next`] until it returns
/// `None`, then drop the first [`Decoder::consumed`] bytes of the buffer.
///
/// ```
/// use ducq::transport::tcp::TcpCodec;
/// use ducq::transport::{Decoder, Frame};
///
/// let mut codec = TcpCodec::new(1024);
/// let mut input = b"5\nhello3\nab".to_vec();
/// let (mut out, mut messages) = (Vec::new(), Vec::new());
/// let mut dec = Decoder::new();
/// while let Some(frame) = dec.next(&mut codec, &mut input, &mut out) {
///     if let Frame::Message(m) = frame {
///         messages.push(m.into_owned());
///     }
/// }
/// input.drain(..dec.consumed());
/// assert_eq!(messages, [b"hello".to_vec()]);
/// assert_eq!(input, b"3\nab");
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    pos: usize,
    closed: bool,
}

impl Decoder {
    /// A cursor at the start of a buffer.
    pub const fn new() -> Decoder {
        Decoder {
            pos: 0,
            closed: false,
        }
    }

    /// Bytes at the front of the buffer that are finished with (including
    /// those of a close).
    pub fn consumed(&self) -> usize {
        self.pos
    }

    /// Whether the codec closed the stream.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Decodes from where the last call stopped until the codec produces a
    /// message or a close, or needs more input (`None`). `input` must be the
    /// same buffer, unchanged before the cursor, on every call. A codec that
    /// claims more bytes than it was given is held to the end of the buffer.
    // Inlined into each caller's loop: this is the reactor's hot path.
    #[inline]
    pub fn next<'a, T: Transport + ?Sized>(
        &mut self,
        codec: &mut T,
        input: &'a mut [u8],
        out: &mut Vec<u8>,
    ) -> Option<Frame<'a>> {
        if self.closed {
            return None;
        }
        // A step that produced nothing holds no borrow, but the borrow
        // checker cannot see that when another step's message is returned:
        // a message borrowed from the input is noted as a range instead,
        // and the input borrowed once more at the end.
        let (start, len) = loop {
            let rest = input.get_mut(self.pos..)?;
            let (base, avail) = (rest.as_ptr() as usize, rest.len());
            let step = codec.decode(rest, out);
            let at = self.pos;
            let consumed = step.consumed.min(avail);
            self.pos += consumed;
            match step.decoded {
                Decoded::Nothing if consumed == 0 => return None,
                Decoded::Nothing => {}
                Decoded::Close => {
                    self.closed = true;
                    return Some(Frame::Close);
                }
                Decoded::Message(Cow::Owned(m)) => return Some(Frame::Message(Cow::Owned(m))),
                Decoded::Message(Cow::Borrowed(m)) => {
                    match (m.as_ptr() as usize).checked_sub(base) {
                        Some(off) if off + m.len() <= avail => break (at + off, m.len()),
                        // Not from the input (a constant): no codec does
                        // this, but it stays correct if one does.
                        _ => return Some(Frame::Message(Cow::Owned(m.to_vec()))),
                    }
                }
            }
        };
        let input: &'a [u8] = input;
        let m = input.get(start..start + len)?;
        Some(Frame::Message(Cow::Borrowed(m)))
    }
}

/// What [`decode_all`] did with a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Bytes at the front of the buffer that are finished with.
    pub consumed: usize,
    /// Whether the codec closed the stream.
    pub closed: bool,
}

/// Decodes every complete message in `input`, handing each to `on_message`
/// with the codec (to encode an answer). Stops at a close or when more
/// input is needed; the caller drops the first `consumed` bytes.
pub fn decode_all<T: Transport + ?Sized>(
    codec: &mut T,
    input: &mut [u8],
    out: &mut Vec<u8>,
    mut on_message: impl FnMut(&mut T, Cow<'_, [u8]>, &mut Vec<u8>),
) -> Drained {
    let mut dec = Decoder::new();
    while let Some(Frame::Message(m)) = dec.next(codec, input, out) {
        on_message(codec, m, out);
    }
    Drained {
        consumed: dec.consumed(),
        closed: dec.closed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Step;

    /// A codec scripted step by step, to pin the loop's contract.
    struct Scripted(Vec<(usize, Option<&'static [u8]>, bool)>);

    impl Transport for Scripted {
        fn name(&self) -> &str {
            "SCRIPT"
        }
        fn decode<'a>(&mut self, input: &'a mut [u8], _out: &mut Vec<u8>) -> Step<'a> {
            if self.0.is_empty() {
                return Step::need_more();
            }
            let (consumed, msg, close) = self.0.remove(0);
            let decoded = match (msg, close) {
                (_, true) => Decoded::Close,
                (Some(b"in"), _) => Decoded::Message(Cow::Borrowed(&input[1..consumed])),
                (Some(m), _) => Decoded::Message(Cow::Borrowed(m)),
                (None, _) => Decoded::Nothing,
            };
            Step { consumed, decoded }
        }
        fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
            out.extend_from_slice(msg);
        }
    }

    #[test]
    fn skips_empty_steps_and_stops_on_need_more() {
        let mut codec = Scripted(vec![
            (2, None, false),
            (4, Some(b"in"), false),
            (0, None, false),
        ]);
        let mut input = b"..xabcyy".to_vec();
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        // The message is borrowed from the input, after the skipped bytes.
        let first = dec.next(&mut codec, &mut input, &mut out);
        assert_eq!(first, Some(Frame::Message(Cow::Borrowed(&b"abc"[..]))));
        assert_eq!(dec.next(&mut codec, &mut input, &mut out), None);
        assert_eq!(dec.consumed(), 6);
        assert!(!dec.closed());
    }

    #[test]
    fn a_message_from_elsewhere_is_copied() {
        let mut codec = Scripted(vec![(1, Some(b"const"), false)]);
        let mut input = b"x".to_vec();
        let mut dec = Decoder::new();
        let m = dec.next(&mut codec, &mut input, &mut Vec::new());
        assert_eq!(m, Some(Frame::Message(Cow::Owned(b"const".to_vec()))));
    }

    #[test]
    fn a_message_in_the_input_is_lent_not_copied() {
        // One message in the middle, one that ends exactly at the end.
        // (`Cow`'s `==` compares only the bytes: the variant and the
        // address are checked.)
        let mut codec = Scripted(vec![(4, Some(b"in"), false), (3, Some(b"in"), false)]);
        let mut input = b"xabcyde".to_vec();
        let (first_at, last_at) = (input.as_ptr() as usize + 1, input.as_ptr() as usize + 5);
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        let first = dec.next(&mut codec, &mut input, &mut out);
        assert!(
            matches!(&first, Some(Frame::Message(Cow::Borrowed(m)))
            if m.as_ptr() as usize == first_at && *m == b"abc"),
            "{first:?}"
        );
        let last = dec.next(&mut codec, &mut input, &mut out);
        assert!(
            matches!(&last, Some(Frame::Message(Cow::Borrowed(m)))
            if m.as_ptr() as usize == last_at && *m == b"de"),
            "{last:?}"
        );
        assert_eq!(dec.consumed(), 7);
    }

    #[test]
    fn a_message_just_past_the_input_is_copied() {
        // The codec answers with bytes that lie right after the input in
        // memory: not the input's, so they are copied, never lent as a
        // range of the input (which would run past its end). One byte
        // long too: its offset times its length fits the input, its end
        // does not.
        for tail in [&b"P"[..], b"PAST"] {
            let whole = Box::leak([b"input", tail].concat().into_boxed_slice());
            let (input, past) = whole.split_at_mut(5);
            let past: &'static [u8] = past;
            let mut codec = Scripted(vec![(5, Some(past), false)]);
            let mut dec = Decoder::new();
            let got = dec.next(&mut codec, input, &mut Vec::new());
            assert!(
                matches!(&got, Some(Frame::Message(Cow::Owned(m))) if m == tail),
                "{got:?}"
            );
            assert_eq!(dec.consumed(), 5);
        }
    }

    #[test]
    fn close_is_final_and_counts_its_bytes() {
        let mut codec = Scripted(vec![(3, None, true), (1, Some(b"in"), false)]);
        let mut input = b"abcd".to_vec();
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        assert_eq!(
            dec.next(&mut codec, &mut input, &mut out),
            Some(Frame::Close)
        );
        assert_eq!(dec.next(&mut codec, &mut input, &mut out), None);
        assert_eq!((dec.consumed(), dec.closed()), (3, true));
    }

    #[test]
    fn overclaiming_codec_is_held_to_the_buffer() {
        let mut codec = Scripted(vec![(10, None, false), (0, None, false)]);
        let mut input = b"abc".to_vec();
        let drained = decode_all(&mut codec, &mut input, &mut Vec::new(), |_, _, _| {});
        assert_eq!(
            drained,
            Drained {
                consumed: 3,
                closed: false
            }
        );
    }

    #[test]
    fn decode_all_hands_the_codec_to_the_callback() {
        let mut codec = Scripted(vec![(3, Some(b"in"), false), (2, Some(b"in"), false)]);
        let mut input = b"xabyc".to_vec();
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let drained = decode_all(&mut codec, &mut input, &mut out, |c, m, out| {
            c.encode(&m, out);
            seen.push(m.into_owned());
        });
        assert_eq!(seen, [b"ab".to_vec(), b"c".to_vec()]);
        assert_eq!(out, b"abc");
        assert_eq!(drained.consumed, 5);
    }
}
