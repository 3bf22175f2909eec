//! The routing features through the binaries: `ducq-server --history N`
//! and `ducq sub --last N`, `ducq send to ID`. Exact output asserted.

mod server_bin;

use server_bin::ServerBin;
use std::process::{Command, Output};

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
