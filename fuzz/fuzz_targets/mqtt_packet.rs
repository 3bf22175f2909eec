//! Fuzz target: the MQTT 3.1.1 / 5 packet codec.
//!
//! Input layout: byte 0 picks the version (even: 3.1.1, odd: 5) and, in its
//! high bits, a small maximum packet size (0: 1 MiB) so the too-large path
//! is common; byte 1 seeds how the rest is cut into reads; the rest is the
//! byte stream a client sends. Checked: whole and split reads decode the
//! same packets and stop with the same error; no packet is larger than the
//! maximum or than the input; every packet decoded re-encodes to bytes that
//! decode to the same packet. It must not depend on anything but the input.
#![no_main]

use ducq::transport::mqtt::codec::{decode, encode};
use ducq::transport::mqtt::packet::Version;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

/// Decodes `chunks` as a connection receives them: each appended to a
/// buffer, packets taken from its front. Returns each packet's bytes as
/// re-encoded, the error that ended the stream, and the bytes left.
fn run(chunks: &[&[u8]], v: Version, max: u32) -> (Vec<Vec<u8>>, Option<String>, usize) {
    let mut buf = Vec::new();
    let mut packets = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match decode(&buf, v, max) {
                Ok(Some((p, n))) => {
                    assert!(n <= buf.len() && n as u64 <= u64::from(max));
                    let mut wire = Vec::new();
                    encode(&p, v, &mut wire);
                    let (again, m) = decode(&wire, v, u32::MAX)
                        .expect("re-encoded packet decodes")
                        .expect("re-encoded packet is whole");
                    assert_eq!(m, wire.len());
                    assert_eq!(again, p, "encode -> decode changed the packet");
                    packets.push(wire);
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(e) => return (packets, Some(e.to_string()), buf.len()),
            }
        }
    }
    (packets, None, buf.len())
}

fuzz_target!(|data: &[u8]| {
    let [mode, seed, stream @ ..] = data else {
        return;
    };
    let v = if mode % 2 == 0 { Version::V311 } else { Version::V5 };
    let max = match mode >> 1 {
        0 => 1 << 20,
        n => u32::from(n) * 2,
    };
    let whole = run(&[stream], v, max);
    let chunks = oracle::split_by_seed(stream, *seed);
    let pieces = run(&chunks, v, max);
    // An error may be found earlier in pieces (the first byte or the size
    // alone) than the whole stream shows it: compare packets and error.
    assert_eq!(whole.0, pieces.0, "split reads changed the packets");
    assert_eq!(whole.1, pieces.1, "split reads changed the error");
    if whole.1.is_none() {
        assert_eq!(whole.2, pieces.2);
    }
});
