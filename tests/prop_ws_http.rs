//! Property tests for the WebSocket and HTTP codecs: frame round trips in
//! both directions, the handshake against a reference verdict, frames
//! against a reference reader, split-anywhere for WebSocket and HTTP request
//! streams, and no panic on arbitrary bytes. They run on stable in the
//! normal test suite with a bounded number of cases (the whole file takes a
//! few seconds); the fuzz targets explore the same properties for longer.
//! No sockets, no clock, no files.

mod oracle;

use ducq::transport::http::{HttpLimits, HttpOrWs};
use ducq::transport::ws::frame::{FrameCodec, MaskGen, Role, OP_TEXT};
use ducq::transport::ws::handshake::{Handshake, ServerHandshake};
use ducq::transport::ws::{WsClient, WsServer};
use ducq::transport::Transport;
use oracle::http::{clean_head, scripted_replies, split_responses, Tail};
use oracle::ws::{self as rws, Answer, Side};
use proptest::collection::vec;
use proptest::prelude::*;

/// The message limit used here: small, so oversized messages are common.
const MAX: usize = 300;

/// A valid upgrade request with the RFC 6455 sample key.
const UPGRADE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
    Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// Message bodies of 0..=MAX bytes; sizes around the 7/16-bit boundary are
/// drawn often.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..=MAX),
        (120usize..132).prop_flat_map(|n| vec(any::<u8>(), n)),
    ]
}

/// An HTTP connection with small limits.
fn http(max_head: usize, max_body: usize) -> HttpOrWs {
    HttpOrWs::new(HttpLimits {
        max_head,
        max_body,
        max_message: MAX,
    })
}

/// One request of a pipelined HTTP stream, with the ducq message it must
/// become.
fn request() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let route = "[a-z]{1,3}(/[a-z]{1,3}){0,2}";
    let payload = vec(any::<u8>(), 0..40);
    prop_oneof![
        (route, payload.clone(), any::<bool>()).prop_map(|(r, p, expect)| {
            let mut req = format!(
                "POST /pub/{} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n{}\r\n",
                r.replace('/', "%2F"),
                p.len(),
                if expect {
                    "Expect: 100-continue\r\n"
                } else {
                    ""
                }
            )
            .into_bytes();
            req.extend_from_slice(&p);
            (req, [format!("pub {r}\n").as_bytes(), &p].concat())
        }),
        (route, payload, 1usize..8).prop_map(|(r, p, piece)| {
            let mut req = format!("POST /pub/{r} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .into_bytes();
            for c in p.chunks(piece) {
                req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                req.extend_from_slice(c);
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"0\r\n\r\n");
            (req, [format!("pub {r}\n").as_bytes(), &p].concat())
        }),
        route.prop_map(|r| (
            format!("GET /last/{r} HTTP/1.1\r\n\r\n").into_bytes(),
            format!("last {r}\n").into_bytes()
        )),
        Just((b"GET /lscmd HTTP/1.1\r\n\r\n".to_vec(), b"lscmd".to_vec())),
        Just((
            b"GET /lsconn?x=1 HTTP/1.1\r\n\r\n".to_vec(),
            b"lsconn".to_vec()
        )),
        Just((
            b"POST /cmd/epoch HTTP/1.1\r\n\r\n".to_vec(),
            b"epoch".to_vec()
        )),
        Just((
            b"POST /cmd/PONG/a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi".to_vec(),
            b"PONG a\nhi".to_vec()
        )),
        Just((
            b"POST /cmd/nope/a HTTP/1.1\r\ncontent-length: 0\r\n\r\n".to_vec(),
            b"nope a\n".to_vec()
        )),
    ]
}

/// The header lines of a WebSocket upgrade, in any order: each required
/// header usually right, sometimes subtly wrong, missing or repeated, so
/// both verdicts come up often.
fn upgrade_lines() -> impl Strategy<Value = Vec<&'static str>> {
    let pick = |right: &'static [&'static str], wrong: &'static [&'static str]| {
        prop_oneof![
            3 => prop::sample::select(right).prop_map(|l| vec![l]),
            1 => prop::sample::select(wrong).prop_map(|l| vec![l]),
            1 => (prop::sample::select(right), prop::sample::select(right))
                .prop_map(|(a, b)| vec![a, b]),
        ]
    };
    (
        pick(
            &[
                "Upgrade: websocket",
                "upgrade: WebSocket",
                "Upgrade: h2c, websocket",
            ],
            &[
                "Upgrade: h2c",
                "Upgrade: websockets",
                "X-Upgrade: websocket",
            ],
        ),
        pick(
            &[
                "Connection: Upgrade",
                "connection: keep-alive,upgrade",
                "Connection:\tUPGRADE ",
            ],
            &["Connection: close", "Connection: Upgrade-Insecure"],
        ),
        pick(
            &["Sec-WebSocket-Version: 13", "sec-websocket-version:  13 "],
            &["Sec-WebSocket-Version: 8", "Sec-WebSocket-Version: 13, 8"],
        ),
        pick(
            &[
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "sec-websocket-key: x3JJHMbDL1EzLkh9GBhXDw==",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==",
            ],
            &[
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAA-==",
                "Sec-WebSocket-Key:",
            ],
        ),
        vec(
            prop::sample::select(&["Host: x", "X-Other: a, b", "Accept: */*"][..]),
            0..3,
        ),
    )
        .prop_map(|(a, b, c, d, e)| [a, b, c, d, e].concat())
        .prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Server encode → client decode is the identity, and every server frame
    /// is final, unmasked, text, with the shortest length encoding.
    #[test]
    fn ws_server_to_client_round_trip(bodies in vec(body(), 1..6), seed in any::<u64>()) {
        let mut server = WsServer::upgraded(MAX);
        let mut wire = Vec::new();
        for b in &bodies {
            let mut one = Vec::new();
            server.encode(b, &mut one);
            prop_assert!(rws::is_server_text_frame(&one, b));
            wire.extend_from_slice(&one);
        }
        let mut client = FrameCodec::new(Role::Client(MaskGen::from_seed(seed)), MAX);
        let fed = oracle::feed(&mut rws::Frames(&mut client), &[&wire]);
        prop_assert_eq!(fed.messages, bodies);
        prop_assert!(fed.out.is_empty() && !fed.closed && fed.leftover == 0);
    }

    /// Client encode → server decode is the identity; the reference reader
    /// agrees on what the client sent.
    #[test]
    fn ws_client_to_server_round_trip(bodies in vec(body(), 1..6), seed in any::<u64>()) {
        let mut client = FrameCodec::new(Role::Client(MaskGen::from_seed(seed)), MAX);
        let mut wire = Vec::new();
        for b in &bodies {
            client.encode(OP_TEXT, b, &mut wire);
        }
        let reference = rws::read_frames(&wire, Side::Server, MAX);
        prop_assert_eq!(&reference.messages, &bodies);
        let fed = oracle::feed(&mut WsServer::upgraded(MAX), &[&wire]);
        prop_assert_eq!(fed.messages, bodies);
        prop_assert!(fed.out.is_empty() && !fed.closed && fed.leftover == 0);
    }

    /// A handshake followed by fragmented messages with pings between the
    /// fragments, cut anywhere, reads as when whole: the messages, a 101,
    /// then one pong per ping.
    #[test]
    fn ws_split_anywhere(
        bodies in vec((body(), 1usize..4, any::<[u8; 4]>(), any::<bool>()), 1..5),
        cuts in vec(0usize..3000, 0..16),
    ) {
        let mut stream = UPGRADE.to_vec();
        let mut pongs = Vec::new();
        for (i, (b, pieces, mask, ping)) in bodies.iter().enumerate() {
            let size = b.len().div_ceil(*pieces).max(1);
            let chunks: Vec<&[u8]> = if b.is_empty() { vec![&b[..]] } else { b.chunks(size).collect() };
            for (j, c) in chunks.iter().enumerate() {
                let op = if j == 0 { OP_TEXT } else { 0 };
                stream.extend(rws::client_frame(j + 1 == chunks.len(), op, c, *mask));
                if *ping && j == 0 {
                    let p = format!("p{i}").into_bytes();
                    stream.extend(rws::client_frame(true, 9, &p, *mask));
                    pongs.push(Answer::Pong(p));
                }
            }
        }
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = oracle::feed(&mut WsServer::new(MAX), &[&stream]);
        let pieces = oracle::feed(&mut WsServer::new(MAX), &oracle::split_at(&stream, &cuts));
        prop_assert_eq!(&whole, &pieces);
        let want: Vec<Vec<u8>> = bodies.iter().map(|b| b.0.clone()).collect();
        prop_assert_eq!(&whole.messages, &want);
        let head = whole.out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        prop_assert!(whole.out.starts_with(b"HTTP/1.1 101 "));
        prop_assert_eq!(rws::answers_in(&whole.out[head..], Side::Server), Some(pongs));
    }

    /// The frame decoder agrees with the reference reader on streams of
    /// plausible and broken frames: messages, answers, close, leftover.
    #[test]
    fn ws_frames_match_reference(
        frames in vec((
            any::<bool>(),
            prop::sample::select(vec![0u8, 1, 2, 3, 8, 9, 10, 11]),
            any::<bool>(),
            vec(any::<u8>(), 0..140),
            any::<[u8; 4]>(),
        ), 0..6),
        max in 0usize..200,
        flip in any::<Option<(usize, u8)>>(),
        server_side in any::<bool>(),
    ) {
        let mut stream = Vec::new();
        for (fin, op, masked, payload, mask) in &frames {
            let mut f = rws::client_frame(*fin, *op, payload, *mask);
            if !masked {
                // Drop the mask bit and key; the payload stays as it was.
                f[1] &= 0x7f;
                let key = f.len() - payload.len() - 4;
                f.drain(key..key + 4);
                let start = f.len() - payload.len();
                f[start..].copy_from_slice(payload);
            }
            stream.extend(f);
        }
        if let Some((at, x)) = flip {
            if !stream.is_empty() {
                let at = at % stream.len();
                stream[at] ^= x;
            }
        }
        let (side, role) = if server_side {
            (Side::Server, Role::Server)
        } else {
            (Side::Client, Role::Client(MaskGen::from_seed(7)))
        };
        let reference = rws::read_frames(&stream, side, max);
        let mut codec = FrameCodec::new(role, max);
        let fed = oracle::feed(&mut rws::Frames(&mut codec), &[&stream]);
        prop_assert_eq!(&fed.messages, &reference.messages);
        prop_assert_eq!(fed.closed, reference.closed);
        prop_assert_eq!(fed.leftover, reference.leftover);
        let answered_by = if server_side { Side::Server } else { Side::Client };
        prop_assert_eq!(rws::answers_in(&fed.out, answered_by), Some(reference.answers));
    }

    /// A well-formed upgrade request is accepted exactly when the reference
    /// says so, with the reference's accept key, and refused with its
    /// status otherwise.
    #[test]
    fn handshake_matches_reference(
        method in prop::sample::select(vec!["GET", "GET", "GET", "POST"]),
        version in prop::sample::select(vec!["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]),
        lines in upgrade_lines(),
        cap in 60usize..400,
    ) {
        let mut req = format!("{method} / {version}\r\n");
        for l in &lines {
            req.push_str(l);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let head = clean_head(req.as_bytes()).expect("generated heads are clean");
        let mut out = Vec::new();
        let got = ServerHandshake::new(cap).poll(req.as_bytes(), &mut out);
        let out = String::from_utf8(out).unwrap();
        match rws::handshake_verdict(&head, cap) {
            Ok(accept) => {
                prop_assert_eq!(got, Handshake::Done(req.len()));
                let want = format!("Sec-WebSocket-Accept: {accept}\r\n");
                prop_assert!(out.contains(&want), "{}", out);
            }
            Err(status) => {
                prop_assert_eq!(got, Handshake::Failed);
                let want = format!("HTTP/1.1 {status} ");
                prop_assert!(out.starts_with(&want), "{}", out);
            }
        }
    }

    /// Pipelined requests, cut anywhere, give the same messages and the
    /// same responses as the whole stream (apart from interim 100 Continue
    /// answers), one well-formed response per request.
    #[test]
    fn http_split_anywhere(
        reqs in vec(request(), 1..6),
        cuts in vec(0usize..2000, 0..16),
    ) {
        let stream: Vec<u8> = reqs.iter().flat_map(|(r, _)| r.clone()).collect();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut whole = oracle::feed_replying(&mut http(1024, 64), &[&stream], scripted_replies);
        let mut pieces = oracle::feed_replying(
            &mut http(1024, 64),
            &oracle::split_at(&stream, &cuts),
            scripted_replies,
        );
        whole.out = oracle::http::without_continue(&whole.out);
        pieces.out = oracle::http::without_continue(&pieces.out);
        prop_assert_eq!(&whole, &pieces);
        let want: Vec<Vec<u8>> = reqs.iter().map(|(_, m)| m.clone()).collect();
        prop_assert_eq!(&whole.messages, &want);
        let (responses, tail) = split_responses(&whole.out).map_err(TestCaseError::fail)?;
        prop_assert_eq!(responses.len(), reqs.len());
        prop_assert_eq!(tail, Tail::None);
        prop_assert!(!whole.closed && whole.leftover == 0);
    }

    /// However long its chunk lines, and wherever in them a bad byte sits,
    /// a chunked body gets the answer the bound on chunk lines gives (head,
    /// chunk lines and trailers may take the head limit beyond the body,
    /// and only the bytes within that bound are read), the same whether it
    /// arrives whole or cut anywhere.
    #[test]
    fn chunked_overhead_split_anywhere(
        body in vec(any::<u8>(), 1..16),
        ext in prop_oneof![0usize..20, 0usize..200],
        bad in prop::option::of((prop_oneof![0usize..20, 0usize..200], prop_oneof![Just(b'\r'), any::<u8>()])),
        cuts in vec(0usize..400, 0..8),
    ) {
        const HEAD: &[u8] = b"POST /pub/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut req = HEAD.to_vec();
        let mut ext = vec![b'e'; ext];
        if let Some((at, byte)) = bad {
            if at < ext.len() {
                ext[at] = byte;
            }
        }
        let size = format!("{:x};", body.len());
        req.extend_from_slice(size.as_bytes());
        req.extend_from_slice(&ext);
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(&body);
        req.extend_from_slice(b"\r\n0\r\n\r\nGET /lscmd HTTP/1.1\r\n\r\n");
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = oracle::feed_replying(&mut http(64, 16), &[&req], scripted_replies);
        let pieces = oracle::feed_replying(
            &mut http(64, 16),
            &oracle::split_at(&req, &cuts),
            scripted_replies,
        );
        prop_assert_eq!(&whole, &pieces);

        // The expected answer. Within a chunk extension any byte goes but a
        // CR not followed by LF (the extension is all 'e' around it, then
        // the line's own CR LF): malformed, once both bytes are inside the
        // bound. The body (1 chunk, then `0`, then the empty trailer) is
        // read whole when it all lies inside the bound.
        let bound = 16 + 64 - HEAD.len();
        let used = size.len() + ext.len() + 2 + body.len() + 2 + 5;
        let cr = ext.iter().position(|&b| b == b'\r').map(|i| size.len() + i);
        let status = match cr {
            Some(at) if at + 2 <= bound => 400,
            Some(_) => 413,
            None if used <= bound => 200,
            None => 413,
        };
        let (responses, tail) = split_responses(&whole.out).map_err(TestCaseError::fail)?;
        prop_assert_eq!(tail, Tail::None);
        let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        if status == 200 {
            let published = [&b"pub a\n"[..], &body].concat();
            prop_assert_eq!(&whole.messages, &vec![published, b"lscmd".to_vec()]);
            prop_assert_eq!(statuses, vec![200, 200]);
            prop_assert_eq!(&responses[0].body, &b"{\"ok\":true}".to_vec());
            prop_assert!(!whole.closed && whole.leftover == 0);
        } else {
            let reason = if status == 400 { "malformed chunked body" } else { "body too large" };
            prop_assert!(whole.messages.is_empty());
            prop_assert_eq!(statuses, vec![status]);
            prop_assert_eq!(
                String::from_utf8_lossy(&responses[0].body),
                format!("{{\"error\":\"{reason}\"}}")
            );
            prop_assert!(whole.closed);
        }
    }

    /// Arbitrary bytes, after a plausible start or not, in arbitrary reads,
    /// never panic a WebSocket server or client, or an HTTP connection,
    /// and split reads change nothing.
    #[test]
    fn codecs_never_panic(
        prefix in prop::sample::select(vec![
            &b""[..],
            UPGRADE,
            b"POST /pub/a HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
            b"POST /pub/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\n",
            b"\x81\x85\x37\xfa\x21\x3d",
        ]),
        tail in vec(any::<u8>(), 0..200),
        seed in any::<u8>(),
    ) {
        let stream = [prefix, &tail].concat();
        let chunks = oracle::split_by_seed(&stream, seed);
        let whole = oracle::feed(&mut WsServer::new(64), &[&stream]);
        prop_assert_eq!(&whole, &oracle::feed(&mut WsServer::new(64), &chunks));
        prop_assert!(whole.messages.iter().all(|m| m.len() <= 64));

        // A client that has not had a valid 101 (its key is random, these
        // bytes cannot hold its accept key) delivers nothing, sends
        // nothing, and either refuses the answer or waits for more of it.
        let mut client = WsClient::new("h", "/", 64);
        client.open(&mut Vec::new());
        let fed = oracle::feed(&mut client, &chunks);
        prop_assert_eq!(&fed, &oracle::feed(&mut WsClient::new("h", "/", 64), &[&stream]));
        prop_assert!(fed.messages.is_empty() && fed.out.is_empty());
        prop_assert_eq!(fed.leftover, if fed.closed { 0 } else { stream.len() });

        // After a valid 101, the same bytes are server frames: the client
        // reads them as the reference reader does.
        let mut client = WsClient::new("h", "/", 64);
        let mut request = Vec::new();
        client.open(&mut request);
        let head = clean_head(&request).expect("the client's request is clean");
        let key = head.single(b"sec-websocket-key").expect("a key");
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            rws::accept_key(key)
        );
        let upgraded = [answer.as_bytes(), &tail].concat();
        let fed = oracle::feed(&mut client, &oracle::split_by_seed(&upgraded, seed));
        let reference = rws::read_frames(&tail, Side::Client, 64);
        prop_assert_eq!(&fed.messages, &reference.messages);
        prop_assert_eq!(fed.closed, reference.closed);
        prop_assert_eq!(fed.leftover, reference.leftover);
        prop_assert_eq!(rws::answers_in(&fed.out, Side::Client), Some(reference.answers));

        let mut whole = oracle::feed_replying(&mut http(128, 16), &[&stream], scripted_replies);
        let mut pieces = oracle::feed_replying(&mut http(128, 16), &chunks, scripted_replies);
        whole.out = oracle::http::without_continue(&whole.out);
        pieces.out = oracle::http::without_continue(&pieces.out);
        prop_assert_eq!(&whole, &pieces);
        if let Err(e) = split_responses(&whole.out) {
            prop_assert!(false, "{}: {:?}", e, String::from_utf8_lossy(&whole.out));
        }
    }
}

/// The references themselves, on published vectors, so a wrong oracle
/// cannot make the properties pass vacuously.
#[test]
fn references_follow_the_standards() {
    let hex = |b: [u8; 20]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(rws::sha1(b"abc")),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        hex(rws::sha1(b"")),
        "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    );
    let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_eq!(
        hex(rws::sha1(long)),
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
    );
    assert_eq!(rws::base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(rws::base64(b"fooba"), "Zm9vYmE=");
    assert_eq!(rws::base64(b"foob"), "Zm9vYg==");
    assert_eq!(
        rws::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert!(rws::key_is_valid(b"dGhlIHNhbXBsZSBub25jZQ=="));
    assert!(!rws::key_is_valid(b"dGhlIHNhbXBsZSBub25jZR=="));
    assert!(!rws::key_is_valid(b"dGhlIHNhbXBsZSBub25jZQ="));
    // RFC 6455 §5.7: a masked "Hello", and a ping.
    let r = rws::read_frames(
        b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
        Side::Server,
        10,
    );
    assert_eq!(r.messages, vec![b"Hello".to_vec()]);
    let r = rws::read_frames(b"\x89\x05Hello", Side::Client, 10);
    assert_eq!(r.answers, vec![Answer::Pong(b"Hello".to_vec())]);
    assert!(rws::is_server_text_frame(b"\x81\x05Hello", b"Hello"));
}
