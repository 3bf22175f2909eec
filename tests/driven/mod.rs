//! A server driven turn by turn from the test's own thread, with its hub in
//! reach: the test calls `Reactor::run_once` itself, so it can look at the
//! hub between two turns (pending output, deliveries, buffers) with
//! nothing running concurrently. Its clients are plain loopback sockets,
//! read without blocking; waiting for something means running turns until
//! it is there (bounded by `WAIT`, never timed).
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ducq::server::{Level, Reactor, Settings};

/// How long anything that should happen may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// A reactor on 127.0.0.1:0 (TCP, and HTTP/WebSocket on the second
/// address), in this thread. It gives idle buffers back only when the test
/// calls `Hub::release_idle_buffers`.
pub struct Driven {
    pub reactor: Reactor,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
}

impl Driven {
    pub fn new(mut settings: Settings) -> Driven {
        if std::env::var_os("DUCQ_TEST_LOG").is_none() {
            settings.log_level = Level::Off;
        }
        let mut reactor = Reactor::new(settings).expect("reactor");
        // Idle buffers are given back when a test says so, not when a
        // second has passed (a busy machine makes that any time).
        reactor.set_buffer_release_interval(Duration::from_secs(24 * 3600));
        let tcp = reactor.listen_tcp("127.0.0.1:0").expect("tcp listener");
        let http = reactor.listen_http("127.0.0.1:0").expect("http listener");
        Driven { reactor, tcp, http }
    }

    /// One more TCP listener whose connections get a receive buffer of
    /// `bytes` (set on the listener, inherited by what it accepts), so
    /// more than a turn's read budget can wait in the kernel at once.
    pub fn listen_tcp_with_rcvbuf(&mut self, bytes: i32) -> SocketAddr {
        use std::os::fd::AsRawFd;
        let std = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        set_buf(std.as_raw_fd(), libc::SO_RCVBUF, bytes);
        std.set_nonblocking(true).expect("nonblocking");
        let max = self.reactor.hub().settings().max_message;
        self.reactor
            .add_listener(
                mio::net::TcpListener::from_std(std),
                Box::new(move || Box::new(ducq::transport::tcp::TcpCodec::new(max))),
            )
            .expect("listener")
    }

    /// One turn, waiting at most a millisecond for events.
    pub fn turn(&mut self) {
        self.reactor
            .run_once(Some(Duration::from_millis(1)))
            .expect("run_once");
    }

    /// Runs turns until `done` holds.
    pub fn until(&mut self, what: &str, mut done: impl FnMut(&mut Reactor) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&mut self.reactor) {
            assert!(Instant::now() < deadline, "never happened: {what}");
            self.turn();
        }
    }

    /// A TCP client, accepted: returns it and its slab key.
    pub fn connect(&mut self) -> (Client, usize) {
        self.connect_to(self.tcp)
    }

    /// A WebSocket client of the HTTP port, upgraded (the 101 read).
    pub fn connect_ws(&mut self) -> (Client, usize) {
        let (mut c, key) = self.connect_http();
        c.raw(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
        let deadline = Instant::now() + WAIT;
        loop {
            c.fill();
            if let Some(end) = c.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                assert!(c.buf.starts_with(b"HTTP/1.1 101 "), "not upgraded");
                c.buf.drain(..end + 4);
                return (c, key);
            }
            assert!(Instant::now() < deadline, "no 101");
            self.turn();
        }
    }

    /// Runs turns until `client` (a WebSocket) has a whole message.
    pub fn recv_ws(&mut self, client: &mut Client) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            client.fill();
            if let Some(m) = client.ws_message() {
                return m;
            }
            assert!(Instant::now() < deadline, "no message");
            self.turn();
        }
    }

    /// A client of the HTTP/WebSocket port, accepted.
    pub fn connect_http(&mut self) -> (Client, usize) {
        self.connect_to(self.http)
    }

    /// A client of the listener at `addr`, accepted.
    pub fn connect_to(&mut self, addr: SocketAddr) -> (Client, usize) {
        let before = self.reactor.hub().clients();
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nonblocking(true).expect("nonblocking");
        stream.set_nodelay(true).expect("nodelay");
        let mut key = None;
        self.until("accepted", |r| {
            key = r.hub().clients().into_iter().find(|k| !before.contains(k));
            key.is_some()
        });
        let key = key.unwrap_or_default();
        (
            Client {
                stream,
                buf: Vec::new(),
                eof: false,
            },
            key,
        )
    }

    /// Runs turns until `client` has a whole frame, and returns its body.
    pub fn recv(&mut self, client: &mut Client) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            client.fill();
            if let Some(f) = client.frame() {
                return f;
            }
            assert!(!client.eof, "closed by the server");
            assert!(Instant::now() < deadline, "no frame");
            self.turn();
        }
    }

    /// Runs turns until the server closed `client`; returns what it sent
    /// that was not read yet.
    pub fn closed(&mut self, client: &mut Client) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            client.fill();
            if client.eof {
                return std::mem::take(&mut client.buf);
            }
            assert!(
                Instant::now() < deadline,
                "not closed; received {} bytes",
                client.buf.len()
            );
            self.turn();
        }
    }

    /// Sends `body` from `client` and runs turns until its reply.
    pub fn call(&mut self, client: &mut Client, body: &[u8]) -> Vec<u8> {
        client.send(body);
        self.recv(client)
    }
}

/// A loopback client speaking length framing, never blocking.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    eof: bool,
}

impl Client {
    /// Writes raw bytes (all of them: the kernel buffers are far larger
    /// than what tests send before the server reads).
    pub fn raw(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        let deadline = Instant::now() + WAIT;
        while !rest.is_empty() {
            match self.stream.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "write stuck");
                    std::thread::yield_now();
                }
                Err(e) => panic!("write: {e}"),
            }
        }
    }

    /// Waits until everything written has reached the server's side (the
    /// socket's send queue is empty: on loopback, that means received).
    pub fn wait_sent(&self) {
        use std::os::fd::AsRawFd;
        let deadline = Instant::now() + WAIT;
        loop {
            let mut unsent: libc::c_int = 0;
            // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one c_int to the pointer.
            let r = unsafe { libc::ioctl(self.stream.as_raw_fd(), libc::TIOCOUTQ, &mut unsent) };
            assert_eq!(r, 0, "ioctl");
            if unsent == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "{unsent} bytes never left");
            std::thread::yield_now();
        }
    }

    /// Closes with a reset (SO_LINGER of zero) instead of a FIN.
    pub fn reset(self) {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a pointer to a live linger struct.
        let r = unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "SO_LINGER");
    }

    /// Sends one length-framed message.
    pub fn send(&mut self, body: &[u8]) {
        let mut frame = format!("{}\n", body.len()).into_bytes();
        frame.extend_from_slice(body);
        self.raw(&frame);
    }

    /// Reads whatever has arrived.
    pub fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    self.eof = true;
                    return;
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Bytes received and not taken yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Takes every byte received so far.
    pub fn take(&mut self) -> Vec<u8> {
        self.fill();
        std::mem::take(&mut self.buf)
    }

    /// Sends one WebSocket text message, masked with a zero key.
    pub fn send_ws(&mut self, msg: &[u8]) {
        assert!(msg.len() < 126, "short messages only");
        let mut frame = vec![0x81, 0x80 | msg.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(msg);
        self.raw(&frame);
    }

    /// The next whole server frame's payload (final, unmasked, text), if
    /// one has arrived.
    pub fn ws_message(&mut self) -> Option<Vec<u8>> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        assert_eq!(b[0], 0x81, "a final text frame");
        let (len, at) = match b[1] {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => (
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return None,
            n => (usize::from(n), 2),
        };
        if b.len() < at + len {
            return None;
        }
        let m = b[at..at + len].to_vec();
        self.buf.drain(..at + len);
        Some(m)
    }

    /// The next whole frame's body, if one has arrived.
    pub fn frame(&mut self) -> Option<Vec<u8>> {
        let nl = self.buf.iter().position(|&b| b == b'\n')?;
        let len: usize = std::str::from_utf8(&self.buf[..nl])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad header in {:?}", String::from_utf8_lossy(&self.buf)));
        if self.buf.len() < nl + 1 + len {
            return None;
        }
        let body = self.buf[nl + 1..nl + 1 + len].to_vec();
        self.buf.drain(..nl + 1 + len);
        Some(body)
    }
}

/// Sets a socket buffer size option.
fn set_buf(fd: std::os::fd::RawFd, option: libc::c_int, bytes: i32) {
    // SAFETY: a valid socket fd and a pointer to a live i32 of the right size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&bytes as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt");
}

/// Shrinks a client's receive buffer, so a client that does not read makes
/// the server queue output itself instead of the kernel absorbing it.
pub fn set_rcvbuf(s: &TcpStream, bytes: i32) {
    use std::os::fd::AsRawFd;
    set_buf(s.as_raw_fd(), libc::SO_RCVBUF, bytes);
}
