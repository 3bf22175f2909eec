//! Fuzz target: WebSocket data framing (RFC 6455 §5, PROTOCOL.md §9) on
//! either side of a connection.
//!
//! Input layout: byte 0 is the largest message (0..=255, small so the
//! too-big path is common), byte 1 seeds how the rest is cut into reads,
//! byte 2 picks the side (even: a server reading client frames; odd: a
//! client reading server frames, its masks seeded by the byte), and the
//! rest is the frame stream. Checked: whole and split reads agree; the
//! decoder equals the reference reader (messages, pongs and close codes
//! sent back, close, leftover); and every message read survives server
//! encode → client decode and client encode → server decode unchanged. It
//! must not depend on anything but the input.
#![no_main]

use ducq::transport::ws::frame::{FrameCodec, MaskGen, Role, OP_TEXT};
use ducq::transport::ws::WsServer;
use ducq::transport::Transport;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

use oracle::ws::{answers_in, is_server_text_frame, read_frames, Frames, Side};

fn codec(max: usize, side: Side, seed: u8) -> FrameCodec {
    match side {
        Side::Server => FrameCodec::new(Role::Server, max),
        Side::Client => FrameCodec::new(Role::Client(MaskGen::from_seed(seed.into())), max),
    }
}

fuzz_target!(|data: &[u8]| {
    let [max, seed, mode, stream @ ..] = data else {
        return;
    };
    let max = usize::from(*max);
    let side = if mode % 2 == 0 {
        Side::Server
    } else {
        Side::Client
    };
    let whole = oracle::feed(&mut Frames(&mut codec(max, side, *mode)), &[stream]);
    let chunks = oracle::split_by_seed(stream, *seed);
    let pieces = oracle::feed(&mut Frames(&mut codec(max, side, *mode)), &chunks);
    assert_eq!(whole, pieces, "split reads changed the result");

    let reference = read_frames(stream, side, max);
    assert_eq!(whole.messages, reference.messages);
    assert_eq!(whole.closed, reference.closed);
    assert_eq!(whole.leftover, reference.leftover);
    assert_eq!(answers_in(&whole.out, side), Some(reference.answers));

    // Round trips of what was read, both directions.
    let mut server = WsServer::upgraded(usize::MAX);
    let mut client = FrameCodec::new(Role::Client(MaskGen::from_seed(u64::from(*seed))), max);
    let (mut down, mut up) = (Vec::new(), Vec::new());
    for m in &whole.messages {
        let mut one = Vec::new();
        server.encode(m, &mut one);
        assert!(is_server_text_frame(&one, m));
        down.extend_from_slice(&one);
        client.encode(OP_TEXT, m, &mut up);
    }
    let read = oracle::feed(&mut Frames(&mut codec(max, Side::Client, 1)), &[&down]);
    assert_eq!(read.messages, whole.messages);
    assert!(read.out.is_empty() && !read.closed && read.leftover == 0);
    let read = oracle::feed(&mut WsServer::upgraded(max), &[&up]);
    assert_eq!(read.messages, whole.messages);
    assert!(read.out.is_empty() && !read.closed && read.leftover == 0);
});
