//! Parked subscriptions: what a connection's protocol keeps of it after it
//! ends (`Transport::park`, an MQTT persistent session). Its subscriptions
//! stay in the broker's index under a key of their own, above every
//! connection key, so a publication finds them as it finds connections,
//! and `fan_out` hands it to the parked state instead of a socket. It must
//! not encode or write anything: the parked state decides what to keep.

use std::time::Instant;

use slab::Slab;

use super::Hub;
use crate::server::auth::ConnAuth;
use crate::transport::{LastMessage, Parked};

/// The caller of a message dispatched for a parked state: no connection
/// (its replies go nowhere).
pub(crate) const NOBODY: usize = usize::MAX;

/// Subscription keys from here on are parked states, not connections
/// (slab keys of connections never come near it).
const PARKED_BASE: usize = 1 << (usize::BITS - 2);

/// One parked state.
struct Entry {
    sink: Box<dyn Parked>,
    since: Instant,
    /// The publication number it saw last: several of its subscriptions
    /// may match one publication, which it receives once.
    last_delivery: u64,
    /// Who its connection was (user, listener's anonymous policy): what
    /// it publishes later is judged as that client's.
    who: ConnAuth,
}

/// Every parked state of the hub.
#[derive(Default)]
pub(crate) struct Parking {
    entries: Slab<Entry>,
}

impl Hub {
    /// Asks the codec of `key`, just marked for closing, whether it keeps
    /// its subscriptions; if it does, they move to a parked key.
    pub(super) fn park(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let who = conn.auth.clone();
        let Some(sink) = conn.transport.park() else {
            return;
        };
        let routes: Vec<Box<[u8]>> = self.subs.routes_of(key).to_vec();
        let parked = PARKED_BASE
            + self.parked.entries.insert(Entry {
                sink,
                since: Instant::now(),
                last_delivery: 0,
                who,
            });
        self.subs.remove_conn(key);
        for r in &routes {
            self.subs.subscribe(parked, r, true);
        }
    }

    /// Parks a state that has no connection (an MQTT session read back
    /// from the store at start) with its subscription `routes`.
    pub(crate) fn adopt_parked(&mut self, sink: Box<dyn Parked>, routes: &[String], now: Instant) {
        let who = match sink.acts_for() {
            Some(user) => ConnAuth::of_user(&user),
            None => ConnAuth::default(),
        };
        let parked = PARKED_BASE
            + self.parked.entries.insert(Entry {
                sink,
                since: now,
                last_delivery: 0,
                who,
            });
        for r in routes {
            self.subs.subscribe(parked, r.as_bytes(), true);
        }
    }

    /// Hands publication `seq` to the parked state of subscription key
    /// `key`, if it is one; drops it when it wants no more.
    pub(super) fn deliver_parked(&mut self, key: usize, msg: &[u8], seq: u64) {
        let Some(index) = key.checked_sub(PARKED_BASE) else {
            return;
        };
        let Some(entry) = self.parked.entries.get_mut(index) else {
            return;
        };
        if entry.last_delivery == seq {
            return;
        }
        entry.last_delivery = seq;
        if !entry.sink.deliver(msg, seq) {
            self.unpark(index);
        }
    }

    /// Every parked index, for `parked_due`.
    pub(crate) fn parked_indices(&self) -> Vec<usize> {
        self.parked.entries.iter().map(|(index, _)| index).collect()
    }

    /// The publication parked state `index` makes now (a delayed will), if
    /// any: the reactor dispatches it from `NOBODY` at once, then calls
    /// `parked_dispatched`.
    pub(crate) fn parked_due(
        &mut self,
        index: usize,
        now: Instant,
    ) -> Option<(Vec<u8>, LastMessage)> {
        let entry = self.parked.entries.get_mut(index)?;
        entry.sink.due(now.saturating_duration_since(entry.since))
    }

    /// Who parked state `index` publishes as (for access control).
    pub(crate) fn parked_identity(&self, index: usize) -> Option<ConnAuth> {
        self.parked.entries.get(index).map(|e| e.who.clone())
    }

    /// The message `parked_due` returned for `index` was dispatched.
    pub(crate) fn parked_dispatched(&mut self, index: usize) {
        if let Some(entry) = self.parked.entries.get_mut(index) {
            entry.sink.dispatched();
        }
    }

    /// Drops every parked state that is no longer wanted (expired, or its
    /// client came back) with its subscriptions.
    pub(crate) fn check_parked(&mut self, now: Instant) {
        let mut gone = Vec::new();
        for (index, entry) in self.parked.entries.iter_mut() {
            if !entry.sink.alive(now.saturating_duration_since(entry.since)) {
                gone.push(index);
            }
        }
        for index in gone {
            self.unpark(index);
        }
    }

    fn unpark(&mut self, index: usize) {
        if self.parked.entries.try_remove(index).is_some() {
            self.subs.remove_conn(PARKED_BASE + index);
        }
    }
}
