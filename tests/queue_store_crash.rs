//! Crash safety of the queue store, without the server: a child process
//! (this test binary, re-run with `DUCQ_QC_MODE` set) enqueues, consumes
//! and acknowledges through `Durable` + `DiskStore`, printing what it was
//! answered; the parent SIGKILLs it at random moments and restarts it on
//! the same directory, then checks, across every run:
//! - every enqueue answered with an id is delivered at least once;
//! - a message whose acknowledgement was answered is never delivered again;
//! - nothing is delivered that was not enqueued, and payloads are intact.
//!
//! The full-disk test puts the store on a small tmpfs the test mounts
//! (root only); where mounting is refused it limits the child's file size
//! with `RLIMIT_FSIZE` instead, which fails writes with `EFBIG` the same
//! way. Either way: a clear error, no corruption, and commits work again
//! once space returns, in the same process and after a restart.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ducq::queue::{Answer, Clock, DiskStore, Durable, Limits};

mod util;
use util::Rng;

const QUEUE: &[u8] = b"crash";

// ---------------------------------------------------------------- child side

#[derive(Debug, Clone, Copy)]
enum Tag {
    Admin,
    Enq(u64),
    Ack(u64),
}

fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut p = format!("{seq}:").into_bytes();
    p.extend((0..size).map(|i| b'a' + ((seq as usize + i) % 26) as u8));
    p
}

/// The seq a payload was made from, if it is intact.
fn check_payload(p: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(p).ok()?;
    let (seq, _) = text.split_once(':')?;
    let seq: u64 = seq.parse().ok()?;
    let size = p.len() - seq.to_string().len() - 1;
    (payload(seq, size) == p).then_some(seq)
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn open(dir: &Path) -> Durable<Tag> {
    let store = DiskStore::open(dir).unwrap_or_else(|e| {
        say(format!("OPENFAIL {e}"));
        std::process::exit(3);
    });
    Durable::open(
        Box::new(store),
        Limits::default(),
        Clock::system(),
        Instant::now(),
    )
    .unwrap_or_else(|e| {
        say(format!("OPENFAIL {e}"));
        std::process::exit(3);
    })
}

/// Reports a turn's answers; returns the deliveries' (id, seq) and whether
/// a commit failed because the disk was full.
fn report(turn: ducq::queue::durable::Turn<Tag>) -> (Vec<(u64, u64)>, Option<bool>) {
    for (tag, answer) in turn.answers {
        match (tag, answer) {
            (Tag::Enq(seq), Ok(Answer::Id(id))) => say(format!("ENQ {seq} {id}")),
            (Tag::Ack(id), Ok(Answer::Done)) => say(format!("ACK {id}")),
            (Tag::Admin, Ok(_)) => {}
            (tag, Err(e)) => say(format!("ERR {tag:?} {e}")),
            (tag, other) => say(format!("ODD {tag:?} {other:?}")),
        }
    }
    let full = turn.error.map(|e| e.full);
    let mut got = Vec::new();
    for d in turn.deliveries {
        match check_payload(&d.payload) {
            Some(seq) => {
                say(format!("DLV {} {seq}", d.id));
                got.push((d.id, seq));
            }
            None => say(format!("CORRUPT {}", d.id)),
        }
    }
    (got, full)
}

/// Enqueues, consumes and acknowledges until killed.
fn child_work(dir: &Path, mut seq: u64, seed: u64) {
    let mut d = open(dir);
    let mut rng = Rng(seed | 1);
    d.create(Tag::Admin, QUEUE, b"visibility=0.2 max_deliveries=0")
        .unwrap();
    d.queues_mut().consume(QUEUE, 1, 64).unwrap();
    say("READY".into());
    for round in 0u64.. {
        let now = Instant::now();
        for _ in 0..1 + rng.next() % 40 {
            seq += 1;
            say(format!("TRY {seq}"));
            let size = (rng.next() % 300) as usize;
            d.enqueue(Tag::Enq(seq), QUEUE, &payload(seq, size), now)
                .unwrap();
        }
        let (got, _) = report(d.end_turn(now));
        for (id, _) in got {
            // Leave some unacknowledged: they come back after 0.2 s.
            if rng.next() % 5 != 0 {
                d.ack(Tag::Ack(id), QUEUE, id, 1).unwrap();
            }
        }
        if round % 25 == 24 {
            // Losing the consumer hands its messages out again.
            d.queues_mut().cancel(QUEUE, 1, now).unwrap();
            d.queues_mut().consume(QUEUE, 1, 64).unwrap();
        }
    }
}

/// Delivers and acknowledges everything left, then says so.
fn child_drain(dir: &Path) {
    let mut d = open(dir);
    d.queues_mut().consume(QUEUE, 1, 1000).unwrap();
    loop {
        let now = Instant::now();
        let (got, _) = report(d.end_turn(now));
        for (id, _) in &got {
            d.ack(Tag::Ack(*id), QUEUE, *id, 1).unwrap();
        }
        if got.is_empty() && !d.needs_commit() {
            let depth = d.queues().stats(QUEUE, now).map(|s| s.depth).unwrap_or(0);
            say(format!("DRAINED {depth}"));
            return;
        }
    }
}

/// Enqueues 4 KiB messages until the disk is full, checks that it stays a
/// clean error, waits for the parent to free space, then goes on.
fn child_fill(dir: &Path, rlimit: Option<u64>) {
    if let Some(bytes) = rlimit {
        set_fsize_limit(bytes);
    }
    let mut d = open(dir);
    d.queues_mut().consume(QUEUE, 1, 8).unwrap();
    let mut seq = 0;
    let mut full_turns = 0;
    say("READY".into());
    // Fill.
    while full_turns < 3 && seq < 100_000 {
        let now = Instant::now();
        for _ in 0..16 {
            seq += 1;
            say(format!("TRY {seq}"));
            d.enqueue(Tag::Enq(seq), QUEUE, &payload(seq, 4096), now)
                .unwrap();
        }
        let (got, full) = report(d.end_turn(now));
        for (id, _) in got {
            // An ack while the disk is full fails like the rest.
            let _ = d.ack(Tag::Ack(id), QUEUE, id, 1);
        }
        match full {
            Some(true) => full_turns += 1,
            Some(false) => say("NOTFULL".into()),
            None => {}
        }
    }
    say(format!("FULL {seq}"));
    // Wait for space.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    if let Some(bytes) = rlimit {
        set_fsize_limit(bytes * 4);
    }
    for _ in 0..3 {
        let now = Instant::now();
        seq += 1;
        say(format!("TRY {seq}"));
        d.enqueue(Tag::Enq(seq), QUEUE, &payload(seq, 100), now)
            .unwrap();
        report(d.end_turn(now));
    }
    say("DONE".into());
}

fn set_fsize_limit(bytes: u64) {
    // SAFETY: plain libc calls with a valid struct; ignoring SIGXFSZ makes
    // an over-limit write fail with EFBIG instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: libc::RLIM_INFINITY,
        };
        libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
    }
}

/// The child process's entry point: run by the parent tests below through
/// this binary with `DUCQ_QC_MODE` set; does nothing otherwise.
#[test]
#[ignore = "child process of the crash tests"]
fn child() {
    let Ok(mode) = std::env::var("DUCQ_QC_MODE") else {
        return;
    };
    let dir = PathBuf::from(std::env::var("DUCQ_QC_DIR").unwrap());
    let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    match mode.as_str() {
        "work" => child_work(
            &dir,
            num("DUCQ_QC_SEQ").unwrap_or(0),
            num("DUCQ_QC_SEED").unwrap_or(1),
        ),
        "drain" => child_drain(&dir),
        "fill" => child_fill(&dir, num("DUCQ_QC_RLIMIT")),
        other => panic!("unknown mode {other}"),
    }
    std::process::exit(0);
}

// --------------------------------------------------------------- parent side

struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

fn spawn(mode: &str, dir: &Path, env: &[(&str, String)]) -> Running {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("DUCQ_QC_MODE", mode)
    .env("DUCQ_QC_DIR", dir)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn child");
    let stdout = child.stdout.take().unwrap();
    let stdin = child.stdin.take();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest prints the test's name before its first output.
            let line = line.trim_start_matches("test child ... ").to_string();
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Running {
        child,
        stdin,
        lines,
    }
}

impl Running {
    /// Lines until one starts with `word` (returned), within `wait`.
    fn until(&mut self, word: &str, wait: Duration, log: &mut Log) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("child never said {word}"));
            log.take(&line);
            if line.starts_with(word) {
                return line;
            }
        }
    }

    /// Kills with SIGKILL and takes every line it had written.
    fn kill(mut self, log: &mut Log) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            log.take(&line);
        }
    }
}

impl Drop for Running {
    /// A failing test leaves no child behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the children said, checked as it arrives.
#[derive(Default)]
struct Log {
    tried: BTreeSet<u64>,
    /// seq → id, for answered enqueues.
    answered: BTreeMap<u64, u64>,
    /// id → seq, from deliveries.
    delivered: BTreeMap<u64, u64>,
    acked: BTreeSet<u64>,
    errors: Vec<String>,
    deliveries: usize,
}

impl Log {
    fn take(&mut self, line: &str) {
        let mut words = line.split(' ');
        let word = words.next().unwrap_or("");
        let mut num = || words.next().and_then(|w| w.parse::<u64>().ok()).unwrap();
        match word {
            "TRY" => {
                self.tried.insert(num());
            }
            "ENQ" => {
                let (seq, id) = (num(), num());
                assert!(self.tried.contains(&seq), "answered {seq} never tried");
                assert_eq!(self.answered.insert(seq, id), None, "{seq} answered twice");
            }
            "DLV" => {
                let (id, seq) = (num(), num());
                self.deliveries += 1;
                assert!(
                    !self.acked.contains(&id),
                    "message {id} delivered after its ack was answered"
                );
                assert!(self.tried.contains(&seq), "delivered {seq}, never enqueued");
                if let Some(&want) = self.answered.get(&seq) {
                    assert_eq!(want, id, "seq {seq} delivered under another id");
                }
                if let Some(prev) = self.delivered.insert(id, seq) {
                    assert_eq!(prev, seq, "id {id} carried two payloads");
                }
            }
            "ACK" => {
                self.acked.insert(num());
            }
            "ERR" => self.errors.push(line.to_string()),
            "CORRUPT" | "ODD" | "OPENFAIL" | "NOTFULL" => panic!("child: {line}"),
            _ => {}
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ducq-qc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn sigkill_at_random_moments_loses_nothing_answered() {
    let dir = temp_dir("kill");
    let mut log = Log::default();
    let mut rng = Rng(0x5eed_cafe_f00d);
    let kills = 8;
    for run in 0..kills {
        let seq = log.tried.last().copied().unwrap_or(0) + 1_000;
        let env = [
            ("DUCQ_QC_SEQ", seq.to_string()),
            ("DUCQ_QC_SEED", (run + 1).to_string()),
        ];
        let mut child = spawn("work", &dir, &env);
        child.until("READY", Duration::from_secs(30), &mut log);
        std::thread::sleep(Duration::from_millis(50 + rng.next() % 250));
        child.kill(&mut log);
    }
    let mut child = spawn("drain", &dir, &[]);
    let last = child.until("DRAINED", Duration::from_secs(60), &mut log);
    assert_eq!(last, "DRAINED 0");
    child.kill(&mut log);

    assert!(log.errors.is_empty(), "{:?}", log.errors);
    assert!(
        log.answered.len() > 100,
        "too little work to mean anything: {}",
        log.answered.len()
    );
    let missing: Vec<_> = log
        .answered
        .iter()
        .filter(|(_, id)| !log.delivered.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "answered but never delivered: {missing:?}"
    );
    eprintln!(
        "{kills} kills: {} tried, {} answered, {} deliveries, {} acks",
        log.tried.len(),
        log.answered.len(),
        log.deliveries,
        log.acked.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }

    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_recovers_when_space_returns() {
    let dir = temp_dir("full");
    let mount = Mount::tmpfs(&dir, "3m");
    if mount.is_none() {
        eprintln!("mounting a tmpfs was refused: limiting the file size instead (EFBIG)");
    }
    fill_and_recover(&dir, mount);
}

/// The same with the file size limited (no root needed): writes past the
/// limit fail with EFBIG, which the store treats as a full disk.
#[test]
fn a_file_size_limit_is_a_clear_error_and_recovers() {
    fill_and_recover(&temp_dir("fsize"), None);
}

fn fill_and_recover(dir: &Path, mount: Option<Mount>) {
    let dir = dir.to_path_buf();
    let mut env = Vec::new();
    if mount.is_none() {
        env.push(("DUCQ_QC_RLIMIT", (3u64 << 20).to_string()));
    }
    let mut log = Log::default();
    let mut child = spawn("fill", &dir, &env);
    child.until("READY", Duration::from_secs(30), &mut log);
    child.until("FULL", Duration::from_secs(60), &mut log);
    // Every failure is the store's clear error, for enqueues and acks alike.
    assert!(!log.errors.is_empty());
    for e in &log.errors {
        assert!(
            e.contains("store:") && e.contains("(no space left)"),
            "unexpected error: {e}"
        );
    }
    let answered_before = log.answered.len();
    assert!(answered_before > 50, "only {answered_before} fitted");
    // Space returns; the same process goes on.
    if let Some(m) = &mount {
        m.grow("16m");
    }
    writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
    child.until("DONE", Duration::from_secs(30), &mut log);
    assert_eq!(
        log.answered.len(),
        answered_before + 3,
        "enqueues after space returned"
    );
    child.kill(&mut log);
    // A restart finds everything answered, intact.
    let mut child = spawn("drain", &dir, &[]);
    assert_eq!(
        child.until("DRAINED", Duration::from_secs(60), &mut log),
        "DRAINED 0"
    );
    child.kill(&mut log);
    let missing: Vec<_> = log
        .answered
        .iter()
        .filter(|(_, id)| !log.delivered.contains_key(id))
        .collect();
    assert!(missing.is_empty(), "answered but lost: {missing:?}");
    drop(mount);
    let _ = std::fs::remove_dir_all(&dir);
}
