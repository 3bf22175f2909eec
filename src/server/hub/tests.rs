//! Unit tests of the hub's parts (`fanout`, this module's bookkeeping,
//! `parked`, `logging`) on a real hub: connections over Unix socket pairs,
//! their peers' ends read back by the test, no reactor. What only a whole
//! server shows is in the socket tests under `tests/`.

use std::cell::RefCell;
use std::io::{ErrorKind, Read};
use std::rc::Rc;
use std::time::Instant;

use mio::net::UnixStream;
use mio::Poll;

use super::Hub;
use crate::proto::State;
use crate::server::conn::{Conn, ConnId};
use crate::server::log::Level;
use crate::server::settings::Settings;
use crate::server::socket::{PeerAddr, Socket};
use crate::server::test_codecs::Parting;
use crate::transport::tcp::TcpCodec;
use crate::transport::{LastMessage, Parked, SharedEncoding, Step, Transport};

/// A hub with default settings; the poll must outlive it.
pub(crate) fn hub() -> (Hub, Poll) {
    let poll = Poll::new().unwrap();
    let hub = Hub::new(Settings::default(), poll.registry().try_clone().unwrap());
    (hub, poll)
}

/// Adds a connection speaking `transport`; returns its key and the peer's
/// end of its socket.
pub(crate) fn connect(hub: &mut Hub, transport: Box<dyn Transport>) -> (usize, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let peer = PeerAddr::Unix {
        path: "/test".into(),
        n: 0,
    };
    let key = hub
        .insert(|gen| Conn::new(Socket::Unix(ours), transport, peer, gen, Instant::now()))
        .unwrap();
    (key, theirs)
}

/// A ducq TCP connection.
pub(crate) fn tcp(hub: &mut Hub) -> (usize, UnixStream) {
    connect(hub, Box::new(TcpCodec::new(1 << 20)))
}

/// Everything the peer can read now.
pub(crate) fn read_now(peer: &mut UnixStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        match peer.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return got,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// A ducq TCP frame of `msg`.
pub(crate) fn frame(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    crate::transport::tcp::encode_header(msg.len(), &mut out);
    out.extend_from_slice(msg);
    out
}

/// A codec whose encoding is `tag` then the message, shared as `enc`.
struct Tagged {
    tag: u8,
    enc: SharedEncoding,
}

impl Transport for Tagged {
    fn name(&self) -> &str {
        "TAG"
    }
    fn decode<'a>(&mut self, _input: &'a mut [u8], _out: &mut Vec<u8>) -> Step<'a> {
        Step::need_more()
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        out.push(self.tag);
        out.extend_from_slice(msg);
    }
    fn shared_encoding(&self) -> Option<SharedEncoding> {
        Some(self.enc)
    }
}

pub(crate) fn tagged(hub: &mut Hub, tag: u8, enc: SharedEncoding) -> (usize, UnixStream) {
    connect(hub, Box::new(Tagged { tag, enc }))
}

// ---- fanout.rs ----

#[test]
fn fan_out_counts_publications_and_deliveries() {
    let (mut hub, _poll) = hub();
    let (a, _pa) = tcp(&mut hub);
    let (b, _pb) = tcp(&mut hub);
    hub.subs.subscribe(a, b"r", true);
    hub.subs.subscribe(b, b"r", true);
    assert_eq!(hub.fan_out(b"r", b"one"), 2);
    assert_eq!(
        (
            hub.metrics.publications,
            hub.metrics.deliveries,
            hub.metrics.messages_out
        ),
        (1, 2, 2)
    );
    assert_eq!(hub.fan_out(b"r", b"two"), 2);
    assert_eq!(hub.fan_out(b"none", b"three"), 0);
    assert_eq!(
        (
            hub.metrics.publications,
            hub.metrics.deliveries,
            hub.metrics.messages_out
        ),
        (3, 4, 4)
    );
}

#[test]
fn each_shared_encoding_has_its_own_arena() {
    let (mut hub, _poll) = hub();
    let encs = [
        SharedEncoding::TcpFrame,
        SharedEncoding::WsServerFrame,
        SharedEncoding::SseEvent,
    ];
    let mut peers = Vec::new();
    for (i, enc) in encs.into_iter().enumerate() {
        // Two of each, so a second connection reuses the first's encoding.
        for _ in 0..2 {
            let (key, peer) = tagged(&mut hub, b'0' + i as u8, enc);
            hub.subs.subscribe(key, b"r", true);
            peers.push((i, peer));
        }
    }
    assert_eq!(hub.publish(b"r", b"msg"), 6);
    hub.flush_dirty();
    for (i, peer) in peers.iter_mut() {
        assert_eq!(read_now(peer), [&[b'0' + *i as u8][..], b"msg"].concat());
    }
}

// ---- mod.rs: connection bookkeeping ----

#[test]
fn settings_are_replaced_with_the_log_level() {
    let (mut hub, _poll) = hub();
    let settings = Settings {
        max_message: 77,
        log_level: Level::Error,
        ..Settings::default()
    };
    hub.set_settings(settings);
    assert_eq!(hub.settings().max_message, 77);
    assert_eq!(hub.logger.level, Level::Error);
}

#[test]
fn connections_get_keys_generations_and_ids() {
    let (mut hub, _poll) = hub();
    assert!(hub.is_empty());
    let conns: Vec<(usize, UnixStream)> = (0..3).map(|_| tcp(&mut hub)).collect();
    let keys: Vec<usize> = conns.iter().map(|c| c.0).collect();
    assert_eq!(keys, [0, 1, 2]);
    assert_eq!((hub.len(), hub.is_empty()), (3, false));
    let ids: Vec<Option<ConnId>> = keys.iter().map(|&k| hub.conn_id(k)).collect();
    let want: Vec<Option<ConnId>> = [(0, 1), (1, 2), (2, 3)]
        .iter()
        .map(|&(key, gen)| Some(ConnId { key, gen }))
        .collect();
    assert_eq!(ids, want);
    assert_eq!(hub.conn_id(3), None);
    assert_eq!(hub.client_id(2).as_deref(), Some("UNIX:/test:3"));
    assert_eq!(hub.client_label(2).as_deref(), Some("UNIX:/test:3"));
    assert_eq!(hub.client_id(3), None);
    assert_eq!(hub.client_label(3), None);
    assert_eq!(hub.resolve(ConnId { key: 2, gen: 3 }), Some(2));
    // The same key, another connection's generation.
    assert_eq!(hub.resolve(ConnId { key: 2, gen: 2 }), None);
    assert_eq!(hub.resolve(ConnId { key: 5, gen: 3 }), None);
    assert!(hub.conn(2).is_some_and(|c| c.gen == 3));
    assert_eq!(hub.clients(), [0, 1, 2]);
}

#[test]
fn a_closing_connection_is_gone_to_everyone_until_reaped() {
    let (mut hub, _poll) = hub();
    let (_a, _pa) = tcp(&mut hub);
    let (b, mut pb) = tcp(&mut hub);
    let (c, _pc) = tcp(&mut hub);
    let (d, mut pd) = tcp(&mut hub);
    assert!(!hub.has_closing());
    // Queued, never written: dropped with the connection and counted.
    hub.send(b, b"lost").unwrap();
    hub.close(b, "test");
    hub.close(b, "twice");
    assert_eq!(hub.closes, 1);
    assert_eq!(hub.metrics.dropped_bytes, frame(b"lost").len() as u64);
    assert!(hub.has_closing());
    assert_eq!(hub.resolve(ConnId { key: b, gen: 2 }), None);
    assert!(hub.conn(b).is_none());
    assert_eq!(hub.clients(), [0, c, d]);
    assert_eq!(hub.send(b, b"x"), Err(State::ENotFound));
    assert_eq!(hub.send(9, b"x"), Err(State::ENotFound));
    // Still in the slab until the end of the turn.
    assert_eq!(hub.len(), 4);
    // Output queued for another connection is written by the reap.
    hub.send(d, b"kept").unwrap();
    hub.conns.get_mut(c).unwrap().bytes_in = 5;
    hub.close(c, "test");
    hub.reap();
    assert_eq!((hub.len(), hub.has_closing()), (2, false));
    assert_eq!(hub.clients(), [0, d]);
    assert_eq!(hub.metrics.bytes_in, 5);
    assert_eq!(read_now(&mut pd), frame(b"kept"));
    assert_eq!(read_now(&mut pb), b"");
    // A new connection takes a freed key with a new generation.
    let (e, _pe) = tcp(&mut hub);
    assert_eq!(hub.conn_id(e).map(|id| id.gen), Some(5));
    assert_eq!(hub.resolve(ConnId { key: e, gen: 2 }), None);
}

#[test]
fn sent_output_is_written_once_counted_and_flushed() {
    let (mut hub, _poll) = hub();
    let (a, mut pa) = tcp(&mut hub);
    hub.send(a, b"one").unwrap();
    hub.send(a, b"two").unwrap();
    assert_eq!(hub.metrics.messages_out, 2);
    hub.flush_dirty();
    assert_eq!(read_now(&mut pa), [frame(b"one"), frame(b"two")].concat());
    assert_eq!(hub.metrics.bytes_out, 0);
    // Appended directly, then scheduled.
    hub.conns
        .get_mut(a)
        .unwrap()
        .out
        .own()
        .extend_from_slice(b"raw");
    hub.mark_dirty(a);
    hub.flush_dirty();
    assert_eq!(read_now(&mut pa), b"raw");
    let written = 2 * frame(b"one").len() as u64 + 3;
    hub.close(a, "done");
    hub.reap();
    assert_eq!(hub.metrics.bytes_out, written);
}

#[test]
fn past_the_high_water_mark_output_is_still_scheduled() {
    let (mut hub, _poll) = hub();
    hub.high_water = 10;
    let (a, mut pa) = tcp(&mut hub);
    let big = [7u8; 40];
    hub.send(a, &big).unwrap();
    assert!(hub.conns.get(a).unwrap().congested);
    hub.send(a, b"more").unwrap();
    hub.flush_dirty();
    assert_eq!(read_now(&mut pa), [frame(&big), frame(b"more")].concat());
    // Past the hard limit: cut, and the caller told so.
    hub.settings.max_output = 50;
    assert_eq!(hub.send(a, &[1u8; 60]), Err(State::EMax));
    assert!(hub.conn(a).is_none());
}

#[test]
fn a_delivery_past_the_mark_holds_its_feeder_though_already_due() {
    // The subscriber is already due for a flush (dirty) when a publication
    // takes it past the mark: its publisher is held all the same.
    let (mut hub, _poll) = hub();
    hub.high_water = 100;
    let (p, _pp) = tcp(&mut hub);
    let (a, _pa) = tcp(&mut hub);
    hub.subs.subscribe(a, b"r", true);
    hub.feeding = Some(p);
    hub.fan_out(b"r", b"pub r\nfirst");
    assert!(hub.conns.get(a).unwrap().dirty);
    assert_eq!(hub.conns.get(p).unwrap().holds, 0);
    hub.fan_out(b"r", &[b'x'; 120]);
    assert!(hub.conns.get(p).unwrap().holds > 0, "held");
}

#[test]
fn close_after_flush_writes_first() {
    let (mut hub, _poll) = hub();
    let (a, mut pa) = tcp(&mut hub);
    hub.send(a, b"bye").unwrap();
    hub.flush_dirty();
    hub.conns
        .get_mut(a)
        .unwrap()
        .out
        .own()
        .extend_from_slice(b"end");
    hub.close_after_flush(a);
    hub.flush_dirty();
    assert!(hub.has_closing());
    hub.reap();
    assert!(hub.is_empty());
    assert_eq!(read_now(&mut pa), [&frame(b"bye")[..], b"end"].concat());
}

#[test]
fn last_words_are_asked_once_of_closing_connections() {
    let (mut hub, _poll) = hub();
    let (a, _pa) = connect(&mut hub, Box::new(Parting(Some(b"will"))));
    let (b, _pb) = connect(&mut hub, Box::new(Parting(None)));
    let (c, _pc) = connect(&mut hub, Box::new(Parting(Some(b"open"))));
    assert!(hub.take_last_words().is_empty());
    hub.close(b, "test");
    hub.close(a, "test");
    let words = hub.take_last_words();
    assert_eq!(words.len(), 1);
    assert_eq!((words[0].0, &words[0].1[..]), (a, &b"will"[..]));
    assert_eq!(words[0].2, LastMessage::Forget);
    assert!(hub.take_last_words().is_empty());
    assert!(hub.conn(c).is_some());
}

// ---- logging.rs ----

/// Records the hub's logger receives, as lines.
fn record_log(hub: &mut Hub) -> Rc<RefCell<Vec<String>>> {
    let lines = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&lines);
    hub.logger_mut()
        .set_hook(Box::new(move |r| sink.borrow_mut().push(r.line())));
    lines
}

#[test]
fn connection_records_name_the_connection_at_their_level() {
    let (mut hub, _poll) = hub();
    let lines = record_log(&mut hub);
    let (a, _pa) = tcp(&mut hub);
    hub.log_conn(Level::Debug, "f", a, "hidden");
    hub.log_conn(Level::Warn, "f", a, "shown");
    hub.log_conn(Level::Warn, "f", 9, "nobody");
    hub.feeding = Some(a);
    hub.log(Level::Error, "g", "server", "text");
    assert_eq!(hub.feeding, Some(a));
    assert_eq!(
        *lines.borrow(),
        ["warning,f,UNIX:/test:1,shown", "error,g,server,text"]
    );
}

#[test]
fn a_log_subscriber_gets_lines_without_holding_the_feeder() {
    let (mut hub, _poll) = hub();
    let (a, mut pa) = tcp(&mut hub);
    let (b, _pb) = tcp(&mut hub);
    hub.logger_mut().stderr = false;
    hub.subs.subscribe(a, b"LOG", true);
    hub.high_water = 0;
    hub.feeding = Some(b);
    hub.log(Level::Warn, "f", "server", "x");
    assert_eq!(hub.conns.get(b).unwrap().holds, 0);
    hub.flush_dirty();
    assert_eq!(read_now(&mut pa), frame(b"warning,f,server,x"));
}

// ---- parked.rs ----

/// What parked states saw, in order: `name:event`.
pub(super) type Events = Rc<RefCell<Vec<String>>>;

/// A parked state that records what it is handed, takes `room`
/// publications, then wants no more; alive while `alive` holds.
pub(super) struct Sink {
    name: &'static str,
    events: Events,
    room: usize,
    alive: Rc<std::cell::Cell<bool>>,
}

impl Parked for Sink {
    fn deliver(&mut self, msg: &[u8], seq: u64) -> bool {
        let msg = String::from_utf8_lossy(msg);
        self.events
            .borrow_mut()
            .push(format!("{}:{msg}#{seq}", self.name));
        self.room = self.room.saturating_sub(1);
        self.room > 0
    }
    fn due(&mut self, _parked_for: std::time::Duration) -> Option<(Vec<u8>, LastMessage)> {
        Some((self.name.as_bytes().to_vec(), LastMessage::Skip))
    }
    fn dispatched(&mut self) {
        self.events
            .borrow_mut()
            .push(format!("{}:dispatched", self.name));
    }
    fn alive(&mut self, _parked_for: std::time::Duration) -> bool {
        self.alive.get()
    }
}

/// A ducq TCP codec whose connection parks its state (a `Sink` here, the
/// reactor's tests park others) when it ends.
pub(crate) struct Keeper<P>(pub(crate) TcpCodec, pub(crate) Option<P>);

impl<P: Parked + 'static> Transport for Keeper<P> {
    fn name(&self) -> &str {
        "KEEP"
    }
    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        self.0.decode(input, out)
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        self.0.encode(msg, out);
    }
    fn park(&mut self) -> Option<Box<dyn Parked>> {
        self.1.take().map(|s| Box::new(s) as Box<dyn Parked>)
    }
}

pub(super) fn sink(name: &'static str, events: &Events, room: usize) -> Sink {
    Sink {
        name,
        events: Rc::clone(events),
        room,
        alive: Rc::new(std::cell::Cell::new(true)),
    }
}

#[test]
fn parked_subscriptions_get_each_publication_once_until_they_let_go() {
    let (mut hub, _poll) = hub();
    let events = Events::default();
    // Key 0 parks; key 1 stays, subscribed too.
    let (a, _pa) = connect(
        &mut hub,
        Box::new(Keeper(TcpCodec::new(1 << 20), Some(sink("a", &events, 2)))),
    );
    let (b, mut pb) = tcp(&mut hub);
    let (c, _pc) = connect(
        &mut hub,
        Box::new(Keeper(TcpCodec::new(1 << 20), Some(sink("c", &events, 9)))),
    );
    hub.conns.get_mut(c).unwrap().auth.user = Some("carol".into());
    for route in [&b"r"[..], b"+", b"only/a"] {
        hub.subs.subscribe(a, route, true);
    }
    hub.subs.subscribe(b, b"r", true);
    hub.subs.subscribe(c, b"r", true);
    hub.close(a, "gone");
    hub.close(c, "gone");
    hub.reap();
    assert_eq!(hub.parked_indices(), [0, 1]);
    assert!(hub.subs.routes_of(a).is_empty());
    // The first parked key (parked.rs): above every connection key.
    let parked = 1usize << (usize::BITS - 2);
    assert_eq!(hub.subs.routes_of(parked).len(), 3);
    assert_eq!(hub.subs.routes_of(parked + 1).len(), 1);
    assert_eq!(
        hub.parked_identity(1).and_then(|w| w.user).as_deref(),
        Some("carol")
    );
    assert_eq!(hub.parked_identity(2).map(|w| w.anonymous), None);
    // Two of a's patterns match: it gets the publication once.
    assert_eq!(hub.fan_out(b"r", b"m1"), 1);
    assert_eq!(hub.fan_out(b"only/a", b"m2"), 0);
    // a wanted two: it is gone with its subscriptions.
    assert_eq!(hub.parked_indices(), [1]);
    assert!(hub.subs.routes_of(parked).is_empty());
    assert_eq!(hub.fan_out(b"r", b"m3"), 1);
    assert_eq!(*events.borrow(), ["a:m1#1", "c:m1#1", "a:m2#2", "c:m3#3"]);
    hub.flush_dirty();
    assert_eq!(read_now(&mut pb), [frame(b"m1"), frame(b"m3")].concat());
}

#[test]
fn adopted_states_are_due_dispatched_and_dropped_when_dead() {
    let (mut hub, _poll) = hub();
    let events = Events::default();
    let now = Instant::now();
    let x = sink("x", &events, 9);
    let y = sink("y", &events, 9);
    let y_alive = Rc::clone(&y.alive);
    hub.adopt_parked(Box::new(x), &["p/x".to_string()], now);
    hub.adopt_parked(Box::new(y), &["p/y".to_string(), "q".to_string()], now);
    assert_eq!(hub.parked_indices(), [0, 1]);
    // The first parked key (parked.rs): above every connection key.
    let parked = 1usize << (usize::BITS - 2);
    assert_eq!(hub.subs.routes_of(parked + 1).len(), 2);
    assert_eq!(hub.parked_identity(1).map(|w| w.user), Some(None));
    hub.fan_out(b"p/y", b"m");
    hub.fan_out(b"p/x", b"n");
    assert_eq!(
        hub.parked_due(1, now),
        Some((b"y".to_vec(), LastMessage::Skip))
    );
    assert_eq!(hub.parked_due(2, now), None);
    hub.parked_dispatched(1);
    hub.parked_dispatched(2);
    // y dies; x lives on.
    y_alive.set(false);
    hub.check_parked(now);
    assert_eq!(hub.parked_indices(), [0]);
    assert!(hub.subs.routes_of(parked + 1).is_empty());
    assert_eq!(hub.subs.routes_of(parked).len(), 1);
    hub.fan_out(b"q", b"lost");
    hub.fan_out(b"p/x", b"o");
    assert_eq!(
        *events.borrow(),
        ["y:m#1", "x:n#2", "y:dispatched", "x:o#4"]
    );
}
