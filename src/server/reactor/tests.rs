//! Unit tests of the reactor's turn on a real reactor driven by hand:
//! the poll descriptor, when the next turn is due, event sources under
//! their own tokens, the periodic work (`timers`, given chosen instants)
//! and a peer's close seen with its last data. The read path has its own
//! (`read_tests.rs`); what a whole server shows over many turns is in
//! `tests/reactor_turns.rs` and `tests/read_path.rs`. Over 600 lines:
//! every test drives the same hand-run reactor, one turn at a time.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::*;
use crate::proto::{Message, State};
use crate::server::hub::tests::{connect, read_now, tcp, Keeper};
use crate::server::test_codecs::Parting;
use crate::server::test_server::accept_client;
use crate::transport::tcp::TcpCodec;
use crate::transport::{Parked, Step, Transport};

fn reactor(settings: Settings) -> Reactor {
    let mut r = Reactor::new(settings).unwrap();
    r.hub_mut().logger_mut().stderr = false;
    r
}

/// Runs turns until `done` holds, for at most 10 s.
fn until(r: &mut Reactor, what: &str, mut done: impl FnMut(&Reactor) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(r) {
        assert!(Instant::now() < deadline, "{what}");
        r.run_once(Some(Duration::from_millis(10))).unwrap();
    }
}

#[test]
fn the_poll_descriptor_is_the_reactors_epoll_instance() {
    let r = reactor(Settings::default());
    let link = std::fs::read_link(format!("/proc/self/fd/{}", r.fd())).unwrap();
    assert_eq!(link.to_str(), Some("anon_inode:[eventpoll]"));
}

#[test]
fn the_next_turn_is_due_at_once_only_while_something_waits() {
    let mut r = reactor(Settings::default());
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let (_client, key) = accept_client(&mut r, addr);
    // Nothing waits: the next timer (the buffer release, a second after
    // the last turn at most) is ahead.
    let quiet = r.next_timeout();
    assert!(
        quiet > Duration::ZERO && quiet <= Duration::from_secs(1),
        "{quiet:?}"
    );
    // A connection to read again, alone.
    r.backlog.push((key, false));
    assert_eq!(r.next_timeout(), Duration::ZERO);
    r.backlog.clear();
    assert!(r.next_timeout() > Duration::ZERO);
    // A connection closing, alone.
    r.hub.close(key, "test");
    assert!(r.hub.has_closing());
    assert_eq!(r.next_timeout(), Duration::ZERO);
}

/// A command set whose event source is one end of a socket pair: it notes
/// each event and drains the socket (readiness is edge-triggered).
struct Poked {
    name: &'static str,
    source: Option<UnixStream>,
    events: Rc<RefCell<Vec<&'static str>>>,
}

impl CommandSet for Poked {
    fn list(&self) -> Vec<(String, String)> {
        vec![(self.name.into(), "a test command".into())]
    }
    fn has(&self, name: &[u8]) -> bool {
        name == self.name.as_bytes()
    }
    fn exec(&mut self, hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
        hub.send(caller, self.name.as_bytes())
    }
    fn event_fd(&self) -> Option<RawFd> {
        self.source.as_ref().map(|s| s.as_raw_fd())
    }
    fn on_event(&mut self, _: &mut Hub) {
        if let Some(s) = &mut self.source {
            let mut buf = [0u8; 64];
            while s.read(&mut buf).is_ok_and(|n| n > 0) {}
        }
        self.events.borrow_mut().push(self.name);
    }
}

#[test]
fn each_command_sets_event_source_reaches_that_set() {
    let mut r = reactor(Settings::default());
    let events = Rc::new(RefCell::new(Vec::new()));
    let mut pokes = Vec::new();
    for (name, with_source) in [("seta", true), ("setb", false), ("setc", true)] {
        let source = with_source.then(|| {
            let (ours, theirs) = UnixStream::pair().unwrap();
            ours.set_nonblocking(true).unwrap();
            pokes.push(theirs);
            ours
        });
        let set = Poked {
            name,
            source,
            events: Rc::clone(&events),
        };
        r.add_command_set(Box::new(set)).unwrap();
    }
    assert_eq!(r.dispatcher().set_count(), 3);
    assert_eq!(r.sources, [0, 2]);
    pokes[1].write_all(b"x").unwrap();
    until(&mut r, "setc's event", |_| events.borrow().len() == 1);
    pokes[0].write_all(b"x").unwrap();
    until(&mut r, "seta's event", |_| events.borrow().len() == 2);
    assert_eq!(*events.borrow(), ["setc", "seta"]);
}

#[test]
fn a_command_set_with_an_event_source_is_refused_past_the_sources_range() {
    let mut r = reactor(Settings::default());
    let events = Rc::new(RefCell::new(Vec::new()));
    let poked = |source: Option<UnixStream>| Poked {
        name: "many",
        source,
        events: Rc::clone(&events),
    };
    for _ in 0..MAX_LISTENERS - 1 {
        r.add_command_set(Box::new(poked(None))).unwrap();
    }
    // The last index of the range: its events reach it.
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    r.add_command_set(Box::new(poked(Some(ours)))).unwrap();
    theirs.write_all(b"x").unwrap();
    until(&mut r, "the last set's event", |_| {
        events.borrow().len() == 1
    });
    // The first index past it: a set with a source is refused, one
    // without is fine.
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let err = r.add_command_set(Box::new(poked(Some(ours)))).unwrap_err();
    assert!(err.to_string().contains("among the first 1024"), "{err}");
    assert_eq!(r.dispatcher().set_count(), MAX_LISTENERS);
    r.add_command_set(Box::new(poked(None))).unwrap();
    assert_eq!(r.dispatcher().set_count(), MAX_LISTENERS + 1);
    assert_eq!(r.sources, [MAX_LISTENERS - 1]);
}

#[test]
fn idle_checks_run_when_due_and_then_not_before_the_interval() {
    let settings = Settings {
        idle_timeout: Duration::from_secs(10),
        ..Settings::default()
    };
    let mut r = reactor(settings);
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let (_client, key) = accept_client(&mut r, addr);
    let t0 = r.hub.conns[key].last_rx;
    // Past half the timeout: pinged, and the next check a second later.
    r.timers(t0 + Duration::from_millis(9_900));
    assert!(r.hub.conns[key].pinged);
    assert_eq!(r.next_idle_check, t0 + Duration::from_millis(10_900));
    // Past the timeout, but before the next check: still open.
    r.timers(t0 + Duration::from_millis(10_200));
    assert!(!r.hub.conns[key].closing);
    r.timers(t0 + Duration::from_millis(10_900));
    assert!(r.hub.conns.get(key).is_none_or(|c| c.closing));
}

#[test]
fn idle_buffers_are_given_back_when_due_and_then_not_before_the_interval() {
    let mut r = reactor(Settings::default());
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let (_client, key) = accept_client(&mut r, addr);
    let t = Instant::now();
    r.buffer_release = Duration::from_secs(3600);
    r.next_buffer_release = t;
    r.hub.conns[key].out.own().reserve(100);
    r.timers(t);
    assert_eq!(r.hub.conns[key].out.own().capacity(), 0);
    assert_eq!(r.next_buffer_release, t + Duration::from_secs(3600));
    r.hub.conns[key].out.own().reserve(100);
    r.timers(t + Duration::from_secs(1));
    assert!(r.hub.conns[key].out.own().capacity() >= 100);
    // The interval set from outside starts from now.
    r.set_buffer_release_interval(Duration::from_secs(7200));
    assert_eq!(r.buffer_release, Duration::from_secs(7200));
    let next = r.next_buffer_release;
    assert!(
        next > Instant::now() + Duration::from_secs(7000),
        "{next:?}"
    );
    r.timers(Instant::now() + Duration::from_secs(3600));
    assert!(r.hub.conns[key].out.own().capacity() >= 100);
}

#[test]
fn accepting_resumes_when_the_back_off_is_over() {
    let mut r = reactor(Settings::default());
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let _client = std::net::TcpStream::connect(addr).unwrap();
    let t = Instant::now() + Duration::from_secs(1);
    r.accept_resume = Some(t);
    r.timers(t - Duration::from_millis(1));
    assert_eq!(r.hub.clients().len(), 0);
    assert_eq!(r.accept_resume, Some(t));
    r.timers(t);
    assert_eq!(r.hub.clients().len(), 1);
    assert_eq!(r.accept_resume, None);
}

#[test]
fn a_slow_consumer_is_cut_when_its_output_timeout_is_due() {
    let settings = Settings {
        output_high_water: 1000,
        output_low_water: 500,
        ..Settings::default()
    };
    let mut r = reactor(settings);
    let (key, _peer) = connect(&mut r.hub, Box::new(TcpCodec::new(1 << 20)));
    crate::server::actions::subscribe(&mut r.hub, key, b"r", true).unwrap();
    r.hub.publish(b"r", &vec![b'x'; 900_000]);
    r.hub.flush_dirty();
    // The peer reads nothing: the queue stays above the mark.
    assert!(r.hub.conns[key].congested);
    let due = r.hub.next_output_timeout().unwrap();
    r.timers(due - Duration::from_millis(1));
    assert!(!r.hub.conns[key].closing);
    r.timers(due);
    assert!(r.hub.conns.get(key).is_none_or(|c| c.closing));
}

#[test]
fn data_and_the_peers_close_in_one_burst_are_answered_then_closed() {
    let mut r = reactor(Settings::default());
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let (mut client, key) = accept_client(&mut r, addr);
    client.write_all(&TcpCodec::frame(b"pub a\nxyz")).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    until(&mut r, "closed", |r| r.hub.conns.get(key).is_none());
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"3\nACK");
}

#[test]
fn a_stop_from_another_thread_ends_run_after_its_turn() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let mut r = reactor(Settings::default());
        let lines = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&lines);
        r.hub_mut()
            .logger_mut()
            .set_hook(Box::new(move |rec| sink.borrow_mut().push(rec.line())));
        let addr = r.listen_tcp("127.0.0.1:0").unwrap();
        tx.send((addr, r.stop_handle())).unwrap();
        assert!(!r.is_stopped());
        r.run().unwrap();
        assert!(r.is_stopped());
        lines.take()
    });
    let (addr, stop) = rx.recv().unwrap();
    // It serves until stopped.
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.write_all(&TcpCodec::frame(b"pub a\nxyz")).unwrap();
    let mut ack = [0u8; 5];
    c.read_exact(&mut ack).unwrap();
    assert_eq!(&ack, b"3\nACK");
    stop.stop();
    let lines = server.join().unwrap();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("info,stop,server,reactor stopped")
    );
}

#[test]
fn last_words_are_dispatched_once_for_a_connection_that_ends() {
    let mut r = reactor(Settings::default());
    let (sub, mut sub_peer) = tcp(&mut r.hub);
    crate::server::actions::subscribe(&mut r.hub, sub, b"r", true).unwrap();
    let (parting, _peer) = connect(&mut r.hub, Box::new(Parting(Some(b"pub r\nbye"))));
    assert!(!r.last_words());
    r.hub.close(parting, "gone");
    assert!(r.last_words());
    assert!(!r.last_words());
    r.hub.flush_dirty();
    assert_eq!(read_now(&mut sub_peer), TcpCodec::frame(b"pub r\nbye"));
}

/// What a connection parks when it ends: one publication due, once.
struct Due(Option<Vec<u8>>, Rc<RefCell<Vec<&'static str>>>);

impl Parked for Due {
    fn deliver(&mut self, _msg: &[u8], _seq: u64) -> bool {
        true
    }
    fn due(&mut self, _parked_for: Duration) -> Option<(Vec<u8>, LastMessage)> {
        self.0.take().map(|m| (m, LastMessage::Store))
    }
    fn dispatched(&mut self) {
        self.1.borrow_mut().push("dispatched");
    }
    fn alive(&mut self, _parked_for: Duration) -> bool {
        self.0.is_some()
    }
}

#[test]
fn a_parked_connections_due_publication_is_dispatched_then_it_is_dropped() {
    let mut r = reactor(Settings::default());
    let (sub, mut sub_peer) = tcp(&mut r.hub);
    crate::server::actions::subscribe(&mut r.hub, sub, b"r", true).unwrap();
    let events = Rc::new(RefCell::new(Vec::new()));
    let due = Due(Some(b"pub r\nlate".to_vec()), Rc::clone(&events));
    let (parks, _peer) = connect(
        &mut r.hub,
        Box::new(Keeper(TcpCodec::new(1 << 20), Some(due))),
    );
    r.hub.close(parks, "gone");
    r.hub.reap();
    assert_eq!(r.hub.parked_indices(), [0]);
    r.parked(Instant::now());
    assert_eq!(*events.borrow(), ["dispatched"]);
    assert!(r.hub.parked_indices().is_empty());
    r.hub.flush_dirty();
    assert_eq!(read_now(&mut sub_peer), TcpCodec::frame(b"pub r\nlate"));
}

/// Moves what `tls` has to send to `stream` and what `stream` brought to
/// `tls`; returns the plaintext that arrived.
fn pump(tls: &mut rustls::ClientConnection, stream: &mut std::net::TcpStream) -> Vec<u8> {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    match tls.read_tls(stream) {
        Ok(_) => {
            tls.process_new_packets().unwrap();
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => panic!("{e}"),
    }
    let mut plain = Vec::new();
    let _ = tls.reader().read_to_end(&mut plain);
    plain
}

#[test]
fn a_tls_client_is_served_after_its_handshake_and_named_by_its_certificate() {
    use crate::server::auth::{Acl, AuthConfig, User};
    let pki = crate::server::tls::tests::pki();
    let mut r = reactor(Settings::default());
    r.hub_mut().set_auth(AuthConfig {
        users: vec![User {
            name: "alice".into(),
            password: None,
            acl: Acl::everything(),
            admin: false,
        }],
        ..AuthConfig::default()
    });
    let addr = r
        .listen_tls("127.0.0.1:0", std::sync::Arc::clone(&pki.mutual))
        .unwrap();
    let (mut stream, key) = accept_client(&mut r, addr);
    stream.set_nonblocking(true).unwrap();
    let name = "localhost".try_into().unwrap();
    let mut tls = rustls::ClientConnection::new(std::sync::Arc::clone(&pki.alice), name).unwrap();
    // The client's first flight, read by hand: the server's answer waits
    // in its TLS layer, counted as output, the connection marked to flush.
    let mut sent = 0;
    while tls.wants_write() {
        sent += tls.write_tls(&mut stream).unwrap();
    }
    crate::server::conn::tests::queued(&r.hub.conns[key].socket, sent);
    r.read(key, Instant::now(), false);
    let c = &r.hub.conns[key];
    assert!(c.tls_wants_write());
    assert!(c.pending_output() >= 1);
    assert!(c.dirty);
    assert_eq!(
        c.id_string(),
        format!("TLS:{}", stream.local_addr().unwrap())
    );
    // The rest of the handshake, then a publication and its answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tls.is_handshaking() {
        assert!(Instant::now() < deadline, "handshake");
        r.run_once(Some(Duration::from_millis(10))).unwrap();
        assert!(pump(&mut tls, &mut stream).is_empty());
    }
    tls.writer()
        .write_all(&TcpCodec::frame(b"pub a\nxyz"))
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 5 {
        assert!(Instant::now() < deadline, "answer");
        got.extend(pump(&mut tls, &mut stream));
        r.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    assert_eq!(got, b"3\nACK");
    assert_eq!(r.hub.conns[key].user(), Some("alice"));
    assert_eq!(r.hub.last.get(b"a"), Some(&b"pub a\nxyz"[..]));
}

/// Length-framed TCP that writes `?` when it waits for more of a frame
/// and `>` after each message is dispatched.
struct Marking(TcpCodec);

impl Transport for Marking {
    fn name(&self) -> &str {
        "MARK"
    }
    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        let len = input.len();
        let step = self.0.decode(input, out);
        if len > 0 && step.consumed == 0 && step.decoded == crate::transport::Decoded::Nothing {
            out.push(b'?');
        }
        step
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        self.0.encode(msg, out);
    }
    fn after_dispatch(&mut self, out: &mut Vec<u8>) {
        out.push(b'>');
    }
}

/// A command that answers nothing.
struct Quiet;

impl CommandSet for Quiet {
    fn list(&self) -> Vec<(String, String)> {
        vec![("quiet".into(), "answers nothing".into())]
    }
    fn has(&self, name: &[u8]) -> bool {
        name == b"quiet"
    }
    fn exec(&mut self, _: &mut Hub, _: usize, _: &Message<'_>) -> Result<(), State> {
        Ok(())
    }
}

#[test]
fn what_a_codec_writes_while_decoding_or_after_a_dispatch_is_flushed() {
    let mut r = reactor(Settings::default());
    r.add_command_set(Box::new(Quiet)).unwrap();
    let addr = r
        .listen(
            "127.0.0.1:0",
            Box::new(|| Box::new(Marking(TcpCodec::new(1024)))),
        )
        .unwrap();
    let (mut client, key) = accept_client(&mut r, addr);
    client.write_all(b"8\nqu").unwrap();
    crate::server::conn::tests::queued(&r.hub.conns[key].socket, 4);
    r.read(key, Instant::now(), false);
    assert_eq!(r.hub.conns[key].out.own().as_slice(), b"?");
    assert!(r.hub.conns[key].dirty);
    r.hub.flush_dirty();
    let mut got = [0u8; 1];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"?");
    // The rest: a message that gets no reply, then the codec's own word.
    client.write_all(b"iet x\n").unwrap();
    crate::server::conn::tests::queued(&r.hub.conns[key].socket, 6);
    r.read(key, Instant::now(), false);
    assert_eq!(r.hub.conns[key].out.own().as_slice(), b">");
    assert!(r.hub.conns[key].dirty);
    r.hub.flush_dirty();
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b">");
}

/// `cut` ends bridge `h`'s connection the way the hub ends any connection
/// in the middle of a turn (a failed write, a hard output limit).
struct Cut;

impl CommandSet for Cut {
    fn list(&self) -> Vec<(String, String)> {
        vec![("cut".into(), "ends bridge h's connection".into())]
    }
    fn has(&self, name: &[u8]) -> bool {
        name == b"cut"
    }
    fn exec(&mut self, hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
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
fn a_publication_read_in_the_turn_a_bridge_connection_ends_is_kept_for_the_next() {
    // The remote: a second broker, driven in turn with the first.
    let mut remote = reactor(Settings::default());
    let remote_addr = remote.listen_tcp("127.0.0.1:0").unwrap();
    let (mut sub, _) = accept_client(&mut remote, remote_addr);
    sub.write_all(&TcpCodec::frame(b"sub h/#\n")).unwrap();
    sub.set_nonblocking(true).unwrap();
    let mut r = reactor(Settings::default());
    let spec = format!("ducq={remote_addr},name=h,out=h/#,backoff_max=0.05");
    r.add_bridge(crate::server::bridges::config::BridgeConfig::parse_flag(&spec).unwrap())
        .unwrap();
    r.add_command_set(Box::new(Cut)).unwrap();
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let (mut publisher, pkey) = accept_client(&mut r, addr);
    let (mut cutter, ckey) = accept_client(&mut r, addr);
    let mut got = Vec::new();
    // Both brokers' turns until the remote's subscriber has `want`.
    let mut until_remote_has = |r: &mut Reactor, remote: &mut Reactor, want: &[u8]| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut buf = [0u8; 4096];
            while let Ok(n) = sub.read(&mut buf) {
                assert!(n > 0, "remote closed");
                got.extend_from_slice(&buf[..n]);
            }
            if got.windows(want.len()).any(|w| w == want) {
                return String::from_utf8_lossy(&got).into_owned();
            }
            assert!(
                Instant::now() < deadline,
                "{:?}",
                String::from_utf8_lossy(&got)
            );
            r.run_once(Some(Duration::from_millis(5))).unwrap();
            remote.run_once(Some(Duration::from_millis(5))).unwrap();
        }
    };
    // Open, and forwarding: publish until one arrives.
    publisher
        .write_all(&TcpCodec::frame(b"pub h/first\n1"))
        .unwrap();
    let seen = until_remote_has(&mut r, &mut remote, b"h/first");
    assert!(!seen.contains("h/same-turn"));
    // `cut`, then a publication, read in one turn in that order.
    let (cut, publication) = (
        TcpCodec::frame(b"cut"),
        TcpCodec::frame(b"pub h/same-turn\n2"),
    );
    cutter.write_all(&cut).unwrap();
    publisher.write_all(&publication).unwrap();
    crate::server::conn::tests::queued(&r.hub.conns[ckey].socket, cut.len());
    crate::server::conn::tests::queued(&r.hub.conns[pkey].socket, publication.len());
    r.run_once(Some(Duration::from_millis(100))).unwrap();
    publisher
        .write_all(&TcpCodec::frame(b"pub h/after\n3"))
        .unwrap();
    let seen = until_remote_has(&mut r, &mut remote, b"h/after");
    assert!(seen.contains("h/same-turn"), "{seen:?}");
    // The same when both are read from the backlog (connections let go
    // after their input waited): held while it arrives, then queued.
    r.hub.conns[ckey].holds = 1;
    r.hub.conns[pkey].holds = 1;
    let publication = TcpCodec::frame(b"pub h/from-backlog\n4");
    cutter.write_all(&cut).unwrap();
    publisher.write_all(&publication).unwrap();
    crate::server::conn::tests::queued(&r.hub.conns[ckey].socket, cut.len());
    crate::server::conn::tests::queued(&r.hub.conns[pkey].socket, publication.len());
    r.run_once(Some(Duration::from_millis(5))).unwrap();
    r.hub.conns[ckey].holds = 0;
    r.hub.conns[pkey].holds = 0;
    r.backlog.extend([(ckey, true), (pkey, true)]);
    r.run_once(Some(Duration::ZERO)).unwrap();
    publisher
        .write_all(&TcpCodec::frame(b"pub h/end\n5"))
        .unwrap();
    let seen = until_remote_has(&mut r, &mut remote, b"h/end");
    assert!(seen.contains("h/from-backlog"), "{seen:?}");
}
