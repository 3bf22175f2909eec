//! Helpers for the Lua tests: a script folder under the system temporary
//! directory, removed on drop, and a live server with a Lua host whose log
//! lines and probe the test can read.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ducq::lua::{LuaCommands, LuaLimits, LuaProbe};
use ducq::server::log::Record;
use ducq::server::{Level, Settings};

pub use crate::util::parts;
use crate::util::{Peer, TestServer, WAIT};

/// A folder of scripts, unique to one test.
pub struct ScriptDir {
    pub path: PathBuf,
}

impl ScriptDir {
    pub fn new(tag: &str) -> ScriptDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "ducq-lua-{tag}-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create script dir");
        ScriptDir { path }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.file(name), text).expect("write script");
    }

    pub fn rename(&self, from: &str, to: &str) {
        std::fs::rename(self.file(from), self.file(to)).expect("rename script");
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.file(name)).expect("remove script");
    }
}

impl Drop for ScriptDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Log lines (`level,function,sender,text`, as on `LOG`) captured from a server.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits for a line holding every one of `parts`; returns it.
    pub fn wait_for(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(l) = self
                .lines()
                .into_iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
            {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {parts:?} in {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A server with a Lua host loaded from `paths`.
pub struct LuaServer {
    pub srv: TestServer,
    pub logs: Logs,
    pub probe: LuaProbe,
}

impl LuaServer {
    pub fn start(paths: &[&Path]) -> LuaServer {
        LuaServer::with(paths, LuaLimits::default())
    }

    pub fn with(paths: &[&Path], limits: LuaLimits) -> LuaServer {
        let logs = Logs::default();
        let sink = logs.clone();
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.to_path_buf()).collect();
        let (tx, rx) = mpsc::channel();
        let srv = TestServer::with_setup(Settings::default(), move |reactor| {
            let logger = reactor.hub_mut().logger_mut();
            logger.level = Level::Debug;
            logger.set_hook(Box::new(move |rec: &Record<'_>| {
                sink.0.lock().unwrap().push(rec.line());
            }));
            let mut lua = LuaCommands::new(limits).expect("lua host");
            for p in &paths {
                lua.add_path(p).expect("add_path");
            }
            lua.flush_log(reactor.hub_mut());
            tx.send(lua.probe()).unwrap();
            reactor.add_command_set(Box::new(lua)).expect("add set");
            reactor.listen_http("127.0.0.1:0").expect("http listener");
        });
        let probe = rx.recv_timeout(WAIT).expect("probe");
        LuaServer { srv, logs, probe }
    }

    pub fn peer(&self) -> Peer {
        self.srv.peer()
    }

    /// The HTTP/WebSocket listener's address.
    pub fn http_addr(&self) -> std::net::SocketAddr {
        self.srv.addrs[1]
    }
}

/// The lscmd listing as (name, doc) lines.
pub fn lscmd(p: &mut Peer) -> Vec<String> {
    p.send(b"lscmd");
    parts(p)
}

/// Calls `body` every few milliseconds until the reply is not `NACK 17`
/// (the command exists), for at most `within`; returns the reply.
pub fn call_when_ready(p: &mut Peer, body: &[u8], within: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + within;
    loop {
        p.send(body);
        let got = p.recv();
        if got != b"NACK *\n17\ncommand unknown" {
            return Some(got);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Calls `body` until the reply equals `want`, for at most `WAIT`.
pub fn call_until(p: &mut Peer, body: &[u8], want: &[u8]) {
    let deadline = Instant::now() + WAIT;
    loop {
        p.send(body);
        let got = p.recv();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {:?}, want {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The NACK reply of a state code, as on the wire.
pub fn nack(code: u8, text: &str) -> Vec<u8> {
    format!("NACK *\n{code}\n{text}").into_bytes()
}
