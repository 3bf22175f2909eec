//! Edges of the sans-IO codecs that the mutation runs (docs/RELIABILITY.md,
//! "Mutation testing") found no test pinned: each test here kills a
//! mutant that every other test let live. They drive the codecs through
//! their public API only, byte by byte where the moment of a decision is
//! the point.

use ducq::proto::message::nack;
use ducq::proto::stream::{format_failure, format_part, parse_part, Assembler, Output, Part};
use ducq::proto::State;
use ducq::transport::tcp::TcpCodec;
use ducq::transport::ws::frame::{
    encode_frame, FrameCodec, Role, CLOSE_PROTOCOL, OP_BINARY, OP_CONTINUATION,
};
use ducq::transport::ws::handshake::status_text;
use ducq::transport::{Decoded, Transport};

const MASK: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

/// A masked frame (a client's), FIN set.
fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, opcode, payload, Some(MASK));
    out
}

/// The status code of the unmasked close frame at the start of `out`.
fn close_code(out: &[u8]) -> Option<u16> {
    match out {
        [0x88, _, a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

/// A continuation frame with no message before it is refused as soon as
/// its header is read: the server does not wait for (or buffer) a payload
/// it will never use.
#[test]
fn a_stray_continuation_is_refused_on_its_header_alone() {
    let wire = masked(OP_CONTINUATION, &[b'x'; 100]);
    // 2 bytes of header and 4 of mask: the payload has not arrived.
    let mut head = wire[..6].to_vec();
    let mut codec = FrameCodec::new(Role::Server, 1 << 20);
    let mut out = Vec::new();
    let step = codec.decode(&mut head, &mut out);
    assert!(matches!(step.decoded, Decoded::Close));
    assert_eq!(step.consumed, 6);
    assert_eq!(close_code(&out), Some(CLOSE_PROTOCOL));
}

/// A stray continuation too long for the message limit is a protocol
/// error (1002), not "too big" (1009): what is wrong is that there is no
/// message to continue.
#[test]
fn a_stray_continuation_over_the_limit_is_a_protocol_error() {
    let mut wire = masked(OP_CONTINUATION, &[b'x'; 300]);
    let mut codec = FrameCodec::new(Role::Server, 200);
    let mut out = Vec::new();
    let step = codec.decode(&mut wire, &mut out);
    assert!(matches!(step.decoded, Decoded::Close));
    assert_eq!(close_code(&out), Some(CLOSE_PROTOCOL));
    // The same frame after a first fragment continues it: too big.
    let mut first = masked(OP_BINARY, b"a");
    first[0] &= 0x7f; // FIN clear: more to come
    first.extend(masked(OP_CONTINUATION, &[b'x'; 300]));
    let mut codec = FrameCodec::new(Role::Server, 200);
    let mut out = Vec::new();
    let n = codec.decode(&mut first, &mut out).consumed;
    let step = codec.decode(&mut first[n..], &mut out);
    assert!(matches!(step.decoded, Decoded::Close));
    assert_eq!(close_code(&out), Some(1009));
}

/// Every status code the server sends (the HTTP transport's NACK mapping
/// and the handshake's refusals) with its reason phrase, RFC 9110's words;
/// anything else is "Unknown".
#[test]
fn every_status_the_server_sends_has_its_reason_phrase() {
    for (status, text) in [
        (100, "Continue"),
        (101, "Switching Protocols"),
        (200, "OK"),
        (204, "No Content"),
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (405, "Method Not Allowed"),
        (413, "Content Too Large"),
        (421, "Misdirected Request"),
        (429, "Too Many Requests"),
        (431, "Request Header Fields Too Large"),
        (500, "Internal Server Error"),
        (501, "Not Implemented"),
        (505, "HTTP Version Not Supported"),
        (418, "Unknown"),
        (0, "Unknown"),
    ] {
        assert_eq!(status_text(status), text, "{status}");
    }
}

/// An oversized frame whose header ends exactly where the input does: the
/// header is used, not a byte more (there is no more), the NACK is sent,
/// and the body that follows in later reads is skipped to the byte, so the
/// frame behind it decodes.
#[test]
fn an_oversize_header_at_the_end_of_the_input_uses_only_the_header() {
    let mut codec = TcpCodec::new(1000);
    let mut out = Vec::new();
    let mut input = b"2000\n".to_vec();
    let step = codec.decode(&mut input, &mut out);
    assert_eq!(step.consumed, 5);
    assert!(matches!(step.decoded, Decoded::Nothing));
    assert_eq!(out, TcpCodec::frame(&nack(State::EMsgSize)));
    out.clear();
    let mut body = vec![b'x'; 1500];
    assert_eq!(codec.decode(&mut body, &mut out).consumed, 1500);
    let mut rest = vec![b'x'; 500];
    rest.extend_from_slice(b"2\nok");
    let step = codec.decode(&mut rest, &mut out);
    assert_eq!(step.consumed, 500);
    assert!(matches!(step.decoded, Decoded::Nothing));
    let step = codec.decode(&mut rest[500..], &mut out);
    assert_eq!(step.consumed, 4);
    assert!(matches!(step.decoded, Decoded::Message(m) if m.as_ref() == b"ok"));
    assert!(out.is_empty());
}

/// A state shows as its text (what NACK lines and CLI errors print).
#[test]
fn a_state_displays_as_its_text() {
    assert_eq!(State::EMsgSize.to_string(), "message too big");
    assert_eq!(State::ENoCmd.to_string(), State::ENoCmd.text());
}

/// A stream's last part (`SID end`) reads back as the last, a middle part
/// as not; a word other than `end` or `error CODE` is not a part.
#[test]
fn the_last_part_of_a_stream_reads_back_as_last() {
    for last in [false, true] {
        let mut msg = Vec::new();
        format_part(&mut msg, b"a/b", 7, last, b"tail");
        let want = Part::Data {
            sid: 7,
            route: b"a/b",
            bytes: b"tail",
            last,
        };
        assert_eq!(parse_part(&msg), Some(want), "{last}");
    }
    assert_eq!(parse_part(b"CONT a/b\n7 fin\ntail"), None);
    assert_eq!(parse_part(b"CONT a/b\n7 end more\ntail"), None);
}

/// Feeds one delivered message to `a`, logging what it writes.
fn deliver(a: &mut Assembler, msg: &[u8], log: &mut Vec<String>) {
    let part = parse_part(msg).expect("a part");
    a.part(part, |o| {
        log.push(match o {
            Output::Begin(r) => format!("begin {}", String::from_utf8_lossy(r)),
            Output::Data(b) => format!("data {}", String::from_utf8_lossy(b)),
            Output::End => "end".into(),
            Output::Abort(s) => format!("abort {}", s.code()),
        })
    });
}

/// Feeds part of stream `sid` (route `r<sid>`).
fn feed(a: &mut Assembler, sid: u64, bytes: &[u8], last: bool, log: &mut Vec<String>) {
    let mut msg = Vec::new();
    format_part(&mut msg, format!("r{sid}").as_bytes(), sid, last, bytes);
    deliver(a, &msg, log);
}

/// Two streams interleaved: the first passes through as it comes, the
/// second is held until the first ends, then written and followed; the
/// open streams are the one being written, then the held ones.
#[test]
fn interleaved_streams_are_written_one_after_the_other() {
    let mut a = Assembler::new();
    let mut log = Vec::new();
    assert_eq!(a.open_streams(), Vec::<u64>::new());
    feed(&mut a, 1, b"a1", false, &mut log);
    feed(&mut a, 2, b"b1", false, &mut log);
    assert_eq!(a.open_streams(), vec![1, 2]);
    feed(&mut a, 1, b"a2", false, &mut log);
    feed(&mut a, 2, b"b2", false, &mut log);
    assert_eq!(log, ["begin r1", "data a1", "data a2"]);
    feed(&mut a, 1, b"a3", true, &mut log);
    assert_eq!(a.open_streams(), vec![2]);
    feed(&mut a, 2, b"b3", true, &mut log);
    assert_eq!(a.open_streams(), Vec::<u64>::new());
    assert_eq!(
        log,
        [
            "begin r1",
            "data a1",
            "data a2",
            "data a3",
            "end",
            "begin r2",
            "data b1b2",
            "data b3",
            "end",
        ]
    );
    assert!(!a.is_busy());
}

/// A stream abandoned while being written ends as aborted and the held
/// stream behind it goes on; a held stream abandoned is written, when its
/// turn comes, as aborted.
#[test]
fn an_abandoned_stream_is_aborted_in_its_turn() {
    let mut a = Assembler::new();
    let mut log = Vec::new();
    feed(&mut a, 1, b"a1", false, &mut log);
    feed(&mut a, 2, b"b1", false, &mut log);
    feed(&mut a, 3, b"c1", false, &mut log);
    deliver(&mut a, &format_failure(b"r3", 3, State::ETimeout), &mut log);
    deliver(
        &mut a,
        &format_failure(b"r1", 1, State::EConnClosed),
        &mut log,
    );
    assert_eq!(a.open_streams(), vec![2]);
    feed(&mut a, 2, b"b2", true, &mut log);
    let timeout = State::ETimeout.code();
    let closed = State::EConnClosed.code();
    assert_eq!(
        log,
        [
            "begin r1".to_string(),
            "data a1".into(),
            format!("abort {closed}"),
            "begin r2".into(),
            "data b1".into(),
            "data b2".into(),
            "end".into(),
            "begin r3".into(),
            "data c1".into(),
            format!("abort {timeout}"),
        ]
    );
    assert!(!a.is_busy());
}
