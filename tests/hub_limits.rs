//! The hub's bookkeeping, pinned exactly (issue 12): the output bound cut
//! at exactly `max_output`, deliveries counted once per connection, a
//! connection identity never reaching the connection that reused its slot,
//! and what closing does to output and subscriptions. The server runs turn
//! by turn in the test's thread (`driven`), so the hub can be looked at
//! between turns; its clients are real loopback sockets.

mod driven;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use driven::Driven;
use ducq::proto::State;
use ducq::server::log::Record;
use ducq::server::{Level, Settings};

fn settings() -> Settings {
    Settings::default()
}

#[test]
fn output_is_cut_past_max_output_not_at_it() {
    let mut d = Driven::new(Settings {
        max_output: 1000,
        ..settings()
    });
    let (mut c, key) = d.connect();
    let hub = d.reactor.hub_mut();
    // A frame of exactly the bound: "996\n" and 996 bytes.
    assert_eq!(hub.send(key, &[b'x'; 996]), Ok(()));
    assert_eq!(hub.conn(key).map(|c| c.pending_output()), Some(1000));
    // Three bytes more ("1\ny") are past it: dropped, and the connection
    // with them, whatever was queued.
    assert_eq!(hub.send(key, b"y"), Err(State::EMax));
    assert!(hub.conn(key).is_none());
    assert_eq!(hub.send(key, b"z"), Err(State::ENotFound));
    assert_eq!(d.closed(&mut c), b"");
    assert!(d.reactor.hub().is_empty());
}

/// The same bound when back-pressure is on (the high-water mark below
/// it): a queue of exactly `max_output` is held, not cut.
#[test]
fn output_is_cut_past_max_output_not_at_it_above_the_high_water_mark() {
    let mut d = Driven::new(Settings {
        max_output: 1000,
        output_high_water: 500,
        output_low_water: 100,
        ..settings()
    });
    let (mut c, key) = d.connect();
    let hub = d.reactor.hub_mut();
    // "600\n" and 600 bytes: past the high-water mark.
    assert_eq!(hub.send(key, &[b'x'; 600]), Ok(()));
    // "392\n" and 392 bytes: exactly the bound.
    assert_eq!(hub.send(key, &[b'x'; 392]), Ok(()));
    assert_eq!(hub.conn(key).map(|c| c.pending_output()), Some(1000));
    assert_eq!(hub.send(key, b"y"), Err(State::EMax));
    assert!(hub.conn(key).is_none());
    assert_eq!(d.closed(&mut c), b"");
}

/// The publisher whose message takes a queue past the high-water mark is
/// held by that very message (counted once), and let go when the queue
/// drains, here at the end of the same turn.
#[test]
fn the_message_that_crosses_the_high_water_mark_holds_its_publisher() {
    let mut d = Driven::new(Settings {
        output_high_water: 100,
        output_low_water: 10,
        ..settings()
    });
    let (mut sub, _) = d.connect();
    assert_eq!(d.call(&mut sub, b"sub r\n"), b"ACK");
    let (mut publ, _) = d.connect();
    let big = [&b"pub r\n"[..], &[b'x'; 200]].concat();
    assert_eq!(d.call(&mut publ, &big), b"ACK");
    assert_eq!(d.recv(&mut sub), big);
    assert_eq!(d.reactor.hub().metrics.publisher_holds, 1);
    // Let go: the next one passes, below the mark, holding nobody.
    assert_eq!(d.call(&mut publ, b"pub r\nsmall"), b"ACK");
    assert_eq!(d.recv(&mut sub), b"pub r\nsmall");
    assert_eq!(d.reactor.hub().metrics.publisher_holds, 1);
}

#[test]
fn queued_output_is_written_in_one_turn_then_nothing_is_pending() {
    let mut d = Driven::new(settings());
    let (mut c, key) = d.connect();
    let hub = d.reactor.hub_mut();
    assert_eq!(hub.send(key, b"one"), Ok(()));
    assert_eq!(hub.send(key, b"two"), Ok(()));
    assert_eq!(hub.conn(key).map(|c| c.pending_output()), Some(10));
    d.turn();
    assert_eq!(
        d.reactor.hub().conn(key).map(|c| c.pending_output()),
        Some(0)
    );
    assert_eq!(d.recv(&mut c), b"one");
    assert_eq!(d.recv(&mut c), b"two");
}

#[test]
fn each_subscriber_gets_a_publication_once_however_many_patterns_match() {
    let mut d = Driven::new(settings());
    let (mut many, many_key) = d.connect();
    for r in ["a/b", "a/*", "*"] {
        assert_eq!(
            d.call(&mut many, format!("sub {r}\nadd").as_bytes()),
            b"ACK"
        );
    }
    let (mut one, _) = d.connect();
    assert_eq!(d.call(&mut one, b"sub a/*\n"), b"ACK");
    let (mut other, other_key) = d.connect();
    assert_eq!(d.call(&mut other, b"sub b\n"), b"ACK");
    let hub = d.reactor.hub_mut();
    assert_eq!(hub.publish(b"a/b", b"pub a/b\n1"), 2);
    assert_eq!(hub.publish(b"b", b"pub b\n2"), 2);
    assert_eq!(hub.fan_out(b"c", b"pub c\n3"), 1);
    // A connection being closed receives nothing more.
    hub.close(other_key, "test");
    assert_eq!(hub.publish(b"b", b"pub b\n4"), 1);
    // Each got what it counted, once.
    assert_eq!(d.recv(&mut many), b"pub a/b\n1");
    assert_eq!(d.recv(&mut many), b"pub b\n2");
    assert_eq!(d.recv(&mut many), b"pub c\n3");
    assert_eq!(d.recv(&mut many), b"pub b\n4");
    assert_eq!(d.recv(&mut one), b"pub a/b\n1");
    assert_eq!(d.closed(&mut other), b"");
    // Only publish stores: the fanned-out message is not a last message.
    assert_eq!(d.call(&mut one, b"sub c\nlast"), b"ACK");
    assert_eq!(d.call(&mut one, b"sub b\nlast"), b"pub b\n4");
    // Nothing more for anyone.
    assert_eq!(d.call(&mut many, b"PING x\n"), b"PONG x\n");
    assert_eq!(d.reactor.hub().subs.routes_of(many_key).len(), 3);
}

#[test]
fn an_identity_never_reaches_the_connection_that_reused_its_slot() {
    let mut d = Driven::new(settings());
    let (first, key) = d.connect();
    let id = d.reactor.hub().conn_id(key).expect("live");
    assert_eq!(id.key, key);
    assert_eq!(d.reactor.hub().resolve(id), Some(key));
    // Marked for closing: no longer resolved, listed or sent to, but
    // still in the slab until the end of the turn.
    d.reactor.hub_mut().close(key, "test");
    assert_eq!(d.reactor.hub().resolve(id), None);
    assert!(d.reactor.hub().clients().is_empty());
    assert!(d.reactor.hub().conn(key).is_none());
    assert_eq!(
        (d.reactor.hub().len(), d.reactor.hub().is_empty()),
        (1, false)
    );
    d.turn();
    assert_eq!(
        (d.reactor.hub().len(), d.reactor.hub().is_empty()),
        (0, true)
    );
    assert_eq!(d.reactor.hub().conn_id(key), None);
    drop(first);
    // The next connection takes the same slot, with a new generation.
    let (_second, again) = d.connect();
    assert_eq!(again, key);
    let new_id = d.reactor.hub().conn_id(again).expect("live");
    assert_ne!(new_id.gen, id.gen);
    assert_eq!(d.reactor.hub().resolve(id), None);
    assert_eq!(d.reactor.hub().resolve(new_id), Some(key));
    assert_eq!(d.reactor.hub().clients(), [key]);
}

#[test]
fn closing_drops_subscriptions_and_pending_output() {
    let mut d = Driven::new(settings());
    let (mut gone, gone_key) = d.connect();
    assert_eq!(d.call(&mut gone, b"sub r\n"), b"ACK");
    let (mut stays, stays_key) = d.connect();
    assert_eq!(d.call(&mut stays, b"sub r\n"), b"ACK");
    let hub = d.reactor.hub_mut();
    assert_eq!(hub.send(gone_key, b"never written"), Ok(()));
    hub.close(gone_key, "test");
    // Twice is once.
    hub.close(gone_key, "again");
    d.turn();
    assert_eq!(d.closed(&mut gone), b"");
    let hub = d.reactor.hub_mut();
    assert!(hub.subs.routes_of(gone_key).is_empty());
    let mut subscribers = Vec::new();
    hub.subs.for_each_subscriber(b"r", |k| subscribers.push(k));
    assert_eq!(subscribers, [stays_key]);
    assert_eq!(hub.publish(b"r", b"pub r\nx"), 1);
    assert_eq!(d.recv(&mut stays), b"pub r\nx");
}

#[test]
fn close_after_flush_writes_what_is_queued_first() {
    let mut d = Driven::new(settings());
    let (mut c, key) = d.connect();
    let hub = d.reactor.hub_mut();
    assert_eq!(hub.send(key, b"last words"), Ok(()));
    hub.close_after_flush(key);
    assert_eq!(d.closed(&mut c), b"10\nlast words");
    assert!(d.reactor.hub().is_empty());
    // With nothing queued it closes too.
    let (mut c, key) = d.connect();
    d.reactor.hub_mut().close_after_flush(key);
    assert_eq!(d.closed(&mut c), b"");
}

#[test]
fn client_ids_name_the_transport_and_peer() {
    let mut d = Driven::new(settings());
    let (c, key) = d.connect();
    let (h, hkey) = d.connect_http();
    let hub = d.reactor.hub();
    let want = format!("TCP:{}", c.stream.local_addr().unwrap());
    assert_eq!(hub.client_id(key), Some(want.clone()));
    assert_eq!(hub.conn(key).map(|c| c.id_string()), Some(want));
    assert_eq!(
        hub.conn(key).map(|c| c.peer()),
        Some(c.stream.local_addr().unwrap())
    );
    let want = format!("HTTP:{}", h.stream.local_addr().unwrap());
    assert_eq!(hub.client_id(hkey), Some(want));
    assert_eq!(hub.client_id(hkey + key + 100), None);
}

#[test]
fn a_log_subscriber_cut_off_by_a_log_line_is_closed_without_logging_again() {
    let mut d = Driven::new(Settings {
        max_output: 100,
        ..settings()
    });
    let lines = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&lines);
    let logger = d.reactor.hub_mut().logger_mut();
    logger.level = Level::Info;
    logger.set_hook(Box::new(move |r: &Record<'_>| {
        sink.borrow_mut().push(r.line())
    }));
    let (mut log, log_key) = d.connect();
    assert_eq!(d.call(&mut log, b"sub LOG\n"), b"ACK");
    lines.borrow_mut().clear();
    // 90 bytes queued, then a log line that does not fit: the subscriber
    // is closed from within the log; that close is not logged (it would
    // log from within a log), the line itself is.
    let hub = d.reactor.hub_mut();
    assert_eq!(hub.send(log_key, &[b'x'; 86]), Ok(()));
    hub.log(Level::Warn, "test", "server", "a line that does not fit");
    assert!(hub.conn(log_key).is_none());
    assert_eq!(
        *lines.borrow(),
        ["warning,test,server,a line that does not fit"]
    );
    assert_eq!(d.closed(&mut log), b"");
    // Logging works as before afterwards.
    let (_c, key) = d.connect();
    let id = d.reactor.hub().client_id(key).unwrap();
    assert_eq!(
        lines.borrow().last().map(String::as_str),
        Some(format!("info,accept,{id},connected").as_str())
    );
}

#[test]
fn idle_checks_run_at_a_quarter_of_the_idle_timeout() {
    for (idle, most) in [
        (Duration::from_millis(200), Duration::from_millis(50)),
        (Duration::from_millis(20), Duration::from_millis(10)),
        (Duration::from_secs(60), Duration::from_secs(1)),
        (Duration::ZERO, Duration::from_secs(1)),
    ] {
        let mut d = Driven::new(Settings {
            idle_timeout: idle,
            ..settings()
        });
        d.turn();
        // Right after a turn, the next is due by the next idle check.
        let next = d.reactor.next_timeout();
        assert!(next <= most, "{idle:?}: {next:?}");
        // And it is a wait, not a spin (a second leaves room for a busy
        // machine between the turn and this line).
        if most == Duration::from_secs(1) {
            assert!(next > Duration::ZERO, "{idle:?}");
        }
    }
}

#[test]
fn a_peer_that_resets_is_closed_and_forgotten() {
    let mut d = Driven::new(settings());
    let (mut c, key) = d.connect();
    assert_eq!(d.call(&mut c, b"sub r\n"), b"ACK");
    // Half a frame waiting, then a reset: a read error, not more input.
    c.raw(b"50\npub r\nhalf");
    c.reset();
    d.until("the reset connection to go", |r| r.hub().is_empty());
    assert!(d.reactor.hub().subs.routes_of(key).is_empty());
}
