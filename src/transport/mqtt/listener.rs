//! The registry every connection of one MQTT listener shares (they all
//! run on the reactor's thread): sessions by client identifier (attach,
//! detach, takeover, the bound on detached ones, expiry), shared
//! subscription groups taking turns, the publication being dispatched,
//! the listener's clock, and — with a durable store — which sessions
//! changed since they were last written and the wills of detached ones
//! waiting for their delay. Bookkeeping only: no I/O, no
//! packets, no encoding of records (record.rs does that).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::detached::Detached;
use super::packet::Will;
use super::session::{session_key, Publication, Session, SharedSession};

/// Where a listener's time comes from: unix milliseconds, the system's
/// unless a test sets its own.
#[derive(Clone, Default)]
pub struct Clock(Option<Rc<dyn Fn() -> u64>>);

impl Clock {
    /// A clock that reads `f`.
    pub fn from_fn(f: impl Fn() -> u64 + 'static) -> Clock {
        Clock(Some(Rc::new(f)))
    }

    /// Now, in unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        match &self.0 {
            Some(f) => f(),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Clock(test)"
        } else {
            "Clock(system)"
        })
    }
}

/// The members of one shared subscription (`$share/<group>/<filter>`):
/// connections, in the order they joined, and which of them takes the
/// publication being fanned out.
#[derive(Debug, Default)]
struct Group {
    members: Vec<u64>,
    next: usize,
    /// (publication number, member chosen for it).
    pick: Option<(u64, u64)>,
}

/// State shared by every connection of one MQTT listener (they all run on
/// the reactor's thread): sessions by client identifier, shared
/// subscription groups, and the publication being dispatched.
#[derive(Debug, Default)]
pub struct Listener {
    /// Keyed by the session's own client identifier (one allocation).
    sessions: HashMap<Rc<str>, SharedSession>,
    groups: HashMap<(String, String), Group>,
    /// Detached persistent sessions, oldest first (for the bound), with
    /// when they were detached (unix milliseconds).
    detached: Detached,
    /// The publication an MQTT connection is dispatching.
    pub current: Option<Publication>,
    next_conn: u64,
    next_assigned: u64,
    /// Where time comes from.
    pub clock: Clock,
    /// Sessions are kept in a durable store: changes are noted.
    durable: bool,
    /// Keys of sessions changed since the server last wrote them.
    dirty: HashSet<Rc<str>>,
    /// Keys of sessions the store holds.
    saved: HashSet<Rc<str>>,
    /// With a durable store, the wills waiting for their delay, by the key
    /// of the detached session they go with and the number of its detach
    /// (a copy: the parked state publishes its own).
    wills: HashMap<Rc<str>, (u64, Box<Will<'static>>)>,
}

/// A listener's shared state.
pub type SharedListener = Rc<RefCell<Listener>>;

impl Listener {
    /// An empty registry whose time comes from `clock`.
    pub fn with_clock(clock: Clock) -> Listener {
        Listener {
            clock,
            ..Listener::default()
        }
    }

    /// Forgets the publication being dispatched when connection `conn`
    /// sent it (its dispatch is over, or the connection is gone).
    pub fn end_current_from(&mut self, conn: u64) {
        if self.current.as_ref().is_some_and(|p| p.from == conn) {
            self.current = None;
        }
    }

    /// A fresh identity for a connection.
    pub fn conn_id(&mut self) -> u64 {
        self.next_conn += 1;
        self.next_conn
    }

    /// A client identifier for a client that sent an empty one.
    pub fn assign_client_id(&mut self) -> String {
        loop {
            self.next_assigned += 1;
            let id = format!("ducq-{}", self.next_assigned);
            if !self.sessions.contains_key(id.as_str()) {
                return id;
            }
        }
    }

    /// Attaches connection `owner` to the session of `client_id` and
    /// `user` (see [`session_key`]): the existing one unless `clean`, else
    /// a new one. Returns the session,
    /// whether it existed (session present), and the address of the
    /// connection that held it until now, if one did (the server must close
    /// that connection; it sees itself taken over either way).
    pub fn attach(
        &mut self,
        user: Option<&str>,
        client_id: &str,
        owner: u64,
        clean: bool,
    ) -> (SharedSession, bool, Option<SocketAddr>) {
        let wanted = session_key(user, client_id);
        self.detached.remove(&wanted);
        self.forgotten(&wanted);
        // Taken back in time, or replaced: no will waits in its record.
        if let Some((key, _)) = self.wills.remove_entry(wanted.as_str()) {
            self.dirty.insert(key);
        }
        let existing = self.sessions.get(wanted.as_str()).cloned();
        let previous = existing.as_ref().and_then(|s| {
            let mut s = s.borrow_mut();
            let held = if s.owner != 0 { s.owner_peer } else { None };
            // Whether kept or discarded, it is no longer the old
            // connection's.
            s.owner = owner;
            held
        });
        let (session, present) = match existing {
            Some(s) if !clean => (s, true),
            _ => {
                let mut fresh = Session::for_user(user, client_id);
                fresh.owner = owner;
                (Rc::new(RefCell::new(fresh)), false)
            }
        };
        let key = session.borrow().key();
        self.sessions.insert(key, Rc::clone(&session));
        (session, present, previous)
    }

    /// Connection `owner` lets go of `session`: kept (detached) if it is
    /// persistent, dropped otherwise; untouched if another connection took
    /// it over. At most `max_detached` detached sessions are kept, the
    /// oldest dropped first.
    pub fn detach(&mut self, session: &SharedSession, owner: u64, max_detached: usize) {
        let (id, persistent) = {
            let mut s = session.borrow_mut();
            if s.owner != owner {
                return;
            }
            s.owner = 0;
            (s.key(), s.persistent)
        };
        if !persistent {
            self.sessions.remove(&id);
            self.forgotten(&id);
            return;
        }
        let now = self.clock.now_ms();
        self.detached.push(Rc::clone(&id), now);
        if self.durable {
            self.dirty.insert(id);
        }
        self.bound_detached(max_detached);
    }

    /// The number of the detach that left the session under `key` without
    /// a connection, while it is so (see [`Detached::number`]).
    pub fn detach_number(&self, key: &str) -> Option<u64> {
        self.detached.number(key)
    }

    /// With a durable store, `will` waits for its delay with the session
    /// under `key`, detached under `number`: its record keeps it.
    pub fn keep_will(&mut self, key: Rc<str>, number: u64, will: &Will<'static>) {
        if self.durable {
            self.wills
                .insert(Rc::clone(&key), (number, Box::new(will.clone())));
            self.dirty.insert(key);
        }
    }

    /// The will kept for `key`'s detach `number` waits no more (sent, or
    /// the client came back): its record is written without it.
    pub fn drop_will(&mut self, key: &str, number: u64) {
        if self.wills.get(key).is_some_and(|(n, _)| *n == number) {
            if let Some((key, _)) = self.wills.remove_entry(key) {
                self.dirty.insert(key);
            }
        }
    }

    /// The will waiting with the detached session under `key`, if one is.
    pub fn waiting_will(&self, key: &str) -> Option<&Will<'static>> {
        self.wills.get(key).map(|(_, w)| &**w)
    }

    /// Drops the oldest detached sessions beyond `max_detached`.
    fn bound_detached(&mut self, max_detached: usize) {
        while self.detached.len() > max_detached {
            let Some(old) = self.detached.pop_oldest() else {
                return;
            };
            self.sessions.remove(&old);
            self.forgotten(&old);
        }
    }

    /// The session under `key` may be gone: the store must hear of it if
    /// it holds it.
    fn forgotten(&mut self, key: &str) {
        if let Some(k) = self.saved.get(key) {
            let k = Rc::clone(k);
            self.dirty.insert(k);
        }
    }

    /// Keeps sessions in a durable store from now on: changes to
    /// persistent ones are noted for [`Listener::take_changes`].
    pub fn set_durable(&mut self, durable: bool) {
        self.durable = durable;
    }

    /// Whether sessions are kept in a durable store.
    pub fn durable(&self) -> bool {
        self.durable
    }

    /// `s` may have changed: noted for the store when it is persistent or
    /// the store holds it (cheap, and nothing without a store).
    pub fn touch(&mut self, s: &Session) {
        if !self.durable {
            return;
        }
        if s.persistent {
            self.dirty.insert(s.key());
        } else {
            self.forgotten(&s.key());
        }
    }

    /// The sessions changed since the last call, to write: each key with
    /// its session when it is kept (with when it was detached, if it is),
    /// or None when the store must delete it.
    #[allow(clippy::type_complexity)]
    pub fn take_changes(&mut self) -> Vec<(Rc<str>, Option<(SharedSession, Option<u64>)>)> {
        let mut out = Vec::with_capacity(self.dirty.len());
        for key in std::mem::take(&mut self.dirty) {
            let kept = self
                .sessions
                .get(&key)
                .filter(|s| s.borrow().persistent)
                .cloned();
            match kept {
                Some(s) => {
                    let since = self.detached.since(&key);
                    self.saved.insert(Rc::clone(&key));
                    out.push((key, Some((s, since))));
                }
                None => {
                    if self.saved.remove(&key) {
                        out.push((key, None));
                    }
                }
            }
        }
        out
    }

    /// Puts back a session read from the store, detached since
    /// `detached_ms` (unix milliseconds), as if its connection had just
    /// ended then: at most `max_detached` are kept.
    pub fn restore(
        &mut self,
        session: Session,
        detached_ms: u64,
        max_detached: usize,
    ) -> SharedSession {
        let key = session.key();
        let shared = Rc::new(RefCell::new(session));
        self.sessions.insert(Rc::clone(&key), Rc::clone(&shared));
        self.saved.insert(Rc::clone(&key));
        self.detached.push(key, detached_ms);
        self.bound_detached(max_detached);
        shared
    }

    /// Connection `conn` takes its turn in shared subscription
    /// (`share`, `filter`).
    pub fn join(&mut self, share: &str, filter: &str, conn: u64) {
        let g = self
            .groups
            .entry((share.to_owned(), filter.to_owned()))
            .or_default();
        if !g.members.contains(&conn) {
            g.members.push(conn);
        }
    }

    /// Connection `conn` leaves shared subscription (`share`, `filter`).
    pub fn leave(&mut self, share: &str, filter: &str, conn: u64) {
        let key = (share.to_owned(), filter.to_owned());
        if let Some(g) = self.groups.get_mut(&key) {
            g.members.retain(|&m| m != conn);
            if g.members.is_empty() {
                self.groups.remove(&key);
            }
        }
    }

    /// Connection `conn` leaves every shared subscription (it closed).
    pub fn leave_all(&mut self, conn: u64) {
        self.groups.retain(|_, g| {
            g.members.retain(|&m| m != conn);
            !g.members.is_empty()
        });
    }

    /// The member of (`share`, `filter`) that takes publication `seq`: the
    /// first member asked about a publication picks the next one in turn,
    /// and every member asked about the same publication gets that answer.
    pub fn chosen(&mut self, share: &str, filter: &str, seq: u64) -> Option<u64> {
        let g = self
            .groups
            .get_mut(&(share.to_owned(), filter.to_owned()))?;
        match g.pick {
            Some((s, m)) if s == seq => Some(m),
            _ => {
                let m = *g.members.get(g.next % g.members.len().max(1))?;
                g.next = g.next.wrapping_add(1);
                g.pick = Some((seq, m));
                Some(m)
            }
        }
    }

    /// Whether the registry holds this very session (it was neither
    /// dropped nor replaced by a clean start).
    pub fn holds(&self, session: &SharedSession) -> bool {
        let key = session.borrow().key();
        self.sessions
            .get(&key)
            .is_some_and(|held| Rc::ptr_eq(held, session))
    }

    /// The store holds a session under `key` that is not kept (it
    /// expired while the server was down): it is deleted at the next write.
    pub fn discard_saved(&mut self, key: &str) {
        let key: Rc<str> = Rc::from(key);
        self.saved.insert(Rc::clone(&key));
        self.dirty.insert(key);
    }

    /// Drops `session` from the registry (it expired), unless a connection
    /// holds it or it was replaced.
    pub fn expire(&mut self, session: &SharedSession) {
        if !self.holds(session) || session.borrow().owner != 0 {
            return;
        }
        let id = session.borrow().key();
        self.sessions.remove(&id);
        self.detached.remove(&id);
        self.forgotten(&id);
    }

    /// Number of sessions held (attached or not).
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The session of `client_id` of a client without a user name, if any.
    pub fn session(&self, client_id: &str) -> Option<SharedSession> {
        self.sessions.get(client_id).cloned()
    }
}
