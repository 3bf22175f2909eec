//! Tests of `Queues`: naming and limits, the journal and its undo,
//! dead-lettering, and a model check of competing consumers.

use super::*;
use std::time::Duration;

fn clock(t: Instant) -> Clock {
    Clock::new(t, 1_700_000_000_000)
}

fn book(t: Instant) -> Queues {
    Queues::new(Limits::default(), clock(t))
}

/// Commits the turn as if the store said `ok`.
fn end(q: &mut Queues, ok: bool) -> Vec<Op> {
    let b = q.take_batch();
    let ops = b.ops.clone();
    q.finish(b, ok);
    ops
}

fn ids(d: &[Delivery]) -> Vec<MsgId> {
    d.iter().map(|d| d.id).collect()
}

#[test]
fn clock_maps_both_ways() {
    let t = Instant::now();
    let c = clock(t);
    assert_eq!(c.unix_ms(t), 1_700_000_000_000);
    assert_eq!(
        c.unix_ms(t + Duration::from_millis(1500)),
        1_700_000_001_500
    );
    let later = t + Duration::from_secs(10);
    assert_eq!(
        c.instant(1_700_000_004_000, later),
        t + Duration::from_secs(4)
    );
    // A time in the future is now.
    assert_eq!(c.instant(1_800_000_000_000, later), later);
}

#[test]
fn enqueue_creates_journals_and_is_visible_after_commit() {
    let t = Instant::now();
    let mut q = book(t);
    assert_eq!(q.enqueue(b"jobs", b"a", t), Ok(1));
    assert_eq!(q.enqueue(b"jobs", b"bc", t), Ok(2));
    q.consume(b"jobs", 7, 10).unwrap();
    assert!(q.pump(t).is_empty(), "not durable yet");
    assert!(q.has_changes());
    let ops = end(&mut q, true);
    let unix = 1_700_000_000_000;
    assert_eq!(
        ops,
        [
            Op::PutQueue {
                qid: 1,
                name: "jobs".into(),
                config: Config::default().to_string(),
                next_id: 1
            },
            Op::PutMsg {
                qid: 1,
                id: 1,
                unix_ms: unix,
                deliveries: 0,
                payload: b"a"[..].into()
            },
            Op::PutMsg {
                qid: 1,
                id: 2,
                unix_ms: unix,
                deliveries: 0,
                payload: b"bc"[..].into()
            },
            Op::PutQueue {
                qid: 1,
                name: "jobs".into(),
                config: Config::default().to_string(),
                next_id: 3
            },
        ]
    );
    assert!(!q.has_changes());
    let d = q.pump(t);
    assert_eq!(ids(&d), [1, 2]);
    assert_eq!(d[0].consumer, Some(7));
    assert_eq!(&*d[0].queue, "jobs");
    assert_eq!(d[1].payload.as_ref(), b"bc");
    assert_eq!(
        end(&mut q, true),
        [
            Op::Deliveries {
                qid: 1,
                id: 1,
                n: 1
            },
            Op::Deliveries {
                qid: 1,
                id: 2,
                n: 1
            }
        ]
    );
    assert_eq!(q.bytes(), 3);
}

#[test]
fn a_failed_commit_takes_everything_back() {
    let t = Instant::now();
    let mut q = book(t);
    q.enqueue(b"keep", b"k1", t).unwrap();
    q.enqueue(b"keep", b"k2", t).unwrap();
    q.enqueue(b"gone", b"g", t).unwrap();
    q.create(b"conf", b"max_deliveries=3").unwrap();
    end(&mut q, true);
    q.consume(b"keep", 1, 10).unwrap();
    assert_eq!(ids(&q.pump(t)), [1, 2]);
    end(&mut q, true);
    let before = q.list(t);
    let bytes = q.bytes();

    // A turn that changes everything, then fails to commit.
    q.ack(b"keep", 1, 1).unwrap();
    q.enqueue(b"keep", b"k3", t).unwrap();
    q.enqueue(b"new", b"n", t).unwrap();
    q.delete(b"gone").unwrap();
    q.create(b"conf", b"max_deliveries=5").unwrap();
    assert_eq!(q.take(b"keep", 5).map(|d| ids(&d)), Ok(vec![]));
    end(&mut q, false);

    // Queues as they were, but for the acknowledged message (below).
    assert_eq!(q.list(t)[..2], before[..2]);
    assert_eq!(q.list(t)[2].config, before[2].config);
    assert_eq!(q.bytes(), bytes);
    assert_eq!(q.stats(b"new", t), Err(QueueError::NotFound));
    // The acknowledged message is back, ready; the id of the lost enqueue
    // is not reused.
    let s = q.stats(b"keep", t).unwrap();
    assert_eq!((s.depth, s.ready, s.in_flight), (2, 1, 1));
    assert_eq!(q.enqueue(b"keep", b"k4", t), Ok(4));
    end(&mut q, true);
    let d = q.pump(t);
    assert_eq!(ids(&d), [1, 4]);
    assert_eq!(d[0].deliveries, 2);
}

#[test]
fn a_failed_delete_brings_back_queue_and_consumers() {
    let t = Instant::now();
    let mut q = book(t);
    q.enqueue(b"a", b"1", t).unwrap();
    q.enqueue(b"a", b"2", t).unwrap();
    end(&mut q, true);
    q.consume(b"a", 5, 1).unwrap();
    assert_eq!(ids(&q.pump(t)), [1]);
    q.delete(b"a").unwrap();
    assert_eq!(q.ack(b"a", 1, 5), Err(QueueError::NotFound));
    assert_eq!(q.bytes(), 0);
    end(&mut q, false);
    assert_eq!(q.bytes(), 2);
    // Consumer 5 still holds 1 and gets 2 once it acknowledges.
    q.ack(b"a", 1, 5).unwrap();
    end(&mut q, true);
    assert_eq!(ids(&q.pump(t)), [2]);
    // Disconnecting reaches the restored queue.
    q.disconnect(5, t);
    let s = q.stats(b"a", t).unwrap();
    assert_eq!((s.ready, s.consumers), (1, 0));
}

#[test]
fn a_failed_create_detaches_its_consumers() {
    let t = Instant::now();
    let mut q = book(t);
    q.consume(b"fresh", 3, 1).unwrap();
    end(&mut q, false);
    assert!(q.list(t).is_empty());
    // Nothing left of consumer 3 to trip over.
    q.disconnect(3, t);
    q.consume(b"fresh", 3, 1).unwrap();
    end(&mut q, true);
    assert_eq!(q.stats(b"fresh", t).unwrap().consumers, 1);
}

#[test]
fn a_failed_take_gives_the_messages_back() {
    let t = Instant::now();
    let mut q = book(t);
    q.enqueue(b"a", b"x", t).unwrap();
    end(&mut q, true);
    let taken = q.take(b"a", 3).unwrap();
    assert_eq!(ids(&taken), [1]);
    assert_eq!(end(&mut q, false), [Op::DelMsg { qid: 1, id: 1 }]);
    assert_eq!(q.stats(b"a", t).unwrap().ready, 1);
    let taken = q.take(b"a", 3).unwrap();
    assert_eq!(
        (taken[0].id, taken[0].deliveries, taken[0].consumer),
        (1, 2, None)
    );
    end(&mut q, true);
    assert_eq!(q.stats(b"a", t).unwrap().depth, 0);
}

#[test]
fn create_options_and_errors() {
    let t = Instant::now();
    let mut q = book(t);
    assert_eq!(q.create(b"a b", b""), Err(QueueError::BadName));
    assert_eq!(q.create(b"a", b"bogus=1"), Err(QueueError::BadOption));
    assert_eq!(q.create(b"a", b"dlq=a"), Err(QueueError::BadOption));
    q.create(b"a", b"visibility=2 max_deliveries=4").unwrap();
    // Same options again: nothing to write.
    q.create(b"a", b"visibility=2 max_deliveries=4").unwrap();
    let ops = end(&mut q, true);
    assert_eq!(ops.len(), 1);
    let l = q.list(t);
    assert_eq!(l[0].config.max_deliveries, 4);
    assert_eq!(q.delete(b"nope"), Err(QueueError::NotFound));
    assert_eq!(q.ack(b"a", 1, 1), Err(QueueError::NotInFlight));
    assert_eq!(q.cancel(b"a", 1, t), Err(QueueError::NotFound));
    assert_eq!(q.lease(b"nope", 1, t), Err(QueueError::NotFound));
    assert_eq!(q.enqueue(b"", b"x", t), Err(QueueError::BadName));
}

#[test]
fn limits_refuse_with_full() {
    let t = Instant::now();
    let mut q = Queues::new(
        Limits {
            max_bytes: 10,
            max_queues: 2,
        },
        clock(t),
    );
    q.enqueue(b"a", b"12345", t).unwrap();
    q.enqueue(b"a", b"12345", t).unwrap();
    assert_eq!(q.enqueue(b"a", b"1", t), Err(QueueError::Full));
    q.create(b"b", b"").unwrap();
    assert_eq!(q.create(b"c", b""), Err(QueueError::Full));
    end(&mut q, true);
    q.consume(b"a", 1, 1).unwrap();
    q.pump(t);
    q.ack(b"a", 1, 1).unwrap();
    end(&mut q, true);
    assert_eq!(q.bytes(), 5);
    q.enqueue(b"a", b"12345", t).unwrap();
}

#[test]
fn dead_letters_move_to_their_queue_in_the_same_commit() {
    let t = Instant::now();
    let mut q = book(t);
    q.create(b"work", b"visibility=1 max_deliveries=2").unwrap();
    q.enqueue(b"work", b"poison", t).unwrap();
    end(&mut q, true);
    q.lease(b"work", 1, t).unwrap();
    let t1 = t + Duration::from_secs(1);
    q.expire(t1);
    assert_eq!(q.lease(b"work", 1, t1).unwrap()[0].deliveries, 2);
    end(&mut q, true);
    let t2 = t1 + Duration::from_secs(1);
    q.expire(t2);
    let ops = end(&mut q, true);
    assert!(ops.contains(&Op::DelMsg { qid: 1, id: 1 }), "{ops:?}");
    assert!(ops.contains(&Op::PutMsg {
        qid: 2,
        id: 1,
        unix_ms: 1_700_000_002_000,
        deliveries: 2,
        payload: b"poison"[..].into()
    }));
    let l = q.list(t2);
    assert_eq!(
        l.iter().map(|l| &*l.name).collect::<Vec<_>>(),
        ["work", "work.dlq"]
    );
    assert_eq!(l[0].stats.depth, 0);
    assert_eq!(l[1].stats.depth, 1);
    assert_eq!(l[1].config, Config::dead_letter_queue());
    // In the dead-letter queue it is never dead-lettered again.
    for i in 0..5 {
        let at = t2 + Duration::from_secs(40 * i);
        let d = q.lease(b"work.dlq", 1, at).unwrap();
        assert_eq!(d[0].deliveries, 3 + i as u32);
        q.expire(at + Duration::from_secs(31));
    }
    assert_eq!(q.stats(b"work.dlq", t2).unwrap().depth, 1);
}

#[test]
fn a_failed_dead_letter_move_leaves_the_message_where_it_was() {
    let t = Instant::now();
    let mut q = book(t);
    q.create(b"w", b"max_deliveries=1").unwrap();
    q.enqueue(b"w", b"p", t).unwrap();
    end(&mut q, true);
    q.consume(b"w", 1, 1).unwrap();
    assert_eq!(ids(&q.pump(t)), [1]);
    end(&mut q, true);
    q.disconnect(1, t);
    assert!(q.has_pending_changes(), "the move waits for a commit");
    end(&mut q, false);
    assert!(!q.has_pending_changes());
    assert_eq!(q.list(t).len(), 1, "no dead-letter queue was made");
    assert_eq!(q.stats(b"w", t).unwrap().ready, 1);
    assert_eq!(q.bytes(), 1);
}

#[test]
fn dead_letters_are_dropped_when_the_queue_has_none() {
    let t = Instant::now();
    let mut q = book(t);
    q.create(b"w", b"max_deliveries=1 dlq=").unwrap();
    q.enqueue(b"w", b"p", t).unwrap();
    end(&mut q, true);
    q.lease(b"w", 1, t).unwrap();
    q.expire(t + Duration::from_secs(30));
    // The count would be removed with the message: it is not written.
    assert_eq!(end(&mut q, true), [Op::DelMsg { qid: 1, id: 1 }]);
    assert_eq!(q.list(t).len(), 1);
    assert_eq!(
        q.take_notes(),
        ["queue w: message 1 dropped after 1 deliveries (no dead-letter queue)"]
    );
    assert_eq!(q.bytes(), 0);
}

#[test]
fn named_dead_letter_queue() {
    let t = Instant::now();
    let mut q = book(t);
    q.create(b"w", b"max_deliveries=1 dlq=graveyard").unwrap();
    q.enqueue(b"w", b"p", t).unwrap();
    end(&mut q, true);
    q.consume(b"w", 9, 1).unwrap();
    q.pump(t);
    q.cancel(b"w", 9, t).unwrap();
    end(&mut q, true);
    assert_eq!(q.stats(b"graveyard", t).unwrap().depth, 1);
    assert_eq!(q.stats(b"w", t).unwrap().consumers, 0);
}

#[test]
fn cancel_and_disconnect_redeliver_to_others() {
    let t = Instant::now();
    let mut q = book(t);
    for i in 0..4 {
        q.enqueue(b"a", format!("{i}").as_bytes(), t).unwrap();
        q.enqueue(b"b", format!("{i}").as_bytes(), t).unwrap();
    }
    end(&mut q, true);
    q.consume(b"a", 1, 2).unwrap();
    q.consume(b"b", 1, 2).unwrap();
    let d = q.pump(t);
    assert_eq!(d.len(), 4);
    q.consume(b"a", 2, 10).unwrap();
    q.consume(b"b", 2, 10).unwrap();
    let d = q.pump(t);
    assert_eq!(d.iter().filter(|d| d.consumer == Some(2)).count(), 4);
    q.disconnect(1, t);
    let d = q.pump(t);
    assert_eq!(d.len(), 4);
    assert!(d.iter().all(|d| d.consumer == Some(2) && d.deliveries == 2));
    assert!(!q.wants_pump());
}

#[test]
fn restore_rebuilds_queues_and_moves_ids_on() {
    use super::super::store::{SavedMsg, SavedQueue, Snapshot};
    let t = Instant::now() + Duration::from_secs(100);
    let mut q = book(t);
    q.restore(
        Snapshot {
            queues: vec![
                SavedQueue {
                    qid: 4,
                    name: "r".into(),
                    config: "visibility=5 max_deliveries=2".into(),
                    next_id: 10,
                    msgs: vec![
                        SavedMsg {
                            id: 3,
                            unix_ms: 1_699_999_990_000,
                            deliveries: 1,
                            payload: b"x".to_vec(),
                        },
                        SavedMsg {
                            id: 7,
                            unix_ms: 1_700_000_000_000,
                            deliveries: 0,
                            payload: b"yz".to_vec(),
                        },
                    ],
                },
                SavedQueue {
                    qid: 2,
                    name: "bad".into(),
                    config: "nonsense".into(),
                    next_id: 1,
                    msgs: vec![],
                },
            ],
            records: vec![],
        },
        t,
    );
    assert_eq!(q.bytes(), 3);
    let l = q.list(t);
    assert_eq!(l[1].name.as_ref(), "r");
    assert_eq!(l[1].stats.depth, 2);
    assert_eq!(l[1].stats.oldest, Some(Duration::from_secs(10)));
    assert_eq!(l[1].config.max_deliveries, 2);
    assert_eq!(l[0].config, Config::default());
    assert_eq!(q.take_notes().len(), 1);
    assert_eq!(q.enqueue(b"r", b"n", t), Ok(10));
    q.create(b"c", b"").unwrap();
    let ops = end(&mut q, true);
    assert!(
        ops.iter().any(|o| matches!(o, Op::PutQueue { qid: 5, .. })),
        "{ops:?}"
    );
    let d = q.lease(b"r", 5, t).unwrap();
    assert_eq!(
        d.iter().map(|d| (d.id, d.deliveries)).collect::<Vec<_>>(),
        [(3, 2), (7, 1), (10, 1)]
    );
}

mod model {
    //! Random interleavings of enqueues, consumers, acks, disconnects,
    //! timeouts and failed commits, checked against what must hold.
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Debug, Clone)]
    enum Step {
        Enqueue(u8),
        Attach(u8, u8),
        Ack(u8, u8),
        Disconnect(u8),
        Lease(u8),
        Advance(u8),
        Commit(bool),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0u8..3).prop_map(Step::Enqueue),
            2 => (0u8..4, 1u8..4).prop_map(|(c, p)| Step::Attach(c, p)),
            5 => (0u8..4, any::<u8>()).prop_map(|(c, i)| Step::Ack(c, i)),
            1 => (0u8..4).prop_map(Step::Disconnect),
            1 => (1u8..3).prop_map(Step::Lease),
            1 => (0u8..3).prop_map(Step::Advance),
            3 => prop::bool::weighted(0.8).prop_map(Step::Commit),
        ]
    }

    /// Records deliveries in the model, checking each: durable, not
    /// acknowledged, not held by anyone else, the payload enqueued.
    fn deliver(
        d: Vec<Delivery>,
        holder: &mut BTreeMap<MsgId, Option<u64>>,
        acked: &BTreeSet<MsgId>,
        answered: &BTreeSet<MsgId>,
    ) -> Result<(), TestCaseError> {
        for x in d {
            prop_assert!(
                answered.contains(&x.id),
                "delivered {} before its commit",
                x.id
            );
            prop_assert!(!acked.contains(&x.id), "delivered {} after its ack", x.id);
            prop_assert!(!holder.contains_key(&x.id), "delivered {} while held", x.id);
            let want = format!("m{}", x.id);
            prop_assert_eq!(&*x.payload, want.as_bytes());
            holder.insert(x.id, x.consumer);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        #[test]
        fn consumers_get_disjoint_sets_whose_union_is_everything(steps in prop::collection::vec(step(), 1..120)) {
            let mut t = Instant::now();
            let mut q = Queues::new(Limits::default(), clock(t));
            q.create(b"q", b"visibility=1 max_deliveries=0").unwrap();
            end(&mut q, true);
            // What the model knows.
            let mut answered: BTreeSet<MsgId> = BTreeSet::new();
            let mut pending_ids: Vec<MsgId> = Vec::new();
            let mut acked: BTreeSet<MsgId> = BTreeSet::new();
            let mut pending_acks: Vec<MsgId> = Vec::new();
            // Who holds what right now (by delivery), per id.
            let mut holder: BTreeMap<MsgId, Option<u64>> = BTreeMap::new();
            let mut attached: BTreeSet<u64> = BTreeSet::new();
            let mut counter = 0u32;
            for s in steps {
                match s {
                    Step::Enqueue(n) => for _ in 0..n {
                        counter += 1;
                        let id = q.enqueue(b"q", format!("m{counter}").as_bytes(), t).unwrap();
                        prop_assert_eq!(id, counter as u64);
                        pending_ids.push(id);
                    },
                    Step::Attach(c, p) => {
                        q.consume(b"q", c as u64, p as u32).unwrap();
                        attached.insert(c as u64);
                    }
                    Step::Ack(c, i) => {
                        let held: Vec<MsgId> = holder.iter()
                            .filter(|(_, h)| **h == Some(c as u64) || h.is_none())
                            .map(|(id, _)| *id).collect();
                        if let Some(&id) = held.get(i as usize % held.len().max(1)) {
                            if q.ack(b"q", id, c as u64).is_ok() {
                                holder.remove(&id);
                                pending_acks.push(id);
                            }
                        }
                    }
                    Step::Disconnect(c) => {
                        q.disconnect(c as u64, t);
                        attached.remove(&(c as u64));
                        holder.retain(|_, h| *h != Some(c as u64));
                    }
                    Step::Lease(n) => {
                        let d = q.lease(b"q", n as usize, t).unwrap();
                        deliver(d, &mut holder, &acked, &answered)?;
                    }
                    Step::Advance(s) => {
                        t += Duration::from_millis(500 * s as u64);
                        q.expire(t);
                        // What was handed out a second ago may be back: the
                        // model cannot tell which, so it forgets holders.
                        holder.clear();
                    }
                    Step::Commit(ok) => {
                        let b = q.take_batch();
                        q.finish(b, ok);
                        if ok {
                            answered.extend(pending_ids.drain(..));
                            acked.extend(pending_acks.drain(..));
                        } else {
                            pending_ids.clear();
                            pending_acks.clear();
                        }
                    }
                }
                let d = q.pump(t);
                // Disjoint: a message goes to one consumer at a time.
                let mut seen = BTreeSet::new();
                for x in &d {
                    prop_assert!(seen.insert(x.id), "{} twice in one pump", x.id);
                    prop_assert!(attached.contains(&x.consumer.unwrap()));
                }
                deliver(d, &mut holder, &acked, &answered)?;
                let s = q.stats(b"q", t).unwrap();
                prop_assert_eq!(s.depth, s.ready + s.in_flight);
            }
            // Drain: one consumer takes everything left and acknowledges it.
            let b = q.take_batch();
            q.finish(b, true);
            answered.extend(pending_ids.drain(..));
            acked.extend(pending_acks.drain(..));
            t += Duration::from_secs(5);
            q.expire(t);
            for c in 0..4 { q.disconnect(c, t); }
            q.consume(b"q", 99, 1000).unwrap();
            let rest = q.pump(t);
            let rest: BTreeSet<MsgId> = rest.iter().map(|d| d.id).collect();
            // The union of acknowledged and remaining is every answered id,
            // and they do not overlap.
            prop_assert!(rest.is_disjoint(&acked));
            let union: BTreeSet<MsgId> = rest.union(&acked).copied().collect();
            prop_assert_eq!(union, answered);
        }
    }
}
