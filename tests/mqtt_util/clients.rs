//! Debian's MQTT command-line clients, `mosquitto_pub` and
//! `mosquitto_sub` (package mosquitto-clients, installed by
//! scripts/test.sh when missing), aimed at a loopback port. Only the
//! command and the success check live here; what a test sends and expects
//! stays in the test.

use std::process::{Command, Output, Stdio};

use super::program;

/// `tool` aimed at 127.0.0.1:`port` with `args`: stdin closed, stdout
/// and stderr piped.
pub fn mosquitto(tool: &str, port: u16, args: &[&str]) -> Command {
    let bin = program(tool).expect("mosquitto-clients not installed (scripts/test.sh does it)");
    let mut c = Command::new(bin);
    c.args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Asserts a finished client succeeded (its status and stderr in the
/// message); its stdout.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `tool` to its end (see `mosquitto`), asserting it succeeded;
/// its stdout.
pub fn run(tool: &str, port: u16, args: &[&str]) -> String {
    ok(mosquitto(tool, port, args).output().unwrap())
}
