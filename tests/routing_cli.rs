//! The routing features through the binaries: `ducq-server --history N`
//! and `ducq sub --last N`, `ducq send to ID` reaching one `ducq sub`.
//! Exact output asserted.

mod server_bin;

use server_bin::ServerBin;
use std::io::Read;
use std::process::{Child, Command, Output, Stdio};

type Server = ServerBin;

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn history_flag_and_sub_last_n() {
    let srv = Server::start(&["--history", "3"]);
    for m in ["a", "b", "c", "d"] {
        stdout(&srv.run(&["pub", "h/r", m]));
    }
    assert_eq!(
        stdout(&srv.run(&["sub", "h/r", "--last", "3", "--count", "3"])),
        "b\nc\nd\n"
    );
    assert_eq!(
        stdout(&srv.run(&["sub", "h/+", "--last", "2", "--count", "2", "-v"])),
        "h/r c\nh/r d\n"
    );
    // `--last` alone: the newest one.
    assert_eq!(
        stdout(&srv.run(&["sub", "h/r", "--last", "--count", "1"])),
        "d\n"
    );
    assert_eq!(
        stdout(&srv.run(&["send", "last", "h/r", "1"])),
        "pub h/r\nd\n"
    );
    let help = srv.run(&["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--last [N]"));
}

#[test]
fn server_flags_are_checked() {
    for flag in ["--history", "--stream-window", "--stream-timeout"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
            .args([flag, "many"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!("ducq-server: {flag}: 'many' is not a whole number")
        );
    }
}

/// Everything `child` writes to stdout, once it exits.
fn finish(mut child: Child) -> String {
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    out
}

#[test]
fn send_to_reaches_one_subscriber_process_only() {
    let srv = Server::start(&[]);
    let spawn = |args: &[&str]| {
        srv.ducq(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let target = spawn(&["sub", "dm/a", "--count", "1", "-v"]);
    srv.wait_for_subscriber("dm/a");
    let bystander = spawn(&["sub", "dm/#", "--count", "1"]);
    srv.wait_for_subscriber("dm/#");
    // The target's id, as `ducq lsconn` prints it.
    let listing = stdout(&srv.run(&["lsconn"]));
    let id = listing
        .lines()
        .find_map(|l| l.strip_suffix(",dm/a"))
        .unwrap_or_else(|| panic!("{listing}"))
        .to_string();
    assert_eq!(
        stdout(&srv.run(&["send", "to", &id, "hello there"])),
        "ACK\n"
    );
    // `-v` prints the sender's id where a publication's route would be.
    let got = finish(target);
    let (from, payload) = got.split_once(' ').unwrap_or_else(|| panic!("{got:?}"));
    assert!(from.starts_with("TCP:127.0.0.1:") && from != id, "{got:?}");
    assert_eq!(payload, "hello there\n");
    // With --json, the sender is named `from`, not taken for a route.
    let json = spawn(&["sub", "dm/j", "--count", "1", "--json"]);
    srv.wait_for_subscriber("dm/j");
    let listing = stdout(&srv.run(&["lsconn"]));
    let json_id = listing
        .lines()
        .find_map(|l| l.strip_suffix(",dm/j"))
        .unwrap_or_else(|| panic!("{listing}"))
        .to_string();
    stdout(&srv.run(&["send", "to", &json_id, "{\"a\":1}"]));
    let got = finish(json);
    assert!(
        got.starts_with("{\"from\":\"TCP:127.0.0.1:")
            && got.ends_with("\",\"payload\":\"{\\\"a\\\":1}\"}\n"),
        "{got:?}"
    );
    // Nobody else got them: the bystander's one message is the next
    // publication.
    stdout(&srv.run(&["pub", "dm/b", "after"]));
    assert_eq!(finish(bystander), "after\n");
    // An id nobody has (once the server saw the target leave): the NACK
    // on stderr, exit status 2.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let listed = |id: &str| {
        stdout(&srv.run(&["lsconn"]))
            .lines()
            .any(|l| l.starts_with(&format!("{id},")))
    };
    while listed(&id) {
        assert!(std::time::Instant::now() < deadline, "{id} still listed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = srv.run(&["send", "to", &id, "again"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ducq: NACK 19: connection not found\n"
    );
}
