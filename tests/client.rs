//! The blocking Rust client: it answers the server's keep-alive PINGs
//! (so an idle subscriber is never timed out), listens with a callback,
//! requests multipart listings, and turns NACKs into errors.

mod ports;
mod util;

use std::time::{Duration, Instant};

use ducq::client::{Client, Error, Flow};
use ducq::proto::State;
use ducq::server::Settings;
use util::{TestServer, WAIT};

#[test]
fn idle_subscriber_answers_server_pings_and_stays_connected() {
    let srv = TestServer::with(Settings {
        idle_timeout: Duration::from_secs(2),
        ..Settings::default()
    });
    let addr = srv.addr.to_string();
    let mut sub = Client::connect(&addr, WAIT).unwrap();
    sub.subscribe("late", "").unwrap();
    let publisher = std::thread::spawn(move || {
        // Well past the idle timeout: only a client that answered the
        // server's PING (sent at half of it) is still there.
        std::thread::sleep(Duration::from_millis(3500));
        let mut p = Client::connect(&addr, WAIT).unwrap();
        p.publish("late", b"still subscribed").unwrap();
    });
    let started = Instant::now();
    assert_eq!(sub.receive().unwrap(), b"pub late\nstill subscribed");
    assert!(started.elapsed() >= Duration::from_secs(3));
    publisher.join().unwrap();
}

#[test]
fn listen_hands_messages_to_the_callback_until_break() {
    let srv = TestServer::start();
    let addr = srv.addr.to_string();
    let mut sub = Client::connect(&addr, WAIT).unwrap();
    sub.subscribe("l/*", "").unwrap();
    let mut p = Client::connect(&addr, WAIT).unwrap();
    for i in 0..5 {
        p.publish(&format!("l/{i}"), i.to_string().as_bytes())
            .unwrap();
    }
    let mut got = Vec::new();
    sub.listen(|m| {
        got.push(m.to_vec());
        if got.len() == 3 {
            Flow::Break
        } else {
            Flow::Continue
        }
    })
    .unwrap();
    assert_eq!(
        got,
        vec![
            b"pub l/0\n0".to_vec(),
            b"pub l/1\n1".to_vec(),
            b"pub l/2\n2".to_vec()
        ]
    );
    // What listen did not take is still there, in order.
    assert_eq!(sub.receive().unwrap(), b"pub l/3\n3");
}

#[test]
fn list_returns_parts_and_nack_is_an_error_with_its_state() {
    let srv = TestServer::start();
    let mut c = Client::connect(&srv.addr.to_string(), WAIT).unwrap();
    let parts = c.list("lscmd").unwrap();
    assert!(parts[0].starts_with(b"\"lscmd\","));
    match c.publish("", b"x") {
        Err(Error::Nack { state, text }) => {
            assert_eq!(state, State::EMsgInv);
            assert_eq!(text, "message invalid");
        }
        other => panic!("expected a NACK, got {other:?}"),
    }
    // The connection is still usable after the NACK.
    c.publish("ok", b"y").unwrap();
    assert_eq!(
        c.subscribe("ok", "last").unwrap(),
        Some(b"pub ok\ny".to_vec())
    );
}

#[test]
fn connect_timeout_and_refusal_are_clear_errors() {
    let port = ports::free_port();
    let err = Client::connect(&format!("127.0.0.1:{port}"), WAIT)
        .err()
        .unwrap();
    assert_eq!(err.state(), State::EConnect);
    assert!(err.to_string().contains("could not connect"), "{err}");
}
