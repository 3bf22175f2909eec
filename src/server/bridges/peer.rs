//! The accepting side of a ducq bridge, and the commands bridges add to a
//! broker (PROTOCOL.md §16):
//!
//! - `bridge <id>\n1`: the connection is another broker's bridge; answered
//!   `bridge <our id>\n1`. From then on its codec is wrapped in a
//!   [`PeerCodec`], which sends it publications as `bpub` with their trace
//!   and leaves out those whose trace names it.
//! - `bpub R\n<trace>\nP`: a publication that crossed a bridge; published
//!   here as `pub R\nP`, through the channels of R as `pub` is, unless its
//!   trace names this broker or it was seen already (answered `ACK`).
//! - `bridges`: PARTS, a line per bridge with its state and counters, END.
//!
//! Ordinary clients never see `bridge` or `bpub`. It must not dial anything
//! (the manager does) or know the remote protocols.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::jetstream::Mirror;
use super::link::Link;
use super::trace::{broker_id, Seen, Trace};
use crate::proto::message::format;
use crate::proto::{Message, State, ACK, END, PARTS};
use crate::server::channels::gate::{self, Admitted};
use crate::server::commands::check_route;
use crate::server::dispatcher::CommandSet;
use crate::server::hub::Hub;
use crate::server::log::Level;
use crate::transport::tcp::TcpCodec;
use crate::transport::{LastMessage, SharedEncoding, Step, Transport};

/// The version of the bridge protocol this broker speaks.
pub const VERSION: &[u8] = b"1";

/// What every bridge of one broker shares: its id, the trace of the
/// publication being made, the window of messages seen, and the bridges
/// themselves (for the listing).
pub struct Shared {
    /// This broker's id, random per start.
    pub id: u64,
    /// The trace of the bridged publication being dispatched, with this
    /// broker added; `None` for a local one.
    pub current: RefCell<Option<Trace>>,
    /// Messages seen lately.
    pub seen: RefCell<Seen>,
    /// Messages dropped by `bpub` as already seen or looping.
    pub duplicates: Cell<u64>,
    /// The bridges this broker dials.
    pub links: RefCell<Vec<Rc<RefCell<Link>>>>,
    /// Their JetStream mirrors, by bridge name.
    pub mirrors: RefCell<Vec<(String, Rc<RefCell<Mirror>>)>>,
}

impl Shared {
    /// Shared state with a random id.
    pub fn new() -> Shared {
        let id =
            u64::from(crate::backoff::random_u32()) << 32 | u64::from(crate::backoff::random_u32());
        Shared {
            id,
            current: RefCell::new(None),
            seen: RefCell::new(Seen::default()),
            duplicates: Cell::new(0),
            links: RefCell::new(Vec::new()),
            mirrors: RefCell::new(Vec::new()),
        }
    }

    /// The trace to send with publication `seq` now being made here.
    pub fn trace_for(&self, seq: u64) -> Trace {
        self.current
            .borrow()
            .clone()
            .unwrap_or_else(|| Trace::new(self.id, seq))
    }

    /// `bpub R\n<trace>\nP`.
    pub fn bpub(route: &[u8], trace: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut body = Vec::with_capacity(trace.len() + 1 + payload.len());
        body.extend_from_slice(trace);
        body.push(b'\n');
        body.extend_from_slice(payload);
        format(b"bpub", route, &body)
    }
}

impl Default for Shared {
    fn default() -> Shared {
        Shared::new()
    }
}

/// The codec of a connection another broker's bridge opened: its own codec
/// for everything, except that publications go out as `bpub` with their
/// trace, and not at all to a broker the trace names.
pub struct PeerCodec {
    inner: Box<dyn Transport>,
    shared: Rc<Shared>,
    peer: u64,
}

impl Transport for PeerCodec {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn open(&mut self, out: &mut Vec<u8>) {
        self.inner.open(out)
    }
    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        self.inner.decode(input, out)
    }
    fn frame_len(&self, input: &[u8]) -> Option<usize> {
        self.inner.frame_len(input)
    }
    fn after_dispatch(&mut self, out: &mut Vec<u8>) {
        self.inner.after_dispatch(out)
    }
    fn accepts_push(&self) -> bool {
        self.inner.accepts_push()
    }
    /// The other broker takes `bpub` only: `to` and streams stay here.
    fn reads_ducq_messages(&self) -> bool {
        false
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        self.inner.encode(msg, out)
    }
    fn shared_encoding(&self) -> Option<SharedEncoding> {
        None
    }
    fn close_after_flush(&self) -> bool {
        self.inner.close_after_flush()
    }
    fn keepalive(&mut self, out: &mut Vec<u8>) -> bool {
        self.inner.keepalive(out)
    }
    fn idle_timeout(&self) -> Option<std::time::Duration> {
        self.inner.idle_timeout()
    }
    fn last_message(&self) -> LastMessage {
        self.inner.last_message()
    }
    fn closing(&mut self) {
        self.inner.closing()
    }
    fn last_words(&mut self) -> Option<Vec<u8>> {
        self.inner.last_words()
    }
    fn encode_publication(&mut self, msg: &[u8], seq: u64, out: &mut Vec<u8>) {
        let Ok(m) = Message::parse(msg) else {
            return;
        };
        let trace = self.shared.trace_for(seq);
        if trace.names(self.peer) {
            return;
        }
        let body = Shared::bpub(m.route, &trace.to_bytes(), m.payload);
        self.inner.encode(&body, out);
    }
}

/// The `bridge`, `bpub` and `bridges` commands.
pub struct PeerCommands {
    shared: Rc<Shared>,
}

impl PeerCommands {
    /// The commands over `shared`.
    pub fn new(shared: Rc<Shared>) -> PeerCommands {
        PeerCommands { shared }
    }

    /// `bridge <id>\n<version>`: wrap the caller's codec, answer our id.
    fn bridge(&self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        let peer = std::str::from_utf8(msg.route)
            .ok()
            .and_then(broker_id)
            .ok_or(State::EMsgInv)?;
        let who = hub.client_id(caller).unwrap_or_default();
        if peer == self.shared.id {
            hub.log(Level::Warn, "bridge", &who, "refused: a bridge to itself");
            return Err(State::EMsgInv);
        }
        let conn = hub.conns.get_mut(caller).ok_or(State::ENotFound)?;
        let inner = std::mem::replace(&mut conn.transport, Box::new(TcpCodec::new(0)));
        conn.transport = Box::new(PeerCodec {
            inner,
            shared: Rc::clone(&self.shared),
            peer,
        });
        let text = format!("bridge from broker {peer:016x}");
        hub.log(Level::Info, "bridge", &who, &text);
        let id = format!("{:016x}", self.shared.id);
        hub.send(caller, &format(b"bridge", id.as_bytes(), VERSION))
    }

    /// `bpub R\n<trace>\nP`: publish unless looping or seen.
    fn bpub(&self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        check_route(hub, msg)?;
        let (trace, payload) = match msg.payload.iter().position(|&b| b == b'\n') {
            Some(i) => (
                msg.payload.get(..i).unwrap_or_default(),
                msg.payload.get(i + 1..).unwrap_or_default(),
            ),
            None => return Err(State::EMsgInv),
        };
        let mut trace = Trace::parse(trace).ok_or(State::EMsgInv)?;
        let fresh = !trace.names(self.shared.id)
            && self
                .shared
                .seen
                .borrow_mut()
                .insert(trace.origin, trace.seq);
        if !fresh {
            self.shared.duplicates.set(self.shared.duplicates.get() + 1);
            return hub.send(caller, ACK);
        }
        // The channels governing the route apply as they do to `pub`: a
        // bridge (or a client saying `bpub`) is one more publisher.
        let plain = format(b"pub", msg.route, payload);
        let as_pub = Message::parse(&plain).map_err(|_| State::EMsgInv)?;
        let (route, body) = match gate::publication(hub, caller, &as_pub)? {
            Admitted::AsSent => (msg.route.to_vec(), plain),
            Admitted::Rewritten { route, msg } => (route, msg),
            Admitted::Dropped => return hub.send(caller, ACK),
            Admitted::Answered => return Ok(()),
        };
        hub.send(caller, ACK)?;
        trace.hops.push(self.shared.id);
        *self.shared.current.borrow_mut() = Some(trace);
        hub.publish(&route, &body);
        *self.shared.current.borrow_mut() = None;
        Ok(())
    }

    /// `bridges`: the listing.
    fn list(&self, hub: &mut Hub, caller: usize) -> Result<(), State> {
        let mut lines = vec![format!(
            "broker {:016x} duplicates={}\n",
            self.shared.id,
            self.shared.duplicates.get()
        )];
        let mirrors = self.shared.mirrors.borrow();
        for link in self.shared.links.borrow().iter() {
            let link = link.borrow();
            let mirror = mirrors.iter().find(|(n, _)| *n == link.cfg.name);
            let mirror = mirror.map(|(_, m)| m.borrow());
            lines.push(super::listing_line(&link, mirror.as_deref()));
        }
        hub.send(caller, PARTS)?;
        for line in lines {
            hub.send(caller, line.as_bytes())?;
        }
        hub.send(caller, END)
    }
}

impl CommandSet for PeerCommands {
    fn list(&self) -> Vec<(String, String)> {
        vec![
            (
                "bridge".into(),
                "another broker's bridge introduces itself (route: its id): answers this broker's id".into(),
            ),
            (
                "bpub".into(),
                "publish a message that crossed a bridge (payload: its trace, a line break, the payload): ACK".into(),
            ),
            (
                "bridges".into(),
                "list the bridges: PARTS, this broker's id, then a line per bridge with its state and counters, END".into(),
            ),
        ]
    }

    fn has(&self, name: &[u8]) -> bool {
        matches!(name, b"bridge" | b"bpub" | b"bridges")
    }

    fn exec(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        match msg.command {
            b"bridge" => self.bridge(hub, caller, msg),
            b"bpub" => self.bpub(hub, caller, msg),
            _ => self.list(hub, caller),
        }
    }

    fn name(&self) -> &str {
        "bridges"
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::server::hub::tests::{frame, hub, read_now, tcp};
    use crate::server::test_codecs::{check_forwarding, Distinct};

    fn exec(
        cmds: &mut PeerCommands,
        hub: &mut Hub,
        caller: usize,
        text: &[u8],
    ) -> Result<(), State> {
        let msg = Message::parse(text).unwrap();
        cmds.exec(hub, caller, &msg)
    }

    /// `bpub` bodies delivered to a peer, as (route, trace, payload).
    fn bpubs(wire: &[u8]) -> Vec<(String, Trace, String)> {
        let mut rest = wire;
        let mut got = Vec::new();
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let len: usize = std::str::from_utf8(&rest[..nl]).unwrap().parse().unwrap();
            let body = std::str::from_utf8(&rest[nl + 1..nl + 1 + len]).unwrap();
            let (head, tail) = body.split_once('\n').unwrap();
            let (trace, payload) = tail.split_once('\n').unwrap();
            let route = head.strip_prefix("bpub ").unwrap();
            let trace = Trace::parse(trace.as_bytes()).unwrap();
            got.push((route.to_string(), trace, payload.to_string()));
            rest = &rest[nl + 1 + len..];
        }
        got
    }

    #[test]
    fn a_peer_is_answered_our_id_and_then_gets_bpub_unless_the_trace_names_it() {
        let (mut hub, _poll) = hub();
        let shared = Rc::new(Shared::new());
        let mut cmds = PeerCommands::new(Rc::clone(&shared));
        let (a, mut pa) = tcp(&mut hub);
        assert_eq!(
            exec(&mut cmds, &mut hub, a, b"bridge 00000000000000ab\n1"),
            Ok(())
        );
        hub.flush_dirty();
        let hello = format!("bridge {:016x}\n1", shared.id);
        assert_eq!(read_now(&mut pa), frame(hello.as_bytes()));
        // Local publications go out as bpub with this broker's trace.
        hub.subs.subscribe(a, b"r", true);
        hub.publish(b"r", b"pub r\none");
        hub.publish(b"r", b"pub r\ntwo");
        hub.flush_dirty();
        let got = bpubs(&read_now(&mut pa));
        assert_eq!(got.len(), 2);
        for (i, (route, trace, payload)) in got.iter().enumerate() {
            assert_eq!((route.as_str(), payload.as_str()), ("r", ["one", "two"][i]));
            assert_eq!((trace.origin, trace.hops.as_slice()), (shared.id, &[][..]));
        }
        assert_eq!(got[1].1.seq, got[0].1.seq + 1);
        // One that has been on the peer is not sent back to it.
        let mut been = Trace::new(7, 1);
        been.hops.push(0xab);
        *shared.current.borrow_mut() = Some(been);
        hub.publish(b"r", b"pub r\nback");
        *shared.current.borrow_mut() = None;
        hub.flush_dirty();
        assert_eq!(read_now(&mut pa), b"");
        // Only a broker id, and not ours: a bridge to itself is refused.
        let (b, _pb) = tcp(&mut hub);
        assert_eq!(
            exec(&mut cmds, &mut hub, b, b"bridge zz\n1"),
            Err(State::EMsgInv)
        );
        let own = format!("bridge {:016x}\n1", shared.id);
        assert_eq!(
            exec(&mut cmds, &mut hub, b, own.as_bytes()),
            Err(State::EMsgInv)
        );
    }

    #[test]
    fn bpub_publishes_once_with_this_broker_added_to_the_trace() {
        let (mut hub, _poll) = hub();
        let shared = Rc::new(Shared::new());
        let mut cmds = PeerCommands::new(Rc::clone(&shared));
        let (peer, mut pp) = tcp(&mut hub);
        let (sub, mut ps) = tcp(&mut hub);
        let (next, mut pn) = tcp(&mut hub);
        hub.subs.subscribe(sub, b"r", true);
        exec(&mut cmds, &mut hub, next, b"bridge 00000000000000cd\n1").unwrap();
        hub.subs.subscribe(next, b"r", true);
        hub.flush_dirty();
        read_now(&mut pn);
        // Fresh: ACK, published as pub, passed on with our id as a hop.
        exec(
            &mut cmds,
            &mut hub,
            peer,
            b"bpub r\n00000000000000ab:5\nhello",
        )
        .unwrap();
        hub.flush_dirty();
        assert_eq!(read_now(&mut pp), frame(b"ACK"));
        assert_eq!(read_now(&mut ps), frame(b"pub r\nhello"));
        let mut want = Trace::new(0xab, 5);
        want.hops.push(shared.id);
        assert_eq!(
            bpubs(&read_now(&mut pn)),
            [("r".to_string(), want, "hello".to_string())]
        );
        assert!(shared.current.borrow().is_none());
        // Seen already, or naming this broker: ACK, nothing published.
        let ours = format!("bpub r\n00000000000000ab:6,{:016x}\nagain", shared.id);
        for dup in [&b"bpub r\n00000000000000ab:5\nhello"[..], ours.as_bytes()] {
            exec(&mut cmds, &mut hub, peer, dup).unwrap();
        }
        hub.flush_dirty();
        assert_eq!(read_now(&mut pp), [frame(b"ACK"), frame(b"ACK")].concat());
        assert_eq!((read_now(&mut ps), shared.duplicates.get()), (vec![], 2));
        // Malformed: no trace line, a bad trace, no route line.
        for bad in [&b"bpub r\nhello"[..], b"bpub r\nxyz\nhello", b"bpub r"] {
            assert_eq!(
                exec(&mut cmds, &mut hub, peer, bad),
                Err(State::EMsgInv),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_listing_and_the_command_set() {
        let (mut hub, _poll) = hub();
        let shared = Rc::new(Shared::new());
        shared.duplicates.set(3);
        let mut cmds = PeerCommands::new(Rc::clone(&shared));
        let (a, mut pa) = tcp(&mut hub);
        exec(&mut cmds, &mut hub, a, b"bridges\n").unwrap();
        hub.flush_dirty();
        let line = format!("broker {:016x} duplicates=3\n", shared.id);
        assert_eq!(
            read_now(&mut pa),
            [frame(b"PARTS"), frame(line.as_bytes()), frame(b"END")].concat()
        );
        assert_eq!(cmds.name(), "bridges");
        let names: Vec<String> = CommandSet::list(&cmds)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["bridge", "bpub", "bridges"]);
        for n in ["bridge", "bpub", "bridges"] {
            assert!(cmds.has(n.as_bytes()));
        }
        assert!(!cmds.has(b"pub") && !cmds.has(b"bridgez"));
    }

    #[test]
    fn each_bridge_is_listed_with_its_own_mirror_alone() {
        use crate::server::bridges::config::{BridgeConfig, Kind};
        use crate::server::bridges::jetstream::JetStreamConfig;
        let (mut hub, _poll) = hub();
        let shared = Rc::new(Shared::new());
        let mut cmds = PeerCommands::new(Rc::clone(&shared));
        for (name, kind) in [("a", Kind::Ducq), ("n", Kind::Nats)] {
            let mut cfg = BridgeConfig::new(kind, "127.0.0.1:1".parse().unwrap());
            cfg.name = name.into();
            let link = Rc::new(RefCell::new(Link::new(Rc::new(cfg))));
            shared.links.borrow_mut().push(link);
        }
        let js = JetStreamConfig::default();
        let mirror = Rc::new(RefCell::new(Mirror::new(js, 1, 10, 100)));
        shared.mirrors.borrow_mut().push(("n".into(), mirror));
        let (c, mut pc) = tcp(&mut hub);
        exec(&mut cmds, &mut hub, c, b"bridges\n").unwrap();
        hub.flush_dirty();
        let fields = |name: &str, kind: &str| {
            format!(
                "{name} kind={kind} addr=127.0.0.1:1 state=down connects=0 disconnects=0 \
                 sent=0 confirmed=0 in_flight=0 waiting=0 resent=0 rejected=0 untracked=0 \
                 unmappable=0 dropped=0 looped=0 received=0 ignored=0 refused=0"
            )
        };
        let a = format!("{}\n", fields("a", "ducq"));
        let n = format!(
            "{} stream=DUCQ_QUEUES mirrored=0 mirror_sent=0 mirror_in_flight=0 \
             mirror_waiting=0 mirror_resent=0 duplicates=0 mirror_rejected=0 \
             mirror_dropped=0 mirror_unmappable=0\n",
            fields("n", "nats")
        );
        let head = format!("broker {:016x} duplicates=0\n", shared.id);
        let want = [
            &b"PARTS"[..],
            head.as_bytes(),
            a.as_bytes(),
            n.as_bytes(),
            b"END",
        ];
        let want: Vec<u8> = want.iter().flat_map(|m| frame(m)).collect();
        assert_eq!(read_now(&mut pc), want);
    }

    #[test]
    fn the_peer_codec_is_its_inner_codec_but_for_publications() {
        let on = Rc::new(Cell::new(true));
        let shared = Rc::new(Shared::new());
        let inner = Distinct::new(&on);
        let closed = Rc::clone(&inner.closed);
        let mut c = PeerCodec {
            inner: Box::new(inner),
            shared: Rc::clone(&shared),
            peer: 0xab,
        };
        assert_eq!(c.name(), "inner");
        check_forwarding(&mut c, &on);
        for flag in [true, false] {
            on.set(flag);
            assert_eq!(c.accepts_push(), flag);
        }
        // Never shared, though its inner codec's is: publications differ.
        on.set(true);
        assert!(c.shared_encoding().is_none());
        assert_eq!(c.idle_timeout(), Some(std::time::Duration::from_secs(7)));
        assert_eq!(c.last_message(), LastMessage::Forget);
        c.closing();
        assert!(closed.get());
        assert_eq!(c.last_words(), Some(b"bye".to_vec()));
        // A publication: bpub with its trace, through the inner encoder.
        let mut out = Vec::new();
        c.encode_publication(b"pub r\nx", 9, &mut out);
        let want = format!("enc:bpub r\n{:016x}:9\nx", shared.id);
        assert_eq!(out, want.as_bytes());
    }
}
