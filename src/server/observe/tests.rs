//! Unit tests of the observing command set on a real hub (connections over
//! Unix socket pairs, no reactor): the commands it offers with and without
//! the dashboard, what each answers, what a reading counts, and its
//! one-second timer. The pages' JSON has its tests in `pages.rs`.

use mio::net::UnixStream;

use super::*;
use crate::server::dispatcher::Dispatcher;
use crate::server::hub::tests::{connect, hub, read_now, tcp};
use crate::transport::ws::WsServer;
use crate::transport::{Step, Transport};

/// A codec that only has a name: `Tcp` is another codec than `TCP` for
/// the hub, and the same label for the metrics.
struct Named(&'static str);

impl Transport for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn decode<'a>(&mut self, _input: &'a mut [u8], _out: &mut Vec<u8>) -> Step<'a> {
        Step::need_more()
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(msg);
    }
}

fn names(o: &Observe) -> Vec<String> {
    o.list().into_iter().map(|(n, _)| n).collect()
}

/// Runs `raw` for `caller`; the reply's message without its frame header.
fn ask(
    o: &mut Observe,
    hub: &mut Hub,
    caller: usize,
    peer: &mut UnixStream,
    raw: &[u8],
) -> Result<String, State> {
    o.exec(hub, caller, &Message::parse(raw).unwrap())?;
    hub.flush_dirty();
    let bytes = read_now(peer);
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let (len, body) = (&bytes[..nl], &bytes[nl + 1..]);
    assert_eq!(std::str::from_utf8(len).unwrap(), body.len().to_string());
    Ok(String::from_utf8(body.to_vec()).unwrap())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn the_dashboard_command_comes_only_with_the_dashboard() {
    let without = Observe::new(false).unwrap();
    assert_eq!(
        names(&without),
        ["metrics", "stats", "queues", "routes", "conns"]
    );
    assert!(without.has(b"stats") && without.has(b"conns"));
    assert!(!without.has(b"dashboard"));
    assert!(!without.has(b"stat") && !without.has(b"lscmd"));
    let with = Observe::new(true).unwrap();
    assert_eq!(
        names(&with),
        ["metrics", "stats", "queues", "routes", "conns", "dashboard"]
    );
    assert!(with.has(b"dashboard") && with.has(b"metrics"));
    assert!(!with.has(b"dashboards"));
    let docs: Vec<String> = with.list().into_iter().map(|(_, d)| d).collect();
    let want: Vec<&str> = COMMANDS.iter().map(|(_, d)| *d).collect();
    assert_eq!(docs, want);
    assert_eq!(with.name(), "observe");
}

#[test]
fn each_command_answers_what_it_names() {
    let (mut hub, _poll) = hub();
    let (a, mut peer) = tcp(&mut hub);
    let mut d = Dispatcher::new();
    d.dispatch(&mut hub, a, b"qcreate jobs\n");
    hub.last.set(b"home/door", b"pub home/door\nopen");
    hub.flush_dirty();
    read_now(&mut peer);
    let mut o = Observe::new(false).unwrap();

    let metrics = ask(&mut o, &mut hub, a, &mut peer, b"metrics *\n").unwrap();
    assert!(metrics.starts_with("# HELP "), "{metrics}");
    assert!(
        metrics.contains("\n# TYPE ducq_nacks_total counter\n"),
        "{metrics}"
    );

    let stats = json(&ask(&mut o, &mut hub, a, &mut peer, b"stats *\n").unwrap());
    assert_eq!(stats["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(stats["queues"][0]["name"], "jobs");
    assert_eq!(stats.get("history"), None);
    // A summary leaves the queues one by one out, not their totals.
    let summary = json(&ask(&mut o, &mut hub, a, &mut peer, b"stats *\nsummary").unwrap());
    assert_eq!(summary["queues"], serde_json::json!([]));
    assert_eq!(summary["queue_totals"]["queues"], 1);
    let history = json(&ask(&mut o, &mut hub, a, &mut peer, b"stats *\nhistory").unwrap());
    assert_eq!(history["history"]["interval_seconds"], 1);
    assert_eq!(history["queues"][0]["name"], "jobs");
    assert_eq!(
        ask(&mut o, &mut hub, a, &mut peer, b"stats *\nnonsense"),
        Err(State::EMsgInv)
    );

    let queues = ask(&mut o, &mut hub, a, &mut peer, b"queues *\n0 10").unwrap();
    assert!(queues.contains("\"jobs\""), "{queues}");
    let routes = ask(&mut o, &mut hub, a, &mut peer, b"routes home/#\n0 10").unwrap();
    assert!(routes.contains("\"home/door\""), "{routes}");
    let conns = ask(&mut o, &mut hub, a, &mut peer, b"conns *\n").unwrap();
    assert!(conns.contains("UNIX:/test"), "{conns}");
    assert_eq!(
        ask(&mut o, &mut hub, a, &mut peer, b"routes *\nx"),
        Err(State::EMsgInv)
    );

    // The dashboard's files only where the dashboard is on.
    assert_eq!(
        ask(&mut o, &mut hub, a, &mut peer, b"dashboard /\n"),
        Err(State::ENoCmd)
    );
    let mut with = Observe::new(true).unwrap();
    let index = ask(&mut with, &mut hub, a, &mut peer, b"dashboard /\n").unwrap();
    assert_eq!(index.as_bytes(), assets::find(b"/").unwrap().body);
    assert_eq!(
        ask(
            &mut with,
            &mut hub,
            a,
            &mut peer,
            b"dashboard /no-such.js\n"
        ),
        Err(State::ENotFound)
    );
    assert_eq!(
        ask(&mut with, &mut hub, a, &mut peer, b"lscmd *\n"),
        Err(State::ENoCmd)
    );
}

#[test]
fn a_reading_counts_open_connections_by_listener_and_protocol() {
    let (mut hub, _poll) = hub();
    let (a, _pa) = tcp(&mut hub);
    let (b, _pb) = tcp(&mut hub);
    let (c, _pc) = tcp(&mut hub);
    let (_w, _pw) = connect(&mut hub, Box::new(WsServer::new(1 << 20)));
    let (_n, _pn) = connect(&mut hub, Box::new(Named("Tcp")));
    let (l, _pl) = tcp(&mut hub);
    let on: SocketAddr = "127.0.0.1:1".parse().unwrap();
    hub.conns.get_mut(l).unwrap().listener = Some(on);
    hub.subs.subscribe(a, b"x", true);
    hub.subs.subscribe(a, b"y/#", true);
    hub.subs.subscribe(b, b"x", true);
    hub.subs.subscribe(c, b"x", true);
    hub.last.set(b"x", b"pub x\nhello");
    hub.send(a, b"sent").unwrap();
    hub.flush_dirty();
    hub.send(b, b"queued").unwrap();
    hub.metrics.bytes_in = 100;
    hub.metrics.bytes_out = 50;
    hub.conns.get_mut(a).unwrap().bytes_in = 7;
    hub.conns.get_mut(c).unwrap().bytes_in = 5;
    // Closing: its bytes count, the connection and its subscription not.
    hub.conns.get_mut(c).unwrap().closing = true;

    let r = reading(&hub, Instant::now(), 12.5, (1, 2, 3.0));
    let groups: Vec<(&str, &str, u64)> = r
        .connections
        .iter()
        .map(|g| (g.listener.as_str(), g.protocol.as_str(), g.count))
        .collect();
    assert_eq!(
        groups,
        [("", "tcp", 3), ("", "ws", 1), ("127.0.0.1:1", "tcp", 1)]
    );
    assert_eq!(r.subscriptions, 3);
    assert_eq!(r.queued_bytes, b"6\nqueued".len() as u64);
    assert_eq!(r.counters.bytes_in, 112);
    assert_eq!(r.counters.bytes_out, 50 + b"4\nsent".len() as u64);
    assert_eq!(r.routes_stored, 1);
    assert_eq!(r.stored_bytes, hub.last.bytes() as u64);
    assert_eq!((r.rss_bytes, r.open_fds, r.cpu_seconds), (1, 2, 3.0));
    assert_eq!(r.start_time, 12.5);
    assert_eq!(r.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_timer_is_non_blocking_and_each_tick_is_drained_and_sampled() {
    let (mut hub, _poll) = hub();
    let (_a, _pa) = tcp(&mut hub);
    let (_b, _pb) = tcp(&mut hub);
    let (c, _pc) = tcp(&mut hub);
    hub.conns.get_mut(c).unwrap().closing = true;
    let mut o = Observe::new(false).unwrap();
    let fd = o.event_fd().unwrap();
    let mut count = [0u8; 8];
    // SAFETY: reads at most 8 bytes into a buffer of 8 bytes we own, from
    // the timer descriptor `o` keeps open.
    let read = |count: &mut [u8; 8]| unsafe { libc::read(fd, count.as_mut_ptr().cast(), 8) };
    // Not yet a second: a non-blocking descriptor has nothing to read.
    assert_eq!(read(&mut count), -1);
    std::thread::sleep(Duration::from_millis(1100));
    o.on_event(&mut hub);
    o.on_event(&mut hub);
    // Drained by the tick: nothing left until the next second.
    assert_eq!(read(&mut count), -1);
    assert_eq!(o.history.len(), 1);
    assert!(
        o.history.json().ends_with("\"connections\":[2]}"),
        "{}",
        o.history.json()
    );
}
