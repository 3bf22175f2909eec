//! Streamed payloads end to end through the CLI (PROTOCOL.md §12): `ducq
//! pub ROUTE - --stream` reads stdin into parts, a server whose maximum
//! message is 1 MiB forwards them, and two `ducq sub` processes, one on TCP
//! and one on WebSocket, write the payload out whole; both outputs have the
//! SHA-256 of what was sent.
//!
//! The payload is `DUCQ_STREAM_TEST_MB` MiB, 200 by default (about 5 s on
//! two shared cores; docs/BENCHMARKS.md records a run).

mod util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ducq::server::Settings;
use sha2::{Digest, Sha256};
use util::{Peer, TestServer};

fn ducq(port: u16, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ducq"));
    c.args(["--port", &port.to_string()]).args(args);
    c
}

/// Hashes what `child` writes to stdout; returns the hash and the length.
fn hash_stdout(mut child: Child) -> std::thread::JoinHandle<(Vec<u8>, u64, Child)> {
    let mut out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let got = out.read(&mut buf).unwrap();
            if got == 0 {
                break;
            }
            h.update(&buf[..got]);
            n += got as u64;
        }
        (h.finalize().to_vec(), n, child)
    })
}

/// Waits until `count` connections are subscribed to `route`.
fn wait_for_subscribers(addr: SocketAddr, route: &str, count: usize) {
    let deadline = Instant::now() + util::WAIT;
    let mut p = Peer::connect(addr);
    loop {
        p.send(b"lsconn");
        p.expect(b"PARTS");
        let mut n = 0;
        loop {
            let m = p.recv();
            if m == b"END" {
                break;
            }
            if m.ends_with(format!(",{route}\n").as_bytes()) {
                n += 1;
            }
        }
        if n >= count {
            return;
        }
        assert!(Instant::now() < deadline, "subscribers did not show up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_large_stream_reaches_tcp_and_websocket_subscribers_intact() {
    let mb: u64 = std::env::var("DUCQ_STREAM_TEST_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let size = mb << 20;
    let srv = TestServer::with_setup(
        Settings {
            max_message: 1 << 20,
            ..Settings::default()
        },
        |r| {
            r.listen_http("127.0.0.1:0").expect("http listener");
        },
    );
    let (tcp, http) = (srv.addrs[0].port(), srv.addrs[1].port());
    let sub_tcp = ducq(tcp, &["sub", "big/file", "--count", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let sub_ws = ducq(http, &["--ws", "sub", "big/+", "--count", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (sub_tcp, sub_ws) = (hash_stdout(sub_tcp), hash_stdout(sub_ws));
    wait_for_subscribers(srv.addr, "big/file", 1);
    wait_for_subscribers(srv.addr, "big/+", 1);

    let started = Instant::now();
    let mut publisher = ducq(tcp, &["pub", "big/file", "-", "--stream"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = publisher.stdin.take().unwrap();
    // Pseudo-random bytes (no repetition a bug could hide in), hashed as
    // they are written; the subscribers end the payload with a newline.
    let mut want = Sha256::new();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..mb {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        want.update(&chunk);
        stdin.write_all(&chunk).unwrap();
    }
    drop(stdin);
    want.update(b"\n");
    let want = want.finalize().to_vec();
    assert!(publisher.wait().unwrap().success(), "publisher failed");

    for (name, sub) in [("tcp", sub_tcp), ("websocket", sub_ws)] {
        let (got, len, mut child) = sub.join().unwrap();
        assert!(child.wait().unwrap().success(), "{name} subscriber failed");
        assert_eq!(len, size + 1, "{name}: length");
        assert_eq!(got, want, "{name}: SHA-256 differs");
    }
    eprintln!(
        "{mb} MiB streamed to a TCP and a WebSocket subscriber in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}

/// Two streams and a plain message arriving interleaved: `ducq sub` writes
/// each payload whole, in the order they started.
#[test]
fn sub_writes_interleaved_streams_out_whole() {
    let srv = TestServer::start();
    let port = srv.addr.port();
    let mut sub = ducq(port, &["sub", "i/#", "--count", "4", "-v"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_subscribers(srv.addr, "i/#", 1);
    let (mut a, mut b) = (srv.peer(), srv.peer());
    a.call(b"CONT i/a\nA1 ", b"ACK");
    b.call(b"CONT i/b\nB1 ", b"ACK");
    b.call(b"pub i/p\nplain", b"ACK");
    a.call(b"CONT i/a\nA2 ", b"ACK");
    b.call(b"END i/b\nB2", b"ACK");
    a.call(b"CONT i/c\nC1", b"ACK");
    a.call(b"END i/a\nA3", b"ACK");
    drop(a); // i/c is abandoned: its line ends where it stopped
    b.call(b"pub i/z\nafter", b"ACK");
    let mut stdout = sub.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    let mut stderr = sub.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut err = String::new();
        stderr.read_to_string(&mut err).unwrap();
        err
    });
    let deadline = Instant::now() + util::WAIT;
    let status = loop {
        if let Some(status) = sub.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            sub.kill().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "sub did not finish: {out:?} {err:?}"
    );
    assert_eq!(
        out,
        "i/a A1 A2 A3\ni/b B1 B2\ni/p plain\ni/c C1\ni/z after\n"
    );
    // The cut payload is not counted, and is told on stderr, once.
    assert_eq!(
        err,
        "ducq: a streamed payload was abandoned: connection closed\n"
    );
}
