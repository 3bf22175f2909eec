//! Unit tests of repeated publications (`hub/repeat.rs`) on a real reactor
//! driven by hand: a burst of publications read in one turn must leave
//! exactly what dispatching each of them would (every ACK, every delivery
//! in order, the newest stored and counted, every refusal), and a run must
//! end at anything that could change the answer.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use super::*;
use crate::proto::{message, State};
use crate::server::conn::tests::queued;
use crate::server::test_server::{accept_client, answer, logged_reactor};
use crate::server::Settings;
use crate::transport::tcp::TcpCodec;

fn reactor(settings: Settings) -> (Reactor, SocketAddr) {
    let mut r = Reactor::new(settings).unwrap();
    r.hub_mut().logger_mut().stderr = false;
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    (r, addr)
}

/// `msgs`, each framed, one after the other.
fn framed<M: AsRef<[u8]>>(msgs: &[M]) -> Vec<u8> {
    msgs.iter()
        .flat_map(|m| TcpCodec::frame(m.as_ref()))
        .collect()
}

/// Sends `msgs` in one write and has the reactor read them in one turn.
fn burst<M: AsRef<[u8]>>(r: &mut Reactor, client: &mut TcpStream, key: usize, msgs: &[M]) {
    let bytes = framed(msgs);
    client.write_all(&bytes).unwrap();
    queued(&r.hub.conns[key].socket, bytes.len());
    r.read(key, Instant::now(), false);
}

/// A client subscribed to `pattern` (its ACK read).
fn subscriber(r: &mut Reactor, addr: SocketAddr, pattern: &str) -> (TcpStream, usize) {
    let (mut s, key) = accept_client(r, addr);
    burst(r, &mut s, key, &[format!("sub {pattern}\n")]);
    assert_eq!(answer(r, &mut s, 5), framed(&["ACK"]));
    (s, key)
}

/// `pub ROUTE\nPAYLOAD` for each payload.
fn pubs(route: &str, payloads: &[&str]) -> Vec<Vec<u8>> {
    payloads
        .iter()
        .map(|p| format!("pub {route}\n{p}").into_bytes())
        .collect()
}

#[test]
fn every_repeat_is_acked_delivered_in_order_stored_and_counted() {
    let (mut r, addr) = reactor(Settings::default());
    let (mut exact, _) = subscriber(&mut r, addr, "r/x");
    let (mut pattern, _) = subscriber(&mut r, addr, "r/#");
    let (mut p, pk) = accept_client(&mut r, addr);
    let payloads: Vec<String> = (0..40)
        .map(|i| "y".repeat(i % 7) + &i.to_string())
        .collect();
    let refs: Vec<&str> = payloads.iter().map(String::as_str).collect();
    let msgs = pubs("r/x", &refs);
    let before = r.hub().metrics.clone();
    burst(&mut r, &mut p, pk, &msgs);

    assert_eq!(r.hub().repeats(), 39, "the first goes the whole way");
    assert_eq!(answer(&mut r, &mut p, 200), framed(&["ACK"; 40]));
    let want = framed(&msgs);
    assert_eq!(answer(&mut r, &mut exact, want.len()), want);
    assert_eq!(answer(&mut r, &mut pattern, want.len()), want);
    let hub = r.hub();
    assert_eq!(hub.last.get(b"r/x"), Some(&msgs[39][..]));
    assert_eq!(
        hub.last.matching_counted(b"r/x"),
        [(&msgs[39][..], 40)],
        "counted as forty publications"
    );
    let m = &hub.metrics;
    assert_eq!(m.messages_in - before.messages_in, 40);
    assert_eq!(m.publications - before.publications, 40);
    assert_eq!(m.deliveries - before.deliveries, 80);
    assert_eq!(
        m.messages_out - before.messages_out,
        120,
        "ACKs and deliveries"
    );
}

#[test]
fn a_run_ends_at_any_other_message_which_sees_the_store_up_to_date() {
    // `last` between repeats reads the newest; a `sub` by the publisher to
    // its own route makes its own copies follow each ACK; another route
    // in between is published and stored in its place.
    let (mut r, addr) = reactor(Settings::default());
    let (mut all, _) = subscriber(&mut r, addr, "#");
    let (mut p, pk) = accept_client(&mut r, addr);
    let msgs: Vec<Vec<u8>> = vec![
        b"pub r\n1".to_vec(),
        b"pub r\n2".to_vec(),
        b"last r\n".to_vec(),
        b"pub r\n3".to_vec(),
        b"pub q\n4".to_vec(),
        b"pub r\n5".to_vec(),
        b"sub r\n".to_vec(),
        b"pub r\n6".to_vec(),
        b"pub r\n7".to_vec(),
    ];
    burst(&mut r, &mut p, pk, &msgs);

    let ack: &[u8] = b"ACK";
    let want = framed(&[
        ack,
        ack,
        b"pub r\n2",
        ack,
        ack,
        ack,
        ack,
        ack,
        b"pub r\n6",
        ack,
        b"pub r\n7",
    ]);
    assert_eq!(answer(&mut r, &mut p, want.len()), want);
    let published: Vec<&Vec<u8>> = msgs.iter().filter(|m| m.starts_with(b"pub")).collect();
    let want = framed(&published);
    assert_eq!(answer(&mut r, &mut all, want.len()), want);
    let hub = r.hub();
    assert_eq!(hub.last.matching_counted(b"r"), [(&b"pub r\n7"[..], 6)]);
    assert_eq!(hub.last.matching_counted(b"q"), [(&b"pub q\n4"[..], 1)]);
    // Repeats: 2 (after 1), 6 would be one but the publisher is now a
    // subscriber of r, so none after the `sub`.
    assert_eq!(hub.repeats(), 1);
}

#[test]
fn a_channel_on_the_route_judges_every_publication() {
    let (mut r, addr) = reactor(Settings::default());
    let (mut s, _) = subscriber(&mut r, addr, "r");
    let (mut p, pk) = accept_client(&mut r, addr);
    burst(&mut r, &mut p, pk, &["chan add c\npattern=r max_payload=4"]);
    assert_eq!(answer(&mut r, &mut p, 5), framed(&["ACK"]));
    let msgs = pubs("r", &["abc", "abcdefgh", "xy"]);
    burst(&mut r, &mut p, pk, &msgs);

    let nack = message::nack(State::EMsgSize);
    let want = framed(&[&b"ACK"[..], &nack, b"ACK"]);
    assert_eq!(answer(&mut r, &mut p, want.len()), want);
    let want = framed(&[&msgs[0], &msgs[2]]);
    assert_eq!(answer(&mut r, &mut s, want.len()), want);
    assert_eq!(r.hub().repeats(), 0);
    // A route no channel governs runs as ever beside one that has.
    burst(&mut r, &mut p, pk, &pubs("free", &["1", "2", "3"]));
    assert_eq!(answer(&mut r, &mut p, 15), framed(&["ACK"; 3]));
    assert_eq!(r.hub().repeats(), 2);
}

#[test]
fn debug_logging_sees_every_publication() {
    let settings = Settings {
        log_level: crate::server::log::Level::Debug,
        ..Settings::default()
    };
    let (mut r, lines) = logged_reactor(settings);
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let (mut p, pk) = accept_client(&mut r, addr);
    burst(&mut r, &mut p, pk, &pubs("r", &["1", "2", "3"]));
    assert_eq!(answer(&mut r, &mut p, 15), framed(&["ACK"; 3]));
    let dispatched = lines
        .borrow()
        .iter()
        .filter(|l| l.contains("dispatch") && l.contains("pub r"))
        .count();
    assert_eq!(dispatched, 3);
    assert_eq!(r.hub().repeats(), 0);
}

#[test]
fn a_large_publication_after_a_run_takes_the_shared_path_and_is_stored() {
    let (mut r, addr) = reactor(Settings::default());
    let (mut s, _) = subscriber(&mut r, addr, "r");
    let (mut p, pk) = accept_client(&mut r, addr);
    let big = "z".repeat(10_000);
    let msgs = pubs("r", &["a", "b", &big, "c"]);
    burst(&mut r, &mut p, pk, &msgs);

    assert_eq!(answer(&mut r, &mut p, 20), framed(&["ACK"; 4]));
    let want = framed(&msgs);
    assert_eq!(answer(&mut r, &mut s, want.len()), want);
    assert_eq!(r.hub().last.matching_counted(b"r"), [(&msgs[3][..], 4)]);
    // "b" repeats "a"; the large one ends the run (it is published from
    // its own buffer) and starts the next, which "c" repeats.
    assert_eq!(r.hub().repeats(), 2);
}

#[test]
fn a_deeper_history_stores_every_publication() {
    let (mut r, addr) = reactor(Settings {
        history: 3,
        ..Settings::default()
    });
    let (mut p, pk) = accept_client(&mut r, addr);
    let msgs = pubs("r", &["1", "2", "3", "4"]);
    burst(&mut r, &mut p, pk, &msgs);
    assert_eq!(answer(&mut r, &mut p, 20), framed(&["ACK"; 4]));
    burst(&mut r, &mut p, pk, &["last r\n3"]);
    let want = framed(&msgs[1..]);
    assert_eq!(answer(&mut r, &mut p, want.len()), want);
    assert_eq!(r.hub().repeats(), 0);
}

#[test]
fn access_lists_pass_repeats_of_what_they_allow_and_refuse_the_rest() {
    use crate::server::auth::{Acl, AuthConfig};
    let (mut r, addr) = reactor(Settings::default());
    r.hub_mut().set_auth(AuthConfig {
        anonymous: Acl {
            publish: vec![b"open/*".to_vec()],
            subscribe: Vec::new(),
        },
        ..AuthConfig::default()
    });
    let (mut p, pk) = accept_client(&mut r, addr);
    let mut msgs = pubs("open/a", &["1", "2", "3"]);
    msgs.extend(pubs("shut/b", &["4", "5"]));
    burst(&mut r, &mut p, pk, &msgs);

    let nack = message::nack(State::EAccess);
    let want = framed(&[&b"ACK"[..], b"ACK", b"ACK", &nack, &nack]);
    assert_eq!(answer(&mut r, &mut p, want.len()), want);
    assert_eq!(r.hub().repeats(), 2);
    assert_eq!(r.hub().last.get(b"shut/b"), None);
}

#[test]
fn a_subscriber_past_the_high_water_mark_holds_its_publisher_after_the_run() {
    // The run's deliveries are queued together, at the latest when its
    // input ends: then the publisher is held, as after any publication
    // that fills a queue past the mark, and nothing is lost.
    let (mut r, addr) = reactor(Settings {
        output_high_water: 1000,
        output_low_water: 100,
        ..Settings::default()
    });
    let (mut s, sk) = subscriber(&mut r, addr, "r");
    let (mut p, pk) = accept_client(&mut r, addr);
    let payloads: Vec<String> = (0..100).map(|i| format!("{i:0>50}")).collect();
    let refs: Vec<&str> = payloads.iter().map(String::as_str).collect();
    let msgs = pubs("r", &refs);
    burst(&mut r, &mut p, pk, &msgs);
    assert!(r.hub.conns[pk].input_held(), "the publisher is held");
    assert!(r.hub.conns[sk].pending_output() > 1000);
    // The subscriber reads: everything arrives, the publisher is let go.
    let want = framed(&msgs);
    assert!(answer(&mut r, &mut s, want.len()) == want);
    assert_eq!(answer(&mut r, &mut p, 500), framed(&["ACK"; 100]));
    assert!(!r.hub.conns[pk].input_held());
}

#[test]
fn a_publisher_that_leaves_its_acks_unread_is_held_mid_run() {
    // Its own answers pass the mark: it is held after that publication,
    // the rest of its input kept, as the full path does; reading them lets
    // it go, and every publication is answered.
    let (mut r, addr) = reactor(Settings {
        output_high_water: 200,
        output_low_water: 50,
        ..Settings::default()
    });
    let (mut p, pk) = accept_client(&mut r, addr);
    burst(&mut r, &mut p, pk, &pubs("r", &["x"; 100]));
    let c = &r.hub.conns[pk];
    assert!(c.input_held(), "held");
    assert_eq!(c.out.pending(), 205, "held once the 41st answer passed 200");
    assert!(!c.input.is_empty(), "the rest kept");
    assert_eq!(answer(&mut r, &mut p, 500), framed(&["ACK"; 100]));
    assert_eq!(
        r.hub().last.matching_counted(b"r"),
        [(&b"pub r\nx"[..], 100)]
    );
}
