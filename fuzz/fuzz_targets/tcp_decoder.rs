//! Fuzz target: the TCP length-framing decoder (PROTOCOL.md §2).
//!
//! Input layout: byte 0 is the maximum body (0..=255, small on purpose so
//! the too-big path is reached often), byte 1 seeds how the rest is cut into
//! reads, and the rest is the byte stream a peer sends. The stream is decoded
//! once whole and once in those chunks; both must agree, every message must
//! fit the maximum, and the decoder may only write framing NACKs back.
//! It must not depend on anything but the input (no clock, no randomness).
#![no_main]

use ducq::transport::tcp::TcpCodec;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let [max_body, seed, stream @ ..] = data else {
        return;
    };
    let max_body = usize::from(*max_body);
    let whole = oracle::feed(&mut TcpCodec::new(max_body), &[stream]);
    let chunks = oracle::split_by_seed(stream, *seed);
    let pieces = oracle::feed(&mut TcpCodec::new(max_body), &chunks);
    assert_eq!(whole, pieces, "split reads changed the result");

    let mut body_bytes = 0;
    for m in &whole.messages {
        // An empty frame closes the stream, so a message is never empty.
        assert!(!m.is_empty() && m.len() <= max_body, "body of {}", m.len());
        body_bytes += m.len();
    }
    assert!(body_bytes <= stream.len());
    assert!(whole.leftover <= stream.len());
    assert!(oracle::only_framing_nacks(&whole.out));
});
