//! NATS for the bridge tests: `nats-server` processes on loopback ports
//! (one node, or a cluster), and a small blocking NATS client speaking the
//! text protocol, to publish and subscribe on the NATS side. Needs the
//! `procs` module beside it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::procs::{free_port, Proc, WAIT};

/// A `nats-server` process.
pub struct Nats {
    pub proc: Proc,
    pub port: u16,
    pub cluster_port: u16,
}

impl Nats {
    /// One node on a free port.
    pub fn start() -> Nats {
        Nats::start_on(free_port(), None)
    }

    /// A node on `port`; with `cluster`, its route port and the route
    /// ports of the other nodes.
    pub fn start_on(port: u16, cluster: Option<(u16, &[u16])>) -> Nats {
        let mut cmd = Command::new("nats-server");
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        let mut cluster_port = 0;
        if let Some((cp, others)) = cluster {
            cluster_port = cp;
            let routes: Vec<String> = others
                .iter()
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect();
            cmd.args(["--cluster_name", "ducq-test"])
                .args(["--cluster", &format!("nats://127.0.0.1:{cp}")])
                .args(["--routes", &routes.join(",")]);
        }
        cmd.stdin(Stdio::null());
        let proc = Proc::spawn(&mut cmd);
        proc.err().until("Server is ready");
        Nats {
            proc,
            port,
            cluster_port,
        }
    }

    /// One node with JetStream, keeping its streams in `store`, on `port`.
    pub fn start_js(port: u16, store: &std::path::Path) -> Nats {
        let mut cmd = Command::new("nats-server");
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store)
            .stdin(Stdio::null());
        let proc = Proc::spawn(&mut cmd);
        proc.err().until("Server is ready");
        Nats {
            proc,
            port,
            cluster_port: 0,
        }
    }

    /// Three nodes routed to each other; returns once each is ready.
    pub fn cluster() -> Vec<Nats> {
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        (0..3)
            .map(|i| {
                let others: Vec<u16> = (0..3).filter(|&j| j != i).map(|j| routes[j]).collect();
                Nats::start_on(ports[i], Some((routes[i], &others)))
            })
            .collect()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    pub fn client(&self) -> NatsClient {
        NatsClient::connect(self.port)
    }
}

/// A blocking NATS client.
pub struct NatsClient {
    stream: TcpStream,
    buf: Vec<u8>,
    sid: u32,
    /// Messages read while waiting for a PONG.
    held: Vec<(String, Vec<u8>)>,
}

impl NatsClient {
    pub fn connect(port: u16) -> NatsClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to nats");
        stream.set_nodelay(true).unwrap();
        let mut c = NatsClient {
            stream,
            buf: Vec::new(),
            sid: 0,
            held: Vec::new(),
        };
        c.raw(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"test\"}\r\n");
        c.flush();
        c
    }

    fn raw(&mut self, b: &[u8]) {
        self.stream.write_all(b).unwrap();
    }

    pub fn sub(&mut self, subject: &str) {
        self.sid += 1;
        let line = format!("SUB {subject} {}\r\n", self.sid);
        self.raw(line.as_bytes());
        self.flush();
    }

    pub fn publish(&mut self, subject: &str, payload: &[u8]) {
        let mut m = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
        m.extend_from_slice(payload);
        m.extend_from_slice(b"\r\n");
        self.raw(&m);
    }

    /// A request: the answer's payload (JetStream's API, say).
    pub fn request(&mut self, subject: &str, payload: &[u8]) -> Vec<u8> {
        self.sid += 1;
        let inbox = format!("_INBOX.test.{}", self.sid);
        let mut m = format!(
            "SUB {inbox} {}\r\nPUB {subject} {inbox} {}\r\n",
            self.sid,
            payload.len()
        )
        .into_bytes();
        m.extend_from_slice(payload);
        m.extend_from_slice(b"\r\n");
        self.raw(&m);
        let deadline = Instant::now() + WAIT;
        loop {
            match self.event(deadline) {
                Some(Event::Msg(s, p)) if s == inbox => return p,
                Some(Event::Msg(s, p)) => self.held.push((s, p)),
                Some(_) => {}
                None => panic!("no answer to {subject}"),
            }
        }
    }

    /// PING, and wait for the PONG: the server handled everything before.
    pub fn flush(&mut self) {
        self.raw(b"PING\r\n");
        let deadline = Instant::now() + WAIT;
        loop {
            match self.event(deadline) {
                Some(Event::Pong) => return,
                Some(Event::Msg(s, p)) => self.held.push((s, p)),
                Some(Event::Other) => {}
                None => panic!("no PONG from nats"),
            }
        }
    }

    /// The next message within `wait`.
    pub fn next_within(&mut self, wait: Duration) -> Option<(String, Vec<u8>)> {
        if !self.held.is_empty() {
            return Some(self.held.remove(0));
        }
        let deadline = Instant::now() + wait;
        loop {
            if let Event::Msg(s, p) = self.event(deadline)? {
                return Some((s, p));
            }
        }
    }

    /// The next message, within `WAIT`.
    pub fn next(&mut self) -> (String, Vec<u8>) {
        self.next_within(WAIT).expect("a NATS message")
    }

    fn event(&mut self, deadline: Instant) -> Option<Event> {
        loop {
            if let Some(e) = self.parse() {
                return Some(e);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("nats closed the connection"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return None,
            }
        }
    }

    fn parse(&mut self) -> Option<Event> {
        let eol = self.buf.windows(2).position(|w| w == b"\r\n")?;
        let line = String::from_utf8_lossy(&self.buf[..eol]).into_owned();
        if let Some(rest) = line.strip_prefix("MSG ") {
            let f: Vec<&str> = rest.split(' ').collect();
            let size: usize = f.last().unwrap().parse().unwrap();
            let start = eol + 2;
            if self.buf.len() < start + size + 2 {
                return None;
            }
            let payload = self.buf[start..start + size].to_vec();
            let subject = f[0].to_string();
            self.buf.drain(..start + size + 2);
            return Some(Event::Msg(subject, payload));
        }
        self.buf.drain(..eol + 2);
        if line == "PING" {
            self.raw(b"PONG\r\n");
            return Some(Event::Other);
        }
        if line == "PONG" {
            return Some(Event::Pong);
        }
        assert!(!line.starts_with("-ERR"), "nats said {line}");
        Some(Event::Other)
    }
}

enum Event {
    Msg(String, Vec<u8>),
    Pong,
    Other,
}
