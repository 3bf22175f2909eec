//! Streamed payloads (PROTOCOL.md §12) over real sockets: the exact bytes
//! of parts, concurrent streams reassembled, abandoned streams, and the
//! window that pauses a publisher instead of dropping a slow subscriber.

mod util;

use std::collections::HashMap;
use std::time::Duration;

use ducq::proto::stream::{parse_part, Part};
use ducq::server::Settings;
use util::{set_rcvbuf, Peer, Rng, TestServer};

const SHORT: Duration = Duration::from_millis(150);

#[test]
fn parts_reach_subscribers_with_the_stream_id() {
    let srv = TestServer::start();
    let mut sub = srv.peer();
    sub.sub("log/#");
    let mut other = srv.peer();
    other.sub("elsewhere");
    let mut p = srv.peer();
    p.raw(b"16\nCONT log/a\nhello");
    p.expect_raw(b"3\nACK");
    sub.expect_raw(b"18\nCONT log/a\n1\nhello");
    p.raw(b"16\nEND log/a\n world");
    p.expect_raw(b"3\nACK");
    sub.expect_raw(b"23\nCONT log/a\n1 end\n world");
    // The next stream on the route is a new one; END alone is one part.
    p.call(b"END log/a\n", b"ACK");
    sub.expect(b"CONT log/a\n2 end\n");
    other.expect_silence(SHORT);
    // Not stored.
    sub.call(b"last log/a\n", b"ACK");
    // A part needs a route.
    p.call(b"CONT \nx", b"NACK *\n15\nmessage invalid");
    p.call(b"END x", b"NACK *\n15\nmessage invalid");
}

/// Reassembles the streams `peer` receives until `count` have ended;
/// returns their payloads by route.
fn collect(peer: &mut Peer, count: usize) -> HashMap<String, Vec<u8>> {
    let mut open: HashMap<u64, (String, Vec<u8>)> = HashMap::new();
    let mut done = HashMap::new();
    while done.len() < count {
        let msg = peer.recv();
        match parse_part(&msg) {
            Some(Part::Data {
                sid,
                route,
                bytes,
                last,
            }) => {
                let route = String::from_utf8(route.to_vec()).unwrap();
                let entry = open
                    .entry(sid)
                    .or_insert_with(|| (route.clone(), Vec::new()));
                assert_eq!(entry.0, route, "stream {sid} changed route");
                entry.1.extend_from_slice(bytes);
                if last {
                    let (route, data) = open.remove(&sid).unwrap();
                    assert!(done.insert(route, data).is_none());
                }
            }
            other => panic!("unexpected {other:?}: {:?}", String::from_utf8_lossy(&msg)),
        }
    }
    done
}

#[test]
fn concurrent_streams_interleave_and_reassemble() {
    let srv = TestServer::start();
    let mut sub = srv.peer();
    sub.sub("s/+");
    let (mut a, mut b) = (srv.peer(), srv.peer());
    let mut rng = Rng(7);
    let mut want: HashMap<String, Vec<u8>> = HashMap::new();
    // a streams on two routes at once, b on a third; parts interleave.
    for round in 0..20 {
        for (which, route) in [(0, "s/1"), (1, "s/2"), (0, "s/3")] {
            let peer = if which == 0 { &mut a } else { &mut b };
            let len = 1 + (rng.next() % 3000) as usize;
            let part = rng.bytes(len);
            want.entry(route.into())
                .or_default()
                .extend_from_slice(&part);
            let command = if round == 19 { "END" } else { "CONT" };
            let mut msg = format!("{command} {route}\n").into_bytes();
            msg.extend_from_slice(&part);
            peer.call(&msg, b"ACK");
        }
    }
    let got = collect(&mut sub, 3);
    assert_eq!(got, want);
    sub.expect_silence(SHORT);
}

#[test]
fn a_subscriber_gets_no_stream_from_its_middle() {
    let srv = TestServer::start();
    let mut early = srv.peer();
    early.sub("m");
    let mut p = srv.peer();
    p.call(b"CONT m\none", b"ACK");
    let mut late = srv.peer();
    late.sub("m");
    p.call(b"END m\ntwo", b"ACK");
    early.expect(b"CONT m\n1\none");
    early.expect(b"CONT m\n1 end\ntwo");
    late.expect_silence(SHORT);
    // Its next stream reaches both.
    p.call(b"END m\nthree", b"ACK");
    early.expect(b"CONT m\n2 end\nthree");
    late.expect(b"CONT m\n2 end\nthree");
}

#[test]
fn a_publisher_that_leaves_ends_its_streams_with_an_error() {
    let srv = TestServer::start();
    let mut sub = srv.peer();
    sub.sub("x/*");
    let mut p = srv.peer();
    p.call(b"CONT x/a\npart", b"ACK");
    p.call(b"CONT x/b\npart", b"ACK");
    sub.expect(b"CONT x/a\n1\npart");
    sub.expect(b"CONT x/b\n2\npart");
    drop(p);
    let mut errors = vec![sub.recv(), sub.recv()];
    errors.sort();
    assert_eq!(
        errors,
        vec![
            b"CONT x/a\n1 error 10\nconnection closed".to_vec(),
            b"CONT x/b\n2 error 10\nconnection closed".to_vec()
        ]
    );
    sub.expect_silence(SHORT);
}

#[test]
fn a_silent_stream_times_out() {
    let srv = TestServer::with(Settings {
        stream_timeout: Duration::from_secs(1),
        ..Settings::default()
    });
    let mut sub = srv.peer();
    sub.sub("t");
    let mut p = srv.peer();
    p.call(b"CONT t\nstart", b"ACK");
    sub.expect(b"CONT t\n1\nstart");
    // Within 1 s plus one check interval.
    sub.expect(b"CONT t\n1 error 14\ntimeout");
    // The publisher learns it on its next part; END clears it.
    p.call(b"CONT t\nlate", b"NACK *\n14\ntimeout");
    p.call(b"END t\n", b"NACK *\n14\ntimeout");
    sub.expect_silence(SHORT);
    p.call(b"END t\nfresh", b"ACK");
    sub.expect(b"CONT t\n2 end\nfresh");
}

/// A subscriber that stops reading makes the server stop reading the
/// publisher (its ACKs stop) instead of cutting the subscriber off at its
/// output limit; once it reads again, everything arrives intact.
#[test]
fn a_full_window_pauses_the_publisher_not_the_subscriber() {
    const PART: usize = 32 << 10;
    // 16 MiB in all: far more than the kernel's socket buffers on both
    // ends (up to 4 MiB each here) and 32 times the output limit.
    const PARTS: usize = 512;
    let srv = TestServer::with(Settings {
        stream_window: 128 << 10,
        max_output: 512 << 10,
        ..Settings::default()
    });
    let mut sub = srv.peer();
    set_rcvbuf(&sub.stream, 16 << 10);
    sub.sub("big");
    let mut p = srv.peer();
    let mut rng = Rng(99);
    let data = rng.bytes(PART * PARTS);
    let sender = {
        let mut raw = p.stream.try_clone().unwrap();
        let data = data.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            for (i, chunk) in data.chunks(PART).enumerate() {
                let command = if i == PARTS - 1 { "END" } else { "CONT" };
                let mut body = format!("{command} big\n").into_bytes();
                body.extend_from_slice(chunk);
                let mut frame = format!("{}\n", body.len()).into_bytes();
                frame.extend_from_slice(&body);
                raw.write_all(&frame).unwrap();
            }
        })
    };
    // The subscriber reads nothing yet: the publisher gets only the ACKs of
    // what fits in the window (plus one read's worth), not all of them. The
    // first ACK is awaited however long a busy machine takes; the count
    // ends when none came for half a second.
    p.expect(b"ACK");
    let mut acked = 1;
    while p.try_recv(Duration::from_millis(500)).is_ok() {
        acked += 1;
    }
    assert!(acked > 0 && acked < PARTS / 2, "{acked} ACKs while paused");
    let got = collect(&mut sub, 1);
    assert_eq!(got.get("big").map(Vec::len), Some(data.len()));
    assert!(got["big"] == data, "payload differs");
    for _ in acked..PARTS {
        p.expect(b"ACK");
    }
    sender.join().unwrap();
}

#[test]
fn a_subscriber_holding_a_stream_up_past_the_timeout_is_closed() {
    let srv = TestServer::with(Settings {
        stream_window: 64 << 10,
        stream_timeout: Duration::from_secs(1),
        ..Settings::default()
    });
    let mut stuck = srv.peer();
    set_rcvbuf(&stuck.stream, 8 << 10);
    stuck.sub("w");
    let mut fine = srv.peer();
    fine.sub("w");
    let mut p = srv.peer();
    let part = vec![b'z'; 16 << 10];
    let mut msg = b"CONT w\n".to_vec();
    msg.extend_from_slice(&part);
    let mut raw = p.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        let mut frame = format!("{}\n", msg.len()).into_bytes();
        frame.extend_from_slice(&msg);
        // 8 MiB: more than the kernel buffers, so the server must queue.
        for _ in 0..512 {
            raw.write_all(&frame).unwrap();
        }
        raw.write_all(b"7\nEND w\n!").unwrap();
    });
    let mut total = 0;
    loop {
        let m = fine.recv();
        match parse_part(&m) {
            Some(Part::Data { bytes, last, .. }) => {
                total += bytes.len();
                if last {
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(total, 512 * part.len() + 1);
    for _ in 0..513 {
        p.expect(b"ACK");
    }
    sender.join().unwrap();
    // The stuck one was closed as a slow consumer; the other is still
    // there. (Reading what the kernel still holds for the stuck one through
    // its tiny window would take long: ask the server instead.)
    let ids = lsconn_ids(&mut p);
    assert!(!ids.contains(&stuck.id()), "{ids:?}");
    assert!(ids.contains(&fine.id()), "{ids:?}");
}

/// The connection ids `lsconn` lists.
fn lsconn_ids(p: &mut Peer) -> Vec<String> {
    p.send(b"lsconn");
    p.expect(b"PARTS");
    let mut ids = Vec::new();
    loop {
        let m = p.recv();
        if m == b"END" {
            return ids;
        }
        let line = String::from_utf8(m).unwrap();
        ids.push(line.split(',').next().unwrap().to_string());
    }
}
