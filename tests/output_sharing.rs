//! Fan-outs share their bytes between subscribers' output queues (one
//! encoding per transport kind, large bodies shared with the last-message
//! store). These tests check that sharing never changes what each
//! connection receives or in which order, mixed transports included, and
//! that the slow-consumer bound still holds with shared output.

mod util;

use std::net::TcpStream;
use std::time::Duration;

use ducq::server::Settings;
use tungstenite::{Message, WebSocket};
use util::{Peer, TestServer, WAIT};

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
    assert_eq!(next(&mut ws), b"ACK");

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
        assert_eq!(&next(&mut ws), m);
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
    let max_output = 1 << 20;
    let srv = TestServer::with(Settings {
        max_output,
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

/// The next data message of a WebSocket, as bytes.
fn next(ws: &mut WebSocket<TcpStream>) -> Vec<u8> {
    loop {
        match ws.read().expect("read") {
            Message::Text(t) => return t.as_bytes().to_vec(),
            Message::Binary(b) => return b.to_vec(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
