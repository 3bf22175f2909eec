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

use std::collections::VecDeque;
use std::ffi::c_void;
use std::time::Duration;

use super::boundary;
use super::client::{on_client, ClientSide};
use super::handle::{Handle, Kind};
use super::state::RawState;
use super::vtbl::ducq_i;
use crate::backoff::{random_u32, Backoff};
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
    /// Publications made while the connection was lost, `(route,
    /// payload)` in order, and their payload bytes.
    kept: VecDeque<(String, Vec<u8>)>,
    kept_bytes: usize,
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
        self.kept_bytes = 0;
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
        if self.kept.len() >= messages || self.kept_bytes + payload.len() > bytes {
            return Some(State::EMax);
        }
        self.kept.push_back((route.to_owned(), payload.to_vec()));
        self.kept_bytes += payload.len();
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
        if let Some((_, p)) = side.resume.kept.pop_front() {
            side.resume.kept_bytes -= p.len();
        }
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
mod tests {
    use std::ffi::c_char;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::client::Client;
    use crate::ffi::calls::{ducq_pub, ducq_publish, ducq_sub};
    use crate::ffi::client::ducq_new_tcp;
    use crate::ffi::vtbl::{ducq_close, ducq_conn, ducq_free, ducq_recv, ducq_timeout};
    use crate::server::test_server::ThreadServer;
    use crate::server::{Level, Settings};

    const WAIT: Duration = Duration::from_secs(5);

    type Server = ThreadServer;

    /// A quiet in-process broker on `addr` (port 0: any), stopped on drop.
    fn start(addr: &str) -> Server {
        let settings = Settings {
            log_level: Level::Off,
            ..Settings::default()
        };
        ThreadServer::start(addr, settings)
    }

    unsafe extern "C" fn count(_e: ducq_reconnect_event, _a: u32, _d: u32, ctx: *mut c_void) {
        // SAFETY: the tests pass an AtomicU32 that outlives the handle.
        unsafe { &*ctx.cast::<AtomicU32>() }.fetch_add(1, Ordering::SeqCst);
    }

    /// A connected TCP handle to `server` with a fast policy counting its
    /// events in `events`, subscribed to `r`, receiving with a 2 s timeout.
    fn handle(server: &Server, events: &AtomicU32) -> *mut ducq_i {
        let policy = ducq_reconnect_policy {
            initial_ms: 5,
            max_ms: 20,
            max_attempts: 0,
            on_event: Some(count),
            ctx: std::ptr::from_ref(events).cast_mut().cast(),
            buffer_messages: 0,
            buffer_bytes: 0,
        };
        handle_with(server, &policy)
    }

    /// As [`handle`], with `policy`.
    fn handle_with(server: &Server, policy: &ducq_reconnect_policy) -> *mut ducq_i {
        let port = std::ffi::CString::new(server.addr.port().to_string()).unwrap();
        // SAFETY: NUL-terminated strings; the handle is freed by each test.
        let d = unsafe { ducq_new_tcp(c"127.0.0.1".as_ptr(), port.as_ptr()) };
        // SAFETY: a live handle; valid arguments.
        unsafe {
            assert_eq!(ducq_set_reconnect(d, policy), RawState::OK);
            assert_eq!(ducq_conn(d), RawState::OK);
            assert_eq!(ducq_timeout(d, 2), RawState::OK);
            assert_eq!(ducq_sub(d, c"r".as_ptr(), std::ptr::null()), RawState::OK);
        }
        d
    }

    /// A handle made against a server that is then stopped and started
    /// again on the same port: the new server, and the handle, whose
    /// connection is now dead.
    fn handle_across_a_restart(events: &AtomicU32) -> (Server, *mut ducq_i) {
        let server = start("127.0.0.1:0");
        let d = handle(&server, events);
        let addr = server.addr.to_string();
        drop(server);
        (start(&addr), d)
    }

    /// One message received on `d`.
    fn recv(d: *mut ducq_i) -> (State, Vec<u8>) {
        let mut buf = [0 as c_char; 256];
        let mut size = buf.len();
        // SAFETY: a live handle; `buf` writable for `size` bytes.
        let state = unsafe { ducq_recv(d, buf.as_mut_ptr(), &mut size) }.state();
        let bytes = buf[..size.min(buf.len())]
            .iter()
            .map(|&c| c as u8)
            .collect();
        (state, bytes)
    }

    #[test]
    fn publish_after_a_restart_connects_and_subscribes_again() {
        let events = AtomicU32::new(0);
        let (server, d) = handle_across_a_restart(&events);
        // The publish meets the dead connection, connects again (once) and
        // makes the subscription again: the handle gets its own message.
        // SAFETY: a live handle; NUL-terminated strings.
        let rc = unsafe { ducq_publish(d, c"r".as_ptr(), c"back".as_ptr(), 4) };
        assert_eq!(rc, RawState::OK);
        assert_eq!(recv(d), (State::Ok, b"pub r\nback".to_vec()));
        let mut p = Client::connect(&server.addr.to_string(), WAIT).unwrap();
        p.publish("r", b"from another").unwrap();
        assert_eq!(recv(d), (State::Ok, b"pub r\nfrom another".to_vec()));
        // Not through the receive's reconnection: no event told.
        assert_eq!(events.load(Ordering::SeqCst), 0);
        // SAFETY: the caller's handle, freed once.
        unsafe { ducq_free(d) };
    }

    #[test]
    fn a_receive_reconnects_and_a_closed_handle_stays_closed() {
        let events = AtomicU32::new(0);
        let (server, d) = handle_across_a_restart(&events);
        let addr = server.addr.to_string();
        let publisher = std::thread::spawn(move || {
            // Until the handle is back and subscribed.
            let mut p = Client::connect(&addr, WAIT).unwrap();
            loop {
                let subs = p.list("lsconn").unwrap();
                if subs.iter().any(|l| l.ends_with(b",r\n")) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            p.publish("r", b"live").unwrap();
        });
        assert_eq!(recv(d), (State::Ok, b"pub r\nlive".to_vec()));
        publisher.join().unwrap();
        // Lost, retrying (at least once), reconnected.
        assert!(events.load(Ordering::SeqCst) >= 3);
        let told = events.load(Ordering::SeqCst);
        // SAFETY: a live handle.
        assert_eq!(unsafe { ducq_close(d) }, RawState::OK);
        assert_eq!(recv(d).0, State::EConnClosed);
        assert_eq!(events.load(Ordering::SeqCst), told);
        drop(server);
        // SAFETY: the caller's handle, freed once; NULLs as documented.
        unsafe {
            ducq_free(d);
            assert_eq!(
                ducq_set_reconnect(std::ptr::null_mut(), std::ptr::null()),
                State::ENull.into()
            );
        }
    }

    /// Events told, as `(event, attempt)`.
    type Told = std::sync::Mutex<Vec<(ducq_reconnect_event, u32)>>;

    unsafe extern "C" fn record(e: ducq_reconnect_event, a: u32, _d: u32, ctx: *mut c_void) {
        // SAFETY: the tests pass a `Told` that outlives the handle.
        let told = unsafe { &*ctx.cast::<Told>() };
        told.lock().unwrap().push((e, a));
    }

    /// A policy keeping two publications (or `bytes` of payload) while
    /// the connection is lost, recording its events in `told`.
    fn buffering(told: &Told, bytes: u32) -> ducq_reconnect_policy {
        ducq_reconnect_policy {
            initial_ms: 5,
            max_ms: 20,
            max_attempts: 0,
            on_event: Some(record),
            ctx: std::ptr::from_ref(told).cast_mut().cast(),
            buffer_messages: 2,
            buffer_bytes: bytes,
        }
    }

    fn publish(d: *mut ducq_i, payload: &str) -> State {
        // SAFETY: a live handle; NUL-terminated route, readable payload.
        unsafe { ducq_publish(d, c"r".as_ptr(), payload.as_ptr().cast(), payload.len()) }.state()
    }

    #[test]
    fn publications_while_lost_are_kept_within_bounds_and_sent_after_the_subscriptions() {
        use ducq_reconnect_event::*;
        let told = Told::default();
        let first = start("127.0.0.1:0");
        let d = handle_with(&first, &buffering(&told, 0));
        let addr = first.addr.to_string();
        drop(first);
        // Down: two are kept, the third finds the buffer full.
        assert_eq!(publish(d, "one"), State::Ok);
        assert_eq!(publish(d, "two"), State::Ok);
        assert_eq!(publish(d, "three"), State::EMax);
        // SAFETY: a live handle; the text lives until its next call.
        let text = unsafe { std::ffi::CStr::from_ptr(crate::ffi::calls::ducq_last_error(d)) };
        assert_eq!(
            text.to_str().unwrap(),
            "the buffer for publications while disconnected is full"
        );
        assert_eq!(
            *told.lock().unwrap(),
            [(DUCQ_RECONNECT_KEPT, 1), (DUCQ_RECONNECT_KEPT, 2)]
        );
        // Back: the next publish connects, subscribes again, sends the two
        // kept ones in order, then its own; the handle, subscribed to r,
        // gets all three once.
        let _second = start(&addr);
        assert_eq!(publish(d, "four"), State::Ok);
        for want in ["one", "two", "four"] {
            assert_eq!(recv(d), (State::Ok, format!("pub r\n{want}").into_bytes()));
        }
        assert_eq!(
            told.lock().unwrap().last(),
            Some(&(DUCQ_RECONNECT_FLUSHED, 2))
        );
        // SAFETY: a live handle; nothing more came.
        unsafe { assert_eq!(ducq_timeout(d, 1), RawState::OK) };
        assert_eq!(recv(d).0, State::ETimeout);
        // SAFETY: the caller's handle, freed once.
        unsafe { ducq_free(d) };
    }

    #[test]
    fn a_receive_that_reconnects_sends_what_was_kept_and_bytes_bound_the_buffer() {
        use ducq_reconnect_event::*;
        let told = Told::default();
        let (server, d) = {
            let first = start("127.0.0.1:0");
            let d = handle_with(&first, &buffering(&told, 8));
            let addr = first.addr.to_string();
            drop(first);
            (addr, d)
        };
        // `ducq_pub` (no connecting of its own) meets the dead connection.
        // SAFETY: a live handle; NUL-terminated strings.
        let rc = unsafe { ducq_pub(d, c"r".as_ptr(), c"12345".as_ptr(), 5) };
        assert_eq!(rc, RawState::OK);
        // 5 + 4 bytes is over the 8 allowed.
        assert_eq!(publish(d, "6789"), State::EMax);
        let _second = start(&server);
        // The receive reconnects, subscribes again, sends the kept one: the
        // handle gets its own publication.
        assert_eq!(recv(d), (State::Ok, b"pub r\n12345".to_vec()));
        let told = told.lock().unwrap();
        let kinds: Vec<_> = told.iter().map(|t| t.0).collect();
        assert_eq!(kinds.first(), Some(&DUCQ_RECONNECT_KEPT));
        assert_eq!(kinds[1], DUCQ_RECONNECT_LOST);
        assert_eq!(
            told[told.len() - 2..],
            [
                (DUCQ_RECONNECT_DONE, told[told.len() - 2].1),
                (DUCQ_RECONNECT_FLUSHED, 1)
            ]
        );
        // SAFETY: the caller's handle, freed once.
        unsafe { ducq_free(d) };
    }

    #[test]
    fn without_a_buffer_a_publish_while_lost_fails_at_once() {
        let told = Told::default();
        let mut policy = buffering(&told, 0);
        policy.buffer_messages = 0;
        let first = start("127.0.0.1:0");
        let d = handle_with(&first, &policy);
        drop(first);
        assert_eq!(publish(d, "x"), State::EConnect);
        assert!(told.lock().unwrap().is_empty());
        // SAFETY: the caller's handle, freed once.
        unsafe { ducq_free(d) };
    }
}
