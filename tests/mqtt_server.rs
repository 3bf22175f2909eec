//! The MQTT transport in a real ducq server (a listener made by
//! `transport::mqtt::factory`, on 127.0.0.1:0) against real clients:
//! Debian's mosquitto_pub / mosquitto_sub (3.1.1 and 5), ducq's own codec
//! as a byte-exact client, and ducq TCP, WebSocket and SSE clients on the
//! same routes. Hostile MQTT peers never stall the others.

mod mqtt_util;
mod util;

use std::borrow::Cow;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use ducq::server::Settings;
use ducq::transport::mqtt::packet::{Ack, Connect, Packet, QoS, SubOptions, Subscribe, Version};
use ducq::transport::mqtt::props::Properties;
use ducq::transport::mqtt::{self, reason};
use mqtt_util::clients::{mosquitto, ok};
use mqtt_util::{connect_fields, packet, publish_fields, MqttPeer};
use util::{lsconn, ws_next, Peer, TestServer, WAIT};

struct Servers {
    srv: TestServer,
    http: SocketAddr,
    mqtt: SocketAddr,
}

fn servers() -> Servers {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen_http("127.0.0.1:0").expect("http listener");
        r.listen("127.0.0.1:0", mqtt::factory(mqtt::Config::default()))
            .expect("mqtt listener");
    });
    let (http, mqtt) = (srv.addrs[1], srv.addrs[2]);
    Servers { srv, http, mqtt }
}

/// The `id,route` lines of `lsconn`, without their line ends.
fn listed(p: &mut Peer) -> Vec<String> {
    lsconn(p).iter().map(|l| l.trim_end().to_owned()).collect()
}

/// Waits until `lsconn` lists an MQTT client `id` subscribed to `route`.
fn wait_subscribed(p: &mut Peer, id: &str, route: &str) {
    let want = format!("MQTT[{id}]:");
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = listed(p);
        if lines
            .iter()
            .any(|l| l.starts_with(&want) && l.ends_with(&format!(",{route}")))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never subscribed: {lines:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn mosquitto_clients_both_ways(version: &str) {
    let s = servers();
    let mut admin = s.srv.peer();
    // mosquitto_sub receives a ducq TCP publication.
    let id = format!("sub-{version}");
    let sub = mosquitto(
        "mosquitto_sub",
        s.mqtt.port(),
        &[
            "-V",
            version,
            "-i",
            &id,
            "-t",
            "home/+/temp",
            "-q",
            "1",
            "-C",
            "2",
            "-W",
            "10",
        ],
    )
    .args(["-F", "%t|%p|%r|%q"])
    .spawn()
    .unwrap();
    wait_subscribed(&mut admin, &id, "home/+/temp");
    let mut tcp = s.srv.peer();
    tcp.publish("home/kitchen/temp", "21.5");
    tcp.publish("home/kitchen/temp/extra", "not for +");
    tcp.publish("home/hall/temp", "19");
    assert_eq!(
        ok(sub.wait_with_output().unwrap()),
        "home/kitchen/temp|21.5|0|0\nhome/hall/temp|19|0|0\n"
    );

    // mosquitto_pub at QoS 0, 1 and 2 reaches a ducq TCP subscriber.
    tcp.sub("sensors/*");
    for qos in ["0", "1", "2"] {
        let msg = format!("reading at qos {qos}");
        ok(mosquitto(
            "mosquitto_pub",
            s.mqtt.port(),
            &["-V", version, "-t", "sensors/a", "-m", &msg, "-q", qos],
        )
        .output()
        .unwrap());
        tcp.expect(format!("pub sensors/a\n{msg}").as_bytes());
    }
}

/// mosquitto_pub at QoS 2 to mosquitto_sub at QoS 2: delivered at QoS 2
/// (the server's PUBLISH, mosquitto_sub's PUBREC, PUBREL, PUBCOMP).
fn mosquitto_qos2_end_to_end(version: &str) {
    let s = servers();
    let mut admin = s.srv.peer();
    let id = format!("q2-{version}");
    let sub = mosquitto(
        "mosquitto_sub",
        s.mqtt.port(),
        &[
            "-V", version, "-i", &id, "-t", "q2/+", "-q", "2", "-C", "1", "-W", "10",
        ],
    )
    .args(["-F", "%t|%p|%q"])
    .spawn()
    .unwrap();
    wait_subscribed(&mut admin, &id, "q2/+");
    ok(mosquitto(
        "mosquitto_pub",
        s.mqtt.port(),
        &["-V", version, "-t", "q2/x", "-m", "exactly", "-q", "2"],
    )
    .output()
    .unwrap());
    assert_eq!(ok(sub.wait_with_output().unwrap()), "q2/x|exactly|2\n");
}

#[test]
fn mosquitto_qos2_end_to_end_311() {
    mosquitto_qos2_end_to_end("mqttv311");
}

#[test]
fn mosquitto_qos2_end_to_end_5() {
    mosquitto_qos2_end_to_end("mqttv5");
}

#[test]
fn mosquitto_clients_311_both_ways_with_tcp() {
    mosquitto_clients_both_ways("mqttv311");
}

#[test]
fn mosquitto_clients_5_both_ways_with_tcp() {
    mosquitto_clients_both_ways("mqttv5");
}

#[test]
fn mqtt5_user_properties_pass_between_mqtt5_clients() {
    let s = servers();
    let mut admin = s.srv.peer();
    let sub = mosquitto(
        "mosquitto_sub",
        s.mqtt.port(),
        &[
            "-V", "mqttv5", "-i", "props", "-t", "p/#", "-q", "1", "-C", "1", "-W", "10",
        ],
    )
    .args(["-F", "%t|%p|%q|%P"])
    .spawn()
    .unwrap();
    wait_subscribed(&mut admin, "props", "p/#");
    ok(mosquitto(
        "mosquitto_pub",
        s.mqtt.port(),
        &[
            "-V",
            "mqttv5",
            "-t",
            "p/x",
            "-m",
            "v",
            "-q",
            "1",
            "-D",
            "publish",
            "user-property",
            "room",
            "kitchen",
        ],
    )
    .output()
    .unwrap());
    assert_eq!(
        ok(sub.wait_with_output().unwrap()),
        "p/x|v|1|room:kitchen\n"
    );
}

#[test]
fn retained_is_the_stored_last_message_both_ways() {
    let s = servers();
    // A ducq publication is what a later MQTT subscriber gets as retained.
    let mut tcp = s.srv.peer();
    tcp.publish("state/door", "open");
    let got = ok(mosquitto(
        "mosquitto_sub",
        s.mqtt.port(),
        &["-t", "state/#", "-C", "1", "-W", "10", "-F", "%t|%p|%r"],
    )
    .output()
    .unwrap());
    assert_eq!(got, "state/door|open|1\n");
    // An MQTT retained publication is what `sub R\nlast` answers.
    ok(mosquitto(
        "mosquitto_pub",
        s.mqtt.port(),
        &["-t", "state/light", "-m", "on", "-r", "-q", "1"],
    )
    .output()
    .unwrap());
    tcp.call(b"sub state/light\nlast", b"pub state/light\non");
}

fn ws(addr: SocketAddr) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let (ws, _) = tungstenite::client(format!("ws://{addr}/"), stream).expect("handshake");
    ws
}

fn mqtt_client(addr: SocketAddr, id: &str, v: Version, clean: bool) -> (MqttPeer, bool) {
    let connect = Connect {
        clean_start: clean,
        ..connect_fields(v, id)
    };
    let (c, code, present) = MqttPeer::handshake(addr, connect);
    assert_eq!(code, 0);
    (c, present)
}

fn mqtt_subscribe(c: &mut MqttPeer, filter: &str, qos: QoS) {
    let v = c.version;
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        props: Properties::default(),
        filters: vec![(filter.into(), SubOptions::qos(qos))],
    }));
    let bytes = c.recv_bytes();
    let Packet::SubAck(a) = packet(&bytes, v) else {
        panic!("no SUBACK")
    };
    assert_eq!(a.codes, vec![qos.bits()]);
}

fn mqtt_publish(c: &mut MqttPeer, topic: &str, payload: &[u8], qos: QoS, id: u16) {
    let p = publish_fields(topic, payload, qos, id);
    if qos == QoS::AtLeastOnce {
        assert_eq!(c.publish_acked(p), Ack::new(id));
    } else {
        c.send(&Packet::Publish(p));
    }
}

/// The next PUBLISH: (topic, payload, qos, dup, packet id).
fn mqtt_next(c: &mut MqttPeer) -> (String, Vec<u8>, QoS, bool, u16) {
    let v = c.version;
    let bytes = c.recv_bytes();
    match packet(&bytes, v) {
        Packet::Publish(p) => (
            p.topic.to_string(),
            p.payload.to_vec(),
            p.qos,
            p.dup,
            p.packet_id,
        ),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

#[test]
fn mqtt_reaches_websocket_and_sse_and_back() {
    let s = servers();
    let mut w = ws(s.http);
    w.send(tungstenite::Message::text("sub mix/*\n")).unwrap();
    assert_eq!(ws_next(&mut w), b"ACK");
    let mut sse = TcpStream::connect(s.http).unwrap();
    sse.set_read_timeout(Some(WAIT)).unwrap();
    sse.write_all(b"GET /sub/mix/a HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sse.read(&mut chunk).unwrap();
        got.extend_from_slice(&chunk[..n]);
    }
    got.clear();

    // MQTT to WebSocket and SSE.
    let (mut m, _) = mqtt_client(s.mqtt, "bridge", Version::V5, true);
    mqtt_subscribe(&mut m, "mix/+", QoS::AtLeastOnce);
    mqtt_publish(&mut m, "mix/a", b"from mqtt", QoS::AtLeastOnce, 1);
    assert_eq!(ws_next(&mut w), b"pub mix/a\nfrom mqtt");
    let want = b"event: mix/a\ndata: from mqtt\n\n";
    while got.len() < want.len() {
        let n = sse.read(&mut chunk).unwrap();
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(got, want);
    // Its own publication comes back to it (no No Local asked).
    assert_eq!(mqtt_next(&mut m).1, b"from mqtt");

    // WebSocket and HTTP to MQTT, at QoS 0 (a ducq publication).
    w.send(tungstenite::Message::text("pub mix/b\nfrom ws"))
        .unwrap();
    assert_eq!(ws_next(&mut w), b"ACK");
    let (topic, payload, qos, _, _) = mqtt_next(&mut m);
    assert_eq!(
        (&topic[..], &payload[..], qos),
        ("mix/b", &b"from ws"[..], QoS::AtMostOnce)
    );
    let mut post = TcpStream::connect(s.http).unwrap();
    post.write_all(b"POST /pub/mix/c HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nfrom http")
        .unwrap();
    let (topic, payload, _, _, _) = mqtt_next(&mut m);
    assert_eq!((&topic[..], &payload[..]), ("mix/c", &b"from http"[..]));
}

#[test]
fn qos1_redelivered_with_dup_after_a_dropped_connection() {
    let s = servers();
    let (mut c, present) = mqtt_client(s.mqtt, "dev", Version::V311, false);
    assert!(!present);
    mqtt_subscribe(&mut c, "cmd/#", QoS::AtLeastOnce);
    let (mut p, _) = mqtt_client(s.mqtt, "ctl", Version::V311, true);
    mqtt_publish(&mut p, "cmd/on", b"1", QoS::AtLeastOnce, 1);
    let (_, payload, qos, dup, id) = mqtt_next(&mut c);
    assert_eq!(
        (&payload[..], qos, dup),
        (&b"1"[..], QoS::AtLeastOnce, false)
    );
    // Dropped without acknowledging: the server redelivers on reconnect.
    drop(c);
    let mut admin = s.srv.peer();
    let deadline = Instant::now() + WAIT;
    while listed(&mut admin)
        .iter()
        .any(|l| l.starts_with("MQTT[dev]"))
    {
        assert!(Instant::now() < deadline, "old connection still listed");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (mut c, present) = mqtt_client(s.mqtt, "dev", Version::V311, false);
    assert!(present);
    let (topic, payload, qos, dup, again) = mqtt_next(&mut c);
    assert_eq!(
        (&topic[..], &payload[..], qos, dup, again),
        ("cmd/on", &b"1"[..], QoS::AtLeastOnce, true, id)
    );
    c.send(&Packet::PubAck(Ack::new(id)));
    // And the session's subscription is live on the new connection.
    wait_subscribed(&mut admin, "dev", "cmd/#");
    mqtt_publish(&mut p, "cmd/off", b"0", QoS::AtLeastOnce, 2);
    let (topic, _, _, dup, _) = mqtt_next(&mut c);
    assert_eq!((&topic[..], dup), ("cmd/off", false));
}

#[test]
fn lsconn_lists_mqtt_clients_by_client_id() {
    let s = servers();
    let (mut c, _) = mqtt_client(s.mqtt, "kitchen,sensor", Version::V5, true);
    mqtt_subscribe(&mut c, "a/#", QoS::AtMostOnce);
    let mut admin = s.srv.peer();
    wait_subscribed(&mut admin, "kitchen_sensor", "a/#");
    let local = c.stream.local_addr().unwrap();
    assert!(listed(&mut admin).contains(&format!("MQTT[kitchen_sensor]:{local},a/#")));
    // `unsub` closes it by that id, as for any connection.
    let id = format!("MQTT[kitchen_sensor]:{local}");
    admin.call(format!("unsub x\n{id}").as_bytes(), b"ACK");
    assert!(c.closed().is_empty());
}

#[test]
fn hostile_mqtt_peers_never_stall_others() {
    let s = servers();
    let mut tcp = s.srv.peer();
    tcp.sub("calm");
    // A CONNECT trickled one byte at a time and left unfinished.
    let mut slow = TcpStream::connect(s.mqtt).unwrap();
    slow.write_all(b"\x10\x0e\x00\x04MQ").unwrap();
    // A remaining length of five bytes: closed.
    let mut bad = TcpStream::connect(s.mqtt).unwrap();
    bad.set_read_timeout(Some(WAIT)).unwrap();
    bad.write_all(b"\x10\xff\xff\xff\xff\x7f").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(bad.read(&mut buf).unwrap_or(0), 0);
    // A packet announcing more than the maximum: refused from its header.
    let mut big = MqttPeer::connect(s.mqtt, Version::V5);
    big.raw(b"\x10\xff\xff\xff\x7f");
    assert!(big.closed().is_empty());
    // A flood of client ids, each over the limit: refused one by one.
    let long = "x".repeat(300);
    for _ in 0..50 {
        let mut c = MqttPeer::connect(s.mqtt, Version::V311);
        c.send(&Packet::Connect(Box::new(Connect {
            keep_alive: 0,
            ..connect_fields(Version::V311, &long)
        })));
        let closed = c.closed();
        assert_eq!(closed, vec![b"\x20\x02\x00\x02".to_vec()]);
    }
    // And everyone else is served at once, the slow CONNECT still open.
    let (mut m, _) = mqtt_client(s.mqtt, "fine", Version::V5, true);
    mqtt_publish(&mut m, "calm", b"still here", QoS::AtLeastOnce, 1);
    tcp.expect(b"pub calm\nstill here");
    slow.write_all(b"TT\x04\x02\x00\x3c\x00\x02sl").unwrap();
    let mut slow = MqttPeer::from_stream(slow, Version::V311);
    assert_eq!(
        packet(&slow.recv_bytes(), Version::V311),
        Packet::ConnAck(ducq::transport::mqtt::packet::ConnAck {
            session_present: false,
            code: reason::SUCCESS,
            props: Properties::default()
        })
    );
}

fn connect_with_will(addr: SocketAddr, id: &str, keep_alive: u16) -> MqttPeer {
    let connect = Connect {
        keep_alive,
        will: Some(ducq::transport::mqtt::packet::Will {
            topic: "dev/state".into(),
            payload: Cow::Owned(format!("{id} lost").into_bytes()),
            qos: QoS::AtMostOnce,
            retain: false,
            props: Properties::default(),
        }),
        ..connect_fields(Version::V311, id)
    };
    MqttPeer::handshake(addr, connect).0
}

#[test]
fn wills_on_a_dropped_connection_and_a_keep_alive_timeout_not_on_disconnect() {
    let s = servers();
    let mut tcp = s.srv.peer();
    tcp.sub("dev/state");
    // Dropped without DISCONNECT: the will is published.
    drop(connect_with_will(s.mqtt, "a", 60));
    tcp.expect(b"pub dev/state\na lost");
    // DISCONNECT first: no will (the marker comes next, nothing before it).
    let mut polite = connect_with_will(s.mqtt, "b", 60);
    polite.send(&Packet::Disconnect(
        ducq::transport::mqtt::packet::Reasoned::new(0),
    ));
    assert!(polite.closed().is_empty());
    let mut admin = s.srv.peer();
    let deadline = Instant::now() + WAIT;
    while listed(&mut admin).iter().any(|l| l.starts_with("MQTT[b]")) {
        assert!(Instant::now() < deadline, "b still listed");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    admin.publish("dev/state", "marker");
    tcp.expect(b"pub dev/state\nmarker");
    // Silent past 1.5 x its keep-alive of 1 s: closed, and its will sent.
    let mut silent = connect_with_will(s.mqtt, "c", 1);
    assert!(silent.closed().is_empty());
    tcp.expect(b"pub dev/state\nc lost");
}

#[test]
fn a_second_connection_with_the_same_client_id_closes_the_first() {
    let s = servers();
    let (mut first, _) = mqtt_client(s.mqtt, "twin", Version::V311, true);
    let (mut second, _) = mqtt_client(s.mqtt, "twin", Version::V311, true);
    assert!(first.closed().is_empty());
    // The second one is served.
    second.send(&Packet::PingReq);
    assert_eq!(
        packet(&second.recv_bytes(), Version::V311),
        Packet::PingResp
    );
    let mut admin = s.srv.peer();
    let twins: Vec<String> = listed(&mut admin)
        .into_iter()
        .filter(|l| l.starts_with("MQTT[twin]"))
        .collect();
    let local = second.stream.local_addr().unwrap();
    assert_eq!(twins, [format!("MQTT[twin]:{local},")]);
}

#[test]
fn a_publication_without_retain_is_delivered_not_stored() {
    let s = servers();
    let mut tcp = s.srv.peer();
    tcp.sub("plain/t");
    ok(mosquitto(
        "mosquitto_pub",
        s.mqtt.port(),
        &["-t", "plain/t", "-m", "passing"],
    )
    .output()
    .unwrap());
    tcp.expect(b"pub plain/t\npassing");
    let mut other = s.srv.peer();
    other.call(b"sub plain/t\nlast", b"ACK");
    ok(mosquitto(
        "mosquitto_pub",
        s.mqtt.port(),
        &["-t", "plain/t", "-m", "kept", "-r"],
    )
    .output()
    .unwrap());
    tcp.expect(b"pub plain/t\nkept");
    other.expect(b"pub plain/t\nkept");
    other.call(b"sub plain/t\nlast", b"pub plain/t\nkept");
}

#[test]
fn shared_subscription_members_take_turns() {
    let s = servers();
    let mut members: Vec<MqttPeer> = (0..3)
        .map(|i| {
            let (mut c, _) = mqtt_client(s.mqtt, &format!("worker{i}"), Version::V5, true);
            mqtt_subscribe(&mut c, "$share/pool/jobs/#", QoS::AtLeastOnce);
            c
        })
        .collect();
    let (mut p, _) = mqtt_client(s.mqtt, "boss", Version::V5, true);
    for k in 0..6u16 {
        mqtt_publish(
            &mut p,
            "jobs/a",
            format!("job{k}").as_bytes(),
            QoS::AtLeastOnce,
            k + 1,
        );
    }
    let mut got = Vec::new();
    for m in &mut members {
        let a = String::from_utf8(mqtt_next(m).1).unwrap();
        let b = String::from_utf8(mqtt_next(m).1).unwrap();
        got.push((a, b));
    }
    assert_eq!(
        got,
        [
            ("job0".to_string(), "job3".to_string()),
            ("job1".into(), "job4".into()),
            ("job2".into(), "job5".into())
        ]
    );
}

#[test]
fn a_shared_publication_never_falls_on_a_member_being_closed() {
    let s = servers();
    let (mut leaving, _) = mqtt_client(s.mqtt, "leaving", Version::V5, true);
    mqtt_subscribe(&mut leaving, "$share/pool/work/#", QoS::AtMostOnce);
    let (mut staying, _) = mqtt_client(s.mqtt, "staying", Version::V5, true);
    mqtt_subscribe(&mut staying, "$share/pool/work/#", QoS::AtMostOnce);
    let mut admin = s.srv.peer();
    let name = format!("MQTT[leaving]:{}", leaving.stream.local_addr().unwrap());
    // One write, so one turn of the server: `leaving` is marked for
    // closing, then two publications come, the first of them its turn.
    let mut turn = Vec::new();
    for body in [
        format!("unsub x\n{name}"),
        "pub work/1\none".into(),
        "pub work/2\ntwo".into(),
    ] {
        turn.extend_from_slice(&ducq::transport::tcp::TcpCodec::frame(body.as_bytes()));
    }
    admin.raw(&turn);
    for _ in 0..3 {
        admin.expect(b"ACK");
    }
    assert_eq!(mqtt_next(&mut staying).1, b"one");
    assert_eq!(mqtt_next(&mut staying).1, b"two");
    assert!(leaving.closed().is_empty());
}

#[test]
fn a_retained_publish_with_an_empty_payload_deletes_the_retained_message() {
    let s = servers();
    let mut live = s.srv.peer();
    live.sub("room/temp");
    ok(mosquitto(
        "mosquitto_pub",
        s.mqtt.port(),
        &["-t", "room/temp", "-m", "21", "-r"],
    )
    .output()
    .unwrap());
    live.expect(b"pub room/temp\n21");
    let mut other = s.srv.peer();
    other.call(b"last room/temp\n", b"pub room/temp\n21");
    // mosquitto_pub -n: a zero-length payload, retained, at QoS 1.
    ok(mosquitto(
        "mosquitto_pub",
        s.mqtt.port(),
        &["-t", "room/temp", "-n", "-r", "-q", "1"],
    )
    .output()
    .unwrap());
    // Delivered as any publication [MQTT-3.3.1-10], and nothing is stored.
    live.expect(b"pub room/temp\n");
    other.call(b"last room/temp\n", b"ACK");
    // A new MQTT subscriber gets no retained message: the first thing it
    // receives after its SUBACK is a later live publication.
    let (mut c, _) = mqtt_client(s.mqtt, "late", Version::V311, true);
    mqtt_subscribe(&mut c, "room/#", QoS::AtMostOnce);
    other.call(b"pub room/hum\n40", b"ACK");
    let (topic, payload, _, _, _) = mqtt_next(&mut c);
    assert_eq!((topic.as_str(), &payload[..]), ("room/hum", &b"40"[..]));
    // The other route's message was stored as usual.
    other.call(b"last room/hum\n", b"pub room/hum\n40");
}

#[test]
fn forget_removes_stored_messages_for_mqtt_subscribers_too() {
    let s = servers();
    let mut tcp = s.srv.peer();
    tcp.publish("lamp/1", "on");
    tcp.publish("lamp/2", "off");
    tcp.publish("door", "shut");
    tcp.call(b"forget lamp/*\n", b"ACK");
    // Idempotent: nothing left to remove is not an error.
    tcp.call(b"forget lamp/1\n", b"ACK");
    tcp.call(b"last lamp/*\n", b"ACK");
    tcp.call(b"forget \n", b"NACK *\n15\nmessage invalid");
    let got = ok(mosquitto(
        "mosquitto_sub",
        s.mqtt.port(),
        &["-t", "#", "-C", "1", "-W", "10", "-F", "%t|%p|%r"],
    )
    .output()
    .unwrap());
    assert_eq!(got, "door|shut|1\n");
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let s = servers();
    let mut admin = s.srv.peer();
    let sub = |id: &str, filters: &[&str]| {
        let mut args = vec!["-i", id, "-C", "1", "-W", "10", "-F", "%t|%p"];
        for f in filters {
            args.extend(["-t", f]);
        }
        mosquitto("mosquitto_sub", s.mqtt.port(), &args)
            .spawn()
            .unwrap()
    };
    let wild = sub("wild", &["#", "+/load"]);
    let sys = sub("sys", &["$SYS/#"]);
    wait_subscribed(&mut admin, "wild", "#");
    wait_subscribed(&mut admin, "wild", "+/load");
    wait_subscribed(&mut admin, "sys", "$SYS/#");
    // The `$` topic first: a leading wildcard that matched it would take
    // it as its one message.
    admin.publish("$SYS/load", "9");
    admin.publish("cpu/load", "1");
    assert_eq!(ok(wild.wait_with_output().unwrap()), "cpu/load|1\n");
    assert_eq!(ok(sys.wait_with_output().unwrap()), "$SYS/load|9\n");
}

/// MQTT 5 from Debian's clients: topic aliases set by mosquitto_pub (its
/// repeats carry the alias and an empty topic), and the Maximum Packet
/// Size of mosquitto_sub (a larger delivery is not sent to it).
#[test]
fn mqtt5_topic_aliases_and_maximum_packet_size_with_mosquitto_clients() {
    let s = servers();
    let mut tcp = s.srv.peer();
    tcp.sub("alias/t");
    ok(mosquitto(
        "mosquitto_pub",
        s.mqtt.port(),
        &[
            "-V",
            "mqttv5",
            "-t",
            "alias/t",
            "-m",
            "again",
            "-q",
            "1",
            "--repeat",
            "3",
            "-D",
            "publish",
            "topic-alias",
            "1",
        ],
    )
    .output()
    .unwrap());
    for _ in 0..3 {
        tcp.expect(b"pub alias/t\nagain");
    }
    tcp.expect_silence(std::time::Duration::from_millis(200));

    let mut admin = s.srv.peer();
    let small = mosquitto(
        "mosquitto_sub",
        s.mqtt.port(),
        &[
            "-V",
            "mqttv5",
            "-i",
            "small",
            "-t",
            "size/#",
            "-C",
            "1",
            "-W",
            "10",
            "-F",
            "%t|%p",
            "-D",
            "connect",
            "maximum-packet-size",
            "64",
        ],
    )
    .spawn()
    .unwrap();
    wait_subscribed(&mut admin, "small", "size/#");
    admin.publish("size/big", &"x".repeat(100));
    admin.publish("size/fits", "ok");
    assert_eq!(ok(small.wait_with_output().unwrap()), "size/fits|ok\n");
}

/// A persistent session taken back and let go again at once (a client
/// on a flapping link) is parked once: a QoS 1 message published while
/// it is away comes once when it returns.
#[test]
fn a_session_taken_back_and_left_again_at_once_gets_each_message_once() {
    let s = servers();
    let (mut c, _) = mqtt_client(s.mqtt, "flap", Version::V311, false);
    mqtt_subscribe(&mut c, "flap/#", QoS::AtLeastOnce);
    let bye = Packet::Disconnect(ducq::transport::mqtt::packet::Reasoned::new(0));
    c.send(&bye);
    assert!(c.closed().is_empty());
    let (mut c, present) = mqtt_client(s.mqtt, "flap", Version::V311, false);
    assert!(present);
    c.send(&bye);
    assert!(c.closed().is_empty());
    let (mut p, _) = mqtt_client(s.mqtt, "pub", Version::V311, true);
    mqtt_publish(&mut p, "flap/x", b"once", QoS::AtLeastOnce, 1);
    let (mut c, present) = mqtt_client(s.mqtt, "flap", Version::V311, false);
    assert!(present);
    let (topic, payload, _, dup, id) = mqtt_next(&mut c);
    assert_eq!(
        (&topic[..], &payload[..], dup),
        ("flap/x", &b"once"[..], false)
    );
    c.send(&Packet::PubAck(Ack::new(id)));
    // Nothing more: the next packet answers this PINGREQ.
    c.send(&Packet::PingReq);
    assert_eq!(packet(&c.recv_bytes(), Version::V311), Packet::PingResp);
}
