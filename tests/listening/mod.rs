//! Where a `ducq-server` child process listens, read from its log: the
//! `listening on ADDR` lines (`ADDR (kind)` for the newer listener kinds)
//! in the order its listeners opened. Shared by the tests that run the
//! server binary. It neither starts nor stops the process: the test owns
//! the child.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr};

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
