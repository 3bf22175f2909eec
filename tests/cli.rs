//! The `ducq` CLI and the `ducq-server` binary, run as processes: pub, sub,
//! lscmd, lsconn, send, exit statuses, and a clean stop on SIGTERM.

mod ports;
mod server_bin;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use server_bin::ServerBin;

type Server = ServerBin;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn pub_and_sub_with_stdin_payload_and_verbose_routes() {
    let srv = Server::start(&[]);
    let sub = srv
        .ducq(&["sub", "home/*", "-v", "--count", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    srv.wait_for_subscriber("home/*");
    let out = srv.run(&["pub", "home/light", "on"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut p = srv
        .ducq(&["pub", "home/temp", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(b"21.5").unwrap();
    assert!(p.wait().unwrap().success());
    let out = sub.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "home/light on\nhome/temp 21.5\n");
}

#[test]
fn sub_last_prints_stored_message_first() {
    let srv = Server::start(&[]);
    assert!(srv.run(&["pub", "dev/state", "ready"]).status.success());
    let out = srv.run(&["sub", "dev/state", "--last", "--count", "1"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "ready\n");
}

#[test]
fn lscmd_and_lsconn() {
    let srv = Server::start(&[]);
    let out = srv.run(&["lscmd"]);
    assert!(out.status.success());
    let listing = text(&out.stdout);
    assert!(listing.starts_with("\"lscmd\",\""), "{listing}");
    assert!(listing.contains("\"pub\",\""));

    let mut c = srv.client();
    c.subscribe("watched", "").unwrap();
    let out = srv.run(&["lsconn"]);
    assert!(out.status.success());
    let listing = text(&out.stdout);
    assert!(
        listing.contains(&format!("{},watched\n", c.id())),
        "{listing}"
    );
}

#[test]
fn send_prints_reply_and_nack_sets_exit_status() {
    let srv = Server::start(&[]);
    let out = srv.run(&["send", "epoch"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).trim().parse::<u64>().is_ok());

    let out = srv.run(&["send", "nope", "r", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "ducq: NACK 17: command unknown\n");

    let out = srv.run(&["pub", "", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("message invalid"));
}

#[test]
fn refused_connection_is_one_clear_line() {
    // A port nobody listens on.
    let port = ports::free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_ducq"))
        .args(["--port", &port.to_string(), "lscmd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("could not connect to 127.0.0.1:"), "{err}");
}

#[test]
fn usage_errors_and_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_ducq")).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let out = Command::new(env!("CARGO_BIN_EXE_ducq"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("pub ROUTE PAYLOAD"));
    let out = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    for flag in [
        "--tcp",
        "--max-message",
        "--idle-timeout",
        "--log-level",
        "--max-output",
        "--output-high-water",
        "--output-low-water",
        "--output-timeout",
    ] {
        assert!(text(&out.stdout).contains(flag), "{flag}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .args(["--output-high-water", "4096", "--output-low-water", "4096"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        text(&out.stderr),
        "ducq-server: --output-low-water (4096) must be below --output-high-water (4096)\n"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("unknown option '--bogus'"));
}

#[test]
fn server_stops_cleanly_on_sigterm() {
    let mut srv = Server::start(&[]);
    let mut c = srv.client();
    c.publish("x", b"y").unwrap();
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(srv.child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = srv.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}
