//! Back-pressure over real sockets (issue 19): a message that takes a
//! subscriber's queued output past the high-water mark holds its publisher
//! (it is not read) until the queue drains below the low-water mark; a
//! subscriber above the mark that takes nothing for the output timeout, or
//! passes the hard limit, is disconnected. These check what a client sees:
//! a reader that pauses loses nothing, a slow reader that keeps draining is
//! never cut, a reader that never reads is cut while the others go on, and
//! nobody on another route is held.
//!
//! The subscribers that fall behind shrink their receive buffer so that the
//! server's own queue, not the kernel's, fills (a loopback socket's buffer
//! grows to 32 MB otherwise). Every published volume is
//! well past the hard limit given plus what the kernel buffers, so without
//! back-pressure these subscribers would be cut off.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ducq::server::observe::Observe;
use ducq::server::Settings;
use serde_json::Value;
use util::{lsconn, Peer, TestServer};

/// A server with the `stats` command, for the back-pressure counters.
fn server(settings: Settings) -> TestServer {
    TestServer::with_setup(settings, |r| {
        let observe = Observe::new(false).expect("observe");
        r.add_command_set(Box::new(observe)).expect("command set");
    })
}

fn stats(p: &mut Peer) -> Value {
    p.send(b"stats _\n");
    serde_json::from_slice(&p.recv()).expect("stats is JSON")
}

/// Polls `stats` until `field` is `want`.
fn wait_stat(p: &mut Peer, field: &str, want: u64) {
    wait_until(p, field, |v| v == want);
}

/// Polls `stats` until `field` satisfies `ok`.
fn wait_until(p: &mut Peer, field: &str, ok: impl Fn(u64) -> bool) {
    let deadline = Instant::now() + util::WAIT * 4;
    loop {
        let s = stats(p);
        if s[field].as_u64().is_some_and(&ok) {
            return;
        }
        assert!(Instant::now() < deadline, "{field} never as wanted: {s}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Held at least once. How many times depends on the kernel: the socket
/// buffers of a reader that is behind grow while the server writes into
/// them, so its queue may drain below the low-water mark and fill again.
fn wait_held(p: &mut Peer) {
    wait_until(p, "publisher_holds", |n| n >= 1);
}

/// A subscriber whose kernel receive buffer is small, so that what it does
/// not read queues in the server. Not smaller: below the loopback MSS
/// (64 KiB) a reader that paused gets its window back only through the
/// sender's zero-window probes, a few KB/s.
fn narrow_subscriber(srv: &TestServer, route: &str) -> Peer {
    let stream = TcpStream::connect(srv.addr).unwrap();
    util::set_rcvbuf(&stream, 128 << 10);
    let mut p = Peer::from_stream(stream);
    p.sub(route);
    p
}

fn message(route: &str, i: usize, size: usize) -> Vec<u8> {
    let mut m = format!("pub {route}\n{i} ").into_bytes();
    m.resize(m.len() + size, b'a' + (i % 26) as u8);
    m
}

/// Writes `count` publications of `size` bytes to `route` from a thread of
/// its own (blocking writes: they stall while the server holds it back),
/// optionally closes its sending side after the last, and counts the ACKs
/// on another thread. The returned handle yields the ACK count once the
/// server closed the connection or `count` ACKs arrived; the counter shows
/// them as they come.
fn flood(
    srv: &TestServer,
    route: &str,
    count: usize,
    size: usize,
    fin: bool,
) -> (JoinHandle<usize>, Arc<AtomicUsize>) {
    let stream = TcpStream::connect(srv.addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reader = stream.try_clone().unwrap();
    let route = route.to_string();
    let writer = std::thread::spawn(move || {
        let mut w = std::io::BufWriter::with_capacity(64 << 10, &stream);
        for i in 0..count {
            let body = message(&route, i, size);
            writeln!(w, "{}", body.len()).unwrap();
            w.write_all(&body).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        if fin {
            stream.shutdown(Shutdown::Write).unwrap();
        }
        stream
    });
    let progress = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&progress);
    let handle = std::thread::spawn(move || {
        reader
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut acks = 0;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while acks < count {
            match reader.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while buf.starts_with(b"3\nACK") {
                buf.drain(..5);
                acks += 1;
            }
            seen.store(acks, Ordering::SeqCst);
            assert!(
                buf.len() < 5 || buf.starts_with(b"3\nACK"),
                "unexpected reply: {:?}",
                String::from_utf8_lossy(&buf)
            );
        }
        let stream = writer.join().expect("publisher writes");
        if fin {
            // Everything answered, then the server closes its side too.
            assert_eq!(reader.read(&mut chunk).unwrap_or(0), 0);
        }
        drop(stream);
        acks
    });
    (handle, progress)
}

/// Receives `count` publications of `route`, in order and intact.
fn expect_all(p: &mut Peer, route: &str, count: usize, size: usize) {
    for i in 0..count {
        let got = p.recv();
        assert!(got == message(route, i, size), "message {i} differs");
    }
}

#[test]
fn reader_that_pauses_for_a_second_receives_everything() {
    let srv = server(Settings {
        max_output: 4 << 20,
        ..Settings::default()
    });
    let mut sub = narrow_subscriber(&srv, "burst");
    let mut admin = srv.peer();
    // 16 MB: four times the hard limit, well past what the kernel holds.
    let (count, size) = (16_000, 1000);
    // The publisher closes its side right after the last message, most
    // likely while held: what it sent before must still all be handled.
    let (acks, _) = flood(&srv, "burst", count, size, true);
    wait_held(&mut admin);
    std::thread::sleep(Duration::from_secs(1));
    expect_all(&mut sub, "burst", count, size);
    assert_eq!(acks.join().expect("acks"), count);
    let s = stats(&mut admin);
    assert_eq!(s["slow_consumer_disconnects"], 0, "{s}");
    assert_eq!(s["dropped_bytes"], 0, "{s}");
    sub.expect_silence(Duration::from_millis(100));
}

/// A low-water mark of 0 means "let go once the queue is empty": a reader
/// that pauses and then drains everything lets its publisher go, and is
/// not cut for having made no progress once nothing is left to write.
#[test]
fn a_low_water_mark_of_zero_lets_go_once_the_queue_is_empty() {
    let srv = server(Settings {
        output_low_water: 0,
        output_timeout: Duration::from_secs(2),
        ..Settings::default()
    });
    let mut sub = narrow_subscriber(&srv, "empty");
    let mut admin = srv.peer();
    let (count, size) = (8_000, 1000);
    let (acks, _) = flood(&srv, "empty", count, size, false);
    wait_held(&mut admin);
    expect_all(&mut sub, "empty", count, size);
    assert_eq!(acks.join().expect("acks"), count);
    // Past the output timeout, the drained reader is still connected.
    std::thread::sleep(Duration::from_millis(2500));
    let s = stats(&mut admin);
    assert_eq!(s["slow_consumer_disconnects"], 0, "{s}");
    sub.send(b"PING");
    sub.expect(b"PONG");
}

#[test]
fn reader_that_never_reads_is_cut_after_the_output_timeout_and_the_others_go_on() {
    let timeout = Duration::from_secs(1);
    let srv = server(Settings {
        output_timeout: timeout,
        ..Settings::default()
    });
    let deaf = narrow_subscriber(&srv, "flood");
    let deaf_id = deaf.id();
    let mut reader = srv.peer();
    reader.sub("flood");
    let mut admin = srv.peer();
    let (count, size) = (16_000, 1000);
    let started = Instant::now();
    let (acks, _) = flood(&srv, "flood", count, size, false);
    let got = std::thread::spawn(move || expect_all(&mut reader, "flood", count, size));
    wait_held(&mut admin);
    // Held, but not for longer than the timeout: the deaf subscriber is
    // still connected until then (it cannot have been cut any sooner).
    let listed = lsconn(&mut admin);
    if started.elapsed() < timeout {
        assert!(listed.iter().any(|l| l.starts_with(&deaf_id)), "{listed:?}");
    }
    wait_stat(&mut admin, "slow_consumer_disconnects", 1);
    assert!(started.elapsed() >= timeout);
    let listed = lsconn(&mut admin);
    assert!(
        !listed.iter().any(|l| l.starts_with(&deaf_id)),
        "{listed:?}"
    );
    got.join().expect("the reading subscriber lost messages");
    assert_eq!(acks.join().expect("acks"), count);
    drop(deaf);
}

/// Reads `count` publications of `route`: for `slow_for`, at most
/// `piece` bytes every `every` (a reader that is behind but keeps
/// draining), then as fast as they come. Gives the connection back, open.
fn trickle_all(
    p: Peer,
    route: &str,
    count: usize,
    size: usize,
    (piece, every, slow_for): (usize, Duration, Duration),
) -> TcpStream {
    let mut stream = p.stream;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut i = 0;
    while i < count {
        let mut want = chunk.len();
        if started.elapsed() < slow_for {
            std::thread::sleep(every);
            want = piece;
        }
        let n = stream
            .read(&mut chunk[..want])
            .expect("the slow reader was cut");
        assert!(n > 0, "the slow reader was cut after {i} messages");
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while let Some(nl) = buf[at..].iter().position(|&b| b == b'\n') {
            let len: usize = std::str::from_utf8(&buf[at..at + nl])
                .ok()
                .and_then(|s| s.parse().ok())
                .expect("a length header");
            let start = at + nl + 1;
            if buf.len() < start + len {
                break;
            }
            assert!(
                buf[start..start + len] == message(route, i, size),
                "message {i} differs"
            );
            i += 1;
            at = start + len;
        }
        buf.drain(..at);
    }
    assert!(buf.is_empty(), "{} bytes after the last message", buf.len());
    stream
}

#[test]
fn reader_that_keeps_draining_slowly_is_never_cut_but_a_deaf_one_is() {
    // The output timeout counts time without progress, not time above the
    // mark. The slow reader drains ~320 KB/s for four timeouts, far slower
    // than the publisher: its queue needs about 3 s (three timeouts) to go
    // from the high-water mark (1 MiB) to the low-water mark, while the
    // server writes to it every few hundred ms all along.
    let timeout = Duration::from_secs(1);
    let srv = server(Settings {
        output_low_water: 64 << 10,
        output_timeout: timeout,
        ..Settings::default()
    });
    let slow = narrow_subscriber(&srv, "trickle");
    let slow_id = slow.id();
    let deaf = narrow_subscriber(&srv, "trickle");
    let deaf_id = deaf.id();
    let mut admin = srv.peer();
    let slow_for = timeout * 4;
    let slow_until = Instant::now() + slow_for;
    let pace = (32 << 10, Duration::from_millis(100), slow_for);
    // 12 MB: more than the kernel buffers (up to ~4.5 MB per subscriber
    // here), a full queue and what the slow stretch drains (1.3 MB).
    let (count, size) = (12_000, 1000);
    let got = std::thread::spawn(move || trickle_all(slow, "trickle", count, size, pace));
    let (acks, answered) = flood(&srv, "trickle", count, size, false);
    wait_stat(&mut admin, "slow_consumer_disconnects", 1);
    // Still held by the slow reader near the end of its slow stretch: it
    // was behind all along.
    let near_end = slow_until - Duration::from_millis(200);
    std::thread::sleep(near_end.saturating_duration_since(Instant::now()));
    assert!(answered.load(Ordering::SeqCst) < count);
    let slow = got.join().expect("the slow reader lost messages");
    assert_eq!(acks.join().expect("acks"), count);
    // Only the deaf one was cut.
    let s = stats(&mut admin);
    assert_eq!(s["slow_consumer_disconnects"], 1, "{s}");
    assert!(s["publisher_holds"].as_u64() >= Some(1), "{s}");
    let listed = lsconn(&mut admin);
    assert!(
        !listed.iter().any(|l| l.starts_with(&deaf_id)),
        "{listed:?}"
    );
    assert!(listed.iter().any(|l| l.starts_with(&slow_id)), "{listed:?}");
    drop((slow, deaf));
}

#[test]
fn publishers_on_other_routes_are_not_held() {
    let srv = server(Settings {
        output_timeout: Duration::from_secs(60),
        ..Settings::default()
    });
    let deaf = narrow_subscriber(&srv, "stuck");
    let mut admin = srv.peer();
    let (count, size) = (16_000, 1000);
    let (held, answered) = flood(&srv, "stuck", count, size, false);
    wait_held(&mut admin);
    // Someone else's route: every publication acknowledged and delivered
    // while the first publisher waits.
    let mut other_sub = srv.peer();
    other_sub.sub("free");
    let mut other_pub = srv.peer();
    for i in 0..500 {
        other_pub.send(&message("free", i, 100));
        other_pub.expect(b"ACK");
    }
    expect_all(&mut other_sub, "free", 500, 100);
    // Meanwhile the first is still held (16 MB is far more than the socket
    // buffers between it and the stuck subscriber hold), nobody was cut.
    assert!(answered.load(Ordering::SeqCst) < count);
    let s = stats(&mut admin);
    assert_eq!(s["slow_consumer_disconnects"], 0, "{s}");
    // The stuck subscriber leaves: its publisher is let go, and the input
    // that waited in its socket meanwhile (no new readiness edge comes for
    // it) is all handled.
    drop(deaf);
    assert_eq!(held.join().expect("acks"), count);
}

#[test]
fn held_publishers_cannot_push_a_queue_past_the_hard_limit() {
    // Each publisher adds at most the message that crossed the high-water
    // mark before it is held; enough of them pass the hard limit, and the
    // queue's owner is cut at once, long before the output timeout.
    let srv = server(Settings {
        max_output: 1 << 20,
        output_high_water: 256 << 10,
        output_low_water: 64 << 10,
        output_timeout: Duration::from_secs(60),
        ..Settings::default()
    });
    let deaf = narrow_subscriber(&srv, "big");
    let deaf_id = deaf.id();
    let mut admin = srv.peer();
    let floods: Vec<_> = (0..24)
        .map(|_| flood(&srv, "big", 40, 64 << 10, false).0)
        .collect();
    wait_stat(&mut admin, "slow_consumer_disconnects", 1);
    // What was dropped is the queue at the cut: past the limit, by at
    // most the one delivery (length line and message) that passed it.
    let s = stats(&mut admin);
    let delivery = message("big", 39, 64 << 10).len() + "65547\n".len();
    let dropped = s["dropped_bytes"].as_u64().expect("dropped_bytes");
    assert!(
        dropped > 1 << 20 && dropped <= (1 << 20) + delivery as u64,
        "{s}"
    );
    let listed = lsconn(&mut admin);
    assert!(
        !listed.iter().any(|l| l.starts_with(&deaf_id)),
        "{listed:?}"
    );
    for f in floods {
        assert_eq!(f.join().expect("acks"), 40);
    }
    drop(deaf);
}
