//! Tests of one queue: staging, credit, rotation, acks, timeouts,
//! dead letters, counts.

use super::*;
use std::time::Duration;

fn cfg(visibility_ms: u64, max: u32) -> Config {
    Config {
        visibility: Duration::from_millis(visibility_ms),
        max_deliveries: max,
        dead_letter: None,
    }
}

fn filled(n: u64, t: Instant) -> Queue {
    let mut q = Queue::new(cfg(1000, 0), 1);
    for i in 0..n {
        let m = q.stage(format!("m{i}").into_bytes().into(), 0, t);
        q.confirm(m.id);
    }
    q
}

fn ids(h: &[Handout]) -> Vec<MsgId> {
    h.iter().map(|h| h.id).collect()
}

#[test]
fn staged_messages_are_invisible_until_confirmed() {
    let t = Instant::now();
    let mut q = Queue::new(Config::default(), 1);
    q.attach(7, 10);
    let a = q.stage(b"a"[..].into(), 0, t);
    let b = q.stage(b"bb"[..].into(), 0, t);
    assert_eq!((a.id, b.id), (1, 2));
    let mut out = Vec::new();
    q.pump(t, &mut out);
    assert!(out.is_empty());
    assert_eq!(q.stats(t).depth, 0);
    assert_eq!(q.bytes(), 3);
    q.unstage(b.id);
    q.confirm(a.id);
    assert_eq!(q.bytes(), 1);
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [1]);
    assert_eq!(out[0].payload.as_ref(), b"a");
    assert_eq!(out[0].deliveries, 1);
    assert_eq!(out[0].holder, Holder::Consumer(7));
    // The unstaged id is not reused.
    assert_eq!(q.stage(b"c"[..].into(), 0, t).id, 3);
}

#[test]
fn prefetch_bounds_what_a_consumer_holds() {
    let t = Instant::now();
    let mut q = filled(10, t);
    q.attach(1, 3);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [1, 2, 3]);
    assert!(!q.can_pump());
    q.ack(2, 1).unwrap();
    out.clear();
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [4]);
    // A larger prefetch takes effect at once.
    q.attach(1, 5);
    out.clear();
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [5, 6]);
    let s = q.stats(t);
    assert_eq!((s.depth, s.ready, s.in_flight, s.consumers), (9, 4, 5, 1));
}

#[test]
fn prefetch_zero_means_one() {
    let t = Instant::now();
    let mut q = filled(3, t);
    q.attach(1, 0);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [1]);
}

#[test]
fn competing_consumers_rotate_among_those_with_credit() {
    let t = Instant::now();
    let mut q = filled(10, t);
    q.attach(1, 100);
    q.attach(2, 100);
    q.attach(3, 1);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    let by = |c: ConsumerId| -> Vec<MsgId> {
        out.iter()
            .filter(|h| h.holder == Holder::Consumer(c))
            .map(|h| h.id)
            .collect()
    };
    assert_eq!(by(1), [1, 4, 6, 8, 10]);
    assert_eq!(by(2), [2, 5, 7, 9]);
    assert_eq!(by(3), [3]);
}

#[test]
fn ack_rules() {
    let t = Instant::now();
    let mut q = filled(3, t);
    q.attach(1, 1);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    // Not in flight, unknown, someone else's.
    assert_eq!(q.ack(2, 1), Err(QueueError::NotInFlight));
    assert_eq!(q.ack(99, 1), Err(QueueError::NotInFlight));
    assert_eq!(q.ack(1, 2), Err(QueueError::NotInFlight));
    let m = q.ack(1, 1).unwrap();
    assert_eq!((m.id, m.deliveries), (1, 1));
    assert_eq!(q.ack(1, 1), Err(QueueError::NotInFlight));
    // A lease is acknowledged by anyone.
    let leased = q.lease(1, t);
    assert_eq!(ids(&leased), [2]);
    assert_eq!(leased[0].holder, Holder::Lease);
    assert_eq!(q.ack(2, 42).unwrap().id, 2);
    assert_eq!(q.stats(t).depth, 1);
}

#[test]
fn visibility_timeout_redelivers_with_a_count() {
    let t = Instant::now();
    let mut q = filled(2, t);
    q.attach(1, 10);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    q.ack(2, 1).unwrap();
    assert_eq!(q.next_deadline(), Some(t + Duration::from_secs(1)));
    assert!(q.expire(t + Duration::from_millis(999)).is_empty());
    assert!(!q.can_pump());
    assert!(q.expire(t + Duration::from_secs(1)).is_empty());
    // 1 is back (2 was acknowledged: its timer is stale).
    let t2 = t + Duration::from_secs(1);
    out.clear();
    q.pump(t2, &mut out);
    assert_eq!(ids(&out), [1]);
    assert_eq!(out[0].deliveries, 2);
    // The old holder's ack of the first delivery is still its own: the
    // message is in flight to it again.
    q.ack(1, 1).unwrap();
    assert_eq!(q.stats(t2).depth, 0);
}

#[test]
fn an_expired_message_cannot_be_acked_until_handed_out_again() {
    let t = Instant::now();
    let mut q = filled(1, t);
    let leased = q.lease(5, t);
    assert_eq!(ids(&leased), [1]);
    q.expire(t + Duration::from_secs(2));
    assert_eq!(q.ack(1, 0), Err(QueueError::NotInFlight));
    assert_eq!(q.lease(5, t)[0].deliveries, 2);
}

#[test]
fn redelivered_messages_go_first() {
    let t = Instant::now();
    let mut q = filled(5, t);
    q.attach(1, 2);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [1, 2]);
    q.ack(1, 1).unwrap();
    q.detach(1);
    q.attach(2, 10);
    out.clear();
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [2, 3, 4, 5]);
    assert_eq!(out[0].deliveries, 2);
    assert_eq!(out[1].deliveries, 1);
}

#[test]
fn detach_gives_back_what_the_consumer_held() {
    let t = Instant::now();
    let mut q = filled(4, t);
    q.attach(1, 2);
    q.attach(2, 2);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [1, 2, 3, 4]);
    assert!(q.detach(1).is_empty());
    assert!(!q.is_attached(1));
    assert_eq!(q.detach(1), Vec::new());
    let s = q.stats(t);
    assert_eq!((s.ready, s.in_flight, s.consumers), (2, 2, 1));
    q.ack(2, 2).unwrap();
    out.clear();
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [1]);
    assert_eq!(out[0].holder, Holder::Consumer(2));
    // Its stale timers do nothing.
    assert!(q.expire(t + Duration::from_millis(10)).is_empty());
}

#[test]
fn max_deliveries_returns_dead_letters() {
    let t = Instant::now();
    let mut q = Queue::new(cfg(100, 2), 1);
    for p in [b"x", b"y"] {
        let m = q.stage(p[..].into(), 0, t);
        q.confirm(m.id);
    }
    q.attach(1, 1);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    assert_eq!(ids(&out), [1]);
    // Delivery 1 times out: back in the queue.
    let t1 = t + Duration::from_millis(100);
    assert!(q.expire(t1).is_empty());
    out.clear();
    q.pump(t1, &mut out);
    assert_eq!((out[0].id, out[0].deliveries), (1, 2));
    // Delivery 2 is lost with its consumer: dead.
    let dead = q.detach(1);
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id, dead[0].deliveries), (1, 2));
    assert_eq!(dead[0].payload.as_ref(), b"x");
    assert_eq!(q.stats(t1).depth, 1);
    assert_eq!(q.bytes(), 1);
    // The same through a timeout.
    let leased = q.lease(1, t1);
    assert_eq!(ids(&leased), [2]);
    assert!(q.expire(t1 + Duration::from_millis(100)).is_empty());
    q.lease(1, t1);
    let dead = q.expire(t1 + Duration::from_millis(200));
    assert_eq!(ids_of(&dead), [2]);
    assert_eq!(q.stats(t1).depth, 0);
    assert_eq!(q.bytes(), 0);
}

fn ids_of(m: &[Stored]) -> Vec<MsgId> {
    m.iter().map(|m| m.id).collect()
}

#[test]
fn take_removes_without_ack() {
    let t = Instant::now();
    let mut q = filled(3, t);
    let taken = q.take(2);
    assert_eq!(ids_of(&taken), [1, 2]);
    assert_eq!(taken[0].deliveries, 1);
    assert_eq!(q.stats(t).depth, 1);
    assert_eq!(q.take(5).len(), 1);
    assert!(q.take(5).is_empty());
    // Given back (an undo): ready again, in order.
    for m in taken {
        q.put_back(m);
    }
    assert_eq!(ids(&q.lease(9, t)), [1, 2]);
}

#[test]
fn stats_and_oldest() {
    let t = Instant::now();
    let mut q = Queue::new(Config::default(), 5);
    assert_eq!(q.stats(t), Stats::default());
    let a = q.stage(b"abc"[..].into(), 0, t);
    assert_eq!(a.id, 5);
    assert_eq!(q.stats(t).oldest, None);
    q.confirm(a.id);
    let b = q.stage(b"de"[..].into(), 0, t + Duration::from_secs(1));
    q.confirm(b.id);
    q.attach(9, 1);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    let s = q.stats(t + Duration::from_secs(10));
    assert_eq!(
        s,
        Stats {
            depth: 2,
            ready: 1,
            in_flight: 1,
            consumers: 1,
            oldest: Some(Duration::from_secs(10)),
            bytes: 5,
        }
    );
    assert_eq!(q.consumer_ids(), [9]);
}

#[test]
fn put_back_moves_next_id_on() {
    let t = Instant::now();
    let mut q = Queue::new(Config::default(), 1);
    q.put_back(Stored {
        id: 41,
        payload: b"p"[..].into(),
        enqueued: t,
        deliveries: 3,
    });
    assert_eq!(q.next_id(), 42);
    let h = q.lease(1, t);
    assert_eq!((h[0].id, h[0].deliveries), (41, 4));
}

#[test]
fn timers_are_compacted() {
    let t = Instant::now();
    let mut q = filled(200, t);
    q.attach(1, 1000);
    let mut out = Vec::new();
    q.pump(t, &mut out);
    for id in 1..=190 {
        q.ack(id, 1).unwrap();
    }
    q.compact_timers();
    assert_eq!(q.timers.len(), 10);
    let dead = q.expire(t + Duration::from_secs(5));
    assert!(dead.is_empty());
    assert_eq!(q.stats(t).ready, 10);
}
