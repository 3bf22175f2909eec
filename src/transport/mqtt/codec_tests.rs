//! Byte-exact tests of the packet codec: packets as real clients send them,
//! and each malformation a receiver must refuse.

use std::borrow::Cow;

use super::*;
use crate::transport::mqtt::reason;

const MAX: u32 = 1 << 20;

fn one(bytes: &[u8], v: Version) -> Packet<'_> {
    let (p, n) = decode(bytes, v, MAX).unwrap().unwrap();
    assert_eq!(n, bytes.len());
    p
}

fn round_trip(p: &Packet<'_>, v: Version) -> Vec<u8> {
    let mut out = Vec::new();
    encode(p, v, &mut out);
    assert_eq!(out.len(), encoded_len(p, v));
    assert_eq!(&one(&out, v), p);
    out
}

#[test]
fn connect_311_as_the_bench_client_sends_it() {
    let bytes = b"\x10\x0e\x00\x04MQTT\x04\x02\x04\xb0\x00\x02c1";
    let Packet::Connect(c) = one(bytes, Version::V311) else {
        panic!("not a CONNECT");
    };
    assert_eq!(c.version, Version::V311);
    assert!(c.clean_start);
    assert_eq!(c.keep_alive, 1200);
    assert_eq!(c.client_id, "c1");
    assert!(c.will.is_none() && c.username.is_none() && c.password.is_none());
    assert_eq!(round_trip(&Packet::Connect(c), Version::V311), bytes);
}

#[test]
fn connect_5_with_will_user_and_properties() {
    let c = Connect {
        version: Version::V5,
        clean_start: false,
        keep_alive: 60,
        props: Properties {
            session_expiry: Some(300),
            receive_maximum: Some(10),
            ..Properties::default()
        },
        client_id: "dev".into(),
        will: Some(Will {
            topic: "dev/status".into(),
            payload: Cow::Borrowed(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: true,
            props: Properties {
                will_delay: Some(5),
                ..Properties::default()
            },
        }),
        username: Some("u".into()),
        password: Some(Cow::Borrowed(b"p\0w")),
    };
    let bytes = round_trip(&Packet::Connect(Box::new(c)), Version::V311);
    // Flags: user, password, will retain, will QoS 1, will; not clean.
    assert_eq!(bytes[9], 0b1110_1100);
    assert_eq!(bytes[8], 5);
}

#[test]
fn unsupported_protocols() {
    // MQTT 3.1 ("MQIsdp", level 3) and an unknown level.
    let v31 = b"\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02c1";
    assert_eq!(
        decode(v31, Version::V311, MAX),
        Err(Error::UnsupportedProtocol(3))
    );
    let v6 = b"\x10\x0e\x00\x04MQTT\x06\x02\x00\x3c\x00\x02c1";
    assert_eq!(
        decode(v6, Version::V311, MAX),
        Err(Error::UnsupportedProtocol(6))
    );
}

#[test]
fn connect_flag_rules() {
    let with_flags = |f: u8| {
        let mut b = b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1".to_vec();
        b[9] = f;
        b
    };
    // Reserved bit; will QoS without will; will QoS 3; password alone (3.1.1).
    for f in [0x03, 0x08, 0x20, 0x1c, 0x42] {
        assert!(matches!(
            decode(&with_flags(f), Version::V311, MAX),
            Err(Error::Malformed(_))
        ));
    }
    // Password without user name is fine in MQTT 5.
    let mut b = b"\x10\x13\x00\x04MQTT\x05\x42\x00\x3c\x00\x00\x02c1\x00\x02pw".to_vec();
    let Packet::Connect(c) = one(&b, Version::V5) else {
        panic!()
    };
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
    // Trailing bytes after the payload.
    b[1] += 1;
    b.push(0);
    assert!(decode(&b, Version::V5, MAX).is_err());
}

#[test]
fn publish_at_each_qos() {
    let q0 = b"\x30\x05\x00\x01thi";
    let Packet::Publish(p) = one(q0, Version::V311) else {
        panic!()
    };
    assert_eq!(
        (p.qos, p.packet_id, &*p.topic, &*p.payload),
        (QoS::AtMostOnce, 0, "t", &b"hi"[..])
    );
    let q1 = b"\x3b\x07\x00\x01t\x00\x07hi";
    let Packet::Publish(p) = one(q1, Version::V311) else {
        panic!()
    };
    assert!(p.dup && p.retain);
    assert_eq!((p.qos, p.packet_id), (QoS::AtLeastOnce, 7));
    // MQTT 5: properties between the packet id and the payload.
    let q2 = b"\x34\x0b\x00\x01t\x00\x09\x03\x23\x00\x01hi";
    let Packet::Publish(p) = one(q2, Version::V5) else {
        panic!()
    };
    assert_eq!((p.qos, p.props.topic_alias), (QoS::ExactlyOnce, Some(1)));
    assert_eq!(round_trip(&Packet::Publish(p), Version::V5), q2);
}

#[test]
fn publish_refusals() {
    for (bytes, v) in [
        (&b"\x36\x05\x00\x01t\x00\x01"[..], Version::V311), // QoS 3
        (b"\x38\x03\x00\x01t", Version::V311),              // DUP at QoS 0
        (b"\x32\x05\x00\x01t\x00\x00", Version::V311),      // packet id 0
        (b"\x30\x03\x00\x05t", Version::V311),              // topic past the end
        (b"\x30\x04\x00\x02\xc3\x28", Version::V311),       // topic not UTF-8
        (b"\x30\x03\x00\x01t", Version::V5),                // no property length
        (b"\x30\x06\x00\x01t\x02\x21\x00", Version::V5),    // CONNECT-only property
    ] {
        assert!(decode(bytes, v, MAX).is_err(), "{bytes:?}");
    }
}

#[test]
fn acks_short_and_long_forms() {
    let Packet::PubAck(a) = one(b"\x40\x02\x00\x05", Version::V5) else {
        panic!()
    };
    assert_eq!((a.packet_id, a.code), (5, 0));
    let Packet::PubRec(a) = one(b"\x50\x03\x00\x05\x10", Version::V5) else {
        panic!()
    };
    assert_eq!(a.code, reason::NO_MATCHING_SUBSCRIBERS);
    let long = b"\x62\x08\x00\x05\x92\x04\x1f\x00\x01x";
    let Packet::PubRel(a) = one(long, Version::V5) else {
        panic!()
    };
    assert_eq!(a.props.reason_string.as_deref(), Some("x"));
    assert_eq!(round_trip(&Packet::PubRel(a), Version::V5), long);
    // 3.1.1: exactly two bytes; PUBREL must carry flags 0b0010.
    assert!(decode(b"\x40\x03\x00\x05\x00", Version::V311, MAX).is_err());
    assert!(decode(b"\x60\x02\x00\x05", Version::V311, MAX).is_err());
    assert_eq!(
        round_trip(&Packet::PubComp(Ack::new(9)), Version::V311),
        b"\x70\x02\x00\x09"
    );
}

#[test]
fn subscribe_options() {
    let v3 = b"\x82\x0a\x00\x01\x00\x03a/#\x01\x00\x00";
    assert!(decode(v3, Version::V311, MAX).is_err(), "cut filter");
    let v3 = b"\x82\x08\x00\x01\x00\x03a/#\x01";
    let Packet::Subscribe(s) = one(v3, Version::V311) else {
        panic!()
    };
    assert_eq!(
        s.filters,
        vec![("a/#".into(), SubOptions::qos(QoS::AtLeastOnce))]
    );
    // No Local, Retain As Published, Retain Handling 2 are MQTT 5 only.
    let opts = b"\x82\x09\x00\x01\x00\x00\x03a/#\x2d";
    let Packet::Subscribe(s) = one(opts, Version::V5) else {
        panic!()
    };
    let o = s.filters[0].1;
    assert!(o.no_local && o.retain_as_published);
    assert_eq!((o.qos, o.retain_handling), (QoS::AtLeastOnce, 2));
    assert!(decode(b"\x82\x08\x00\x01\x00\x03a/#\x2d", Version::V311, MAX).is_err());
    // Retain handling 3, reserved bits, no filter at all.
    assert!(decode(b"\x82\x09\x00\x01\x00\x00\x03a/#\x30", Version::V5, MAX).is_err());
    assert!(decode(b"\x82\x09\x00\x01\x00\x00\x03a/#\x40", Version::V5, MAX).is_err());
    assert_eq!(
        decode(b"\x82\x02\x00\x01", Version::V311, MAX),
        Err(Error::Protocol("SUBSCRIBE without a topic filter"))
    );
}

#[test]
fn unsuback_differs_between_versions() {
    let a = SubAck {
        packet_id: 3,
        props: Properties::default(),
        codes: vec![0, 0x11],
    };
    assert_eq!(
        round_trip(&Packet::UnsubAck(a.clone()), Version::V5),
        b"\xb0\x05\x00\x03\x00\x00\x11"
    );
    let mut out = Vec::new();
    encode(&Packet::UnsubAck(a), Version::V311, &mut out);
    assert_eq!(out, b"\xb0\x02\x00\x03");
}

#[test]
fn disconnect_and_auth() {
    assert_eq!(
        round_trip(&Packet::Disconnect(Reasoned::new(0)), Version::V5),
        b"\xe0\x00"
    );
    assert_eq!(
        round_trip(&Packet::Disconnect(Reasoned::new(4)), Version::V5),
        b"\xe0\x01\x04"
    );
    assert!(decode(b"\xe0\x01\x04", Version::V311, MAX).is_err());
    assert!(decode(b"\xf0\x00", Version::V311, MAX).is_err());
    assert_eq!(
        one(b"\xf0\x00", Version::V5),
        Packet::Auth(Reasoned::new(0))
    );
    assert_eq!(one(b"\xc0\x00", Version::V311), Packet::PingReq);
    assert!(decode(b"\xc0\x01\x00", Version::V311, MAX).is_err());
}

#[test]
fn first_byte_refused_before_the_rest_arrives() {
    for b in [0x00u8, 0x01, 0x22, 0x36, 0x60, 0x80, 0xa0, 0xc1, 0xe2] {
        assert!(
            matches!(decode(&[b], Version::V5, MAX), Err(Error::Malformed(_))),
            "{b:#x}"
        );
    }
}

#[test]
fn too_large_refused_from_the_header() {
    // A 2 MiB PUBLISH announced in four bytes: refused with only the header.
    let header = b"\x30\x80\x80\x80\x01";
    assert_eq!(
        decode(header, Version::V311, MAX),
        Err(Error::TooLarge {
            size: 5 + (1 << 21),
            max: MAX
        })
    );
    assert_eq!(packet_len(b"\x30\x7f", 129), Ok(Some(129)));
    assert!(packet_len(b"\x30\x7f", 128).is_err());
    assert_eq!(
        packet_len(b"\x30\xff\xff\xff\xff", u32::MAX),
        Err(Error::Malformed("remaining length over 4 bytes"))
    );
    assert_eq!(packet_len(b"\x30\xff\xff\xff", u32::MAX), Ok(None));
}

#[test]
fn partial_input_waits() {
    let bytes = b"\x30\x05\x00\x01thi\xc0";
    for n in 0..bytes.len() - 1 {
        assert_eq!(decode(&bytes[..n], Version::V311, MAX), Ok(None), "{n}");
    }
    // Two packets back to back: the first is taken alone.
    let (_, n) = decode(&bytes[..], Version::V311, MAX).unwrap().unwrap();
    assert_eq!(n, 7);
    assert_eq!(
        decode(b"\xc0\x00", Version::V311, MAX).unwrap().unwrap().1,
        2
    );
}
