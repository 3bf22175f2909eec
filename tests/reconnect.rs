//! Clients that reconnect, against a real `ducq-server` that is killed
//! (SIGKILL) and started again on the same port: `ducq sub`, `ducq deq`,
//! `ducq serve` and the Rust client resume, subscribed (consuming, serving)
//! again, with no live message delivered twice;
//! the back-off is read from their log lines and event callbacks (the
//! delays the policy chose), never from a clock.

mod procs;

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use ducq::backoff::Backoff;
use ducq::client::reconnect::{Event, Offline, Policy, Reconnecting};
use procs::{Proc, Server, WAIT};

fn ducq(port: u16, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ducq"));
    c.args(["--port", &port.to_string()]).args(args);
    c
}

/// `(attempt, delay in s)` of a `reconnecting ... in X s (attempt N)` line.
fn retry_of(line: &str) -> Option<(u32, f64)> {
    let (_, rest) = line.split_once(" in ")?;
    let (secs, rest) = rest.split_once(" s (attempt ")?;
    let n = rest.split(')').next()?.parse().ok()?;
    Some((n, secs.parse().ok()?))
}

#[test]
fn ducq_sub_survives_a_server_restart() {
    let first = Server::start(0, &[]);
    let port = first.port;
    let sub = Proc::spawn(&mut ducq(
        port,
        &["sub", "r/#", "-v", "--count", "3", "--reconnect-max", "0.4"],
    ));
    first.wait_subscribers("r/#", 1);
    first.client().publish("r/a", b"one").unwrap();
    assert_eq!(sub.out().next(), "r/a one");
    first.kill();
    // Down for at least four attempts: each waits between half and all of
    // min(0.4, 0.1 x 2^(n-1)) seconds (jitter), as the lines say.
    let lines = sub.err().until("(attempt 4)");
    assert_eq!(
        lines[0],
        format!("ducq: connection to 127.0.0.1:{port} lost: connection closed")
    );
    let retries: Vec<(u32, f64)> = lines.iter().filter_map(|l| retry_of(l)).collect();
    assert_eq!(
        retries.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "{lines:?}"
    );
    for (n, secs) in retries {
        let ceiling = (0.1 * f64::from(1u32 << (n - 1))).min(0.4);
        assert!(
            secs >= ceiling / 2.0 - 0.005 && secs <= ceiling + 0.005,
            "attempt {n}: {secs} s outside [{}, {ceiling}]",
            ceiling / 2.0
        );
    }
    let second = Server::start(port, &[]);
    let back = sub.err().until("reconnected to");
    assert!(
        back.last()
            .unwrap()
            .ends_with("; subscribed again to 1 route"),
        "{back:?}"
    );
    second.wait_subscribers("r/#", 1);
    let mut p = second.client();
    p.publish("r/b", b"two").unwrap();
    p.publish("r/c", b"three").unwrap();
    assert_eq!(sub.out().next(), "r/b two");
    assert_eq!(sub.out().next(), "r/c three");
    let mut sub = sub;
    assert_eq!(sub.wait(), Some(0));
    assert_eq!(sub.out().all(), ["r/a one", "r/b two", "r/c three"]);
}

#[test]
fn ducq_sub_last_does_not_print_a_stored_message_twice() {
    let server = Server::start(0, &["--history", "4"]);
    let mut p = server.client();
    p.publish("h", b"stored before").unwrap();
    let sub = Proc::spawn(&mut ducq(
        server.port,
        &["sub", "h", "--last", "4", "--count", "3"],
    ));
    assert_eq!(sub.out().next(), "stored before");
    server.wait_subscribers("h", 1);
    p.publish("h", b"live").unwrap();
    assert_eq!(sub.out().next(), "live");
    // The server drops the subscriber; one message is published meanwhile.
    let id = server.subscribers("h")[0]
        .split(',')
        .next()
        .unwrap()
        .to_string();
    p.emit("unsub", "x", id.as_bytes()).unwrap();
    assert_eq!(p.receive_reply().unwrap(), b"ACK");
    p.publish("h", b"missed").unwrap();
    // Back: the replay has all three; only the missed one is new.
    sub.err().until("reconnected to");
    assert_eq!(sub.out().next(), "missed");
    let mut sub = sub;
    assert_eq!(sub.wait(), Some(0));
    assert_eq!(sub.out().all(), ["stored before", "live", "missed"]);
}

#[test]
fn ducq_sub_no_reconnect_exits_when_the_server_goes() {
    let server = Server::start(0, &[]);
    let mut sub = Proc::spawn(&mut ducq(server.port, &["sub", "x", "--no-reconnect"]));
    server.wait_subscribers("x", 1);
    server.kill();
    assert_eq!(sub.wait(), Some(1));
    let err = sub.err().all();
    assert_eq!(err.last().unwrap(), "ducq: connection closed", "{err:?}");
    assert!(!err.iter().any(|l| l.contains("reconnect")), "{err:?}");
}

#[test]
fn rust_client_resumes_after_a_server_restart() {
    let first = Server::start(0, &[]);
    let addr = first.addr();
    let (events_tx, events) = mpsc::channel::<String>();
    let (msgs_tx, msgs) = mpsc::channel::<Vec<u8>>();
    let thread = std::thread::spawn(move || {
        let policy = Policy {
            backoff: Backoff {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(80),
                factor: 2,
                jitter: 0.0,
            },
            max_attempts: None,
            offline: Offline::Fail,
        };
        let mut c = Reconnecting::connect(&addr, WAIT, policy).unwrap();
        c.on_event(move |e| {
            let line = match e {
                Event::Disconnected { .. } => "disconnected".to_string(),
                Event::Retrying { attempt, delay, .. } => {
                    format!("retry {attempt} after {} ms", delay.as_millis())
                }
                Event::Reconnected {
                    attempts,
                    resubscribed,
                    ..
                } => format!("reconnected after {attempts} with {resubscribed}"),
                other => format!("{other:?}"),
            };
            let _ = events_tx.send(line);
        });
        c.subscribe("a", "").unwrap();
        c.subscribe("b", "add").unwrap();
        c.set_timeout(None).unwrap();
        msgs_tx.send(b"ready".to_vec()).unwrap();
        for _ in 0..3 {
            msgs_tx.send(c.receive().unwrap()).unwrap();
        }
    });
    assert_eq!(msgs.recv_timeout(WAIT).unwrap(), b"ready");
    first.client().publish("a", b"1").unwrap();
    assert_eq!(msgs.recv_timeout(WAIT).unwrap(), b"pub a\n1");
    let port = first.port;
    first.kill();
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("retry 5 ")) {
        seen.push(events.recv_timeout(WAIT).unwrap());
    }
    let second = Server::start(port, &[]);
    loop {
        let e = events.recv_timeout(WAIT).unwrap();
        let done = e.starts_with("reconnected");
        seen.push(e);
        if done {
            break;
        }
    }
    // Doubling from 20 ms to the 80 ms cap, one line per attempt.
    let retries = seen.len() - 2;
    let mut want = vec!["disconnected".to_string()];
    for n in 1..=retries as u32 {
        let ms = (20u64 << (n - 1).min(2)).min(80);
        want.push(format!("retry {n} after {ms} ms"));
    }
    want.push(format!("reconnected after {retries} with 2"));
    assert_eq!(seen, want);
    second.wait_subscribers("a", 1);
    second.wait_subscribers("b", 1);
    let mut p = second.client();
    p.publish("b", b"2").unwrap();
    p.publish("a", b"3").unwrap();
    assert_eq!(msgs.recv_timeout(WAIT).unwrap(), b"pub b\n2");
    assert_eq!(msgs.recv_timeout(WAIT).unwrap(), b"pub a\n3");
    thread.join().unwrap();
    assert!(msgs.try_recv().is_err(), "nothing delivered twice");
}

/// A fresh directory for a server's durable queues, removed on drop.
struct DataDir(std::path::PathBuf);

impl DataDir {
    fn new(name: &str) -> DataDir {
        let d = std::env::temp_dir().join(format!("ducq-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        DataDir(d)
    }
    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn ducq_deq_and_serve_survive_a_server_restart() {
    let dir = DataDir::new("reconnect-queues");
    let first = Server::start(0, &["--data-dir", dir.arg()]);
    let port = first.port;
    let mut deq = Proc::spawn(&mut ducq(
        port,
        &["deq", "jobs", "--count", "2", "--reconnect-max", "0.2"],
    ));
    let serve = Proc::spawn(&mut ducq(
        port,
        &[
            "serve",
            "upper",
            "--reconnect-max",
            "0.2",
            "--",
            "tr",
            "a-z",
            "A-Z",
        ],
    ));
    let mut c = first.client();
    c.enqueue("jobs", b"one").unwrap();
    assert_eq!(deq.out().next(), "one");
    // Acknowledged (so it cannot come again) before the server goes.
    procs::eventually("the ack of one", || {
        c.queues()
            .unwrap()
            .iter()
            .any(|q| q.name == "jobs" && q.depth == 0)
    });
    procs::eventually("serve to serve", || {
        c.request("upper", b"first", Duration::from_millis(200))
            .is_ok_and(|r| r == b"FIRST")
    });
    first.kill();
    for p in [&deq, &serve] {
        let lines = p.err().until("(attempt 2)");
        assert_eq!(
            lines[0],
            format!("ducq: connection to 127.0.0.1:{port} lost: connection closed")
        );
    }
    let second = Server::start(port, &["--data-dir", dir.arg()]);
    let back = deq.err().until("reconnected to");
    assert!(
        back.last().unwrap().ends_with("; consuming jobs again"),
        "{back:?}"
    );
    let back = serve.err().until("reconnected to");
    assert!(
        back.last().unwrap().ends_with("; serving upper again"),
        "{back:?}"
    );
    let mut c = second.client();
    assert_eq!(
        c.request("upper", b"again", WAIT).unwrap(),
        b"AGAIN",
        "served again"
    );
    c.enqueue("jobs", b"two").unwrap();
    assert_eq!(deq.out().next(), "two");
    assert_eq!(deq.wait(), Some(0));
    assert_eq!(deq.out().all(), ["one", "two"]);
}

#[test]
fn ducq_deq_no_reconnect_exits_when_the_server_goes() {
    let dir = DataDir::new("reconnect-deq-no");
    let server = Server::start(0, &["--data-dir", dir.arg()]);
    let mut deq = Proc::spawn(&mut ducq(server.port, &["deq", "jobs", "--no-reconnect"]));
    procs::eventually("a consumer", || {
        server
            .client()
            .queues()
            .unwrap()
            .iter()
            .any(|q| q.name == "jobs" && q.consumers == 1)
    });
    server.kill();
    assert_eq!(deq.wait(), Some(1));
    let err = deq.err().all();
    assert_eq!(err.last().unwrap(), "ducq: connection closed", "{err:?}");
    assert!(!err.iter().any(|l| l.contains("reconnect")), "{err:?}");
}
