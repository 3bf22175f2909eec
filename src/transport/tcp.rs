//! Length-framed TCP (PROTOCOL.md §2): `<ASCII decimal length> "\n" <body>`,
//! used in both directions. An incremental, sans-IO decoder that handles
//! split and coalesced frames, and an encoder that produces header and body
//! as one buffer so a server answers in a single write.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use super::{Decoded, SharedEncoding, Step, Transport};
use crate::proto::{message::nack, State, ACK};

/// `ACK` as a frame.
const FRAMED_ACK: &[u8] = b"3\nACK";

/// Longest header accepted, leading zeros included. A header that has not
/// ended by then is invalid.
const MAX_HEADER: usize = 64;

/// The TCP codec of one connection.
#[derive(Debug, Clone)]
pub struct TcpCodec {
    max_body: usize,
    /// Bytes of an oversized body still to be skipped.
    skip: u64,
    /// Whether an oversized body is answered with a NACK (a server's
    /// codec) or only skipped (a client's: the server would take a NACK
    /// for a command and answer it with one of its own).
    nack_oversize: bool,
}

impl TcpCodec {
    /// A server's codec: refuses bodies longer than `max_body` bytes with
    /// a NACK, skips them, and keeps the connection.
    pub fn new(max_body: usize) -> TcpCodec {
        TcpCodec {
            max_body,
            skip: 0,
            nack_oversize: true,
        }
    }

    /// A client's codec: skips bodies longer than `max_body` bytes without
    /// answering, and keeps the connection.
    pub fn client(max_body: usize) -> TcpCodec {
        TcpCodec {
            nack_oversize: false,
            ..TcpCodec::new(max_body)
        }
    }

    /// The framed form of a message body.
    pub fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 21);
        encode_frame(body, &mut out);
        out
    }
}

/// Appends `<len>\n<body>` to `out`.
pub fn encode_frame(body: &[u8], out: &mut Vec<u8>) {
    out.reserve(21 + body.len());
    encode_header(body.len(), out);
    out.extend_from_slice(body);
}

/// Appends the header of a frame whose body is `len` bytes (`<len>\n`), for
/// a writer that sends the body from a buffer of its own.
pub fn encode_header(len: usize, out: &mut Vec<u8>) {
    // Most frames are under a thousand bytes: their digits without the loop
    // (every delivery and reply of a small publication is framed here).
    let digit = |n: usize| b'0' + (n % 10) as u8;
    match len {
        0..=9 => return out.extend_from_slice(&[digit(len), b'\n']),
        10..=99 => return out.extend_from_slice(&[digit(len / 10), digit(len), b'\n']),
        100..=999 => {
            return out.extend_from_slice(&[digit(len / 100), digit(len / 10), digit(len), b'\n'])
        }
        _ => {}
    }
    let mut digits = [0u8; 20];
    let mut n = len;
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        start -= 1;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or(&[]));
    out.push(b'\n');
}

/// What a header says.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    Incomplete,
    Invalid,
    /// (header length including `\n`, body length); `None` when the number
    /// overflows 64 bits.
    Length(usize, Option<u64>),
}

fn parse_header(input: &[u8]) -> Header {
    // Headers of one to three digits (every frame under a thousand bytes:
    // replies, small publications) without the general loop; each frame
    // read, by the server and by every client, starts here.
    let d = |b: u8| u64::from(b - b'0');
    match *input {
        [a @ b'0'..=b'9', b'\n', ..] => return Header::Length(2, Some(d(a))),
        [a @ b'0'..=b'9', b @ b'0'..=b'9', b'\n', ..] => {
            return Header::Length(3, Some(d(a) * 10 + d(b)))
        }
        [a @ b'0'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', b'\n', ..] => {
            return Header::Length(4, Some(d(a) * 100 + d(b) * 10 + d(c)))
        }
        _ => {}
    }
    parse_header_digits(input)
}

/// The general header rule: digits, then a newline, within MAX_HEADER.
fn parse_header_digits(input: &[u8]) -> Header {
    let mut value: Option<u64> = Some(0);
    for (i, &b) in input.iter().enumerate().take(MAX_HEADER + 1) {
        match b {
            b'0'..=b'9' => {
                value = value
                    .and_then(|v| v.checked_mul(10))
                    .and_then(|v| v.checked_add(u64::from(b - b'0')));
            }
            b'\n' if i > 0 => return Header::Length(i + 1, value),
            _ => return Header::Invalid,
        }
    }
    if input.len() > MAX_HEADER {
        Header::Invalid
    } else {
        Header::Incomplete
    }
}

impl Transport for TcpCodec {
    fn name(&self) -> &str {
        "TCP"
    }

    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        if self.skip > 0 {
            let n = self.skip.min(input.len() as u64);
            self.skip -= n;
            return Step {
                consumed: n as usize,
                decoded: Decoded::Nothing,
            };
        }
        match parse_header(input) {
            Header::Incomplete => Step::need_more(),
            Header::Invalid => {
                encode_frame(&nack(State::EMsgInv), out);
                Step {
                    consumed: input.len(),
                    decoded: Decoded::Close,
                }
            }
            Header::Length(_, Some(0)) => {
                encode_frame(&nack(State::EConnClosed), out);
                Step {
                    consumed: input.len(),
                    decoded: Decoded::Close,
                }
            }
            Header::Length(h, len) => {
                let len = match len {
                    Some(len) if len <= self.max_body as u64 => len as usize,
                    // Too big (or beyond 64 bits): refuse, skip what we can
                    // of the body, keep the connection.
                    _ => {
                        if self.nack_oversize {
                            encode_frame(&nack(State::EMsgSize), out);
                        }
                        let body = len.unwrap_or(u64::MAX);
                        let here = ((input.len() - h) as u64).min(body);
                        self.skip = body - here;
                        return Step {
                            consumed: h + here as usize,
                            decoded: Decoded::Nothing,
                        };
                    }
                };
                match input.get(h..h + len) {
                    Some(body) => Step {
                        consumed: h + len,
                        decoded: Decoded::Message(Cow::Borrowed(body)),
                    },
                    None => Step::need_more(),
                }
            }
        }
    }

    fn frame_len(&self, input: &[u8]) -> Option<usize> {
        if self.skip > 0 {
            return None;
        }
        match parse_header(input) {
            Header::Length(h, Some(len)) if len > 0 && len <= self.max_body as u64 => {
                h.checked_add(len as usize)
            }
            _ => None,
        }
    }

    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        // The answer to every `pub`, framed once: through `encode_frame`
        // (reserve, digits, three appends) it was about 100 instructions,
        // 5 % of a small publication's cost on the server.
        if msg == ACK {
            out.extend_from_slice(FRAMED_ACK);
            return;
        }
        encode_frame(msg, out);
    }

    fn shared_encoding(&self) -> Option<SharedEncoding> {
        Some(SharedEncoding::TcpFrame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::decode_all;

    /// Feeds `input` and collects (messages, bytes written back, closed,
    /// bytes used).
    fn run(codec: &mut TcpCodec, input: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>, bool, usize) {
        let mut buf = input.to_vec();
        let (mut msgs, mut out) = (Vec::new(), Vec::new());
        let d = decode_all(codec, &mut buf, &mut out, |_, m, _| {
            msgs.push(m.into_owned())
        });
        (msgs, out, d.closed, d.consumed)
    }

    #[test]
    fn the_pre_framed_ack_is_the_framed_ack() {
        let mut codec = TcpCodec::new(1024);
        for body in [&b"ACK"[..], b"ACK ", b"AC", b"ACKS", b""] {
            let mut out = b"before".to_vec();
            codec.encode(body, &mut out);
            let mut want = b"before".to_vec();
            encode_frame(body, &mut want);
            assert_eq!(out, want, "{body:?}");
        }
        let mut out = Vec::new();
        codec.encode(ACK, &mut out);
        assert_eq!(out, b"3\nACK");
    }

    #[test]
    fn several_frames_in_one_read() {
        let mut c = TcpCodec::new(1024);
        let (msgs, out, closed, used) = run(&mut c, b"5\nhello3\nabc");
        assert_eq!(msgs, vec![b"hello".to_vec(), b"abc".to_vec()]);
        assert!(out.is_empty());
        assert!(!closed);
        assert_eq!(used, 12);
    }

    #[test]
    fn split_frame_waits_for_more() {
        let mut c = TcpCodec::new(1024);
        let (msgs, _, _, used) = run(&mut c, b"1");
        assert!(msgs.is_empty());
        assert_eq!(used, 0);
        let (msgs, _, _, used) = run(&mut c, b"10\nhello");
        assert!(msgs.is_empty());
        assert_eq!(used, 0);
        let (msgs, _, _, _) = run(&mut c, b"10\nhelloworld");
        assert_eq!(msgs, vec![b"helloworld".to_vec()]);
    }

    #[test]
    fn leading_zeros_and_nul_body() {
        let mut c = TcpCodec::new(1024);
        let (msgs, _, _, _) = run(&mut c, b"0003\na\0b");
        assert_eq!(msgs, vec![b"a\0b".to_vec()]);
    }

    #[test]
    fn bad_header_nacks_15_and_closes() {
        for bad in [
            &b"-5\nhello"[..],
            b" 5\nhello",
            b"5\r\nhello",
            b"x\n",
            b"\nabc",
        ] {
            let mut c = TcpCodec::new(1024);
            let (msgs, out, closed, _) = run(&mut c, bad);
            assert!(msgs.is_empty());
            assert!(closed, "{bad:?}");
            assert_eq!(out, b"25\nNACK *\n15\nmessage invalid");
        }
    }

    #[test]
    fn overlong_header_is_invalid() {
        let mut c = TcpCodec::new(1024);
        let (_, out, closed, _) = run(&mut c, &[b'0'; MAX_HEADER + 1]);
        assert!(closed);
        assert_eq!(out, b"25\nNACK *\n15\nmessage invalid");
    }

    #[test]
    fn header_of_exactly_max_header_bytes_is_accepted() {
        // MAX_HEADER digits (leading zeros count) and the newline.
        let mut frame = vec![b'0'; MAX_HEADER - 1];
        frame.extend_from_slice(b"5\nhello");
        let mut c = TcpCodec::new(1024);
        assert_eq!(c.frame_len(&frame), Some(frame.len()));
        assert_eq!(
            run(&mut c, &frame),
            (vec![b"hello".to_vec()], Vec::new(), false, frame.len())
        );
        // Those digits without their newline yet: a header still arriving.
        let mut c = TcpCodec::new(1024);
        assert_eq!(
            run(&mut c, &frame[..MAX_HEADER]),
            (Vec::new(), Vec::new(), false, 0)
        );
        assert_eq!(c.frame_len(&frame[..MAX_HEADER]), None);
        // One digit more is invalid, newline or not.
        let mut longer = vec![b'0'; MAX_HEADER];
        longer.extend_from_slice(b"5\nhello");
        let mut c = TcpCodec::new(1024);
        let (msgs, out, closed, _) = run(&mut c, &longer);
        assert!(msgs.is_empty() && closed);
        assert_eq!(out, b"25\nNACK *\n15\nmessage invalid");
        assert_eq!(c.frame_len(&longer), None);
    }

    #[test]
    fn fan_outs_share_one_encoding_for_every_tcp_connection() {
        let c = TcpCodec::new(1);
        assert_eq!(c.shared_encoding(), Some(SharedEncoding::TcpFrame));
        assert_eq!(c.name(), "TCP");
    }

    #[test]
    fn zero_length_nacks_10_and_closes() {
        let mut c = TcpCodec::new(1024);
        let (_, out, closed, _) = run(&mut c, b"0\n");
        assert!(closed);
        assert_eq!(out, b"27\nNACK *\n10\nconnection closed");
    }

    #[test]
    fn oversize_body_is_skipped_and_connection_kept() {
        let mut c = TcpCodec::new(4);
        let (msgs, out, closed, _) = run(&mut c, b"6\nabc");
        assert!(msgs.is_empty());
        assert!(!closed);
        assert_eq!(out, b"25\nNACK *\n16\nmessage too big");
        // The rest of the body arrives with a good frame behind it.
        let (msgs, out, closed, _) = run(&mut c, b"def2\nok");
        assert_eq!(msgs, vec![b"ok".to_vec()]);
        assert!(out.is_empty());
        assert!(!closed);
    }

    #[test]
    fn a_clients_codec_skips_an_oversize_body_without_answering() {
        let mut c = TcpCodec::client(4);
        let (msgs, out, closed, _) = run(&mut c, b"6\nabcdef2\nok");
        assert_eq!(msgs, vec![b"ok".to_vec()]);
        assert!(out.is_empty());
        assert!(!closed);
    }

    #[test]
    fn twenty_digit_length_is_too_big_not_a_crash() {
        let mut c = TcpCodec::new(1024);
        let (_, out, closed, _) = run(&mut c, b"99999999999999999999\nxx");
        assert!(!closed);
        assert_eq!(out, b"25\nNACK *\n16\nmessage too big");
    }

    #[test]
    fn frame_len_from_the_header_alone() {
        let c = TcpCodec::new(1000);
        assert_eq!(c.frame_len(b"5\nhel"), Some(7));
        assert_eq!(c.frame_len(b"1000\n"), Some(1005));
        assert_eq!(c.frame_len(b"1001\n"), None); // over the limit: skipped
        assert_eq!(c.frame_len(b"10"), None); // header incomplete
        assert_eq!(c.frame_len(b"0\n"), None);
        assert_eq!(c.frame_len(b"x\n"), None);
        let mut skipping = TcpCodec::new(4);
        let mut out = Vec::new();
        let _ = skipping.decode(&mut b"9\nab".to_vec(), &mut out);
        assert_eq!(skipping.frame_len(b"2\nok"), None);
    }

    #[test]
    fn short_headers_read_as_the_general_rule_reads_them() {
        // Every input of up to five bytes over digits, the newline and a
        // byte on each side of the digits.
        let alphabet = [b'0', b'1', b'5', b'9', b'\n', b'/', b':', b'x'];
        let mut input = Vec::new();
        for len in 0..=5u32 {
            for mut n in 0..alphabet.len().pow(len) {
                input.clear();
                for _ in 0..len {
                    input.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                assert_eq!(
                    parse_header(&input),
                    parse_header_digits(&input),
                    "{input:?}"
                );
            }
        }
        assert_eq!(parse_header(b"999\nx"), Header::Length(4, Some(999)));
        assert_eq!(parse_header(b"07\n"), Header::Length(3, Some(7)));
    }

    #[test]
    fn header_alone_matches_frame_prefix() {
        // Every length of the loop-free cases and each side of their edges.
        let edges = [9_999, 10_000, 65536, 1 << 20, usize::MAX];
        for len in (0usize..=1001).chain(edges) {
            let mut h = b"x".to_vec();
            encode_header(len, &mut h);
            assert_eq!(h, format!("x{len}\n").into_bytes());
        }
    }

    #[test]
    fn encode_is_one_buffer() {
        assert_eq!(TcpCodec::frame(b"hello"), b"5\nhello");
        assert_eq!(TcpCodec::frame(b""), b"0\n");
        let body = vec![7u8; 1234];
        let f = TcpCodec::frame(&body);
        assert!(f.starts_with(b"1234\n"));
        assert_eq!(f.len(), 1239);
        // Allocated once, at its size (21: the longest header).
        assert_eq!(f.capacity(), 1234 + 21);
        let mut out = b"ACK".to_vec();
        out.shrink_to_fit();
        encode_frame(&body, &mut out);
        assert_eq!(out.capacity(), 3 + 21 + 1234);
    }
}
