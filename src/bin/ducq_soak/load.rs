//! `ducq-soak`'s load phase: subscribers on non-blocking sockets (TCP and
//! WebSocket, on the exact route and a pattern) served by two poll
//! threads, each checking that every message arrives once and in order,
//! and one publisher at a fixed rate. It reads no server figures (the
//! caller samples the server while every subscriber is still connected).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ducq::client::Client;
use ducq::proto::message::{classify, pong_for};
use ducq::proto::Kind;
use ducq::transport::tcp::TcpCodec;
use ducq::transport::ws::WsClient;
use ducq::transport::{Decoder, Frame, Transport};
use mio::{Events, Interest, Poll, Token};

use crate::{Config, LOAD_ROUTE, PAD, WAIT};

/// One subscriber of the load: a non-blocking socket and its codec.
struct Sub {
    /// Its number among all subscribers.
    id: usize,
    sock: mio::net::TcpStream,
    codec: Box<dyn Transport>,
    input: Vec<u8>,
    out: Vec<u8>,
    seen: Seen,
    error: Option<String>,
}

/// What a subscriber has received so far.
#[derive(Debug, Default)]
struct Seen {
    /// The ACK of its `sub` arrived.
    acked: bool,
    /// Sequence number of the next load message expected.
    next: u64,
}

impl Seen {
    /// Checks one message: first the ACK, then load messages in sequence.
    /// PINGs are answered through `replies`.
    fn check(&mut self, m: &[u8], replies: &mut Vec<Vec<u8>>) -> Result<(), String> {
        match classify(m) {
            Kind::Ack if !self.acked => self.acked = true,
            Kind::Ping => replies.push(pong_for(m)),
            Kind::Data if self.acked => {
                let want = format!("pub {LOAD_ROUTE}\n{} ", self.next);
                if !m.starts_with(want.as_bytes()) || m.len() != want.len() + PAD {
                    let got = String::from_utf8_lossy(m.get(..40).unwrap_or(m));
                    return Err(format!("expected message {}, got {got:?}", self.next));
                }
                self.next += 1;
            }
            _ => return Err(format!("unexpected {:?}", String::from_utf8_lossy(m))),
        }
        Ok(())
    }
}

impl Sub {
    fn connect(c: &Config, n: usize) -> Result<Sub, String> {
        let ws = n % 4 == 3;
        let addr = if ws { c.ws } else { c.tcp };
        let std_sock = TcpStream::connect_timeout(&addr, WAIT).map_err(|e| e.to_string())?;
        std_sock.set_nodelay(true).map_err(|e| e.to_string())?;
        std_sock.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut codec: Box<dyn Transport> = if ws {
            Box::new(WsClient::new(&addr.to_string(), "/", 1 << 20))
        } else {
            Box::new(TcpCodec::new(1 << 20))
        };
        let mut out = Vec::new();
        codec.open(&mut out);
        let route = if n % 2 == 0 { LOAD_ROUTE } else { "soak/*" };
        codec.encode(format!("sub {route}\n").as_bytes(), &mut out);
        Ok(Sub {
            id: n,
            sock: mio::net::TcpStream::from_std(std_sock),
            codec,
            input: Vec::new(),
            out,
            seen: Seen::default(),
            error: None,
        })
    }

    /// Writes what is pending and reads everything available, checking
    /// each message. Errors are kept in `self.error`.
    fn service(&mut self) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.try_service() {
            self.error = Some(e);
        }
    }

    fn try_service(&mut self) -> Result<(), String> {
        self.flush()?;
        let mut chunk = [0u8; 64 << 10];
        loop {
            match self.sock.read(&mut chunk) {
                Ok(0) => return Err(format!("server closed after {} messages", self.seen.next)),
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        let mut replies = Vec::new();
        let mut dec = Decoder::new();
        while let Some(frame) = dec.next(&mut *self.codec, &mut self.input, &mut self.out) {
            match frame {
                Frame::Message(m) => self.seen.check(&m, &mut replies)?,
                Frame::Close => return Err("stream closed".into()),
            }
        }
        self.input.drain(..dec.consumed());
        for r in replies {
            self.codec.encode(&r, &mut self.out);
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<(), String> {
        while !self.out.is_empty() {
            match self.sock.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        Ok(())
    }
}

/// What the load threads share.
struct Load {
    /// Subscribers whose `sub` was answered, or that failed.
    subscribed: AtomicUsize,
    /// Set by the publisher with the number of messages, when it is done.
    published: AtomicU64,
    done: AtomicBool,
    /// Subscribers done checking; clients are held until the second wait.
    measured: Barrier,
    release: Barrier,
}

/// A load thread: connects its subscribers, serves them until each has
/// every message (or the deadline), waits for the measurement, then drops
/// them. Returns (messages received, errors).
fn subscriber_thread(
    c: &Config,
    ids: Vec<usize>,
    load: &Load,
    deadline: Instant,
) -> (u64, Vec<String>) {
    let mut errors = Vec::new();
    let poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => return (0, vec![format!("poll: {e}")]),
    };
    let mut subs = connect_all(c, ids, &poll, load, &mut errors);
    let mut poll = poll;
    let mut events = Events::with_capacity(1024);
    let mut counted = 0;
    loop {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(100))) {
            if e.kind() != ErrorKind::Interrupted {
                errors.push(format!("poll: {e}"));
                break;
            }
        }
        for ev in events.iter() {
            if let Some(s) = subs.get_mut(ev.token().0) {
                s.service();
            }
        }
        // Settled: subscribed, or failed (the publisher need not wait).
        let acked = subs
            .iter()
            .filter(|s| s.seen.acked || s.error.is_some())
            .count();
        if acked > counted {
            load.subscribed.fetch_add(acked - counted, Ordering::SeqCst);
            counted = acked;
        }
        let total = load.published.load(Ordering::SeqCst);
        let all_in = subs
            .iter()
            .all(|s| s.error.is_some() || s.seen.next == total);
        if (load.done.load(Ordering::SeqCst) && all_in) || Instant::now() > deadline {
            break;
        }
    }
    let received = tally(&subs, load.published.load(Ordering::SeqCst), &mut errors);
    load.measured.wait();
    load.release.wait();
    drop(subs);
    (received, errors)
}

/// Connects the subscribers `ids` and registers them with `poll`; one that
/// cannot connect is counted as settled (the publisher need not wait).
fn connect_all(
    c: &Config,
    ids: Vec<usize>,
    poll: &Poll,
    load: &Load,
    errors: &mut Vec<String>,
) -> Vec<Sub> {
    let mut subs = Vec::new();
    for n in ids {
        match Sub::connect(c, n) {
            Ok(mut s) => {
                let token = Token(subs.len());
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(e) = poll.registry().register(&mut s.sock, token, interest) {
                    errors.push(format!("register: {e}"));
                }
                subs.push(s);
            }
            Err(e) => {
                errors.push(format!("subscriber {n}: {e}"));
                load.subscribed.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    subs
}

/// Messages the subscribers received, all together; a subscriber that
/// failed or missed some of the `total` published is an error.
fn tally(subs: &[Sub], total: u64, errors: &mut Vec<String>) -> u64 {
    let mut received = 0;
    for s in subs {
        received += s.seen.next;
        if let Some(e) = &s.error {
            errors.push(format!("subscriber {}: {e}", s.id));
        } else if s.seen.next != total {
            let n = s.seen.next;
            if total == u64::MAX {
                errors.push(format!(
                    "subscriber {}: {n} messages when the deadline passed, before the publisher finished",
                    s.id
                ));
            } else {
                errors.push(format!("subscriber {}: {n} of {total} messages", s.id));
            }
        }
    }
    received
}

/// Publishes `rate` messages a second for `seconds`, each waiting for its
/// ACK; returns how many were published. Falling behind the rate is not an
/// error: the pace simply slips (the time taken is reported).
fn publisher(c: &Config, seconds: u64, load: &Load) -> Result<u64, String> {
    let mut client = Client::connect(&c.tcp.to_string(), WAIT).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let count = seconds * c.rate;
    let pad = "x".repeat(PAD);
    for seq in 0..count {
        let at = start + Duration::from_secs_f64(seq as f64 / c.rate as f64);
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let payload = format!("{seq} {pad}");
        if let Err(e) = client.publish(LOAD_ROUTE, payload.as_bytes()) {
            load.published.store(seq, Ordering::SeqCst);
            return Err(format!("publish {seq}: {e}"));
        }
    }
    load.published.store(count, Ordering::SeqCst);
    Ok(count)
}

/// What one load round did.
pub struct LoadResult {
    pub published: u64,
    /// Seconds the publisher took (the target is `--seconds`).
    pub publish_secs: f64,
    /// Deliveries checked, all subscribers together.
    pub received: u64,
    pub errors: Vec<String>,
}

/// Runs the load for `seconds`; `during` is called while every subscriber
/// is still connected, after the last message was checked.
pub fn load(c: &Config, seconds: u64, during: &mut dyn FnMut()) -> LoadResult {
    const THREADS: usize = 2;
    let shared = Arc::new(Load {
        subscribed: AtomicUsize::new(0),
        published: AtomicU64::new(u64::MAX),
        done: AtomicBool::new(false),
        measured: Barrier::new(THREADS + 1),
        release: Barrier::new(THREADS + 1),
    });
    // Generous: a machine too slow for the rate makes the publisher late,
    // and subscribers must not give up on messages still coming.
    let deadline = Instant::now() + Duration::from_secs(seconds * 3 + 60);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let ids: Vec<usize> = (0..c.subscribers).filter(|n| n % THREADS == t).collect();
            let (c, shared) = (c.clone(), shared.clone());
            std::thread::spawn(move || subscriber_thread(&c, ids, &shared, deadline))
        })
        .collect();
    let mut errors = Vec::new();
    let ready_by = Instant::now() + Duration::from_secs(30);
    while shared.subscribed.load(Ordering::SeqCst) < c.subscribers && Instant::now() < ready_by {
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let published = match publisher(c, seconds, &shared) {
        Ok(n) => n,
        Err(e) => {
            errors.push(e);
            shared.published.load(Ordering::SeqCst)
        }
    };
    let publish_secs = t.elapsed().as_secs_f64();
    shared.done.store(true, Ordering::SeqCst);
    shared.measured.wait();
    during();
    shared.release.wait();
    let mut received = 0;
    for h in handles {
        match h.join() {
            Ok((n, e)) => {
                received += n;
                errors.extend(e);
            }
            Err(_) => errors.push("subscriber thread panicked".into()),
        }
    }
    LoadResult {
        published,
        publish_secs,
        received,
        errors,
    }
}
