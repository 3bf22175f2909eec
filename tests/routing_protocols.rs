//! Direct messages (`to ID`, PROTOCOL.md §13) and streamed payloads (§12)
//! meet connections that carry publications only: an MQTT client and the
//! two ends of a bridge between ducq brokers. `to` one of them is `NACK 19`
//! (it could never read the message), and a stream leaves them out of its
//! audience while it reaches everyone else. Real sockets on 127.0.0.1,
//! ducq's own codec as the MQTT client, exact replies.

mod mqtt_util;
mod util;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ducq::server::bridges::config::BridgeConfig;
use ducq::server::Settings;
use ducq::transport::mqtt::packet::{Packet, QoS, SubOptions, Subscribe, Version};
use ducq::transport::mqtt::props::Properties;
use ducq::transport::mqtt::{self};
use mqtt_util::{connect_fields, packet, MqttPeer};
use util::{Peer, TestServer, WAIT};

const NOT_FOUND: &[u8] = b"NACK *\n19\nconnection not found";
const SHORT: Duration = Duration::from_millis(150);

/// A server with TCP (`addrs[0]`) and MQTT (`addrs[1]`) listeners.
fn with_mqtt() -> (TestServer, SocketAddr) {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen("127.0.0.1:0", mqtt::factory(mqtt::Config::default()))
            .expect("mqtt listener");
    });
    let mqtt = srv.addrs[1];
    (srv, mqtt)
}

/// An MQTT 3.1.1 client `id`, subscribed to `filter` at QoS 0.
fn mqtt_subscriber(addr: SocketAddr, id: &str, filter: &str) -> MqttPeer {
    let (mut c, code, _) = MqttPeer::handshake(addr, connect_fields(Version::V311, id));
    assert_eq!(code, 0);
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        props: Properties::default(),
        filters: vec![(filter.into(), SubOptions::qos(QoS::AtMostOnce))],
    }));
    match packet(&c.recv_bytes(), Version::V311) {
        Packet::SubAck(a) => assert_eq!(a.codes, vec![0]),
        other => panic!("expected SUBACK, got {other:?}"),
    }
    c
}

/// The id `lsconn` lists for the connection whose id starts with
/// `prefix`, once it is listed.
fn listed_id(p: &mut Peer, prefix: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = util::lsconn(p);
        if let Some(id) = lines
            .iter()
            .filter_map(|l| l.split(',').next())
            .find(|id| id.starts_with(prefix))
        {
            return id.to_string();
        }
        assert!(Instant::now() < deadline, "no {prefix}… in {lines:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn no_packet(c: &mut MqttPeer) {
    let got = c.try_recv_bytes(SHORT);
    assert!(got.is_err(), "unexpected packet {got:?}");
}

#[test]
fn to_an_mqtt_client_is_nack_19_and_a_publication_still_reaches_it() {
    let (srv, addr) = with_mqtt();
    let mut m = mqtt_subscriber(addr, "dev1", "d/#");
    let mut tcp = srv.peer();
    let id = listed_id(&mut tcp, "MQTT[dev1]:");
    // As lsconn lists it, and without the client id: neither can read it.
    tcp.call(format!("to {id}\nhello").as_bytes(), NOT_FOUND);
    let bare = format!("MQTT:{}", id.split_once("]:").unwrap().1);
    tcp.call(format!("to {bare}\nhello").as_bytes(), NOT_FOUND);
    no_packet(&mut m);
    // The client itself is fine and gets its publications.
    tcp.publish("d/t", "21");
    match packet(&m.recv_bytes(), Version::V311) {
        Packet::Publish(p) => {
            assert_eq!((&*p.topic, &p.payload[..]), ("d/t", &b"21"[..]));
        }
        other => panic!("expected PUBLISH, got {other:?}"),
    }
    // A TCP client is still reachable.
    let mut other = srv.peer();
    tcp.call(format!("to {}\nhi", other.id()).as_bytes(), b"ACK");
    other.expect(format!("from {}\nhi", tcp.id()).as_bytes());
}

#[test]
fn a_stream_leaves_out_mqtt_subscribers_and_reaches_the_others() {
    let (srv, addr) = with_mqtt();
    let mut m = mqtt_subscriber(addr, "dev2", "big/#");
    let mut sub = srv.peer();
    sub.sub("big/+");
    let mut p = srv.peer();
    p.call(b"CONT big/file\none ", b"ACK");
    p.call(b"END big/file\ntwo", b"ACK");
    sub.expect(b"CONT big/file\n1\none ");
    sub.expect(b"CONT big/file\n1 end\ntwo");
    no_packet(&mut m);
    // A plain publication on the same route reaches both.
    p.publish("big/file", "whole");
    sub.expect(b"pub big/file\nwhole");
    match packet(&m.recv_bytes(), Version::V311) {
        Packet::Publish(pb) => assert_eq!(&pb.payload[..], b"whole"),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// A broker that accepts bridges and dials `bridges`.
fn broker(bridges: Vec<BridgeConfig>) -> TestServer {
    TestServer::with_setup(Settings::default(), move |r| {
        r.accept_bridges().unwrap();
        for b in bridges {
            r.add_bridge(b).unwrap();
        }
    })
}

/// The `bridges` listing's fields of bridge `name`.
fn bridge_fields(p: &mut Peer, name: &str) -> BTreeMap<String, String> {
    p.send(b"bridges");
    let lines = util::parts(p);
    let line = lines
        .iter()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no bridge {name} in {lines:?}"));
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn direct_messages_and_streams_stay_on_this_side_of_a_bridge() {
    let remote = broker(vec![]);
    let local = broker(vec![BridgeConfig::parse_flag(&format!(
        "ducq={},name=up,out=up/#,in=down/#",
        remote.addr
    ))
    .expect("bridge spec")]);
    let mut l = local.peer();
    let mut r = remote.peer();
    let deadline = Instant::now() + WAIT;
    while bridge_fields(&mut l, "up")["state"] != "open" {
        assert!(Instant::now() < deadline, "the bridge never opened");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The dialling end (`bridge-up:…` here) and the accepting end (the
    // remote's connection subscribed to down/#) cannot read `from`.
    let dialler = listed_id(&mut l, "bridge-up:");
    l.call(format!("to {dialler}\nx").as_bytes(), NOT_FOUND);
    let accepted = {
        let deadline = Instant::now() + WAIT;
        loop {
            let lines = util::lsconn(&mut r);
            if let Some(line) = lines.iter().find(|l| l.trim_end().ends_with(",down/#")) {
                break line.split(',').next().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "no down/# in {lines:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    r.call(format!("to {accepted}\nx").as_bytes(), NOT_FOUND);
    // A stream on a bridged route reaches the remote broker's own
    // subscriber and does not cross: the dialling end ignores nothing.
    let mut rs = remote.peer();
    rs.sub("down/#");
    r.call(b"CONT down/s\npart", b"ACK");
    r.call(b"END down/s\nend", b"ACK");
    rs.expect(b"CONT down/s\n1\npart");
    rs.expect(b"CONT down/s\n1 end\nend");
    // A publication still crosses, and is the first thing the bridge got.
    let mut ls = local.peer();
    ls.sub("down/#");
    r.publish("down/p", "crossed");
    ls.expect(b"pub down/p\ncrossed");
    ls.expect_silence(SHORT);
    let up = bridge_fields(&mut l, "up");
    assert_eq!(
        (up["received"].as_str(), up["ignored"].as_str()),
        ("1", "0"),
        "{up:?}"
    );
}
