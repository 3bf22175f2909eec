//! Real processes for the reconnect and bridge tests: `ducq-server` started
//! on a loopback port (0 or a given one, to restart in place), killed with
//! SIGKILL, and its log lines collected; free loopback ports; a line
//! reader with a deadline.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ducq::client::Client;

/// How long a test waits for anything that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

// A test that uses both this module and its sibling compiles `ports` twice;
// each copy counts from its own offset, so the two do not hand out the
// same ports.
#[allow(clippy::duplicate_mod)]
#[path = "../ports/mod.rs"]
mod ports;
pub use ports::free_port;

/// Lines of a child's output, collected by a thread.
pub struct Lines {
    rx: Receiver<String>,
    /// Every line so far.
    pub seen: Arc<Mutex<Vec<String>>>,
    /// The reader thread, finished once the pipe reached end of file.
    reader: std::thread::JoinHandle<()>,
}

impl Lines {
    pub fn new(r: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&seen);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(r).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line.clone());
                if tx.send(line).is_err() {
                    // Nobody waits for lines any more: keep draining.
                }
            }
        });
        Lines { rx, seen, reader }
    }

    /// Waits (within `WAIT`) until the pipe reached end of file, so that
    /// `all` holds every line the child wrote: a child's exit status can be
    /// seen before its last lines have crossed the pipe.
    pub fn wait_end(&self) {
        let deadline = Instant::now() + WAIT;
        while !self.reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The next line, within `WAIT`.
    pub fn next(&self) -> String {
        self.rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no line: {e}; so far: {:?}", self.all()))
    }

    /// Lines until one contains `needle` (returned last).
    pub fn until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    got.push(l);
                    if hit {
                        return got;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; got {got:?}"),
            }
        }
    }

    pub fn all(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A `ducq-server` process.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: Lines,
}

impl Server {
    /// Starts on 127.0.0.1:`port` with `extra` arguments, and waits until
    /// it listens. Port 0 means a free port from `free_port`, not the
    /// kernel's choice: a server restarted in place must find its port
    /// unused, and an ephemeral one can be taken meanwhile as the source
    /// port of a client dialling it.
    pub fn start(port: u16, extra: &[&str]) -> Server {
        let port = if port == 0 { free_port() } else { port };
        let mut child = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
            .args(["--tcp", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start ducq-server");
        let log = Lines::new(child.stderr.take().unwrap());
        let line = log.until("listening on");
        let port = line
            .last()
            .and_then(|l| l.rsplit(':').next())
            .and_then(|p| p.trim().parse().ok())
            .expect("port in the listening line");
        Server { child, port, log }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.addr(), WAIT).expect("connect")
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `lsconn` lines whose route part is `route`.
    pub fn subscribers(&self, route: &str) -> Vec<String> {
        let mut c = self.client();
        c.list("lsconn")
            .unwrap()
            .iter()
            .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
            .filter(|l| l.rsplit_once(',').is_some_and(|(_, r)| r == route))
            .collect()
    }

    /// Waits until `n` connections are subscribed to `route`.
    pub fn wait_subscribers(&self, route: &str, n: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.subscribers(route);
            if got.len() == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{n} subscribers of {route} expected, got {got:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed on drop (a CLI, a peer broker).
pub struct Proc {
    pub child: Child,
    pub out: Option<Lines>,
    pub err: Option<Lines>,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let out: Option<ChildStdout> = child.stdout.take();
        let err: Option<ChildStderr> = child.stderr.take();
        Proc {
            child,
            out: out.map(Lines::new),
            err: err.map(Lines::new),
        }
    }

    pub fn out(&self) -> &Lines {
        self.out.as_ref().unwrap()
    }

    pub fn err(&self) -> &Lines {
        self.err.as_ref().unwrap()
    }

    /// Waits for the process to exit and for its output pipes to be read
    /// to the end; returns its status code.
    pub fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                for lines in self.out.iter().chain(self.err.iter()) {
                    lines.wait_end();
                }
                return s.code();
            }
            assert!(Instant::now() < deadline, "process did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `check` holds, polling.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
