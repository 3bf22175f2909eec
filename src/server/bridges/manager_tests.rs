//! Tests of the manager on a hub of its own, the instants given: what it
//! says of itself, mirrors taken over by name, when it is next due, the
//! stand-in while a bridge is down, and the listing's lines.

use std::cell::RefCell;
use std::net::TcpListener;
use std::rc::Rc;

use super::*;
use crate::server::hub::tests::hub;

const KA: Duration = Duration::from_secs(10);

/// A bridge of `kind` named `name` to `addr`, `o` out, no jitter.
fn cfg(kind: Kind, name: &str, addr: SocketAddr) -> BridgeConfig {
    let mut cfg = BridgeConfig::new(kind, addr);
    cfg.name = name.into();
    cfg.mapping.out.push("o".into());
    cfg.keepalive = KA;
    cfg.backoff.jitter = 0.0;
    cfg
}

fn mirrored(name: &str, queue: &str) -> BridgeConfig {
    let mut c = cfg(Kind::Nats, name, "127.0.0.1:1".parse().unwrap());
    c.jetstream.queues.push(queue.into());
    c
}

/// The hub's log lines, kept.
fn logged(hub: &mut Hub) -> Rc<RefCell<Vec<String>>> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&log);
    hub.logger_mut()
        .set_hook(Box::new(move |r| sink.borrow_mut().push(r.line())));
    log
}

#[test]
fn the_manager_says_whether_it_is_enabled_and_mirrors_queues() {
    let mut b = Bridges::default();
    assert!(!b.is_enabled());
    assert!(!b.mirrors_queues());
    let shared = b.shared();
    assert!(b.is_enabled());
    assert!(Rc::ptr_eq(&shared, &b.shared()));
    let now = Instant::now();
    b.add(cfg(Kind::Ducq, "d", "127.0.0.1:1".parse().unwrap()), now);
    // Mirror settings on a bridge that is not NATS make no mirror.
    let mut mqtt = cfg(Kind::Mqtt, "m", "127.0.0.1:1".parse().unwrap());
    mqtt.jetstream.queues.push("q".into());
    b.add(mqtt, now);
    assert!(!b.mirrors_queues());
    assert!(shared.mirrors.borrow().is_empty());
    b.add(mirrored("n", "q"), now);
    assert!(b.mirrors_queues());
    assert_eq!(shared.links.borrow().len(), 3);
}

#[test]
fn a_bridge_added_again_takes_over_its_own_mirror_by_name() {
    let mut b = Bridges::default();
    let shared = b.shared();
    let now = Instant::now();
    b.add(mirrored("a", "q"), now);
    b.add(mirrored("b", "q"), now);
    let (old_a, old_b) = {
        let m = shared.mirrors.borrow();
        (Rc::clone(&m[0].1), Rc::clone(&m[1].1))
    };
    let (queue, payload): (Rc<str>, Rc<[u8]>) = ("q".into(), b"x".to_vec().into());
    old_a.borrow_mut().offer(&queue, 1, &payload);
    assert_eq!(old_a.borrow().depths(), (1, 0));
    b.add(mirrored("a", "q"), now);
    let m = shared.mirrors.borrow();
    let names: Vec<&str> = m.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
    assert!(Rc::ptr_eq(&m[0].1, &old_b));
    assert!(!Rc::ptr_eq(&m[1].1, &old_a));
    // What the old one held goes on with the new one.
    assert_eq!(m[1].1.borrow().depths(), (1, 0));
    assert_eq!(old_a.borrow().depths(), (0, 0));
}

/// A ducq bridge (keep-alive 10 s, no jitter, `o` out) dialled at `t0` to
/// a listener that never answers, and the hub's log lines since (also
/// the fixture of `watch.rs`'s tests).
pub(super) struct Dialled {
    pub(super) b: Bridges,
    pub(super) hub: Hub,
    _poll: mio::Poll,
    pub(super) remote: TcpListener,
    pub(super) t0: Instant,
    pub(super) log: Rc<RefCell<Vec<String>>>,
}

pub(super) fn dialled() -> Dialled {
    let (mut hub, poll) = hub();
    let log = logged(&mut hub);
    let remote = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut b = Bridges::default();
    let t0 = Instant::now();
    b.add(cfg(Kind::Ducq, "w", remote.local_addr().unwrap()), t0);
    b.tick(&mut hub, t0);
    assert!(b.slots[0].conn.is_some());
    log.borrow_mut().clear();
    Dialled {
        b,
        hub,
        _poll: poll,
        remote,
        t0,
        log,
    }
}

impl Dialled {
    /// The manager's turn `secs` after the dial.
    pub(super) fn at(&mut self, secs: f64) {
        let now = self.t0 + Duration::from_secs_f64(secs);
        self.b.tick(&mut self.hub, now);
    }
    pub(super) fn stand_in(&self) -> Option<usize> {
        let (id, _) = self.b.slots[0].parked.as_ref()?;
        self.hub.resolve(*id)
    }
    /// The bridge's live connection.
    pub(super) fn key(&self) -> usize {
        self.hub.resolve(self.b.slots[0].conn.unwrap()).unwrap()
    }
    pub(super) fn addr(&self) -> String {
        self.remote.local_addr().unwrap().to_string()
    }
    /// As once the remote has answered the handshake.
    pub(super) fn open(&mut self) {
        self.b.slots[0].link.borrow_mut().open = true;
    }
}

#[test]
fn a_bridge_down_is_due_to_redial_and_to_get_its_stand_in_back() {
    let mut d = dialled();
    // The handshake never answered: down, a stand-in in its place, the
    // next dial after the back-off's first delay.
    d.at(20.0);
    assert!(d.b.slots[0].conn.is_none());
    let stand_in = d.stand_in().unwrap();
    let redial = d.t0 + Duration::from_secs_f64(20.1);
    assert_eq!(d.b.next_due(&d.hub), Some(redial));
    // The stand-in gone: due at once (its time has come) for another.
    d.hub.close(stand_in, "test");
    assert_eq!(d.b.next_due(&d.hub), Some(d.t0));
    d.at(20.05);
    assert!(d.stand_in().is_some());
    assert_eq!(d.b.next_due(&d.hub), Some(redial));
}

#[test]
fn a_closing_connection_hands_its_subscriptions_to_a_stand_in_when_one_may_be_made() {
    let mut d = dialled();
    let key = d.key();
    // As after a stand-in that could not be made: the next try waits.
    d.b.slots[0].next_park = d.t0 + Duration::from_secs(5);
    d.hub.close(key, "test");
    // Gone (closing): due at once.
    let before = Instant::now();
    let due = d.b.next_due(&d.hub).unwrap();
    assert!(before <= due && due <= Instant::now());
    d.b.take_over_closing(&mut d.hub, d.t0 + Duration::from_secs(1));
    assert!(d.b.slots[0].conn.is_none());
    assert!(d.b.slots[0].parked.is_none());
    let lost = format!(
        "warning,bridge,bridge-w,could not connect to {}; retrying in 0.10 s (attempt 1)",
        d.addr()
    );
    assert_eq!(d.log.borrow().last().unwrap(), &lost);
    // Its time come, a stand-in holds the `out` pattern (the redial put
    // off, which would replace it).
    d.b.slots[0].next_try = d.t0 + Duration::from_secs(60);
    d.at(4.999);
    assert!(d.stand_in().is_none());
    d.at(5.0);
    let stand_in = d.stand_in().unwrap();
    let routes: Vec<&[u8]> = d
        .hub
        .subs
        .routes_of(stand_in)
        .iter()
        .map(|r| &r[..])
        .collect();
    assert_eq!(routes, [b"o"]);
}

#[test]
fn a_stand_in_already_there_is_kept() {
    let mut d = dialled();
    let key = d.key();
    let shared = d.b.shared();
    let now = d.t0 + Duration::from_secs(1);
    d.b.slots[0].park(&mut d.hub, &shared, &mut d.b.pairs, now);
    let stand_in = d.stand_in().unwrap();
    let conns = d.hub.len();
    d.hub.close(key, "test");
    d.b.take_over_closing(&mut d.hub, now);
    assert_eq!(d.stand_in(), Some(stand_in));
    assert_eq!(d.hub.len(), conns);
}

#[test]
fn a_ready_mirror_publishes_on_the_live_connection_and_its_notes_are_logged() {
    let (mut hub, _poll) = hub();
    let log = logged(&mut hub);
    let remote = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = mirrored("n", "q");
    c.addrs = vec![remote.local_addr().unwrap()];
    let mut b = Bridges::default();
    let t0 = Instant::now();
    b.add(c, t0);
    b.tick(&mut hub, t0);
    let key = hub.resolve(b.slots[0].conn.unwrap()).unwrap();
    let mirror = Rc::clone(b.slots[0].mirror.as_ref().unwrap());
    let link = Rc::clone(&b.slots[0].link);
    // Nothing to publish yet: nothing written.
    let (out0, written0) = (
        hub.conns.get(key).unwrap().pending_output(),
        link.borrow().written,
    );
    b.tick(&mut hub, t0 + Duration::from_millis(10));
    assert_eq!(hub.conns.get(key).unwrap().pending_output(), out0);
    assert_eq!(link.borrow().written, written0);
    // The stream known (as after the handshake), one message waiting.
    let mut scratch = Vec::new();
    mirror.borrow_mut().begin("T", 1 << 20, &mut scratch);
    mirror
        .borrow_mut()
        .reply(b"_INBOX.T.c", None, b"{}")
        .unwrap();
    let (queue, payload): (Rc<str>, Rc<[u8]>) = ("q".into(), b"hello".to_vec().into());
    mirror.borrow_mut().offer(&queue, 7, &payload);
    link.borrow_mut().notes.push("from the link".into());
    mirror.borrow_mut().notes.push("from the mirror".into());
    b.tick(&mut hub, t0 + Duration::from_millis(20));
    let out1 = hub.conns.get(key).unwrap().pending_output();
    assert!(out1 > out0);
    assert_eq!(link.borrow().written - written0, (out1 - out0) as u64);
    assert_eq!(mirror.borrow().depths(), (0, 1));
    let lines = log.borrow();
    let tail: Vec<&str> = lines
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "warning,bridge,bridge-n,from the link",
            "warning,bridge,bridge-n,from the mirror"
        ]
    );
}

#[test]
fn a_stand_in_that_cannot_be_made_is_tried_again_a_second_later() {
    let mut d = dialled();
    let key = d.key();
    // Stand-ins connect to a "listener" that is a UDP socket: refused.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    d.b.pairs = Some(TcpListener::from(std::os::fd::OwnedFd::from(udp)));
    d.hub.close(key, "test");
    let t1 = d.t0 + Duration::from_secs(2);
    d.b.take_over_closing(&mut d.hub, t1);
    assert!(d.b.slots[0].parked.is_none());
    let last = d.log.borrow().last().unwrap().clone();
    assert!(
        last.starts_with("warning,bridge,bridge-w,no stand-in while down (")
            && last.ends_with("): publications meanwhile are not forwarded"),
        "{last}"
    );
    d.b.slots[0].next_try = d.t0 + Duration::from_secs(60);
    assert_eq!(d.b.next_due(&d.hub), Some(t1 + PARK_RETRY));
}

/// A TLS bridge of `kind` to a listener that never answers, its settings
/// loaded (a CA made here), dialled at `t0`: whether the connection's TLS
/// layer waits for a plain-text greeting.
fn tls_gated(kind: Kind) -> bool {
    let (mut hub, _poll) = hub();
    let remote = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = std::env::temp_dir().join(format!("ducq-bridge-gate-{kind}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = rcgen::generate_simple_self_signed(vec!["x".to_string()]).unwrap();
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.cert.pem()).unwrap();
    let mut c = cfg(kind, "t", remote.local_addr().unwrap());
    c.tls = true;
    c.ca = Some(path.to_string_lossy().into_owned());
    c.finish().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let mut b = Bridges::default();
    let t0 = Instant::now();
    b.add(c, t0);
    b.tick(&mut hub, t0);
    let key = hub.resolve(b.slots[0].conn.unwrap()).unwrap();
    let conn = hub.conns.get_mut(key).unwrap();
    // The ClientHello waits behind a closed gate only.
    let gated = !conn.tls_wants_write();
    assert_eq!(conn.tls.as_mut().unwrap().plain_for_now(), gated);
    gated
}

#[test]
fn only_a_nats_bridge_speaks_in_the_clear_before_tls() {
    assert!(tls_gated(Kind::Nats));
    assert!(!tls_gated(Kind::Ducq));
    assert!(!tls_gated(Kind::Mqtt));
}

#[test]
fn a_dial_that_fails_at_once_is_logged_and_tried_again_after_the_back_off() {
    let (mut hub, _poll) = hub();
    let log = logged(&mut hub);
    let mut c = cfg(Kind::Ducq, "f", "127.0.0.1:1".parse().unwrap());
    // TLS wanted, its settings never loaded: the dial fails before any
    // connect.
    c.tls = true;
    let mut b = Bridges::default();
    let t0 = Instant::now();
    b.add(c, t0);
    b.tick(&mut hub, t0);
    assert!(b.slots[0].conn.is_none());
    assert_eq!(
        log.borrow().last().unwrap(),
        "warning,bridge,bridge-f,could not connect to 127.0.0.1:1 (TLS settings not loaded); \
         retrying in 0.10 s (attempt 1)"
    );
    assert_eq!(b.next_due(&hub), Some(t0 + Duration::from_millis(100)));
    // The next attempt waits twice as long.
    b.tick(&mut hub, t0 + Duration::from_millis(100));
    assert_eq!(
        log.borrow().last().unwrap(),
        "warning,bridge,bridge-f,could not connect to 127.0.0.1:1 (TLS settings not loaded); \
         retrying in 0.20 s (attempt 2)"
    );
}
