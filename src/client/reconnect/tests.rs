//! The reconnecting client against an in-process server that is stopped,
//! restarted on the same port, or told to drop the client (`unsub`): the
//! back-off schedule as its events report it, resubscription with replay
//! de-duplication, and both offline policies.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::server::test_server::ThreadServer;
use crate::server::{Level, Settings};

const WAIT: Duration = Duration::from_secs(5);

type Server = ThreadServer;

/// A broker on `addr` keeping `history` messages per route, quiet.
fn start(addr: &str, history: usize) -> Server {
    let settings = Settings {
        history,
        log_level: Level::Off,
        ..Settings::default()
    };
    ThreadServer::start(addr, settings)
}

/// A plain client of `server`.
fn client(server: &Server) -> Client {
    Client::connect(&server.addr.to_string(), WAIT).unwrap()
}

fn fast(offline: Offline, max_attempts: Option<u32>) -> Policy {
    Policy {
        backoff: Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(20),
            factor: 2,
            jitter: 0.0,
        },
        max_attempts,
        offline,
    }
}

/// Events as text, for exact comparisons.
fn record(c: &mut Reconnecting) -> Rc<RefCell<Vec<String>>> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = Rc::clone(&log);
    c.on_event(move |e| {
        let line = match e {
            Event::Disconnected { .. } => "disconnected".to_string(),
            Event::Retrying { attempt, delay, .. } => {
                format!("retry {attempt} after {} ms", delay.as_millis())
            }
            Event::Reconnected {
                attempts,
                resubscribed,
                flushed,
            } => format!("reconnected after {attempts}, {resubscribed} subs, {flushed} sent"),
            Event::SubscriptionRefused { route, .. } => format!("refused {route}"),
            Event::GaveUp { attempts } => format!("gave up after {attempts}"),
        };
        l.borrow_mut().push(line);
    });
    log
}

#[test]
fn backoff_doubles_to_the_cap_then_gives_up() {
    let server = start("127.0.0.1:0", 1);
    let addr = server.addr.to_string();
    let mut c = Reconnecting::connect(&addr, WAIT, fast(Offline::Fail, Some(5))).unwrap();
    c.set_timeout(None).unwrap();
    let log = record(&mut c);
    drop(server);
    let e = c.receive().unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert_eq!(
        *log.borrow(),
        [
            "disconnected",
            "retry 1 after 5 ms",
            "retry 2 after 10 ms",
            "retry 3 after 20 ms",
            "retry 4 after 20 ms",
            "retry 5 after 20 ms",
            "gave up after 5",
        ]
    );
    assert!(!c.is_connected());
    // Given up: calls fail at once until `reconnect` starts over.
    assert!(matches!(c.receive(), Err(Error::Offline { full: false })));
    let n = log.borrow().len();
    assert!(c.reconnect().is_err());
    assert_eq!(log.borrow()[n], "retry 1 after 5 ms");
    assert_eq!(log.borrow().last().unwrap(), "gave up after 5");
}

#[test]
fn zero_attempts_means_a_lost_connection_is_an_error() {
    let server = start("127.0.0.1:0", 1);
    let addr = server.addr.to_string();
    let mut c = Reconnecting::connect(&addr, WAIT, fast(Offline::Fail, Some(0))).unwrap();
    c.set_timeout(None).unwrap();
    let log = record(&mut c);
    drop(server);
    assert!(matches!(c.receive(), Err(Error::Closed)));
    assert_eq!(*log.borrow(), ["disconnected", "gave up after 0"]);
}

#[test]
fn resubscribes_and_replays_only_what_was_missed() {
    let server = start("127.0.0.1:0", 3);
    let addr = server.addr.to_string();
    let mut c = Reconnecting::connect(&addr, WAIT, fast(Offline::Fail, None)).unwrap();
    let log = record(&mut c);
    assert_eq!(c.subscribe("a/#", "last 3").unwrap(), None);
    assert_eq!(c.subscribe("b", "add").unwrap(), None);
    let mut p = client(&server);
    p.publish("a/x", b"1").unwrap();
    p.publish("a/x", b"2").unwrap();
    assert_eq!(c.receive().unwrap(), b"pub a/x\n1");
    assert_eq!(c.receive().unwrap(), b"pub a/x\n2");
    // The server drops the client; what is published meanwhile is stored.
    let id = c.client_mut().unwrap().id();
    p.emit("unsub", "x", id.as_bytes()).unwrap();
    assert_eq!(p.receive_reply().unwrap(), b"ACK");
    p.publish("a/x", b"3").unwrap();
    p.publish("b", b"not stored for c").unwrap();
    // Replayed: 1, 2 (seen: dropped) and 3 (missed: delivered), once.
    assert_eq!(c.receive().unwrap(), b"pub a/x\n3");
    p.publish("b", b"live").unwrap();
    p.publish("a/x", b"4").unwrap();
    assert_eq!(c.receive().unwrap(), b"pub b\nlive");
    assert_eq!(c.receive().unwrap(), b"pub a/x\n4");
    // Nothing twice.
    c.set_timeout(Some(Duration::from_millis(200))).unwrap();
    assert!(matches!(c.receive(), Err(Error::Timeout)));
    assert_eq!(
        *log.borrow(),
        [
            "disconnected",
            "retry 1 after 5 ms",
            "reconnected after 1, 2 subs, 0 sent",
        ]
    );
    // Both subscriptions hold on the server, each once.
    let lines: Vec<String> = p
        .list("lsconn")
        .unwrap()
        .iter()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .filter(|l| !l.ends_with(','))
        .collect();
    let theirs: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split_once(','))
        .map(|(_, r)| r)
        .collect();
    assert_eq!(theirs, ["a/#", "b"]);
}

#[test]
fn a_refused_subscription_is_reported_and_forgotten() {
    let server = start("127.0.0.1:0", 1);
    let addr = server.addr.to_string();
    let mut c = Reconnecting::connect(&addr, WAIT, fast(Offline::Fail, None)).unwrap();
    let log = record(&mut c);
    c.subscribe("ok", "").unwrap();
    // Accepted by this server, refused by the next (shorter routes).
    let long = "r".repeat(100);
    c.subscribe(&long, "add").unwrap();
    let port = server.addr.port();
    drop(server);
    let settings = Settings {
        max_route: 50,
        log_level: Level::Off,
        ..Settings::default()
    };
    let server = ThreadServer::start(&format!("127.0.0.1:{port}"), settings);
    c.set_timeout(Some(Duration::from_millis(300))).unwrap();
    assert!(matches!(c.receive(), Err(Error::Timeout)));
    let got = log.borrow().clone();
    let retries = got.iter().filter(|l| l.starts_with("retry")).count();
    assert_eq!(got[0], "disconnected");
    assert_eq!(got[got.len() - 2], format!("refused {long}"));
    assert_eq!(
        got[got.len() - 1],
        format!("reconnected after {retries}, 1 subs, 0 sent")
    );
    let mut p = client(&server);
    p.publish("ok", b"still here").unwrap();
    c.set_timeout(Some(WAIT)).unwrap();
    assert_eq!(c.receive().unwrap(), b"pub ok\nstill here");
}

#[test]
fn offline_buffer_is_bounded_and_sent_in_order_on_reconnect() {
    let server = start("127.0.0.1:0", 1);
    let addr = server.addr.to_string();
    let policy = fast(
        Offline::Buffer {
            messages: 2,
            bytes: 1 << 10,
        },
        None,
    );
    let mut c = Reconnecting::connect(&addr, WAIT, policy).unwrap();
    let log = record(&mut c);
    drop(server);
    assert_eq!(
        c.publish("q", b"one").unwrap_or(Published::Acked),
        Published::Buffered
    );
    assert_eq!(c.publish("q", b"two").unwrap(), Published::Buffered);
    assert!(matches!(
        c.publish("q", b"three"),
        Err(Error::Offline { full: true })
    ));
    assert_eq!(c.buffered(), 2);
    let server = start(&addr, 1);
    let mut s = client(&server);
    s.subscribe("q", "").unwrap();
    // Sent in order as soon as the connection is back; the third is gone.
    c.reconnect().unwrap();
    assert_eq!(c.buffered(), 0);
    assert_eq!(s.receive().unwrap(), b"pub q\none");
    assert_eq!(s.receive().unwrap(), b"pub q\ntwo");
    assert_eq!(c.publish("q", b"four").unwrap(), Published::Acked);
    assert_eq!(s.receive().unwrap(), b"pub q\nfour");
    assert!(log
        .borrow()
        .last()
        .is_some_and(|l| l.ends_with(", 0 subs, 2 sent")));
}

#[test]
fn offline_fail_errs_at_once() {
    let server = start("127.0.0.1:0", 1);
    let addr = server.addr.to_string();
    let mut policy = fast(Offline::Fail, None);
    // Long enough that no attempt is due during the test.
    policy.backoff.initial = Duration::from_secs(60);
    policy.backoff.max = Duration::from_secs(60);
    let mut c = Reconnecting::connect(&addr, WAIT, policy).unwrap();
    drop(server);
    // The first publish finds the connection gone; nothing is kept.
    let first = c.publish("q", b"x");
    assert!(
        matches!(first, Err(Error::Offline { full: false })),
        "{first:?}"
    );
    assert!(matches!(
        c.publish("q", b"y"),
        Err(Error::Offline { full: false })
    ));
    assert_eq!(c.buffered(), 0);
    assert_eq!(
        Error::Offline { full: false }.state(),
        crate::proto::State::EConnClosed
    );
    assert_eq!(
        Error::Offline { full: true }.state(),
        crate::proto::State::EMax
    );
}

#[test]
fn with_client_sets_up_each_connection_by_its_connector() {
    let server = start("127.0.0.1:0", 0);
    let addr = server.addr.to_string();
    // The connector's own setup (here a subscription this type does not
    // know of, standing for a queue consumer) is made on every connection.
    let a = addr.clone();
    let connector: Connector<DefaultStream> = Box::new(move || {
        let mut c = Client::connect(&a, WAIT)?;
        c.subscribe("setup", "")?;
        Ok(c)
    });
    let mut c = Reconnecting::new(connector, fast(Offline::Fail, None), Some(WAIT)).unwrap();
    let log = record(&mut c);
    let mut p = client(&server);
    p.publish("setup", b"first").unwrap();
    assert_eq!(c.with_client(|c| c.receive()).unwrap(), b"pub setup\nfirst");
    // A NACK is the call's answer: the connection stays.
    let nack = c.with_client(|c| c.publish("", b"x"));
    assert!(matches!(nack, Err(Error::Nack { .. })), "{nack:?}");
    assert!(c.is_connected());
    drop(server);
    // The call that meets the break is not repeated.
    let lost = c.with_client(|c| c.receive());
    assert!(
        matches!(lost, Err(Error::Offline { full: false })),
        "{lost:?}"
    );
    assert!(!c.is_connected());
    let server = start(&addr, 0);
    // The next call reconnects first (the connector subscribes again).
    let mut calls = 0;
    c.with_client(|_| {
        calls += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(calls, 1);
    let mut p = client(&server);
    p.publish("setup", b"second").unwrap();
    assert_eq!(
        c.with_client(|c| c.receive()).unwrap(),
        b"pub setup\nsecond"
    );
    assert_eq!(
        *log.borrow(),
        [
            "disconnected",
            "retry 1 after 5 ms",
            "reconnected after 1, 0 subs, 0 sent",
        ]
    );
}

#[test]
fn with_client_returns_the_error_once_the_policy_gives_up() {
    let server = start("127.0.0.1:0", 0);
    let addr = server.addr.to_string();
    let mut c = Reconnecting::connect(&addr, WAIT, fast(Offline::Fail, Some(0))).unwrap();
    c.set_timeout(None).unwrap();
    drop(server);
    let lost = c.with_client(|c| c.receive());
    assert!(
        matches!(lost, Err(Error::Offline { full: false })),
        "{lost:?}"
    );
    assert!(matches!(c.with_client(|_| Ok(())), Err(Error::Closed)));
}
