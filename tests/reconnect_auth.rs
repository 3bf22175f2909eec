//! Authentication is done again on reconnect (issue 17): a `ducq-server`
//! with users and anonymous clients refused is killed (SIGKILL) and started
//! again on the same port under three subscribers that authenticated: the
//! Rust reconnecting client (its connector authenticates), a C program
//! with `ducq_set_reconnect` (after `ducq_authenticate`) and `ducq sub
//! --user`. Each is back as its user, subscribed again, and gets every
//! live message published after the restart, once.

mod procs;
mod secure_util;

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ducq::backoff::Backoff;
use ducq::client::reconnect::{Offline, Policy, Reconnecting};
use ducq::client::{Client, Error};
use procs::{Proc, Server, WAIT};
use secure_util::{hash, TempDir};

const PASSWORD: &str = "reader pw";

/// Users: `reader` may only subscribe within r/#; `boss` is an admin.
fn users(dir: &TempDir) -> String {
    let phc = hash(PASSWORD);
    dir.write(
        "users.toml",
        &format!(
            "[queues]\ndata_dir = \"none\"\n\n[[user]]\nname = \"reader\"\npassword = \"{phc}\"\n\
             subscribe = [\"r/#\"]\n\n[[user]]\nname = \"boss\"\npassword = \"{phc}\"\n\
             publish = [\"#\"]\nsubscribe = [\"#\"]\nadmin = true\n"
        ),
    )
}

fn start(port: u16, config: &str) -> Server {
    Server::start(port, &["--config", config, "--no-anonymous"])
}

fn boss(server: &Server) -> Client {
    let mut c = server.client();
    c.authenticate("boss", PASSWORD.as_bytes()).unwrap();
    c
}

/// Waits until `n` connections of `user` are subscribed to `route`
/// (`lsconn` lines name the user).
fn wait_subscribed(server: &Server, user: &str, route: &str, n: usize) {
    let mut c = boss(server);
    let deadline = Instant::now() + WAIT;
    loop {
        let all: Vec<String> = c
            .list("lsconn")
            .unwrap()
            .iter()
            .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
            .collect();
        let prefix = format!("{user}@");
        let mine = all
            .iter()
            .filter(|l| l.starts_with(&prefix) && l.ends_with(&format!(",{route}")))
            .count();
        if mine == n {
            return;
        }
        assert!(Instant::now() < deadline, "{all:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn rust_c_and_cli_subscribers_authenticate_again_after_a_restart() {
    // Built (or found) before any clock runs.
    let resub = ffi_resub();
    let dir = TempDir::new("reconnect-auth");
    let config = users(&dir);
    let first = start(0, &config);
    let (port, addr) = (first.port, first.addr());
    // Anonymous clients are refused: a subscriber that did not
    // authenticate again could not subscribe again.
    let mut anon = first.client();
    assert!(matches!(anon.subscribe("r/x", ""), Err(Error::Nack { .. })));

    // The Rust client: its connector authenticates every connection.
    let (tx, rust_msgs) = mpsc::channel::<Vec<u8>>();
    let rust_addr = addr.clone();
    let rust = std::thread::spawn(move || {
        let policy = Policy {
            backoff: Backoff {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(100),
                ..Backoff::default()
            },
            max_attempts: None,
            offline: Offline::Fail,
        };
        let connect = Box::new(move || {
            let mut c = Client::connect(&rust_addr, WAIT)?;
            c.authenticate("reader", PASSWORD.as_bytes())?;
            Ok(c)
        });
        let mut c = Reconnecting::new(connect, policy, Some(WAIT)).unwrap();
        c.subscribe("r/#", "").unwrap();
        for _ in 0..3 {
            tx.send(c.receive().unwrap()).unwrap();
        }
        c.set_timeout(Some(Duration::from_millis(300))).unwrap();
        assert!(matches!(c.receive(), Err(Error::Timeout)));
    });

    // The C program.
    let mut c_sub = Proc::spawn(
        Command::new(&resub)
            .args(["127.0.0.1", &port.to_string(), "r/#", "3", "100"])
            .env("DUCQ_USER", "reader")
            .env("DUCQ_PASSWORD", PASSWORD),
    );
    assert_eq!(c_sub.out().next(), "ready");

    // The CLI.
    let mut cli = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_ducq"))
            .args(["--port", &port.to_string(), "--user", "reader"])
            .args(["sub", "r/#", "-v", "--count", "3", "--reconnect-max", "0.1"])
            .env("DUCQ_PASSWORD", PASSWORD),
    );

    wait_subscribed(&first, "reader", "r/#", 3);
    boss(&first).publish("r/a", b"one").unwrap();
    assert_eq!(rust_msgs.recv_timeout(WAIT).unwrap(), b"pub r/a\none");
    assert_eq!(c_sub.out().next(), "r/a one");
    assert_eq!(cli.out().next(), "r/a one");

    first.kill();
    cli.err().until("(attempt 2)");
    let second = start(port, &config);
    // Back as `reader`, subscribed again: only possible after `auth`.
    wait_subscribed(&second, "reader", "r/#", 3);
    let mut p = boss(&second);
    p.publish("r/b", b"two").unwrap();
    p.publish("r/c", b"three").unwrap();
    for want in [&b"pub r/b\ntwo"[..], b"pub r/c\nthree"] {
        assert_eq!(rust_msgs.recv_timeout(WAIT).unwrap(), want);
    }
    rust.join().unwrap();
    // Each printed every message once, and ended at its count.
    assert_eq!(c_sub.wait(), Some(0));
    assert_eq!(
        c_sub.out().all(),
        ["ready", "r/a one", "r/b two", "r/c three"]
    );
    assert!(c_sub
        .err()
        .all()
        .iter()
        .any(|l| l.starts_with("reconnected after")));
    assert_eq!(cli.wait(), Some(0));
    assert_eq!(cli.out().all(), ["r/a one", "r/b two", "r/c three"]);
}

/// The C example `resub`, built against libducq.a by the FFI test helper.
fn ffi_resub() -> std::path::PathBuf {
    ffi_util::example("resub")
}

mod ffi_util;
