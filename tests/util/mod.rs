//! Shared helpers for the integration tests: a server on 127.0.0.1:0 in a
//! thread of its own, and a raw TCP peer that asserts exact bytes.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ducq::server::{Level, Reactor, Settings, StopHandle};
use tungstenite::{Message, WebSocket};

/// How long a test waits for anything that should arrive.
pub const WAIT: Duration = Duration::from_secs(5);

/// A running server; stopped and joined on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub addrs: Vec<SocketAddr>,
    stop: StopHandle,
    thread: Option<JoinHandle<()>>,
    /// Disconnects when the server thread ends.
    ended: mpsc::Receiver<()>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with(Settings::default())
    }

    pub fn with(settings: Settings) -> TestServer {
        TestServer::with_setup(settings, |_| {})
    }

    /// Builds the reactor in the server thread (it is not `Send`), runs
    /// `setup` on it, then serves until dropped.
    pub fn with_setup(
        mut settings: Settings,
        setup: impl FnOnce(&mut Reactor) + Send + 'static,
    ) -> TestServer {
        if std::env::var_os("DUCQ_TEST_LOG").is_none() {
            settings.log_level = Level::Off;
        }
        let (tx, rx) = mpsc::channel();
        let (ending, ended) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ending = ending;
            let mut reactor = Reactor::new(settings).expect("reactor");
            reactor.listen_tcp("127.0.0.1:0").expect("listen");
            setup(&mut reactor);
            tx.send((reactor.local_addrs(), reactor.stop_handle()))
                .unwrap();
            reactor.run().expect("run");
        });
        let (addrs, stop) = rx.recv_timeout(WAIT).expect("server did not start");
        TestServer {
            addr: addrs[0],
            addrs,
            stop,
            thread: Some(thread),
            ended,
        }
    }

    pub fn peer(&self) -> Peer {
        Peer::connect(self.addr)
    }
}

impl Drop for TestServer {
    /// Stops the server and waits for it, failing the test (rather than
    /// hanging it) when it does not stop.
    fn drop(&mut self) {
        self.stop.stop();
        let stopped = !matches!(
            self.ended.recv_timeout(WAIT),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        if stopped {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        } else if !std::thread::panicking() {
            panic!("the server did not stop");
        }
    }
}

/// A raw TCP client speaking length framing by hand.
pub struct Peer {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    pub fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
        Peer::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> Peer {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Peer {
            stream,
            buf: Vec::new(),
        }
    }

    /// This peer's id as the server lists it.
    pub fn id(&self) -> String {
        format!("TCP:{}", self.stream.local_addr().unwrap())
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn send(&mut self, body: &[u8]) {
        let mut frame = format!("{}\n", body.len()).into_bytes();
        frame.extend_from_slice(body);
        self.raw(&frame);
    }

    /// Sends and waits for the exact reply.
    pub fn call(&mut self, body: &[u8], want: &[u8]) {
        self.send(body);
        self.expect(want);
    }

    fn fill(&mut self, deadline: Instant) -> Result<usize, std::io::Error> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left)).unwrap();
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next frame body, within `WAIT`.
    pub fn recv(&mut self) -> Vec<u8> {
        self.try_recv(WAIT)
            .unwrap_or_else(|e| panic!("no frame: {e}"))
    }

    pub fn try_recv(&mut self, wait: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let len: usize = std::str::from_utf8(&self.buf[..nl])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| {
                        format!("bad header in {:?}", String::from_utf8_lossy(&self.buf))
                    })?;
                if self.buf.len() > nl + len {
                    let body = self.buf[nl + 1..nl + 1 + len].to_vec();
                    self.buf.drain(..nl + 1 + len);
                    return Ok(body);
                }
            }
            match self.fill(deadline) {
                Ok(0) => return Err("connection closed".into()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    pub fn expect(&mut self, want: &[u8]) {
        let got = self.recv();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "unexpected frame"
        );
    }

    /// Exact bytes on the wire, framing included.
    pub fn expect_raw(&mut self, want: &[u8]) {
        let deadline = Instant::now() + WAIT;
        while self.buf.len() < want.len() {
            match self.fill(deadline) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        assert_eq!(
            String::from_utf8_lossy(&self.buf[..want.len().min(self.buf.len())]),
            String::from_utf8_lossy(want)
        );
        self.buf.drain(..want.len());
    }

    /// The server closes the connection (after whatever was expected).
    pub fn expect_closed(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.fill(deadline) {
                Ok(0) => {
                    assert!(
                        self.buf.is_empty(),
                        "unread bytes before close: {:?}",
                        self.buf
                    );
                    return;
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
                Err(e) => panic!("connection not closed: {e}"),
            }
        }
    }

    /// Nothing arrives for `wait`.
    pub fn expect_silence(&mut self, wait: Duration) {
        match self.try_recv(wait) {
            Ok(m) => panic!("unexpected frame {:?}", String::from_utf8_lossy(&m)),
            Err(e) => assert!(
                e.contains("timed out")
                    || e.contains("Resource temporarily")
                    || e.contains("would block"),
                "{e}"
            ),
        }
    }

    /// Subscribes and waits for the ACK.
    pub fn sub(&mut self, route: &str) {
        self.call(format!("sub {route}\n").as_bytes(), b"ACK");
    }

    /// Publishes and waits for the ACK.
    pub fn publish(&mut self, route: &str, payload: &str) {
        self.call(format!("pub {route}\n{payload}").as_bytes(), b"ACK");
    }
}

/// A small deterministic pseudo-random generator for garbage inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Shrinks a socket's receive buffer, so a peer that does not read makes
/// the server queue output itself instead of the kernel absorbing it.
pub fn set_rcvbuf(s: &TcpStream, bytes: i32) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket fd and a pointer to a live i32 of the right size.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &bytes as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as libc::socklen_t,
        );
    }
}

/// Reads a multipart reply: the items between PARTS and END.
pub fn parts(p: &mut Peer) -> Vec<String> {
    p.expect(b"PARTS");
    let mut out = Vec::new();
    loop {
        let m = p.recv();
        if m == b"END" {
            return out;
        }
        out.push(String::from_utf8_lossy(&m).into_owned());
    }
}

/// The `lsconn` listing: one `<id>,<route>` line per subscription.
pub fn lsconn(p: &mut Peer) -> Vec<String> {
    p.send(b"lsconn");
    parts(p)
}

/// The next data message of a WebSocket, as bytes (pings and pongs
/// skipped).
pub fn ws_next<S: Read + Write>(ws: &mut WebSocket<S>) -> Vec<u8> {
    loop {
        match ws.read().expect("read") {
            Message::Text(t) => return t.as_bytes().to_vec(),
            Message::Binary(b) => return b.to_vec(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Reads one HTTP response with a `Content-Length` body from a keep-alive
/// connection (nothing past it): its status and body.
pub fn http_response<S: Read>(s: &mut S) -> (u16, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("an ASCII head");
    let status = head[9..12].parse().expect("a status");
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("the body");
    (status, body)
}

/// A broker dialling one bridge, `spec` written as `--bridge` takes it.
pub fn bridged(spec: &str) -> TestServer {
    let cfg = ducq::server::bridges::config::BridgeConfig::parse_flag(spec).expect("bridge spec");
    TestServer::with_setup(Settings::default(), move |r| r.add_bridge(cfg).unwrap())
}

/// As [`bridged`], logging at info level to `LOG` subscribers only (not
/// to stderr), for tests that read the bridge's log lines.
pub fn bridged_logging(spec: &str) -> TestServer {
    let cfg = ducq::server::bridges::config::BridgeConfig::parse_flag(spec).expect("bridge spec");
    TestServer::with_setup(Settings::default(), move |r| {
        let log = r.hub_mut().logger_mut();
        log.level = Level::Info;
        log.stderr = false;
        r.add_bridge(cfg).unwrap();
    })
}

/// Bridge `name`'s `key=value` fields in the `bridges` listing read over `p`.
pub fn bridge_fields(p: &mut Peer, name: &str) -> std::collections::BTreeMap<String, String> {
    p.send(b"bridges");
    let lines = parts(p);
    let line = lines
        .iter()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no bridge {name} in {lines:?}"));
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Polls the `bridges` listing until bridge `name`'s `key` reads `want`;
/// fails the test after `limit`.
pub fn wait_bridge_field(p: &mut Peer, name: &str, key: &str, want: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let f = bridge_fields(p, name);
        if f[key] == want {
            return;
        }
        assert!(Instant::now() < deadline, "{key} never {want}: {f:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads `LOG` lines at `log` (a peer subscribed to the log route) until one
/// contains `needle`; fails the test after [`WAIT`].
pub fn log_line(log: &mut Peer, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = log
            .try_recv(left)
            .unwrap_or_else(|e| panic!("no log line with {needle:?}: {e}"));
        let line = String::from_utf8(line).unwrap();
        if line.contains(needle) {
            return line;
        }
    }
}

/// The server still serves its clients: a pub/sub round trip on a local
/// route, exact.
pub fn serves(srv: &TestServer, n: usize) {
    let mut s = srv.peer();
    s.sub("alive");
    let mut p = srv.peer();
    p.publish("alive", &n.to_string());
    s.expect(format!("pub alive\n{n}").as_bytes());
}
