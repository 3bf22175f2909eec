//! The MQTT remote against a scripted broker: every packet it writes is
//! decoded with the crate's codec and compared, every packet it reads is
//! encoded with it.

use std::borrow::Cow;
use std::rc::Rc;

use super::*;
use crate::server::bridges::config::Kind;
use crate::transport::mqtt::packet::{ConnAck, SubAck};
use crate::transport::LastMessage;

fn setup(version: u8) -> (MqttRemote, Link) {
    let mut cfg = BridgeConfig::new(Kind::Mqtt, "127.0.0.1:1883".parse().unwrap());
    cfg.name = "m".into();
    cfg.mqtt_version = version;
    cfg.mapping.out = vec!["o/#".into(), "both/#".into()];
    cfg.mapping.inbound = vec!["i/*".into(), "both/#".into()];
    cfg.user = Some("u".into());
    cfg.password = Some("pw".into());
    cfg.keepalive = std::time::Duration::from_millis(1500);
    let remote = MqttRemote::new(&cfg);
    (remote, Link::new(Rc::new(cfg)))
}

/// The packets in `out`, decoded.
fn packets(out: &[u8], version: Version) -> Vec<Packet<'_>> {
    let mut rest = out;
    let mut got = Vec::new();
    while !rest.is_empty() {
        let (p, n) = decode(rest, version, MAX_PACKET).unwrap().unwrap();
        got.push(p);
        rest = &rest[n..];
    }
    got
}

fn feed(r: &mut MqttRemote, link: &mut Link, p: &Packet<'_>, out: &mut Vec<u8>) -> Option<Inbound> {
    let mut buf = Vec::new();
    encode(p, r.version, &mut buf);
    let (n, inbound) = r.decode(link, &mut buf, out).unwrap();
    assert_eq!(n, buf.len());
    inbound
}

fn connack() -> Packet<'static> {
    Packet::ConnAck(ConnAck {
        session_present: false,
        code: 0,
        props: Properties {
            receive_maximum: Some(2),
            ..Properties::default()
        },
    })
}

fn open(r: &mut MqttRemote, link: &mut Link) {
    let mut out = Vec::new();
    r.open(link, &mut out);
    feed(r, link, &connack(), &mut out);
    let State::Subscribing(id) = r.state else {
        panic!("not subscribing");
    };
    let suback = Packet::SubAck(SubAck {
        packet_id: id,
        props: Properties::default(),
        codes: vec![1, 1],
    });
    feed(r, link, &suback, &mut Vec::new());
    assert!(r.ready());
}

#[test]
fn connects_with_a_persistent_session_and_subscribes_without_echo() {
    let (mut r, mut link) = setup(5);
    let mut out = Vec::new();
    r.open(&mut link, &mut out);
    let Packet::Connect(c) = &packets(&out, Version::V5)[0] else {
        panic!("no CONNECT");
    };
    assert_eq!(c.version, Version::V5);
    assert!(!c.clean_start);
    assert_eq!(c.keep_alive, 2);
    assert_eq!(c.client_id, "ducq-m");
    assert_eq!(c.username.as_deref(), Some("u"));
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
    assert_eq!(c.props.session_expiry, Some(SESSION_EXPIRY));
    out.clear();
    feed(&mut r, &mut link, &connack(), &mut out);
    let Packet::Subscribe(s) = &packets(&out, Version::V5)[0] else {
        panic!("no SUBSCRIBE");
    };
    let want = SubOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: 0,
    };
    assert_eq!(
        s.filters,
        [
            (Cow::Borrowed("i/#"), want),
            (Cow::Borrowed("both/#"), want)
        ]
    );
    assert!(!r.ready());
    let suback = Packet::SubAck(SubAck {
        packet_id: s.packet_id,
        props: Properties::default(),
        codes: vec![1, 0x87],
    });
    feed(&mut r, &mut link, &suback, &mut Vec::new());
    assert!(r.ready());
    assert_eq!(
        link.notes,
        ["the broker refused the subscription to both/# (code 0x87)"]
    );
}

#[test]
fn qos1_publications_wait_in_the_window_for_their_puback() {
    let (mut r, mut link) = setup(5);
    open(&mut r, &mut link);
    let mut out = Vec::new();
    let mut sent = Vec::new();
    for p in ["a", "b", "c"] {
        let mut m = r.outgoing(&mut link, b"o/x", p.as_bytes(), 0).unwrap();
        let s = r.send(&mut link, &mut m, &mut out);
        if s == Sent::Unconfirmed {
            link.sent_unconfirmed(m.clone());
        }
        sent.push((s, m.tag));
    }
    // The broker's Receive Maximum is 2.
    assert_eq!(sent[0].0, Sent::Unconfirmed);
    assert_eq!(sent[1].0, Sent::Unconfirmed);
    assert_eq!(sent[2].0, Sent::Wait);
    let ps = packets(&out, Version::V5);
    let Packet::Publish(p) = &ps[0] else { panic!() };
    assert_eq!(
        (p.topic.as_ref(), p.qos, p.retain),
        ("o/x", QoS::AtLeastOnce, true)
    );
    assert_eq!(u64::from(p.packet_id), sent[0].1);
    // The SUBSCRIBE took identifier 1; each publication in flight has its
    // own.
    assert_eq!((sent[0].1, sent[1].1), (2, 3));
    // Acknowledged out of order; a refusal is counted as one.
    let second = u16::try_from(sent[1].1).unwrap();
    let mut nack = Ack::new(second);
    nack.code = 0x87;
    feed(&mut r, &mut link, &Packet::PubAck(nack), &mut Vec::new());
    let first = u16::try_from(sent[0].1).unwrap();
    feed(
        &mut r,
        &mut link,
        &Packet::PubAck(Ack::new(first)),
        &mut Vec::new(),
    );
    assert_eq!((link.counters.confirmed, link.counters.rejected), (1, 1));
    assert_eq!(link.in_flight(), 0);
    // No spelling for a route with a wildcard character.
    assert_eq!(r.outgoing(&mut link, b"o/+", b"x", 0), None);
    assert_eq!(link.counters.unmappable, 1);
}

#[test]
fn incoming_publications_keep_their_retain_and_are_acknowledged_once_handled() {
    let (mut r, mut link) = setup(5);
    open(&mut r, &mut link);
    let publish = |topic: &'static str, qos: QoS, retain: bool, id: u16| {
        Packet::Publish(Publish {
            dup: false,
            qos,
            retain,
            topic: Cow::Borrowed(topic),
            packet_id: id,
            props: Properties::default(),
            payload: Cow::Borrowed(b"v"),
        })
    };
    let mut out = Vec::new();
    let got = feed(
        &mut r,
        &mut link,
        &publish("i/a/b", QoS::AtLeastOnce, true, 7),
        &mut out,
    );
    assert_eq!(
        got,
        Some(Inbound {
            message: b"pub i/a/b\nv".to_vec(),
            last: LastMessage::Store
        })
    );
    // The PUBACK waits until the local broker has handled it.
    assert!(out.is_empty());
    r.handled(&mut link, &mut out);
    assert_eq!(packets(&out, Version::V5), [Packet::PubAck(Ack::new(7))]);
    out.clear();
    let got = feed(
        &mut r,
        &mut link,
        &publish("both/x", QoS::AtMostOnce, false, 0),
        &mut out,
    );
    assert_eq!(got.map(|i| i.last), Some(LastMessage::Skip));
    // A retained message with an empty payload deletes the retained one.
    let forget = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: true,
        topic: Cow::Borrowed("i/a/b"),
        packet_id: 0,
        props: Properties::default(),
        payload: Cow::Borrowed(b""),
    });
    let got = feed(&mut r, &mut link, &forget, &mut out);
    assert_eq!(got.map(|i| i.last), Some(LastMessage::Forget));
    // Outside the patterns: acknowledged at once, not brought in.
    let got = feed(
        &mut r,
        &mut link,
        &publish("i", QoS::AtLeastOnce, false, 8),
        &mut out,
    );
    assert_eq!(got, None);
    assert_eq!(packets(&out, Version::V5), [Packet::PubAck(Ack::new(8))]);
    assert_eq!(link.counters.ignored, 1);
    // QoS 2 was never asked for.
    let mut buf = Vec::new();
    encode(
        &publish("i/q", QoS::ExactlyOnce, false, 9),
        Version::V5,
        &mut buf,
    );
    assert!(r.decode(&mut link, &mut buf, &mut out).is_err());
}

#[test]
fn mqtt_311_has_no_no_local_so_forwarded_routes_coming_back_are_dropped() {
    let (mut r, mut link) = setup(4);
    let mut out = Vec::new();
    r.open(&mut link, &mut out);
    let Packet::Connect(c) = &packets(&out, Version::V5)[0] else {
        panic!()
    };
    assert_eq!(c.version, Version::V311);
    let ack = Packet::ConnAck(ConnAck {
        session_present: true,
        code: 0,
        props: Properties::default(),
    });
    let mut out = Vec::new();
    feed(&mut r, &mut link, &ack, &mut out);
    // 3.1.1 reserves the option bits beyond the QoS.
    let Packet::Subscribe(s) = &packets(&out, Version::V311)[0] else {
        panic!("no SUBSCRIBE")
    };
    assert!(s
        .filters
        .iter()
        .all(|(_, o)| *o == SubOptions::qos(QoS::AtLeastOnce)));
    let State::Subscribing(id) = r.state else {
        panic!()
    };
    let suback = Packet::SubAck(SubAck {
        packet_id: id,
        props: Properties::default(),
        codes: vec![1, 1],
    });
    feed(&mut r, &mut link, &suback, &mut Vec::new());
    let back = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: Cow::Borrowed("both/x"),
        packet_id: 0,
        props: Properties::default(),
        payload: Cow::Borrowed(b"mine?"),
    });
    assert_eq!(feed(&mut r, &mut link, &back, &mut Vec::new()), None);
    assert_eq!(link.counters.ignored, 1);
}

#[test]
fn refusals_and_nonsense_end_the_connection() {
    let (mut r, mut link) = setup(5);
    r.open(&mut link, &mut Vec::new());
    let refused = Packet::ConnAck(ConnAck {
        session_present: false,
        code: 0x86,
        props: Properties::default(),
    });
    let mut buf = Vec::new();
    encode(&refused, Version::V5, &mut buf);
    assert_eq!(
        r.decode(&mut link, &mut buf, &mut Vec::new()).unwrap_err(),
        "the broker refused the connection (code 0x86)"
    );
    for bad in [&[0x00u8, 0x00][..], &[0x20, 0xff, 0xff, 0xff, 0xff]] {
        let (mut r, mut link) = setup(5);
        let mut b = bad.to_vec();
        assert!(
            r.decode(&mut link, &mut b, &mut Vec::new()).is_err(),
            "{bad:?}"
        );
    }
    let (mut r, mut link) = setup(5);
    open(&mut r, &mut link);
    let mut b = Vec::new();
    encode(
        &Packet::Disconnect(crate::transport::mqtt::packet::Reasoned::new(0x8b)),
        Version::V5,
        &mut b,
    );
    assert_eq!(
        r.decode(&mut link, &mut b, &mut Vec::new()).unwrap_err(),
        "the broker disconnected (reason 0x8b)"
    );
}

/// Feeds `p` and returns the error the remote ends the connection with.
fn refused(r: &mut MqttRemote, link: &mut Link, p: &Packet<'_>) -> String {
    let mut buf = Vec::new();
    encode(p, r.version, &mut buf);
    r.decode(link, &mut buf, &mut Vec::new()).unwrap_err()
}

#[test]
fn out_of_turn_packets_end_the_connection() {
    let publish = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: Cow::Borrowed("i/a"),
        packet_id: 0,
        props: Properties::default(),
        payload: Cow::Borrowed(b"v"),
    });
    // A PUBLISH before the CONNACK.
    let (mut r, mut link) = setup(5);
    r.open(&mut link, &mut Vec::new());
    assert_eq!(
        refused(&mut r, &mut link, &publish),
        "unexpected MQTT packet of type 3"
    );
    // A SUBACK for another SUBSCRIBE than the one sent.
    let (mut r, mut link) = setup(5);
    r.open(&mut link, &mut Vec::new());
    feed(&mut r, &mut link, &connack(), &mut Vec::new());
    let State::Subscribing(id) = r.state else {
        panic!("not subscribing");
    };
    let other = Packet::SubAck(SubAck {
        packet_id: id.wrapping_add(1),
        props: Properties::default(),
        codes: vec![1, 1],
    });
    assert_eq!(
        refused(&mut r, &mut link, &other),
        "unexpected MQTT packet of type 9"
    );
    assert!(!r.ready());
}

#[test]
fn a_puback_from_0x80_up_is_a_refusal_and_a_ping_is_pingreq() {
    let (mut r, mut link) = setup(5);
    open(&mut r, &mut link);
    let mut out = Vec::new();
    let mut m = r.outgoing(&mut link, b"o/x", b"a", 0).unwrap();
    assert_eq!(r.send(&mut link, &mut m, &mut out), Sent::Unconfirmed);
    link.sent_unconfirmed(m.clone());
    let mut nack = Ack::new(u16::try_from(m.tag).unwrap());
    nack.code = 0x80;
    feed(&mut r, &mut link, &Packet::PubAck(nack), &mut Vec::new());
    assert_eq!((link.counters.confirmed, link.counters.rejected), (0, 1));
    // Below 0x80 (here 0, success): confirmed.
    let mut m = r.outgoing(&mut link, b"o/x", b"b", 0).unwrap();
    assert_eq!(r.send(&mut link, &mut m, &mut out), Sent::Unconfirmed);
    link.sent_unconfirmed(m.clone());
    let ack = Packet::PubAck(Ack::new(u16::try_from(m.tag).unwrap()));
    feed(&mut r, &mut link, &ack, &mut Vec::new());
    assert_eq!((link.counters.confirmed, link.counters.rejected), (1, 1));
    out.clear();
    r.ping(&mut out);
    assert_eq!(packets(&out, Version::V5), [Packet::PingReq]);
}

#[test]
fn the_brokers_limits_lower_qos_retain_and_packet_size() {
    let (mut r, mut link) = setup(5);
    r.open(&mut link, &mut Vec::new());
    let limit = |size: usize| {
        encoded_len(
            &Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: Cow::Borrowed("o/x"),
                packet_id: 0,
                props: Properties::default(),
                payload: Cow::Owned(vec![b'p'; size]),
            }),
            Version::V5,
        )
    };
    let ack = Packet::ConnAck(ConnAck {
        session_present: false,
        code: 0,
        props: Properties {
            maximum_qos: Some(0),
            retain_available: Some(0),
            maximum_packet_size: Some(u32::try_from(limit(10)).unwrap()),
            ..Properties::default()
        },
    });
    let mut out = Vec::new();
    feed(&mut r, &mut link, &ack, &mut out);
    let Packet::Subscribe(s) = &packets(&out, Version::V5)[0] else {
        panic!("no SUBSCRIBE");
    };
    assert!(s.filters.iter().all(|(_, o)| o.qos == QoS::AtMostOnce));
    let suback = Packet::SubAck(SubAck {
        packet_id: s.packet_id,
        props: Properties::default(),
        codes: vec![0, 0],
    });
    feed(&mut r, &mut link, &suback, &mut Vec::new());
    // Exactly the broker's maximum goes; one byte more is skipped.
    let mut out = Vec::new();
    let mut fits = r.outgoing(&mut link, b"o/x", &[b'p'; 10], 0).unwrap();
    assert_eq!(r.send(&mut link, &mut fits, &mut out), Sent::Confirmed);
    assert_eq!(out.len(), limit(10));
    let mut over = r.outgoing(&mut link, b"o/x", &[b'p'; 11], 0).unwrap();
    assert_eq!(r.send(&mut link, &mut over, &mut out), Sent::Skipped);
    assert_eq!(link.counters.unmappable, 1);
    let Packet::Publish(p) = &packets(&out, Version::V5)[0] else {
        panic!("no PUBLISH");
    };
    assert_eq!((p.qos, p.retain, p.packet_id), (QoS::AtMostOnce, false, 0));
    // A name that is not UTF-8 (a message taken over from another kind of
    // bridge) has no topic.
    let mut odd = Outgoing::new(b"o/\xff".to_vec(), b"p", None);
    assert_eq!(r.send(&mut link, &mut odd, &mut out), Sent::Skipped);
    assert_eq!(link.counters.unmappable, 2);
    assert_eq!(out.len(), limit(10));
}
