//! Tests of persistent sessions kept without a connection (park.rs):
//! offline queueing, session expiry and delayed wills, on the in-memory
//! broker of tests.rs. Times are passed in, never waited for.

use std::borrow::Cow;
use std::time::Duration;

use super::tests::{connect, delivered, publish, Net};
use super::*;
use crate::transport::mqtt::packet::{ConnAck, SubOptions, Will};

/// A persistent client `id` of version `v` (MQTT 5: session expiry
/// `expiry`), with `will` if given, subscribed to `t/#` at QoS 1.
fn persistent(
    n: &mut Net,
    id: &str,
    v: Version,
    expiry: u32,
    will: Option<Will<'static>>,
) -> usize {
    let i = n.client();
    let Packet::Connect(mut c) = connect(id, v, v == Version::V311 && expiry == 0) else {
        unreachable!()
    };
    c.clean_start = false;
    if v == Version::V5 {
        c.props.session_expiry = Some(expiry);
    }
    c.will = will;
    n.send(i, &Packet::Connect(c));
    n.out(i);
    n.subscribe(i, &[("t/#", QoS::AtLeastOnce)]);
    i
}

fn delayed_will(delay: u32) -> Will<'static> {
    Will {
        topic: "status/dev".into(),
        payload: Cow::Borrowed(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        props: Properties {
            will_delay: Some(delay),
            ..Properties::default()
        },
    }
}

/// Connects `id` again without a clean start; returns it and what it got.
fn reconnect(n: &mut Net, id: &str, v: Version) -> (usize, Vec<Packet<'static>>) {
    let i = n.client();
    n.send(i, &connect(id, v, false));
    let got = n.packets(i);
    (i, got)
}

#[test]
fn qos1_publications_are_queued_while_away_and_sent_on_return() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V311, 0, None);
    n.close(s);
    assert_eq!(n.parked.len(), 1);
    let p = n.connect("p", Version::V311, true);
    n.send(p, &publish("t/1", b"a", QoS::AtLeastOnce, 1));
    n.send(p, &publish("t/2", b"b", QoS::AtMostOnce, 0));
    // A ducq publication is QoS 0: not kept either.
    n.publish(b"t/3", b"pub t/3\nc");
    n.send(p, &publish("t/4", b"d", QoS::ExactlyOnce, 2));
    n.send(p, &publish("other", b"e", QoS::AtLeastOnce, 3));
    n.out(p);
    let (s, got) = reconnect(&mut n, "dev", Version::V311);
    assert_eq!(
        got[0],
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: 0,
            props: Properties::default()
        })
    );
    let rest: Vec<_> = got[1..].iter().map(delivered).collect();
    assert_eq!(
        rest,
        [
            ("t/1".to_string(), b"a".to_vec(), QoS::AtLeastOnce, false),
            ("t/4".to_string(), b"d".to_vec(), QoS::AtLeastOnce, false),
        ]
    );
    let Packet::Publish(first) = &got[1] else {
        unreachable!()
    };
    assert!(!first.dup, "sent for the first time");
    // Back online: the parked state lets go at the next publication, and
    // the connection gets it itself, once.
    n.send(p, &publish("t/5", b"f", QoS::AtLeastOnce, 4));
    assert!(n.parked.is_empty());
    let got: Vec<_> = n.packets(s).iter().map(delivered).collect();
    assert_eq!(
        got,
        [("t/5".to_string(), b"f".to_vec(), QoS::AtLeastOnce, false)]
    );
}

#[test]
fn the_offline_queue_is_bounded_and_counts_what_it_drops() {
    let mut n = Net::with(Config {
        max_queued: 2,
        ..Config::default()
    });
    let s = persistent(&mut n, "dev", Version::V5, 300, None);
    n.close(s);
    let p = n.connect("p", Version::V5, true);
    for (k, payload) in [b"1", b"2", b"3"].iter().enumerate() {
        n.send(p, &publish("t/x", *payload, QoS::AtLeastOnce, k as u16 + 1));
    }
    let session = n.listener.borrow().session("dev").unwrap();
    let s = session.borrow();
    let flight = s.flight.as_ref().unwrap();
    assert_eq!((flight.queued.len(), flight.dropped), (2, 1));
    drop(s);
    let (_, got) = reconnect(&mut n, "dev", Version::V5);
    let payloads: Vec<_> = got[1..].iter().map(|p| delivered(p).1).collect();
    assert_eq!(payloads, [b"1".to_vec(), b"2".to_vec()]);
}

/// A QoS 1 MQTT 5 publication to `topic` with a Message Expiry Interval.
fn expiring(topic: &str, payload: &[u8], id: u16, expiry: Option<u32>) -> Packet<'static> {
    let Packet::Publish(mut p) = publish(topic, payload, QoS::AtLeastOnce, id) else {
        unreachable!()
    };
    p.props.message_expiry = expiry;
    Packet::Publish(p)
}

#[test]
fn queued_messages_expire_while_they_wait() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V5, 300, None);
    n.close(s);
    let p = n.connect("p", Version::V5, true);
    n.send(p, &expiring("t/short", b"a", 1, Some(5)));
    n.send(p, &expiring("t/long", b"b", 2, Some(100)));
    n.send(p, &expiring("t/none", b"c", 3, None));
    let queued = |n: &Net| -> Vec<String> {
        let s = n.listener.borrow().session("dev").unwrap();
        let s = s.borrow();
        let f = s.flight.as_ref().unwrap();
        f.queued.iter().map(|o| o.topic.clone()).collect()
    };
    n.advance(4900);
    let (_, parked) = &mut n.parked[0];
    assert!(parked.alive(Duration::from_millis(4900)));
    assert_eq!(queued(&n), ["t/short", "t/long", "t/none"]);
    n.advance(100);
    let (_, parked) = &mut n.parked[0];
    assert!(parked.alive(Duration::from_secs(5)));
    assert_eq!(queued(&n), ["t/long", "t/none"], "the first ran out");
    // 5.4 s waited: what is left of 100 s, rounded up, is sent.
    n.advance(400);
    let (_, got) = reconnect(&mut n, "dev", Version::V5);
    let sent: Vec<_> = got[1..]
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => (p.topic.to_string(), p.props.message_expiry),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("t/long".to_string(), Some(95)),
            ("t/none".to_string(), None)
        ]
    );
}

/// What `got` holds as (topic, DUP, Message Expiry Interval) per PUBLISH.
fn expiries(got: &[Packet<'_>]) -> Vec<(String, bool, Option<u32>)> {
    got.iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some((p.topic.to_string(), p.dup, p.props.message_expiry)),
            _ => None,
        })
        .collect()
}

#[test]
fn expiry_counts_behind_the_window_and_for_resends_with_dup() {
    let mut n = Net::with(Config {
        max_inflight: 2,
        ..Config::default()
    });
    let s = persistent(&mut n, "dev", Version::V5, 300, None);
    let p = n.connect("p", Version::V5, true);
    n.send(p, &expiring("t/a", b"a", 1, Some(10)));
    n.send(p, &expiring("t/b", b"b", 2, Some(100)));
    n.send(p, &expiring("t/c", b"c", 3, Some(10)));
    // Two in flight at once, the third waits for the window.
    let got = n.packets(s);
    assert_eq!(
        expiries(&got),
        [
            ("t/a".to_string(), false, Some(10)),
            ("t/b".to_string(), false, Some(100))
        ]
    );
    let Packet::Publish(a) = &got[0] else {
        unreachable!()
    };
    // 4 s later t/a is acknowledged: t/c goes out with what is left.
    n.advance(4000);
    n.send(s, &Packet::PubAck(Ack::new(a.packet_id)));
    assert_eq!(
        expiries(&n.packets(s)),
        [("t/c".to_string(), false, Some(6))]
    );
    // The connection drops with t/b and t/c unacknowledged; 12 s after
    // they came, t/c has expired in flight: only t/b is sent again, DUP
    // set, with 88 s left.
    n.close(s);
    n.advance(8000);
    let (_, got) = reconnect(&mut n, "dev", Version::V5);
    assert_eq!(expiries(&got), [("t/b".to_string(), true, Some(88))]);
    let session = n.listener.borrow().session("dev").unwrap();
    assert_eq!(session.borrow().inflight().count(), 1);
}

#[test]
fn a_message_that_expires_behind_the_window_is_not_sent() {
    let mut n = Net::with(Config {
        max_inflight: 1,
        ..Config::default()
    });
    let s = persistent(&mut n, "dev", Version::V5, 300, None);
    let p = n.connect("p", Version::V5, true);
    n.send(p, &expiring("t/a", b"a", 1, None));
    n.send(p, &expiring("t/b", b"b", 2, Some(3)));
    n.send(p, &expiring("t/c", b"c", 3, Some(30)));
    let got = n.packets(s);
    let Packet::Publish(a) = &got[0] else {
        panic!("{got:?}")
    };
    n.advance(3000);
    n.send(s, &Packet::PubAck(Ack::new(a.packet_id)));
    assert_eq!(
        expiries(&n.packets(s)),
        [("t/c".to_string(), false, Some(27))]
    );
}

#[test]
fn a_clean_session_and_a_taken_over_one_are_not_parked() {
    let mut n = Net::new();
    let c = n.connect("clean", Version::V311, true);
    n.close(c);
    let old = persistent(&mut n, "dev", Version::V311, 0, None);
    let _new = n.connect("dev", Version::V311, false);
    n.close(old);
    assert!(n.parked.is_empty());
    assert_eq!(n.listener.borrow().sessions(), 1, "only the new owner's");
}

#[test]
fn a_clean_start_ends_the_parked_session() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V311, 0, None);
    n.close(s);
    let c = n.connect("dev", Version::V311, true);
    n.close(c);
    assert!(!n.parked[0].1.alive(Duration::ZERO));
}

#[test]
fn session_expiry_drops_a_parked_session() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V5, 10, None);
    n.close(s);
    let (_, parked) = &mut n.parked[0];
    assert!(parked.alive(Duration::from_secs(9)));
    assert!(n.listener.borrow().session("dev").is_some());
    let (_, parked) = &mut n.parked[0];
    assert!(!parked.alive(Duration::from_secs(10)));
    assert!(n.listener.borrow().session("dev").is_none());
    let (_, got) = reconnect(&mut n, "dev", Version::V5);
    let Packet::ConnAck(a) = &got[0] else {
        panic!("{got:?}")
    };
    assert!(!a.session_present);
    // 0xFFFFFFFF never expires; a 3.1.1 persistent session neither.
    let mut n = Net::new();
    let s = persistent(&mut n, "forever", Version::V5, u32::MAX, None);
    n.close(s);
    let s = persistent(&mut n, "old", Version::V311, 0, None);
    n.close(s);
    let year = Duration::from_secs(365 * 86400);
    assert!(n.parked.iter_mut().all(|(_, p)| p.alive(year)));
}

#[test]
fn a_delayed_will_waits_for_its_delay() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V5, 60, Some(delayed_will(5)));
    n.close(s);
    assert_eq!(
        n.clients[s].t.last_words(),
        None,
        "it went with the session"
    );
    let (_, parked) = &mut n.parked[0];
    assert_eq!(parked.due(Duration::from_secs(4)), None);
    let (msg, rule) = parked.due(Duration::from_secs(5)).unwrap();
    assert_eq!(msg, b"pub status/dev\ngone");
    assert_eq!(rule, LastMessage::Skip);
    // Subscribers get it at its QoS while it is dispatched.
    let current = n.listener.borrow().current.clone().unwrap();
    assert!(current.is(&msg) && current.qos == QoS::AtLeastOnce);
    let (_, parked) = &mut n.parked[0];
    parked.dispatched();
    assert!(n.listener.borrow().current.is_none());
    let (_, parked) = &mut n.parked[0];
    assert_eq!(parked.due(Duration::from_secs(6)), None, "once");
    assert!(parked.alive(Duration::from_secs(6)), "the session stays");
}

#[test]
fn a_delayed_will_is_published_when_the_session_ends_first() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V5, 2, Some(delayed_will(5)));
    n.close(s);
    let (_, parked) = &mut n.parked[0];
    assert!(parked.due(Duration::from_secs(2)).is_some());
    assert!(!parked.alive(Duration::from_secs(2)));
}

#[test]
fn a_delayed_will_is_dropped_when_the_client_comes_back_in_time() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V5, 60, Some(delayed_will(5)));
    n.close(s);
    reconnect(&mut n, "dev", Version::V5);
    let (_, parked) = &mut n.parked[0];
    assert_eq!(parked.due(Duration::from_secs(5)), None);
    assert!(!parked.alive(Duration::from_secs(5)));
}

#[test]
fn a_clean_start_ends_the_session_and_sends_its_delayed_will() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V5, 60, Some(delayed_will(5)));
    n.close(s);
    n.connect("dev", Version::V5, true);
    let (_, parked) = &mut n.parked[0];
    assert_eq!(
        parked.due(Duration::from_secs(1)).map(|(m, _)| m),
        Some(b"pub status/dev\ngone".to_vec())
    );
    assert!(!parked.alive(Duration::from_secs(1)));
}

#[test]
fn without_a_delay_or_a_session_the_will_goes_at_once() {
    let mut n = Net::new();
    // Session expiry 0: the session ends with the connection.
    let s = persistent(&mut n, "dev", Version::V5, 0, Some(delayed_will(5)));
    n.close(s);
    assert!(n.parked.is_empty());
    assert_eq!(
        n.clients[s].t.last_words(),
        Some(b"pub status/dev\ngone".to_vec())
    );
    let s = persistent(&mut n, "dev2", Version::V5, 60, Some(delayed_will(0)));
    n.close(s);
    assert!(n.clients[s].t.last_words().is_some());
}

#[test]
fn a_session_parked_again_before_any_publication_queues_each_message_once() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V311, 0, None);
    n.close(s);
    // Back and gone again before anything was published: the first
    // parked state never heard that the session was taken back.
    let (s, _) = reconnect(&mut n, "dev", Version::V311);
    n.close(s);
    let p = n.connect("p", Version::V311, true);
    n.send(p, &publish("t/1", b"a", QoS::AtLeastOnce, 1));
    n.out(p);
    let (_, got) = reconnect(&mut n, "dev", Version::V311);
    let rest: Vec<_> = got[1..].iter().map(delivered).collect();
    assert_eq!(
        rest,
        [("t/1".to_string(), b"a".to_vec(), QoS::AtLeastOnce, false)]
    );
}

#[test]
fn a_delayed_will_stays_cancelled_when_the_client_comes_back_and_leaves_again() {
    let mut n = Net::new();
    let s = persistent(&mut n, "dev", Version::V5, 60, Some(delayed_will(5)));
    n.close(s);
    // Back in time, then gone again (without a will) before the first
    // parked state was asked anything.
    let s = persistent(&mut n, "dev", Version::V5, 60, None);
    n.close(s);
    assert_eq!(n.parked.len(), 2);
    let (_, first) = &mut n.parked[0];
    assert_eq!(first.due(Duration::from_secs(5)), None);
    assert!(!first.alive(Duration::from_secs(5)));
    // The session's new detach has its own parked state, which keeps it.
    let (_, second) = &mut n.parked[1];
    assert_eq!(second.due(Duration::from_secs(5)), None);
    assert!(second.alive(Duration::from_secs(5)));
}

/// The record of `key` among what the durable listener of `n` has to
/// write now: Some(bytes) kept, None deleted; absent when unchanged.
fn written(n: &Net, key: &str) -> Option<Option<Vec<u8>>> {
    let sessions = crate::transport::mqtt::Sessions(Rc::clone(&n.listener), Rc::default());
    sessions
        .take_records()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, bytes)| bytes)
}

#[test]
fn a_durable_listener_writes_a_waiting_will_until_it_goes() {
    let mut n = Net::new();
    n.listener.borrow_mut().set_durable(true);
    let s = persistent(&mut n, "dev", Version::V5, 60, Some(delayed_will(5)));
    n.close(s);
    let rec = written(&n, "dev").expect("written").expect("kept");
    let saved = crate::transport::mqtt::record::decode(&rec).unwrap();
    assert_eq!(saved.will.as_deref(), Some(&delayed_will(5)));
    // Sent once its delay passed: written again, without it.
    let (_, parked) = &mut n.parked[0];
    assert!(parked.due(Duration::from_secs(5)).is_some());
    let rec = written(&n, "dev").expect("written").expect("kept");
    assert!(crate::transport::mqtt::record::decode(&rec)
        .unwrap()
        .will
        .is_none());

    // Taken back in time: written at once without it (nothing waits for
    // the parked state to hear of it).
    let s = persistent(&mut n, "dev2", Version::V5, 60, Some(delayed_will(5)));
    n.close(s);
    assert!(written(&n, "dev2").is_some());
    let s = persistent(&mut n, "dev2", Version::V5, 60, None);
    let rec = written(&n, "dev2").expect("written").expect("kept");
    let saved = crate::transport::mqtt::record::decode(&rec).unwrap();
    assert!(saved.will.is_none() && saved.detached_ms == 0);
    // A will that goes at once (no delay) is never written.
    n.close(s);
    let s = persistent(&mut n, "dev3", Version::V5, 60, Some(delayed_will(0)));
    n.close(s);
    let rec = written(&n, "dev3").expect("written").expect("kept");
    assert!(crate::transport::mqtt::record::decode(&rec)
        .unwrap()
        .will
        .is_none());
}

/// A detached session of `user`'s client `id` (MQTT 5, session expiry
/// `expiry`, subscribed to `t/#`), detached `ago_ms` before the clock of
/// `n`, with a will delayed 10 s: its record.
fn record_with_will(n: &Net, user: Option<&str>, id: &str, expiry: u32, ago_ms: u64) -> Vec<u8> {
    let mut s = crate::transport::mqtt::session::Session::for_user(user, id);
    s.persistent = true;
    s.expiry = expiry;
    s.subs.push(crate::transport::mqtt::session::Sub {
        filter: "t/#".into(),
        share: None,
        opts: SubOptions::qos(QoS::AtLeastOnce),
        id: None,
        glob: Some("t/*".into()),
    });
    let will = delayed_will(10);
    crate::transport::mqtt::record::encode(&s, true, n.now.get() - ago_ms, Some(&will))
}

#[test]
fn a_restored_will_waits_what_is_left_of_its_delay() {
    let n = Net::new();
    n.listener.borrow_mut().set_durable(true);
    let sessions = crate::transport::mqtt::Sessions(Rc::clone(&n.listener), Rc::default());
    let rec = record_with_will(&n, Some("alice"), "dev", 60, 4_000);
    let key = "alice\0dev".to_string();
    let (mut kept, bad) = sessions.restore(Rc::new(Config::default()), vec![(key.clone(), rec)]);
    assert!(bad.is_empty());
    let (mut parked, patterns) = kept.pop().unwrap();
    assert_eq!(patterns, ["t/*"]);
    assert_eq!(parked.acts_for().as_deref(), Some("alice"));
    // Parked 4 s before the restart: 5 s more is 9, not yet 10.
    assert_eq!(parked.due(Duration::from_secs(5)), None);
    // Its record still holds the will.
    let rec = written(&n, &key).expect("written").expect("kept");
    assert!(crate::transport::mqtt::record::decode(&rec)
        .unwrap()
        .will
        .is_some());
    let (msg, _) = parked.due(Duration::from_secs(6)).expect("due");
    assert_eq!(msg, b"pub status/dev\ngone");
    assert!(parked.alive(Duration::from_secs(6)));
    let rec = written(&n, &key).expect("written").expect("kept");
    assert!(crate::transport::mqtt::record::decode(&rec)
        .unwrap()
        .will
        .is_none());
}

#[test]
fn the_will_of_a_session_that_expired_while_the_server_was_down_goes_at_once() {
    let n = Net::new();
    n.listener.borrow_mut().set_durable(true);
    let sessions = crate::transport::mqtt::Sessions(Rc::clone(&n.listener), Rc::default());
    // Session expiry 2 s, detached 3 s before: ended while down, its
    // will (delay 10 s) due with it.
    let rec = record_with_will(&n, None, "gone", 2, 3_000);
    let (mut kept, _) = sessions.restore(Rc::new(Config::default()), vec![("gone".into(), rec)]);
    let (mut parked, patterns) = kept.pop().unwrap();
    assert!(patterns.is_empty());
    assert_eq!(parked.acts_for(), None);
    assert_eq!(written(&n, "gone"), Some(None));
    let (msg, _) = parked.due(Duration::ZERO).expect("due");
    assert_eq!(msg, b"pub status/dev\ngone");
    assert!(!parked.alive(Duration::ZERO));
    assert!(n.listener.borrow().session("gone").is_none());
    // Without a will, nothing is parked for it.
    let mut s = crate::transport::mqtt::session::Session::new("bare");
    s.persistent = true;
    s.expiry = 2;
    let rec = crate::transport::mqtt::record::encode(&s, true, n.now.get() - 3_000, None);
    let (kept, _) = sessions.restore(Rc::new(Config::default()), vec![("bare".into(), rec)]);
    assert!(kept.is_empty());
}
