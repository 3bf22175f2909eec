//! Tests of the MQTT state machine against a small in-memory broker that
//! answers `pub`, `sub` and `unsubscribe` as PROTOCOL.md §5–6 say (ACK,
//! stored messages for `last`, fan-out to glob subscribers) and drives each
//! codec as the reactor does: decode, dispatch, encode replies,
//! after_dispatch. Bytes on the MQTT side are exact. One file over the
//! usual size: every test drives the same in-memory broker (park_tests.rs
//! drives it too).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use std::borrow::Cow;
use std::rc::Rc;

use super::*;
use crate::proto::message::nack;
use crate::proto::route;
use crate::proto::Message;
use crate::transport::mqtt::packet::SubOptions;
use crate::transport::mqtt::packet::{ConnAck, Connect, Publish, SubAck, Subscribe, Unsubscribe};
use crate::transport::mqtt::session::{Clock, Listener};

type Patterns = Vec<Vec<u8>>;

pub(super) struct Client {
    pub(super) t: MqttServer,
    input: Vec<u8>,
    out: Vec<u8>,
    /// ducq messages the codec handed to the broker.
    sent: Vec<Vec<u8>>,
    closed: bool,
}

pub(super) struct Net {
    pub(super) listener: SharedListener,
    cfg: Config,
    pub(super) clients: Vec<Client>,
    subs: Vec<(usize, Vec<u8>)>,
    /// Sessions parked by the server (`Transport::park`), with the
    /// patterns they keep.
    pub(super) parked: Vec<(Patterns, Box<dyn Parked>)>,
    last: BTreeMap<Vec<u8>, Vec<u8>>,
    /// When set, `pub` is answered with this NACK.
    refuse: Option<State>,
    /// Publications fanned out so far.
    seq: u64,
    /// The listener's clock, unix milliseconds (tests move it on).
    pub(super) now: Rc<Cell<u64>>,
}

impl Net {
    /// With the broker matching `*` globs only, so the connection's own
    /// exact filtering of a wider pattern is what the tests exercise.
    pub(super) fn new() -> Net {
        Net::with(Config {
            wildcards: BrokerWildcards::Glob,
            ..Config::default()
        })
    }

    pub(super) fn with(cfg: Config) -> Net {
        let now = Rc::new(Cell::new(1_000_000));
        let clock = Rc::clone(&now);
        let listener = Listener::with_clock(Clock::from_fn(move || clock.get()));
        Net {
            now,
            listener: Rc::new(RefCell::new(listener)),
            cfg,
            clients: Vec::new(),
            subs: Vec::new(),
            last: BTreeMap::new(),
            refuse: None,
            seq: 0,
            parked: Vec::new(),
        }
    }

    pub(super) fn client(&mut self) -> usize {
        self.clients.push(Client {
            t: MqttServer::new(Rc::new(self.cfg.clone()), Rc::clone(&self.listener)),
            input: Vec::new(),
            out: Vec::new(),
            sent: Vec::new(),
            closed: false,
        });
        self.clients.len() - 1
    }

    /// Delivers `bytes` from client `i` and runs its codec as the reactor
    /// does. Every message must consume input.
    pub(super) fn feed(&mut self, i: usize, bytes: &[u8]) {
        self.clients[i].input.extend_from_slice(bytes);
        loop {
            let c = &mut self.clients[i];
            if c.closed {
                return;
            }
            let step = c.t.decode(&mut c.input, &mut c.out);
            let consumed = step.consumed;
            let msg = match step.decoded {
                Decoded::Message(m) => Some(m.into_owned()),
                Decoded::Close => {
                    c.closed = true;
                    c.input.clear();
                    return;
                }
                Decoded::Nothing => None,
            };
            assert!(consumed <= c.input.len());
            c.input.drain(..consumed);
            match msg {
                Some(m) => {
                    assert!(consumed > 0, "a message that consumed nothing");
                    self.clients[i].sent.push(m.clone());
                    self.dispatch(i, &m);
                    let c = &mut self.clients[i];
                    c.t.after_dispatch(&mut c.out);
                }
                None if consumed == 0 => return,
                None => {}
            }
        }
    }

    pub(super) fn send(&mut self, i: usize, p: &Packet<'_>) {
        let mut b = Vec::new();
        codec::encode(p, self.clients[i].t.version, &mut b);
        self.feed(i, &b);
    }

    fn reply(&mut self, i: usize, msg: &[u8]) {
        let c = &mut self.clients[i];
        c.t.encode(msg, &mut c.out);
    }

    fn dispatch(&mut self, i: usize, msg: &[u8]) {
        let m = Message::parse(msg).unwrap();
        match m.command {
            b"pub" if self.refuse.is_some() => {
                let state = self.refuse.unwrap_or(State::Error);
                self.reply(i, &nack(state));
            }
            b"pub" => {
                self.reply(i, b"ACK");
                // As the hub does: stored as the codec says.
                match self.clients[i].t.last_message() {
                    LastMessage::Store => self.publish(m.route, msg),
                    LastMessage::Skip => self.fan_out(m.route, msg),
                    LastMessage::Forget => {
                        self.last.remove(m.route);
                        self.fan_out(m.route, msg);
                    }
                }
            }
            b"sub" => {
                let route = m.route.to_vec();
                if !self.subs.contains(&(i, route.clone())) {
                    self.subs.push((i, route.clone()));
                }
                let stored: Vec<Vec<u8>> = if m.payload.ends_with(b"last") {
                    self.last
                        .iter()
                        .filter(|(r, _)| route::matches(&route, r))
                        .map(|(_, v)| v.clone())
                        .collect()
                } else {
                    Vec::new()
                };
                if stored.is_empty() {
                    self.reply(i, b"ACK");
                }
                for s in stored {
                    self.reply(i, &s);
                }
            }
            b"unsubscribe" => {
                let before = self.subs.len();
                self.subs.retain(|s| *s != (i, m.route.to_vec()));
                if self.subs.len() < before {
                    self.reply(i, b"ACK");
                } else {
                    self.reply(i, &nack(State::ENotFound));
                }
            }
            _ => self.reply(i, &nack(State::ENoCmd)),
        }
    }

    /// Stores and fans out a publication, as `pub` does.
    pub(super) fn publish(&mut self, route: &[u8], msg: &[u8]) {
        self.last.insert(route.to_vec(), msg.to_vec());
        self.fan_out(route, msg);
    }

    /// Delivers a publication to every subscriber, numbered as the hub
    /// numbers them.
    fn fan_out(&mut self, route: &[u8], msg: &[u8]) {
        self.seq += 1;
        let mut targets: Vec<usize> = self
            .subs
            .iter()
            .filter(|(_, p)| route::matches(p, route))
            .map(|(k, _)| *k)
            .collect();
        targets.sort_unstable();
        targets.dedup();
        for k in targets {
            let c = &mut self.clients[k];
            if !c.closed {
                c.t.encode_publication(msg, self.seq, &mut c.out);
            }
        }
        // As the hub does: a parked state that wants no more is dropped.
        let seq = self.seq;
        self.parked.retain_mut(|(patterns, p)| {
            !patterns.iter().any(|pat| route::matches(pat, route)) || p.deliver(msg, seq)
        });
    }

    /// Client `i`'s connection ends as the server ends it: marked closing
    /// (its session parked if the codec keeps it), then its subscriptions
    /// dropped.
    pub(super) fn advance(&mut self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }

    /// Client `i`'s connection ends as the server ends it
    /// (its session parked if the codec keeps it), then its subscriptions
    /// dropped.
    pub(super) fn close(&mut self, i: usize) {
        let c = &mut self.clients[i];
        c.closed = true;
        c.t.closing();
        let kept = c.t.park();
        let patterns: Patterns = self
            .subs
            .iter()
            .filter(|(k, _)| *k == i)
            .map(|(_, p)| p.clone())
            .collect();
        self.subs.retain(|(k, _)| *k != i);
        if let Some(p) = kept {
            self.parked.push((patterns, p));
        }
    }

    /// Takes what client `i` was sent, as packets.
    pub(super) fn packets(&mut self, i: usize) -> Vec<Packet<'static>> {
        let v = self.clients[i].t.version;
        let bytes = std::mem::take(&mut self.clients[i].out);
        let mut rest = &bytes[..];
        let mut got = Vec::new();
        while !rest.is_empty() {
            let (p, n) = codec::decode(rest, v, u32::MAX).unwrap().unwrap();
            got.push(owned(p, v));
            rest = &rest[n..];
        }
        got
    }

    pub(super) fn out(&mut self, i: usize) -> Vec<u8> {
        std::mem::take(&mut self.clients[i].out)
    }

    pub(super) fn sent(&mut self, i: usize) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.clients[i].sent)
    }

    /// A connected client: CONNECT with `id`, CONNACK checked and dropped.
    pub(super) fn connect(&mut self, id: &str, v: Version, clean: bool) -> usize {
        let i = self.client();
        self.send(i, &connect(id, v, clean));
        match &self.packets(i)[..] {
            [Packet::ConnAck(a), ..] => assert_eq!(a.code, 0),
            other => panic!("no CONNACK: {other:?}"),
        }
        i
    }

    pub(super) fn subscribe(&mut self, i: usize, filters: &[(&str, QoS)]) -> Vec<Packet<'static>> {
        self.send(
            i,
            &Packet::Subscribe(Subscribe {
                packet_id: 1,
                props: Properties::default(),
                filters: filters
                    .iter()
                    .map(|(f, q)| (Cow::Owned(f.to_string()), SubOptions::qos(*q)))
                    .collect(),
            }),
        );
        self.packets(i)
    }
}

fn owned(p: Packet<'_>, v: Version) -> Packet<'static> {
    let mut b = Vec::new();
    codec::encode(&p, v, &mut b);
    let b: &'static [u8] = Box::leak(b.into_boxed_slice());
    codec::decode(b, v, u32::MAX).unwrap().unwrap().0
}

pub(super) fn connect(id: &str, v: Version, clean: bool) -> Packet<'static> {
    Packet::Connect(Box::new(Connect {
        version: v,
        clean_start: clean,
        keep_alive: 30,
        props: Properties::default(),
        client_id: Cow::Owned(id.to_owned()),
        will: None,
        username: None,
        password: None,
    }))
}

pub(super) fn publish(topic: &str, payload: &[u8], qos: QoS, id: u16) -> Packet<'static> {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: Cow::Owned(topic.to_owned()),
        packet_id: id,
        props: Properties::default(),
        payload: Cow::Owned(payload.to_vec()),
    })
}

fn suback(codes: &[u8]) -> Packet<'static> {
    Packet::SubAck(SubAck {
        packet_id: 1,
        props: Properties::default(),
        codes: codes.to_vec(),
    })
}

pub(super) fn delivered(p: &Packet<'_>) -> (String, Vec<u8>, QoS, bool) {
    match p {
        Packet::Publish(p) => (p.topic.to_string(), p.payload.to_vec(), p.qos, p.retain),
        other => panic!("not a PUBLISH: {other:?}"),
    }
}

#[test]
fn connect_311_exact_bytes() {
    let mut n = Net::new();
    let i = n.client();
    assert!(!n.clients[i].t.is_open());
    n.feed(i, b"\x10\x0e\x00\x04MQTT\x04\x02\x04\xb0\x00\x02c1");
    assert_eq!(n.out(i), b"\x20\x02\x00\x00");
    assert!(n.clients[i].t.is_open());
    assert_eq!(n.clients[i].t.name(), "MQTT[c1]");
    assert_eq!(n.clients[i].t.keep_alive(), 1200);
    assert_eq!(n.clients[i].t.client_id().as_deref(), Some("c1"));
}

#[test]
fn connect_refusals() {
    let mut n = Net::new();
    // 3.1.1: an empty id without a clean session: return code 2, closed.
    let i = n.client();
    n.feed(i, b"\x10\x0c\x00\x04MQTT\x04\x00\x00\x3c\x00\x00");
    assert_eq!(n.out(i), b"\x20\x02\x00\x02");
    assert!(n.clients[i].closed);
    // MQTT 3.1: return code 1.
    let i = n.client();
    n.feed(i, b"\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02c1");
    assert_eq!(n.out(i), b"\x20\x02\x00\x01");
    assert!(n.clients[i].closed);
    // Anything before CONNECT: closed without an answer.
    let i = n.client();
    n.feed(i, b"\xc0\x00");
    assert!(n.out(i).is_empty() && n.clients[i].closed);
    // An id over the limit: MQTT 5 reason 0x85.
    let mut n = Net::with(Config {
        max_client_id: 4,
        ..Config::default()
    });
    let i = n.client();
    n.send(i, &connect("12345", Version::V5, true));
    let [Packet::ConnAck(a)] = &n.packets(i)[..] else {
        panic!()
    };
    assert_eq!(a.code, reason::CLIENT_ID_NOT_VALID);
    assert!(n.clients[i].closed);
    // Enhanced authentication is not offered.
    let i = n.client();
    let Packet::Connect(mut c) = connect("a", Version::V5, true) else {
        unreachable!()
    };
    c.props.auth_method = Some("SCRAM-SHA-1".into());
    n.send(i, &Packet::Connect(c));
    let [Packet::ConnAck(a)] = &n.packets(i)[..] else {
        panic!()
    };
    assert_eq!(a.code, reason::BAD_AUTHENTICATION_METHOD);
}

#[test]
fn mqtt5_connack_properties_and_assigned_id() {
    let mut n = Net::new();
    let i = n.client();
    n.send(i, &connect("", Version::V5, true));
    let [Packet::ConnAck(a)] = &n.packets(i)[..] else {
        panic!()
    };
    assert_eq!(a.code, 0);
    let cfg = Config::default();
    assert_eq!(a.props.receive_maximum, Some(cfg.receive_maximum));
    assert_eq!(a.props.maximum_packet_size, Some(cfg.max_packet));
    assert_eq!(a.props.topic_alias_maximum, Some(cfg.topic_alias_maximum));
    // Shared subscriptions are served: nothing to announce.
    assert_eq!(a.props.shared_available, None);
    let id = a.props.assigned_client_id.as_deref().unwrap().to_owned();
    assert!(id.starts_with("ducq-"));
    assert_eq!(n.clients[i].t.client_id(), Some(id));
}

#[test]
fn publish_qos0_is_a_pub_message_stored_only_when_retained() {
    let mut n = Net::new();
    let i = n.connect("p", Version::V311, true);
    n.feed(i, b"\x30\x05\x00\x01thi");
    assert_eq!(n.sent(i), vec![b"pub t\nhi".to_vec()]);
    assert!(n.out(i).is_empty());
    // RETAIN 0 [MQTT-3.3.1-12]: not the route's last message.
    assert_eq!(n.clients[i].t.last_message(), LastMessage::Skip);
    assert_eq!(n.last.get(&b"t"[..]), None);
    n.feed(i, b"\x31\x05\x00\x01tho");
    assert_eq!(n.clients[i].t.last_message(), LastMessage::Store);
    assert_eq!(
        n.last.get(&b"t"[..]).map(|m| &m[..]),
        Some(&b"pub t\nho"[..])
    );
    // RETAIN 1 with an empty payload deletes it [MQTT-3.3.1-6, -7], and
    // is delivered all the same.
    let s = n.connect("s", Version::V311, true);
    n.subscribe(s, &[("t", QoS::AtMostOnce)]);
    n.feed(i, b"\x31\x03\x00\x01t");
    assert_eq!(n.clients[i].t.last_message(), LastMessage::Forget);
    assert_eq!(n.last.get(&b"t"[..]), None);
    assert_eq!(n.out(s), b"\x30\x03\x00\x01t");
    // Without RETAIN an empty payload is an ordinary publication.
    n.feed(i, b"\x31\x05\x00\x01tho");
    n.feed(i, b"\x30\x03\x00\x01t");
    assert_eq!(n.clients[i].t.last_message(), LastMessage::Skip);
    assert!(n.last.contains_key(&b"t"[..]));
}

#[test]
fn publish_qos1_acked_after_the_broker() {
    let mut n = Net::new();
    let i = n.connect("p", Version::V311, true);
    n.send(i, &publish("a/b", b"x", QoS::AtLeastOnce, 9));
    assert_eq!(n.sent(i), vec![b"pub a/b\nx".to_vec()]);
    assert_eq!(n.out(i), b"\x40\x02\x00\x09");
}

#[test]
fn publish_refused_by_the_broker() {
    let mut n = Net::new();
    n.refuse = Some(State::EMsgInv);
    // MQTT 5: the reason in the PUBACK, and a failed QoS 2 is not held.
    let i = n.connect("p", Version::V5, true);
    n.send(i, &publish("t", b"x", QoS::AtLeastOnce, 3));
    assert_eq!(n.out(i), b"\x40\x03\x00\x03\x90");
    n.refuse = Some(State::EMsgSize);
    n.send(i, &publish("t", b"x", QoS::ExactlyOnce, 4));
    assert_eq!(n.out(i), b"\x50\x03\x00\x04\x83");
    n.feed(i, b"\x62\x02\x00\x04");
    assert_eq!(n.out(i), b"\x70\x03\x00\x04\x92");
    // 3.1.1 has no negative acknowledgement: a plain PUBACK.
    let j = n.connect("q", Version::V311, true);
    n.send(j, &publish("t", b"x", QoS::AtLeastOnce, 5));
    assert_eq!(n.out(j), b"\x40\x02\x00\x05");
}

#[test]
fn qos2_exactly_once() {
    let mut n = Net::new();
    let i = n.connect("p", Version::V311, true);
    n.send(i, &publish("t", b"x", QoS::ExactlyOnce, 5));
    assert_eq!(n.out(i), b"\x50\x02\x00\x05");
    // Sent again before PUBREL: acknowledged, not published twice.
    let Packet::Publish(mut again) = publish("t", b"x", QoS::ExactlyOnce, 5) else {
        unreachable!()
    };
    again.dup = true;
    n.send(i, &Packet::Publish(again));
    assert_eq!(n.out(i), b"\x50\x02\x00\x05");
    assert_eq!(n.sent(i).len(), 1);
    n.feed(i, b"\x62\x02\x00\x05");
    assert_eq!(n.out(i), b"\x70\x02\x00\x05");
    // Released: the same id is a new message now.
    n.send(i, &publish("t", b"y", QoS::ExactlyOnce, 5));
    assert_eq!(n.sent(i), vec![b"pub t\ny".to_vec()]);
    // PUBREL of an unknown id: PUBCOMP 0x92 in MQTT 5.
    let j = n.connect("q", Version::V5, true);
    n.feed(j, b"\x62\x02\x00\x07");
    assert_eq!(n.out(j), b"\x70\x03\x00\x07\x92");
}

#[test]
fn receive_maximum_bounds_unreleased_qos2() {
    let mut n = Net::with(Config {
        receive_maximum: 2,
        ..Config::default()
    });
    let i = n.connect("p", Version::V5, true);
    n.send(i, &publish("t", b"1", QoS::ExactlyOnce, 1));
    n.send(i, &publish("t", b"2", QoS::ExactlyOnce, 2));
    n.out(i);
    n.send(i, &publish("t", b"3", QoS::ExactlyOnce, 3));
    assert_eq!(n.out(i), b"\xe0\x01\x93");
    assert!(n.clients[i].closed);
}

#[test]
fn subscribe_spreads_one_packet_over_its_messages() {
    let mut n = Net::new();
    let i = n.connect("s", Version::V311, true);
    let got = n.subscribe(
        i,
        &[
            ("a/+", QoS::AtLeastOnce),
            ("b/#", QoS::ExactlyOnce),
            ("c", QoS::AtMostOnce),
        ],
    );
    assert_eq!(got, vec![suback(&[1, 2, 0])]);
    assert_eq!(
        n.sent(i),
        vec![
            b"sub a/*\nadd last".to_vec(),
            b"sub b*\nadd last".to_vec(),
            b"sub c\nadd last".to_vec()
        ]
    );
    assert!(n.clients[i].input.is_empty());
}

#[test]
fn subscribe_refusals_per_filter() {
    let mut n = Net::with(Config {
        shared_subscriptions: false,
        ..Config::default()
    });
    let i = n.connect("s", Version::V311, true);
    let got = n.subscribe(
        i,
        &[
            ("a/#/b", QoS::AtMostOnce),
            ("ok", QoS::AtMostOnce),
            ("$share/g/x", QoS::AtMostOnce),
        ],
    );
    assert_eq!(got, vec![suback(&[0x80, 0, 0x80])]);
    assert_eq!(n.sent(i), vec![b"sub ok\nadd last".to_vec()]);
    let j = n.connect("t", Version::V5, true);
    let got = n.subscribe(
        j,
        &[("a+", QoS::AtMostOnce), ("$share/g/x", QoS::AtMostOnce)],
    );
    assert_eq!(
        got,
        vec![suback(&[
            reason::TOPIC_FILTER_INVALID,
            reason::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED
        ])]
    );
    assert!(n.sent(j).is_empty());
}

#[test]
fn retained_messages_follow_the_suback_filtered_exactly() {
    let mut n = Net::new();
    let p = n.connect("p", Version::V311, true);
    for (t, m) in [
        ("a/1", "one"),
        ("a/1/x", "deep"),
        ("$sys/a", "dollar"),
        ("a/2", ""),
    ] {
        let Packet::Publish(mut m) = publish(t, m.as_bytes(), QoS::AtMostOnce, 0) else {
            unreachable!()
        };
        m.retain = true;
        n.send(p, &Packet::Publish(m));
    }
    // Not retained: not what a new subscriber gets.
    n.send(p, &publish("a/3", b"passing", QoS::AtMostOnce, 0));
    n.publish(b"a/*", b"pub a/*\nliteral star");
    let s = n.connect("s", Version::V311, true);
    let got = n.subscribe(s, &[("a/+", QoS::AtLeastOnce), ("+/a", QoS::AtMostOnce)]);
    // SUBACK first; then the glob's matches that MQTT matches too: not
    // a/1/x (two levels), not $sys/a (leading wildcard), not the empty
    // a/2; a/* is a one-level topic for MQTT.
    assert_eq!(got[0], suback(&[1, 0]));
    let rest: Vec<_> = got[1..].iter().map(delivered).collect();
    assert_eq!(
        rest,
        vec![
            (
                "a/*".into(),
                b"literal star".to_vec(),
                QoS::AtMostOnce,
                true
            ),
            ("a/1".into(), b"one".to_vec(), QoS::AtMostOnce, true),
        ]
    );
}

#[test]
fn ducq_publications_reach_mqtt_subscribers_exactly() {
    let mut n = Net::new();
    let s = n.connect("s", Version::V311, true);
    n.subscribe(s, &[("a/+", QoS::AtLeastOnce), ("a/#", QoS::AtMostOnce)]);
    n.publish(b"a/b", b"pub a/b\nx");
    n.publish(b"a/b/c", b"publish a/b/c\ny");
    n.publish(b"a/b", b"NACK *\n15\nnot a publication");
    // One delivery per publication, at the highest QoS of the matching
    // subscriptions but never above the message's (a ducq pub is QoS 0).
    let got: Vec<_> = n.packets(s).iter().map(delivered).collect();
    assert_eq!(
        got,
        vec![
            ("a/b".into(), b"x".to_vec(), QoS::AtMostOnce, false),
            ("a/b/c".into(), b"y".to_vec(), QoS::AtMostOnce, false),
        ]
    );
    // Routes an MQTT topic cannot carry are not delivered.
    n.publish(b"a/+", b"pub a/+\nwild");
    n.publish(b"a/\xff", b"pub a/\xff\nnot utf-8");
    assert!(n.out(s).is_empty());
}

#[test]
fn mqtt_qos1_reaches_mqtt_subscribers_at_qos1_with_properties() {
    let mut n = Net::new();
    let s5 = n.connect("s5", Version::V5, true);
    let s3 = n.connect("s3", Version::V311, true);
    n.send(
        s5,
        &Packet::Subscribe(Subscribe {
            packet_id: 1,
            props: Properties {
                subscription_ids: vec![7],
                ..Properties::default()
            },
            filters: vec![("t/#".into(), SubOptions::qos(QoS::AtLeastOnce))],
        }),
    );
    n.packets(s5);
    n.subscribe(s3, &[("t/#", QoS::AtLeastOnce)]);
    let p = n.connect("p", Version::V5, true);
    let Packet::Publish(mut m) = publish("t/x", b"hi", QoS::AtLeastOnce, 4) else {
        unreachable!()
    };
    m.props.user = vec![("k".into(), "v".into()), ("k".into(), "w".into())];
    m.props.content_type = Some("text/plain".into());
    m.props.topic_alias = Some(1);
    n.send(p, &Packet::Publish(m));
    let [Packet::Publish(got)] = &n.packets(s5)[..] else {
        panic!()
    };
    assert_eq!((got.qos, got.packet_id), (QoS::AtLeastOnce, 1));
    assert_eq!(got.props.subscription_ids, vec![7]);
    assert_eq!(got.props.content_type.as_deref(), Some("text/plain"));
    assert_eq!(got.props.user.len(), 2);
    assert_eq!(got.props.topic_alias, None);
    let [Packet::Publish(got)] = &n.packets(s3)[..] else {
        panic!()
    };
    assert_eq!(got.qos, QoS::AtLeastOnce);
    assert!(got.props.is_empty());
    // The publication's side data is gone once dispatched.
    assert!(n.listener.borrow().current.is_none());
    n.publish(b"t/y", b"pub t/y\nlater");
    let [Packet::Publish(got)] = &n.packets(s3)[..] else {
        panic!()
    };
    assert_eq!(got.qos, QoS::AtMostOnce);
}

#[test]
fn no_local_skips_own_publications() {
    let mut n = Net::new();
    let i = n.connect("c", Version::V5, true);
    let mut opts = SubOptions::qos(QoS::AtMostOnce);
    opts.no_local = true;
    n.send(
        i,
        &Packet::Subscribe(Subscribe {
            packet_id: 1,
            props: Properties::default(),
            filters: vec![("t".into(), opts)],
        }),
    );
    n.packets(i);
    n.send(i, &publish("t", b"mine", QoS::AtMostOnce, 0));
    assert!(n.out(i).is_empty());
    n.publish(b"t", b"pub t\ntheirs");
    assert_eq!(delivered(&n.packets(i)[0]).1, b"theirs");
}

#[test]
fn inflight_window_queue_and_bound() {
    let mut n = Net::with(Config {
        max_inflight: 2,
        max_queued: 1,
        ..Config::default()
    });
    let s = n.connect("s", Version::V311, true);
    n.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = n.connect("p", Version::V311, true);
    for (k, m) in [b"1", b"2", b"3", b"4"].iter().enumerate() {
        n.send(p, &publish("t", *m, QoS::AtLeastOnce, k as u16 + 1));
    }
    // Two in flight, one queued, the fourth dropped.
    let got: Vec<_> = n.packets(s).iter().map(delivered).map(|d| d.1).collect();
    assert_eq!(got, vec![b"1".to_vec(), b"2".to_vec()]);
    let session = n.listener.borrow().session("s").unwrap();
    assert_eq!(session.borrow().flight.as_ref().unwrap().dropped, 1);
    n.feed(s, b"\x40\x02\x00\x01");
    let [Packet::Publish(third)] = &n.packets(s)[..] else {
        panic!()
    };
    assert_eq!((&*third.payload, third.packet_id), (&b"3"[..], 3));
}

#[test]
fn persistent_session_redelivers_with_dup() {
    let mut n = Net::new();
    let s = n.connect("dev", Version::V311, false);
    n.subscribe(s, &[("t/#", QoS::AtLeastOnce)]);
    let p = n.connect("p", Version::V311, true);
    n.send(p, &publish("t/1", b"unacked", QoS::AtLeastOnce, 1));
    let [Packet::Publish(first)] = &n.packets(s)[..] else {
        panic!()
    };
    let id = first.packet_id;
    // The connection drops; the broker forgets its subscriptions.
    n.clients[s].closed = true;
    n.subs.retain(|(k, _)| *k != s);
    let old = n.clients.remove(s);
    drop(old);
    let s = n.clients.len();
    n.client();
    n.send(s, &connect("dev", Version::V311, false));
    let got = n.packets(s);
    assert_eq!(
        got[0],
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: 0,
            props: Properties::default()
        })
    );
    let Packet::Publish(again) = &got[1] else {
        panic!()
    };
    assert!(again.dup);
    assert_eq!((again.packet_id, &*again.payload), (id, &b"unacked"[..]));
    // Subscribed again for this connection, quietly.
    assert_eq!(n.sent(s), vec![b"sub t*\nadd".to_vec()]);
    n.publish(b"t/2", b"pub t/2\nnew");
    assert_eq!(delivered(&n.packets(s)[0]).1, b"new");
    // A clean session discards it.
    let c = n.connect("dev", Version::V311, true);
    assert!(n.sent(c).is_empty());
}

#[test]
fn clean_session_ends_with_its_connection() {
    let mut n = Net::new();
    let s = n.connect("c", Version::V5, false);
    n.send(s, &Packet::Disconnect(Reasoned::new(0)));
    assert!(n.clients[s].closed);
    let _ = n.clients.remove(s);
    assert_eq!(n.listener.borrow().sessions(), 0, "session expiry 0");
    // A non-zero expiry keeps it; DISCONNECT may not raise 0 to more.
    let i = n.client();
    let Packet::Connect(mut c) = connect("k", Version::V5, false) else {
        unreachable!()
    };
    c.props.session_expiry = Some(60);
    n.send(i, &Packet::Connect(c));
    n.out(i);
    let _ = n.clients.remove(i);
    assert_eq!(n.listener.borrow().sessions(), 1);
    let j = n.connect("z", Version::V5, true);
    n.send(
        j,
        &Packet::Disconnect(Reasoned {
            code: 0,
            props: Properties {
                session_expiry: Some(5),
                ..Properties::default()
            },
        }),
    );
    assert_eq!(n.out(j), b"\xe0\x01\x82");
}

#[test]
fn will_is_kept_unless_disconnected() {
    let mut n = Net::new();
    let with_will = |n: &mut Net, v: Version| {
        let i = n.client();
        let Packet::Connect(mut c) = connect("w", v, true) else {
            unreachable!()
        };
        c.will = Some(Will {
            topic: "dev/state".into(),
            payload: Cow::Borrowed(b"lost"),
            qos: QoS::AtLeastOnce,
            retain: true,
            props: Properties::default(),
        });
        n.send(i, &Packet::Connect(c));
        n.out(i);
        i
    };
    let i = with_will(&mut n, Version::V311);
    assert_eq!(
        n.clients[i].t.take_will(),
        Some(b"pub dev/state\nlost".to_vec())
    );
    assert_eq!(n.clients[i].t.take_will(), None);
    let i = with_will(&mut n, Version::V311);
    n.feed(i, b"\xe0\x00");
    assert_eq!(n.clients[i].t.take_will(), None);
    let i = with_will(&mut n, Version::V5);
    n.feed(i, b"\xe0\x01\x04");
    assert!(n.clients[i].t.take_will().is_some());
    // A will topic with a wildcard is refused at CONNECT.
    let i = n.client();
    let Packet::Connect(mut c) = connect("x", Version::V311, true) else {
        unreachable!()
    };
    c.will = Some(Will {
        topic: "a/#".into(),
        payload: Cow::Borrowed(b""),
        qos: QoS::AtMostOnce,
        retain: false,
        props: Properties::default(),
    });
    n.send(i, &Packet::Connect(c));
    assert_eq!(n.out(i), b"\x20\x02\x00\x03");
}

#[test]
fn topic_aliases() {
    let mut n = Net::with(Config {
        topic_alias_maximum: 2,
        ..Config::default()
    });
    let i = n.connect("a", Version::V5, true);
    n.feed(i, b"\x30\x09\x00\x01t\x03\x23\x00\x01hi");
    n.feed(i, b"\x30\x06\x00\x00\x03\x23\x00\x01");
    assert_eq!(n.sent(i), vec![b"pub t\nhi".to_vec(), b"pub t\n".to_vec()]);
    // An alias never set, then one over the maximum.
    n.feed(i, b"\x30\x06\x00\x00\x03\x23\x00\x02");
    assert_eq!(n.out(i), b"\xe0\x01\x82");
    let j = n.connect("b", Version::V5, true);
    n.feed(j, b"\x30\x06\x00\x00\x03\x23\x00\x03");
    assert_eq!(n.out(j), b"\xe0\x01\x94");
}

#[test]
fn publish_topic_rules() {
    let mut n = Net::new();
    let i = n.connect("a", Version::V5, true);
    n.feed(i, b"\x30\x06\x00\x03a/+\x00");
    assert_eq!(n.out(i), b"\xe0\x01\x90");
    // A subscription identifier from a client is a protocol error.
    let j = n.connect("b", Version::V5, true);
    n.feed(j, b"\x30\x06\x00\x01t\x02\x0b\x01");
    assert_eq!(n.out(j), b"\xe0\x01\x82");
}

#[test]
fn unsubscribe_tells_the_broker_only_when_a_pattern_is_unused() {
    let mut n = Net::new();
    let i = n.connect("u", Version::V5, true);
    n.subscribe(i, &[("a/+", QoS::AtMostOnce), ("a/*", QoS::AtMostOnce)]);
    n.sent(i);
    n.send(
        i,
        &Packet::Unsubscribe(Unsubscribe {
            packet_id: 2,
            props: Properties::default(),
            filters: vec!["a/+".into(), "nope".into()],
        }),
    );
    assert!(n.sent(i).is_empty());
    let unsuback = |codes: &[u8]| {
        Packet::UnsubAck(SubAck {
            packet_id: 2,
            props: Properties::default(),
            codes: codes.to_vec(),
        })
    };
    assert_eq!(
        n.packets(i),
        vec![unsuback(&[0, reason::NO_SUBSCRIPTION_EXISTED])]
    );
    n.send(
        i,
        &Packet::Unsubscribe(Unsubscribe {
            packet_id: 2,
            props: Properties::default(),
            filters: vec!["a/*".into()],
        }),
    );
    assert_eq!(n.sent(i), vec![b"unsubscribe a/*\n".to_vec()]);
    assert_eq!(n.packets(i), vec![unsuback(&[0])]);
    n.publish(b"a/b", b"pub a/b\nx");
    assert!(n.out(i).is_empty());
}

#[test]
fn takeover_closes_the_older_connection() {
    let mut n = Net::new();
    let old = n.connect("same", Version::V5, false);
    n.subscribe(old, &[("t", QoS::AtMostOnce)]);
    let new = n.connect("same", Version::V5, false);
    assert!(n.clients[old].t.taken_over());
    // The old one gets nothing more and ends at its next input.
    n.publish(b"t", b"pub t\nx");
    assert!(n.out(old).is_empty());
    assert_eq!(delivered(&n.packets(new)[0]).1, b"x");
    n.feed(old, b"\xc0\x00");
    assert_eq!(n.out(old), b"\xe0\x01\x8e");
    assert!(n.clients[old].closed);
    // Its end leaves the session with the new connection.
    let _ = n.clients.remove(old);
    let s = n.listener.borrow().session("same").unwrap();
    assert_ne!(s.borrow().owner, 0);
}

#[test]
fn malformed_and_oversized_input_after_connect() {
    let mut n = Net::with(Config {
        max_packet: 64,
        ..Config::default()
    });
    let i = n.connect("a", Version::V5, true);
    n.feed(i, b"\x30\x80\x01");
    assert_eq!(n.out(i), b"\xe0\x01\x95");
    let j = n.connect("b", Version::V5, true);
    n.feed(j, b"\x36");
    assert_eq!(n.out(j), b"\xe0\x01\x81");
    let k = n.connect("c", Version::V311, true);
    n.feed(k, b"\x30\xff\xff\xff\xff");
    assert!(n.out(k).is_empty() && n.clients[k].closed);
    // A second CONNECT.
    let l = n.connect("d", Version::V5, true);
    n.send(l, &connect("d", Version::V5, true));
    assert_eq!(n.out(l), b"\xe0\x01\x82");
}

#[test]
fn client_maximum_packet_size_drops_larger_deliveries() {
    let mut n = Net::new();
    let i = n.client();
    let Packet::Connect(mut c) = connect("small", Version::V5, true) else {
        unreachable!()
    };
    c.props.maximum_packet_size = Some(16);
    n.send(i, &Packet::Connect(c));
    n.out(i);
    n.subscribe(i, &[("t", QoS::AtMostOnce)]);
    n.publish(b"t", b"pub t\nthis payload is too long");
    n.publish(b"t", b"pub t\nfits");
    let got: Vec<_> = n.packets(i).iter().map(delivered).map(|d| d.1).collect();
    assert_eq!(got, vec![b"fits".to_vec()]);
}

#[test]
fn ping_and_stray_acks() {
    let mut n = Net::new();
    let i = n.connect("a", Version::V311, true);
    n.feed(i, b"\xc0\x00");
    assert_eq!(n.out(i), b"\xd0\x00");
    // PUBACK for nothing in flight: ignored; PUBREC: released anyway (the
    // 3.1.1 PUBREL has no room for 0x92).
    n.feed(i, b"\x40\x02\x00\x33");
    assert!(n.out(i).is_empty());
    n.feed(i, b"\x50\x02\x00\x33");
    assert_eq!(n.out(i), b"\x62\x02\x00\x33");
    // A SUBACK from a client is a protocol error.
    n.feed(i, b"\x90\x03\x00\x01\x00");
    assert!(n.clients[i].closed);
}

#[test]
fn display_names_are_safe_in_listings() {
    assert_eq!(&*display_name("sensor-1"), "MQTT[sensor-1]");
    assert_eq!(&*display_name("a,b:c [d]\né"), "MQTT[a_b_c__d___]");
    assert_eq!(display_name(&"x".repeat(100)).len(), 64 + 6);
}

#[test]
fn frame_len_is_the_packet_size() {
    let n = Net::new();
    let t = MqttServer::new(Rc::new(n.cfg.clone()), Rc::clone(&n.listener));
    assert_eq!(t.frame_len(b"\x30\x80\x01"), Some(3 + 128));
    assert_eq!(t.frame_len(b"\x30"), None);
    assert_eq!(t.frame_len(b"\x00"), None);
}

#[test]
fn puback_goes_out_before_the_publishers_own_copy() {
    let mut n = Net::new();
    let i = n.connect("self", Version::V311, true);
    n.subscribe(i, &[("t", QoS::AtLeastOnce)]);
    n.send(i, &publish("t", b"x", QoS::AtLeastOnce, 8));
    let got = n.packets(i);
    assert_eq!(got[0], Packet::PubAck(Ack::new(8)));
    let (topic, payload, qos, _) = delivered(&got[1]);
    assert_eq!(
        (&topic[..], &payload[..], qos),
        ("t", &b"x"[..], QoS::AtLeastOnce)
    );
    assert_eq!(got.len(), 2);
}

#[test]
fn shared_subscriptions_take_turns() {
    let mut n = Net::new();
    let members: Vec<usize> = ["m1", "m2", "m3"]
        .iter()
        .map(|id| {
            let i = n.connect(id, Version::V5, true);
            assert_eq!(
                n.subscribe(i, &[("$share/g/jobs/+", QoS::AtLeastOnce)]),
                vec![suback(&[1])]
            );
            i
        })
        .collect();
    // A plain subscriber of the same filter gets everything.
    let all = n.connect("all", Version::V311, true);
    n.subscribe(all, &[("jobs/+", QoS::AtMostOnce)]);
    for k in 0..6 {
        n.publish(b"jobs/x", format!("pub jobs/x\n{k}").as_bytes());
    }
    let got: Vec<Vec<u8>> = members
        .iter()
        .map(|&i| n.packets(i).iter().map(|p| delivered(p).1[0]).collect())
        .collect();
    assert_eq!(got, vec![b"03".to_vec(), b"14".to_vec(), b"25".to_vec()]);
    assert_eq!(n.packets(all).len(), 6);
    // One leaves: the other two share what follows.
    n.send(
        members[0],
        &Packet::Unsubscribe(Unsubscribe {
            packet_id: 3,
            props: Properties::default(),
            filters: vec!["$share/g/jobs/+".into()],
        }),
    );
    n.packets(members[0]);
    for k in 6..10 {
        n.publish(b"jobs/x", format!("pub jobs/x\n{k}").as_bytes());
    }
    assert!(n.out(members[0]).is_empty());
    let a = n.packets(members[1]).len();
    let b = n.packets(members[2]).len();
    assert_eq!((a, b), (2, 2));
    // No retained messages for a shared subscription.
    let late = n.connect("late", Version::V5, true);
    n.subscribe(late, &[("$share/g/jobs/+", QoS::AtMostOnce)]);
    assert!(n.sent(late).iter().all(|m| !m.ends_with(b"last")));
}

#[test]
fn a_will_is_published_at_its_qos_and_stored_only_if_retained() {
    let mut n = Net::new();
    let s = n.connect("s", Version::V5, true);
    n.subscribe(s, &[("dev/#", QoS::AtLeastOnce)]);
    let w = n.client();
    let Packet::Connect(mut c) = connect("w", Version::V5, true) else {
        unreachable!()
    };
    c.will = Some(Will {
        topic: "dev/w".into(),
        payload: Cow::Borrowed(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        props: Properties {
            user: vec![("why".into(), "lost".into())],
            ..Properties::default()
        },
    });
    n.send(w, &Packet::Connect(c));
    n.out(w);
    // As the reactor does on an abnormal close: dispatch the last words.
    let words = n.clients[w].t.last_words().unwrap();
    assert_eq!(n.clients[w].t.last_message(), LastMessage::Skip);
    n.dispatch(w, &words);
    let c = &mut n.clients[w];
    c.t.after_dispatch(&mut c.out);
    let [Packet::Publish(p)] = &n.packets(s)[..] else {
        panic!()
    };
    assert_eq!(
        (&*p.topic, &*p.payload, p.qos),
        ("dev/w", &b"gone"[..], QoS::AtLeastOnce)
    );
    assert_eq!(p.props.user.len(), 1);
    assert_eq!(n.last.get(&b"dev/w"[..]), None);
    assert!(n.listener.borrow().current.is_none());
    assert_eq!(n.clients[w].t.last_words(), None);
}

#[test]
fn idle_timeout_is_one_and_a_half_keep_alives() {
    let mut n = Net::new();
    let i = n.client();
    assert_eq!(n.clients[i].t.idle_timeout(), None);
    n.send(i, &connect("k", Version::V311, true));
    assert_eq!(
        n.clients[i].t.idle_timeout(),
        Some(std::time::Duration::from_secs(45))
    );
    let j = n.client();
    let Packet::Connect(mut c) = connect("z", Version::V311, true) else {
        unreachable!()
    };
    c.keep_alive = 0;
    n.send(j, &Packet::Connect(c));
    assert_eq!(
        n.clients[j].t.idle_timeout(),
        Some(std::time::Duration::ZERO)
    );
}

#[test]
fn takeover_asks_the_server_to_close_the_listed_connection() {
    let mut n = Net::new();
    let old = n.client();
    n.clients[old].t.accepted("127.0.0.1:4000".parse().unwrap());
    n.send(old, &connect("dup", Version::V311, true));
    n.out(old);
    let new = n.client();
    n.clients[new].t.accepted("127.0.0.1:4001".parse().unwrap());
    n.send(new, &connect("dup", Version::V311, true));
    assert_eq!(
        n.sent(new),
        vec![b"unsub takeover\nMQTT[dup]:127.0.0.1:4000".to_vec()]
    );
    // A clean start discards the session, and the old connection knows.
    assert!(n.clients[old].t.taken_over());
    assert!(!n.clients[new].t.taken_over());
}

#[test]
fn a_broker_with_mqtt_levels_gets_the_filter_itself() {
    let mut n = Net::with(Config::default());
    assert_eq!(n.cfg.wildcards, BrokerWildcards::Levels);
    let i = n.connect("l", Version::V311, true);
    n.subscribe(i, &[("a/+/c", QoS::AtMostOnce), ("d/#", QoS::AtMostOnce)]);
    assert_eq!(
        n.sent(i),
        vec![
            b"sub a/+/c\nadd last".to_vec(),
            b"sub d/#\nadd last".to_vec()
        ]
    );
    n.publish(b"a/b/c", b"pub a/b/c\nx");
    n.publish(b"a/b/c/d", b"pub a/b/c/d\nnot this");
    n.publish(b"d", b"pub d\ny");
    let got: Vec<_> = n.packets(i).iter().map(|p| delivered(p).1).collect();
    assert_eq!(got, vec![b"x".to_vec(), b"y".to_vec()]);
}

/// What an idle connection holds, pinned: the connection's state (boxed by
/// the server), its session (in an `Rc<RefCell<…>>`) and one subscription
/// (docs/BENCHMARKS.md, MQTT, S4). A field that grows one of them shows
/// here first.
#[cfg(target_pointer_width = "64")]
#[test]
fn an_idle_connection_stays_small() {
    use crate::transport::mqtt::session::{Session, Sub};
    use std::mem::size_of;
    assert_eq!(size_of::<MqttServer>(), 184);
    assert_eq!(size_of::<Session>(), 96);
    assert_eq!(size_of::<Sub>(), 64);
}
