//! Fan-outs share their bytes between subscribers' output queues (one
//! encoding per transport kind, large bodies shared with the last-message
//! store). These tests check that sharing never changes what each
//! connection receives or in which order, mixed transports included, and
//! that the slow-consumer bound still holds with shared output.

mod util;

use std::net::TcpStream;
use std::time::Duration;

use ducq::server::Settings;
use tungstenite::Message;
use util::{ws_next, Peer, TestServer, WAIT};

/// A payload of `len` bytes that differs with `seed`.
fn payload(seed: usize, len: usize) -> String {
    let mut s = format!("{seed}:");
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut i = seed;
    while s.len() < len {
        s.push(alphabet[i % alphabet.len()] as char);
        i = i.wrapping_mul(31).wrapping_add(7);
    }
    s
}

#[test]
fn small_and_large_messages_reach_tcp_ws_and_the_publisher_intact_and_in_order() {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen_http("127.0.0.1:0").expect("http listener");
    });
    let mut subs: Vec<Peer> = (0..3).map(|_| srv.peer()).collect();
    for s in subs.iter_mut() {
        s.sub("mix/one");
    }
    let mut pattern = srv.peer();
    pattern.sub("mix/*");
    let stream = TcpStream::connect(srv.addrs[1]).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let (mut ws, _) =
        tungstenite::client(format!("ws://{}/", srv.addrs[1]), stream).expect("handshake");
    ws.send(Message::text("sub mix/one\n")).unwrap();
    assert_eq!(ws_next(&mut ws), b"ACK");

    // The publisher follows its own route: ACK, then its message, each time.
    let mut p = srv.peer();
    p.sub("mix/one");
    let sizes = [10, 100_000, 20, 9_000, 8_191, 8_192, 300_000, 1, 65_536, 40];
    let messages: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| format!("pub mix/one\n{}", payload(i, n)).into_bytes())
        .collect();
    // Pipelined, so frames are split across reads and several share a turn.
    let mut all = Vec::new();
    for m in &messages {
        all.extend_from_slice(format!("{}\n", m.len()).as_bytes());
        all.extend_from_slice(m);
    }
    p.raw(&all);
    for m in &messages {
        p.expect(b"ACK");
        p.expect(m);
    }
    for s in subs.iter_mut().chain(std::iter::once(&mut pattern)) {
        for m in &messages {
            s.expect(m);
        }
    }
    for m in &messages {
        assert_eq!(&ws_next(&mut ws), m);
    }

    // The last-message store holds the last one, byte-identical.
    let mut late = srv.peer();
    late.send(b"sub mix/one\nlast");
    late.expect(messages.last().unwrap());
    p.send(format!("pub mix/two\n{}", payload(99, 50_000)).as_bytes());
    p.expect(b"ACK");
    let want = format!("pub mix/two\n{}", payload(99, 50_000)).into_bytes();
    pattern.expect(&want);
    late.send(b"sub mix/*\nlast");
    late.expect(messages.last().unwrap());
    late.expect(&want);
    for s in subs.iter_mut() {
        s.expect_silence(Duration::from_millis(100));
    }
}

#[test]
fn slow_consumer_of_large_shared_messages_is_cut_at_its_limit() {
    // A high-water mark at the hard limit: no back-pressure, the limit
    // alone (the hard limit with back-pressure: tests/back_pressure.rs).
    let max_output = 1 << 20;
    let srv = TestServer::with(Settings {
        max_output,
        output_high_water: max_output,
        ..Settings::default()
    });
    let slow = TcpStream::connect(srv.addr).unwrap();
    util::set_rcvbuf(&slow, 4096);
    let mut slow = Peer::from_stream(slow);
    slow.sub("big");
    let mut fast = srv.peer();
    fast.sub("big");
    let count = 200;
    let body = payload(7, 64 << 10);
    let reader = std::thread::spawn(move || {
        for i in 0..count {
            let got = fast.recv();
            assert!(got.starts_with(format!("pub big\n{i} ").as_bytes()));
        }
    });
    let mut p = srv.peer();
    for i in 0..count {
        p.send(format!("pub big\n{i} {body}").as_bytes());
        p.expect(b"ACK");
    }
    reader.join().expect("fast subscriber missed messages");
    // 13 MB were published and the slow peer read nothing: it was cut off
    // (it no longer shows in lsconn), and everyone else was served.
    let slow_id = slow.id();
    let mut admin = srv.peer();
    admin.send(b"lsconn");
    admin.expect(b"PARTS");
    loop {
        let line = admin.recv();
        if line == b"END" {
            break;
        }
        assert!(
            !line.starts_with(slow_id.as_bytes()),
            "slow peer still connected"
        );
    }
}

/// Subscribers that read in random amounts with random pauses, so output
/// queues fill, are written in part, and resume mid-segment at every kind
/// of boundary (header, body, shared and owned segments). Every message
/// must arrive intact and in order on TCP and WebSocket alike. Seeded: a
/// failure names its seed, round and message.
#[test]
fn slow_readers_at_random_paces_get_every_message_intact_and_in_order() {
    // More is published per round than the kernel buffers for a socket
    // (several MB on loopback), so the server's own queues fill too.
    let srv = TestServer::with_setup(
        Settings {
            max_output: 64 << 20,
            ..Settings::default()
        },
        |r| {
            r.listen_http("127.0.0.1:0").expect("http listener");
        },
    );
    for round in 0..4u64 {
        let mut seed = 0x5eed_0000_u64 + round;
        let sizes: Vec<usize> = (0..150)
            .map(|_| match xorshift(&mut seed) % 5 {
                0 => xorshift(&mut seed) % 64,
                1 => 8_150 + xorshift(&mut seed) % 100,
                2 => 30_000 + xorshift(&mut seed) % 10_000,
                _ => xorshift(&mut seed) % 150_000,
            })
            .collect();
        let messages: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                format!("pub pace\n{}", payload(i + 100 * round as usize, n)).into_bytes()
            })
            .collect();

        let readers: Vec<_> = (0..2u64)
            .map(|k| {
                // One with a small receive buffer, so the server's writes
                // stop part way through nearly every message.
                let stream = TcpStream::connect(srv.addr).unwrap();
                if k == 0 {
                    util::set_rcvbuf(&stream, 32 << 10);
                }
                let mut s = Peer::from_stream(stream);
                s.sub("pace");
                let want = messages.clone();
                let mut rng = seed ^ (k + 1).wrapping_mul(0x9e37_79b9);
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    for (i, m) in want.iter().enumerate() {
                        let got = read_frame_slowly(&mut s.stream, &mut buf, &mut rng)
                            .unwrap_or_else(|e| panic!("round {round} tcp {k} message {i}: {e}"));
                        assert!(got == *m, "round {round} tcp {k} message {i} differs");
                    }
                })
            })
            .collect();
        let stream = TcpStream::connect(srv.addrs[1]).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let (mut ws, _) =
            tungstenite::client(format!("ws://{}/", srv.addrs[1]), stream).expect("handshake");
        ws.send(Message::text("sub pace\n")).unwrap();
        assert_eq!(ws_next(&mut ws), b"ACK");
        let want = messages.clone();
        let mut ws_rng = seed ^ 0xabcd;
        let ws_reader = std::thread::spawn(move || {
            for (i, m) in want.iter().enumerate() {
                if xorshift(&mut ws_rng) % 3 == 0 {
                    std::thread::sleep(Duration::from_millis(xorshift(&mut ws_rng) as u64 % 4));
                }
                assert!(
                    ws_next(&mut ws) == *m,
                    "round {round} ws message {i} differs"
                );
            }
        });

        let mut p = srv.peer();
        let mut all = Vec::new();
        for m in &messages {
            all.extend_from_slice(format!("{}\n", m.len()).as_bytes());
            all.extend_from_slice(m);
        }
        p.raw(&all);
        for _ in &messages {
            p.expect(b"ACK");
        }
        for r in readers {
            r.join().expect("a TCP subscriber");
        }
        ws_reader.join().expect("the WebSocket subscriber");
    }
}

/// Reads the next length-framed body from `s`, a random 1..=40 000 bytes
/// at a time with random pauses of up to 3 ms.
fn read_frame_slowly(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    rng: &mut u64,
) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let len: usize = std::str::from_utf8(&buf[..nl])
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or("bad header")?;
            if buf.len() > nl + len {
                let body = buf[nl + 1..nl + 1 + len].to_vec();
                buf.drain(..nl + 1 + len);
                return Ok(body);
            }
        }
        if std::time::Instant::now() > deadline {
            return Err("timed out".into());
        }
        if xorshift(rng) % 4 == 0 {
            std::thread::sleep(Duration::from_micros(xorshift(rng) as u64 % 3000));
        }
        let mut chunk = vec![0u8; 1 + xorshift(rng) % 40_000];
        match s.read(&mut chunk) {
            Ok(0) => return Err("connection closed".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// xorshift64: a repeatable stream of pseudo-random numbers.
fn xorshift(state: &mut u64) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % (1 << 32)) as usize
}
