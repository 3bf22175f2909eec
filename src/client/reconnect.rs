//! A client that survives its server going away: [`Reconnecting`] wraps a
//! [`Client`] and, when the connection fails, makes a new one with
//! exponential back-off and jitter (`crate::backoff`), subscribes again to
//! every route it was subscribed to (with `last` where that was asked),
//! and tells the caller through an event callback. Publishing while
//! disconnected either fails at once or goes into a bounded buffer that is
//! sent on reconnect ([`Offline`]); nothing grows without bound.
//!
//! Resubscribing with `last` replays stored messages, and some of them may
//! be ones the caller already received before the break (the server did
//! not restart, or keeps history). The client remembers the last message
//! it handed out per route and drops replayed messages up to and including
//! that one; what follows it (published while disconnected) is delivered.
//! It must not be used from the reactor thread of a server it talks to,
//! and it never retries a call the server answered with a NACK.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::kept::Kept;
use super::{Client, DefaultStream, Error, Flow, Stream};
use crate::backoff::{random_u32, Backoff};
use crate::proto::message::{classify, Kind};

pub(crate) mod replay;
use replay::Seen;

/// What a publish does while the client is disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offline {
    /// Fail at once with `Error::Offline { full: false }`.
    Fail,
    /// Keep up to `messages` publications of at most `bytes` payload bytes
    /// in all, and send them, in order, once reconnected; beyond either
    /// bound a publish fails with `Error::Offline { full: true }`.
    Buffer {
        /// Most publications kept.
        messages: usize,
        /// Most payload bytes kept.
        bytes: usize,
    },
}

/// How a [`Reconnecting`] client retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Delays between attempts.
    pub backoff: Backoff,
    /// Give up after this many failed attempts in a row (`None`: never;
    /// `Some(0)`: never reconnect, a lost connection is an error).
    pub max_attempts: Option<u32>,
    /// Publishing while disconnected.
    pub offline: Offline,
}

impl Default for Policy {
    /// The default back-off, retrying forever, failing publishes at once
    /// while disconnected.
    fn default() -> Policy {
        Policy {
            backoff: Backoff::default(),
            max_attempts: None,
            offline: Offline::Fail,
        }
    }
}

/// What happened to the connection, as told to the event callback.
#[derive(Debug)]
pub enum Event<'a> {
    /// The connection failed.
    Disconnected {
        /// Why.
        error: &'a Error,
    },
    /// Attempt number `attempt` (from 1) comes after `delay`.
    Retrying {
        /// Which attempt, counted from 1 since the connection was lost.
        attempt: u32,
        /// How long the client waits before it.
        delay: Duration,
        /// Why the previous attempt failed (`None` before the first).
        error: Option<&'a Error>,
    },
    /// Connected again, subscribed again, buffered publications sent.
    Reconnected {
        /// How many attempts it took.
        attempts: u32,
        /// Subscriptions made again.
        resubscribed: usize,
        /// Buffered publications sent.
        flushed: usize,
    },
    /// The server refused a subscription when it was made again (it is
    /// forgotten).
    SubscriptionRefused {
        /// Its route.
        route: &'a str,
        /// The NACK.
        error: &'a Error,
    },
    /// `max_attempts` failed in a row; calls fail until [`Reconnecting::reconnect`].
    GaveUp {
        /// Attempts made.
        attempts: u32,
    },
}

/// Makes a fresh connection (connect, handshake, authenticate).
pub type Connector<S> = Box<dyn FnMut() -> Result<Client<S>, Error>>;

/// The event callback.
type EventFn = Box<dyn FnMut(&Event<'_>)>;

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The server acknowledged it.
    Acked,
    /// Kept in the offline buffer, to be sent on reconnect.
    Buffered,
}

struct Subscription {
    route: String,
    options: String,
    /// The options ask for stored messages (`last`).
    replays: bool,
}

/// A client that reconnects (see the module docs).
pub struct Reconnecting<S: Stream = DefaultStream> {
    connect: Connector<S>,
    client: Option<Client<S>>,
    policy: Policy,
    timeout: Option<Duration>,
    subs: Vec<Subscription>,
    on_event: Option<EventFn>,
    /// Publications kept while offline.
    buffer: Kept,
    /// Failed attempts since the connection was lost.
    attempt: u32,
    /// When the next attempt may be made.
    next_try: Instant,
    /// Why the connection was lost, when no attempt is to be made
    /// (`max_attempts` 0): returned once by the next call.
    last_error: Option<Error>,
    gave_up: bool,
    /// Messages received but not handed out yet (a replay after reconnect).
    pending: VecDeque<Vec<u8>>,
    /// The last message handed out, per route (`replay`).
    seen: Seen,
    replay_marker: u64,
}

#[cfg(feature = "std")]
impl Reconnecting {
    /// Connects over length-framed TCP to `addr`, reconnecting by `policy`.
    /// The first connection must succeed (its error is returned).
    pub fn connect(addr: &str, timeout: Duration, policy: Policy) -> Result<Reconnecting, Error> {
        let addr = addr.to_string();
        Reconnecting::new(
            Box::new(move || Client::connect(&addr, timeout)),
            policy,
            Some(timeout),
        )
    }

    /// Connects over WebSocket to `addr` (the server's HTTP port).
    pub fn connect_ws(
        addr: &str,
        timeout: Duration,
        policy: Policy,
    ) -> Result<Reconnecting, Error> {
        let addr = addr.to_string();
        Reconnecting::new(
            Box::new(move || Client::connect_ws(&addr, timeout)),
            policy,
            Some(timeout),
        )
    }
}

impl<S: Stream> Reconnecting<S> {
    /// A client whose connections `connect` makes (it may authenticate on
    /// the fresh client before returning it: that is redone on every
    /// reconnect). `timeout` is the receive timeout of each connection.
    /// The first connection is made now and must succeed.
    pub fn new(
        mut connect: Connector<S>,
        policy: Policy,
        timeout: Option<Duration>,
    ) -> Result<Reconnecting<S>, Error> {
        let mut client = connect()?;
        client.set_timeout(timeout)?;
        Ok(Reconnecting {
            connect,
            client: Some(client),
            policy,
            timeout,
            subs: Vec::new(),
            on_event: None,
            buffer: Kept::default(),
            attempt: 0,
            next_try: Instant::now(),
            last_error: None,
            gave_up: false,
            pending: VecDeque::new(),
            seen: Seen::default(),
            replay_marker: u64::from(random_u32()) << 32 | u64::from(random_u32()),
        })
    }

    /// Calls `f` for every [`Event`] (log it, count it).
    pub fn on_event(&mut self, f: impl FnMut(&Event<'_>) + 'static) {
        self.on_event = Some(Box::new(f));
    }

    /// Whether a connection is up now.
    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// The current connection, when there is one (for calls this type does
    /// not wrap; a failure there is noticed at the next wrapped call).
    pub fn client_mut(&mut self) -> Option<&mut Client<S>> {
        self.client.as_mut()
    }

    /// Publications waiting in the offline buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Sets the receive timeout of this and every later connection.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.timeout = timeout;
        match self.client.as_mut() {
            Some(c) => c.set_timeout(timeout),
            None => Ok(()),
        }
    }

    fn emit(&mut self, event: &Event<'_>) {
        if let Some(f) = self.on_event.as_mut() {
            f(event);
        }
    }

    /// Whether `e` means the connection is gone (rather than a NACK, a
    /// timeout or an unexpected reply on a working connection).
    fn is_connection_error(e: &Error) -> bool {
        matches!(e, Error::Closed | Error::Io { .. })
    }

    /// Drops the connection after `e` and schedules the first attempt.
    fn lost(&mut self, e: Error) {
        self.client = None;
        self.attempt = 0;
        self.gave_up = false;
        self.emit(&Event::Disconnected { error: &e });
        if self.policy.max_attempts == Some(0) {
            self.gave_up = true;
            self.emit(&Event::GaveUp { attempts: 0 });
            self.last_error = Some(e);
            return;
        }
        self.schedule(None);
    }

    /// Plans the next attempt after the back-off delay.
    fn schedule(&mut self, failed: Option<&Error>) {
        let delay = self.policy.backoff.delay(self.attempt, random_u32());
        self.next_try = Instant::now() + delay;
        let attempt = self.attempt + 1;
        if let Some(f) = self.on_event.as_mut() {
            f(&Event::Retrying {
                attempt,
                delay,
                error: failed,
            });
        }
    }

    /// One attempt, now: connect, resubscribe, flush the buffer.
    fn try_once(&mut self) -> Result<(), Error> {
        let result = (self.connect)().and_then(|mut c| {
            c.set_timeout(self.timeout)?;
            let resubscribed = self.resubscribe(&mut c)?;
            let flushed = self.flush_buffer(&mut c)?;
            Ok((c, resubscribed, flushed))
        });
        match result {
            Ok((c, resubscribed, flushed)) => {
                self.client = Some(c);
                let attempts = self.attempt + 1;
                self.attempt = 0;
                self.emit(&Event::Reconnected {
                    attempts,
                    resubscribed,
                    flushed,
                });
                Ok(())
            }
            Err(e) => {
                self.attempt += 1;
                if self.policy.max_attempts.is_some_and(|m| self.attempt >= m) {
                    self.gave_up = true;
                    let attempts = self.attempt;
                    self.emit(&Event::GaveUp { attempts });
                } else {
                    self.schedule(Some(&e));
                }
                Err(e)
            }
        }
    }

    /// Waits and retries until connected, or until the policy gives up.
    /// After giving up, calls that need the connection fail until this is
    /// called: it starts over from the first delay.
    pub fn reconnect(&mut self) -> Result<(), Error> {
        if self.client.is_some() {
            return Ok(());
        }
        if self.gave_up {
            self.gave_up = false;
            self.attempt = 0;
            self.schedule(None);
        }
        loop {
            let wait = self.next_try.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            match self.try_once() {
                Ok(()) => return Ok(()),
                Err(e) if self.gave_up => return Err(e),
                Err(_) => {}
            }
        }
    }

    /// One attempt if its time has come (never sleeps).
    fn reconnect_if_due(&mut self) -> bool {
        if self.client.is_none() && !self.gave_up && Instant::now() >= self.next_try {
            let _ = self.try_once();
        }
        self.client.is_some()
    }

    /// Makes every subscription again, pipelined, each followed by a PING
    /// whose PONG marks the end of its replies (so a NACK is told apart
    /// per route); stored messages replayed by `last` are de-duplicated
    /// against what was handed out before the break. A refused
    /// subscription is forgotten.
    fn resubscribe(&mut self, c: &mut Client<S>) -> Result<usize, Error> {
        let subs = self
            .subs
            .iter()
            .map(|s| (s.route.as_str(), s.options.as_str()));
        let done = replay::resubscribe(c, subs, self.replay_marker)?;
        for (i, e) in &done.refused {
            let route = self
                .subs
                .get(*i)
                .map(|s| s.route.clone())
                .unwrap_or_default();
            self.emit(&Event::SubscriptionRefused {
                route: &route,
                error: e,
            });
        }
        let mut i = 0;
        self.subs.retain(|_| {
            i += 1;
            !done.refused.iter().any(|(r, _)| *r == i - 1)
        });
        let fresh = self.seen.unseen(done.replay);
        self.pending.extend(fresh);
        Ok(self.subs.len())
    }

    fn flush_buffer(&mut self, c: &mut Client<S>) -> Result<usize, Error> {
        let mut sent = 0;
        while let Some((route, payload)) = self.buffer.front() {
            match c.publish(route, payload) {
                Ok(()) | Err(Error::Nack { .. }) => {}
                Err(e) => return Err(e),
            }
            self.buffer.pop_front();
            sent += 1;
        }
        Ok(sent)
    }

    /// Publishes `payload` on `route`. Connected: waits for the ACK.
    /// Disconnected: one reconnect attempt if one is due, else the
    /// [`Offline`] policy (buffer it, or fail at once).
    pub fn publish(&mut self, route: &str, payload: &[u8]) -> Result<Published, Error> {
        if self.reconnect_if_due() {
            if let Some(c) = self.client.as_mut() {
                match c.publish(route, payload) {
                    Ok(()) => return Ok(Published::Acked),
                    Err(e) if Self::is_connection_error(&e) => self.lost(e),
                    Err(e) => return Err(e),
                }
            }
        }
        match self.policy.offline {
            Offline::Fail => Err(Error::Offline { full: false }),
            Offline::Buffer { messages, bytes } => {
                if !self.buffer.push(route, payload, messages, bytes) {
                    return Err(Error::Offline { full: true });
                }
                Ok(Published::Buffered)
            }
        }
    }

    /// Subscribes to `route` with `options` (as [`Client::subscribe`]) and
    /// remembers it, to make it again after a reconnect. Options with
    /// `add` add to the remembered subscriptions, others replace them.
    /// While disconnected it is remembered and made on reconnect, and the
    /// call fails with `Error::Offline { full: false }`.
    pub fn subscribe(&mut self, route: &str, options: &str) -> Result<Option<Vec<u8>>, Error> {
        let add = options.split_ascii_whitespace().any(|o| o == "add");
        if !add {
            self.subs.clear();
        }
        self.subs.retain(|s| s.route != route);
        self.subs.push(Subscription {
            route: route.to_string(),
            options: options.to_string(),
            replays: options.split_ascii_whitespace().any(|o| o == "last"),
        });
        self.reconnect_if_due();
        let Some(c) = self.client.as_mut() else {
            return Err(Error::Offline { full: false });
        };
        match c.subscribe(route, options) {
            Ok(first) => {
                if let Some(m) = &first {
                    self.remember(m);
                }
                Ok(first)
            }
            Err(e) => {
                if Self::is_connection_error(&e) {
                    self.lost(e);
                    return Err(Error::Offline { full: false });
                }
                self.subs.retain(|s| s.route != route);
                Err(e)
            }
        }
    }

    /// Notes `m` as the last message handed out on its route (only while a
    /// subscription replays stored messages: nothing to compare otherwise).
    fn remember(&mut self, m: &[u8]) {
        if self.subs.iter().any(|s| s.replays) {
            self.seen.remember(m);
        }
    }

    /// Makes the connection again (waiting out the back-off) when there is
    /// none; once the policy has given up, the error that ended the last
    /// connection.
    fn ensure_client(&mut self) -> Result<(), Error> {
        if self.client.is_none() {
            if self.gave_up {
                return Err(self
                    .last_error
                    .take()
                    .unwrap_or(Error::Offline { full: false }));
            }
            self.reconnect()?;
        }
        Ok(())
    }

    /// The next message, reconnecting (and waiting out the back-off) as
    /// often as the policy allows. A receive timeout is returned as
    /// `Error::Timeout` with the connection kept.
    pub fn receive(&mut self) -> Result<Vec<u8>, Error> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                self.remember(&m);
                return Ok(m);
            }
            if self.client.is_none() {
                // Reconnecting may replay messages into `pending`.
                self.ensure_client()?;
                continue;
            }
            let Some(c) = self.client.as_mut() else {
                continue;
            };
            match c.receive() {
                Ok(m) => {
                    if classify(&m) == Kind::Data {
                        self.remember(&m);
                    }
                    return Ok(m);
                }
                Err(e) if Self::is_connection_error(&e) => self.lost(e),
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `call` on the connection, made again first (waiting out the
    /// back-off) when there is none: for calls this type does not wrap,
    /// whose state the connector sets up again on every connection (a
    /// queue consumer, a served route). `call` is never repeated: after a
    /// connection error it returns `Error::Offline { full: false }` (the
    /// events tell why), and the next call reconnects; once the policy
    /// gives up, the error that ended the connection.
    pub fn with_client<T>(
        &mut self,
        call: impl FnOnce(&mut Client<S>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.ensure_client()?;
        let Some(c) = self.client.as_mut() else {
            return Err(Error::Offline { full: false });
        };
        match call(c) {
            Err(e) if Self::is_connection_error(&e) => {
                self.lost(e);
                Err(Error::Offline { full: false })
            }
            other => other,
        }
    }

    /// Hands each message to `on_message` until it returns `Flow::Break`
    /// or the policy gives up reconnecting.
    pub fn listen(&mut self, mut on_message: impl FnMut(&[u8]) -> Flow) -> Result<(), Error> {
        loop {
            let m = self.receive()?;
            if on_message(&m) == Flow::Break {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests;
