//! Issue 15, a full disk against a real `ducq-server` process: its
//! `--data-dir` on a 3 MiB tmpfs the test mounts (root, as here and in
//! CI); where mounting is refused, the server runs under a file-size limit
//! (`RLIMIT_FSIZE` through `prlimit`), whose writes fail with `EFBIG` the
//! same way. The test says which ran. A second test always takes the
//! file-size path, so both run wherever the first can mount.
//!
//! Checked: enqueues fill the store until every answer is the clear
//! `NACK 7` of a full store (an acknowledgement too), logged once; other
//! clients are served meanwhile (publish/subscribe, `lsq`, `/stats`);
//! once space returns the same server answers enqueues again without a
//! restart; and a restart on the same directory finds every enqueue that
//! was answered with an id, with its payload, and nothing else.

mod server_bin;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use ducq::client::queue::enqueue_message;
use ducq::client::{Client, Error};
use ducq::State;
use server_bin::listening_then;

const WAIT: Duration = Duration::from_secs(20);
const QUEUE: &str = "fill";
const SIZE: usize = 4096;
/// Enqueues sent before their answers are read.
const WINDOW: usize = 8;
const FULL_NACK: &[u8] = b"NACK *\n7\nos file io error: queue store full, no space left";

/// How space runs out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Limit {
    /// A tmpfs of 3 MiB mounted by the test.
    Tmpfs,
    /// A file-size limit of 3 MiB on the server process.
    FileSize,
}

const LIMIT: u64 = 3 << 20;

/// A tmpfs mounted for the test, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path) -> Option<Mount> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={LIMIT}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The server process, killed when dropped; its log lines arrive on `log`.
struct Server {
    child: Child,
    tcp: SocketAddr,
    http: SocketAddr,
    log: Receiver<String>,
}

impl Server {
    fn start(dir: &Path, limit: Option<u64>) -> Server {
        let server = env!("CARGO_BIN_EXE_ducq-server");
        let mut cmd = match limit {
            // prlimit sets the limit, then becomes the server (same pid).
            Some(bytes) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--fsize={bytes}:unlimited")).arg(server);
                c
            }
            None => Command::new(server),
        };
        let mut child = cmd
            .args(["--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(["--log-level", "info", "--data-dir"])
            .arg(dir)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ducq-server (prlimit: util-linux)");
        let (tx, log) = channel();
        let addrs = listening_then(&mut child, 2, move |lines| {
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Server {
            child,
            tcp: addrs[0],
            http: addrs[1],
            log,
        }
    }

    fn client(&self) -> Client {
        Client::connect(&self.tcp.to_string(), WAIT).unwrap()
    }

    /// Log lines that arrived so far.
    fn log_lines(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// `GET /stats` answers.
    fn stats_ok(&self) -> bool {
        let mut s = TcpStream::connect(self.http).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(b"GET /stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp.starts_with("HTTP/1.1 200 OK\r\n")
    }

    /// Raises the server's file-size limit.
    fn unlimit(&self) {
        let ok = Command::new("prlimit")
            .args(["--pid", &self.child.id().to_string(), "--fsize=unlimited"])
            .status()
            .unwrap();
        assert!(ok.success(), "prlimit --pid failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Payload `seq`: its number, then a pattern of it, `SIZE` bytes.
fn payload(seq: u64) -> Vec<u8> {
    let mut p = format!("{seq:08}:").into_bytes();
    p.extend((0..SIZE - 9).map(|i| b'a' + ((seq as usize + i) % 26) as u8));
    p
}

/// What the producer was told.
#[derive(Default)]
struct Told {
    /// id → seq, enqueues answered with an id.
    answered: BTreeMap<u64, u64>,
    /// seqs refused.
    refused: Vec<u64>,
}

/// Sends a window of enqueues on `c`; every answer is an id or the full
/// store's NACK. Returns how many were refused.
fn window(c: &mut Client, seq: &mut u64, told: &mut Told) -> usize {
    let first = *seq;
    for _ in 0..WINDOW {
        *seq += 1;
        c.send(&enqueue_message(QUEUE, &payload(*seq))).unwrap();
    }
    let mut refused = 0;
    for s in first + 1..=*seq {
        let reply = c.receive().unwrap();
        if reply == FULL_NACK {
            told.refused.push(s);
            refused += 1;
            continue;
        }
        let id: u64 = std::str::from_utf8(&reply)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("enq {s} answered {:?}", String::from_utf8_lossy(&reply)));
        assert_eq!(told.answered.insert(id, s), None, "id {id} twice");
    }
    refused
}

/// The commit outcomes the log reports, in order: false for a failure,
/// true for success after failures.
fn commit_outcomes(log: &[String]) -> Vec<bool> {
    log.iter()
        .filter(|l| l.contains("queue commit"))
        .map(|l| l.contains("queue commit succeeds again"))
        .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ducq-full-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_full_disk_is_a_clear_nack_and_recovers_without_a_restart() {
    let dir = temp_dir("tmpfs");
    let mount = Mount::tmpfs(&dir);
    let limit = if mount.is_some() {
        eprintln!("full disk: a {LIMIT}-byte tmpfs mounted by the test");
        Limit::Tmpfs
    } else {
        eprintln!("full disk: mounting a tmpfs was refused; a file-size limit instead (EFBIG)");
        Limit::FileSize
    };
    fill_serve_recover_restart(&dir, limit, mount.as_ref());
    drop(mount);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_size_limit_is_a_clear_nack_and_recovers_without_a_restart() {
    let dir = temp_dir("fsize");
    fill_serve_recover_restart(&dir, Limit::FileSize, None);
    let _ = std::fs::remove_dir_all(&dir);
}

fn fill_serve_recover_restart(dir: &Path, limit: Limit, mount: Option<&Mount>) {
    let rlimit = (limit == Limit::FileSize).then_some(LIMIT);
    let srv = Server::start(dir, rlimit);
    let mut producer = srv.client();
    let mut told = Told::default();
    let mut seq = 0;

    // Fill until three windows in a row are refused whole.
    let mut refused_in_a_row = 0;
    while refused_in_a_row < 3 {
        assert!(seq < 20_000, "{LIMIT} bytes never filled up");
        if window(&mut producer, &mut seq, &mut told) == WINDOW {
            refused_in_a_row += 1;
        } else {
            refused_in_a_row = 0;
        }
    }
    let fitted = told.answered.len();
    assert!(
        fitted > 50,
        "only {fitted} enqueues fitted in {LIMIT} bytes"
    );

    // The server kept serving everyone else: publish/subscribe, listings,
    // HTTP, and a consumer whose acknowledgement is refused just as clearly.
    let mut sub = srv.client();
    sub.subscribe("news", "").unwrap();
    srv.client().publish("news", b"still here").unwrap();
    assert_eq!(sub.receive().unwrap(), b"pub news\nstill here");
    let q = srv.client().queues().unwrap();
    assert_eq!((q[0].name.as_str(), q[0].depth), (QUEUE, fitted as u64));
    assert!(srv.stats_ok());
    // An acknowledgement frees space, so it may go through; if it does not,
    // it is refused as clearly and the message stays.
    let mut consumer = srv.client();
    let leased = consumer.fetch(QUEUE, 1).unwrap();
    assert_eq!(leased.len(), 1, "{q:?}");
    match consumer.ack(QUEUE, leased[0].id) {
        Ok(()) => {
            told.answered.remove(&leased[0].id);
        }
        Err(Error::Nack { state, text }) => assert_eq!(
            (state, text.as_str()),
            (
                State::EFile,
                "os file io error: queue store full, no space left"
            )
        ),
        Err(e) => panic!("ack on a full store: {e}"),
    }
    // A failure is logged once, not once per refused turn: a commit that
    // fits between failures (a smaller turn) says so before the next one.
    let mut log = srv.log_lines();
    let outcomes = commit_outcomes(&log);
    assert!(outcomes.first() == Some(&false), "{log:#?}");
    assert!(outcomes.windows(2).all(|w| w[0] != w[1]), "{log:#?}");
    for l in log.iter().filter(|l| l.contains("queue commit failed")) {
        assert!(l.ends_with("(no space left)"), "{l}");
    }

    // Space returns: the same server, the same connection, no restart.
    match (limit, mount) {
        (Limit::Tmpfs, Some(m)) => {
            let ok = Command::new("mount")
                .args(["-o", &format!("remount,size={}", 4 * LIMIT)])
                .arg(&m.0)
                .status()
                .unwrap();
            assert!(ok.success(), "remount");
        }
        _ => srv.unlimit(),
    }
    let before = told.answered.len();
    let refused_before = told.refused.len();
    window(&mut producer, &mut seq, &mut told);
    assert_eq!(
        told.answered.len(),
        before + WINDOW,
        "enqueues after space returned"
    );
    assert_eq!(told.refused.len(), refused_before);
    // The log's last word on commits: they succeed (said when the first
    // one did, which may have been a smaller turn before space returned).
    let deadline = Instant::now() + WAIT;
    loop {
        log.extend(srv.log_lines());
        if commit_outcomes(&log).last() == Some(&true) {
            break;
        }
        assert!(Instant::now() < deadline, "recovery not logged: {log:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A restart on the same directory: everything answered, intact, and
    // nothing that was refused.
    drop(srv);
    let srv = Server::start(dir, None);
    let mut c = srv.client();
    let mut found = BTreeMap::new();
    loop {
        let got = c.take(QUEUE, 1000).unwrap();
        if got.is_empty() {
            break;
        }
        for m in got {
            let s: u64 = std::str::from_utf8(&m.payload[..8])
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(m.payload, payload(s), "message {} damaged", m.id);
            assert_eq!(found.insert(m.id, s), None, "message {} twice", m.id);
        }
    }
    assert_eq!(found, told.answered, "what a restart finds");
    eprintln!(
        "full disk ({limit:?}): {fitted} enqueues fitted, {} refused, {} after space returned",
        told.refused.len(),
        WINDOW
    );
}
