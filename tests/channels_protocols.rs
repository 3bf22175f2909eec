//! Channels (PROTOCOL.md §15) meet MQTT and HTTP clients as they meet
//! ducq ones: an MQTT PUBLISH or `POST /pub` is a `pub`, an MQTT SUBSCRIBE
//! a `sub`, so read-only, payload and rate limits, `on_publish` transforms
//! and `on_subscribe` refusals apply to them, answered with the MQTT 5
//! reason code or HTTP status that says why (docs/MQTT.md, §10); Retain
//! Handling 2 keeps a channel's `retain` and greetings away; an event
//! stream (`GET /sub`) gets what a channel retains. Real sockets:
//! a ducq server with TCP, MQTT and HTTP listeners and a Lua host, ducq's
//! own codec as the MQTT client.

mod lua_util;
mod mqtt_util;
mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ducq::lua::{LuaCommands, LuaLimits};
use ducq::server::Settings;
use ducq::transport::mqtt::packet::{Packet, Publish, QoS, SubOptions, Subscribe, Version};
use ducq::transport::mqtt::props::Properties;
use ducq::transport::mqtt::{self, reason};
use lua_util::ScriptDir;
use mqtt_util::{connect_fields, packet, publish_fields, MqttPeer};
use util::TestServer;

const ACK: &[u8] = b"ACK";

const SCRIPT: &str = r#"
channels.shout = {
  pattern = "chat/#",
  on_publish = function(ducq, msg) msg.payload = msg.payload:upper() end,
}

-- Only the MQTT client "insider" may read the vault; it is greeted.
channels.vault = {
  pattern = "vault/#",
  on_subscribe = function(ducq, msg)
    if ducq:id():find("^MQTT%[insider%]") then return "welcome " .. msg.route end
    return false
  end,
}
"#;

/// A server with TCP (`addrs[0]`) and MQTT (`addrs[1]`) listeners and,
/// when given, a Lua host loading `lua`.
fn server(lua: Option<&ScriptDir>) -> (TestServer, SocketAddr) {
    let path = lua.map(|d| d.path.clone());
    let srv = TestServer::with_setup(Settings::default(), move |r| {
        if let Some(path) = path {
            let mut host = LuaCommands::new(LuaLimits::default()).expect("lua host");
            host.add_path(&path).expect("add_path");
            r.add_command_set(Box::new(host)).expect("add set");
        }
        r.listen("127.0.0.1:0", mqtt::factory(mqtt::Config::default()))
            .expect("mqtt listener");
    });
    let mqtt = srv.addrs[1];
    (srv, mqtt)
}

fn connect(addr: SocketAddr, id: &str, v: Version) -> MqttPeer {
    let (c, code, _) = MqttPeer::handshake(addr, connect_fields(v, id));
    assert_eq!(code, 0);
    c
}

/// Publishes at QoS 1 and returns the PUBACK's reason code.
fn publish(c: &mut MqttPeer, topic: &str, payload: &str, retain: bool, id: u16) -> u8 {
    let a = c.publish_acked(Publish {
        retain,
        ..publish_fields(topic, payload.as_bytes(), QoS::AtLeastOnce, id)
    });
    assert_eq!(a.packet_id, id);
    a.code
}

/// Subscribes `filters` (QoS 0, Retain Handling `rh`) and returns the
/// SUBACK's codes.
fn subscribe(c: &mut MqttPeer, filters: &[&str], rh: u8) -> Vec<u8> {
    let opts = SubOptions {
        retain_handling: rh,
        ..SubOptions::qos(QoS::AtMostOnce)
    };
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: 7,
        props: Properties::default(),
        filters: filters.iter().map(|f| ((*f).into(), opts)).collect(),
    }));
    let v = c.version;
    match packet(&c.recv_bytes(), v) {
        Packet::SubAck(a) => {
            assert_eq!(a.packet_id, 7);
            a.codes
        }
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

/// The next PUBLISH: (topic, payload, retain).
fn next(c: &mut MqttPeer) -> (String, String, bool) {
    let v = c.version;
    match packet(&c.recv_bytes(), v) {
        Packet::Publish(p) => (
            p.topic.to_string(),
            String::from_utf8_lossy(&p.payload).into_owned(),
            p.retain,
        ),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

fn silent(c: &mut MqttPeer) {
    let got = c.try_recv_bytes(Duration::from_millis(150));
    assert!(got.is_err(), "unexpected packet {got:?}");
}

fn owned(t: &str, p: &str, retain: bool) -> (String, String, bool) {
    (t.to_owned(), p.to_owned(), retain)
}

#[test]
fn built_in_limits_refuse_mqtt_publishers_with_their_reason_codes() {
    let (srv, addr) = server(None);
    let mut admin = srv.peer();
    for spec in [
        "ro\npattern=status/# read_only",
        "slow\npattern=slow/# rate=1/h",
        "small\npattern=small/# max_payload=4",
    ] {
        admin.call(format!("chan add {spec}").as_bytes(), ACK);
    }
    let mut watcher = srv.peer();
    for r in ["status/#", "slow/#", "small/#"] {
        watcher.call(format!("sub {r}\nadd").as_bytes(), ACK);
    }

    let mut v5 = connect(addr, "pub5", Version::V5);
    assert_eq!(
        publish(&mut v5, "status/door", "open", true, 1),
        reason::NOT_AUTHORIZED
    );
    assert_eq!(
        publish(&mut v5, "small/x", "12345", false, 2),
        reason::IMPLEMENTATION_SPECIFIC
    );
    assert_eq!(publish(&mut v5, "small/x", "1234", false, 3), 0);
    assert_eq!(publish(&mut v5, "slow/x", "first", false, 4), 0);
    assert_eq!(
        publish(&mut v5, "slow/x", "second", false, 5),
        reason::QUOTA_EXCEEDED
    );
    watcher.expect(b"pub small/x\n1234");
    watcher.expect(b"pub slow/x\nfirst");
    watcher.expect_silence(Duration::from_millis(100));
    // The refused retained publication was not stored either.
    admin.call(b"last status/door\n", ACK);

    // MQTT 3.1.1 has no reason code in PUBACK: a plain one, and the
    // message goes nowhere.
    let mut v3 = connect(addr, "pub3", Version::V311);
    assert_eq!(publish(&mut v3, "status/door", "open", true, 9), 0);
    watcher.expect_silence(Duration::from_millis(100));
    admin.call(b"last status/door\n", ACK);
    // The rate limit is per connection: another publisher has its own.
    assert_eq!(publish(&mut v3, "slow/x", "third", false, 10), 0);
    watcher.expect(b"pub slow/x\nthird");
    // Read-only refuses publishers of every protocol, not subscribers.
    let mut reader = connect(addr, "reader", Version::V5);
    assert_eq!(subscribe(&mut reader, &["status/#"], 0), [0]);
    admin.call(
        b"pub status/door\nclosed",
        &lua_util::nack(24, "access denied"),
    );
    silent(&mut reader);
}

#[test]
fn lua_channels_transform_and_guard_mqtt_clients() {
    let dir = ScriptDir::new("chan-mqtt");
    dir.write("chan.lua", SCRIPT);
    let (srv, addr) = server(Some(&dir));
    let mut tcp = srv.peer();
    tcp.call(b"sub chat/#\n", ACK);

    // on_publish sees MQTT publications and its result reaches both kinds
    // of subscriber.
    let mut reader = connect(addr, "reader", Version::V5);
    assert_eq!(subscribe(&mut reader, &["chat/#"], 0), [0]);
    let mut talker = connect(addr, "talker", Version::V311);
    assert_eq!(publish(&mut talker, "chat/a", "hello", false, 1), 0);
    tcp.expect(b"pub chat/a\nHELLO");
    assert_eq!(next(&mut reader), owned("chat/a", "HELLO", false));
    let mut other = srv.peer();
    other.publish("chat/b", "hi");
    assert_eq!(next(&mut reader), owned("chat/b", "HI", false));

    // on_subscribe refuses MQTT filters, wide ones included, each with its
    // own SUBACK code; the refused ones are not subscribed.
    other.publish("vault/gold", "42 bars");
    let mut outsider = connect(addr, "outsider", Version::V5);
    assert_eq!(
        subscribe(&mut outsider, &["vault/gold", "#", "public/+"], 0),
        [reason::NOT_AUTHORIZED, reason::NOT_AUTHORIZED, 0]
    );
    let mut outsider3 = connect(addr, "outsider3", Version::V311);
    assert_eq!(subscribe(&mut outsider3, &["vault/#"], 0), [0x80]);
    other.publish("vault/gold", "43 bars");
    other.publish("public/news", "open");
    assert_eq!(next(&mut outsider), owned("public/news", "open", false));
    silent(&mut outsider);
    silent(&mut outsider3);

    // The insider gets the retained message, then the greeting.
    let mut insider = connect(addr, "insider", Version::V5);
    assert_eq!(subscribe(&mut insider, &["vault/gold"], 0), [0]);
    assert_eq!(next(&mut insider), owned("vault/gold", "43 bars", true));
    assert_eq!(
        next(&mut insider),
        owned("vault/gold", "welcome vault/gold", true)
    );
    // Retain Handling 2 (send nothing at subscription): no greeting.
    assert_eq!(subscribe(&mut insider, &["vault/silver"], 2), [0]);
    silent(&mut insider);
    other.publish("vault/silver", "live");
    assert_eq!(next(&mut insider), owned("vault/silver", "live", false));
}

#[test]
fn retain_handling_2_keeps_a_channels_retained_messages_away() {
    let (srv, addr) = server(None);
    let mut admin = srv.peer();
    admin.call(b"chan add keep\npattern=kept/# retain=2 history=2", ACK);
    admin.publish("kept/a", "1");
    admin.publish("kept/a", "2");
    // A ducq subscriber gets what the channel retains, unasked.
    let mut tcp = srv.peer();
    tcp.call(b"sub kept/#\n", ACK);
    tcp.expect(b"pub kept/a\n1");
    tcp.expect(b"pub kept/a\n2");

    let mut none = connect(addr, "none", Version::V5);
    assert_eq!(subscribe(&mut none, &["kept/#"], 2), [0]);
    silent(&mut none);
    // Retain Handling 0: MQTT's one retained message per topic.
    let mut one = connect(addr, "one", Version::V5);
    assert_eq!(subscribe(&mut one, &["kept/#"], 0), [0]);
    assert_eq!(next(&mut one), owned("kept/a", "2", true));
    silent(&mut one);
    admin.publish("kept/a", "3");
    assert_eq!(next(&mut none), owned("kept/a", "3", false));
    assert_eq!(next(&mut one), owned("kept/a", "3", false));
}

/// A response head, read byte by byte so nothing after it is taken.
fn read_head(c: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        c.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// One request on a kept-alive connection: (status, body).
fn http(c: &mut TcpStream, method: &str, path: &str, body: &str) -> (u16, String) {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.write_all(req.as_bytes()).unwrap();
    let head = read_head(c);
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).expect("response body");
    (status, String::from_utf8(body).unwrap())
}

#[test]
fn http_publishers_get_429_from_a_rate_limit_per_address_and_413_from_a_payload_limit() {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen_http("127.0.0.1:0").expect("http listener");
    });
    let mut admin = srv.peer();
    admin.call(b"chan add slow\npattern=slow/# rate=1/h", ACK);
    admin.call(b"chan add small\npattern=small/# max_payload=4", ACK);
    let mut watcher = srv.peer();
    watcher.call(b"sub slow/#\n", ACK);
    watcher.call(b"sub small/#\nadd", ACK);
    let open = || {
        let c = TcpStream::connect(srv.addrs[1]).unwrap();
        c.set_read_timeout(Some(util::WAIT)).unwrap();
        c
    };
    let ok = (200, r#"{"ok":true}"#.to_owned());
    let limited = (
        429,
        r#"{"error":"collection reached maximum count","code":21}"#.to_owned(),
    );
    assert_eq!(http(&mut open(), "POST", "/pub/slow/a", "1"), ok);
    // A connection per request (as curl makes) is still the same
    // publisher: plain HTTP requests count per client address.
    let mut c = open();
    assert_eq!(http(&mut c, "POST", "/pub/slow/a", "2"), limited);
    assert_eq!(http(&mut c, "POST", "/pub/slow/a", "3"), limited);
    // A connection that stays open has a bucket of its own.
    let mut tcp = srv.peer();
    tcp.publish("slow/a", "4");
    assert_eq!(
        http(&mut c, "POST", "/pub/small/a", "12345"),
        (413, r#"{"error":"message too big","code":16}"#.to_owned())
    );
    assert_eq!(http(&mut c, "POST", "/pub/small/a", "1234"), ok);
    watcher.expect(b"pub slow/a\n1");
    watcher.expect(b"pub slow/a\n4");
    watcher.expect(b"pub small/a\n1234");
    watcher.expect_silence(Duration::from_millis(100));
}

#[test]
fn an_event_stream_subscriber_gets_what_a_channel_retains() {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen_http("127.0.0.1:0").expect("http listener");
    });
    let mut admin = srv.peer();
    admin.call(b"chan add keep\npattern=kept/# retain=2 history=3", ACK);
    for n in ["1", "2", "3"] {
        admin.publish("kept/a", n);
    }
    let mut sse = TcpStream::connect(srv.addrs[1]).unwrap();
    sse.set_read_timeout(Some(util::WAIT)).unwrap();
    sse.write_all(b"GET /sub/kept/a HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let head = read_head(&mut sse);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");
    admin.publish("kept/a", "4");
    let want = "event: kept/a\ndata: 2\n\nevent: kept/a\ndata: 3\n\nevent: kept/a\ndata: 4\n\n";
    let mut got = vec![0u8; want.len()];
    sse.read_exact(&mut got).expect("events");
    assert_eq!(String::from_utf8(got).unwrap(), want);
}
