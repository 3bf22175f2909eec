//! Criterion micro-benchmarks of ducq's hot pure code: TCP frame encoding
//! and decoding, WebSocket frames (masked by a client, unmasked by the
//! server), message parsing and route matching. They measure the
//! library's codecs in isolation (no sockets, no server); end-to-end broker
//! numbers come from the `ducq-bench` binary instead.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ducq::proto::message::Message;
use ducq::proto::route;
use ducq::transport::tcp::{encode_frame, TcpCodec};
use ducq::transport::ws::frame::{FrameCodec, MaskGen, Role, OP_TEXT};
use ducq::transport::{decode_all, Decoded, Transport};

/// A publication body with a `size`-byte payload.
fn publication(size: usize) -> Vec<u8> {
    let mut body = b"pub sensors/kitchen/temperature\n".to_vec();
    body.resize(body.len() + size, b'x');
    body
}

fn tcp_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_frame/encode");
    for size in [64usize, 64 * 1024] {
        let body = publication(size);
        let mut out = Vec::with_capacity(body.len() + 16);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("{size}B"), |b| {
            b.iter(|| {
                out.clear();
                encode_frame(black_box(&body), &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

/// Decodes every frame in `input`; returns how many.
fn decode_every(codec: &mut TcpCodec, input: &mut [u8], out: &mut Vec<u8>) -> usize {
    let mut n = 0;
    let drained = decode_all(codec, input, out, |_, m, _| {
        black_box(&m);
        n += 1;
    });
    assert!(!drained.closed, "unexpected close");
    n
}

fn tcp_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_frame/decode");
    let cases = [
        ("1x64B", 1usize, 64usize),
        ("100x64B", 100, 64),
        ("1x64KiB", 1, 64 * 1024),
    ];
    for (name, frames, size) in cases {
        let mut input = Vec::new();
        for _ in 0..frames {
            encode_frame(&publication(size), &mut input);
        }
        let mut codec = TcpCodec::new(1 << 20);
        let mut out = Vec::new();
        g.throughput(Throughput::Elements(frames as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                assert_eq!(
                    decode_every(&mut codec, black_box(&mut input), &mut out),
                    frames
                )
            })
        });
    }
    // The worst split: a frame arriving one byte at a time.
    let mut frame = Vec::new();
    encode_frame(&publication(64), &mut frame);
    g.throughput(Throughput::Elements(1));
    g.bench_function("1x64B_bytewise", |b| {
        let mut codec = TcpCodec::new(1 << 20);
        let mut out = Vec::new();
        b.iter(|| {
            // Offer ever longer prefixes, as a reader appending bytes would.
            for end in 1..=frame.len() {
                let step = codec.decode(&mut frame[..end], &mut out);
                if let Decoded::Message(m) = step.decoded {
                    black_box(&m);
                }
            }
        })
    });
    g.finish();
}

/// A client's masked frames as the server reads them, and a client masking
/// one: the WebSocket cost per message on each end.
fn ws_frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("ws_frame");
    for size in [64usize, 64 * 1024] {
        let body = publication(size);
        let mut client = FrameCodec::new(Role::Client(MaskGen::from_seed(7)), 1 << 20);
        let mut out = Vec::with_capacity(body.len() + 16);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("encode_masked/{size}B"), |b| {
            b.iter(|| {
                out.clear();
                client.encode(OP_TEXT, black_box(&body), &mut out);
                black_box(out.len())
            })
        });
        let mut wire = Vec::new();
        client.encode(OP_TEXT, &body, &mut wire);
        let mut server = FrameCodec::new(Role::Server, 1 << 20);
        let mut input = wire.clone();
        let mut replies = Vec::new();
        g.bench_function(format!("decode_masked/{size}B"), |b| {
            b.iter(|| {
                // Unmasking is in place: start from the masked bytes.
                input.copy_from_slice(&wire);
                let step = server.decode(black_box(&mut input), &mut replies);
                black_box(step.consumed)
            })
        });
    }
    g.finish();
}

fn message_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("message/parse");
    let bodies = [
        ("pub_64B", publication(64)),
        ("pub_64KiB", publication(64 * 1024)),
        ("bare_lscmd", b"lscmd".to_vec()),
    ];
    for (name, body) in bodies {
        g.bench_function(name, |b| {
            b.iter(|| black_box(Message::parse(black_box(&body)).map(|m| m.route.len())))
        });
    }
    g.finish();
}

fn route_match(c: &mut Criterion) {
    let mut g = c.benchmark_group("route/match");
    let long_a = vec![b'a'; 256];
    let cases: [(&str, &[u8], &[u8]); 6] = [
        (
            "exact_hit",
            b"sensors/kitchen/temperature",
            b"sensors/kitchen/temperature",
        ),
        (
            "exact_miss",
            b"sensors/kitchen/temperature",
            b"sensors/kitchen/humidity",
        ),
        ("prefix_star", b"sensors/*", b"sensors/kitchen/temperature"),
        (
            "middle_star",
            b"sensors/*/temperature",
            b"sensors/kitchen/temperature",
        ),
        ("many_stars", b"a*b*c*d", b"axxbxxbxxcxxcxxd"),
        ("backtracking_256", b"*a*a*a*a*b", &long_a),
    ];
    for (name, pattern, route_bytes) in cases {
        g.bench_function(name, |b| {
            b.iter(|| route::matches(black_box(pattern), black_box(route_bytes)))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    tcp_encode,
    tcp_decode,
    ws_frame,
    message_parse,
    route_match
);
criterion_main!(benches);
