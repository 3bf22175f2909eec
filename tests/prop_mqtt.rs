//! Property tests for the MQTT packet codec: every packet type of 3.1.1 and
//! 5 with generated fields survives encode → decode unchanged, a stream of
//! packets cut anywhere decodes to the same packets, and arbitrary bytes
//! never panic the decoder (what it does accept re-encodes to the same
//! packet). Bounded case counts: the fuzz target `mqtt_packet` explores the
//! same properties for longer. The connection state machine gets the same
//! treatment: any packets (or bytes) after a CONNECT, cut anywhere, give the
//! same messages and answers, and never a panic. No sockets, no clock.

mod oracle;

use std::borrow::Cow;

use ducq::transport::mqtt::codec::{decode, encode, encoded_len, packet_len};
use ducq::transport::mqtt::packet::{
    Ack, ConnAck, Connect, Packet, Publish, QoS, Reasoned, SubAck, SubOptions, Subscribe,
    Unsubscribe, Version, Will,
};
use ducq::transport::mqtt::props::{Context, Properties};
use ducq::transport::mqtt::{factory, Config};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

const MAX: u32 = 1 << 20;

type P = Packet<'static>;

fn text() -> impl Strategy<Value = Cow<'static, str>> {
    vec(
        prop::sample::select(vec!['a', 'b', '/', '+', '#', '$', ' ', 'é', '😀']),
        0..10,
    )
    .prop_map(|c| Cow::Owned(c.into_iter().collect()))
}

fn bytes() -> impl Strategy<Value = Cow<'static, [u8]>> {
    vec(any::<u8>(), 0..24).prop_map(Cow::Owned)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop::sample::select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

fn id() -> impl Strategy<Value = u16> {
    1u16..
}

/// Any property list; `restrict` then keeps what a context allows.
fn any_props() -> impl Strategy<Value = Properties<'static>> {
    let flag = || of(0u8..=1);
    let a = (
        flag(),
        of(any::<u32>()),
        of(text()),
        of(text()),
        of(bytes()),
        vec(1u32..=268_435_455, 0..3),
        of(any::<u32>()),
        of(text()),
        of(any::<u16>()),
        of(text()),
        of(bytes()),
    );
    let b = (
        flag(),
        of(any::<u32>()),
        flag(),
        of(text()),
        of(text()),
        of(text()),
        of(1u16..),
        of(any::<u16>()),
        of(1u16..),
        flag(),
        flag(),
    );
    let c = (
        vec((text(), text()), 0..3),
        of(1u32..),
        flag(),
        flag(),
        flag(),
    );
    (a, b, c).prop_map(|(a, b, c)| Properties {
        payload_format: a.0,
        message_expiry: a.1,
        content_type: a.2,
        response_topic: a.3,
        correlation_data: a.4,
        subscription_ids: a.5,
        session_expiry: a.6,
        assigned_client_id: a.7,
        server_keep_alive: a.8,
        auth_method: a.9,
        auth_data: a.10,
        request_problem_info: b.0,
        will_delay: b.1,
        request_response_info: b.2,
        response_info: b.3,
        server_reference: b.4,
        reason_string: b.5,
        receive_maximum: b.6,
        topic_alias_maximum: b.7,
        topic_alias: b.8,
        maximum_qos: b.9,
        retain_available: b.10,
        user: c.0,
        maximum_packet_size: c.1,
        wildcard_available: c.2,
        subscription_ids_available: c.3,
        shared_available: c.4,
    })
}

/// Keeps the properties MQTT 5 §2.2.2.2 allows in `ctx` (written out here
/// independently of the codec's own table).
fn restrict(p: Properties<'static>, ctx: Context) -> Properties<'static> {
    use Context::*;
    let is = |set: &[Context]| set.contains(&ctx);
    let mut r = Properties {
        user: p.user,
        ..Properties::default()
    };
    if is(&[Publish, Will]) {
        r.payload_format = p.payload_format;
        r.message_expiry = p.message_expiry;
        r.content_type = p.content_type;
        r.response_topic = p.response_topic;
        r.correlation_data = p.correlation_data;
    }
    if is(&[Publish]) {
        r.subscription_ids = p.subscription_ids.clone();
        r.topic_alias = p.topic_alias;
    }
    if is(&[Subscribe]) {
        r.subscription_ids = p.subscription_ids.into_iter().take(1).collect();
    }
    if is(&[Connect, ConnAck, Disconnect]) {
        r.session_expiry = p.session_expiry;
    }
    if is(&[ConnAck]) {
        r.assigned_client_id = p.assigned_client_id;
        r.server_keep_alive = p.server_keep_alive;
        r.response_info = p.response_info;
        r.maximum_qos = p.maximum_qos;
        r.retain_available = p.retain_available;
        r.wildcard_available = p.wildcard_available;
        r.subscription_ids_available = p.subscription_ids_available;
        r.shared_available = p.shared_available;
    }
    if is(&[Connect, ConnAck, Auth]) {
        r.auth_method = p.auth_method;
        r.auth_data = p.auth_data;
    }
    if is(&[Connect]) {
        r.request_problem_info = p.request_problem_info;
        r.request_response_info = p.request_response_info;
    }
    if is(&[Will]) {
        r.will_delay = p.will_delay;
    }
    if is(&[ConnAck, Disconnect]) {
        r.server_reference = p.server_reference;
    }
    if !is(&[Connect, Publish, Subscribe, Unsubscribe, Will]) {
        r.reason_string = p.reason_string;
    }
    if is(&[Connect, ConnAck]) {
        r.receive_maximum = p.receive_maximum;
        r.topic_alias_maximum = p.topic_alias_maximum;
        r.maximum_packet_size = p.maximum_packet_size;
    }
    r
}

fn props(v: Version, ctx: Context) -> impl Strategy<Value = Properties<'static>> {
    any_props().prop_map(move |p| {
        if v == Version::V5 {
            restrict(p, ctx)
        } else {
            Properties::default()
        }
    })
}

fn sub_options(v: Version) -> impl Strategy<Value = SubOptions> {
    (qos(), any::<bool>(), any::<bool>(), 0u8..3).prop_map(move |(qos, nl, rap, rh)| {
        if v == Version::V5 {
            SubOptions {
                qos,
                no_local: nl,
                retain_as_published: rap,
                retain_handling: rh,
            }
        } else {
            SubOptions::qos(qos)
        }
    })
}

fn connect(v: Version) -> impl Strategy<Value = P> {
    let will = (
        text(),
        bytes(),
        qos(),
        any::<bool>(),
        props(v, Context::Will),
    )
        .prop_map(|(topic, payload, qos, retain, props)| Will {
            topic,
            payload,
            qos,
            retain,
            props,
        });
    (
        any::<bool>(),
        any::<u16>(),
        props(v, Context::Connect),
        text(),
        of(will),
        of(text()),
        of(bytes()),
    )
        .prop_map(move |(clean, ka, props, id, will, user, pass)| {
            // 3.1.1: a password needs a user name.
            let pass = if v == Version::V311 && user.is_none() {
                None
            } else {
                pass
            };
            Packet::Connect(Box::new(Connect {
                version: v,
                clean_start: clean,
                keep_alive: ka,
                props,
                client_id: id,
                will,
                username: user,
                password: pass,
            }))
        })
}

/// A reason code: any in MQTT 5, 0 in 3.1.1 where none is on the wire.
fn code(v: Version) -> impl Strategy<Value = u8> {
    any::<u8>().prop_map(move |c| if v == Version::V5 { c } else { 0 })
}

fn ack(v: Version) -> impl Strategy<Value = Ack<'static>> {
    (id(), code(v), props(v, Context::Ack)).prop_map(|(packet_id, code, props)| Ack {
        packet_id,
        code,
        props,
    })
}

fn packet(v: Version) -> BoxedStrategy<P> {
    let publish = (qos(), any::<bool>(), any::<bool>(), text(), id()).prop_flat_map(
        move |(qos, dup, retain, topic, pid)| {
            (props(v, Context::Publish), bytes()).prop_map(move |(props, payload)| {
                let at_least_once = qos != QoS::AtMostOnce;
                Packet::Publish(Publish {
                    dup: dup && at_least_once,
                    qos,
                    retain,
                    topic: topic.clone(),
                    packet_id: if at_least_once { pid } else { 0 },
                    props,
                    payload,
                })
            })
        },
    );
    let connack = (any::<bool>(), any::<u8>(), props(v, Context::ConnAck)).prop_map(
        |(session_present, code, props)| {
            Packet::ConnAck(ConnAck {
                session_present,
                code,
                props,
            })
        },
    );
    let subscribe = (
        id(),
        props(v, Context::Subscribe),
        vec((text(), sub_options(v)), 1..4),
    )
        .prop_map(|(packet_id, props, filters)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                props,
                filters,
            })
        });
    let suback = (id(), props(v, Context::SubAck), vec(any::<u8>(), 1..4)).prop_map(
        |(packet_id, props, codes)| {
            Packet::SubAck(SubAck {
                packet_id,
                props,
                codes,
            })
        },
    );
    let unsubscribe = (id(), props(v, Context::Unsubscribe), vec(text(), 1..4)).prop_map(
        |(packet_id, props, filters)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                props,
                filters,
            })
        },
    );
    let unsuback = (id(), props(v, Context::UnsubAck), vec(any::<u8>(), 0..4)).prop_map(
        move |(packet_id, props, codes)| {
            Packet::UnsubAck(SubAck {
                packet_id,
                props,
                codes: if v == Version::V5 { codes } else { Vec::new() },
            })
        },
    );
    let reasoned =
        |ctx| (code(v), props(v, ctx)).prop_map(|(code, props)| Reasoned { code, props });
    let mut all = vec![
        connect(v).boxed(),
        connack.boxed(),
        publish.boxed(),
        ack(v).prop_map(Packet::PubAck).boxed(),
        ack(v).prop_map(Packet::PubRec).boxed(),
        ack(v).prop_map(Packet::PubRel).boxed(),
        ack(v).prop_map(Packet::PubComp).boxed(),
        subscribe.boxed(),
        suback.boxed(),
        unsubscribe.boxed(),
        unsuback.boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        reasoned(Context::Disconnect)
            .prop_map(Packet::Disconnect)
            .boxed(),
    ];
    if v == Version::V5 {
        all.push(reasoned(Context::Auth).prop_map(Packet::Auth).boxed());
    }
    prop::strategy::Union::new(all).boxed()
}

fn version() -> impl Strategy<Value = Version> {
    prop::sample::select(vec![Version::V311, Version::V5])
}

fn versioned_packets(n: std::ops::Range<usize>) -> impl Strategy<Value = (Version, Vec<P>)> {
    version().prop_flat_map(move |v| (Just(v), vec(packet(v), n.clone())))
}

/// Decodes a stream delivered in `chunks` the way a connection receives it:
/// each chunk appended to a buffer, packets taken from its front.
fn decode_chunks(chunks: &[&[u8]], v: Version) -> Result<(Vec<P>, usize), String> {
    let mut buf = Vec::new();
    let mut got = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match decode(&buf, v, MAX) {
                Ok(Some((p, n))) => {
                    got.push(owned(p));
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok((got, buf.len()))
}

/// A decoded packet re-encoded and decoded again, owning its bytes.
fn owned(p: Packet<'_>) -> P {
    let mut wire = Vec::new();
    let v = match &p {
        Packet::Connect(c) => c.version,
        _ => Version::V5,
    };
    encode(&p, v, &mut wire);
    let leaked: &'static [u8] = Box::leak(wire.into_boxed_slice());
    decode(leaked, v, u32::MAX).unwrap().unwrap().0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// encode → decode gives the packet back, for every type and version,
    /// and `encoded_len` is the size written.
    #[test]
    fn encode_decode_identity((v, packets) in versioned_packets(1..2)) {
        let p = &packets[0];
        let mut wire = Vec::new();
        encode(p, v, &mut wire);
        prop_assert_eq!(wire.len(), encoded_len(p, v));
        prop_assert_eq!(packet_len(&wire, MAX), Ok(Some(wire.len())));
        let (back, n) = decode(&wire, v, MAX).unwrap().unwrap();
        prop_assert_eq!(n, wire.len());
        prop_assert_eq!(&back, p);
        // One byte short is always "need more".
        prop_assert_eq!(decode(&wire[..wire.len() - 1], v, MAX), Ok(None));
    }

    /// A stream of packets cut anywhere decodes to the same packets as the
    /// whole stream, with nothing left over.
    #[test]
    fn split_anywhere(
        (v, packets) in versioned_packets(1..6),
        cuts in vec(0usize..4000, 0..10),
    ) {
        let mut stream = Vec::new();
        for p in &packets {
            encode(p, v, &mut stream);
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut at = 0;
        for c in cuts {
            chunks.push(&stream[at..c]);
            at = c;
        }
        chunks.push(&stream[at..]);
        let (got, left) = decode_chunks(&chunks, v).unwrap();
        prop_assert_eq!(left, 0);
        prop_assert_eq!(got, packets);
    }

    /// Arbitrary bytes (and valid packets with bytes flipped) never panic
    /// the decoder; it never takes more than `max` or than it was given;
    /// what it accepts re-encodes and decodes to the same packet.
    #[test]
    fn never_panics(
        raw in prop_oneof![
            vec(any::<u8>(), 0..64),
            (versioned_packets(1..3), vec((any::<prop::sample::Index>(), any::<u8>()), 1..4))
                .prop_map(|((v, ps), flips)| {
                    let mut w = Vec::new();
                    for p in &ps {
                        encode(p, v, &mut w);
                    }
                    for (i, b) in flips {
                        let i = i.index(w.len());
                        w[i] = b;
                    }
                    w
                }),
        ],
        max in prop_oneof![Just(MAX), 0u32..64],
        v in version(),
    ) {
        if let Ok(Some((p, n))) = decode(&raw, v, max) {
            prop_assert!(n <= raw.len() && n as u64 <= u64::from(max));
            let mut wire = Vec::new();
            encode(&p, v, &mut wire);
            let (again, m) = decode(&wire, v, u32::MAX).unwrap().unwrap();
            prop_assert_eq!(m, wire.len());
            prop_assert_eq!(again, p);
        }
    }
}

/// A broker that acknowledges every message (`pub`, `sub`, `unsubscribe`).
fn ack_all(_: &[u8]) -> Vec<Vec<u8>> {
    vec![b"ACK".to_vec()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A connection fed a CONNECT then generated packets, some bytes
    /// replaced: whole and split input give the same ducq messages, the
    /// same answers and the same end, and every message consumed input.
    #[test]
    fn connection_split_anywhere_never_panics(
        (v, packets) in versioned_packets(0..6),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        cuts in vec(0usize..4000, 0..10),
    ) {
        let mut stream = Vec::new();
        let connect = Packet::Connect(Box::new(Connect {
            version: v,
            clean_start: true,
            keep_alive: 10,
            props: Properties::default(),
            client_id: "prop".into(),
            will: None,
            username: None,
            password: None,
        }));
        encode(&connect, v, &mut stream);
        let start = stream.len();
        for p in &packets {
            encode(p, v, &mut stream);
        }
        for (i, b) in flips {
            if stream.len() > start {
                let i = start + i.index(stream.len() - start);
                stream[i] = b;
            }
        }
        let mut cuts = cuts;
        cuts.sort_unstable();
        let make = || factory(Config::default())();
        let whole = oracle::feed_replying(&mut *make(), &[&stream], ack_all);
        let split = oracle::split_at(&stream, &cuts);
        let pieces = oracle::feed_replying(&mut *make(), &split, ack_all);
        prop_assert_eq!(&whole, &pieces);
        // Everything sent back decodes as MQTT packets.
        let mut out = &whole.out[..];
        while !out.is_empty() {
            let (_, n) = decode(out, v, u32::MAX).unwrap().unwrap();
            out = &out[n..];
        }
    }
}
