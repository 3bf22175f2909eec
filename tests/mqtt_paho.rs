//! A Python MQTT client, paho-mqtt (from PyPI, installed by
//! scripts/test.sh into a virtual environment under target/), against a
//! ducq server's MQTT listener: QoS 0/1/2 in MQTT 3.1.1 and 5, retained
//! messages, user properties, a persistent session whose unacknowledged
//! QoS 1 message is redelivered (DUP) after the connection dropped, a will
//! published when its client dies, and a shared subscription balanced
//! between its members; a persistent session that gets what was published
//! while it was away, MQTT 5 session expiry, and a will with a delay.
//! tests/paho/client.py is the client; every run of it ends within 10 s.

mod mqtt_util;
mod util;

use std::thread::sleep;
use std::time::{Duration, Instant};

use ducq::server::Settings;
use ducq::transport::mqtt;
use mqtt_util::paho::{
    dying_with_delayed_will, expiring, join_and_leave, publish, publish_qos_1_0_2, rejoin, Sub,
};
use util::TestServer;

fn server() -> (TestServer, u16) {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen("127.0.0.1:0", mqtt::factory(mqtt::Config::default()))
            .expect("mqtt listener");
    });
    let port = srv.addrs[1].port();
    (srv, port)
}

fn qos_levels(sub_qos: &str, sub_v5: &[&str], pub_v5: &[&str]) {
    let (_srv, port) = server();
    let sub = Sub::start(
        port,
        &[&["py", "paho/+", sub_qos, "3"][..], sub_v5].concat(),
    );
    assert_eq!(sub.lines_subscribed, format!("SUBSCRIBED {sub_qos}"));
    for (qos, payload) in [("0", "zero"), ("1", "one"), ("2", "two")] {
        publish(port, &[&["paho/t", payload, qos][..], pub_v5].concat());
    }
    // A QoS 0, 1 and 2 publication, each delivered at the lower of its QoS
    // and the subscription's (QoS 2: PUBREC, PUBREL, PUBCOMP with paho).
    let two = format!("paho/t|two|{sub_qos}|0|0|");
    assert_eq!(
        sub.finish(),
        ["paho/t|zero|0|0|0|", "paho/t|one|1|0|0|", &two]
    );
}

#[test]
fn paho_311_qos_levels() {
    qos_levels("1", &[], &[]);
    qos_levels("2", &[], &[]);
}

#[test]
fn paho_5_qos_levels_and_mixed_versions() {
    qos_levels("1", &["--v5"], &["--v5"]);
    qos_levels("2", &["--v5"], &["--v5"]);
    qos_levels("2", &["--v5"], &[]);
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
    let (connected, rest) = rejoin(port, &args);
    assert_eq!(connected, "CONNECTED session_present=1");
    assert_eq!(rest, ["cmd/on|1|1|0|1|"]);
}

fn offline_queue(version: &[&str]) {
    let (_srv, port) = server();
    let mut args = vec!["away", "cmd/#", "1", "1", "--keep-session"];
    args.extend_from_slice(version);
    let connected = join_and_leave(port, &args);
    assert_eq!(connected, "CONNECTED session_present=0");
    // While it is away: QoS 1, QoS 0 and QoS 2 publications.
    publish_qos_1_0_2(port);
    args[3] = "2";
    let (connected, rest) = rejoin(port, &args);
    assert_eq!(connected, "CONNECTED session_present=1");
    // The QoS 1 and 2 ones were kept for it (at its QoS 1), in order, sent
    // for the first time; the QoS 0 one was not.
    assert_eq!(rest, ["cmd/a|x|1|0|0|", "cmd/c|z|1|0|0|"]);
}

#[test]
fn paho_311_persistent_session_gets_what_was_published_while_away() {
    offline_queue(&[]);
}

#[test]
fn paho_5_persistent_session_gets_what_was_published_while_away() {
    offline_queue(&["--v5"]);
}

#[test]
fn paho_5_session_expiry_ends_a_session_kept_too_long() {
    let (_srv, port) = server();
    let args = expiring("short", "1");
    join_and_leave(port, &args);
    // Past its one second (the server looks about once a second).
    sleep(Duration::from_millis(2500));
    publish(port, &["cmd/late", "lost", "1"]);
    let back = Sub::start(port, &args);
    assert_eq!(back.connected, "CONNECTED session_present=0");
    publish(port, &["cmd/now", "2", "1"]);
    assert_eq!(back.finish(), ["cmd/now|2|1|0|0|"]);
}

#[test]
fn paho_5_a_delayed_will_is_published_after_its_delay() {
    let (_srv, port) = server();
    let watcher = Sub::start(port, &["watcher", "status/#", "1", "1"]);
    dying_with_delayed_will(port, "1");
    let died = Instant::now();
    assert_eq!(watcher.finish(), ["status/dying|offline|1|0|0|"]);
    let waited = died.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
}

#[test]
fn paho_5_a_delayed_will_is_not_published_if_the_client_returns_in_time() {
    let (_srv, port) = server();
    let watcher = Sub::start(port, &["watcher", "status/#", "1", "1"]);
    dying_with_delayed_will(port, "2");
    let back = Sub::start(
        port,
        &["dying", "trigger", "0", "1", "--v5", "--keep-session"],
    );
    assert_eq!(back.connected, "CONNECTED session_present=1");
    sleep(Duration::from_millis(3000));
    // The watcher's one message is this one, not the will.
    publish(port, &["status/check", "ok", "1"]);
    assert_eq!(watcher.finish(), ["status/check|ok|1|0|0|"]);
    publish(port, &["trigger", "bye", "0"]);
    assert_eq!(back.finish(), ["trigger|bye|0|0|0|"]);
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
