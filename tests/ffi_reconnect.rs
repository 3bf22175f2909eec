//! A C subscriber with a reconnect policy (`ducq_set_reconnect`, issue 17)
//! under a real `ducq-server` that is killed (SIGKILL) and started again
//! on the same port: it resumes, subscribed again, with no live message
//! delivered twice; or, with a limit on attempts, gives up and its listen
//! ends. The back-off is read from what its callback reports (the delays
//! the policy chose), never from a clock.

mod ffi_util;
mod procs;

use ffi_util::{command, example, Running};
use procs::{eventually, Server};

/// Checks `retry N after MS ms` lines: numbered from 1, each wait between
/// half and all of `min(cap, 50 ms × 2^(N-1))` (jitter).
fn check_retries(lines: &[&str], cap: u64) {
    for (i, line) in lines.iter().enumerate() {
        let parsed = line
            .strip_prefix("retry ")
            .and_then(|r| r.split_once(" after "))
            .and_then(|(n, ms)| {
                Some((
                    n.parse::<u32>().ok()?,
                    ms.strip_suffix(" ms")?.parse::<u64>().ok()?,
                ))
            });
        let Some((n, ms)) = parsed else {
            panic!("not a retry line: {line:?}");
        };
        assert_eq!(n as usize, i + 1, "{lines:?}");
        let ceiling = (50u64 << (n - 1).min(8)).min(cap);
        assert!(
            ms >= ceiling / 2 && ms <= ceiling,
            "attempt {n}: {ms} ms outside [{}, {ceiling}]",
            ceiling / 2
        );
    }
}

/// The program's stderr once it has exited, and its exit status.
fn ended(mut p: Running) -> (i32, Vec<String>, String) {
    eventually("the program to exit", || {
        p.child.try_wait().unwrap().is_some()
    });
    let log = p.stderr();
    let (code, rest) = p.wait();
    (code, rest, log)
}

#[test]
fn a_c_subscriber_resumes_after_a_server_restart() {
    let first = Server::start(0, &[]);
    let port = first.port;
    let mut cmd = command(&example("resub"), false);
    cmd.args(["127.0.0.1", &port.to_string(), "r/#", "3", "200"]);
    let mut sub = Running::start(cmd, "resub");
    assert_eq!(sub.line(), "ready");
    first.wait_subscribers("r/#", 1);
    first.client().publish("r/a", b"one").unwrap();
    assert_eq!(sub.line(), "r/a one");
    first.kill();
    // Down for at least four attempts.
    eventually("four attempts", || sub.stderr().contains("retry 4 after"));
    let second = Server::start(port, &[]);
    eventually("the reconnection", || sub.stderr().contains("reconnected"));
    second.wait_subscribers("r/#", 1);
    let mut p = second.client();
    p.publish("r/b", b"two").unwrap();
    p.publish("r/c", b"three").unwrap();
    assert_eq!(sub.line(), "r/b two");
    assert_eq!(sub.line(), "r/c three");
    let (code, rest, log) = ended(sub);
    assert_eq!((code, rest), (0, Vec::<String>::new()), "{log}");
    // Lost; attempts whose waits double from 50 ms to the 200 ms cap; back,
    // subscribed again to its one route.
    let lines: Vec<&str> = log.lines().collect();
    let n = lines.len();
    assert!(n >= 6, "{log}");
    assert_eq!(lines[0], "lost", "{log}");
    check_retries(&lines[1..n - 1], 200);
    assert_eq!(
        lines[n - 1],
        format!("reconnected after {} attempts, 1 subscriptions", n - 2)
    );
}

#[test]
fn a_c_subscriber_gives_up_after_its_attempts() {
    let server = Server::start(0, &[]);
    let mut cmd = command(&example("resub"), false);
    cmd.args(["127.0.0.1", &server.port.to_string(), "r", "1", "100", "3"]);
    let mut sub = Running::start(cmd, "resub-gives-up");
    assert_eq!(sub.line(), "ready");
    server.wait_subscribers("r", 1);
    server.kill();
    let (code, rest, log) = ended(sub);
    assert_eq!((code, rest), (1, Vec::<String>::new()), "{log}");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 6, "{log}");
    assert_eq!(lines[0], "lost");
    check_retries(&lines[1..4], 100);
    assert_eq!(lines[4..], ["gave up after 3", "resub: connection closed"]);
}

/// Sends `sig` to process `pid` (only that one).
fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn a_c_subscriber_with_last_prints_no_replayed_message_twice() {
    let first = Server::start(0, &["--history", "4"]);
    let port = first.port;
    first.client().publish("h", b"state 1").unwrap();
    let mut cmd = command(&example("resub"), false);
    cmd.args([
        "127.0.0.1",
        &port.to_string(),
        "h",
        "3",
        "100",
        "0",
        "last 4",
    ]);
    let mut sub = Running::start(cmd, "resub-last");
    assert_eq!(sub.line(), "ready");
    assert_eq!(sub.line(), "h state 1");
    first.wait_subscribers("h", 1);
    first.client().publish("h", b"live 2").unwrap();
    assert_eq!(sub.line(), "h live 2");
    // Held still while the server restarts, so the restarted server is
    // ready (and has stored messages) before the program notices: its
    // publisher announces its current state again, then a new one.
    let pid = sub.child.id();
    signal(pid, "STOP");
    drop(first);
    let second = Server::start(port, &["--history", "4"]);
    let mut p = second.client();
    p.publish("h", b"live 2").unwrap();
    p.publish("h", b"new 3").unwrap();
    signal(pid, "CONT");
    // The replay is [live 2, new 3]; live 2 was printed before the break.
    assert_eq!(sub.line(), "h new 3");
    let (code, rest, log) = ended(sub);
    assert_eq!((code, rest), (0, Vec::<String>::new()), "{log}");
    assert!(log.contains("reconnected after"), "{log}");
}

#[test]
fn a_c_publisher_keeps_what_it_publishes_while_the_server_is_away() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let first = Server::start(0, &[]);
    let port = first.port;
    let mut c = Command::new(example("offline_pub"));
    c.args(["127.0.0.1", &port.to_string(), "2"])
        .stdin(Stdio::piped());
    let mut publisher = procs::Proc::spawn(&mut c);
    let mut input = publisher.child.stdin.take().unwrap();
    let mut say = |line: &str| {
        writeln!(input, "{line}").unwrap();
        input.flush().unwrap();
    };
    assert_eq!(publisher.out().next(), "ready");
    let mut sub = first.client();
    sub.subscribe("r", "").unwrap();
    say("r one");
    assert_eq!(publisher.out().next(), "DUCQ_OK");
    assert_eq!(sub.receive().unwrap(), b"pub r\none");
    first.kill();
    // Away: two are kept, the third finds the buffer full.
    say("r two");
    assert_eq!(publisher.out().next(), "DUCQ_OK");
    say("r three");
    assert_eq!(publisher.out().next(), "DUCQ_OK");
    say("r four");
    assert_eq!(publisher.out().next(), "DUCQ_EMAX");
    // Back: the next publish connects again and sends the kept ones first.
    let second = Server::start(port, &[]);
    let mut sub = second.client();
    sub.subscribe("r", "").unwrap();
    say("r five");
    assert_eq!(publisher.out().next(), "DUCQ_OK");
    for want in ["two", "three", "five"] {
        assert_eq!(
            sub.receive().unwrap(),
            format!("pub r\n{want}").into_bytes()
        );
    }
    // End of input: the program ends.
    drop(input);
    assert_eq!(publisher.wait(), Some(0));
    assert_eq!(publisher.err().all(), ["kept 1", "kept 2", "flushed 2"]);
    assert_eq!(
        publisher.out().all(),
        [
            "ready",
            "DUCQ_OK",
            "DUCQ_OK",
            "DUCQ_OK",
            "DUCQ_EMAX",
            "DUCQ_OK"
        ]
    );
    sub.set_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    assert!(sub.receive().is_err(), "four, refused, was never sent");
}
