//! `ducq-server` as a child process, for the tests that run the binaries:
//! where it listens, read from its log (the `listening on ADDR` lines,
//! `ADDR (kind)` for the newer listener kinds, in the order its listeners
//! opened), and `ServerBin`, a server on a TCP port of its own that the
//! `ducq` CLI and clients are pointed at, killed on drop. What a test
//! asserts stays in the test.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ducq::client::Client;

/// Reads the child's stderr (which must be piped) until `n` listeners
/// were announced, then hands the rest of the log to `rest`, on a thread
/// of its own; the listeners' addresses, in order.
pub fn listening_then(
    child: &mut Child,
    n: usize,
    rest: impl FnOnce(Lines<BufReader<ChildStderr>>) + Send + 'static,
) -> Vec<SocketAddr> {
    let mut lines = BufReader::new(child.stderr.take().expect("stderr piped")).lines();
    let mut addrs = Vec::new();
    while addrs.len() < n {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(addr) = line.split("listening on ").nth(1) {
            let addr = addr.split(" (").next().unwrap_or(addr).trim();
            addrs.push(addr.parse().unwrap_or_else(|e| panic!("{line}: {e}")));
        }
    }
    std::thread::spawn(move || rest(lines));
    addrs
}

/// As `listening_then`, the rest of the log drained and dropped, so the
/// server never blocks on a full pipe.
pub fn listening(child: &mut Child, n: usize) -> Vec<SocketAddr> {
    listening_then(child, n, |lines| for _ in lines {})
}

/// `ducq-server` on a TCP port of its own; killed when dropped.
pub struct ServerBin {
    pub child: Child,
    pub port: u16,
}

impl ServerBin {
    /// `ducq-server --tcp 127.0.0.1:0 --log-level info ARGS`, once it
    /// listens.
    pub fn start(args: &[&str]) -> ServerBin {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
            .args(["--tcp", "127.0.0.1:0", "--log-level", "info"])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ducq-server");
        let port = listening(&mut child, 1)[0].port();
        ServerBin { child, port }
    }

    /// The `ducq` CLI aimed at this server (`--port`), `NO_COLOR` unset
    /// so that colour depends on what the test asks for only.
    pub fn ducq(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ducq"));
        c.args(["--port", &self.port.to_string()])
            .args(args)
            .env_remove("NO_COLOR");
        c
    }

    /// Runs `ducq ARGS` to its end, stdin closed.
    pub fn run(&self, args: &[&str]) -> Output {
        self.ducq(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ducq")
    }

    /// A TCP client of this server.
    pub fn client(&self) -> Client {
        Client::connect(&format!("127.0.0.1:{}", self.port), Duration::from_secs(5)).unwrap()
    }

    /// Waits until some connection is subscribed to `route`.
    pub fn wait_for_subscriber(&self, route: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut c = self.client();
        loop {
            let lines = c.list("lsconn").unwrap();
            if lines.iter().any(|l| {
                String::from_utf8_lossy(l)
                    .trim_end()
                    .ends_with(&format!(",{route}"))
            }) {
                return;
            }
            assert!(Instant::now() < deadline, "no subscriber on {route}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerBin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
