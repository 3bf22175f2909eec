//! The Python MQTT client, paho-mqtt (installed by scripts/test.sh into
//! a virtual environment under target/), driven through
//! tests/paho/client.py: a subscriber whose lines are read, a publisher
//! that must succeed, a subscriber resuming its session.

use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

pub fn python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-mqtt/bin/python");
    assert!(
        p.is_file(),
        "{} missing: scripts/test.sh creates it (python3 -m venv + pip install paho-mqtt)",
        p.display()
    );
    p
}

pub fn client(port: u16, args: &[&str]) -> Command {
    let mut c = Command::new(python());
    c.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/paho/client.py"))
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A running subscriber, its SUBACK seen.
pub struct Sub {
    pub child: Child,
    pub lines: Lines<BufReader<ChildStdout>>,
    pub connected: String,
    /// `SUBSCRIBED <granted QoS codes>`.
    pub lines_subscribed: String,
}

impl Sub {
    pub fn start(port: u16, args: &[&str]) -> Sub {
        let mut child = client(port, &[&["sub"][..], args].concat())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let connected = lines.next().expect("no CONNECTED line").unwrap();
        let subscribed = lines.next().expect("no SUBSCRIBED line").unwrap();
        assert!(subscribed.starts_with("SUBSCRIBED"), "{subscribed}");
        Sub {
            child,
            lines,
            connected,
            lines_subscribed: subscribed,
        }
    }

    /// The remaining message lines, once the client has exited.
    pub fn finish(mut self) -> Vec<String> {
        let got: Vec<String> = self.lines.by_ref().map(|l| l.unwrap()).collect();
        let out = self.child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        got
    }
}

pub fn publish(port: u16, args: &[&str]) {
    let out = client(port, &[&["pub"][..], args].concat())
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout == b"PUBLISHED\n",
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A subscriber that resumes its session: its CONNECTED line and the
/// messages it got (before or after its SUBACK), once it has exited.
pub fn rejoin(port: u16, args: &[&str]) -> (String, Vec<String>) {
    let mut child = client(port, &[&["sub"][..], args].concat())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let connected = lines.next().unwrap().unwrap();
    let rest: Vec<String> = lines
        .map(|l| l.unwrap())
        .filter(|l| !l.starts_with("SUBSCRIBED"))
        .collect();
    assert!(child.wait().unwrap().success());
    (connected, rest)
}

/// A subscriber to `cmd/#` whose session is kept (`args`) joins, gets
/// one QoS 0 message and leaves with a clean DISCONNECT, so that its
/// session stays; returns its CONNECTED line. QoS 0 because paho queues
/// its DISCONNECT before the PUBACK of a QoS 1 message, which would then
/// come again (DUP) on return.
pub fn join_and_leave(port: u16, args: &[&str]) -> String {
    let sub = Sub::start(port, args);
    let connected = sub.connected.clone();
    publish(port, &["cmd/first", "1", "0"]);
    assert_eq!(sub.finish(), ["cmd/first|1|0|0|0|"]);
    connected
}

/// The arguments of an MQTT 5 subscriber `id` to `cmd/#` (QoS 1, one
/// message) whose session is kept for `expiry` seconds after it leaves.
pub fn expiring<'a>(id: &'a str, expiry: &'a str) -> [&'a str; 8] {
    [
        id,
        "cmd/#",
        "1",
        "1",
        "--v5",
        "--keep-session",
        "--expiry",
        expiry,
    ]
}

/// Publishes `cmd/a` (payload `x`) at QoS 1, `cmd/b` (`y`) at QoS 0 and
/// `cmd/c` (`z`) at QoS 2, in that order: what the persistent-session
/// tests publish while their subscriber is away (its session keeps `a`
/// and `c`).
pub fn publish_qos_1_0_2(port: u16) {
    publish(port, &["cmd/a", "x", "1"]);
    publish(port, &["cmd/b", "y", "0"]);
    publish(port, &["cmd/c", "z", "2"]);
}

/// A client with a will delayed by `delay` seconds, subscribed to
/// `trigger`: it dies without DISCONNECT once the trigger comes.
pub fn dying_with_delayed_will(port: u16, delay: &str) {
    let dying = Sub::start(
        port,
        &[
            "dying",
            "trigger",
            "0",
            "1",
            "--noack",
            "--v5",
            "--keep-session",
            "--will",
            "status/dying=offline",
            "--will-delay",
            delay,
        ],
    );
    publish(port, &["trigger", "now", "0"]);
    assert_eq!(dying.finish(), ["trigger|now|0|0|0|"]);
}
