//! Tests of `QueueService`: wire forms of answers, deliveries, listings
//! and refusals; disconnects.

use super::*;
use crate::queue::MemStore;
use std::time::Duration;

fn svc() -> QueueService {
    QueueService::open(Box::new(MemStore), Limits::default()).unwrap()
}

fn c(key: usize) -> ConnId {
    ConnId {
        key,
        gen: 1000 + key as u64,
    }
}

fn texts(out: &[Out]) -> Vec<(usize, String)> {
    out.iter()
        .map(|(c, m)| (c.key, String::from_utf8_lossy(m).into_owned()))
        .collect()
}

#[test]
fn enqueue_answers_ids_at_the_end_of_the_turn() {
    let t = Instant::now();
    let mut s = svc();
    s.enqueue(c(1), b"q", b"hello", t).unwrap();
    s.enqueue(c(2), b"q", b"world", t).unwrap();
    assert!(s.wants_turn());
    let (out, logs) = s.end_turn(t);
    assert_eq!(texts(&out), [(1, "1".into()), (2, "2".into())]);
    assert!(logs.is_empty());
    assert!(!s.wants_turn());
}

#[test]
fn consumers_get_qmsg_deliveries_and_ack_them() {
    let t = Instant::now();
    let mut s = svc();
    s.enqueue(c(1), b"q", b"a\nb", t).unwrap();
    s.enqueue(c(1), b"q", b"", t).unwrap();
    assert_eq!(s.consume(c(2), b"q", b"1").unwrap(), b"ACK");
    let (out, _) = s.end_turn(t);
    assert_eq!(
        texts(&out),
        [
            (1, "1".into()),
            (1, "2".into()),
            (2, "qmsg q\n1 1\na\nb".into())
        ]
    );
    // Someone else cannot acknowledge it; its consumer can.
    assert_eq!(s.ack(c(3), b"q", b"1"), Err(State::ENotFound));
    assert_eq!(s.ack(c(2), b"q", b"x"), Err(State::EMsgInv));
    s.ack(c(2), b"q", b" 1 ").unwrap();
    let (out, _) = s.end_turn(t);
    assert_eq!(
        texts(&out),
        [(2, "ACK".into()), (2, "qmsg q\n2 1\n".into())]
    );
}

#[test]
fn disconnect_hands_messages_to_the_next_consumer() {
    let t = Instant::now();
    let mut s = svc();
    s.enqueue(c(1), b"q", b"x", t).unwrap();
    s.consume(c(2), b"q", b"").unwrap();
    s.end_turn(t);
    s.consume(c(3), b"q", b"5").unwrap();
    assert!(s.closed(c(2), t).is_empty());
    let (out, _) = s.end_turn(t);
    assert_eq!(texts(&out), [(3, "qmsg q\n1 2\nx".into())]);
}

#[test]
fn get_take_list_create_delete() {
    let t = Instant::now();
    let mut s = svc();
    s.create(c(1), b"q", b"visibility=1").unwrap();
    for p in [b"1", b"2", b"3"] {
        s.enqueue(c(1), b"q", p, t).unwrap();
    }
    s.end_turn(t);
    let got = s.lease(b"q", b"2", t).unwrap();
    assert_eq!(
        got,
        [
            b"PARTS".to_vec(),
            b"qmsg q\n1 1\n1".to_vec(),
            b"qmsg q\n2 1\n2".to_vec(),
            b"END".to_vec()
        ]
    );
    s.take(c(4), b"q", b"5").unwrap();
    let (out, _) = s.end_turn(t);
    assert_eq!(
        texts(&out),
        [
            (4, "PARTS".into()),
            (4, "qmsg q\n3 1\n3".into()),
            (4, "END".into())
        ]
    );
    let later = t + Duration::from_millis(1500);
    assert_eq!(
        s.list(later),
        [
            b"PARTS".to_vec(),
            b"q,2,0,2,0,1500\n".to_vec(),
            b"END".to_vec()
        ]
    );
    s.delete(c(1), b"q").unwrap();
    let (out, _) = s.end_turn(t);
    assert_eq!(texts(&out), [(1, "ACK".into())]);
    assert_eq!(s.list(t), [b"PARTS".to_vec(), b"END".to_vec()]);
}

#[test]
fn refusals_have_the_right_codes() {
    let t = Instant::now();
    let mut s = svc();
    assert_eq!(s.enqueue(c(1), b"a b", b"x", t), Err(State::EMsgInv));
    assert_eq!(s.create(c(1), b"q", b"nope=1"), Err(State::EMsgInv));
    assert_eq!(s.delete(c(1), b"q"), Err(State::ENotFound));
    assert_eq!(s.lease(b"q", b"1", t), Err(State::ENotFound));
    assert_eq!(s.lease(b"q", b"0", t), Err(State::EMsgInv));
    assert_eq!(s.lease(b"q", b"1001", t), Err(State::EMsgInv));
    assert_eq!(s.consume(c(1), b"q", b"10001"), Err(State::EMsgInv));
    assert_eq!(s.cancel(c(1), b"q", t), Err(State::ENotFound));
    assert_eq!(count(b"", 7, 9), Ok(7));
    assert_eq!(count(b"\xff", 7, 9), Err(State::EMsgInv));
}

/// A store that fails while `fail` holds an error.
struct Failing(std::rc::Rc<std::cell::RefCell<Option<StoreError>>>);

impl Store for Failing {
    fn load(&mut self) -> Result<crate::queue::store::Snapshot, StoreError> {
        Ok(Default::default())
    }
    fn commit(&mut self, _: &[crate::queue::store::Op]) -> Result<(), StoreError> {
        match self.0.borrow().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    fn describe(&self) -> String {
        "failing".into()
    }
}

#[test]
fn a_full_store_is_a_clear_nack_logged_once_until_it_recovers() {
    let t = Instant::now();
    let fail = std::rc::Rc::new(std::cell::RefCell::new(None));
    let mut s = QueueService::open(Box::new(Failing(fail.clone())), Limits::default()).unwrap();
    let full = StoreError {
        text: "No space left on device (os error 28)".into(),
        full: true,
    };
    *fail.borrow_mut() = Some(full.clone());
    let mut logs = Vec::new();
    for _ in 0..3 {
        s.enqueue(c(1), b"q", b"x", t).unwrap();
        let (out, l) = s.end_turn(t);
        assert_eq!(
            texts(&out),
            [(
                1,
                "NACK *\n7\nos file io error: queue store full, no space left".into()
            )]
        );
        logs.extend(l);
    }
    // Once, not once per turn.
    assert_eq!(
        logs,
        ["queue commit failed, the turn's changes were refused: \
          No space left on device (os error 28) (no space left)"]
    );
    // Another failure is not a full disk: the plain NACK, logged.
    *fail.borrow_mut() = Some(StoreError {
        text: "Input/output error (os error 5)".into(),
        full: false,
    });
    s.enqueue(c(1), b"q", b"x", t).unwrap();
    let (out, logs) = s.end_turn(t);
    assert_eq!(texts(&out), [(1, "NACK *\n7\nos file io error".into())]);
    assert_eq!(logs.len(), 1, "{logs:?}");
    // Space returns: answered again, and the log says so once.
    *fail.borrow_mut() = None;
    s.enqueue(c(1), b"q", b"y", t).unwrap();
    let (out, logs) = s.end_turn(t);
    assert_eq!(texts(&out), [(1, "1".into())]);
    assert_eq!(
        logs,
        ["queue commit succeeds again, after 4 failed (their changes were refused)"]
    );
    s.enqueue(c(1), b"q", b"z", t).unwrap();
    let (out, logs) = s.end_turn(t);
    assert_eq!((texts(&out), logs.len()), (vec![(1, "2".into())], 0));
    // For /metrics: commits that wrote, and those that failed.
    assert_eq!(s.commit_counts(), (2, 4));
    let (_, logs) = s.end_turn(t);
    assert_eq!((s.commit_counts(), logs.len()), ((2, 4), 0));
}
