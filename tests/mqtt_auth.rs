//! MQTT behind users and access lists, against a real `ducq-server` whose
//! `mqtt` and `mqtts` listeners come from its configuration file: CONNECT's
//! user name and password (right, wrong, missing where anonymous use is
//! off; ignored on a server without users), a client certificate on
//! `mqtts` naming the user, PUBLISH and
//! SUBSCRIBE judged by the same access lists as ducq's `pub` and `sub`
//! (NOT_AUTHORIZED in MQTT 5, the failure code in 3.1.1), users' sessions
//! kept apart, and Debian's mosquitto clients over TLS.

mod mqtt_util;
mod secure_util;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::process::Command;

use ducq::client::Client;
use ducq::transport::mqtt::packet::{Connect, Packet, QoS, SubOptions, Subscribe, Version};
use ducq::transport::mqtt::props::Properties;
use ducq::transport::mqtt::reason;
use mqtt_util::clients::{mosquitto, ok};
use mqtt_util::{connect_fields, packet, publish_fields, MqttPeer};
use secure_util::*;

struct Setup {
    _dir: TempDir,
    pki: Pki,
    s: Server,
}

fn setup() -> Setup {
    let pki = Pki::new();
    let pw = hash("pw1");
    let tls = format!("cert = \"{}\"\nkey = \"{}\"\n", pki.cert, pki.key);
    let toml = [
        listener("tcp", ""),
        listener("mqtt", ""),
        listener("mqtt", "anonymous = false\n"),
        listener(
            "mqtts",
            &format!("{tls}client_ca = \"{}\"\nanonymous = false\n", pki.ca),
        ),
        listener("mqtts", &format!("{tls}anonymous = false\n")),
        user(
            "sensor1",
            Some(&pw),
            &["sensors/sensor1/#"],
            &["cmd/sensor1/#"],
        ),
        user("alice", None, &["alice/#"], &["alice/#"]),
        admin("root", &pw),
        anonymous(&["public/#"], &["public/#"]),
        auth(0.05, ""),
    ]
    .concat();
    let (_dir, s) = config_server("mqttauth", &toml, &["", "mqtt", "mqtt", "mqtts", "mqtts"]);
    Setup { _dir, pki, s }
}

fn sock(a: &str) -> SocketAddr {
    a.parse().unwrap()
}

/// CONNECT with these credentials; the CONNACK's code.
fn connect(addr: &str, v: Version, id: &str, user: Option<(&str, &str)>) -> (MqttPeer, u8) {
    let connect = Connect {
        username: user.map(|(u, _)| Cow::Owned(u.to_owned())),
        password: user.map(|(_, p)| Cow::Owned(p.as_bytes().to_vec())),
        ..connect_fields(v, id)
    };
    let (c, code, _) = MqttPeer::handshake(sock(addr), connect);
    (c, code)
}

/// SUBSCRIBE one filter; the SUBACK's code.
fn subscribe(c: &mut MqttPeer, filter: &str) -> u8 {
    let v = c.version;
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: 7,
        props: Properties::default(),
        filters: vec![(filter.into(), SubOptions::qos(QoS::AtLeastOnce))],
    }));
    let bytes = c.recv_bytes();
    let Packet::SubAck(a) = packet(&bytes, v) else {
        panic!("no SUBACK")
    };
    assert_eq!(a.codes.len(), 1);
    a.codes[0]
}

/// PUBLISH at QoS 1; the PUBACK's reason code.
fn publish(c: &mut MqttPeer, topic: &str, payload: &[u8], id: u16) -> u8 {
    c.publish_acked(publish_fields(topic, payload, QoS::AtLeastOnce, id))
        .code
}

fn root(s: &Server) -> Client {
    login(&s.addr("", 0), "root", "pw1")
}

#[test]
fn anonymous_mqtt_clients_get_the_anonymous_lists() {
    let st = setup();
    let s = &st.s;
    let mut watcher = root(s);
    watcher.subscribe("*", "").unwrap();
    let open = s.addr("mqtt", 0);
    for v in [Version::V5, Version::V311] {
        let (mut c, code) = connect(&open, v, "anon", None);
        assert_eq!(code, 0);
        assert_eq!(subscribe(&mut c, "public/#"), 1);
        let denied = if v == Version::V5 {
            reason::NOT_AUTHORIZED
        } else {
            reason::V3_SUBACK_FAILURE
        };
        // Widening beyond the list, by MQTT's own wildcards too.
        assert_eq!(subscribe(&mut c, "#"), denied);
        assert_eq!(subscribe(&mut c, "+/news"), denied);
        assert_eq!(subscribe(&mut c, "sensors/sensor1/temp"), denied);
        s.wait_log("denied anonymous: sub #");
        // Publishing outside the list: NOT_AUTHORIZED in 5, and not delivered.
        let code = publish(&mut c, "sensors/sensor1/temp", b"fake", 1);
        if v == Version::V5 {
            assert_eq!(code, reason::NOT_AUTHORIZED);
        }
        s.wait_log("denied anonymous: pub sensors/sensor1/temp");
        assert_eq!(publish(&mut c, "public/news", b"hello", 2), 0);
        assert_eq!(
            text(&watcher.receive().unwrap()),
            "pub public/news\nhello",
            "only the allowed publication reaches subscribers"
        );
    }
}

#[test]
fn credentials_on_a_listener_without_anonymous_use() {
    let st = setup();
    let s = &st.s;
    let closed = s.addr("mqtt", 1);
    // Nothing, a wrong password, an unknown user: refused, each with its code.
    let (_, code) = connect(&closed, Version::V5, "n1", None);
    assert_eq!(code, reason::NOT_AUTHORIZED);
    let (_, code) = connect(&closed, Version::V311, "n2", None);
    assert_eq!(code, 5);
    let (mut c, code) = connect(&closed, Version::V5, "n3", Some(("sensor1", "nope")));
    assert_eq!(code, reason::BAD_USER_NAME_OR_PASSWORD);
    assert!(c.closed().is_empty());
    let (_, code) = connect(&closed, Version::V311, "n4", Some(("mallory", "pw1")));
    assert_eq!(code, 4);
    s.wait_log("authentication failed for 'mallory'");

    // The right password: sensor1's lists.
    let mut watcher = root(s);
    watcher.subscribe("sensors/*", "").unwrap();
    let (mut c, code) = connect(&closed, Version::V5, "s1", Some(("sensor1", "pw1")));
    assert_eq!(code, 0);
    assert_eq!(publish(&mut c, "sensors/sensor1/temp", b"21", 1), 0);
    assert_eq!(
        text(&watcher.receive().unwrap()),
        "pub sensors/sensor1/temp\n21"
    );
    assert_eq!(
        publish(&mut c, "sensors/sensor2/temp", b"x", 2),
        reason::NOT_AUTHORIZED
    );
    assert_eq!(subscribe(&mut c, "cmd/sensor1/+"), 1);
    assert_eq!(subscribe(&mut c, "cmd/#"), reason::NOT_AUTHORIZED);
    s.wait_log("denied sensor1: sub cmd/#: subscription beyond the access list");
    // Deliveries flow to what was granted; lsconn names the user.
    watcher.publish("cmd/sensor1/on", b"go").unwrap();
    match packet(&c.recv_bytes(), Version::V5) {
        Packet::Publish(p) => assert_eq!((&*p.topic, &*p.payload), ("cmd/sensor1/on", &b"go"[..])),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
    let lines = lsconn_lines(&mut watcher);
    assert!(
        lines.iter().any(
            |l| l.starts_with("sensor1@MQTT[s1]:127.0.0.1:") && l.ends_with(",cmd/sensor1/+\n")
        ),
        "{lines:?}"
    );
}

#[test]
fn users_sessions_are_apart() {
    let st = setup();
    let s = &st.s;
    let open = s.addr("mqtt", 0);
    // An anonymous client with the same client id takes nothing over.
    let (mut s1, code) = connect(&open, Version::V5, "dev", Some(("sensor1", "pw1")));
    assert_eq!(code, 0);
    let (_anon, code) = connect(&open, Version::V5, "dev", None);
    assert_eq!(code, 0);
    assert_eq!(publish(&mut s1, "sensors/sensor1/alive", b"1", 3), 0);
    // The same user with the same id does: the first connection is closed.
    let (_again, code) = connect(&open, Version::V5, "dev", Some(("sensor1", "pw1")));
    assert_eq!(code, 0);
    s1.closed();
}

/// A mosquitto client aimed at `port`, trusting the test CA.
fn mosquitto_tls(tool: &str, port: &str, st: &Setup, args: &[&str]) -> Command {
    let port = port.parse().unwrap();
    mosquitto(
        tool,
        port,
        &[&["--cafile", st.pki.ca.as_str()][..], args].concat(),
    )
}

#[test]
fn mosquitto_clients_over_mqtts_with_a_password_or_a_certificate() {
    let st = setup();
    let s = &st.s;
    // The first mqtts listener wants client certificates, the second not.
    let with_ca = s.port("mqtts");
    let port = s.addr("mqtts", 1).rsplit(':').next().unwrap().to_string();
    let mut watcher = root(s);
    watcher.subscribe("*", "").unwrap();
    // A password over TLS.
    let out = mosquitto_tls(
        "mosquitto_pub",
        &port,
        &st,
        &[
            "-u",
            "sensor1",
            "-P",
            "pw1",
            "-t",
            "sensors/sensor1/t",
            "-m",
            "tls!",
            "-q",
            "1",
        ],
    )
    .output()
    .unwrap();
    ok(out);
    assert_eq!(
        text(&watcher.receive().unwrap()),
        "pub sensors/sensor1/t\ntls!"
    );
    // A wrong password over TLS is refused, clearly.
    let out = mosquitto_tls(
        "mosquitto_pub",
        &port,
        &st,
        &[
            "-u",
            "sensor1",
            "-P",
            "bad",
            "-t",
            "sensors/sensor1/t",
            "-m",
            "x",
            "-q",
            "1",
        ],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr).to_lowercase();
    assert!(err.contains("bad user name or password"), "{err}");
    // Alice's certificate names her: no password, alice's lists.
    let cert = ["--cert", &st.pki.client_cert, "--key", &st.pki.client_key];
    let mut args: Vec<&str> = cert.to_vec();
    args.extend(["-t", "alice/hi", "-m", "from alice", "-q", "1"]);
    ok(mosquitto_tls("mosquitto_pub", &with_ca, &st, &args)
        .output()
        .unwrap());
    assert_eq!(
        text(&watcher.receive().unwrap()),
        "pub alice/hi\nfrom alice"
    );
    s.wait_log("authenticated as alice (client certificate)");
    // Plain MQTT on the mqtts port: closed, the server keeps serving.
    let mut plain = MqttPeer::connect(sock(&s.addr("mqtts", 0)), Version::V311);
    plain.send(&Packet::Connect(Box::new(connect_fields(
        Version::V311,
        "plain",
    ))));
    assert!(plain.closed().is_empty());
    s.wait_log("plain-text client on a TLS port (refused)");
    watcher.publish("public/after", b"1").unwrap();
    assert_eq!(text(&watcher.receive().unwrap()), "pub public/after\n1");
}

#[test]
fn credentials_are_ignored_on_a_server_without_users() {
    // Devices configured with a user name keep working against a server
    // that has no users (as before users existed).
    let s = Server::start_kinds(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--mqtt",
            "127.0.0.1:0",
            "--data-dir",
            "none",
        ],
        &["", "mqtt"],
    );
    let mut w = Client::connect(&s.addr("", 0), WAIT).unwrap();
    w.subscribe("*", "").unwrap();
    for v in [Version::V311, Version::V5] {
        let (mut c, code) = connect(&s.addr("mqtt", 0), v, "ha", Some(("homeassistant", "x")));
        assert_eq!(code, 0);
        assert_eq!(publish(&mut c, "home/door", b"open", 1), 0);
        assert_eq!(text(&w.receive().unwrap()), "pub home/door\nopen");
    }
}

#[test]
fn the_mqtts_flag_serves_mosquitto_clients_over_tls() {
    let pki = Pki::new();
    let s = Server::start_kinds(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--mqtts",
            "127.0.0.1:0",
            "--cert",
            &pki.cert,
            "--key",
            &pki.key,
            "--data-dir",
            "none",
        ],
        &["", "mqtts"],
    );
    let port: u16 = s.port("mqtts").parse().unwrap();
    let mut w = Client::connect(&s.addr("", 0), WAIT).unwrap();
    w.subscribe("tls/#", "").unwrap();
    let tls = ["--cafile", pki.ca.as_str()];
    let args = [&tls[..], &["-t", "tls/up", "-m", "secure", "-q", "1"]].concat();
    ok(mosquitto("mosquitto_pub", port, &args).output().unwrap());
    assert_eq!(text(&w.receive().unwrap()), "pub tls/up\nsecure");
    // The other way: a ducq publication, stored, read over TLS.
    w.publish("tls/down", b"to mqtts").unwrap();
    assert_eq!(text(&w.receive().unwrap()), "pub tls/down\nto mqtts");
    let args = [
        &tls[..],
        &["-t", "tls/down", "-C", "1", "-W", "10", "-F", "%t|%p"],
    ]
    .concat();
    let got = ok(mosquitto("mosquitto_sub", port, &args).output().unwrap());
    assert_eq!(got, "tls/down|to mqtts\n");
}
