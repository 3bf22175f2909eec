//! A Python MQTT client, paho-mqtt (from PyPI, installed by
//! scripts/test.sh into a virtual environment under target/), against a
//! ducq server's MQTT listener: QoS 0/1/2 in MQTT 3.1.1 and 5, retained
//! messages, user properties, a persistent session whose unacknowledged
//! QoS 1 message is redelivered (DUP) after the connection dropped, a will
//! published when its client dies, and a shared subscription balanced
//! between its members.
//! tests/paho/client.py is the client; every run of it ends within 10 s.

mod util;

use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use ducq::server::Settings;
use ducq::transport::mqtt;
use util::TestServer;

fn python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-mqtt/bin/python");
    assert!(
        p.is_file(),
        "{} missing: scripts/test.sh creates it (python3 -m venv + pip install paho-mqtt)",
        p.display()
    );
    p
}

fn server() -> (TestServer, u16) {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen("127.0.0.1:0", mqtt::factory(mqtt::Config::default()))
            .expect("mqtt listener");
    });
    let port = srv.addrs[1].port();
    (srv, port)
}

fn client(port: u16, args: &[&str]) -> Command {
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
struct Sub {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    connected: String,
}

impl Sub {
    fn start(port: u16, args: &[&str]) -> Sub {
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
        }
    }

    /// The remaining message lines, once the client has exited.
    fn finish(mut self) -> Vec<String> {
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

fn publish(port: u16, args: &[&str]) {
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

fn qos_levels(sub_v5: &[&str], pub_v5: &[&str]) {
    let (_srv, port) = server();
    let sub = Sub::start(port, &[&["py", "paho/+", "1", "3"][..], sub_v5].concat());
    for (qos, payload) in [("0", "zero"), ("1", "one"), ("2", "two")] {
        publish(port, &[&["paho/t", payload, qos][..], pub_v5].concat());
    }
    // A QoS 0, 1 and 2 publication, delivered at most at the granted 1.
    assert_eq!(
        sub.finish(),
        [
            "paho/t|zero|0|0|0|",
            "paho/t|one|1|0|0|",
            "paho/t|two|1|0|0|"
        ]
    );
}

#[test]
fn paho_311_qos_levels() {
    qos_levels(&[], &[]);
}

#[test]
fn paho_5_qos_levels_and_mixed_versions() {
    qos_levels(&["--v5"], &["--v5"]);
    qos_levels(&["--v5"], &[]);
}

#[test]
fn paho_retained() {
    let (_srv, port) = server();
    publish(port, &["room/light", "on", "1", "--retain"]);
    let sub = Sub::start(port, &["late", "room/#", "1", "1", "--v5"]);
    assert_eq!(sub.finish(), ["room/light|on|0|1|0|"]);
}

#[test]
fn paho_5_user_properties() {
    let (_srv, port) = server();
    let sub = Sub::start(port, &["props", "u/#", "1", "1", "--v5"]);
    publish(port, &["u/x", "p", "1", "--v5", "--user", "unit=celsius"]);
    assert_eq!(sub.finish(), ["u/x|p|1|0|0|unit=celsius"]);
}

fn redelivery(version: &[&str]) {
    let (_srv, port) = server();
    let mut args = vec!["dev", "cmd/#", "1", "1", "--keep-session"];
    args.extend_from_slice(version);
    let mut first = args.clone();
    first.push("--noack");
    let sub = Sub::start(port, &first);
    assert_eq!(sub.connected, "CONNECTED session_present=0");
    publish(port, &["cmd/on", "1", "1"]);
    // Received, not acknowledged, connection dropped.
    assert_eq!(sub.finish(), ["cmd/on|1|1|0|0|"]);
    // The session is resumed and the message comes again, DUP set.
    let mut child = client(port, &[&["sub"][..], &args[..]].concat())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let connected = lines.next().unwrap().unwrap();
    assert_eq!(connected, "CONNECTED session_present=1");
    let rest: Vec<String> = lines
        .map(|l| l.unwrap())
        .filter(|l| !l.starts_with("SUBSCRIBED"))
        .collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(rest, ["cmd/on|1|1|0|1|"]);
}

#[test]
fn paho_311_qos1_redelivered_after_a_dropped_connection() {
    redelivery(&[]);
}

#[test]
fn paho_5_qos1_redelivered_after_a_dropped_connection() {
    redelivery(&["--v5"]);
}

#[test]
fn paho_will_published_when_the_client_dies() {
    let (_srv, port) = server();
    let watcher = Sub::start(port, &["watcher", "status/#", "1", "1"]);
    // Subscribed, then gone without DISCONNECT once its trigger arrives.
    let dying = Sub::start(
        port,
        &[
            "dying",
            "trigger",
            "0",
            "1",
            "--noack",
            "--will",
            "status/dying=offline",
        ],
    );
    publish(port, &["trigger", "now", "0"]);
    assert_eq!(dying.finish(), ["trigger|now|0|0|0|"]);
    assert_eq!(watcher.finish(), ["status/dying|offline|1|0|0|"]);
}

#[test]
fn paho_shared_subscription_balances_between_members() {
    let (_srv, port) = server();
    let members: Vec<Sub> = ["w1", "w2", "w3"]
        .iter()
        .map(|id| Sub::start(port, &[id, "$share/pool/jobs", "1", "2", "--v5"]))
        .collect();
    for k in 0..6 {
        publish(port, &["jobs", &format!("job{k}"), "1", "--v5"]);
    }
    // Each of the three gets two of the six, none twice.
    let mut all: Vec<String> = Vec::new();
    for m in members {
        let got = m.finish();
        assert_eq!(got.len(), 2, "{got:?}");
        all.extend(got);
    }
    all.sort();
    let want: Vec<String> = (0..6).map(|k| format!("jobs|job{k}|1|0|0|")).collect();
    assert_eq!(all, want);
}
