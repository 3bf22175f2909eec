//! Fuzz target: HTTP/1.1 on the WebSocket port (PROTOCOL.md §10): request
//! heads, bodies (Content-Length and chunked), pipelining, the answer to
//! every reply shape, and the switch to WebSocket.
//!
//! Input layout: byte 0 sets the limits (head cap 32 + 64 × its low
//! nibble, body cap 8 × its high nibble), byte 1 seeds how the rest is cut
//! into reads, and the rest is what a client sends. A scripted broker
//! answers each ducq message the requests become. Checked: whole and split
//! reads agree (apart from interim 100 Continue answers); the output is a
//! sequence of well-formed responses with documented statuses, then
//! well-formed WebSocket frames or events; each request that became a
//! message got its response; such messages parse; a well-formed first head
//! over the head cap is a 431, a declared body over the body cap a 413, an
//! upgrade gets the reference verdict. It must not depend on anything but
//! the input.
#![no_main]

use ducq::proto::message::Message;
use ducq::transport::http::{HttpLimits, HttpOrWs};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

use oracle::http::{
    clean_head, is_event_stream, scripted_replies, split_responses, without_continue, Tail,
};
use oracle::ws::{handshake_verdict, server_frames_ok};

fuzz_target!(|data: &[u8]| {
    let [limits, seed, stream @ ..] = data else {
        return;
    };
    let limits = HttpLimits {
        max_head: 32 + usize::from(limits & 0xf) * 64,
        max_body: usize::from(limits >> 4) * 8,
        max_message: 256,
    };
    let chunks = oracle::split_by_seed(stream, *seed);
    let mut whole = oracle::feed_replying(&mut HttpOrWs::new(limits), &[stream], scripted_replies);
    let mut pieces = oracle::feed_replying(&mut HttpOrWs::new(limits), &chunks, scripted_replies);
    whole.out = without_continue(&whole.out);
    pieces.out = without_continue(&pieces.out);
    assert_eq!(whole, pieces, "split reads changed the result");

    let (responses, tail) = match split_responses(&whole.out) {
        Ok(r) => r,
        Err(e) => panic!("{e}: {:?}", String::from_utf8_lossy(&whole.out)),
    };
    let finals = responses.iter().filter(|r| r.status != 100).count();
    match &tail {
        Tail::None => {
            assert!(finals >= whole.messages.len(), "a request without response");
            for m in &whole.messages {
                assert!(Message::parse(m).is_ok(), "{m:?}");
            }
        }
        Tail::Ws(frames) => assert!(server_frames_ok(frames), "{frames:?}"),
        Tail::Sse(events) => {
            assert!(
                is_event_stream(events),
                "{:?}",
                String::from_utf8_lossy(events)
            );
            assert!(!whole.closed);
        }
    }
    if whole.closed {
        assert!(!responses.is_empty(), "closed without a word");
    }

    let Some(head) = clean_head(stream) else {
        return;
    };
    let first = responses.first().map(|r| r.status);
    if head.len > limits.max_head || head.headers.len() > 64 {
        assert_eq!(first, Some(431));
        assert!(whole.closed && whole.messages.is_empty());
        return;
    }
    if head.has_token(b"upgrade", b"websocket") {
        match handshake_verdict(&head, limits.max_head) {
            Ok(accept) => {
                assert_eq!(first, Some(101));
                assert_eq!(responses[0].header("sec-websocket-accept"), Some(&*accept));
            }
            Err(status) => {
                assert_eq!(first, Some(status));
                assert!(whole.closed);
            }
        }
        return;
    }
    // A run of digits too long for u128 is over any cap too.
    let declared = head.single(b"content-length").and_then(|v| {
        let digits = !v.is_empty() && v.iter().all(u8::is_ascii_digit);
        digits.then(|| {
            std::str::from_utf8(v)
                .ok()
                .and_then(|t| t.parse::<u128>().ok())
                .unwrap_or(u128::MAX)
        })
    });
    let chunked = head.all(b"transfer-encoding").next().is_some();
    if !chunked && declared.is_some_and(|n| n > limits.max_body as u128) {
        assert_eq!(first, Some(413));
        assert!(whole.closed && whole.messages.is_empty());
    }
});
