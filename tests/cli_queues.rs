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
fn queues_and_deq_as_json() {
    let srv = TestServer::start();
    let payloads: [&[u8]; 4] = [b"plain", b"two\nlines\r\n", b"nul\0", b"\xff\x00bin"];
    let mut c = ducq::client::Client::connect(&srv.addr.to_string(), WAIT).unwrap();
    for p in payloads {
        c.enqueue("js", p).unwrap();
    }
    c.enqueue("other", b"x").unwrap();
    let out = run(&srv, &["--json", "queues"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["name"].as_str().unwrap(), q["depth"].as_u64().unwrap()))
        .collect();
    assert_eq!(names, [("js", 4), ("other", 1)]);
    assert!(list[0]["oldest_ms"].is_u64());
    assert_eq!(list[0]["ready"], 4);
    assert_eq!(list[0]["in_flight"], 0);
    assert_eq!(list[0]["consumers"], 0);
    // One object per line, every payload byte for byte.
    let out = run(&srv, &["deq", "js", "--count", "4", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{}", text(&out.stdout));
    use base64::Engine as _;
    for (i, m) in lines.iter().enumerate() {
        assert_eq!(
            (m["queue"].as_str(), m["id"].as_u64()),
            (Some("js"), Some(i as u64 + 1))
        );
        assert_eq!(m["deliveries"], 1);
        let bytes = match (m["payload"].as_str(), m["payload_base64"].as_str()) {
            (Some(t), None) => t.as_bytes().to_vec(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
            _ => panic!("{m}"),
        };
        assert_eq!(bytes, payloads[i]);
    }
    assert_eq!(lines[3]["payload_base64"], "/wBiaW4=");
    // Acknowledged as they were printed.
    let out = run(&srv, &["--json", "queues"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["depth"], 0);
    // --json elsewhere is still refused.
    let out = run(&srv, &["--json", "enq", "js", "x"]);
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        text(&out.stderr),
        "ducq: --json applies to lscmd, lsconn, sub, queues and deq, not enq\nTry 'ducq --help'.\n"
    );
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
