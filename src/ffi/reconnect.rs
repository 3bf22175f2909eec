//! Opt-in reconnection of a client handle (`ducq_set_reconnect`, issue
//! 17): when a receive finds the connection lost, the handle waits
//! (exponential back-off with jitter and a cap, [`crate::backoff`], the
//! rule the Rust client and the bridges use), connects again,
//! authenticates again as it last did, makes every subscription it made
//! again, and the receive goes on; a C callback hears
//! each step. Only a lost connection is made again: one the program closed
//! (`ducq_close`) stays closed. What was published by others while the
//! handle was away reaches it only through a `last` subscription, whose
//! replay is de-duplicated by the Rust client's own rule
//! (`client::reconnect::replay`): what the handle already handed out is
//! not handed out again. Its own publications while the connection is lost
//! fail at once, or, when the policy asks for it, wait in a bounded buffer
//! that the next connection sends first, in order, after the
//! subscriptions.

use std::ffi::c_void;
use std::time::Duration;

use super::boundary;
use super::client::{on_client, ClientSide};
use super::handle::{Handle, Kind};
use super::state::RawState;
use super::vtbl::ducq_i;
use crate::backoff::{random_u32, Backoff};
use crate::client::kept::Kept;
use crate::client::reconnect::replay::{self, Seen};
use crate::client::Error;
use crate::proto::message::{classify, Kind as MessageKind};
use crate::proto::{Message, State};

/// A step of a reconnecting handle, told to its `on_event` callback.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ducq_reconnect_event {
    /// The connection was lost (`attempt` and `delay_ms` are 0).
    DUCQ_RECONNECT_LOST = 0,
    /// Attempt number `attempt` (from 1) is made after `delay_ms`.
    DUCQ_RECONNECT_RETRYING = 1,
    /// Connected again after `attempt` attempts; `delay_ms` holds the
    /// number of subscriptions made again.
    DUCQ_RECONNECT_DONE = 2,
    /// `max_attempts` attempts failed (`attempt`); the receive returns
    /// `DUCQ_ECONNCLOSED` and the handle stays closed until `ducq_conn`.
    DUCQ_RECONNECT_GAVE_UP = 3,
    /// A publication made while the connection is lost was kept for the
    /// next connection (`buffer_messages`); `attempt` holds how many are
    /// kept now.
    DUCQ_RECONNECT_KEPT = 4,
    /// A new connection sent the kept publications, in order, after its
    /// subscriptions; `attempt` holds how many.
    DUCQ_RECONNECT_FLUSHED = 5,
}

/// The callback of a reconnecting handle: one step, the attempt it is
/// about, a delay in milliseconds (see `ducq_reconnect_event`) and the
/// policy's `ctx`. It runs on the receiving thread, inside the receive:
/// it must not call functions on the handle that is reconnecting.
pub type ducq_reconnect_f = Option<
    unsafe extern "C" fn(
        event: ducq_reconnect_event,
        attempt: u32,
        delay_ms: u32,
        ctx: *mut c_void,
    ),
>;

/// How a client handle reconnects (`ducq_set_reconnect`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_reconnect_policy {
    /// The first wait, in milliseconds (0: 100). Attempt n waits
    /// `min(max_ms, initial_ms × 2^n)`, less a random part of up to half.
    pub initial_ms: u32,
    /// The longest wait, in milliseconds (0: 30 000).
    pub max_ms: u32,
    /// Attempts before giving up (0: never give up).
    pub max_attempts: u32,
    /// Told each step; may be NULL.
    pub on_event: ducq_reconnect_f,
    /// Passed to `on_event`; ducq never reads it.
    pub ctx: *mut c_void,
    /// Publications (`ducq_pub`, `ducq_publish`) kept while the connection
    /// is lost, at most (0: none; such a publish fails at once). Beyond it,
    /// and beyond `buffer_bytes`, a publish fails with `DUCQ_EMAX`.
    pub buffer_messages: u32,
    /// Payload bytes kept at most (0: 1 MiB), with `buffer_messages`.
    pub buffer_bytes: u32,
}

/// A client handle's reconnect policy, as Rust keeps it.
#[derive(Clone, Copy)]
pub(crate) struct Policy {
    backoff: Backoff,
    max_attempts: u32,
    on_event: ducq_reconnect_f,
    ctx: *mut c_void,
    /// `(messages, bytes)` kept while the connection is lost; `None`: a
    /// publish then fails at once.
    buffer: Option<(usize, usize)>,
}

impl Policy {
    fn from_c(p: &ducq_reconnect_policy) -> Policy {
        let ms = |v: u32, default: u64| {
            Duration::from_millis(if v == 0 { default } else { u64::from(v) })
        };
        let initial = ms(p.initial_ms, 100);
        Policy {
            backoff: Backoff {
                initial,
                max: ms(p.max_ms, 30_000).max(initial),
                ..Backoff::default()
            },
            max_attempts: p.max_attempts,
            on_event: p.on_event,
            ctx: p.ctx,
            buffer: (p.buffer_messages > 0).then(|| {
                let bytes = if p.buffer_bytes == 0 {
                    1 << 20
                } else {
                    p.buffer_bytes as usize
                };
                (p.buffer_messages as usize, bytes)
            }),
        }
    }

    fn tell(&self, event: ducq_reconnect_event, attempt: u32, delay_ms: u32) {
        if let Some(f) = self.on_event {
            // SAFETY: a valid function pointer (the policy's contract).
            unsafe { f(event, attempt, delay_ms, self.ctx) };
        }
    }
}

/// What a client handle remembers to reconnect: its policy, its
/// subscriptions, and whether its connection was lost (not closed).
#[derive(Default)]
pub(crate) struct Resume {
    pub(crate) policy: Option<Policy>,
    subs: Vec<(String, String)>,
    pub(crate) lost: bool,
    /// The last message handed out per route, while a subscription
    /// replays stored messages (`last`).
    seen: Seen,
    /// The user and password of the last accepted `ducq_authenticate`,
    /// sent again on every new connection before the subscriptions.
    auth: Option<(String, Vec<u8>)>,
    /// Publications made while the connection was lost.
    kept: Kept,
}

impl Resume {
    /// Notes a subscription made on the connection: options with `add` add
    /// to those remembered, others replace them (as the server does).
    pub(crate) fn subscribed(&mut self, route: &str, options: &str) {
        if !options.split_ascii_whitespace().any(|o| o == "add") {
            self.subs.clear();
        }
        self.subs.retain(|(r, _)| r != route);
        self.subs.push((route.to_owned(), options.to_owned()));
    }

    /// Notes a `sub R\nP` message sent on the connection (the original's
    /// way to subscribe: `ducq_emit`, `ducq_send`).
    pub(crate) fn sent(&mut self, msg: &[u8]) {
        let Ok(m) = Message::parse(msg) else {
            return;
        };
        if !matches!(m.command, b"sub" | b"subscribe") || !m.has_newline {
            return;
        }
        if let (Ok(route), Ok(options)) =
            (std::str::from_utf8(m.route), std::str::from_utf8(m.payload))
        {
            self.subscribed(route, options);
        }
    }

    /// Notes a message handed out to the program, to drop it from a
    /// replay after a reconnect (only with a policy and a `last`
    /// subscription: nothing to compare otherwise).
    pub(crate) fn received(&mut self, msg: &[u8]) {
        let replays = self
            .subs
            .iter()
            .any(|(_, o)| o.split_ascii_whitespace().any(|w| w == "last"));
        if self.policy.is_some() && replays && classify(msg) == MessageKind::Data {
            self.seen.remember(msg);
        }
    }

    /// Notes credentials the server accepted on this connection.
    pub(crate) fn authenticated(&mut self, user: &str, password: &[u8]) {
        self.auth = Some((user.to_owned(), password.to_vec()));
    }

    /// The policy alone, for an unconnected copy of the handle.
    pub(crate) fn policy_only(&self) -> Resume {
        Resume {
            policy: self.policy,
            ..Resume::default()
        }
    }

    /// Forgets the subscriptions (a new connection has none), and the
    /// publications kept for a reconnection.
    pub(crate) fn forget(&mut self) {
        self.subs.clear();
        self.lost = false;
        self.seen = Seen::default();
        self.auth = None;
        self.kept.clear();
    }

    /// Keeps a publication the lost connection could not take, when the
    /// policy has a buffer: `Some(Ok)` kept, `Some(EMax)` the buffer is
    /// full; `None` when there is no buffer or the connection was not lost
    /// (the publish fails as it did).
    pub(crate) fn keep(&mut self, route: &str, payload: &[u8]) -> Option<State> {
        let (messages, bytes) = self.policy?.buffer?;
        if !self.lost {
            return None;
        }
        if !self.kept.push(route, payload, messages, bytes) {
            return Some(State::EMax);
        }
        let n = u32::try_from(self.kept.len()).unwrap_or(u32::MAX);
        if let Some(policy) = self.policy {
            policy.tell(ducq_reconnect_event::DUCQ_RECONNECT_KEPT, n, 0);
        }
        Some(State::Ok)
    }
}

/// Makes a lost connection again by the handle's policy; true when the
/// handle is connected and subscribed again, false when it has no policy,
/// was not lost, or the policy gave up.
pub(crate) fn recover(side: &mut ClientSide) -> bool {
    let (Some(policy), true) = (side.resume.policy, side.resume.lost) else {
        return false;
    };
    side.resume.lost = false;
    policy.tell(ducq_reconnect_event::DUCQ_RECONNECT_LOST, 0, 0);
    let mut attempt = 0u32;
    loop {
        if policy.max_attempts != 0 && attempt >= policy.max_attempts {
            policy.tell(ducq_reconnect_event::DUCQ_RECONNECT_GAVE_UP, attempt, 0);
            return false;
        }
        let delay = policy.backoff.delay(attempt, random_u32());
        attempt += 1;
        let ms = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        policy.tell(ducq_reconnect_event::DUCQ_RECONNECT_RETRYING, attempt, ms);
        std::thread::sleep(delay);
        if side.connect().is_ok() {
            match restore(side) {
                Ok((n, flushed)) => {
                    let n = u32::try_from(n).unwrap_or(u32::MAX);
                    policy.tell(ducq_reconnect_event::DUCQ_RECONNECT_DONE, attempt, n);
                    tell_flushed(&policy, flushed);
                    return true;
                }
                Err(_) => side.conn = None,
            }
        }
    }
}

/// `ducq_conn` on a client handle: a fresh start (no subscriptions), but
/// for a handle with a policy whose connection was lost (`ducq_publish`
/// connecting again by itself, the program calling `ducq_conn` after an
/// error), which subscribes again as a reconnection does.
pub(crate) fn connect(side: &mut ClientSide) -> Result<(), (State, String)> {
    let again = side.resume.lost && side.resume.policy.is_some();
    if !again {
        side.resume.forget();
    }
    side.connect()?;
    if again {
        match restore(side) {
            Ok((_, flushed)) => {
                if let Some(policy) = side.resume.policy {
                    tell_flushed(&policy, flushed);
                }
            }
            Err(e) => {
                side.conn = None;
                return Err((e.state(), e.to_string()));
            }
        }
    }
    side.resume.lost = false;
    Ok(())
}

/// What a new connection makes again, in order: authentication, the
/// subscriptions, then the publications kept while it was lost. Returns
/// how many subscriptions hold and how many kept publications went out.
fn restore(side: &mut ClientSide) -> Result<(usize, usize), Error> {
    reauthenticate(side)?;
    let n = resubscribe(side)?;
    Ok((n, flush(side)?))
}

fn tell_flushed(policy: &Policy, flushed: usize) {
    if flushed > 0 {
        let n = u32::try_from(flushed).unwrap_or(u32::MAX);
        policy.tell(ducq_reconnect_event::DUCQ_RECONNECT_FLUSHED, n, 0);
    }
}

/// Sends the kept publications, oldest first, each waiting for its answer
/// (as `ducq_pub` does). One the server refuses (a NACK) is dropped; one
/// the connection failed under stays, with those after it, for the next
/// connection (at least once). Returns how many went out.
fn flush(side: &mut ClientSide) -> Result<usize, Error> {
    let mut sent = 0;
    while let Some((route, payload)) = side.resume.kept.front() {
        let conn = side.conn.as_mut().ok_or(Error::Closed)?;
        match on_client!(conn, cl => cl.publish(route, payload)) {
            Ok(()) | Err(Error::Nack { .. }) => {}
            Err(e) => return Err(e),
        }
        side.resume.kept.pop_front();
        sent += 1;
    }
    Ok(sent)
}

/// Authenticates again as the handle last did, if it did: a server that
/// restarted knows nothing of the old connection. A refusal (the password
/// changed meanwhile) counts as a failed attempt.
fn reauthenticate(side: &mut ClientSide) -> Result<(), Error> {
    let (Some(conn), Some((user, password))) = (side.conn.as_mut(), side.resume.auth.as_ref())
    else {
        return Ok(());
    };
    on_client!(conn, cl => cl.authenticate(user, password))
}

/// Subscribes again, in order (the Rust client's rule, pipelined); a
/// subscription refused now is forgotten. Stored messages a `last`
/// subscription replays come first from the next receives, less those
/// handed out before the break. Returns how many subscriptions hold.
fn resubscribe(side: &mut ClientSide) -> Result<usize, Error> {
    let Some(conn) = side.conn.as_mut() else {
        return Err(Error::Closed);
    };
    let subs = std::mem::take(&mut side.resume.subs);
    let tag = u64::from(random_u32()) << 32 | u64::from(random_u32());
    let pairs = subs.iter().map(|(r, o)| (r.as_str(), o.as_str()));
    let done = match on_client!(conn, cl => replay::resubscribe(cl, pairs, tag)) {
        Ok(done) => done,
        Err(e) => {
            side.resume.subs = subs;
            return Err(e);
        }
    };
    side.resume.subs = subs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !done.refused.iter().any(|(r, _)| r == i))
        .map(|(_, s)| s)
        .collect();
    let fresh = side.resume.seen.unseen(done.replay);
    for m in fresh.into_iter().rev() {
        on_client!(conn, cl => cl.unreceive(m));
    }
    Ok(side.resume.subs.len())
}

/// Makes client handle `ducq` reconnect by `*policy` when a receive finds
/// its connection lost (the server restarted, the network broke): it waits
/// out an exponential back-off with jitter, connects again, subscribes
/// again to every route it subscribed to (through `ducq_sub`, or a `sub`
/// message sent with `ducq_emit`/`ducq_send`), and the receive goes on;
/// `ducq_listen` and `ducq_listen_ex` keep listening across the break.
/// No live message is delivered twice; what was published while the
/// handle was away is not delivered, except what a subscription with
/// `last` brings: its stored messages, less those the handle already
/// handed out (as the Rust client de-duplicates them). Sends while the
/// connection is lost fail at once, except publications (`ducq_pub`,
/// `ducq_publish`) when the policy has a buffer (`buffer_messages`): those
/// are kept (`DUCQ_OK`, and `DUCQ_RECONNECT_KEPT` told) up to its bounds
/// (then `DUCQ_EMAX`), and the next connection sends them, in order,
/// after its subscriptions (`DUCQ_RECONNECT_FLUSHED`). `ducq_publish`,
/// which connects again by itself, and `ducq_conn` on a lost connection
/// subscribe again (and send what was kept) too. A connection closed with
/// `ducq_close` is not made again, and what was kept is dropped.
///
/// A NULL `policy` turns reconnection off. `*policy` is copied; its `ctx`
/// is passed to `on_event` for as long as the handle lives (the caller
/// keeps it valid). Returns `DUCQ_OK`, `DUCQ_ENULL` for a NULL handle, or
/// `DUCQ_ENOIMPL` for a handle that is not a client made by
/// `ducq_new_tcp`, `ducq_new_ws_client` or `ducq_new_socket`.
///
/// # Safety
/// `ducq` is NULL or a live handle; a non-null `policy` points to a valid
/// `ducq_reconnect_policy` whose `on_event` is NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn ducq_set_reconnect(
    ducq: *mut ducq_i,
    policy: *const ducq_reconnect_policy,
) -> RawState {
    boundary(|| {
        if ducq.is_null() {
            return State::ENull.into();
        }
        // SAFETY: a live handle (caller contract).
        let Some(h) = (unsafe { Handle::from_ptr(ducq) }) else {
            return State::ENoImpl.into();
        };
        let Kind::Client(side) = &mut h.kind else {
            return State::ENoImpl.into();
        };
        // SAFETY: valid when non-null (caller contract); copied.
        side.resume.policy = unsafe { policy.as_ref() }.map(Policy::from_c);
        RawState::OK
    })
}

#[cfg(test)]
#[path = "reconnect_tests.rs"]
mod tests;
