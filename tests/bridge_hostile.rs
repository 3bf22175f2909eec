//! Hostile and stalled MQTT and NATS remotes (issue 17): a fake remote (a
//! TCP listener in the test) that (a) accepts and never answers, (b)
//! completes the handshake then stops reading while it keeps sending
//! pings, so the bridge's output backs up, (c) sends garbage mid-session.
//! Each time the local broker serves its other clients during the stall
//! (a pub/sub round trip while the bridge is still on the fake), the
//! bridge ends the connection with a log line saying why, and moves on to
//! a well-behaved remote (the real `nats-server` or Mosquitto, its next
//! address), where what the fake swallowed arrives. And when the broker
//! itself ends a bridge's connection in the middle of a turn, what is
//! published right after still reaches the remote.

mod mqtt_util;
mod nats_util;
mod procs;
mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use ducq::proto::{Message, State};
use ducq::server::bridges::config::BridgeConfig;
use ducq::server::{CommandSet, Hub, Settings};
use mqtt_util::Mosquitto;
use nats_util::{Nats, NatsClient};
use procs::Proc;
use util::{bridge_fields, bridged_logging, log_line, serves, Peer, TestServer, WAIT};

/// Waits until bridge `name` is open (on the fake: the `LOG` subscriber
/// may come after its log line).
fn wait_open(p: &mut Peer, name: &str) {
    let deadline = Instant::now() + WAIT;
    while bridge_fields(p, name)["state"] != "open" {
        assert!(Instant::now() < deadline, "bridge {name} never opened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A fake remote: serves its first connection with `serve`, refuses the
/// others (the bridge goes on to its next address).
fn fake(serve: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            drop(listener);
            serve(s);
        }
    });
    addr
}

/// Reads and drops everything until the bridge closes.
fn drain(mut s: TcpStream) {
    let mut b = [0u8; 65536];
    while matches!(s.read(&mut b), Ok(n) if n > 0) {}
}

/// Reads until `needle` has come (a handshake step).
fn read_until(s: &mut TcpStream, needle: &[u8]) {
    let mut seen = Vec::new();
    let mut b = [0u8; 4096];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let n = s.read(&mut b).unwrap_or(0);
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&b[..n]);
    }
}

/// The well-behaved remote, with a subscriber to `h/#` on it.
enum Real {
    Nats(Nats, NatsClient),
    Mqtt(Mosquitto, Proc),
}

impl Real {
    fn start(kind: &str) -> Real {
        if kind == "nats" {
            let n = Nats::start();
            let mut c = n.client();
            c.sub("h.>");
            return Real::Nats(n, c);
        }
        let m = Mosquitto::start();
        // Line-buffered: mosquitto_sub holds a pipe's lines otherwise.
        let sub = Proc::spawn(Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &m.addr.port().to_string(),
            "-q",
            "1",
            "-t",
            "h/#",
            "-F",
            "=%t|%l",
            "-d",
        ]));
        sub.out().until("received SUBACK");
        Real::Mqtt(m, sub)
    }

    fn addr(&self) -> String {
        match self {
            Real::Nats(n, _) => n.addr(),
            Real::Mqtt(m, _) => m.addr.to_string(),
        }
    }

    /// The next message the subscriber gets: `route|payload length`
    /// (payloads stay out of failure messages).
    fn next(&mut self) -> String {
        match self {
            Real::Nats(_, c) => {
                let (s, p) = c.next();
                format!("{}|{}", s.replace('.', "/"), p.len())
            }
            Real::Mqtt(_, sub) => loop {
                let line = sub.out().next();
                if let Some(m) = line.strip_prefix('=') {
                    return m.to_string();
                }
            },
        }
    }
}

/// A bridge of `kind` to the fake at `fake`, then to `real`.
fn bridged(kind: &str, fake: SocketAddr, real: &Real, keepalive: &str) -> TestServer {
    bridged_logging(&format!(
        "{kind}={fake},addr={},name=h,out=h/#,keepalive={keepalive},backoff_max=0.05",
        real.addr()
    ))
}

/// The bridge moved on to the well-behaved remote, where a publication
/// arrives.
fn reaches_the_real_remote(srv: &TestServer, log: &mut Peer, real: &mut Real) {
    log_line(log, &format!("connected to {}", real.addr()));
    let mut p = srv.peer();
    p.publish("h/after", "fine");
    assert_eq!(real.next(), "h/after|4");
}

#[test]
fn a_remote_that_never_answers_times_out_with_a_clear_line() {
    for kind in ["mqtt", "nats"] {
        let mut real = Real::start(kind);
        let addr = fake(drain);
        let srv = bridged(kind, addr, &real, "0.2");
        let mut log = srv.peer();
        log.sub("LOG");
        let mut l = srv.peer();
        // During the handshake's wait (a second at least).
        serves(&srv, 1);
        assert_eq!(bridge_fields(&mut l, "h")["disconnects"], "0", "{kind}");
        let line = log_line(&mut log, "could not connect");
        assert_eq!(
            line.split("; retrying in").next().unwrap(),
            format!(
                "warning,bridge,bridge-h,could not connect to {addr} \
                 (no answer to the handshake in 1.0 s)"
            ),
            "{kind}"
        );
        reaches_the_real_remote(&srv, &mut log, &mut real);
    }
}

/// Completes a `kind` handshake as the server, then sends its ping every
/// 50 ms and never reads again.
fn stop_reading(kind: &'static str) -> impl FnOnce(TcpStream) + Send + 'static {
    move |mut s| {
        util::set_rcvbuf(&s, 4096);
        let ping: &[u8] = if kind == "nats" {
            let _ = s.write_all(b"INFO {\"max_payload\":1048576}\r\n");
            read_until(&mut s, b"PING\r\n");
            let _ = s.write_all(b"PONG\r\n");
            b"PING\r\n"
        } else {
            // CONNECT in; CONNACK (MQTT 5, no properties) out.
            let mut b = [0u8; 512];
            let _ = s.read(&mut b);
            let _ = s.write_all(&[0x20, 3, 0, 0, 0]);
            &[0xd0, 0] // PINGRESP, unasked
        };
        while s.write_all(ping).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_remote_that_stops_reading_is_left_and_nothing_it_swallowed_is_lost() {
    const N: usize = 100;
    for kind in ["mqtt", "nats"] {
        let mut real = Real::start(kind);
        let addr = fake(stop_reading(kind));
        let srv = bridged(kind, addr, &real, "0.5");
        let mut log = srv.peer();
        log.sub("LOG");
        let mut l = srv.peer();
        wait_open(&mut l, "h");
        // 100 × 64 KiB: more than the sockets between take.
        let srv_addr = srv.addr;
        let publisher = std::thread::spawn(move || {
            let mut p = Peer::connect(srv_addr);
            for i in 0..N {
                p.publish(&format!("h/big/{i}"), &"x".repeat(65536));
            }
            p
        });
        // The bridge's output is stuck; everyone else is served.
        std::thread::sleep(Duration::from_millis(200));
        serves(&srv, 2);
        assert_eq!(bridge_fields(&mut l, "h")["disconnects"], "0", "{kind}");
        let line = log_line(&mut log, "lost");
        let head = format!("warning,bridge,bridge-h,connection to {addr} lost (the remote stopped reading: none of ");
        assert!(line.starts_with(&head), "{kind}: {line}");
        assert!(line.contains(" bytes taken in "), "{kind}: {line}");
        let _p = publisher.join().unwrap();
        // On the real remote: every message, in order, once.
        for i in 0..N {
            assert_eq!(real.next(), format!("h/big/{i}|65536"), "{kind}");
        }
        reaches_the_real_remote(&srv, &mut log, &mut real);
        let f = bridge_fields(&mut l, "h");
        assert_eq!(
            (f["connects"].as_str(), f["disconnects"].as_str()),
            ("2", "1"),
            "{kind}"
        );
    }
}

#[test]
fn garbage_mid_session_ends_the_connection_with_a_clear_line() {
    for kind in ["mqtt", "nats"] {
        let mut real = Real::start(kind);
        let addr = fake(move |mut s| {
            let garbage: &[u8] = if kind == "nats" {
                let _ = s.write_all(b"INFO {}\r\n");
                read_until(&mut s, b"PING\r\n");
                let _ = s.write_all(b"PONG\r\n");
                // A publication comes, then garbage instead of its PONG.
                read_until(&mut s, b"PUB h.first");
                b"THIS IS NOT NATS\r\n"
            } else {
                let mut b = [0u8; 512];
                let _ = s.read(&mut b);
                let _ = s.write_all(&[0x20, 3, 0, 0, 0]);
                read_until(&mut s, b"h/first");
                b"\x00\x00this is not mqtt"
            };
            let _ = s.write_all(garbage);
            drain(s);
        });
        let srv = bridged(kind, addr, &real, "5");
        let mut log = srv.peer();
        log.sub("LOG");
        let mut p = srv.peer();
        wait_open(&mut p, "h");
        p.publish("h/first", "1");
        let line = log_line(&mut log, "lost");
        let why = if kind == "nats" {
            "(unexpected line from the server: \"THIS IS NOT NATS\"); 1 unconfirmed will be sent again;"
        } else {
            "(invalid MQTT from the broker: "
        };
        assert!(
            line.starts_with(&format!(
                "warning,bridge,bridge-h,connection to {addr} lost {why}"
            )),
            "{kind}: {line}"
        );
        serves(&srv, 3);
        // What the fake never confirmed reaches the real remote.
        assert_eq!(real.next(), "h/first|1", "{kind}");
        reaches_the_real_remote(&srv, &mut log, &mut real);
    }
}

/// `cut`: ends bridge `h`'s connection the way the hub ends any
/// connection in the middle of a turn (a failed write, a hard output
/// limit). `stall`: holds the reactor for 300 ms, so that what peers send
/// meanwhile is read in one turn, in the order it arrived.
struct Cut;

impl CommandSet for Cut {
    fn list(&self) -> Vec<(String, String)> {
        vec![
            (
                "cut".into(),
                "ends bridge h's connection (a test command)".into(),
            ),
            ("stall".into(), "sleeps 300 ms (a test command)".into()),
        ]
    }
    fn has(&self, name: &[u8]) -> bool {
        name == b"cut" || name == b"stall"
    }
    fn exec(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        if msg.command == b"stall" {
            std::thread::sleep(Duration::from_millis(300));
            return hub.send(caller, b"stalled");
        }
        let bridge = hub
            .clients()
            .into_iter()
            .find(|&k| {
                hub.client_id(k)
                    .is_some_and(|id| id.starts_with("bridge-h:"))
            })
            .ok_or(State::ENotFound)?;
        hub.close(bridge, "cut by the test");
        hub.send(caller, b"cut")
    }
}

#[test]
fn a_publication_in_the_turn_the_broker_ends_a_bridge_connection_is_kept() {
    let mut real = Real::start("nats");
    let addr = fake(|mut s| {
        let _ = s.write_all(b"INFO {}\r\n");
        read_until(&mut s, b"PING\r\n");
        let _ = s.write_all(b"PONG\r\n");
        drain(s);
    });
    let cfg = BridgeConfig::parse_flag(&format!(
        "nats={addr},addr={},name=h,out=h/#,keepalive=5,backoff_max=0.05",
        real.addr()
    ))
    .expect("bridge spec");
    let srv = TestServer::with_setup(Settings::default(), move |r| {
        r.hub_mut().logger_mut().stderr = false;
        r.add_bridge(cfg).unwrap();
        r.add_command_set(Box::new(Cut)).unwrap();
    });
    let mut p = srv.peer();
    wait_open(&mut p, "h");
    let (mut staller, mut cutter) = (srv.peer(), srv.peer());
    staller.send(b"stall");
    // While the reactor sleeps, `cut` then the publication arrive: the
    // next turn reads both, in that order, so the publication is handed
    // out in the turn that ended the bridge's connection.
    std::thread::sleep(Duration::from_millis(100));
    cutter.send(b"cut");
    std::thread::sleep(Duration::from_millis(50));
    p.publish("h/same-turn", "x");
    staller.expect(b"stalled");
    cutter.expect(b"cut");
    // Held by the stand-in, sent on the next connection: to the real
    // remote, the bridge's next address.
    assert_eq!(real.next(), "h/same-turn|1");
    p.publish("h/after", "yz");
    assert_eq!(real.next(), "h/after|2");
}
