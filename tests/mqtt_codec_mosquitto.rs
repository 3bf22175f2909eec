//! The MQTT packet codec against a real broker: Mosquitto (Debian package)
//! on a free loopback port. Every packet ducq encodes must be accepted by
//! Mosquitto, and every packet Mosquitto sends must decode, for MQTT 3.1.1
//! and 5: connect, QoS 0/1/2 both ways, retained messages, wills, MQTT 5
//! properties (user properties forwarded, topic aliases), unsubscribe,
//! ping, and a DISCONNECT with a reason.

mod mqtt_util;

use std::borrow::Cow;

use ducq::transport::mqtt::packet::{
    Ack, Connect, Packet, Publish, QoS, Reasoned, SubOptions, Subscribe, Unsubscribe, Version, Will,
};
use ducq::transport::mqtt::props::Properties;
use ducq::transport::mqtt::reason;
use mqtt_util::{connect_fields, packet, publish_fields, Mosquitto, MqttPeer};

fn connect_packet(id: &str, v: Version, will: Option<Will<'static>>) -> Packet<'static> {
    Packet::Connect(Box::new(Connect {
        will,
        ..connect_fields(v, id)
    }))
}

fn connected(broker: &Mosquitto, id: &str, v: Version) -> MqttPeer {
    let mut c = MqttPeer::connect(broker.addr, v);
    c.send(&connect_packet(id, v, None));
    let bytes = c.recv_bytes();
    let Packet::ConnAck(ack) = packet(&bytes, v) else {
        panic!("no CONNACK: {bytes:?}")
    };
    assert_eq!(ack.code, 0);
    assert!(!ack.session_present);
    c
}

fn subscribe(c: &mut MqttPeer, id: u16, filters: &[(&str, SubOptions)], props: Properties<'_>) {
    let v = c.version;
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: id,
        props,
        filters: filters.iter().map(|(f, o)| ((*f).into(), *o)).collect(),
    }));
    let bytes = c.recv_bytes();
    let Packet::SubAck(ack) = packet(&bytes, v) else {
        panic!("no SUBACK")
    };
    assert_eq!(ack.packet_id, id);
    let want: Vec<u8> = filters.iter().map(|(_, o)| o.qos.bits()).collect();
    assert_eq!(ack.codes, want);
}

fn received(c: &mut MqttPeer) -> Publish<'static> {
    let bytes = c.recv_bytes();
    match packet(&bytes, c.version) {
        Packet::Publish(p) => Publish {
            topic: Cow::Owned(p.topic.into_owned()),
            payload: Cow::Owned(p.payload.into_owned()),
            props: p.props.into_owned(),
            ..p
        },
        other => panic!("expected a PUBLISH, got {other:?}"),
    }
}

fn qos_flows(v: Version) {
    let broker = Mosquitto::start();
    let mut sub = connected(&broker, "sub", v);
    let mut publ = connected(&broker, "pub", v);
    subscribe(
        &mut sub,
        1,
        &[
            ("t/+", SubOptions::qos(QoS::AtLeastOnce)),
            ("q2/#", SubOptions::qos(QoS::ExactlyOnce)),
            ("zero", SubOptions::qos(QoS::AtMostOnce)),
        ],
        Properties::default(),
    );

    // QoS 0.
    publ.send(&Packet::Publish(publish_fields(
        "zero",
        b"z",
        QoS::AtMostOnce,
        0,
    )));
    let got = received(&mut sub);
    assert_eq!(
        (&*got.topic, &*got.payload, got.qos),
        ("zero", &b"z"[..], QoS::AtMostOnce)
    );

    // QoS 1: PUBACK to the publisher, a QoS 1 delivery acknowledged by us.
    publ.send(&Packet::Publish(publish_fields(
        "t/1",
        b"one",
        QoS::AtLeastOnce,
        7,
    )));
    assert_eq!(packet(&publ.recv_bytes(), v), Packet::PubAck(Ack::new(7)));
    let got = received(&mut sub);
    assert_eq!(
        (&*got.topic, &*got.payload, got.qos),
        ("t/1", &b"one"[..], QoS::AtLeastOnce)
    );
    assert_ne!(got.packet_id, 0);
    sub.send(&Packet::PubAck(Ack::new(got.packet_id)));

    // QoS 2 both ways: PUBREC, PUBREL, PUBCOMP.
    publ.send(&Packet::Publish(publish_fields(
        "q2/x",
        b"two",
        QoS::ExactlyOnce,
        8,
    )));
    assert_eq!(packet(&publ.recv_bytes(), v), Packet::PubRec(Ack::new(8)));
    publ.send(&Packet::PubRel(Ack::new(8)));
    assert_eq!(packet(&publ.recv_bytes(), v), Packet::PubComp(Ack::new(8)));
    let got = received(&mut sub);
    assert_eq!((&*got.payload, got.qos), (&b"two"[..], QoS::ExactlyOnce));
    sub.send(&Packet::PubRec(Ack::new(got.packet_id)));
    assert_eq!(
        packet(&sub.recv_bytes(), v),
        Packet::PubRel(Ack::new(got.packet_id))
    );
    sub.send(&Packet::PubComp(Ack::new(got.packet_id)));

    // Ping, unsubscribe, then nothing more arrives on that filter.
    sub.send(&Packet::PingReq);
    assert_eq!(packet(&sub.recv_bytes(), v), Packet::PingResp);
    sub.send(&Packet::Unsubscribe(Unsubscribe {
        packet_id: 2,
        props: Properties::default(),
        filters: vec!["zero".into()],
    }));
    let bytes = sub.recv_bytes();
    let Packet::UnsubAck(u) = packet(&bytes, v) else {
        panic!("no UNSUBACK")
    };
    assert_eq!(u.packet_id, 2);
    if v == Version::V5 {
        assert_eq!(u.codes, vec![reason::SUCCESS]);
    }
    publ.send(&Packet::Publish(publish_fields(
        "zero",
        b"gone",
        QoS::AtMostOnce,
        0,
    )));
    publ.send(&Packet::Publish(publish_fields(
        "t/2",
        b"after",
        QoS::AtMostOnce,
        0,
    )));
    assert_eq!(&*received(&mut sub).payload, b"after");
}

#[test]
fn qos_flows_311() {
    qos_flows(Version::V311);
}

#[test]
fn qos_flows_5() {
    qos_flows(Version::V5);
}

fn retained_and_will(v: Version) {
    let broker = Mosquitto::start();
    let mut publ = connected(&broker, "pub", v);
    let mut p = publish_fields("r/1", b"kept", QoS::AtLeastOnce, 3);
    p.retain = true;
    publ.send(&Packet::Publish(p));
    // Nobody subscribed yet: MQTT 5 says so with reason 0x10.
    let mut want = Ack::new(3);
    if v == Version::V5 {
        want.code = reason::NO_MATCHING_SUBSCRIBERS;
    }
    assert_eq!(packet(&publ.recv_bytes(), v), Packet::PubAck(want));

    let mut sub = connected(&broker, "sub", v);
    subscribe(
        &mut sub,
        1,
        &[
            ("r/#", SubOptions::qos(QoS::AtLeastOnce)),
            ("w", SubOptions::qos(QoS::AtMostOnce)),
        ],
        Properties::default(),
    );
    let got = received(&mut sub);
    assert!(got.retain);
    assert_eq!((&*got.topic, &*got.payload), ("r/1", &b"kept"[..]));
    sub.send(&Packet::PubAck(Ack::new(got.packet_id)));

    // A will, published when its client drops without DISCONNECT.
    let will = Will {
        topic: "w".into(),
        payload: Cow::Borrowed(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        props: Properties::default(),
    };
    let mut dying = MqttPeer::connect(broker.addr, v);
    dying.send(&connect_packet("dying", v, Some(will)));
    let bytes = dying.recv_bytes();
    let Packet::ConnAck(ack) = packet(&bytes, v) else {
        panic!()
    };
    assert_eq!(ack.code, 0);
    drop(dying);
    let got = received(&mut sub);
    assert_eq!((&*got.topic, &*got.payload), ("w", &b"gone"[..]));
}

#[test]
fn retained_and_will_311() {
    retained_and_will(Version::V311);
}

#[test]
fn retained_and_will_5() {
    retained_and_will(Version::V5);
}

#[test]
fn mqtt5_properties_reach_the_broker_and_back() {
    let v = Version::V5;
    let broker = Mosquitto::start();
    // CONNECT properties; Mosquitto's CONNACK carries its own, which decode.
    let mut sub = MqttPeer::connect(broker.addr, v);
    let Packet::Connect(mut c) = connect_packet("sub5", v, None) else {
        unreachable!()
    };
    c.props = Properties {
        session_expiry: Some(0),
        receive_maximum: Some(5),
        maximum_packet_size: Some(4096),
        topic_alias_maximum: Some(4),
        user: vec![("k".into(), "v".into())],
        ..Properties::default()
    };
    sub.send(&Packet::Connect(c));
    let bytes = sub.recv_bytes();
    let Packet::ConnAck(ack) = packet(&bytes, v) else {
        panic!()
    };
    assert_eq!(ack.code, reason::SUCCESS);
    subscribe(
        &mut sub,
        1,
        &[("p/#", SubOptions::qos(QoS::AtLeastOnce))],
        Properties {
            subscription_ids: vec![42],
            ..Properties::default()
        },
    );

    let mut publ = connected(&broker, "pub5", v);
    // User properties (order kept, a name twice), content type, correlation
    // data, then a topic alias set and used with an empty topic.
    let mut p = publish_fields("p/a", b"{}", QoS::AtLeastOnce, 1);
    p.props = Properties {
        content_type: Some("application/json".into()),
        correlation_data: Some(Cow::Borrowed(b"\x00\x01")),
        topic_alias: Some(1),
        user: vec![
            ("b".into(), "2".into()),
            ("a".into(), "1".into()),
            ("b".into(), "3".into()),
        ],
        ..Properties::default()
    };
    publ.send(&Packet::Publish(p));
    assert_eq!(packet(&publ.recv_bytes(), v), Packet::PubAck(Ack::new(1)));
    let mut aliased = publish_fields("", b"again", QoS::AtMostOnce, 0);
    aliased.props.topic_alias = Some(1);
    publ.send(&Packet::Publish(aliased));

    let got = received(&mut sub);
    assert_eq!(&*got.topic, "p/a");
    assert_eq!(got.props.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        got.props.correlation_data.as_deref(),
        Some(&b"\x00\x01"[..])
    );
    assert_eq!(got.props.subscription_ids, vec![42]);
    let user: Vec<(&str, &str)> = got.props.user.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(user, [("b", "2"), ("a", "1"), ("b", "3")]);
    sub.send(&Packet::PubAck(Ack::new(got.packet_id)));
    let got = received(&mut sub);
    assert_eq!((&*got.topic, &*got.payload), ("p/a", &b"again"[..]));

    // A DISCONNECT with a reason code and a reason string is accepted.
    publ.send(&Packet::Disconnect(Reasoned {
        code: reason::SUCCESS,
        props: Properties {
            reason_string: Some("done".into()),
            ..Properties::default()
        },
    }));
    assert!(publ.closed().is_empty());
}

#[test]
fn mosquitto_refuses_what_the_codec_refuses() {
    // A remaining length of five bytes: Mosquitto closes, as the codec
    // reports it malformed.
    let broker = Mosquitto::start();
    let mut c = connected(&broker, "bad", Version::V311);
    c.raw(b"\x30\xff\xff\xff\xff\x7f");
    assert!(c.closed().is_empty());
    assert!(
        ducq::transport::mqtt::decode(b"\x30\xff\xff\xff\xff\x7f", Version::V311, u32::MAX)
            .is_err()
    );
}
