//! Tests of `Durable`: replies released only by a commit, failures
//! answered and taken back, recovery from a real store.

use super::*;
use crate::queue::store::{DiskStore, MemStore, Op, Snapshot};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

/// A store that records commits and fails while told to.
#[derive(Default, Clone)]
struct Scripted {
    commits: Rc<RefCell<Vec<Vec<Op>>>>,
    fail: Rc<RefCell<bool>>,
}

impl Store for Scripted {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }
    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        if *self.fail.borrow() {
            return Err(StoreError {
                text: "No space left on device (os error 28)".into(),
                full: true,
            });
        }
        self.commits.borrow_mut().push(ops.to_vec());
        Ok(())
    }
    fn describe(&self) -> String {
        "scripted".into()
    }
}

fn open(store: impl Store + 'static, t: Instant) -> Durable<&'static str> {
    Durable::open(
        Box::new(store),
        Limits::default(),
        Clock::new(t, 1_000_000),
        t,
    )
    .unwrap()
}

#[test]
fn replies_wait_for_the_commit() {
    let t = Instant::now();
    let s = Scripted::default();
    let mut d = open(s.clone(), t);
    d.enqueue("p1", b"q", b"a", t).unwrap();
    d.enqueue("p2", b"q", b"b", t).unwrap();
    d.create("admin", b"other", b"max_deliveries=2").unwrap();
    assert!(d.needs_commit());
    assert!(s.commits.borrow().is_empty());
    d.queues_mut().consume(b"q", 1, 5).unwrap();
    let turn = d.end_turn(t);
    // One commit for the whole turn.
    assert_eq!(s.commits.borrow().len(), 1);
    assert_eq!(turn.ops, s.commits.borrow()[0].len());
    assert_eq!(
        turn.answers,
        [
            ("p1", Ok(Answer::Id(1))),
            ("p2", Ok(Answer::Id(2))),
            ("admin", Ok(Answer::Done))
        ]
    );
    assert!(turn.error.is_none());
    assert_eq!(
        turn.deliveries.iter().map(|x| x.id).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(!d.needs_commit());
    // The delivery counts ride on the next commit, but not that of a
    // message acknowledged in it (its removal takes the count too).
    d.ack("c", b"q", 1, 1).unwrap();
    let turn = d.end_turn(t);
    assert_eq!(turn.answers, [("c", Ok(Answer::Done))]);
    let last = s.commits.borrow().last().unwrap().clone();
    assert_eq!(
        last,
        [
            Op::Deliveries {
                qid: 1,
                id: 2,
                n: 1
            },
            Op::DelMsg { qid: 1, id: 1 },
        ]
    );
}

#[test]
fn an_idle_turn_writes_nothing() {
    let t = Instant::now();
    let s = Scripted::default();
    let mut d = open(s.clone(), t);
    let turn = d.end_turn(t);
    assert!(turn.answers.is_empty() && turn.deliveries.is_empty());
    assert_eq!(turn.ops, 0);
    assert!(s.commits.borrow().is_empty());
}

#[test]
fn a_failed_commit_answers_every_waiter_and_keeps_nothing() {
    let t = Instant::now();
    let s = Scripted::default();
    let mut d = open(s.clone(), t);
    d.enqueue("p", b"q", b"kept", t).unwrap();
    d.end_turn(t);
    *s.fail.borrow_mut() = true;
    d.enqueue("p1", b"q", b"lost", t).unwrap();
    d.take("t", b"q", 1).unwrap();
    d.queues_mut().consume(b"q", 4, 1).unwrap();
    let turn = d.end_turn(t);
    let err = turn.error.clone().unwrap();
    assert!(err.full);
    assert_eq!(turn.ops, 0);
    assert_eq!(
        turn.answers,
        [
            ("p1", Err(QueueError::Store(err.clone()))),
            ("t", Err(QueueError::Store(err.clone())))
        ]
    );
    assert_eq!(QueueError::Store(err).state(), crate::proto::State::EFile);
    // The taken message is back and goes to the consumer; the lost
    // enqueue never shows.
    assert_eq!(turn.deliveries.len(), 1);
    assert_eq!(turn.deliveries[0].payload.as_ref(), b"kept");
    assert_eq!(d.queues().stats(b"q", t).unwrap().depth, 1);
    // Space returns: the next turn commits.
    *s.fail.borrow_mut() = false;
    d.enqueue("p2", b"q", b"again", t).unwrap();
    let turn = d.end_turn(t);
    assert_eq!(turn.answers, [("p2", Ok(Answer::Id(3)))]);
}

#[test]
fn timeouts_are_handled_at_the_end_of_a_turn() {
    let t = Instant::now();
    let mut d = open(MemStore, t);
    d.create("a", b"w", b"visibility=2 max_deliveries=1")
        .unwrap();
    d.enqueue("p", b"w", b"x", t).unwrap();
    d.end_turn(t);
    d.queues_mut().consume(b"w", 1, 1).unwrap();
    assert_eq!(d.end_turn(t).deliveries.len(), 1);
    assert_eq!(d.next_deadline(), Some(t + Duration::from_secs(2)));
    assert!(d
        .end_turn(t + Duration::from_millis(1999))
        .deliveries
        .is_empty());
    let turn = d.end_turn(t + Duration::from_secs(2));
    assert!(turn.deliveries.is_empty());
    let l = d.queues().list(t);
    assert_eq!(
        l.iter()
            .map(|l| (&*l.name, l.stats.depth))
            .collect::<Vec<_>>(),
        [("w", 0), ("w.dlq", 1)]
    );
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ducq-durable-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn recovery_from_disk_rebuilds_what_was_answered() {
    let d0 = dir("recover");
    let t = Instant::now();
    {
        let mut d = open(DiskStore::open(&d0).unwrap(), t);
        d.create("a", b"jobs", b"visibility=5 max_deliveries=3")
            .unwrap();
        for i in 0..5 {
            d.enqueue("p", b"jobs", format!("job{i}").as_bytes(), t)
                .unwrap();
        }
        d.end_turn(t);
        d.queues_mut().consume(b"jobs", 1, 2).unwrap();
        let turn = d.end_turn(t);
        assert_eq!(turn.deliveries.len(), 2);
        d.ack("c", b"jobs", 1, 1).unwrap();
        d.end_turn(t);
        // Staged but never committed: lost with the "crash".
        d.enqueue("p", b"jobs", b"unanswered", t).unwrap();
    }
    let t2 = t + Duration::from_secs(3);
    let mut d = Durable::<()>::open(
        Box::new(DiskStore::open(&d0).unwrap()),
        Limits::default(),
        Clock::new(t, 1_000_000),
        t2,
    )
    .unwrap();
    let l = d.queues().list(t2);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].stats.depth, 4);
    assert_eq!(l[0].stats.oldest, Some(Duration::from_secs(3)));
    assert_eq!(l[0].config.max_deliveries, 3);
    let msgs = d.queues_mut().lease(b"jobs", 10, t2).unwrap();
    assert_eq!(
        msgs.iter()
            .map(|m| (m.id, m.deliveries, m.payload.to_vec()))
            .collect::<Vec<_>>(),
        [
            (2, 2, b"job1".to_vec()),
            (3, 1, b"job2".to_vec()),
            (4, 1, b"job3".to_vec()),
            (5, 1, b"job4".to_vec())
        ]
    );
    // Ids go on after the last one committed.
    d.enqueue((), b"jobs", b"n", t2).unwrap();
    assert_eq!(d.end_turn(t2).answers, [((), Ok(Answer::Id(6)))]);
    let _ = std::fs::remove_dir_all(&d0);
}

#[test]
fn ids_are_not_reused_after_the_queue_empties() {
    let d0 = dir("ids");
    let t = Instant::now();
    {
        let mut d = open(DiskStore::open(&d0).unwrap(), t);
        d.enqueue("p", b"q", b"1", t).unwrap();
        d.enqueue("p", b"q", b"2", t).unwrap();
        d.end_turn(t);
        d.take("t", b"q", 5).unwrap();
        let turn = d.end_turn(t);
        assert!(matches!(&turn.answers[0].1, Ok(Answer::Messages(m)) if m.len() == 2));
    }
    let mut d = open(DiskStore::open(&d0).unwrap(), t);
    assert_eq!(d.queues().stats(b"q", t).unwrap().depth, 0);
    d.enqueue("p", b"q", b"3", t).unwrap();
    assert_eq!(d.end_turn(t).answers, [("p", Ok(Answer::Id(3)))]);
    let _ = std::fs::remove_dir_all(&d0);
}

#[test]
fn records_commit_with_the_turn_and_wait_out_a_failed_commit() {
    let t = Instant::now();
    let s = Scripted::default();
    let mut d = open(s.clone(), t);
    let put = |k: &str, b: &[u8]| Op::PutRecord {
        key: Rc::from(k),
        bytes: Rc::from(b),
    };
    d.put_records([put("m/a", b"1")]);
    assert!(d.needs_commit());
    d.enqueue("p", b"q", b"x", t).unwrap();
    let turn = d.end_turn(t);
    assert!(turn.error.is_none());
    // One transaction: the queue's changes, then the record.
    let last = s.commits.borrow().last().cloned().unwrap();
    assert_eq!(last.last(), Some(&put("m/a", b"1")));
    assert!(!d.needs_commit());
    // A failed commit keeps them, older first, for the next one.
    *s.fail.borrow_mut() = true;
    d.put_records([put("m/b", b"2")]);
    assert!(d.end_turn(t).error.is_some());
    d.put_records([Op::DelRecord {
        key: Rc::from("m/a"),
    }]);
    *s.fail.borrow_mut() = false;
    assert!(d.end_turn(t).error.is_none());
    assert_eq!(
        s.commits.borrow().last().cloned().unwrap(),
        [
            put("m/b", b"2"),
            Op::DelRecord {
                key: Rc::from("m/a")
            }
        ]
    );
}

#[test]
fn records_survive_a_reopened_disk_store_and_are_taken_by_prefix() {
    let dir = std::env::temp_dir().join(format!("ducq-records-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    {
        let mut d = open(DiskStore::open(&dir).unwrap(), t);
        d.put_records([
            Op::PutRecord {
                key: Rc::from("mqtt0/a"),
                bytes: Rc::from(&b"A"[..]),
            },
            Op::PutRecord {
                key: Rc::from("mqtt0/b\0c"),
                bytes: Rc::from(&b"B"[..]),
            },
            Op::PutRecord {
                key: Rc::from("mqtt1/a"),
                bytes: Rc::from(&b"C"[..]),
            },
        ]);
        d.end_turn(t);
        d.put_records([Op::DelRecord {
            key: Rc::from("mqtt0/a"),
        }]);
        d.end_turn(t);
    }
    let mut d = open(DiskStore::open(&dir).unwrap(), t);
    assert_eq!(
        d.take_records("mqtt0/"),
        [("mqtt0/b\0c".into(), b"B".to_vec())]
    );
    assert!(d.take_records("mqtt0/").is_empty(), "taken once");
    assert_eq!(
        d.take_records("mqtt1/"),
        [("mqtt1/a".into(), b"C".to_vec())]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn committed_enqueues_are_kept_for_a_mirror_once_asked() {
    let t = Instant::now();
    let s = Scripted::default();
    let mut d = open(s.clone(), t);
    d.enqueue("p", b"q", b"before", t).unwrap();
    d.end_turn(t);
    // Not asked yet: nothing kept.
    d.keep_enqueued();
    assert_eq!(d.take_enqueued(), []);
    d.enqueue("p", b"q", b"a", t).unwrap();
    d.enqueue("p", b"r/s", b"b", t).unwrap();
    d.end_turn(t);
    let got: Vec<_> = d
        .take_enqueued()
        .into_iter()
        .map(|e| (e.queue.to_string(), e.id, e.payload.to_vec()))
        .collect();
    assert_eq!(
        got,
        [
            ("q".to_string(), 2, b"a".to_vec()),
            ("r/s".to_string(), 1, b"b".to_vec())
        ]
    );
    assert_eq!(d.take_enqueued(), []);
    // A failed commit enqueued nothing.
    *s.fail.borrow_mut() = true;
    d.enqueue("p", b"q", b"lost", t).unwrap();
    d.end_turn(t);
    assert_eq!(d.take_enqueued(), []);
}
