//! The limits every listener has, on the MQTT listener of a real server:
//! a connection that never sends its CONNECT, or sends part of it, is
//! closed while everyone else is served; a subscriber that stops reading
//! is cut (QoS 0) or held to its in-flight window and queue (QoS 1)
//! without holding anyone else back; a flood of persistent sessions is
//! bounded. An MQTT listener's limits come from the configuration file.

mod mqtt_util;
mod secure_util;
mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ducq::server::Settings;
use ducq::transport::mqtt::packet::{
    Ack, Connect, Packet, QoS, Reasoned, SubOptions, Subscribe, Version,
};
use ducq::transport::mqtt::props::Properties;
use ducq::transport::mqtt::{self, reason};
use mqtt_util::{connect_fields, packet, publish_fields, MqttPeer};
use util::{lsconn, Peer, TestServer, WAIT};

fn server(settings: Settings, cfg: mqtt::Config) -> (TestServer, SocketAddr) {
    let srv = TestServer::with_setup(settings, move |r| {
        r.listen("127.0.0.1:0", mqtt::factory(cfg))
            .expect("mqtt listener");
    });
    let mqtt = srv.addrs[1];
    (srv, mqtt)
}

/// Reads until the server closes `s` (within `WAIT`): what came before.
fn until_closed(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("not closed: {e}"),
        }
    }
}

/// A client that connects and says nothing is closed by the idle
/// timeout: before its CONNECT there is no keep-alive of its own, and its
/// silence is not a keep-alive of 0.
#[test]
fn a_connection_that_never_sends_connect_is_closed() {
    let (srv, addr) = server(
        Settings {
            idle_timeout: Duration::from_secs(1),
            ..Settings::default()
        },
        mqtt::Config::default(),
    );
    let mut silent = TcpStream::connect(addr).unwrap();
    assert_eq!(until_closed(&mut silent), b"");
    // The server goes on serving MQTT clients.
    let (mut c, code, _) = MqttPeer::handshake(addr, connect_fields(Version::V311, "next"));
    assert_eq!(code, reason::SUCCESS);
    c.send(&Packet::PingReq);
    assert_eq!(packet(&c.recv_bytes(), Version::V311), Packet::PingResp);
    drop(srv);
}

/// A CONNECT that starts and never ends (a slowloris) is closed by the
/// server's frame timeout; a client connecting meanwhile is served.
#[test]
fn a_connect_left_unfinished_is_closed_by_the_frame_timeout() {
    let (_srv, addr) = server(
        Settings {
            frame_timeout: Duration::from_secs(1),
            ..Settings::default()
        },
        mqtt::Config::default(),
    );
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"\x10\x0e\x00\x04MQ").unwrap();
    let (mut c, code, _) = MqttPeer::handshake(addr, connect_fields(Version::V5, "meanwhile"));
    assert_eq!(code, reason::SUCCESS);
    assert_eq!(until_closed(&mut slow), b"");
    c.send(&Packet::PingReq);
    assert_eq!(packet(&c.recv_bytes(), Version::V5), Packet::PingResp);
}

/// A connected MQTT client `id` (clean start as asked) subscribed to
/// `filter` at `qos`, over `stream`.
fn subscriber(stream: TcpStream, id: &str, clean: bool, filter: &str, qos: QoS) -> MqttPeer {
    let v = Version::V311;
    let mut c = MqttPeer::from_stream(stream, v);
    c.send(&Packet::Connect(Box::new(Connect {
        clean_start: clean,
        ..connect_fields(v, id)
    })));
    let bytes = c.recv_bytes();
    let Packet::ConnAck(a) = packet(&bytes, v) else {
        panic!("no CONNACK")
    };
    assert_eq!(a.code, reason::SUCCESS);
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        props: Properties::default(),
        filters: vec![(filter.into(), SubOptions::qos(qos))],
    }));
    let bytes = c.recv_bytes();
    let Packet::SubAck(a) = packet(&bytes, v) else {
        panic!("no SUBACK")
    };
    assert_eq!(a.codes, [qos.bits()]);
    c
}

/// The next PUBLISH's payload, QoS and packet identifier.
fn next_publish(c: &mut MqttPeer) -> (Vec<u8>, QoS, u16) {
    let v = c.version;
    match packet(&c.recv_bytes(), v) {
        Packet::Publish(p) => (p.payload.to_vec(), p.qos, p.packet_id),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// Payload `i` of a flood: its number, then filler up to `size` bytes.
fn payload(i: usize, size: usize) -> Vec<u8> {
    let mut p = format!("{i} ").into_bytes();
    p.resize(size, b'a' + (i % 26) as u8);
    p
}

/// Waits until `lsconn` no longer lists a connection starting `prefix`.
fn wait_unlisted(admin: &mut Peer, prefix: &str) {
    let deadline = Instant::now() + WAIT * 2;
    while lsconn(admin).iter().any(|l| l.starts_with(prefix)) {
        assert!(Instant::now() < deadline, "{prefix} still listed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A QoS 0 subscriber that stops reading fills its output queue: the
/// publisher is held for the output timeout at most, then the deaf
/// subscriber is cut; a ducq subscriber of the same route gets every
/// publication, in order, and the publisher is served to its end.
#[test]
fn a_qos0_subscriber_that_stops_reading_is_cut_and_nobody_else_loses_anything() {
    let (srv, addr) = server(
        Settings {
            output_timeout: Duration::from_secs(1),
            ..Settings::default()
        },
        mqtt::Config::default(),
    );
    let stream = TcpStream::connect(addr).unwrap();
    util::set_rcvbuf(&stream, 128 << 10);
    let deaf = subscriber(stream, "deaf", true, "flood/#", QoS::AtMostOnce);
    let mut reader = srv.peer();
    reader.sub("flood/x");
    // 16 MB: far past what the kernel buffers for the deaf subscriber.
    let (count, size) = (16_000, 1000);
    let got = std::thread::spawn(move || {
        for i in 0..count {
            let m = reader.recv();
            let want = [&b"pub flood/x\n"[..], &payload(i, size)].concat();
            assert!(m == want, "message {i} differs");
        }
    });
    let (mut publisher, code, _) = MqttPeer::handshake(addr, connect_fields(Version::V311, "pub"));
    assert_eq!(code, reason::SUCCESS);
    let mut wire = Vec::new();
    for i in 0..count {
        let body = payload(i, size);
        let p = publish_fields("flood/x", &body, QoS::AtMostOnce, 0);
        ducq::transport::mqtt::encode(&Packet::Publish(p), Version::V311, &mut wire);
    }
    // Blocking writes: they stall while the server holds the publisher.
    publisher.raw(&wire);
    publisher.send(&Packet::PingReq);
    assert_eq!(
        packet(&publisher.recv_bytes(), Version::V311),
        Packet::PingResp
    );
    got.join().expect("the reading subscriber lost messages");
    let mut admin = srv.peer();
    wait_unlisted(&mut admin, "MQTT[deaf]");
    drop(deaf);
}

/// A QoS 1 subscriber that stops reading holds at most its in-flight
/// window and its queue: what comes beyond is dropped for it, nobody is
/// held or cut, and when it reads again it gets the window, then the
/// queue, in order, and nothing more.
#[test]
fn a_qos1_subscriber_that_stops_reading_keeps_its_window_and_queue_only() {
    let (srv, addr) = server(
        Settings::default(),
        mqtt::Config {
            max_inflight: 4,
            max_queued: 10,
            ..mqtt::Config::default()
        },
    );
    let stream = TcpStream::connect(addr).unwrap();
    let mut deaf = subscriber(stream, "deaf1", true, "jobs/#", QoS::AtLeastOnce);
    let mut reader = srv.peer();
    reader.sub("jobs/x");
    let (mut publisher, code, _) = MqttPeer::handshake(addr, connect_fields(Version::V311, "p1"));
    assert_eq!(code, reason::SUCCESS);
    let count = 100u16;
    for i in 0..count {
        let body = payload(usize::from(i), 100);
        let p = publish_fields("jobs/x", &body, QoS::AtLeastOnce, i + 1);
        assert_eq!(publisher.publish_acked(p), Ack::new(i + 1));
        let want = [&b"pub jobs/x\n"[..], &body].concat();
        assert_eq!(reader.recv(), want);
    }
    // Reading again: the 4 in flight, then the 10 queued, each once.
    let mut seen = Vec::new();
    for _ in 0..14 {
        let (body, qos, id) = next_publish(&mut deaf);
        assert_eq!(qos, QoS::AtLeastOnce);
        seen.push(body);
        deaf.send(&Packet::PubAck(Ack::new(id)));
    }
    let want: Vec<Vec<u8>> = (0..14).map(|i| payload(i, 100)).collect();
    assert_eq!(seen, want);
    // Nothing else was kept: the next delivery is a new publication.
    let p = publish_fields("jobs/x", b"after", QoS::AtLeastOnce, 500);
    assert_eq!(publisher.publish_acked(p), Ack::new(500));
    assert_eq!(next_publish(&mut deaf).0, b"after");
}

/// Many clients, each with a new client id and a persistent session,
/// connect and leave: at most `max_sessions` of their sessions are kept,
/// the latest ones; the older ones start afresh.
#[test]
fn a_flood_of_persistent_sessions_keeps_the_latest_max_sessions() {
    let (_srv, addr) = server(
        Settings::default(),
        mqtt::Config {
            max_sessions: 3,
            ..mqtt::Config::default()
        },
    );
    for i in 0..50 {
        let stream = TcpStream::connect(addr).unwrap();
        let mut c = subscriber(stream, &format!("s{i}"), false, "x/#", QoS::AtLeastOnce);
        c.send(&Packet::Disconnect(Reasoned::new(0)));
        assert!(c.closed().is_empty());
    }
    // Whether the session of `id` is still there; it is kept again (as
    // the latest) when the probe leaves.
    let present = |id: &str| {
        let connect = Connect {
            clean_start: false,
            ..connect_fields(Version::V311, id)
        };
        let (mut c, code, present) = MqttPeer::handshake(addr, connect);
        assert_eq!(code, reason::SUCCESS);
        c.send(&Packet::Disconnect(Reasoned::new(0)));
        assert!(c.closed().is_empty());
        present
    };
    // Newest first, so that each probe only reorders the kept ones.
    let kept: Vec<bool> = (44..50).rev().map(|i| present(&format!("s{i}"))).collect();
    assert_eq!(kept, [true, true, true, false, false, false]);
    assert!(!present("s0"));
}

/// `[[listener]] kind = "mqtt"` sets its listener's limits: a window of
/// 1 and a queue of 2 for a client that stops reading, client ids of at
/// most 23 bytes, no shared subscriptions.
#[test]
fn an_mqtt_listener_takes_its_limits_from_the_configuration_file() {
    use secure_util::{config_server, listener, memory_queues};
    let more = "max_inflight = 1\nmax_queued = 2\nmax_client_id = 23\n\
                shared_subscriptions = false\n";
    let toml = [listener("tcp", ""), listener("mqtt", more), memory_queues()].concat();
    let (_dir, s) = config_server("mqttlimits", &toml, &["", "mqtt"]);
    let addr: SocketAddr = s.addr("mqtt", 0).parse().unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    let mut deaf = subscriber(stream, "deaf", true, "jobs/#", QoS::AtLeastOnce);
    let (mut publisher, _, _) = MqttPeer::handshake(addr, connect_fields(Version::V311, "p"));
    for i in 0..10u16 {
        let body = payload(usize::from(i), 10);
        let p = publish_fields("jobs/x", &body, QoS::AtLeastOnce, i + 1);
        assert_eq!(publisher.publish_acked(p), Ack::new(i + 1));
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (body, _, id) = next_publish(&mut deaf);
        seen.push(body);
        deaf.send(&Packet::PubAck(Ack::new(id)));
    }
    assert_eq!(seen, (0..3).map(|i| payload(i, 10)).collect::<Vec<_>>());
    let p = publish_fields("jobs/x", b"after", QoS::AtLeastOnce, 99);
    assert_eq!(publisher.publish_acked(p), Ack::new(99));
    assert_eq!(next_publish(&mut deaf).0, b"after");
    // A 24-byte client id: identifier rejected (3.1.1 return code 2).
    let (_, code, _) = MqttPeer::handshake(addr, connect_fields(Version::V311, &"i".repeat(24)));
    assert_eq!(code, 2);
    let (_, code, _) = MqttPeer::handshake(addr, connect_fields(Version::V311, &"i".repeat(23)));
    assert_eq!(code, reason::SUCCESS);
    // A shared subscription: refused 0x9E.
    let (mut c, _, _) = MqttPeer::handshake(addr, connect_fields(Version::V5, "share"));
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        props: Properties::default(),
        filters: vec![("$share/g/jobs/#".into(), SubOptions::qos(QoS::AtMostOnce))],
    }));
    let bytes = c.recv_bytes();
    let Packet::SubAck(a) = packet(&bytes, Version::V5) else {
        panic!("no SUBACK")
    };
    assert_eq!(a.codes, [reason::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED]);
}

/// A reload (SIGHUP) gives an MQTT listener's new connections its new
/// limits; a tcp listener given one of its keys is refused with the line.
#[test]
fn a_reload_changes_the_limits_of_later_mqtt_connections() {
    use secure_util::{config_server, listener, memory_queues};
    let file = |more: &str| [listener("tcp", ""), listener("mqtt", more), memory_queues()].concat();
    let (dir, s) = config_server("mqttreload", &file("max_client_id = 23\n"), &["", "mqtt"]);
    let addr: SocketAddr = s.addr("mqtt", 0).parse().unwrap();
    let long = "i".repeat(30);
    let (_, code, _) = MqttPeer::handshake(addr, connect_fields(Version::V311, &long));
    assert_eq!(code, 2);
    // Same listeners (kind and addr as written), new limits.
    let text = file("max_client_id = 64\n");
    dir.write("ducq.toml", &text);
    s.signal("HUP");
    s.wait_log("configuration reloaded");
    let (_, code, _) = MqttPeer::handshake(addr, connect_fields(Version::V311, &long));
    assert_eq!(code, reason::SUCCESS);
    // Keys of an MQTT listener on a tcp one: refused, where they are.
    let bad =
        format!("{text}\n[[listener]]\nkind = \"tcp\"\naddr = \"127.0.0.1:0\"\nmax_queued = 5\n");
    dir.write("ducq.toml", &bad);
    s.signal("HUP");
    s.wait_log("max_queued is for mqtt and mqtts listeners, not tcp");
    s.wait_log("configuration refused; the running one stays");
}
