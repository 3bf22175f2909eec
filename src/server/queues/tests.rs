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

/// A store that hands back `records` at load and keeps what is committed.
struct Recording {
    records: Vec<(String, Vec<u8>)>,
    committed: std::rc::Rc<std::cell::RefCell<Vec<crate::queue::store::Op>>>,
}

impl Store for Recording {
    fn load(&mut self) -> Result<crate::queue::store::Snapshot, StoreError> {
        Ok(crate::queue::store::Snapshot {
            queues: Vec::new(),
            records: self.records.clone(),
        })
    }
    fn commit(&mut self, ops: &[crate::queue::store::Op]) -> Result<(), StoreError> {
        self.committed.borrow_mut().extend_from_slice(ops);
        Ok(())
    }
    fn describe(&self) -> String {
        "recording".into()
    }
}

#[test]
fn records_are_handed_back_by_prefix_once_and_committed_with_the_turn() {
    use crate::queue::store::Op;
    let committed = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let store = Recording {
        records: vec![
            ("mqtt/a".into(), b"1".to_vec()),
            ("other".into(), b"2".to_vec()),
            ("mqtt/b".into(), vec![]),
        ],
        committed: committed.clone(),
    };
    let mut s = QueueService::open(Box::new(store), Limits::default()).unwrap();
    assert_eq!(s.describe(), "recording");
    assert_eq!(
        s.take_records("mqtt/"),
        [("mqtt/a".into(), b"1".to_vec()), ("mqtt/b".into(), vec![])]
    );
    assert_eq!(s.take_records("mqtt/"), []);
    assert_eq!(s.take_records(""), [("other".into(), b"2".to_vec())]);
    let t = Instant::now();
    assert!(!s.wants_turn());
    let put = Op::PutRecord {
        key: "mqtt/c".into(),
        bytes: b"session".to_vec().into(),
    };
    s.put_records(vec![put.clone()]);
    assert!(s.wants_turn());
    let (out, logs) = s.end_turn(t);
    assert!(out.is_empty() && logs.is_empty());
    assert_eq!(*committed.borrow(), [put]);
    assert_eq!(s.commit_counts(), (1, 0));
}

#[test]
fn the_service_answers_for_its_queues_counts_and_store() {
    let t = Instant::now();
    let mut s = QueueService::memory(Limits::default());
    assert_eq!(s.describe(), "memory (not durable)");
    // Ids of quiet enqueues come back at once, one after the other.
    assert_eq!(s.enqueue_quiet(b"q", b"abc", t), Ok(1));
    assert_eq!(s.enqueue_quiet(b"q", b"de", t), Ok(2));
    assert_eq!(s.enqueue_quiet(b"a b", b"x", t), Err(State::EMsgInv));
    assert_eq!(s.bytes(), 5);
    // Listed once the turn has committed them.
    s.end_turn(t);
    let names: Vec<String> = s.listing(t).iter().map(|l| l.name.to_string()).collect();
    assert_eq!(names, ["q"]);
    let listed = s.durable().queues().list(t);
    assert_eq!(queue_line(&listed[0]).format(), b"q,2,2,0,0,0\n");
    // A lease sets the next deadline: when the message is visible again.
    assert_eq!(s.next_deadline(), None);
    s.lease(b"q", b"1", t).unwrap();
    assert_eq!(s.next_deadline(), Some(t + Duration::from_secs(30)));
}

#[test]
fn committed_enqueues_are_kept_only_once_asked_for() {
    let t = Instant::now();
    let mut s = svc();
    s.enqueue(c(1), b"q", b"before", t).unwrap();
    s.end_turn(t);
    assert_eq!(s.take_enqueued(), []);
    s.keep_enqueued();
    s.enqueue(c(1), b"q", b"x", t).unwrap();
    s.enqueue_quiet(b"r", b"yz", t).unwrap();
    s.end_turn(t);
    let got: Vec<(String, u64, Vec<u8>)> = s
        .take_enqueued()
        .into_iter()
        .map(|e| (e.queue.to_string(), e.id, e.payload.to_vec()))
        .collect();
    assert_eq!(
        got,
        [
            ("q".into(), 2, b"x".to_vec()),
            ("r".into(), 1, b"yz".to_vec())
        ]
    );
    assert_eq!(s.take_enqueued(), []);
}

#[test]
fn a_closed_member_fails_the_requests_it_was_serving() {
    let t = Instant::now();
    let mut s = svc();
    s.rpc.serve(c(2), b"svc");
    let (to, _) = s.rpc.request(c(1), b"svc", b"k1\nping", |_| true).unwrap();
    assert_eq!(to, c(2));
    assert_eq!(
        texts(&s.closed(c(2), t)),
        [(1, "NACK k1\n10\nconnection closed".into())]
    );
    assert_eq!(s.rpc.members(b"svc"), 0);
}

#[test]
fn settings_choose_a_memory_or_a_disk_store() {
    let mut settings = crate::server::Settings::default();
    let s = QueueService::for_settings(&settings).unwrap();
    assert_eq!(s.describe(), "memory (not durable)");
    let dir = std::env::temp_dir().join(format!("ducq-qsvc-{}", std::process::id()));
    settings.data_dir = Some(dir.clone());
    let s = QueueService::for_settings(&settings).unwrap();
    assert_eq!(s.describe(), dir.join("queues.redb").display().to_string());
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn repeated_failures_are_logged_once_and_an_empty_turn_is_no_recovery() {
    let t = Instant::now();
    let fail = std::rc::Rc::new(std::cell::RefCell::new(None));
    let mut s = QueueService::open(Box::new(Failing(fail.clone())), Limits::default()).unwrap();
    let turn = |s: &mut QueueService, e: Option<StoreError>, enqueue: bool| {
        *fail.borrow_mut() = e;
        if enqueue {
            s.enqueue(c(1), b"q", b"x", t).unwrap();
        }
        s.end_turn(t).1
    };
    let io = StoreError {
        text: "Input/output error (os error 5)".into(),
        full: false,
    };
    let full = |text: &str| StoreError {
        text: text.into(),
        full: true,
    };
    // The same failure twice: one line.
    assert_eq!(turn(&mut s, Some(io.clone()), true).len(), 1);
    assert_eq!(turn(&mut s, Some(io), true), Vec::<String>::new());
    // Out of space, whatever the words: one line for both.
    assert_eq!(turn(&mut s, Some(full("write: no space")), true).len(), 1);
    assert_eq!(
        turn(&mut s, Some(full("reopen: no space")), true),
        Vec::<String>::new()
    );
    // A turn that commits nothing says nothing, and does not reset the count.
    assert_eq!(turn(&mut s, None, false), Vec::<String>::new());
    assert_eq!(s.commit_counts(), (0, 4));
    assert_eq!(
        turn(&mut s, None, true),
        ["queue commit succeeds again, after 4 failed (their changes were refused)"]
    );
}

// ---- glue.rs: the hub's side, on a real hub over socket pairs ----

mod glue {
    use super::*;
    use crate::server::hub::tests::{connect, frame, hub, read_now, tcp};
    use crate::server::hub::Hub;
    use crate::transport::{Step, Transport};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A request/response codec: holds its input until a reply is encoded
    /// (while `holding`), and takes no unasked messages.
    struct Held {
        holding: bool,
        release: bool,
    }

    impl Transport for Held {
        fn name(&self) -> &str {
            "HELD"
        }
        fn decode<'a>(&mut self, _input: &'a mut [u8], _out: &mut Vec<u8>) -> Step<'a> {
            Step::need_more()
        }
        fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
            self.holding &= !self.release;
            out.extend_from_slice(msg);
        }
        fn accepts_push(&self) -> bool {
            false
        }
        fn holds_input(&self) -> bool {
            self.holding
        }
    }

    /// A connection of the `Held` codec, with `input` read and not decoded.
    fn held(hub: &mut Hub, holding: bool, release: bool, input: &[u8]) -> usize {
        let (key, peer) = connect(hub, Box::new(Held { holding, release }));
        std::mem::forget(peer);
        hub.conns
            .get_mut(key)
            .unwrap()
            .input
            .extend_from_slice(input);
        key
    }

    fn id(hub: &Hub, key: usize) -> ConnId {
        hub.conn_id(key).unwrap()
    }

    #[test]
    fn the_hub_holds_the_service_and_a_deferred_reply_once() {
        let (mut hub, _poll) = hub();
        assert_eq!(hub.queues().describe(), "memory (not durable)");
        let store = Recording {
            records: Vec::new(),
            committed: Default::default(),
        };
        hub.set_queues(QueueService::open(Box::new(store), Limits::default()).unwrap());
        assert_eq!(hub.queues().describe(), "recording");
        assert_eq!(
            hub.queues_mut().enqueue_quiet(b"q", b"x", Instant::now()),
            Ok(1)
        );
        assert_eq!(hub.queues().bytes(), 1);
        assert!(!hub.take_deferred());
        hub.defer_reply();
        assert!(hub.take_deferred());
        assert!(!hub.take_deferred());
    }

    #[test]
    fn a_late_reply_that_frees_held_input_has_it_read_again_once() {
        let (mut hub, _poll) = hub();
        // Holding input, freed by the reply: read again, once.
        let a = held(&mut hub, true, true, b"GET /next");
        assert!(hub.send_to(id(&hub, a), b"reply"));
        assert!(hub.send_to(id(&hub, a), b"again"));
        // Not freed by the reply; no input held; not holding at all.
        let b = held(&mut hub, true, false, b"GET /next");
        let c = held(&mut hub, true, true, b"");
        let d = held(&mut hub, false, false, b"GET /next");
        for k in [b, c, d] {
            assert!(hub.send_to(id(&hub, k), b"reply"));
        }
        assert_eq!(hub.take_held_input(), [a]);
        assert_eq!(hub.take_held_input(), Vec::<usize>::new());
        // Freed, but closing: nothing to read again.
        let e = held(&mut hub, true, true, b"GET /next");
        let ide = id(&hub, e);
        hub.close(e, "test");
        assert!(!hub.send_to(ide, b"reply"));
        assert_eq!(hub.take_held_input(), Vec::<usize>::new());
        // A stale id reaches nobody.
        hub.reap();
        assert!(!hub.send_to(ide, b"reply"));
        assert!(!hub.can_stream(e));
        assert!(!hub.can_stream(a));
        let (t, _pt) = tcp(&mut hub);
        assert!(hub.can_stream(t));
    }

    #[test]
    fn requests_go_to_a_live_member_and_replies_come_back() {
        let (mut hub, _poll) = hub();
        let lines = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&lines);
        hub.logger_mut()
            .set_hook(Box::new(move |r| sink.borrow_mut().push(r.line())));
        let (req, mut preq) = tcp(&mut hub);
        let (m1, mut pm1) = tcp(&mut hub);
        let (m2, mut pm2) = tcp(&mut hub);
        let (idr, id1, id2) = (id(&hub, req), id(&hub, m1), id(&hub, m2));
        hub.queues_mut().rpc.serve(id1, b"svc");
        hub.queues_mut().rpc.serve(id2, b"svc");
        // A closing member is skipped.
        hub.close(m1, "test");
        assert_eq!(hub.forward_request(idr, b"svc", b"c1\nping"), Ok(()));
        hub.flush_dirty();
        assert_eq!(read_now(&mut pm2), frame(b"req svc\n1\nping"));
        assert_eq!(read_now(&mut pm1), b"");
        assert_eq!(hub.queues().rpc.in_flight(), 1);
        hub.relay_reply(id2, b"1", b"pong", true);
        hub.flush_dirty();
        assert_eq!(read_now(&mut preq), frame(b"rep c1\npong"));
        assert_eq!(hub.queues().rpc.in_flight(), 0);
        // Nobody alive: refused with the correlation id.
        hub.close(m2, "test");
        assert_eq!(
            hub.forward_request(idr, b"svc", b"c2\nping"),
            Err((b"c2".to_vec(), State::ENotFound))
        );
        hub.reap();
        // A new member, in a slot used before, gets the next request.
        let (m3, mut pm3) = tcp(&mut hub);
        let id3 = id(&hub, m3);
        hub.queues_mut().rpc.serve(id3, b"svc");
        assert_eq!(hub.forward_request(idr, b"svc", b"c3\nx"), Ok(()));
        hub.flush_dirty();
        assert_eq!(read_now(&mut pm3), frame(b"req svc\n2\nx"));
        // The requester gone: the reply is dropped and logged.
        hub.close(req, "test");
        hub.reap();
        hub.relay_reply(id3, b"2", b"late", true);
        hub.relay_reply(id3, b"zz", b"late", true);
        let logged: Vec<String> = lines
            .borrow()
            .iter()
            .filter(|l| l.contains(",rep,"))
            .cloned()
            .collect();
        assert_eq!(logged.len(), 2, "{logged:?}");
        assert!(
            logged[0].ends_with("reply to request 2 dropped: its requester is gone"),
            "{logged:?}"
        );
        assert!(
            logged[1].ends_with("reply to 'zz' dropped: not a request token"),
            "{logged:?}"
        );
    }

    #[test]
    fn the_turn_end_and_a_closed_connection_send_what_waited() {
        let (mut hub, _poll) = hub();
        let (a, mut pa) = tcp(&mut hub);
        let (b, mut pb) = tcp(&mut hub);
        let (c, mut pc) = tcp(&mut hub);
        let t = Instant::now();
        let (ida, idb, idc) = (id(&hub, a), id(&hub, b), id(&hub, c));
        hub.queues_mut().enqueue(ida, b"q", b"m", t).unwrap();
        hub.queues_mut().consume(idb, b"q", b"1").unwrap();
        hub.queues_mut().consume(idc, b"q", b"1").unwrap();
        hub.end_queue_turn(t);
        hub.flush_dirty();
        assert_eq!(read_now(&mut pa), frame(b"1"));
        assert_eq!(read_now(&mut pb), frame(b"qmsg q\n1 1\nm"));
        // b goes: what it held goes to c, at the next turn's end.
        hub.queue_conn_closed(idb, t);
        hub.end_queue_turn(t);
        hub.flush_dirty();
        assert_eq!(read_now(&mut pc), frame(b"qmsg q\n1 2\nm"));
        // A member that goes fails its requests at once.
        hub.queues_mut().rpc.serve(idb, b"svc");
        hub.forward_request(ida, b"svc", b"k\nx").unwrap();
        hub.queue_conn_closed(idb, t);
        hub.flush_dirty();
        assert_eq!(read_now(&mut pa), frame(b"NACK k\n10\nconnection closed"));
    }
}
