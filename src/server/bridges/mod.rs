//! Bridges: connections this broker dials to another ducq broker, an MQTT
//! broker or a NATS server, to forward chosen routes out (`out` patterns)
//! and bring chosen remote routes in (`in` patterns), with an optional
//! prefix rewrite (docs/BRIDGES.md). A bridge is one more connection in
//! the hub, dialled by the reactor's thread, with a client-side codec
//! (`transport.rs` plus one `Remote` per protocol: `ducq.rs`, `mqtt.rs`,
//! `nats.rs`): it subscribes locally to its `out` patterns, so the
//! broker's ordinary fan-out feeds it, and what it receives is dispatched
//! as if a client had sent it. It shows in `lsconn` as
//! `bridge-<name>:<ip>:<port>` with its `out` patterns.
//!
//! This file is the manager: it dials, notices a connection gone, waits
//! out the back-off (`crate::backoff`), dials the next address and logs
//! each step; `watch.rs` keeps a live connection pinged and leaves one
//! whose remote hangs it. A bridge's counters and queues live in its
//! `Link` and survive its connections, so what was in flight when one
//! broke is sent again on the next (at least once). While a bridge is
//! down a stand-in connection (a loopback socket nobody writes to) holds
//! its subscriptions, so what is published meanwhile waits in the link,
//! bounded, for the next connection. A NATS bridge may also mirror
//! durable queues to JetStream (`jetstream.rs`): the manager hands it the
//! enqueues each turn commits. The manager never blocks: connecting is
//! non-blocking, addresses are numeric. It must not encode or decode
//! anything itself.

pub mod config;
pub mod ducq;
pub mod jetstream;
pub mod link;
pub mod mapping;
pub mod mqtt;
pub mod nats;
pub mod peer;
pub mod reload;
pub mod trace;
pub mod transport;
mod watch;

use std::cell::{Cell, RefCell};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use self::config::{BridgeConfig, Kind};
use self::jetstream::Mirror;
use self::link::Link;
use self::peer::Shared;
use self::transport::BridgeTransport;
use super::conn::{Conn, ConnId};
use super::hub::Hub;
use super::log::Level;
use super::socket::{PeerAddr, Socket};
use crate::backoff::random_u32;
use crate::transport::Transport;

/// How long after a failed stand-in (no descriptor left) another is tried.
const PARK_RETRY: Duration = Duration::from_secs(1);

/// Where one bridge stands.
struct Slot {
    cfg: Rc<BridgeConfig>,
    link: Rc<RefCell<Link>>,
    /// The current connection.
    conn: Option<ConnId>,
    /// Its remote address.
    addr: Option<SocketAddr>,
    /// Its handshake completed and was logged.
    announced: bool,
    /// Failed attempts since the last connection that opened.
    attempt: u32,
    next_try: Instant,
    /// Which address is dialled next.
    next_addr: usize,
    dialed_at: Instant,
    /// `link.written` when last looked at, and when it last changed.
    written: (u64, Instant),
    /// When the last keep-alive probe went out.
    pinged: Instant,
    /// The connection's `bytes_out` when last looked at, and since when
    /// it has not moved while output waited (`watch.rs`).
    sent: (u64, Instant),
    /// The mirror's PubAcks and refusals when last looked at, and since
    /// when that count has not moved while messages awaited theirs.
    answered: (u64, Instant),
    /// The stand-in while the bridge is down, and the far end of its
    /// socket (kept open, never written).
    parked: Option<(ConnId, TcpStream)>,
    /// When a stand-in may be tried again after one could not be made.
    next_park: Instant,
    /// A NATS bridge's JetStream mirror of durable queues.
    mirror: Option<Rc<RefCell<Mirror>>>,
}

/// The bridges of one reactor.
#[derive(Default)]
pub struct Bridges {
    shared: Option<Rc<Shared>>,
    slots: Vec<Slot>,
    /// Where stand-ins get their loopback sockets from (never polled).
    pairs: Option<TcpListener>,
}

impl Bridges {
    /// What every bridge of this broker shares, made on first use.
    pub fn shared(&mut self) -> Rc<Shared> {
        Rc::clone(self.shared.get_or_insert_with(|| Rc::new(Shared::new())))
    }

    /// Whether the bridge commands have been added (see `Reactor`).
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// Adds a bridge, dialled at the next turn.
    pub fn add(&mut self, cfg: BridgeConfig, now: Instant) {
        let cfg = Rc::new(cfg);
        let link = Rc::new(RefCell::new(Link::new(Rc::clone(&cfg))));
        let shared = self.shared();
        shared.links.borrow_mut().push(Rc::clone(&link));
        // A bridge of the same name before (a reload changed it): its
        // mirror's messages go on with the new one, or are counted
        // dropped when it mirrors elsewhere now.
        let mut mirrors = shared.mirrors.borrow_mut();
        let old = mirrors
            .iter()
            .position(|(n, _)| *n == cfg.name)
            .map(|i| mirrors.remove(i).1);
        let mirror = (cfg.kind == Kind::Nats && cfg.jetstream.is_on()).then(|| {
            let mut m = Mirror::new(
                cfg.jetstream.clone(),
                shared.id,
                cfg.buffer_messages,
                cfg.buffer_bytes,
            );
            if let Some(old) = &old {
                m.take_over(&mut old.borrow_mut());
            }
            let m = Rc::new(RefCell::new(m));
            mirrors.push((cfg.name.clone(), Rc::clone(&m)));
            m
        });
        drop(mirrors);
        self.slots.push(Slot {
            cfg,
            link,
            conn: None,
            addr: None,
            announced: false,
            attempt: 0,
            next_try: now,
            next_addr: 0,
            dialed_at: now,
            written: (0, now),
            pinged: now,
            sent: (0, now),
            answered: (0, now),
            parked: None,
            next_park: now,
            mirror,
        });
    }

    /// Whether a bridge mirrors durable queues (the queue service must
    /// then keep its committed enqueues for `tick`).
    pub fn mirrors_queues(&self) -> bool {
        self.slots.iter().any(|s| s.mirror.is_some())
    }

    /// When `tick` next has something to do (`None`: nothing planned).
    pub fn next_due(&self, hub: &Hub) -> Option<Instant> {
        self.slots
            .iter()
            .map(|s| match s.conn {
                None if !s.is_parked(hub) => s.next_park.min(s.next_try),
                None => s.next_try,
                // Gone (or going): at once.
                Some(id) if hub.resolve(id).is_none() => Instant::now(),
                Some(_) if !s.link.borrow().open => s.dialed_at + watch::handshake_time(&s.cfg),
                Some(id) => s.due(hub, id),
            })
            .min()
    }

    /// Hands the subscriptions of every bridge whose connection the hub
    /// has just started closing (a failed write, the output hard limit, a
    /// command; end of file and garbage close after the turn's flush, where
    /// `tick` takes over) to a stand-in at once, as `watch` does for a
    /// connection it ends itself. A closing connection is given no more
    /// publications, so without this what the rest of the turn publishes
    /// would not be forwarded at all: the stand-in keeps it in the link
    /// for the next connection, and `tick` redials as usual.
    pub fn take_over_closing(&mut self, hub: &mut Hub, now: Instant) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        for slot in &mut self.slots {
            // A closing connection no longer resolves.
            if slot.conn.is_none_or(|id| hub.resolve(id).is_some()) {
                continue;
            }
            slot.lost(hub, now);
            if !slot.is_parked(hub) && now >= slot.next_park {
                slot.park(hub, &shared, &mut self.pairs, now);
            }
        }
    }

    /// Dials what is due, notices connections gone, pings idle ones.
    pub fn tick(&mut self, hub: &mut Hub, now: Instant) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        if self.mirrors_queues() {
            hub.queues_mut().keep_enqueued();
        }
        // Taken even with no mirror left (a reload removed it): nothing
        // piles up.
        let enqueued = hub.queues_mut().take_enqueued();
        for slot in &mut self.slots {
            if let Some(m) = &slot.mirror {
                let mut m = m.borrow_mut();
                for e in &enqueued {
                    m.offer(&e.queue, e.id, &e.payload);
                }
            }
            match slot.conn.map(|id| hub.resolve(id)) {
                Some(Some(key)) => {
                    slot.watch(hub, key, now);
                    if slot.conn.is_some() {
                        slot.mirror_out(hub, key);
                    }
                }
                Some(None) => slot.lost(hub, now),
                None => {}
            }
            if slot.conn.is_none() {
                if !slot.is_parked(hub) && now >= slot.next_park {
                    slot.park(hub, &shared, &mut self.pairs, now);
                }
                if now >= slot.next_try {
                    slot.dial(hub, &shared, now);
                }
            }
            slot.log_notes(hub);
        }
    }
}

impl Slot {
    fn log(&self, hub: &mut Hub, level: Level, text: &str) {
        let sender = format!("bridge-{}", self.cfg.name);
        hub.log(level, "bridge", &sender, text);
    }

    fn log_notes(&self, hub: &mut Hub) {
        let mut notes = std::mem::take(&mut self.link.borrow_mut().notes);
        if let Some(m) = &self.mirror {
            notes.append(&mut m.borrow_mut().notes);
        }
        for n in notes {
            self.log(hub, Level::Warn, &n);
        }
    }

    /// Publishes what the mirror holds on live connection `key`, once the
    /// stream is known to be there (the NATS codec publishes the rest as
    /// acknowledgements open its window).
    fn mirror_out(&mut self, hub: &mut Hub, key: usize) {
        let Some(m) = &self.mirror else {
            return;
        };
        let Some(conn) = hub.conns.get_mut(key) else {
            return;
        };
        let out = conn.out.own();
        let before = out.len();
        if m.borrow_mut().drain(out) > 0 {
            self.link.borrow_mut().written += (out.len() - before) as u64;
            hub.mark_dirty(key);
        }
    }

    /// The connection ended: count, log, plan the next attempt.
    fn lost(&mut self, hub: &mut Hub, now: Instant) {
        self.conn = None;
        let (was_open, unconfirmed, why) = {
            let mut link = self.link.borrow_mut();
            let was_open = link.open;
            let n = link.connection_ended();
            let m = self
                .mirror
                .as_ref()
                .map_or(0, |m| m.borrow_mut().connection_ended());
            (was_open, n + m, link.error.take())
        };
        if was_open {
            self.attempt = 0;
        }
        let delay = self.cfg.backoff.delay(self.attempt, random_u32());
        self.attempt = self.attempt.saturating_add(1);
        self.next_try = now + delay;
        self.announced = false;
        let addr = self.addr.map(|a| a.to_string()).unwrap_or_default();
        let what = if was_open {
            format!("connection to {addr} lost")
        } else {
            format!("could not connect to {addr}")
        };
        let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
        let again = match unconfirmed {
            0 => String::new(),
            n => format!("; {n} unconfirmed will be sent again"),
        };
        let text = format!(
            "{what}{why}{again}; retrying in {:.2} s (attempt {})",
            delay.as_secs_f64(),
            self.attempt
        );
        self.log(hub, Level::Warn, &text);
    }

    /// Whether a stand-in holds the bridge's subscriptions.
    fn is_parked(&self, hub: &Hub) -> bool {
        self.parked
            .as_ref()
            .is_some_and(|(id, _)| hub.resolve(*id).is_some())
    }

    /// Puts a stand-in in the hub: one end of a loopback socket pair
    /// nobody writes to, with a codec that never opens, subscribed to the
    /// `out` patterns, so what is published while the bridge is down
    /// waits in its link for the next connection (bounded). Without one
    /// (no descriptor left), such messages are not forwarded.
    fn park(
        &mut self,
        hub: &mut Hub,
        shared: &Rc<Shared>,
        pairs: &mut Option<TcpListener>,
        now: Instant,
    ) {
        let made = stand_in_socket(pairs).and_then(|(near, far)| {
            let transport = make_transport(&self.cfg, &self.link, shared, None, true, None);
            let peer = self.addr.or(self.cfg.addrs.first().copied());
            let peer = peer.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
            let (near, peer) = (Socket::Tcp(near), PeerAddr::Inet(peer));
            let key = hub.insert(|gen| Conn::new(near, transport, peer, gen, now))?;
            Ok((key, far))
        });
        match made {
            Ok((key, far)) => {
                for p in self.cfg.mapping.local_patterns() {
                    hub.subs.subscribe(key, p.as_bytes(), true);
                }
                self.parked = hub.conn_id(key).map(|id| (id, far));
            }
            Err(e) => {
                self.next_park = now + PARK_RETRY;
                let text = format!(
                    "no stand-in while down ({e}): publications meanwhile are not forwarded"
                );
                self.log(hub, Level::Warn, &text);
            }
        }
    }

    /// Retires the stand-in: the new connection holds the subscriptions
    /// from now on (the stand-in is closed first, so no publication goes
    /// to both).
    fn unpark(&mut self, hub: &mut Hub) {
        if let Some((id, far)) = self.parked.take() {
            if let Some(key) = hub.resolve(id) {
                hub.close(key, "bridge stand-in replaced by a connection");
            }
            drop(far);
        }
    }

    /// Dials the next address.
    fn dial(&mut self, hub: &mut Hub, shared: &Rc<Shared>, now: Instant) {
        let Some(&addr) = self
            .cfg
            .addrs
            .get(self.next_addr % self.cfg.addrs.len().max(1))
        else {
            return;
        };
        self.next_addr = self.next_addr.wrapping_add(1);
        self.addr = Some(addr);
        self.dialed_at = now;
        // NATS greets in plain text; its codec opens the way to TLS.
        let gate = (self.cfg.tls && self.cfg.kind == Kind::Nats).then(|| Rc::new(Cell::new(false)));
        let transport = make_transport(
            &self.cfg,
            &self.link,
            shared,
            self.mirror.as_ref(),
            false,
            gate.clone(),
        );
        let made = transport::tls_layer(&self.cfg, addr, now, gate)
            .and_then(|tls| connect(hub, addr, transport, tls, now));
        match made {
            Ok(key) => {
                self.unpark(hub);
                for p in self.cfg.mapping.local_patterns() {
                    hub.subs.subscribe(key, p.as_bytes(), true);
                }
                self.conn = hub.conn_id(key);
                self.written = (self.link.borrow().written, now);
                (self.pinged, self.sent) = (now, (0, now));
                self.answered.1 = now;
                self.log(hub, Level::Info, &format!("connecting to {addr}"));
            }
            Err(e) => {
                let delay = self.cfg.backoff.delay(self.attempt, random_u32());
                self.attempt = self.attempt.saturating_add(1);
                self.next_try = now + delay;
                let text = format!(
                    "could not connect to {addr} ({e}); retrying in {:.2} s (attempt {})",
                    delay.as_secs_f64(),
                    self.attempt
                );
                self.log(hub, Level::Warn, &text);
            }
        }
    }
}

/// The codec for a bridge of `cfg`'s kind; `tls_gate`: the one a NATS
/// codec opens when the server's greeting asks for TLS.
fn make_transport(
    cfg: &BridgeConfig,
    link: &Rc<RefCell<Link>>,
    shared: &Rc<Shared>,
    mirror: Option<&Rc<RefCell<Mirror>>>,
    parked: bool,
    tls_gate: Option<Rc<Cell<bool>>>,
) -> Box<dyn Transport> {
    let link = Rc::clone(link);
    match cfg.kind {
        Kind::Ducq => Box::new(BridgeTransport::new(
            ducq::DucqRemote::new(Rc::clone(shared), cfg),
            link,
            parked,
        )),
        Kind::Mqtt => Box::new(BridgeTransport::new(
            mqtt::MqttRemote::new(cfg),
            link,
            parked,
        )),
        Kind::Nats => Box::new(BridgeTransport::new(
            nats::NatsRemote::new(cfg, mirror.cloned(), tls_gate),
            link,
            parked,
        )),
    }
}

/// A connected loopback socket pair: the near end non-blocking for the
/// hub, the far end to keep.
fn stand_in_socket(
    pairs: &mut Option<TcpListener>,
) -> std::io::Result<(mio::net::TcpStream, TcpStream)> {
    if pairs.is_none() {
        *pairs = Some(TcpListener::bind("127.0.0.1:0")?);
    }
    let Some(listener) = pairs.as_ref() else {
        return Err(std::io::Error::other("no listener"));
    };
    // Loopback: the connection is made by the kernel at once, and waits in
    // the listener's queue for the accept.
    let near = TcpStream::connect(listener.local_addr()?)?;
    let (far, _) = listener.accept()?;
    near.set_nonblocking(true)?;
    Ok((mio::net::TcpStream::from_std(near), far))
}

/// Starts a non-blocking connect and adds the connection to the hub (over
/// `tls` when given), its opening bytes queued. Returns its key.
fn connect(
    hub: &mut Hub,
    addr: SocketAddr,
    transport: Box<dyn Transport>,
    tls: Option<Box<super::tls::TlsLayer>>,
    now: Instant,
) -> std::io::Result<usize> {
    let stream = mio::net::TcpStream::connect(addr)?;
    let _ = stream.set_nodelay(true);
    let (stream, addr) = (Socket::Tcp(stream), PeerAddr::Inet(addr));
    let key = hub.insert(|gen| Conn::new(stream, transport, addr, gen, now))?;
    if let Some(conn) = hub.conns.get_mut(key) {
        // With TLS, the opening bytes wait for the handshake.
        conn.tls = tls;
        conn.transport.open(conn.out.own());
        if conn.pending_output() > 0 {
            hub.mark_dirty(key);
        }
    }
    Ok(key)
}

/// One line of the `bridges` listing, with its mirror's counts when it
/// mirrors queues.
pub(crate) fn listing_line(link: &Link, mirror: Option<&Mirror>) -> String {
    let mut line = link_fields(link);
    if let Some(m) = mirror {
        let c = &m.counters;
        let (waiting, unacked) = m.depths();
        line.push_str(&format!(
            " stream={} mirrored={} mirror_sent={} mirror_in_flight={unacked} \
             mirror_waiting={waiting} mirror_resent={} duplicates={} mirror_rejected={} \
             mirror_dropped={} mirror_unmappable={}",
            m.config().stream,
            c.acked,
            c.sent,
            c.resent,
            c.duplicates,
            c.rejected,
            c.dropped,
            c.unmappable,
        ));
    }
    line.push('\n');
    line
}

/// A bridge's own fields in the listing.
fn link_fields(link: &Link) -> String {
    let c = &link.counters;
    let cfg = &link.cfg;
    let addrs: Vec<String> = cfg.addrs.iter().map(|a| a.to_string()).collect();
    format!(
        "{} kind={} addr={} state={} connects={} disconnects={} sent={} confirmed={} in_flight={} \
         waiting={} resent={} rejected={} untracked={} unmappable={} dropped={} looped={} \
         received={} ignored={} refused={}",
        cfg.name,
        cfg.kind,
        addrs.join("|"),
        if link.open { "open" } else { "down" },
        c.connects,
        c.disconnects,
        c.sent,
        c.confirmed,
        link.in_flight(),
        link.waiting.len(),
        c.resent,
        c.rejected,
        c.untracked,
        c.unmappable,
        c.dropped,
        c.looped,
        c.received,
        c.ignored,
        c.refused,
    )
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod manager_tests;
