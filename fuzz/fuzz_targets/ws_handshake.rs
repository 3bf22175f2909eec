//! Fuzz target: the WebSocket opening handshake (RFC 6455 §4, PROTOCOL.md
//! §9), alone and as the front of a WebSocket connection.
//!
//! Input layout: byte 0 sets the head size cap (16 + 4 × byte), byte 1
//! seeds how the rest is cut into reads, and the rest is what a client
//! sends. Checked: whole and split reads agree; an unfinished head stays
//! within the cap; the answer is a 101, 400 or 431 as the outcome says; a
//! well-formed head gets the reference verdict and accept key; bytes after
//! an accepted request are read as frames, none lost. It must not depend on
//! anything but the input (no clock, no randomness).
#![no_main]

use ducq::transport::ws::handshake::{Handshake, ServerHandshake, MAX_HEAD};
use ducq::transport::ws::WsServer;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

use oracle::http::clean_head;
use oracle::ws::handshake_verdict;

/// Largest WebSocket message of the connection part.
const MAX_MESSAGE: usize = 200;

/// Polls a handshake the way a connection does: the input buffer grows by
/// one read at a time and is offered whole until the handshake decides.
fn poll(cap: usize, chunks: &[&[u8]]) -> (Handshake, Vec<u8>, usize) {
    let mut hs = ServerHandshake::new(cap);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        match hs.poll(&buf, &mut out) {
            Handshake::Partial => assert!(out.is_empty(), "output before a decision"),
            decided => return (decided, out, buf.len()),
        }
    }
    (Handshake::Partial, out, buf.len())
}

fuzz_target!(|data: &[u8]| {
    let [cap, seed, stream @ ..] = data else {
        return;
    };
    let cap = 16 + usize::from(*cap) * 4;
    let chunks = oracle::split_by_seed(stream, *seed);
    let (result, out, _) = poll(cap, &[stream]);
    let (split_result, split_out, seen) = poll(cap, &chunks);
    assert_eq!(result, split_result, "split reads changed the outcome");
    assert_eq!(out, split_out);

    match result {
        Handshake::Partial => assert!(stream.len() <= cap, "unfinished head past the cap"),
        Handshake::Done(n) => {
            assert!(n <= cap && n <= seen && n > 0);
            assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
            assert!(out.ends_with(b"\r\n\r\n"));
        }
        Handshake::Failed => {
            assert!(out.starts_with(b"HTTP/1.1 400 ") || out.starts_with(b"HTTP/1.1 431 "));
            assert!(oracle::http::split_responses(&out).is_ok());
        }
    }
    if let Some(head) = clean_head(stream) {
        match (handshake_verdict(&head, cap), result) {
            (Ok(accept), Handshake::Done(n)) => {
                assert_eq!(n, head.len);
                let line = format!("\r\nSec-WebSocket-Accept: {accept}\r\n");
                assert!(out.windows(line.len()).any(|w| w == line.as_bytes()));
            }
            (Err(status), Handshake::Failed) => {
                assert!(out.starts_with(format!("HTTP/1.1 {status} ").as_bytes()));
            }
            (want, got) => panic!("reference says {want:?}, handshake {got:?}"),
        }
    }

    // As the front of a connection: the same outcome, then frames.
    let whole = oracle::feed(&mut WsServer::new(MAX_MESSAGE), &[stream]);
    let pieces = oracle::feed(&mut WsServer::new(MAX_MESSAGE), &chunks);
    assert_eq!(whole, pieces, "split reads changed the connection");
    let (result, answer, _) = poll(MAX_HEAD, &[stream]);
    assert!(whole.out.starts_with(&answer));
    match result {
        Handshake::Done(n) => {
            // Nothing after the request is lost: it reads as it would on a
            // connection that was already upgraded.
            let rest = oracle::feed(&mut WsServer::upgraded(MAX_MESSAGE), &[&stream[n..]]);
            assert_eq!(whole.messages, rest.messages);
            assert_eq!(whole.out[answer.len()..], rest.out[..]);
            assert_eq!((whole.closed, whole.leftover), (rest.closed, rest.leftover));
        }
        Handshake::Failed => {
            assert!(whole.closed && whole.messages.is_empty());
            assert_eq!(whole.out, answer);
        }
        Handshake::Partial => {
            assert!(!whole.closed && whole.messages.is_empty() && whole.out.is_empty());
            assert_eq!(whole.leftover, stream.len());
        }
    }
});
