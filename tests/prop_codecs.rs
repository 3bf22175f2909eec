//! Property tests for the parsers that face the network: TCP framing,
//! message parse/format, route matching and reply classification. They run
//! on stable in the normal test suite with a bounded number of cases, so the
//! whole file takes seconds; the fuzz targets explore the same properties
//! for much longer. No sockets, no clock, no files.

mod oracle;

use ducq::proto::message::{classify, format, nack, nack_state, nack_text, Message};
use ducq::proto::route::{is_pattern, matches};
use ducq::proto::State;
use ducq::transport::tcp::TcpCodec;
use ducq::transport::Transport;
use proptest::collection::vec;
use proptest::prelude::*;

/// The codec limit used here: small, so too-big frames are common.
const MAX: usize = 64;

/// Bodies of 1..=MAX bytes, half the time drawn from a few bytes (NUL and
/// the framing characters) so edge bytes are frequent.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 1..=MAX),
        vec(prop::sample::select(&b"\0\n0 9*"[..]), 1..=MAX),
    ]
}

/// Route bytes from a small alphabet, so patterns and routes often meet.
fn route_bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(prop::sample::select(&b"ab/*"[..]), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Encoding then decoding a body gives it back, NUL bytes included.
    #[test]
    fn tcp_round_trip(body in body()) {
        let mut wire = Vec::new();
        TcpCodec::new(MAX).encode(&body, &mut wire);
        prop_assert_eq!(&wire, &TcpCodec::frame(&body));
        let fed = oracle::feed(&mut TcpCodec::new(MAX), &[&wire]);
        prop_assert_eq!(fed.messages, vec![body]);
        prop_assert!(fed.out.is_empty());
        prop_assert!(!fed.closed);
        prop_assert_eq!(fed.leftover, 0);
    }

    /// Frames of any size, split anywhere, give the same result as the
    /// whole stream: the bodies that fit, and one NACK 16 per body that
    /// does not, with the connection kept.
    #[test]
    fn tcp_split_anywhere(
        bodies in vec(prop_oneof![body(), vec(any::<u8>(), MAX + 1..MAX * 3)], 1..8),
        cuts in vec(0usize..2000, 0..12),
    ) {
        let mut stream = Vec::new();
        for b in &bodies {
            stream.extend_from_slice(&TcpCodec::frame(b));
        }
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = oracle::feed(&mut TcpCodec::new(MAX), &[&stream]);
        let pieces = oracle::feed(&mut TcpCodec::new(MAX), &oracle::split_at(&stream, &cuts));
        prop_assert_eq!(&whole, &pieces);

        let fitting: Vec<Vec<u8>> = bodies.iter().filter(|b| b.len() <= MAX).cloned().collect();
        let mut nacks = Vec::new();
        for _ in 0..bodies.len() - fitting.len() {
            nacks.extend_from_slice(&TcpCodec::frame(&nack(State::EMsgSize)));
        }
        prop_assert_eq!(whole.messages, fitting);
        prop_assert_eq!(whole.out, nacks);
        prop_assert!(!whole.closed);
        prop_assert_eq!(whole.leftover, 0);
    }

    /// Arbitrary bytes, in arbitrary reads, never panic the decoder, never
    /// yield a message over the limit, and only ever answer framing NACKs.
    #[test]
    fn tcp_decoder_never_panics(
        max in 0usize..32,
        stream in vec(any::<u8>(), 0..256),
        seed in any::<u8>(),
    ) {
        let whole = oracle::feed(&mut TcpCodec::new(max), &[&stream]);
        let pieces = oracle::feed(&mut TcpCodec::new(max), &oracle::split_by_seed(&stream, seed));
        prop_assert_eq!(&whole, &pieces);
        prop_assert!(whole.messages.iter().all(|m| !m.is_empty() && m.len() <= max));
        prop_assert!(oracle::only_framing_nacks(&whole.out));
    }

    /// Parsing arbitrary bytes never panics and agrees with the reference
    /// reading of PROTOCOL.md §3.
    #[test]
    fn parse_matches_reference(raw in prop_oneof![
        vec(any::<u8>(), 0..64),
        vec(prop::sample::select(&b"pub a/\n \0"[..]), 0..24),
    ]) {
        let got = Message::parse(&raw).ok().map(|m| (m.command, m.route, m.payload, m.has_newline));
        prop_assert_eq!(got, oracle::split_message(&raw));
    }

    /// Classification of arbitrary bytes never panics and follows the
    /// prefix rules; a NACK carries the state `nack_state` reads.
    #[test]
    fn classify_never_panics(msg in prop_oneof![
        vec(any::<u8>(), 0..48),
        (prop::sample::select(vec!["ACK", "NACK *\n", "NACK", "PARTS", "END", "PING", "PONG"]),
         vec(any::<u8>(), 0..16))
            .prop_map(|(p, tail)| [p.as_bytes(), &tail].concat()),
    ]) {
        let kind = classify(&msg);
        let _ = nack_text(&msg);
        prop_assert_eq!(oracle::kind_name(kind), oracle::kind_by_prefix(&msg));
        if let ducq::proto::Kind::Nack(s) = kind {
            prop_assert_eq!(s, nack_state(&msg).unwrap_or(State::Unknown));
        }
    }

    /// Formatting then parsing gives the parts back, for any command without
    /// space or `\n` and any route without `\n` or NUL.
    #[test]
    fn format_parse_identity(
        command in vec(any::<u8>(), 0..16).prop_map(|v| strip(v, b" \n")),
        route in vec(any::<u8>(), 0..32).prop_map(|v| strip(v, b"\n\0")),
        payload in vec(any::<u8>(), 0..64),
    ) {
        let raw = format(&command, &route, &payload);
        let m = Message::parse(&raw).unwrap();
        prop_assert_eq!(m.command, &command[..]);
        prop_assert_eq!(m.route, &route[..]);
        prop_assert_eq!(m.payload, &payload[..]);
        prop_assert!(m.has_newline);
    }

    /// Route matching equals the reference glob for patterns without `+`
    /// or `#` (those are covered against MQTT's rules in prop_routes.rs).
    #[test]
    fn route_matching_equals_reference(
        pattern in prop_oneof![route_bytes(), vec(any::<u8>(), 0..12)].prop_map(|v| strip(v, b"+#")),
        route in prop_oneof![route_bytes(), vec(any::<u8>(), 0..12)],
    ) {
        prop_assert_eq!(matches(&pattern, &route), oracle::glob(&pattern, &route));
    }

    /// `*` matches every route, and every pattern matches itself.
    #[test]
    fn star_matches_everything(route in vec(any::<u8>(), 0..32)) {
        prop_assert!(matches(b"*", &route));
        prop_assert!(matches(&route, &route));
    }

    /// A pattern without `*` matches only the identical route.
    #[test]
    fn plain_pattern_matches_only_itself(
        pattern in route_bytes().prop_map(|v| strip(v, b"*")),
        route in route_bytes(),
    ) {
        prop_assert!(!is_pattern(&pattern));
        prop_assert_eq!(matches(&pattern, &route), pattern == route);
    }
}

/// An empty frame is not a message: the codec answers NACK 10 and closes
/// (PROTOCOL.md §2), so the round trip above starts at one byte.
#[test]
fn empty_body_closes() {
    let fed = oracle::feed(&mut TcpCodec::new(MAX), &[&TcpCodec::frame(b"")]);
    assert!(fed.closed);
    assert!(fed.messages.is_empty());
    assert_eq!(fed.out, TcpCodec::frame(&nack(State::EConnClosed)));
}

/// The reference glob itself, on the table of PROTOCOL.md §7, so a wrong
/// oracle cannot make the properties above pass vacuously.
#[test]
fn reference_glob_follows_the_protocol_table() {
    let rows: &[(&str, &str, bool)] = &[
        ("a/b", "a/b", true),
        ("a/b", "a/bc", false),
        ("a/*", "a/", true),
        ("a/*", "a", false),
        ("*", "", true),
        ("a/*/c", "a//c", true),
        ("*a", "bab", false),
        ("route/*!", "route/subroute", false),
        ("a/b", "a/*", false),
        ("a*b*c", "axbxbxc", true),
        ("*/c", "a/b/c", true),
    ];
    for (p, r, want) in rows {
        assert_eq!(
            oracle::glob(p.as_bytes(), r.as_bytes()),
            *want,
            "{p} vs {r}"
        );
    }
}

/// Removes every byte of `bad` from `v`.
fn strip(mut v: Vec<u8>, bad: &[u8]) -> Vec<u8> {
    v.retain(|b| !bad.contains(b));
    v
}
