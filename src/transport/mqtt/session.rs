//! MQTT session state (3.1.1 §4.1, 5.0 §4.1) apart from any connection: the
//! client's subscriptions, outgoing QoS 1 and 2 messages in flight or queued, the
//! QoS 2 packet identifiers received and not yet released. A session is
//! shared (`Rc<RefCell<…>>`) between the [`Listener`] registry and the
//! connection that owns it now, so it survives a dropped connection
//! (clean session 0, session expiry) and moves to the connection that takes
//! its client identifier over.
//!
//! Plain data and bookkeeping; no I/O, nothing here encodes packets. Time
//! comes from the listener's [`Clock`] (the system's, or a test's), read
//! where a message expiry or a parked session's start is recorded; with a
//! durable store the listener also notes which sessions changed
//! (`touch`) so the server can write them at the end of the turn.
//!
//! An outgoing QoS 1 message is in flight until its PUBACK; a QoS 2 one
//! until its PUBREC (then `released`: PUBREL sent) and its PUBCOMP.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use super::packet::{QoS, SubOptions};
use super::props::Properties;

/// One subscription of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sub {
    /// The topic filter (without `$share/<group>/`). Boxed strings, not
    /// `String`s: 16 bytes each instead of 24 in every idle connection's
    /// subscription.
    pub filter: Box<str>,
    /// The share group, for `$share/<group>/<filter>`.
    pub share: Option<Box<str>>,
    /// Options as requested, with the QoS granted.
    pub opts: SubOptions,
    /// MQTT 5 subscription identifier.
    pub id: Option<u32>,
    /// The ducq route pattern it is subscribed under, when it is not the
    /// filter itself (an idle connection's memory counts: most are).
    pub glob: Option<Box<str>>,
}

impl Sub {
    /// The ducq route pattern it is subscribed under.
    pub fn pattern(&self) -> &str {
        self.glob.as_deref().unwrap_or(&self.filter)
    }
}

/// A message waiting to be delivered or acknowledged, owning its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS of the delivery.
    pub qos: QoS,
    /// Retain flag as delivered.
    pub retain: bool,
    /// MQTT 5 properties to send with it.
    pub props: Properties<'static>,
    /// QoS 2: its PUBREC came and PUBREL was sent; it waits for PUBCOMP
    /// (and is released again, not published again, on reconnect).
    pub released: bool,
    /// MQTT 5 Message Expiry: when it runs out, in unix milliseconds.
    /// `props.message_expiry` is set from it each time it is sent, to
    /// what is left then [MQTT-3.3.2-6].
    pub deadline: Option<u64>,
}

impl Outgoing {
    /// Whether its Message Expiry Interval has run out at `now_ms`.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.deadline.is_some_and(|d| d <= now_ms)
    }

    /// Its deadline from the Message Expiry Interval in its properties,
    /// counted from `now_ms` (when the server took it).
    pub fn with_deadline(mut self, now_ms: u64) -> Outgoing {
        self.deadline = self
            .props
            .message_expiry
            .map(|secs| now_ms.saturating_add(u64::from(secs) * 1000));
        self
    }

    /// The Message Expiry Interval to send at `now_ms`: what is left, in
    /// whole seconds rounded up (never 0 for a message not yet expired).
    pub fn expiry_left(&self, now_ms: u64) -> Option<u32> {
        let d = self.deadline?;
        let secs = d.saturating_sub(now_ms).div_ceil(1000);
        Some(u32::try_from(secs).unwrap_or(u32::MAX))
    }
}

/// The state of one client's session.
#[derive(Debug, Default)]
pub struct Session {
    /// Its key in the registry ([`session_key`]): the client identifier,
    /// after the user's name and a NUL when the client authenticated. One
    /// allocation holds all three (an idle connection's memory counts).
    key: Rc<str>,
    /// The connection that holds the session now (0: none).
    pub owner: u64,
    /// The address of that connection, which its listing name
    /// (`MQTT[<id>]:<ip>:<port>`) ends with, to close it when another
    /// connection takes the session over.
    pub owner_peer: Option<SocketAddr>,
    /// Whether it outlives its connection.
    pub persistent: bool,
    /// Its client spoke MQTT 5 last (what a parked session delivers
    /// depends on it, and a restored one must know).
    pub v5: bool,
    /// MQTT 5 session expiry interval, seconds.
    pub expiry: u32,
    /// Subscriptions, in the order made.
    pub subs: Vec<Sub>,
    /// QoS 1 and 2 state, made on first use: a QoS 0 client never needs
    /// it, and an idle connection's memory counts.
    pub flight: Option<Box<Flight>>,
}

/// The QoS 1 and 2 state of a session.
#[derive(Debug, Default)]
pub struct Flight {
    next_id: u16,
    /// QoS 1 and 2 messages sent and not yet acknowledged, oldest first.
    pub inflight: VecDeque<(u16, Outgoing)>,
    /// QoS 1 and 2 messages waiting for room in the in-flight window.
    pub queued: VecDeque<Outgoing>,
    /// QoS 2 publications received (PUBREC sent) and not yet released: at
    /// most the Receive Maximum, a few, so a list.
    pub incoming_qos2: Vec<u16>,
    /// Messages dropped because the queue was full.
    pub dropped: u64,
}

impl Flight {
    /// The packet identifier handed out last (0: none yet).
    pub fn next_id(&self) -> u16 {
        self.next_id
    }

    /// Packet identifiers go on from `id` (a session read back).
    pub fn set_next_id(&mut self, id: u16) {
        self.next_id = id;
    }
}

impl Session {
    /// An empty session for `client_id` of a client without a user name.
    pub fn new(client_id: &str) -> Session {
        Session::for_user(None, client_id)
    }

    /// An empty session for `client_id` of `user` (none: no user name).
    pub fn for_user(user: Option<&str>, client_id: &str) -> Session {
        Session {
            key: session_key(user, client_id).into(),
            ..Session::default()
        }
    }

    /// Its key in the listener's registry.
    pub fn key(&self) -> Rc<str> {
        Rc::clone(&self.key)
    }

    /// The client identifier.
    pub fn client_id(&self) -> &str {
        self.key.split_once('\0').map_or(&self.key, |(_, id)| id)
    }

    /// The user whose session it is, when the client authenticated.
    pub fn user(&self) -> Option<&str> {
        self.key.split_once('\0').map(|(u, _)| u)
    }

    /// Adds or replaces the subscription to `sub.filter` (same share group).
    /// Returns whether its ducq pattern was not subscribed before (the
    /// broker must be told), and the subscription it replaced with whether
    /// that one's pattern is now unused.
    pub fn subscribe(&mut self, sub: Sub) -> (bool, Option<(Sub, bool)>) {
        let had = self.has_pattern(sub.pattern());
        let mut old = self.unsubscribe(&sub.filter, sub.share.as_deref());
        // Room for this one only: most clients hold one or two.
        self.subs.reserve_exact(1);
        if let Some((o, unused)) = &mut old {
            // Its pattern is in use again: the broker never lost it.
            if o.pattern() == sub.pattern() {
                *unused = false;
            }
        }
        self.subs.push(sub);
        (!had, old)
    }

    /// Removes the subscription to `filter` in `share`. Returns it and
    /// whether its pattern is now unused (the broker must be told).
    pub fn unsubscribe(&mut self, filter: &str, share: Option<&str>) -> Option<(Sub, bool)> {
        let pos = self
            .subs
            .iter()
            .position(|s| &*s.filter == filter && s.share.as_deref() == share)?;
        let sub = self.subs.remove(pos);
        let unused = !self.has_pattern(sub.pattern());
        Some((sub, unused))
    }

    /// Whether a subscription uses `pattern` (a scan: a client holds few
    /// subscriptions, and a map would cost every idle connection).
    pub fn has_pattern(&self, pattern: &str) -> bool {
        self.subs.iter().any(|s| s.pattern() == pattern)
    }

    /// Every ducq pattern in use, each once, in subscription order.
    pub fn patterns(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.subs
            .iter()
            .filter(|s| seen.insert(s.pattern()))
            .map(|s| s.pattern().to_owned())
            .collect()
    }

    /// The QoS 1 and 2 state, made now if it was not.
    pub fn flight_mut(&mut self) -> &mut Flight {
        self.flight.get_or_insert_with(Box::default)
    }

    /// QoS 1 and 2 messages sent and not yet acknowledged, oldest first.
    pub fn inflight(&self) -> impl Iterator<Item = &(u16, Outgoing)> {
        self.flight.iter().flat_map(|f| f.inflight.iter())
    }

    /// A packet identifier not in flight (1..=65535, in turn).
    pub fn next_packet_id(&mut self) -> u16 {
        let f = self.flight_mut();
        loop {
            f.next_id = f.next_id.checked_add(1).unwrap_or(1);
            let id = f.next_id;
            if !f.inflight.iter().any(|(i, _)| *i == id) {
                return id;
            }
        }
    }

    /// Incoming QoS 2 publication `id` was published and PUBREC'd.
    pub fn received_incoming(&mut self, id: u16) {
        let f = self.flight_mut();
        if !f.incoming_qos2.contains(&id) {
            f.incoming_qos2.push(id);
        }
    }

    /// Incoming QoS 2 publication `id` was released (PUBREL); false if it
    /// was not known.
    pub fn released_incoming(&mut self, id: u16) -> bool {
        let Some(f) = self.flight.as_deref_mut() else {
            return false;
        };
        let before = f.incoming_qos2.len();
        f.incoming_qos2.retain(|&i| i != id);
        f.incoming_qos2.len() < before
    }

    /// Whether incoming QoS 2 publication `id` was received and not
    /// released, and how many are.
    pub fn incoming(&self, id: u16) -> (bool, usize) {
        self.flight.as_ref().map_or((false, 0), |f| {
            (f.incoming_qos2.contains(&id), f.incoming_qos2.len())
        })
    }

    /// Queues a QoS 1 or 2 message behind the in-flight window, unless `max`
    /// are queued already: then it is dropped and counted. Returns whether
    /// it was queued.
    pub fn queue(&mut self, o: Outgoing, max: usize) -> bool {
        let f = self.flight_mut();
        if f.queued.len() >= max {
            f.dropped += 1;
            return false;
        }
        f.queued.push_back(o);
        true
    }

    /// Deletes the messages whose MQTT 5 Message Expiry Interval has run
    /// out at `now_ms` [MQTT-3.3.2-5]: queued ones, and in-flight ones
    /// not yet released (sent, not acknowledged: they are not sent again).
    /// A released QoS 2 message was received; its PUBREL stays. Returns
    /// how many were deleted.
    pub fn drop_expired(&mut self, now_ms: u64) -> usize {
        let Some(f) = self.flight.as_deref_mut() else {
            return 0;
        };
        let before = f.queued.len() + f.inflight.len();
        f.queued.retain(|o| !o.expired(now_ms));
        f.inflight.retain(|(_, o)| o.released || !o.expired(now_ms));
        before - f.queued.len() - f.inflight.len()
    }

    /// Whether a session kept without a connection has outlived its
    /// expiry interval, `parked_for` after its connection ended (never
    /// for 0, which 3.1.1 persistent sessions have, nor for 0xFFFFFFFF).
    pub fn expired(&self, parked_for: Duration) -> bool {
        self.expiry != 0
            && self.expiry != u32::MAX
            && parked_for >= Duration::from_secs(u64::from(self.expiry))
    }

    /// Removes the in-flight QoS 1 message `id` (its PUBACK came); false
    /// if none.
    pub fn acknowledge(&mut self, id: u16) -> bool {
        self.remove_where(id, |o| o.qos == QoS::AtLeastOnce)
    }

    /// The PUBREC of in-flight QoS 2 message `id` came: true if there is
    /// one (it is now released; a repeated PUBREC finds it released), false
    /// if not. A PUBREC carrying an error ends the delivery instead.
    pub fn received(&mut self, id: u16, failed: bool) -> bool {
        let Some(f) = self.flight.as_deref_mut() else {
            return false;
        };
        let Some(pos) = f
            .inflight
            .iter()
            .position(|(i, o)| *i == id && o.qos == QoS::ExactlyOnce)
        else {
            return false;
        };
        if failed {
            f.inflight.remove(pos);
            return false;
        }
        if let Some((_, o)) = f.inflight.get_mut(pos) {
            o.released = true;
        }
        true
    }

    /// The PUBCOMP of released QoS 2 message `id` came: removes it; false
    /// if there is none.
    pub fn complete(&mut self, id: u16) -> bool {
        self.remove_where(id, |o| o.qos == QoS::ExactlyOnce && o.released)
    }

    fn remove_where(&mut self, id: u16, f: impl Fn(&Outgoing) -> bool) -> bool {
        let Some(flight) = self.flight.as_deref_mut() else {
            return false;
        };
        match flight.inflight.iter().position(|(i, o)| *i == id && f(o)) {
            Some(pos) => flight.inflight.remove(pos).is_some(),
            None => false,
        }
    }
}

/// Where a session is kept in its listener's registry: by client id for a
/// client without a user name, apart per user otherwise, so no user takes
/// over (or resumes) another's session. A NUL is in neither a user name
/// nor a client id, so the two spaces never meet.
pub fn session_key(user: Option<&str>, client_id: &str) -> String {
    match user {
        Some(u) => format!("{u}\0{client_id}"),
        None => client_id.to_owned(),
    }
}

/// A session shared between the registry and its connection.
pub type SharedSession = Rc<RefCell<Session>>;

/// The publication an MQTT connection of this listener is dispatching:
/// what MQTT subscribers need that a ducq message does not carry (its QoS,
/// retain flag, MQTT 5 properties, who sent it). Valid during that
/// dispatch only; matched to a delivery by the message's address.
#[derive(Debug, Clone)]
pub struct Publication {
    /// Address and length of the ducq message handed to the dispatcher.
    pub at: (usize, usize),
    /// The connection that published it.
    pub from: u64,
    /// QoS it was published with.
    pub qos: QoS,
    /// Its retain flag.
    pub retain: bool,
    /// Properties forwarded to MQTT 5 subscribers (payload format, message
    /// expiry, content type, response topic, correlation data, user
    /// properties).
    pub props: Properties<'static>,
}

impl Publication {
    /// Whether `msg` is the very message this publication was dispatched as.
    pub fn is(&self, msg: &[u8]) -> bool {
        self.at == (msg.as_ptr() as usize, msg.len())
    }
}

/// The properties of an incoming PUBLISH that the server forwards (MQTT 5
/// §3.3.2.3; the topic alias and subscription identifiers are per hop).
pub fn forwarded(p: &Properties<'_>) -> Properties<'static> {
    let own = |c: &Option<Cow<'_, str>>| c.as_ref().map(|s| Cow::Owned(s.to_string()));
    Properties {
        payload_format: p.payload_format,
        message_expiry: p.message_expiry,
        content_type: own(&p.content_type),
        response_topic: own(&p.response_topic),
        correlation_data: p.correlation_data.as_ref().map(|b| Cow::Owned(b.to_vec())),
        user: p
            .user
            .iter()
            .map(|(k, v)| (Cow::Owned(k.to_string()), Cow::Owned(v.to_string())))
            .collect(),
        ..Properties::default()
    }
}

pub use super::listener::{Clock, Listener, SharedListener};

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(filter: &str, pattern: &str) -> Sub {
        Sub {
            filter: filter.into(),
            share: None,
            opts: SubOptions::qos(QoS::AtLeastOnce),
            id: None,
            glob: (pattern != filter).then(|| pattern.into()),
        }
    }

    #[test]
    fn patterns_are_counted() {
        let mut s = Session::new("c");
        assert_eq!(s.subscribe(sub("a/+", "a/*")), (true, None));
        assert_eq!(s.subscribe(sub("a/*", "a/*")), (false, None));
        // Replacing a subscription keeps its pattern subscribed.
        let (new, old) = s.subscribe(sub("a/+", "a/*"));
        assert!(!new && old.is_some());
        assert_eq!(s.patterns(), vec!["a/*".to_string()]);
        assert_eq!(s.unsubscribe("a/+", None).map(|(_, u)| u), Some(false));
        assert_eq!(s.unsubscribe("a/+", None), None);
        assert_eq!(s.unsubscribe("a/*", None).map(|(_, u)| u), Some(true));
        assert!(!s.has_pattern("a/*"));
        // A share group is a different subscription.
        s.subscribe(sub("x", "x"));
        let mut shared = sub("x", "x");
        shared.share = Some("g".into());
        assert!(!s.subscribe(shared).0);
        assert_eq!(s.subs.len(), 2);
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_wrap() {
        let mut s = Session::new("c");
        let out = Outgoing {
            topic: "t".into(),
            payload: vec![],
            qos: QoS::AtLeastOnce,
            retain: false,
            props: Properties::default(),
            released: false,
            deadline: None,
        };
        s.flight_mut().inflight.push_back((2, out.clone()));
        assert_eq!(s.next_packet_id(), 1);
        assert_eq!(s.next_packet_id(), 3);
        s.flight_mut().next_id = u16::MAX;
        assert_eq!(s.next_packet_id(), 1);
        assert!(s.acknowledge(2));
        assert!(!s.acknowledge(2));
        // QoS 2: PUBREC releases (again when repeated), PUBCOMP ends it; a
        // PUBACK is not its answer.
        let two = Outgoing {
            qos: QoS::ExactlyOnce,
            ..out
        };
        s.flight_mut().inflight.push_back((7, two.clone()));
        assert!(!s.acknowledge(7));
        assert!(!s.complete(7), "not released yet");
        assert!(s.received(7, false) && s.received(7, false));
        assert!(s.inflight().all(|(_, o)| o.released));
        assert!(s.complete(7));
        assert!(!s.complete(7) && !s.received(7, false));
        s.flight_mut().inflight.push_back((8, two));
        assert!(!s.received(8, true), "a failed PUBREC ends it");
        assert_eq!(s.inflight().count(), 0);
    }

    #[test]
    fn attach_detach_and_takeover() {
        let mut l = Listener::default();
        let (s, present, prev) = l.attach(None, "c", 1, false);
        assert!(!present && prev.is_none());
        s.borrow_mut().persistent = true;
        let one: SocketAddr = "127.0.0.1:1".parse().unwrap();
        s.borrow_mut().owner_peer = Some(one);
        s.borrow_mut().subs.push(sub("a", "a"));
        // Taken over while open: same state, previous owner reported.
        let (s2, present, prev) = l.attach(None, "c", 2, false);
        assert!(present && Rc::ptr_eq(&s, &s2));
        assert_eq!(prev, Some(one));
        // The old connection's end does not detach the new owner's session.
        l.detach(&s, 1, 10);
        assert_eq!(s.borrow().owner, 2);
        l.detach(&s2, 2, 10);
        assert_eq!(s.borrow().owner, 0);
        let (s3, present, _) = l.attach(None, "c", 3, false);
        assert!(present && s3.borrow().subs.len() == 1);
        // Clean start discards it; a connection still holding the old one
        // sees it is no longer its own.
        let (s4, present, _) = l.attach(None, "c", 4, true);
        assert!(!present && s4.borrow().subs.is_empty());
        assert_eq!(s3.borrow().owner, 4);
        // Not persistent: gone at detach.
        l.detach(&s4, 4, 10);
        assert_eq!(l.sessions(), 0);
    }

    #[test]
    fn shared_groups_take_turns_per_publication() {
        let mut l = Listener::default();
        l.join("g", "a/#", 1);
        l.join("g", "a/#", 2);
        l.join("g", "a/#", 2);
        l.join("h", "a/#", 3);
        // Everyone asked about one publication hears the same member.
        assert_eq!(l.chosen("g", "a/#", 10), Some(1));
        assert_eq!(l.chosen("g", "a/#", 10), Some(1));
        assert_eq!(l.chosen("g", "a/#", 11), Some(2));
        assert_eq!(l.chosen("g", "a/#", 12), Some(1));
        assert_eq!(l.chosen("h", "a/#", 12), Some(3));
        assert_eq!(l.chosen("g", "b", 12), None);
        l.leave("g", "a/#", 1);
        assert_eq!(l.chosen("g", "a/#", 13), Some(2));
        l.leave_all(2);
        assert_eq!(l.chosen("g", "a/#", 14), None);
        assert_eq!(l.chosen("h", "a/#", 14), Some(3));
    }

    #[test]
    fn a_durable_listener_notes_what_to_write_and_delete() {
        let mut l = Listener::with_clock(Clock::from_fn(|| 5000));
        let kinds = |l: &mut Listener| -> Vec<(String, Option<Option<u64>>)> {
            let mut v: Vec<_> = l
                .take_changes()
                .into_iter()
                .map(|(k, s)| (k.to_string(), s.map(|(_, since)| since)))
                .collect();
            v.sort();
            v
        };
        // Not durable: nothing is noted.
        let (s, _, _) = l.attach(None, "a", 1, false);
        s.borrow_mut().persistent = true;
        l.touch(&s.borrow());
        assert!(kinds(&mut l).is_empty());
        l.set_durable(true);
        l.touch(&s.borrow());
        let (c, _, _) = l.attach(None, "clean", 2, true);
        l.touch(&c.borrow());
        // Held by a connection: written without a detach time.
        assert_eq!(kinds(&mut l), [("a".into(), Some(None))]);
        assert!(kinds(&mut l).is_empty(), "taken once");
        l.detach(&s, 1, 10);
        assert_eq!(kinds(&mut l), [("a".into(), Some(Some(5000)))]);
        // A clean start replaces it: the store deletes it.
        let (s2, _, _) = l.attach(None, "a", 3, true);
        l.touch(&s2.borrow());
        assert_eq!(kinds(&mut l), [("a".into(), None)]);
        l.detach(&s2, 3, 10);
        assert!(kinds(&mut l).is_empty(), "never written, nothing to delete");
        // Read back and expired, or dropped for room: deleted.
        let r = l.restore(Session::new("r"), 10, 10);
        r.borrow_mut().persistent = true;
        l.expire(&r);
        l.discard_saved("old");
        assert_eq!(kinds(&mut l), [("old".into(), None), ("r".into(), None)]);
    }

    #[test]
    fn detached_sessions_are_bounded() {
        let mut l = Listener::default();
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            let (s, _, _) = l.attach(None, id, i as u64 + 1, false);
            s.borrow_mut().persistent = true;
            l.detach(&s, i as u64 + 1, 2);
        }
        assert!(l.session("a").is_none());
        assert!(l.session("b").is_some() && l.session("c").is_some());
        assert_ne!(l.assign_client_id(), l.assign_client_id());
    }
}
