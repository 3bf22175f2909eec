//! Issue-2 acceptance over real sockets: a thousand subscribers, slow and
//! stalled peers, garbage input, idle timeout and the connection limit. Each
//! test checks that everyone else keeps being served.

mod oracle;
mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use ducq::server::Settings;
use util::{lsconn, Peer, Rng, TestServer};

#[test]
fn thousand_subscribers_all_receive_one_publication() {
    let _ = ducq::server::os::raise_fd_limit();
    let srv = TestServer::start();
    let mut subs: Vec<Peer> = (0..1000).map(|_| srv.peer()).collect();
    for s in subs.iter_mut() {
        s.send(b"sub fan/out\n");
    }
    for s in subs.iter_mut() {
        s.expect(b"ACK");
    }
    let mut p = srv.peer();
    p.publish("fan/out", "to everyone");
    for s in subs.iter_mut() {
        s.expect(b"pub fan/out\nto everyone");
    }
}

#[test]
fn slow_subscriber_is_cut_off_at_its_limit_and_delays_nobody() {
    // Well above one turn's read budget (256 KiB), as the default is. The
    // slow peer holds its publisher back (back-pressure) until the output
    // timeout cuts it; then the publisher and the fast peer go on.
    let max_output = 4 << 20;
    let srv = TestServer::with(Settings {
        max_output,
        output_timeout: Duration::from_millis(300),
        ..Settings::default()
    });
    // Shrink the kernel buffers so the server's own queue must fill.
    let slow = TcpStream::connect(srv.addr).unwrap();
    util::set_rcvbuf(&slow, 4096);
    slow.set_read_timeout(Some(util::WAIT)).unwrap();
    let mut slow_peer = Peer::from_stream(slow);
    slow_peer.sub("load");
    let mut fast = srv.peer();
    fast.sub("load");
    let mut lsconn_before = srv.peer();
    let slow_id = slow_peer.id();
    assert!(lsconn(&mut lsconn_before)
        .iter()
        .any(|l| l.starts_with(&slow_id)));

    // Far more than the slow peer's limit plus any kernel buffering.
    let count = 20_000;
    let reader = std::thread::spawn(move || {
        for i in 0..count {
            let got = fast.recv();
            assert!(got.starts_with(format!("pub load\n{i} ").as_bytes()));
        }
    });
    let mut p = srv.peer();
    let payload = "x".repeat(1000);
    let started = Instant::now();
    for i in 0..count {
        p.send(format!("pub load\n{i} {payload}").as_bytes());
    }
    for _ in 0..count {
        p.expect(b"ACK");
    }
    reader.join().expect("fast subscriber missed messages");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The slow peer was disconnected: it no longer shows in lsconn.
    let lines = lsconn(&mut lsconn_before);
    assert!(!lines.iter().any(|l| l.starts_with(&slow_id)), "{lines:?}");
}

#[test]
fn partial_frame_then_stall_delays_nobody() {
    let srv = TestServer::start();
    let mut stall = srv.peer();
    stall.raw(b"100\npub a\nonly part of it");
    let mut huge = srv.peer();
    huge.raw(b"1000000\npub a\n");
    let mut s = srv.peer();
    s.sub("a");
    let mut p = srv.peer();
    let t = Instant::now();
    for i in 0..100 {
        p.publish("a", &i.to_string());
        s.expect(format!("pub a\n{i}").as_bytes());
    }
    assert!(t.elapsed() < Duration::from_secs(5));
    // The staller can still finish its frame and be answered.
    stall.raw(&[b'x'; 100 - b"pub a\nonly part of it".len()]);
    stall.expect(b"ACK");
}

/// The framed NACK the server sends for `state`'s code and text.
fn framed_nack(code: u8, text: &str) -> Vec<u8> {
    let body = format!("NACK *\n{code}\n{text}");
    format!("{}\n{body}", body.len()).into_bytes()
}

/// What the server answers to `junk` followed by the end of the stream
/// (PROTOCOL.md §2–§5, default limits), worked out independently of the
/// codec: a header is 1 to 64 ASCII digits and a newline; anything else
/// there is NACK 15 and the end; length 0 is NACK 10 and the end; a length
/// over 1 MiB is NACK 16 and skipped; a whole body is a message, answered
/// NACK 15 when invalid (a NUL in its route) and NACK 17 otherwise (these
/// junk commands do not exist); a body cut short by the end is dropped.
fn reply_to_junk(mut junk: &[u8]) -> Vec<u8> {
    let mut reply = Vec::new();
    while !junk.is_empty() {
        let digits = junk.iter().take_while(|b| b.is_ascii_digit()).count();
        match junk.get(digits) {
            None if digits <= 64 => return reply,
            Some(b'\n') if digits > 0 && digits <= 64 => {}
            _ => {
                reply.extend(framed_nack(15, "message invalid"));
                return reply;
            }
        }
        let len: u128 = std::str::from_utf8(&junk[..digits])
            .unwrap()
            .parse()
            .unwrap_or(u128::MAX);
        junk = &junk[digits + 1..];
        if len == 0 {
            reply.extend(framed_nack(10, "connection closed"));
            return reply;
        }
        if len > 1 << 20 {
            reply.extend(framed_nack(16, "message too big"));
            junk = &junk[(len.min(junk.len() as u128)) as usize..];
            continue;
        }
        let Some(body) = junk.get(..len as usize) else {
            return reply;
        };
        match oracle::split_message(body) {
            None => reply.extend(framed_nack(15, "message invalid")),
            Some(_) => reply.extend(framed_nack(17, "command unknown")),
        }
        junk = &junk[len as usize..];
    }
    reply
}

#[test]
fn garbage_never_panics_the_server_and_others_are_served() {
    let srv = TestServer::start();
    let mut s = srv.peer();
    s.sub("g");
    let mut p = srv.peer();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for round in 0..200 {
        let mut bad = Peer::connect(srv.addr);
        let junk = match round % 5 {
            0 => {
                let n = 1 + (rng.next() % 512) as usize;
                let mut v = rng.bytes(n);
                // Now and then a plausible header in front.
                if round % 3 == 0 {
                    let mut h = format!("{}\n", rng.next() % 600).into_bytes();
                    h.append(&mut v);
                    v = h;
                }
                v
            }
            1 => b"99999999999999999999999999\n".to_vec(),
            2 => b"18446744073709551615\nxx".to_vec(),
            3 => b"9\npub \0\0\0\n\0".to_vec(),
            _ => {
                let mut v = format!("{}\n", 40).into_bytes();
                v.extend(rng.bytes(40));
                v
            }
        };
        bad.raw(&junk);
        bad.stream.shutdown(Shutdown::Write).unwrap();
        // The junk connection gets exactly its answer, then the end.
        let mut got = Vec::new();
        bad.stream.read_to_end(&mut got).expect("closed");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&reply_to_junk(&junk)),
            "round {round}: {junk:?}"
        );
        if round % 10 == 0 {
            p.publish("g", &round.to_string());
            s.expect(format!("pub g\n{round}").as_bytes());
        }
    }
    p.call(b"PING still\nalive", b"PONG still\nalive");
    // Every junk connection is gone.
    assert_eq!(
        lsconn(&mut p),
        [format!("{},g\n", s.id()), format!("{},\n", p.id())]
    );
}

#[test]
fn nul_bytes_in_routes_are_refused_cleanly() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.call(b"sub a\0b\n", b"NACK *\n15\nmessage invalid");
    p.call(b"pub \0\nx", b"NACK *\n15\nmessage invalid");
    p.publish("ok", "fine");
}

#[test]
fn idle_clients_are_pinged_then_closed_answering_ones_stay() {
    let srv = TestServer::with(Settings {
        idle_timeout: Duration::from_secs(2),
        ..Settings::default()
    });
    let mut silent = srv.peer();
    let mut polite = srv.peer();
    silent.call(b"sub a\n", b"ACK");
    polite.call(b"sub a\n", b"ACK");
    // Half the timeout: both are pinged.
    polite.expect(b"PING _\nping");
    polite.send(b"PONG _\nping");
    silent.expect(b"PING _\nping");
    // The silent one is closed at the timeout; the polite one keeps going.
    silent.expect_closed();
    // Still served (answering any further keep-alive on the way).
    polite.send(b"PING x\n");
    loop {
        let m = polite.recv();
        if m == b"PING _\nping" {
            polite.send(b"PONG _\nping");
            continue;
        }
        assert_eq!(m, b"PONG x\n");
        break;
    }
}

/// Whatever the idle timeout, a silent connection gets its keep-alive PING
/// before it is closed: the timeout is checked often enough that the
/// window between half the timeout and the timeout is never skipped. (With
/// a check once a second, a 2 s timeout sometimes closed a subscriber
/// that was never pinged; with 1 s, every other one.)
#[test]
fn a_short_idle_timeout_still_pings_before_closing() {
    let srv = TestServer::with(Settings {
        idle_timeout: Duration::from_secs(1),
        ..Settings::default()
    });
    // Connections opened at different moments relative to the checks.
    let mut peers = Vec::new();
    for _ in 0..8 {
        let mut p = srv.peer();
        p.call(b"sub quiet\n", b"ACK");
        peers.push(p);
        std::thread::sleep(Duration::from_millis(37));
    }
    for p in peers.iter_mut() {
        p.expect(b"PING _\nping");
        p.expect_closed();
    }
    // Answering keeps a connection open well past the timeout.
    let mut polite = srv.peer();
    polite.call(b"sub quiet\n", b"ACK");
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        polite.expect(b"PING _\nping");
        polite.send(b"PONG _\nping");
    }
    polite.call(b"PING x\n", b"PONG x\n");
}

#[test]
fn connection_limit_refuses_clearly_and_recovers() {
    let srv = TestServer::with(Settings {
        max_connections: 3,
        ..Settings::default()
    });
    let mut held: Vec<Peer> = (0..3).map(|_| srv.peer()).collect();
    for p in held.iter_mut() {
        p.call(b"PING a\n", b"PONG a\n");
    }
    let mut refused = srv.peer();
    refused.expect(b"NACK *\n21\ncollection reached maximum count");
    refused.expect_closed();
    drop(held.pop());
    // The freed slot is usable again (the close is noticed asynchronously).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut p = srv.peer();
        p.send(b"PING b\n");
        match p.try_recv(Duration::from_secs(2)) {
            Ok(m) if m == b"PONG b\n" => break,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            other => panic!("slot not freed: {other:?}"),
        }
    }
}

#[test]
fn many_connections_dropped_mid_frame_leave_server_healthy() {
    let srv = TestServer::start();
    for _ in 0..300 {
        let mut c = TcpStream::connect(srv.addr).unwrap();
        let _ = c.write_all(b"50\npub x\nhalf");
    }
    let mut p = srv.peer();
    p.call(b"PING ok\n", b"PONG ok\n");
    // All of them are eventually gone from the listing.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = lsconn(&mut p).len();
        if n == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{n} connections still listed");
        std::thread::sleep(Duration::from_millis(20));
    }
}
