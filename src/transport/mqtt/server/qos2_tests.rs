//! Tests of outgoing QoS 2 (PUBLISH, PUBREC → PUBREL, PUBCOMP) on the
//! in-memory broker of tests.rs, bytes exact where they matter.

use super::tests::{connect, delivered, publish, Net};
use super::*;
use crate::transport::mqtt::packet::Publish;

/// A subscriber `id` (clean session `clean`) to `t/#` at `qos`, and a
/// publisher; returns both.
fn pair(n: &mut Net, id: &str, clean: bool, qos: QoS) -> (usize, usize) {
    let s = n.client();
    n.send(s, &connect(id, Version::V311, clean));
    n.out(s);
    n.subscribe(s, &[("t/#", qos)]);
    let p = n.connect("p", Version::V5, true);
    (s, p)
}

fn only_publish(n: &mut Net, i: usize) -> Publish<'static> {
    match n.packets(i).pop() {
        Some(Packet::Publish(p)) => p,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_qos2_publication_reaches_a_qos2_subscription_exactly_once() {
    let mut n = Net::new();
    let (s, p) = pair(&mut n, "s", true, QoS::ExactlyOnce);
    n.send(p, &publish("t/1", b"x", QoS::ExactlyOnce, 9));
    let got = only_publish(&mut n, s);
    assert_eq!(
        (got.qos, got.dup, &*got.payload),
        (QoS::ExactlyOnce, false, &b"x"[..])
    );
    let id = got.packet_id.to_be_bytes();
    // PUBREC → PUBREL (3.1.1: flags 0010), a repeated PUBREC → PUBREL again.
    let pubrec = [0x50, 2, id[0], id[1]];
    n.feed(s, &pubrec);
    assert_eq!(n.out(s), [0x62, 2, id[0], id[1]]);
    n.feed(s, &pubrec);
    assert_eq!(n.out(s), [0x62, 2, id[0], id[1]]);
    let session = n.listener.borrow().session("s").unwrap();
    assert_eq!(session.borrow().inflight().count(), 1);
    // PUBCOMP ends it; a PUBACK would not have.
    n.feed(s, &[0x40, 2, id[0], id[1]]);
    assert_eq!(session.borrow().inflight().count(), 1);
    n.feed(s, &[0x70, 2, id[0], id[1]]);
    assert_eq!(session.borrow().inflight().count(), 0);
    assert!(n.out(s).is_empty());
}

#[test]
fn qos_is_the_lower_of_publication_and_subscription() {
    let mut n = Net::new();
    let (s, p) = pair(&mut n, "s", true, QoS::ExactlyOnce);
    n.send(p, &publish("t/1", b"1", QoS::AtLeastOnce, 1));
    n.send(p, &publish("t/0", b"0", QoS::AtMostOnce, 0));
    let got: Vec<_> = n.packets(s).iter().map(delivered).map(|d| d.2).collect();
    assert_eq!(got, [QoS::AtLeastOnce, QoS::AtMostOnce]);
    let (s1, p1) = pair(&mut n, "s1", true, QoS::AtLeastOnce);
    n.send(p1, &publish("t/2", b"2", QoS::ExactlyOnce, 2));
    assert_eq!(only_publish(&mut n, s1).qos, QoS::AtLeastOnce);
}

#[test]
fn a_resumed_session_publishes_unreceived_and_releases_received_ones_again() {
    let mut n = Net::new();
    let (s, p) = pair(&mut n, "dev", false, QoS::ExactlyOnce);
    n.send(p, &publish("t/a", b"a", QoS::ExactlyOnce, 1));
    n.send(p, &publish("t/b", b"b", QoS::ExactlyOnce, 2));
    let sent = n.packets(s);
    let ids: Vec<u16> = sent
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => p.packet_id,
            other => panic!("{other:?}"),
        })
        .collect();
    // The first is received (PUBREC), the second not; the connection drops.
    let a = ids[0].to_be_bytes();
    n.feed(s, &[0x50, 2, a[0], a[1]]);
    n.out(s);
    n.close(s);
    let back = n.client();
    n.send(back, &connect("dev", Version::V311, false));
    let mut got = n.packets(back).into_iter();
    assert!(matches!(got.next(), Some(Packet::ConnAck(c)) if c.session_present));
    assert_eq!(got.next(), Some(Packet::PubRel(Ack::new(ids[0]))));
    let Some(Packet::Publish(b)) = got.next() else {
        panic!()
    };
    assert_eq!(
        (b.packet_id, b.dup, b.qos),
        (ids[1], true, QoS::ExactlyOnce)
    );
    assert_eq!(got.next(), None);
}

#[test]
fn a_failed_pubrec_ends_the_delivery_and_frees_the_window() {
    let mut n = Net::with(Config {
        max_inflight: 1,
        ..Config::default()
    });
    let s = n.client();
    n.send(s, &connect("s", Version::V5, true));
    n.out(s);
    n.subscribe(s, &[("t/#", QoS::ExactlyOnce)]);
    let p = n.connect("p", Version::V5, true);
    n.send(p, &publish("t/1", b"1", QoS::ExactlyOnce, 1));
    n.send(p, &publish("t/2", b"2", QoS::ExactlyOnce, 2));
    let first = only_publish(&mut n, s);
    assert_eq!(&*first.payload, b"1", "one in flight");
    let id = first.packet_id.to_be_bytes();
    // PUBREC 0x80 (unspecified error): no PUBREL, the next one goes out.
    n.feed(s, &[0x50, 3, id[0], id[1], 0x80]);
    let next = only_publish(&mut n, s);
    assert_eq!(&*next.payload, b"2");
}
