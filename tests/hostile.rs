//! Hostile peers over real sockets (issue 7): slowloris on every transport,
//! promised-but-never-sent gigabytes, a reader that never reads, mass
//! half-frames. Each test asserts the other clients are still served on time.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ducq::server::Settings;
use util::{Peer, TestServer};

fn server(settings: Settings) -> (TestServer, SocketAddr) {
    let srv = TestServer::with_setup(settings, |r| {
        r.listen_http("127.0.0.1:0").expect("http listener");
    });
    let http = srv.addrs[1];
    (srv, http)
}

/// Publishes `n` and checks the watcher gets it within a second.
fn served(publisher: &mut Peer, watcher: &mut Peer, n: usize) {
    let t = Instant::now();
    publisher.publish("alive", &n.to_string());
    watcher.expect(format!("pub alive\n{n}").as_bytes());
    assert!(t.elapsed() < Duration::from_secs(1), "others delayed");
}

fn is_closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut b = [0u8; 1024];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn slowloris_on_tcp_http_and_ws_handshake_is_cut_and_delays_nobody() {
    let (srv, http) = server(Settings {
        frame_timeout: Duration::from_secs(2),
        ..Settings::default()
    });
    let mut watcher = srv.peer();
    watcher.sub("alive");
    let mut publisher = srv.peer();
    let mut tcp = TcpStream::connect(srv.addr).unwrap();
    let mut web = TcpStream::connect(http).unwrap();
    let mut hs = TcpStream::connect(http).unwrap();
    let tcp_bytes = b"1000\npub alive\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    let web_bytes = b"POST /pub/alive HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n";
    let hs_bytes = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let start = Instant::now();
    let mut i = 0;
    let mut open = [true; 3];
    while open.iter().any(|o| *o) {
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "slowloris never cut: {open:?}"
        );
        for (j, (s, bytes)) in [
            (&mut tcp, &tcp_bytes[..]),
            (&mut web, &web_bytes[..]),
            (&mut hs, &hs_bytes[..]),
        ]
        .into_iter()
        .enumerate()
        {
            if open[j] && (s.write_all(&bytes[i % bytes.len()..][..1]).is_err() || is_closed(s)) {
                open[j] = false;
            }
        }
        served(&mut publisher, &mut watcher, i);
        i += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    // Each was given up at the frame timeout, not before.
    assert!(start.elapsed() >= Duration::from_secs(2));
}

#[test]
fn gigabyte_promised_then_stall_is_refused_and_skipped() {
    let (srv, _) = server(Settings::default());
    let mut watcher = srv.peer();
    watcher.sub("alive");
    let mut publisher = srv.peer();
    let mut liar = srv.peer();
    liar.raw(b"1000000000\npub alive\nstart of a very long body");
    liar.expect(b"NACK *\n16\nmessage too big");
    for i in 0..20 {
        served(&mut publisher, &mut watcher, i);
    }
}

#[test]
fn twenty_digit_length_header_does_not_crash() {
    let (srv, _) = server(Settings::default());
    let mut p = srv.peer();
    p.raw(b"12345678901234567890\nabc");
    p.expect(b"NACK *\n16\nmessage too big");
    let mut q = srv.peer();
    q.call(b"PING x\n", b"PONG x\n");
}

#[test]
fn reader_that_never_reads_ten_thousand_messages() {
    // The deaf peer holds the publisher back (back-pressure) for at most
    // the output timeout, then it is cut.
    let (srv, _) = server(Settings {
        max_output: 4 << 20,
        output_timeout: Duration::from_millis(300),
        ..Settings::default()
    });
    let deaf_stream = TcpStream::connect(srv.addr).unwrap();
    util::set_rcvbuf(&deaf_stream, 4096);
    let mut deaf = Peer::from_stream(deaf_stream);
    deaf.sub("flood");
    let mut watcher = srv.peer();
    watcher.sub("flood");
    let mut publisher = srv.peer();
    let payload = "y".repeat(1000);
    let reader = std::thread::spawn(move || {
        for i in 0..10_000 {
            let m = watcher.recv();
            assert!(m.starts_with(format!("pub flood\n{i} ").as_bytes()));
        }
        watcher
    });
    for i in 0..10_000 {
        publisher.send(format!("pub flood\n{i} {payload}").as_bytes());
    }
    for _ in 0..10_000 {
        publisher.expect(b"ACK");
    }
    reader.join().expect("a reading subscriber lost messages");
    // 10 000 x ~1 KB is far past the deaf peer's high-water mark plus what
    // the kernel buffers: it was cut off, and the server is still fine.
    let mut p = srv.peer();
    p.call(b"PING ok\n", b"PONG ok\n");
    p.send(b"lsconn");
    p.expect(b"PARTS");
    let deaf_id = deaf.id();
    loop {
        let line = p.recv();
        if line == b"END" {
            break;
        }
        assert!(
            !line.starts_with(deaf_id.as_bytes()),
            "deaf peer still connected"
        );
    }
}

#[test]
fn thousand_connections_dropped_mid_frame() {
    let _ = ducq::server::os::raise_fd_limit();
    let (srv, http) = server(Settings::default());
    let mut watcher = srv.peer();
    watcher.sub("alive");
    let mut publisher = srv.peer();
    for i in 0..1000 {
        let addr = if i % 2 == 0 { srv.addr } else { http };
        let mut c = TcpStream::connect(addr).unwrap();
        let bytes: &[u8] = if i % 2 == 0 {
            b"40\npub alive\nhalf a fr"
        } else {
            b"POST /pub/alive HTTP/1.1\r\nContent-Le"
        };
        let _ = c.write_all(bytes);
        if i % 100 == 0 {
            served(&mut publisher, &mut watcher, i);
        }
    }
    served(&mut publisher, &mut watcher, 1000);
    // Every one of them is gone from the connection table: what is left
    // is exactly the two that stayed.
    let baseline = [
        format!("{},alive\n", watcher.id()),
        format!("{},\n", publisher.id()),
    ];
    let deadline = Instant::now() + util::WAIT;
    loop {
        let listed = util::lsconn(&mut publisher);
        if listed == baseline {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} connections listed, not the 2 left",
            listed.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // And they left no output or input behind: the server still answers
    // and delivers at once.
    served(&mut publisher, &mut watcher, 1001);
}
