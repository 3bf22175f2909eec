//! Unit tests of repeated publications on a hub driven by hand
//! (`repeat.rs`, `batch.rs`): every kind of subscriber gets each
//! publication of a run once and in order, whatever the arena does, and a
//! run follows subscriptions a close hands to a parked session.

use super::super::tests::{connect, frame, hub, read_now, sink, tcp, Events, Keeper, Sink};
use super::super::Hub;
use crate::server::Dispatcher;
use crate::transport::tcp::TcpCodec;
use crate::transport::LastMessage;
use mio::net::UnixStream;

/// Dispatches `first` from `p` as the reactor does while reading `p`'s
/// input: the publication that starts a run.
fn start_run(hub: &mut Hub, p: usize, first: &[u8]) {
    hub.feeding = Some(p);
    Dispatcher::new().dispatch(hub, p, first);
}

/// Publishes `msgs` from `p` as one run: the first dispatched, the rest
/// repeats (each must be taken as one), then the run ended.
fn run(hub: &mut Hub, p: usize, msgs: &[Vec<u8>]) {
    let (first, rest) = msgs.split_first().unwrap();
    start_run(hub, p, first);
    for m in rest {
        assert!(hub.repeat_publication(p, m), "not a repeat");
    }
    hub.end_repeat();
    hub.feeding = None;
}

/// Everything written to `peer` until it holds `want` bytes.
fn read_all(hub: &mut Hub, peer: &mut UnixStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    for _ in 0..10_000 {
        hub.flush_dirty();
        got.extend(read_now(peer));
        if got.len() >= want {
            break;
        }
    }
    got
}

fn framed(msgs: &[Vec<u8>]) -> Vec<u8> {
    msgs.iter().flat_map(|m| frame(m)).collect()
}

#[test]
fn every_kind_of_subscriber_gets_each_publication_once_in_order() {
    let (mut hub, _poll) = hub();
    let events = Events::default();
    let (p, mut pp) = tcp(&mut hub);
    // Two of a shared encoding, one matched by two patterns; one codec
    // without a shared encoding; one session parked before the run.
    let (a, mut pa) = tcp(&mut hub);
    let (b, mut pb) = tcp(&mut hub);
    let (k, mut pk) = connect(
        &mut hub,
        Box::new(Keeper::<Sink>(TcpCodec::new(1 << 20), None)),
    );
    let (s, _ps) = connect(
        &mut hub,
        Box::new(Keeper(TcpCodec::new(1 << 20), Some(sink("s", &events, 99)))),
    );
    for (key, pattern) in [(a, "r/x"), (b, "r/x"), (b, "r/#"), (k, "r/+"), (s, "#")] {
        hub.subs.subscribe(key, pattern.as_bytes(), true);
    }
    hub.close(s, "parked");
    let msgs: Vec<Vec<u8>> = (0..20)
        .map(|i| format!("pub r/x\n{i}").into_bytes())
        .collect();
    run(&mut hub, p, &msgs);

    let want = framed(&msgs);
    for peer in [&mut pa, &mut pb, &mut pk] {
        assert!(read_all(&mut hub, peer, want.len()) == want);
    }
    assert_eq!(read_all(&mut hub, &mut pp, 100), frame(b"ACK").repeat(20));
    let seen = events.borrow();
    assert_eq!(seen.len(), 20, "{seen:?}");
    for (i, e) in seen.iter().enumerate() {
        assert!(e.starts_with(&format!("s:pub r/x\n{i}#")), "{e}");
    }
    assert_eq!(hub.metrics.publications, 20);
    // Parked sessions keep what they get; deliveries count connections.
    assert_eq!(hub.metrics.deliveries, 60);
}

#[test]
fn a_run_longer_than_an_arena_reaches_its_subscribers_whole() {
    // 1 000 deliveries of 110 bytes fill more than one 64 KiB arena: the
    // change of arena queues what the first one held. (Within what a Unix
    // socket takes at once: no reactor here to wait for it to drain.)
    let (mut hub, _poll) = hub();
    let (p, _pp) = tcp(&mut hub);
    let (a, mut pa) = tcp(&mut hub);
    hub.subs.subscribe(a, b"r", true);
    let msgs: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("pub r\n{i:0>100}").into_bytes())
        .collect();
    run(&mut hub, p, &msgs);
    let want = framed(&msgs);
    let got = read_all(&mut hub, &mut pa, want.len());
    let differ = got.iter().zip(&want).position(|(g, w)| g != w);
    assert_eq!((got.len(), differ), (want.len(), None));
}

#[test]
fn a_run_looks_its_subscribers_up_again_after_a_close_parks_one() {
    // A subscriber cut off mid-run whose protocol parks its session: the
    // rest of the run goes to the parked session, as `fan_out` would.
    let (mut hub, _poll) = hub();
    let events = Events::default();
    let (p, mut pp) = tcp(&mut hub);
    let (s, _ps) = connect(
        &mut hub,
        Box::new(Keeper(TcpCodec::new(1 << 20), Some(sink("s", &events, 9)))),
    );
    hub.subs.subscribe(s, b"r", true);
    start_run(&mut hub, p, b"pub r\n1");
    assert!(hub.repeat_publication(p, b"pub r\n2"));
    hub.close(s, "gone");
    assert!(hub.repeat_publication(p, b"pub r\n3"));
    assert!(!hub.repeat_publication(p, b"pub q\n4"), "another head");
    hub.end_repeat();
    let seen = events.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].starts_with("s:pub r\n3#"), "{seen:?}");
    assert_eq!(hub.last.matching_counted(b"r"), [(&b"pub r\n3"[..], 3)]);
    hub.flush_dirty();
    assert_eq!(read_now(&mut pp), frame(b"ACK").repeat(3));
}

#[test]
fn a_closing_subscriber_gets_nothing_and_counts_for_nothing() {
    let (mut hub, _poll) = hub();
    let (p, _pp) = tcp(&mut hub);
    let (a, mut pa) = tcp(&mut hub);
    let (x, mut px) = tcp(&mut hub);
    hub.subs.subscribe(a, b"r", true);
    hub.subs.subscribe(x, b"r", true);
    hub.close(x, "going");
    let msgs: Vec<Vec<u8>> = (0..5).map(|i| format!("pub r\n{i}").into_bytes()).collect();
    run(&mut hub, p, &msgs);
    let want = framed(&msgs);
    assert!(read_all(&mut hub, &mut pa, want.len()) == want);
    assert_eq!(read_now(&mut px), b"");
    assert_eq!(hub.metrics.deliveries, 5);
}

#[test]
fn without_its_arena_a_run_delivers_through_each_codec() {
    // The arena held by someone else (never so in a server: a guard): a
    // run's publications still reach every subscriber, in order.
    let (mut hub, _poll) = hub();
    let (p, _pp) = tcp(&mut hub);
    let (a, mut pa) = tcp(&mut hub);
    let (b, mut pb) = tcp(&mut hub);
    hub.subs.subscribe(a, b"r", true);
    hub.subs.subscribe(b, b"r", true);
    let msgs: Vec<Vec<u8>> = (0..6).map(|i| format!("pub r\n{i}").into_bytes()).collect();
    start_run(&mut hub, p, &msgs[0]);
    assert!(hub.repeat_publication(p, &msgs[1]));
    let arena = hub.fan.arenas[0].clone().unwrap();
    let guard = arena.borrow();
    for m in &msgs[2..5] {
        assert!(hub.repeat_publication(p, m));
    }
    drop(guard);
    assert!(hub.repeat_publication(p, &msgs[5]));
    hub.end_repeat();
    let want = framed(&msgs);
    assert!(read_all(&mut hub, &mut pa, want.len()) == want);
    assert!(read_all(&mut hub, &mut pb, want.len()) == want);
    assert_eq!(hub.metrics.deliveries, 12);
}

#[test]
fn a_subscriber_written_to_mid_run_is_written_to_again_at_its_end() {
    // What the run queues after a flush marks the subscriber for the next.
    let (mut hub, _poll) = hub();
    let (p, _pp) = tcp(&mut hub);
    let (a, mut pa) = tcp(&mut hub);
    hub.subs.subscribe(a, b"r", true);
    let msgs: Vec<Vec<u8>> = (0..4).map(|i| format!("pub r\n{i}").into_bytes()).collect();
    start_run(&mut hub, p, &msgs[0]);
    assert!(hub.repeat_publication(p, &msgs[1]));
    hub.batch_flush();
    hub.flush_dirty();
    assert!(read_now(&mut pa) == framed(&msgs[..2]));
    assert!(hub.repeat_publication(p, &msgs[2]));
    assert!(hub.repeat_publication(p, &msgs[3]));
    hub.end_repeat();
    hub.flush_dirty();
    assert!(read_now(&mut pa) == framed(&msgs[2..]));
}

#[test]
fn a_message_its_codec_flags_is_no_repeat() {
    // What the codec says of the message being dispatched (no store, its
    // own request) takes the full path, as for any codec that says so.
    let (mut hub, _poll) = hub();
    let (p, _pp) = tcp(&mut hub);
    start_run(&mut hub, p, b"pub r\n1");
    hub.last_rule = LastMessage::Skip;
    assert!(!hub.repeat_publication(p, b"pub r\n2"));
    hub.last_rule = LastMessage::Store;
    hub.own_request = true;
    assert!(!hub.repeat_publication(p, b"pub r\n3"));
    hub.own_request = false;
    assert!(hub.repeat_publication(p, b"pub r\n4"));
    assert!(
        !hub.repeat_publication(p + 1, b"pub r\n5"),
        "another caller"
    );
}
