//! A persistent MQTT session whose connection ended, as the server keeps
//! it ([`Parked`]): its subscriptions stay in the broker, and a
//! publication they match is queued for the client (QoS 1 deliveries, up to
//! `max_queued`; QoS 0 ones are not kept), sent when it comes back. It ends
//! when the client comes back, when a clean start replaces it, when the
//! registry drops it for room, or when its MQTT 5 session expiry interval
//! has passed; a will with a delay is published when the delay or the
//! session ends, whichever comes first, and never if the client resumed
//! the session before. A queued message's MQTT 5 Message Expiry Interval
//! counts down while it waits, and it is deleted once that has run out.
//! A session read back from the durable store after a restart is parked
//! the same way ([`restored`]), its time parked counted from when its
//! connection ended, with the will it kept waiting; with a durable store
//! the listener keeps a copy of a waiting will for the session's record.
//! No I/O: the server passes the time parked, and message deadlines are
//! read against the listener's clock.

use std::rc::Rc;
use std::time::Duration;

use super::publish::delivery;
use super::{will_publication, MqttServer};
use crate::transport::mqtt::packet::{QoS, Will};
use crate::transport::mqtt::session::{SharedListener, SharedSession};
use crate::transport::{LastMessage, Parked};

/// A session kept without a connection.
pub(super) struct ParkedSession {
    cfg: Rc<super::Config>,
    listener: SharedListener,
    session: SharedSession,
    /// The connection that held it last (publications are attributed to it).
    conn: u64,
    /// The detach it was parked for: once the session is taken back, even
    /// if let go again before this state hears of it, a newer parked state
    /// has it (each message is queued once, a cancelled will stays so).
    number: u64,
    v5: bool,
    /// A will waiting for its delay.
    will: Option<Box<Will<'static>>>,
    /// Time it was parked before this server started (a restored session).
    before: Duration,
}

/// A session read back from the durable store, parked as if its
/// connection had ended `before` ago, with the `will` that waits for its
/// delay; `v5` is how its client spoke. A session the listener does not
/// hold (it expired while the server was down) only publishes its will.
pub(crate) fn restored(
    cfg: Rc<super::Config>,
    listener: SharedListener,
    session: SharedSession,
    v5: bool,
    before: Duration,
    will: Option<Box<Will<'static>>>,
) -> Box<dyn Parked> {
    let (conn, number) = {
        let mut l = listener.borrow_mut();
        let key = session.borrow().key();
        let number = l.detach_number(&key).filter(|_| l.holds(&session));
        if let (Some(n), Some(w)) = (number, &will) {
            l.keep_will(key, n, w);
        }
        (l.conn_id(), number.unwrap_or(0))
    };
    Box::new(ParkedSession {
        cfg,
        listener,
        session,
        conn,
        number,
        v5,
        will,
        before,
    })
}

impl MqttServer {
    /// The session, kept if it outlives this connection (which is being
    /// closed): persistent, still this connection's. A will with a delay
    /// goes with it.
    pub(super) fn park_session(&mut self) -> Option<ParkedSession> {
        let session = self.session.clone()?;
        let mut listener = self.listener.try_borrow_mut().ok()?;
        listener.detach(&session, self.conn, self.cfg.max_sessions);
        self.session = None;
        let kept = {
            let s = session.borrow();
            s.persistent && s.owner == 0 && listener.holds(&session)
        };
        let number = listener
            .detach_number(&session.borrow().key())
            .filter(|_| kept)?;
        let delayed = self
            .will
            .as_ref()
            .is_some_and(|w| w.props.will_delay.is_some_and(|d| d > 0));
        if let Some(w) = self.will.as_deref().filter(|_| delayed) {
            listener.keep_will(session.borrow().key(), number, w);
        }
        Some(ParkedSession {
            cfg: Rc::clone(&self.cfg),
            listener: Rc::clone(&self.listener),
            session,
            conn: self.conn,
            number,
            v5: self.v5(),
            will: if delayed { self.will.take() } else { None },
            before: Duration::ZERO,
        })
    }
}

impl ParkedSession {
    /// Whether the session is still kept, still without a connection since
    /// the detach this state was made for.
    fn wanted(&self) -> bool {
        let key = self.session.borrow().key();
        let listener = self.listener.borrow();
        listener.detach_number(&key) == Some(self.number) && listener.holds(&self.session)
    }
}

impl Parked for ParkedSession {
    fn acts_for(&self) -> Option<String> {
        self.session.borrow().user().map(str::to_owned)
    }

    fn deliver(&mut self, msg: &[u8], seq: u64) -> bool {
        if !self.wanted() {
            // Gone, unless a will still waits for its delay.
            return self.will.is_some();
        }
        let d = {
            let mut listener = self.listener.borrow_mut();
            let s = self.session.borrow();
            delivery(&s, &mut listener, self.conn, self.v5, msg, Some(seq))
        };
        // MQTT lets a server keep QoS 0 messages for an absent client;
        // like Mosquitto by default, ducq does not.
        if let Some(d) = d.filter(|d| d.qos != QoS::AtMostOnce) {
            let max = self.cfg.max_queued;
            let mut listener = self.listener.borrow_mut();
            let now = listener.clock.now_ms();
            let mut s = self.session.borrow_mut();
            s.queue(d.owned(now), max);
            listener.touch(&s);
        }
        true
    }

    fn due(&mut self, parked_for: Duration) -> Option<(Vec<u8>, LastMessage)> {
        let parked_for = parked_for + self.before;
        let delay = self.will.as_ref()?.props.will_delay.unwrap_or(0);
        let held = self.listener.borrow().holds(&self.session);
        let key = self.session.borrow().key();
        if held && !self.wanted() {
            // A new connection to the session came in time (and may have
            // gone since): never sent.
            self.will = None;
            self.listener.borrow_mut().drop_will(&key, self.number);
            return None;
        }
        // Dropped for room, replaced by a clean start, or expired.
        let ended = !held || self.session.borrow().expired(parked_for);
        if !ended && parked_for < Duration::from_secs(u64::from(delay)) {
            return None;
        }
        let will = self.will.take()?;
        let mut listener = self.listener.borrow_mut();
        listener.drop_will(&key, self.number);
        Some(will_publication(&will, self.conn, &mut listener))
    }

    fn dispatched(&mut self) {
        self.listener.borrow_mut().end_current_from(self.conn);
    }

    fn alive(&mut self, parked_for: Duration) -> bool {
        let parked_for = parked_for + self.before;
        if self.wanted() && self.session.borrow().expired(parked_for) {
            self.listener.borrow_mut().expire(&self.session);
        }
        // Queued messages whose expiry ran out are deleted now, so they
        // take no room from the bound.
        if self.wanted() {
            let mut listener = self.listener.borrow_mut();
            let now = listener.clock.now_ms();
            let mut s = self.session.borrow_mut();
            if s.drop_expired(now) > 0 {
                listener.touch(&s);
            }
        }
        self.wanted() || self.will.is_some()
    }
}
