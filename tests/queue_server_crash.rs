//! Issue 15, crash safety against a real `ducq-server` process: four
//! producers enqueue 100 000 messages (pipelined, re-sending what was not
//! answered after a crash) while two consumers acknowledge; the server is
//! SIGKILLed at random moments at least five times and restarted on the
//! same data directory. Checked throughout and at the end:
//! - every enqueue answered with an id is delivered at least once;
//! - a message whose acknowledgement was answered is never delivered again;
//! - nothing is delivered that was not enqueued (payload and id agree).
//!
//! `DUCQ_CRASH_MESSAGES` and `DUCQ_CRASH_KILLS` make a longer run by hand
//! (docs/RELIABILITY.md).

mod server_bin;
mod util;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ducq::client::queue::QueueMessage;
use ducq::client::Client;
use ducq::proto::{classify, Kind};
use server_bin::listening;
use util::Rng;

const QUEUE: &str = "crash";
const PRODUCERS: usize = 4;
const CONSUMERS: usize = 2;
const WINDOW: usize = 200;

fn env_num(k: &str, default: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts the server on `dir`; returns it and its TCP port.
fn start(dir: &Path) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .args(["--tcp", "127.0.0.1:0", "--log-level", "info", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ducq-server");
    let port = listening(&mut child, 1)[0].port();
    (child, port)
}

/// The server process, killed when dropped (a failing test leaves none).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What every client saw, checked as it is recorded.
#[derive(Default)]
struct Seen {
    /// id → payload, answered enqueues.
    answered: HashMap<u64, String>,
    /// id → payload, deliveries.
    delivered: HashMap<u64, String>,
    acked: BTreeSet<u64>,
    deliveries: usize,
}

impl Seen {
    fn delivered(&mut self, m: &QueueMessage) {
        let payload = String::from_utf8(m.payload.clone()).unwrap();
        assert!(
            !self.acked.contains(&m.id),
            "message {} delivered after its ack was answered",
            m.id
        );
        assert!(valid(&payload), "delivered {payload:?}, never enqueued");
        if let Some(p) = self.answered.get(&m.id) {
            assert_eq!(p, &payload, "id {} answered for another payload", m.id);
        }
        if let Some(p) = self.delivered.insert(m.id, payload.clone()) {
            assert_eq!(p, payload, "id {} delivered with two payloads", m.id);
        }
        self.deliveries += 1;
    }

    fn answered(&mut self, id: u64, payload: &str) {
        if let Some(p) = self.delivered.get(&id) {
            assert_eq!(p, payload, "id {id} delivered with another payload");
        }
        assert_eq!(
            self.answered.insert(id, payload.to_string()),
            None,
            "id {id} answered twice"
        );
    }
}

/// Payloads are `p<producer>-<seq>` followed by a pattern of the seq.
fn payload(p: usize, seq: usize) -> String {
    let pad: String = (0..seq % 64)
        .map(|i| (b'a' + ((seq + i) % 26) as u8) as char)
        .collect();
    format!("p{p}-{seq}-{pad}")
}

fn valid(s: &str) -> bool {
    let mut it = s.splitn(3, '-');
    let (Some(p), Some(seq), Some(_)) = (it.next(), it.next(), it.next()) else {
        return false;
    };
    let (Some(p), Ok(seq)) = (
        p.strip_prefix('p').and_then(|p| p.parse().ok()),
        seq.parse(),
    ) else {
        return false;
    };
    payload(p, seq) == s
}

struct Shared {
    port: AtomicU16,
    seen: Mutex<Seen>,
    producers_done: AtomicUsize,
    stop: AtomicBool,
}

fn connect(shared: &Shared) -> Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let port = shared.port.load(Ordering::SeqCst);
        if let Ok(c) = Client::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(5)) {
            return c;
        }
        assert!(Instant::now() < deadline, "cannot reach the server");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn producer(shared: Arc<Shared>, p: usize, count: usize) {
    let mut next = 0;
    let mut unanswered: Vec<usize> = Vec::new();
    'conn: loop {
        let mut c = connect(&shared);
        loop {
            // Re-send what a crash left unanswered, then go on.
            let mut window: Vec<usize> = std::mem::take(&mut unanswered);
            while window.len() < WINDOW && next < count {
                window.push(next);
                next += 1;
            }
            if window.is_empty() {
                shared.producers_done.fetch_add(1, Ordering::SeqCst);
                return;
            }
            let mut sent = true;
            for &seq in &window {
                if c.send(&ducq::client::queue::enqueue_message(
                    QUEUE,
                    payload(p, seq).as_bytes(),
                ))
                .is_err()
                {
                    sent = false;
                    break;
                }
            }
            for (i, &seq) in window.iter().enumerate() {
                let reply = if sent {
                    c.receive()
                } else {
                    Err(ducq::client::Error::Closed)
                };
                match reply {
                    Ok(m) => {
                        let id: u64 = std::str::from_utf8(&m)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or_else(|| {
                                panic!("enq answered {:?}", String::from_utf8_lossy(&m))
                            });
                        shared.seen.lock().unwrap().answered(id, &payload(p, seq));
                    }
                    Err(_) => {
                        unanswered.extend_from_slice(&window[i..]);
                        continue 'conn;
                    }
                }
            }
        }
    }
}

fn consumer(shared: Arc<Shared>) {
    'conn: while !shared.stop.load(Ordering::SeqCst) {
        let mut c = connect(&shared);
        if c.consume(QUEUE, 100).is_err() {
            continue;
        }
        let _ = c.set_timeout(Some(Duration::from_millis(100)));
        // Acks sent and not yet answered, in order.
        let mut pending: std::collections::VecDeque<u64> = Default::default();
        while !shared.stop.load(Ordering::SeqCst) {
            let m = match c.receive() {
                Ok(m) => m,
                Err(ducq::client::Error::Timeout) => continue,
                Err(_) => continue 'conn,
            };
            if let Some(q) = QueueMessage::parse(&m) {
                shared.seen.lock().unwrap().delivered(&q);
                if c.emit("qack", QUEUE, q.id.to_string().as_bytes()).is_err() {
                    continue 'conn;
                }
                pending.push_back(q.id);
            } else if classify(&m) == Kind::Ack {
                let id = pending.pop_front().expect("an ACK for no ack");
                shared.seen.lock().unwrap().acked.insert(id);
            } else {
                panic!("consumer got {:?}", String::from_utf8_lossy(&m));
            }
        }
    }
}

#[test]
fn sigkill_under_load_loses_nothing_answered() {
    let messages = env_num("DUCQ_CRASH_MESSAGES", 100_000);
    let kills = env_num("DUCQ_CRASH_KILLS", 5);
    let dir = std::env::temp_dir().join(format!("ducq-server-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (child, port) = start(&dir);
    let mut server = Server(child);
    let shared = Arc::new(Shared {
        port: AtomicU16::new(port),
        seen: Mutex::new(Seen::default()),
        producers_done: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });
    let mut threads = Vec::new();
    for p in 0..PRODUCERS {
        let s = Arc::clone(&shared);
        threads.push(std::thread::spawn(move || {
            producer(s, p, messages / PRODUCERS)
        }));
    }
    for _ in 0..CONSUMERS {
        let s = Arc::clone(&shared);
        threads.push(std::thread::spawn(move || consumer(s)));
    }
    let started = Instant::now();
    let mut rng = Rng(0xdead_beef_1234);
    let mut done_kills = 0;
    // Kill at random moments while producers run (and after, if they
    // finish early, so at least `kills` crashes happen).
    while done_kills < kills {
        let answered_before = shared.seen.lock().unwrap().answered.len();
        std::thread::sleep(Duration::from_millis(300 + rng.next() % 1200));
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        done_kills += 1;
        let (s, port) = start(&dir);
        server = Server(s);
        shared.port.store(port, Ordering::SeqCst);
        let answered = shared.seen.lock().unwrap().answered.len();
        eprintln!(
            "kill {done_kills}: {answered} answered ({} since the last)",
            answered - answered_before
        );
    }
    // Let producers finish and consumers drain.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = shared.producers_done.load(Ordering::SeqCst) == PRODUCERS;
        let (answered, covered) = {
            let s = shared.seen.lock().unwrap();
            // Delivered, not acked: an ack committed just before a crash
            // was never answered, and its message is gone for good.
            let covered = s.answered.keys().all(|id| s.delivered.contains_key(id));
            (s.answered.len(), covered)
        };
        if done && covered {
            // Each message is answered once: only unanswered ones are re-sent.
            assert_eq!(answered, messages / PRODUCERS * PRODUCERS);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not drained: {answered} answered, producers done: {done}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Whatever a crash duplicated (committed but unanswered, so re-sent) is
    // drained too: the queue ends empty.
    let mut c = Client::connect(
        &format!("127.0.0.1:{}", shared.port.load(Ordering::SeqCst)),
        Duration::from_secs(5),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let q = c.queues().unwrap();
        if q.iter().all(|q| q.depth == 0) {
            break;
        }
        assert!(Instant::now() < deadline, "queue not drained: {q:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    shared.stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    drop(server);
    let s = shared.seen.lock().unwrap();
    let missing = s
        .answered
        .keys()
        .filter(|id| !s.delivered.contains_key(id))
        .count();
    assert_eq!(missing, 0, "answered but never delivered");
    eprintln!(
        "{done_kills} kills in {:.1} s: {} answered, {} deliveries, {} acks",
        started.elapsed().as_secs_f64(),
        s.answered.len(),
        s.deliveries,
        s.acked.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
