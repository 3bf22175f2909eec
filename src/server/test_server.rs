//! A broker in a thread of its own for the crate's unit tests (the Rust
//! reconnecting client's, the C reconnect policy's): started with the
//! given settings on an address (port 0: any, or a port a stopped one
//! used), stopped and joined on drop. Compiled for tests only; it must
//! not grow into a second way of running a server.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

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
