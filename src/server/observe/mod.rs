//! The server observing itself, as a command set: `metrics` (the
//! Prometheus text format), `stats` (the same numbers as JSON; with the
//! payload `history`, the last five minutes second by second; with
//! `summary`, without the queues one by one), `routes`, `conns` and
//! `queues` (one page of the stored routes, open connections or durable
//! queues as JSON) and
//! `dashboard` (the embedded web dashboard's files). The HTTP listener maps
//! `GET /metrics`, `/stats`, `/` and `/dashboard/...` to them; the dashboard
//! calls them over its WebSocket. `ducq-server` adds the set (without
//! `dashboard` under `--no-dashboard`).
//!
//! It reads the hub and never changes it; the per-second sampling for the
//! history runs off a timer descriptor the reactor watches, not on the
//! message path.

pub mod assets;
pub mod history;
pub mod pages;

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::dispatcher::CommandSet;
use super::hub::Hub;
use super::metrics::{self, ConnGroup, ProcessFigures, QueueFigures, QueueTotals, Reading};
use super::queues::queue_line;
use crate::proto::{Message, State};
use history::History;

const COMMANDS: &[(&str, &str)] = &[
    (
        "metrics",
        "server metrics in the Prometheus text format (also GET /metrics)",
    ),
    (
        "stats",
        "server metrics as JSON (also GET /stats); payload history adds the last five minutes, summary leaves out the queues one by one",
    ),
    (
        "queues",
        "durable queues whose name contains the route (* for all) with their counts as JSON, one page: payload '<offset> <limit>'",
    ),
    (
        "routes",
        "stored routes matching the route pattern as JSON, one page: payload '<offset> <limit>'",
    ),
    (
        "conns",
        "connections whose id contains the route (* for all) as JSON, one page: payload '<offset> <limit>'",
    ),
    (
        "dashboard",
        "a file of the web dashboard (GET / on the HTTP listener)",
    ),
];

/// The observing command set.
pub struct Observe {
    dashboard: bool,
    started: Instant,
    start_time: f64,
    history: History,
    timer: Option<OwnedFd>,
    /// The last reading of the process' figures, and when it was taken.
    process: Cell<Option<(Instant, ProcessFigures)>>,
}

/// How long a reading of the process' figures is reused.
const PROCESS_EVERY: Duration = Duration::from_millis(500);

impl Observe {
    /// The set, with the dashboard's files or without. Its one-second
    /// timer is started here.
    pub fn new(dashboard: bool) -> io::Result<Observe> {
        let start_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Ok(Observe {
            dashboard,
            started: Instant::now(),
            start_time,
            history: History::default(),
            timer: Some(second_timer()?),
            process: Cell::new(None),
        })
    }

    fn enabled(&self, name: &[u8]) -> bool {
        COMMANDS
            .iter()
            .any(|(n, _)| n.as_bytes() == name && (self.dashboard || *n != "dashboard"))
    }

    /// A reading of the hub's counters and gauges now. The process'
    /// figures are read at most every half second (listing 10 000 open
    /// descriptors takes milliseconds; every dashboard asks each second).
    pub fn reading(&self, hub: &Hub) -> Reading {
        let process = match self.process.get() {
            Some((at, p)) if at.elapsed() < PROCESS_EVERY => p,
            _ => {
                let p = metrics::process();
                self.process.set(Some((Instant::now(), p)));
                p
            }
        };
        reading(hub, self.started, self.start_time, process)
    }
}

/// A reading of `hub` for a server started at `started` (unix time
/// `start_time`). One walk over the connections, without allocating per
/// connection: thousands of them cost microseconds, not milliseconds.
/// `process` is the process' RSS, open fds and CPU seconds.
pub fn reading(hub: &Hub, started: Instant, start_time: f64, process: (u64, u64, f64)) -> Reading {
    let mut counters = hub.metrics.clone();
    // (listener, protocol) → count, formatted once per group below.
    let mut groups: Vec<(Option<SocketAddr>, &str, u64)> = Vec::new();
    let (mut subscriptions, mut queued) = (0u64, 0u64);
    for (key, conn) in hub.conns.iter() {
        // Bytes of connections not yet removed are added to those of
        // removed ones (closing ones too: a counter never goes back).
        counters.bytes_in += conn.bytes_in();
        counters.bytes_out += conn.bytes_out();
        if conn.closing {
            continue;
        }
        queued += conn.pending_output() as u64;
        subscriptions += hub.subs.routes_of(key).len() as u64;
        let (listener, protocol) = (conn.listener(), conn.protocol());
        match groups
            .iter_mut()
            .find(|g| g.0 == listener && g.1 == protocol)
        {
            Some(g) => g.2 += 1,
            None => groups.push((listener, protocol, 1)),
        }
    }
    let mut connections: Vec<ConnGroup> = Vec::new();
    for (listener, protocol, count) in groups {
        let listener = listener.map(|a| a.to_string()).unwrap_or_default();
        // Labels are lowercase: "Foo" and "foo" are one series.
        let protocol = protocol.to_ascii_lowercase();
        match connections
            .iter_mut()
            .find(|g| g.listener == listener && g.protocol == protocol)
        {
            Some(g) => g.count += count,
            None => connections.push(ConnGroup {
                listener,
                protocol,
                count,
            }),
        }
    }
    connections.sort_by(|a, b| (&a.listener, &a.protocol).cmp(&(&b.listener, &b.protocol)));
    let (rss_bytes, open_fds, cpu_seconds) = process;
    let (queues, queue_totals) = queue_figures(hub);
    Reading {
        version: env!("CARGO_PKG_VERSION"),
        uptime: started.elapsed().as_secs_f64(),
        start_time,
        counters,
        connections,
        routes_stored: hub.last.len() as u64,
        stored_bytes: hub.last.bytes() as u64,
        subscriptions,
        queued_bytes: queued,
        rss_bytes,
        open_fds,
        cpu_seconds,
        queues,
        queue_totals,
    }
}

/// Every durable queue's figures, and their totals.
fn queue_figures(hub: &Hub) -> (Vec<QueueFigures>, QueueTotals) {
    let service = hub.queues();
    let queues: Vec<QueueFigures> = service
        .listing(Instant::now())
        .iter()
        .map(|l| {
            let q = queue_line(l);
            QueueFigures {
                name: l.name.to_string(),
                depth: q.depth,
                ready: q.ready,
                in_flight: q.in_flight,
                consumers: q.consumers,
                oldest_ms: q.oldest_ms,
            }
        })
        .collect();
    let (commits, commit_failures) = service.commit_counts();
    let totals = QueueTotals {
        queues: queues.len() as u64,
        depth: queues.iter().map(|q| q.depth).sum(),
        in_flight: queues.iter().map(|q| q.in_flight).sum(),
        bytes: service.bytes() as u64,
        commits,
        commit_failures,
    };
    (queues, totals)
}

impl CommandSet for Observe {
    fn list(&self) -> Vec<(String, String)> {
        COMMANDS
            .iter()
            .filter(|(n, _)| self.enabled(n.as_bytes()))
            .map(|(n, d)| ((*n).to_owned(), (*d).to_owned()))
            .collect()
    }

    fn has(&self, name: &[u8]) -> bool {
        self.enabled(name)
    }

    fn exec(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        let reply = match msg.command {
            b"metrics" => metrics::prometheus(&self.reading(hub)).into_bytes(),
            b"stats" => {
                let mut reading = self.reading(hub);
                // A summary (the dashboard's poll each second) leaves the
                // queues one by one to the paged `queues` command.
                if msg.payload == b"summary" {
                    reading.queues.clear();
                }
                let mut json = metrics::json(&reading);
                if msg.payload == b"history" {
                    json.pop();
                    json.push_str(",\"history\":");
                    json.push_str(&self.history.json());
                    json.push('}');
                } else if !matches!(msg.payload, b"" | b"summary") {
                    return Err(State::EMsgInv);
                }
                json.into_bytes()
            }
            b"queues" => {
                let (offset, limit) = pages::window(msg.payload)?;
                pages::queues(hub, msg.route, offset, limit).into_bytes()
            }
            b"routes" => {
                let (offset, limit) = pages::window(msg.payload)?;
                pages::routes(hub, msg.route, offset, limit).into_bytes()
            }
            b"conns" => {
                let (offset, limit) = pages::window(msg.payload)?;
                pages::conns(hub, msg.route, offset, limit).into_bytes()
            }
            b"dashboard" if self.dashboard => assets::find(msg.route)
                .ok_or(State::ENotFound)?
                .body
                .to_vec(),
            _ => return Err(State::ENoCmd),
        };
        hub.send(caller, &reply)
    }

    fn event_fd(&self) -> Option<RawFd> {
        self.timer.as_ref().map(AsRawFd::as_raw_fd)
    }

    fn on_event(&mut self, hub: &mut Hub) {
        if let Some(timer) = &self.timer {
            drain_timer(timer);
        }
        let connections = hub.conns.iter().filter(|(_, c)| !c.closing).count() as u64;
        let m = &hub.metrics;
        self.history
            .sample(m.messages_in, m.deliveries, connections, Instant::now());
    }

    fn name(&self) -> &str {
        "observe"
    }
}

/// A non-blocking timer descriptor that becomes readable every second.
fn second_timer() -> io::Result<OwnedFd> {
    // SAFETY: timerfd_create takes no pointers; a negative result is an
    // error, anything else a new descriptor we own.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let second = libc::timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    let spec = libc::itimerspec {
        it_interval: second,
        it_value: second,
    };
    // SAFETY: `spec` is a valid itimerspec; the old value is not asked for.
    let rc = unsafe { libc::timerfd_settime(owned.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned)
}

/// Reads the expiry count so the (edge-triggered) descriptor fires again.
fn drain_timer(timer: &OwnedFd) {
    let mut count = [0u8; 8];
    // SAFETY: reads at most 8 bytes into a buffer of 8 bytes we own.
    let _ = unsafe { libc::read(timer.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
}

#[cfg(test)]
mod tests;
