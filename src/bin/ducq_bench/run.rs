//! One run of one scenario against one broker: subscribers connected in
//! waves and confirmed, a publisher thread started, then a single-threaded
//! mio loop that receives every delivery, checks its order, and records
//! timings until every subscriber has every message — or the run fails
//! loudly (gap, reorder, broker error, disconnect, timeout). Nothing here
//! retries or tolerates loss.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::ballast;
use super::conn::Conn;
use super::payload::Order;
use super::publisher::{self, Clock, Plan, Shared};
use super::sys::{cpu_ns, vm_rss_kib};
use super::wire::{Endpoint, Event};

/// Subscribers connected per wave, so a broker's accept backlog never fills
/// (mosquitto listens with a backlog of 100; an overflowing SYN is retried
/// only after a second).
const WAVE: usize = 64;

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Shown in progress lines.
    pub label: String,
    /// The broker.
    pub endpoint: Endpoint,
    /// Unique per run, so nothing from an earlier run can arrive.
    pub topic: String,
    /// Subscribing connections.
    pub subscribers: usize,
    /// Publications.
    pub count: u64,
    /// Payload bytes.
    pub size: usize,
    /// Fixed publication rate, if any.
    pub rate: Option<f64>,
    /// Publisher's in-flight window per subscriber, if any.
    pub window: Option<u64>,
    /// Record per-delivery latency and per-publication fan-out time.
    pub timing: bool,
    /// Read this process's VmRSS before and after the subscribers connect.
    pub rss_pid: Option<u32>,
    /// Read this process's CPU time before the first publication and after
    /// the last delivery.
    pub cpu_pid: Option<u32>,
    /// Limit for the whole run.
    pub timeout: Duration,
    /// Initial input buffer of each subscriber.
    pub buf: usize,
    /// Pattern subscriptions held beside the run's (ducq only; see
    /// `ballast`).
    pub patterns: usize,
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// First publication stamped → last delivery, seconds.
    pub elapsed_s: f64,
    /// Deliveries, all subscribers together.
    pub deliveries: u64,
    /// Per delivery: arrival − stamp, ns (when timing).
    pub latencies_ns: Vec<u64>,
    /// Per publication: last arrival among subscribers − stamp, ns (when timing).
    pub fanout_ns: Vec<u64>,
    /// Broker VmRSS in KiB before and after the subscribers connected.
    pub rss_kib: Option<(u64, u64)>,
    /// Broker CPU time spent from just before the publisher started to
    /// just after the last delivery, ns (when `cpu_pid` is given).
    pub cpu_ns: Option<u64>,
    /// Acknowledgements the publisher counted.
    pub acks: u64,
}

struct Sub {
    conn: Conn,
    subscribed: bool,
    order: Order,
}

/// The subscriber side, with the counters its service routine updates.
struct Subscribers {
    subs: Vec<Sub>,
    size: usize,
    count: u64,
    clock: Clock,
    timing: bool,
    confirmed: usize,
    complete: usize,
    /// Deliveries not yet published to `Shared::delivered`.
    unreported: u64,
    delivered: u64,
    last_ns: u64,
    latencies: Vec<u64>,
    fanout: Vec<u64>,
}

impl Subscribers {
    /// Handles readiness of subscriber `i`: write what is pending, read and
    /// check everything available.
    fn service(&mut self, i: usize) -> Result<(), String> {
        let Subscribers {
            subs,
            size,
            count,
            clock,
            timing,
            latencies,
            fanout,
            ..
        } = self;
        let Sub {
            conn,
            subscribed,
            order,
        } = &mut subs[i];
        let was_subscribed = *subscribed;
        let before = order.next;
        conn.flush().map_err(|e| format!("subscriber {i}: {e}"))?;
        let seen = conn
            .read(|ev| {
                match ev {
                    Event::Subscribed => *subscribed = true,
                    Event::Message(p) => {
                        if order.next >= *count {
                            return Err(format!("extra message after all {count}"));
                        }
                        let stamp = order.check(&p, *size)?;
                        if *timing {
                            let lat = clock.now_ns().saturating_sub(stamp);
                            latencies.push(lat);
                            let seq = order.next as usize - 1;
                            fanout[seq] = fanout[seq].max(lat);
                        }
                    }
                    Event::Acked => return Err("subscriber received a publish ack".into()),
                    Event::Nothing | Event::Ready => {}
                }
                Ok(())
            })
            .map_err(|e| format!("subscriber {i}: {e}"))?;
        conn.flush().map_err(|e| format!("subscriber {i}: {e}"))?;
        let got = order.next - before;
        let done = order.next == *count && got > 0;
        if seen.eof {
            return Err(format!(
                "subscriber {i}: broker closed the connection after {} of {count} messages",
                order.next
            ));
        }
        if *subscribed && !was_subscribed {
            self.confirmed += 1;
        }
        self.delivered += got;
        self.unreported += got;
        if done {
            self.complete += 1;
            self.last_ns = self.clock.now_ns();
        }
        Ok(())
    }
}

/// Runs `spec` once.
pub fn run(spec: &Spec) -> Result<Measured, String> {
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let clock = Clock::new();
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(1024);
    let rss_before = spec.rss_pid.map(vm_rss_kib).transpose()?;
    let n = spec.subscribers;
    let mut s = Subscribers {
        subs: Vec::with_capacity(n),
        size: spec.size,
        count: spec.count,
        clock,
        timing: spec.timing,
        confirmed: 0,
        complete: 0,
        unreported: 0,
        delivered: 0,
        last_ns: 0,
        latencies: Vec::with_capacity(if spec.timing {
            spec.count as usize * n
        } else {
            0
        }),
        fanout: vec![0; if spec.timing { spec.count as usize } else { 0 }],
    };
    let mut progress = Progress::new(&spec.label);
    // Held open until the run ends.
    let _patterns = match spec.patterns {
        0 => None,
        n => Some(ballast::subscribe(spec.endpoint.addr, &spec.topic, n)?),
    };

    // Subscribe, a wave at a time, each wave confirmed before the next.
    while s.subs.len() < n {
        let wave_end = n.min(s.subs.len() + WAVE);
        for i in s.subs.len()..wave_end {
            let mut conn = Conn::connect(&spec.endpoint, &format!("bench-sub-{i}"), spec.buf)
                .map_err(|e| format!("subscriber {i}: {e}"))?;
            // Whether the session needs confirming does not matter here: the
            // subscription's confirmation comes after it in every protocol.
            let _ = conn.hello();
            conn.subscribe(&spec.topic);
            poll.registry()
                .register(
                    &mut conn.sock,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| e.to_string())?;
            conn.flush().map_err(|e| format!("subscriber {i}: {e}"))?;
            s.subs.push(Sub {
                conn,
                subscribed: false,
                order: Order::default(),
            });
        }
        while s.confirmed < s.subs.len() {
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out: {} of {n} subscriptions confirmed after {:?}",
                    s.confirmed, spec.timeout
                ));
            }
            poll.poll(&mut events, Some(Duration::from_millis(10)))
                .map_err(|e| format!("poll: {e}"))?;
            for ev in events.iter() {
                s.service(ev.token().0)?;
            }
            if n > WAVE {
                progress.tick(|| format!("{} of {n} subscribed", s.confirmed));
            }
        }
    }
    let rss_after = spec.rss_pid.map(vm_rss_kib).transpose()?;

    let shared = Arc::new(Shared::default());
    let plan = Plan {
        endpoint: spec.endpoint,
        topic: spec.topic.clone(),
        count: spec.count,
        size: spec.size,
        rate: spec.rate,
        window: spec.window,
        subscribers: n as u64,
        deadline,
        clock,
    };
    let cpu_before = spec.cpu_pid.map(cpu_ns).transpose()?;
    let for_thread = Arc::clone(&shared);
    let publisher = std::thread::Builder::new()
        .name("bench-publisher".into())
        .spawn(move || publisher::run(plan, for_thread))
        .map_err(|e| format!("spawn publisher: {e}"))?;

    let expected = spec.count * n as u64;
    let result = (|| -> Result<(), String> {
        while s.complete < n || !shared.done.load(Ordering::Acquire) {
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out after {:?}: {} of {n} subscribers complete, {} of {expected} \
                     deliveries, {} of {} published{}",
                    spec.timeout,
                    s.complete,
                    s.delivered,
                    shared.published.load(Ordering::Relaxed),
                    spec.count,
                    if shared.done.load(Ordering::Relaxed) {
                        ""
                    } else {
                        " (publisher not finished)"
                    }
                ));
            }
            if publisher.is_finished() {
                // It only returns early on an error; `join` below reports it.
                return Ok(());
            }
            poll.poll(&mut events, Some(Duration::from_millis(10)))
                .map_err(|e| format!("poll: {e}"))?;
            for ev in events.iter() {
                s.service(ev.token().0)?;
            }
            if s.unreported > 0 {
                shared.delivered.fetch_add(s.unreported, Ordering::Release);
                s.unreported = 0;
            }
            progress.tick(|| {
                format!(
                    "{:5.1}%  {} of {expected} deliveries",
                    100.0 * s.delivered as f64 / expected as f64,
                    s.delivered
                )
            });
        }
        Ok(())
    })();
    shared.stop.store(true, Ordering::Release);
    let outcome = publisher
        .join()
        .map_err(|_| "publisher thread panicked".to_string())?;
    result?;
    let outcome = outcome.map_err(|e| format!("publisher: {e}"))?;
    if s.complete < n {
        return Err("publisher ended before every subscriber was complete".into());
    }
    let cpu_after = spec.cpu_pid.map(cpu_ns).transpose()?;
    let start_ns = shared.start_ns.load(Ordering::Acquire);
    Ok(Measured {
        elapsed_s: s.last_ns.saturating_sub(start_ns) as f64 / 1e9,
        deliveries: s.delivered,
        latencies_ns: s.latencies,
        fanout_ns: s.fanout,
        rss_kib: rss_before.zip(rss_after),
        cpu_ns: cpu_before
            .zip(cpu_after)
            .map(|(before, after)| after.saturating_sub(before)),
        acks: outcome.acks,
    })
}

/// A line on stderr at most once a second while a run is going.
struct Progress<'a> {
    label: &'a str,
    last: Instant,
}

impl<'a> Progress<'a> {
    fn new(label: &'a str) -> Self {
        Progress {
            label,
            last: Instant::now(),
        }
    }

    fn tick(&mut self, line: impl FnOnce() -> String) {
        if self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            eprintln!("  {}: {}", self.label, line());
        }
    }
}
