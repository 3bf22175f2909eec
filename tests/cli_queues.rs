//! Issue 15: the CLI's queue and request/reply commands as processes —
//! `ducq enq`, `deq`, `queues`, `serve`, `req` and their exit statuses.

mod util;

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use util::{TestServer, WAIT};

fn ducq(srv: &TestServer, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ducq"));
    c.args(["--port", &srv.addr.port().to_string()]).args(args);
    c
}

fn run(srv: &TestServer, args: &[&str]) -> Output {
    ducq(srv, args).output().expect("run ducq")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `ducq serve` process, killed on drop.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ducq serve ROUTE -- CMD...` and waits until it serves (a
/// request no longer answers "no member").
fn serve(srv: &TestServer, route: &str, cmd: &[&str]) -> Serving {
    let mut args = vec!["serve", route, "--"];
    args.extend_from_slice(cmd);
    let child = ducq(srv, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let serving = Serving(child);
    let mut c = ducq::client::Client::connect(&srv.addr.to_string(), WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        // A probe with a short timeout: "no member" comes at once, anything
        // else means the member is there.
        match c.request(route, b"", Duration::from_millis(1)) {
            Err(ducq::client::Error::Nack {
                state: ducq::State::ENotFound,
                ..
            }) => {}
            _ => return serving,
        }
        assert!(Instant::now() < deadline, "ducq serve never served {route}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn enq_queues_and_deq() {
    let srv = TestServer::start();
    let out = run(&srv, &["enq", "jobs", "first"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1\n");
    let mut child = ducq(&srv, &["enq", "jobs", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from\nstdin")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), "2\n");
    run(&srv, &["enq", "jobs", "third"]);
    let out = run(&srv, &["queues"]);
    assert!(out.status.success());
    let lines: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines[0], "NAME DEPTH READY IN-FLIGHT CONSUMERS OLDEST");
    assert!(lines[1].starts_with("jobs 3 3 0 0 "), "{lines:?}");
    assert_eq!(lines.len(), 2);
    let out = run(&srv, &["deq", "jobs", "--count", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "first\nfrom\nstdin\n");
    let out = run(&srv, &["deq", "jobs", "--no-ack"]);
    assert_eq!(text(&out.stdout), "third\n");
    let out = run(&srv, &["queues"]);
    assert!(
        text(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()[..5]
            == ["jobs", "0", "0", "0", "0"]
    );
    // Errors.
    let out = run(&srv, &["enq", "bad name", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "ducq: NACK 15: message invalid\n");
    assert_eq!(run(&srv, &["deq"]).status.code(), Some(64));
    assert_eq!(
        run(&srv, &["deq", "q", "--count", "0"]).status.code(),
        Some(64)
    );
    assert_eq!(run(&srv, &["enq", "q"]).status.code(), Some(64));
}

#[test]
fn serve_and_req_end_to_end() {
    let srv = TestServer::start();
    let _upper = serve(&srv, "upper", &["tr", "a-z", "A-Z"]);
    let out = run(&srv, &["req", "upper", "hello world"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "HELLO WORLD");
    // The payload from stdin, binary-safe and larger than a pipe buffer.
    let big: Vec<u8> = (0..200_000).map(|i| b'a' + (i % 26) as u8).collect();
    let mut child = ducq(&srv, &["req", "upper", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&big).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, big.to_ascii_uppercase());
}

#[test]
fn req_exit_statuses() {
    let srv = TestServer::start();
    let out = run(&srv, &["req", "nobody", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "ducq: no member serves 'nobody'\n");
    let _fail = serve(
        &srv,
        "fail",
        &[
            "sh",
            "-c",
            "cat >/dev/null; echo 'disk on fire' >&2; exit 3",
        ],
    );
    let out = run(&srv, &["req", "fail", "x"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(text(&out.stderr), "ducq: disk on fire\n");
    let _silent = serve(&srv, "slow", &["sleep", "5"]);
    let out = run(&srv, &["req", "slow", "x", "--timeout", "0.3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr),
        "ducq: no reply from 'slow' within 0.3 s\n"
    );
    let help = text(&run(&srv, &["--help"]).stdout);
    assert!(help
        .lines()
        .any(|l| l == "  4   req: the member serving the route failed (its error on stderr)"));
    assert_eq!(run(&srv, &["serve", "r"]).status.code(), Some(64));
    assert_eq!(run(&srv, &["serve", "r", "--"]).status.code(), Some(64));
}
