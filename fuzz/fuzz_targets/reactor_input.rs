//! Fuzz target: the server's whole input path, over real loopback sockets:
//! bytes → socket → connection buffer → TCP or HTTP/WebSocket codec →
//! message parse → dispatcher → built-in commands on the broker → replies,
//! fan-out and closes.
//!
//! One reactor (a TCP and an HTTP listener on 127.0.0.1, port 0) runs for
//! the life of the process in a thread of its own. Input layout: records
//! `[control][length][bytes…]`; the control byte's low two bits pick one of
//! three client connections (bit 2: opened on the HTTP port instead of the
//! TCP one, the first time it is used), and its bytes are written to it.
//! Then every connection half-closes and is read to its end: the server
//! must close each one (no stall), everything it wrote must be whole frames
//! or responses for that transport, and a fresh connection must still get
//! `PONG` for `PING`. A panic anywhere in the server aborts the process,
//! so the input that caused it is kept. Loopback only; nothing is written
//! to disk.
#![no_main]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use ducq::server::{Level, Reactor, Settings};
use ducq::transport::tcp::TcpCodec;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

use oracle::http::{is_event_stream, split_responses, Tail};
use oracle::ws::server_frames_ok;

/// How long the server may take to answer and close; past it, it stalled.
const STALL: Duration = Duration::from_secs(10);

/// The listeners of the process-wide server.
struct Server {
    tcp: SocketAddr,
    http: SocketAddr,
}

/// Starts the server on first use. Small limits, so that every limit is
/// within reach of short inputs.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        // A write to a socket the server closed must be an error, not a
        // signal that kills the fuzzer (libFuzzer's main keeps SIGPIPE).
        // SAFETY: setting a signal's disposition to SIG_IGN has no
        // preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let settings = Settings {
            max_message: 200,
            max_route: 32,
            max_stored_routes: 8,
            max_stored_bytes: 1024,
            max_connections: 64,
            max_output: 1 << 16,
            log_level: Level::Off,
            ..Settings::default()
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reactor = Reactor::new(settings).expect("reactor");
            let tcp = reactor.listen_tcp("127.0.0.1:0").expect("tcp listener");
            let http = reactor.listen_http("127.0.0.1:0").expect("http listener");
            tx.send(Server { tcp, http }).expect("send addresses");
            reactor.run().expect("reactor run");
        });
        rx.recv().expect("server thread")
    })
}

/// A client connection of this input and its transport.
struct Client {
    stream: TcpStream,
    http: bool,
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// Reads until the server closes; panics if it does not within `STALL`.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let deadline = Instant::now() + STALL;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "server stalled: no close after EOF");
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // The server may close without reading everything (framing
            // error): the kernel then resets the connection.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Whether `out` is what a TCP client may receive: whole, non-empty frames.
fn tcp_output_ok(out: &[u8]) -> bool {
    let fed = oracle::feed(&mut TcpCodec::new(usize::MAX), &[out]);
    !fed.closed && fed.leftover == 0
}

/// Whether `out` is what an HTTP client may receive: whole responses, then
/// whole WebSocket frames or events.
fn http_output_ok(out: &[u8]) -> bool {
    match split_responses(out) {
        Ok((_, Tail::None)) => true,
        Ok((_, Tail::Ws(frames))) => server_frames_ok(&frames),
        Ok((_, Tail::Sse(events))) => is_event_stream(&events),
        Err(_) => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let srv = server();
    let mut clients: [Option<Client>; 3] = [None, None, None];
    let mut rest = data;
    while let [control, len, tail @ ..] = rest {
        let (bytes, next) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = next;
        let slot = &mut clients[usize::from(control & 3) % 3];
        let client = slot.get_or_insert_with(|| {
            let http = control & 4 != 0;
            let stream = connect(if http { srv.http } else { srv.tcp });
            Client { stream, http }
        });
        // The server may already have closed this connection.
        let _ = client.stream.write_all(bytes);
    }
    for client in clients.iter_mut().flatten() {
        let _ = client.stream.shutdown(Shutdown::Write);
    }
    for client in clients.iter_mut().flatten() {
        let out = read_to_close(&mut client.stream);
        let ok = if client.http {
            http_output_ok(&out)
        } else {
            tcp_output_ok(&out)
        };
        assert!(ok, "malformed output: {:?}", String::from_utf8_lossy(&out));
    }

    // Still serving.
    let mut probe = connect(srv.tcp);
    probe.write_all(b"11\nPING _\nping").expect("probe write");
    probe.shutdown(Shutdown::Write).expect("probe shutdown");
    let answer = read_to_close(&mut probe);
    assert_eq!(answer, b"11\nPONG _\nping", "server not answering");
});
