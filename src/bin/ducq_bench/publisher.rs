//! The publishing side of one run, on its own thread: one connection that
//! pipelines publications (it never waits for an answer before sending the
//! next) while draining and counting the broker's acknowledgements on the
//! same loop, so neither direction can stall the other. Optional pacing
//! (a fixed rate, for latency) and an in-flight window (stay at most N
//! messages ahead of the subscribers, so a run measures sustained rate
//! rather than how much a broker can buffer).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::conn::Conn;
use super::payload;
use super::wire::{Endpoint, Event};

/// Stop filling the output buffer beyond this many unwritten bytes.
const MAX_PENDING: usize = 256 * 1024;

/// A monotonic clock shared by the publisher and the subscribers of a run,
/// so a timestamp written into a payload can be compared on arrival.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    /// A clock starting now.
    pub fn new() -> Self {
        Clock(Instant::now())
    }

    /// Nanoseconds since the clock started.
    pub fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// State shared between the publisher thread and the subscriber loop.
#[derive(Debug, Default)]
pub struct Shared {
    /// Deliveries counted by the subscribers, all connections together.
    pub delivered: AtomicU64,
    /// Publications handed to the socket so far.
    pub published: AtomicU64,
    /// When the first publication was stamped (clock ns).
    pub start_ns: AtomicU64,
    /// Set by the publisher once every publication is written and, where
    /// the protocol acknowledges, acknowledged.
    pub done: AtomicBool,
    /// Set by the subscriber loop to end the publisher.
    pub stop: AtomicBool,
}

/// What to publish.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The broker.
    pub endpoint: Endpoint,
    /// Topic, subject, channel or route.
    pub topic: String,
    /// Publications to send.
    pub count: u64,
    /// Payload size in bytes.
    pub size: usize,
    /// Publications per second, or as fast as possible.
    pub rate: Option<f64>,
    /// At most this many publications beyond what every subscriber has
    /// received (on average), or no limit.
    pub window: Option<u64>,
    /// Subscribers each publication reaches.
    pub subscribers: u64,
    /// Give up at this instant.
    pub deadline: Instant,
    /// The run's clock.
    pub clock: Clock,
}

/// What the publisher saw.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Publications acknowledged by the broker (protocols that acknowledge).
    pub acks: u64,
}

/// Runs the publisher until every publication is written (and acknowledged,
/// where the protocol does), then keeps the connection open, still
/// draining, until `shared.stop` — closing early could race the last bytes.
pub fn run(plan: Plan, shared: Arc<Shared>) -> Result<Outcome, String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(8);
    let mut conn = Conn::connect(&plan.endpoint, "bench-pub", 64 * 1024)?;
    poll.registry()
        .register(
            &mut conn.sock,
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )
        .map_err(|e| e.to_string())?;
    let wait = |poll: &mut Poll, events: &mut Events, d: Duration| {
        poll.poll(events, Some(d)).map_err(|e| format!("poll: {e}"))
    };
    let check = |plan: &Plan, shared: &Shared| -> Result<(), String> {
        if shared.stop.load(Ordering::Relaxed) {
            return Err("stopped".into());
        }
        if Instant::now() > plan.deadline {
            return Err("publisher timed out".into());
        }
        Ok(())
    };

    // Open the session (CONNECT / CONNACK and the like) before any clock runs.
    let mut ready = !conn.hello();
    while !ready {
        check(&plan, &shared)?;
        conn.flush()?;
        let seen = conn.read(|ev| match ev {
            Event::Ready => {
                ready = true;
                Ok(())
            }
            Event::Message(_) => Err("publisher received a publication".into()),
            _ => Ok(()),
        })?;
        if seen.eof {
            return Err("broker closed the publisher's connection during handshake".into());
        }
        if !ready {
            wait(&mut poll, &mut events, Duration::from_millis(20))?;
        }
    }

    let acked = conn.wire.acks_publish();
    let mut acks = 0u64;
    let mut seq = 0u64;
    let mut buf = Vec::with_capacity(plan.size);
    let batch = (64 * 1024 / (plan.size + 64)).clamp(1, 256) as u64;
    let t0 = Instant::now();
    shared
        .start_ns
        .store(plan.clock.now_ns(), Ordering::Release);
    let mut finished = false;
    loop {
        if finished {
            // Done publishing: only drain until the subscribers are done.
            if shared.stop.load(Ordering::Relaxed) {
                return Ok(Outcome { acks });
            }
        } else {
            check(&plan, &shared)?;
        }
        let mut idle_for = None;
        let mut produced = 0;
        if seq < plan.count && conn.pending() < MAX_PENDING {
            let mut allowed = plan.count;
            if let Some(w) = plan.window {
                let each = shared.delivered.load(Ordering::Acquire) / plan.subscribers;
                allowed = allowed.min(each + w);
                if allowed <= seq {
                    idle_for = Some(Duration::from_micros(50));
                }
            }
            if let Some(rate) = plan.rate {
                let due = (t0.elapsed().as_secs_f64() * rate) as u64 + 1;
                if due <= seq {
                    let at = Duration::from_secs_f64(seq as f64 / rate);
                    idle_for = Some(
                        at.saturating_sub(t0.elapsed())
                            .min(Duration::from_millis(1)),
                    );
                }
                allowed = allowed.min(due);
            }
            produced = allowed.saturating_sub(seq).min(batch);
            if produced > 0 {
                // One stamp per batch, taken just before it is written.
                let stamp = payload::Stamp::new(plan.clock.now_ns());
                for _ in 0..produced {
                    payload::fill(&mut buf, seq, &stamp, plan.size);
                    conn.publish(&plan.topic, &buf);
                    seq += 1;
                }
                shared.published.store(seq, Ordering::Release);
            }
        }
        let wrote = conn.flush()?;
        let seen = conn.read(|ev| match ev {
            Event::Acked => {
                acks += 1;
                Ok(())
            }
            Event::Message(_) => Err("publisher received a publication".into()),
            _ => Ok(()),
        })?;
        if seen.eof {
            return Err(format!(
                "broker closed the publisher's connection after {seq} publications, {acks} acks"
            ));
        }
        conn.flush()?; // pongs
        if acked && acks > seq {
            return Err(format!("{acks} acks for {seq} publications"));
        }
        if !finished && seq == plan.count && conn.pending() == 0 && (!acked || acks == seq) {
            finished = true;
            shared.done.store(true, Ordering::Release);
        }
        if produced > 0 || wrote > 0 || seen.bytes > 0 {
            continue;
        }
        match idle_for {
            Some(d) if conn.pending() == 0 => std::thread::sleep(d),
            _ => wait(&mut poll, &mut events, Duration::from_millis(2))?,
        }
    }
}
