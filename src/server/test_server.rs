//! A broker in a thread of its own for the crate's unit tests (the Rust
//! reconnecting client's, the C reconnect policy's): started with the
//! given settings on an address (port 0: any, or a port a stopped one
//! used), stopped and joined on drop; and, for tests that drive a reactor
//! turn by turn, a reactor whose log lines are kept and a client
//! connected and accepted. Compiled for tests only;
//! it must not grow into a second way of running a server.

use std::cell::RefCell;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Reactor, Settings, StopHandle};

/// A running in-process broker; stopped when dropped.
pub(crate) struct ThreadServer {
    /// Where its TCP listener is.
    pub addr: SocketAddr,
    stop: StopHandle,
    thread: Option<JoinHandle<()>>,
}

impl ThreadServer {
    /// Starts a broker with `settings` and a TCP listener on `addr`;
    /// returns once it listens.
    pub fn start(addr: &str, settings: Settings) -> ThreadServer {
        let (tx, rx) = mpsc::channel();
        let addr = addr.to_string();
        let thread = std::thread::spawn(move || {
            let mut r = Reactor::new(settings).unwrap();
            let a = r.listen_tcp(&addr).unwrap();
            tx.send((a, r.stop_handle())).unwrap();
            r.run().unwrap();
        });
        let (addr, stop) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        ThreadServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Connects a client to `r`'s listener at `addr` and runs `r` until it has
/// accepted it: the client's stream and its hub key.
pub(crate) fn accept_client(r: &mut Reactor, addr: SocketAddr) -> (TcpStream, usize) {
    let before = r.hub().clients();
    let stream = TcpStream::connect(addr).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        r.run_once(Some(Duration::from_millis(5))).unwrap();
        if let Some(key) = r.hub().clients().into_iter().find(|k| !before.contains(k)) {
            return (stream, key);
        }
        assert!(Instant::now() < deadline, "not accepted");
    }
}

/// Runs `r` turn by turn until `s` has received `want` bytes, or its end
/// (or a reset); what came. Fails after 10 s without either.
pub(crate) fn answer(r: &mut Reactor, s: &mut TcpStream, want: usize) -> Vec<u8> {
    use std::io::{ErrorKind, Read};
    s.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        r.run_once(Some(Duration::from_millis(5))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}"),
        }
        assert!(Instant::now() < deadline, "no answer; got {got:?}");
    }
    got
}

/// A reactor with `settings` whose log lines are kept (and not written to
/// stderr), for tests that check what it logs.
pub(crate) fn logged_reactor(settings: Settings) -> (Reactor, Rc<RefCell<Vec<String>>>) {
    let mut r = Reactor::new(settings).unwrap();
    let lines = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&lines);
    let logger = r.hub_mut().logger_mut();
    logger.stderr = false;
    logger.set_hook(Box::new(move |rec| sink.borrow_mut().push(rec.line())));
    (r, lines)
}
