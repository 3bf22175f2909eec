//! What the server counts about itself, and the two ways it is read out:
//! the Prometheus text format (`GET /metrics`) and JSON (`GET /stats`, the
//! dashboard's `stats` command), the same numbers in both.
//!
//! Counters are plain integers in the hub, bumped by the single reactor
//! thread where things happen (no atomics, no locks: nothing measurable on
//! the publish path). Gauges (connections, stored routes, process memory)
//! are computed when a reading is taken. This module renders; it never
//! walks connections itself (the caller builds the [`Reading`]).

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::proto::state::ALL;
use crate::proto::State;

#[path = "metrics_queues.rs"]
mod queues;

/// Counters bumped by the reactor thread as things happen.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Messages received from clients and dispatched.
    pub messages_in: u64,
    /// Messages queued to clients (replies and deliveries).
    pub messages_out: u64,
    /// Bytes read from client sockets.
    pub bytes_in: u64,
    /// Bytes written to client sockets.
    pub bytes_out: u64,
    /// Publications fanned out.
    pub publications: u64,
    /// Copies of publications queued to subscribers.
    pub deliveries: u64,
    /// Subscribers disconnected for falling behind (`--max-output`).
    pub slow_consumers: u64,
    /// Queued output bytes discarded when a connection was closed early.
    pub dropped_bytes: u64,
    /// Times a connection was held back (not read) because its message
    /// filled another connection's queue past the high-water mark.
    pub publisher_holds: u64,
    /// Connections refused at the connection limit.
    pub refused: u64,
    /// Connections accepted, per listener address.
    pub accepted: Vec<(SocketAddr, u64)>,
    /// NACKs sent by the dispatcher, by state code.
    pub nacks: [u64; ALL.len()],
    /// Per command set (Lua, C commands): calls, failures, time.
    pub sets: Vec<SetCounters>,
}

/// Counters of one command set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetCounters {
    /// The set's name (`lua`, …).
    pub name: String,
    /// Commands of the set run.
    pub calls: u64,
    /// Runs that failed in the set itself (a Lua error: NACK 22).
    pub errors: u64,
    /// Time spent running them, in nanoseconds.
    pub nanos: u64,
}

impl Counters {
    /// Counts a connection accepted by the listener at `addr`.
    pub fn accepted(&mut self, addr: SocketAddr) {
        match self.accepted.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, n)) => *n += 1,
            None => self.accepted.push((addr, 1)),
        }
    }

    /// Counts a NACK of `state`.
    pub fn nack(&mut self, state: State) {
        if let Some(n) = self.nacks.get_mut(state.code() as usize) {
            *n += 1;
        }
    }

    /// The counters of the set called `name`, made on first use.
    pub fn set(&mut self, name: &str) -> Option<&mut SetCounters> {
        if !self.sets.iter().any(|s| s.name == name) {
            self.sets.push(SetCounters {
                name: name.to_owned(),
                ..SetCounters::default()
            });
        }
        self.sets.iter_mut().find(|s| s.name == name)
    }
}

/// Open connections of one listener and protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnGroup {
    /// The listener's address (`127.0.0.1:59090`).
    pub listener: String,
    /// The protocol spoken (`tcp`, `ws`, `http`, a C protocol's name).
    pub protocol: String,
    /// How many.
    pub count: u64,
}

/// One durable queue in a reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFigures {
    /// The queue's name.
    pub name: String,
    /// Messages not yet acknowledged.
    pub depth: u64,
    /// Of those, waiting to be handed out.
    pub ready: u64,
    /// Of those, handed out and not yet acknowledged.
    pub in_flight: u64,
    /// Attached consumers.
    pub consumers: u64,
    /// Age of the oldest message in milliseconds, 0 when empty.
    pub oldest_ms: u64,
}

/// All durable queues together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueTotals {
    /// How many queues.
    pub queues: u64,
    /// Messages not yet acknowledged, in all queues.
    pub depth: u64,
    /// Of those, handed out and not yet acknowledged.
    pub in_flight: u64,
    /// Payload bytes held (what `--max-queue-bytes` bounds).
    pub bytes: u64,
    /// Commits of the queue store that wrote something.
    pub commits: u64,
    /// Commits that failed (a full disk): their turn's changes were refused.
    pub commit_failures: u64,
}

/// Everything one reading shows: the counters and the gauges of the moment.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// The server's version.
    pub version: &'static str,
    /// Seconds since the server started.
    pub uptime: f64,
    /// Unix time the process started, in seconds.
    pub start_time: f64,
    /// The counters.
    pub counters: Counters,
    /// Open connections by listener and protocol.
    pub connections: Vec<ConnGroup>,
    /// Routes with a stored last message.
    pub routes_stored: u64,
    /// Bytes of stored last messages.
    pub stored_bytes: u64,
    /// Subscriptions (a connection with two patterns counts two).
    pub subscriptions: u64,
    /// Output queued for clients and not yet written, in bytes.
    pub queued_bytes: u64,
    /// Resident memory of the process, in bytes.
    pub rss_bytes: u64,
    /// Open file descriptors of the process.
    pub open_fds: u64,
    /// CPU time of the process (user + system), in seconds.
    pub cpu_seconds: f64,
    /// Every durable queue, by name (left empty for a summary).
    pub queues: Vec<QueueFigures>,
    /// The queues together.
    pub queue_totals: QueueTotals,
}

/// Escapes a label value (backslash, quote, line break).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Prom {
    out: String,
}

impl Prom {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// The reading in the Prometheus text exposition format (version 0.0.4).
pub fn prometheus(r: &Reading) -> String {
    let c = &r.counters;
    let mut p = Prom { out: String::new() };
    p.family("ducq_build_info", "gauge", "Version of the running server.");
    p.sample("ducq_build_info", &[("version", r.version)], 1);
    p.one(
        "ducq_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        format_args!("{:.3}", r.uptime),
    );
    p.family(
        "ducq_connections",
        "gauge",
        "Open client connections, by listener and protocol.",
    );
    for g in &r.connections {
        let count = g.count;
        p.sample(
            "ducq_connections",
            &[("listener", &g.listener), ("protocol", &g.protocol)],
            count,
        );
    }
    p.family(
        "ducq_connections_accepted_total",
        "counter",
        "Client connections accepted, by listener.",
    );
    for (listener, n) in &c.accepted {
        let listener = listener.to_string();
        p.sample(
            "ducq_connections_accepted_total",
            &[("listener", &listener)],
            n,
        );
    }
    let counters: [(&str, &str, u64); 10] = [
        (
            "ducq_connections_refused_total",
            "Connections refused at the connection limit.",
            c.refused,
        ),
        (
            "ducq_messages_received_total",
            "Messages received from clients.",
            c.messages_in,
        ),
        (
            "ducq_messages_sent_total",
            "Messages queued to clients (replies and deliveries).",
            c.messages_out,
        ),
        (
            "ducq_received_bytes_total",
            "Bytes read from client sockets.",
            c.bytes_in,
        ),
        (
            "ducq_sent_bytes_total",
            "Bytes written to client sockets.",
            c.bytes_out,
        ),
        (
            "ducq_publications_total",
            "Publications fanned out to subscribers.",
            c.publications,
        ),
        (
            "ducq_deliveries_total",
            "Publications queued to subscribers.",
            c.deliveries,
        ),
        (
            "ducq_slow_consumer_disconnects_total",
            "Subscribers disconnected for falling behind.",
            c.slow_consumers,
        ),
        (
            "ducq_dropped_bytes_total",
            "Queued output discarded when a connection closed early.",
            c.dropped_bytes,
        ),
        (
            "ducq_publisher_holds_total",
            "Times a client was not read because its message filled another's output queue.",
            c.publisher_holds,
        ),
    ];
    for (name, help, value) in counters {
        p.one(name, "counter", help, value);
    }
    p.family("ducq_nacks_total", "counter", "NACKs sent, by state.");
    for (state, n) in ALL.iter().zip(c.nacks.iter()) {
        if *n > 0 {
            let code = state.code().to_string();
            p.sample(
                "ducq_nacks_total",
                &[("code", &code), ("state", state.short_name())],
                n,
            );
        }
    }
    let sets: [(&str, &str, &str); 3] = [
        (
            "ducq_command_set_calls_total",
            "counter",
            "Commands run by a command set (lua: Lua scripts).",
        ),
        (
            "ducq_command_set_errors_total",
            "counter",
            "Commands of a set that failed in the set itself (a Lua error).",
        ),
        (
            "ducq_command_set_seconds_total",
            "counter",
            "Time spent in a command set's commands.",
        ),
    ];
    for (i, (name, kind, help)) in sets.iter().enumerate() {
        p.family(name, kind, help);
        for s in &c.sets {
            let labels = [("set", s.name.as_str())];
            match i {
                0 => p.sample(name, &labels, s.calls),
                1 => p.sample(name, &labels, s.errors),
                _ => p.sample(name, &labels, format_args!("{:.9}", s.nanos as f64 / 1e9)),
            }
        }
    }
    let gauges: [(&str, &str, u64); 4] = [
        (
            "ducq_routes_stored",
            "Routes with a stored last message.",
            r.routes_stored,
        ),
        (
            "ducq_stored_bytes",
            "Bytes of stored last messages and their routes.",
            r.stored_bytes,
        ),
        (
            "ducq_subscriptions",
            "Subscriptions of all connections.",
            r.subscriptions,
        ),
        (
            "ducq_queued_output_bytes",
            "Output queued for clients, not yet written.",
            r.queued_bytes,
        ),
    ];
    for (name, help, value) in gauges {
        p.one(name, "gauge", help, value);
    }
    queues::prometheus(&mut p, r);
    p.one(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        r.rss_bytes,
    );
    p.one(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        r.open_fds,
    );
    p.one(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        format_args!("{:.2}", r.cpu_seconds),
    );
    p.one(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        format_args!("{:.3}", r.start_time),
    );
    p.out
}

/// The same reading as one JSON object.
pub fn json(r: &Reading) -> String {
    let c = &r.counters;
    let mut s = String::with_capacity(1024);
    let _ = write!(
        s,
        "{{\"version\":\"{}\",\"uptime_seconds\":{:.3},\"start_time_seconds\":{:.3}",
        r.version, r.uptime, r.start_time
    );
    s.push_str(",\"connections\":[");
    for (i, g) in r.connections.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"listener\":");
        crate::proto::listing::json_string(&mut s, g.listener.as_bytes());
        s.push_str(",\"protocol\":");
        crate::proto::listing::json_string(&mut s, g.protocol.as_bytes());
        let _ = write!(s, ",\"count\":{}}}", g.count);
    }
    s.push_str("],\"connections_accepted\":{");
    for (i, (listener, n)) in c.accepted.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        crate::proto::listing::json_string(&mut s, listener.to_string().as_bytes());
        let _ = write!(s, ":{n}");
    }
    let _ = write!(
        s,
        "}},\"connections_refused\":{},\"messages_received\":{},\"messages_sent\":{},\
         \"received_bytes\":{},\"sent_bytes\":{},\"publications\":{},\"deliveries\":{},\
         \"slow_consumer_disconnects\":{},\"dropped_bytes\":{},\"publisher_holds\":{}",
        c.refused,
        c.messages_in,
        c.messages_out,
        c.bytes_in,
        c.bytes_out,
        c.publications,
        c.deliveries,
        c.slow_consumers,
        c.dropped_bytes,
        c.publisher_holds
    );
    s.push_str(",\"nacks\":{");
    let mut first = true;
    for (state, n) in ALL.iter().zip(c.nacks.iter()) {
        if *n > 0 {
            if !first {
                s.push(',');
            }
            first = false;
            let _ = write!(s, "\"{}\":{n}", state.code());
        }
    }
    s.push_str("},\"command_sets\":{");
    for (i, set) in c.sets.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        crate::proto::listing::json_string(&mut s, set.name.as_bytes());
        let _ = write!(
            s,
            ":{{\"calls\":{},\"errors\":{},\"seconds\":{:.9}}}",
            set.calls,
            set.errors,
            set.nanos as f64 / 1e9
        );
    }
    let _ = write!(
        s,
        "}},\"routes_stored\":{},\"stored_bytes\":{},\"subscriptions\":{},\
         \"queued_output_bytes\":{},\"process\":{{\"resident_memory_bytes\":{},\
         \"open_fds\":{},\"cpu_seconds\":{:.2}}}",
        r.routes_stored,
        r.stored_bytes,
        r.subscriptions,
        r.queued_bytes,
        r.rss_bytes,
        r.open_fds,
        r.cpu_seconds
    );
    queues::json(&mut s, r);
    s.push('}');
    s
}

/// Resident memory in bytes, open descriptors and CPU seconds of a process.
pub type ProcessFigures = (u64, u64, f64);

/// Resident memory, open descriptors and CPU seconds of this process, from
/// `/proc/self` (zeros where it cannot be read).
pub fn process() -> ProcessFigures {
    // SAFETY: sysconf only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    // SAFETY: as above.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    // Fields 14 and 15 (utime, stime) come after the parenthesised name.
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.get(s.rfind(')')? + 2..)?;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(0.0);
    (rss, fds, cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Reading {
        let mut counters = Counters {
            messages_in: 7,
            bytes_in: 300,
            publications: 2,
            deliveries: 5,
            ..Counters::default()
        };
        counters.accepted("127.0.0.1:1".parse().unwrap());
        for _ in 0..3 {
            counters.accepted("127.0.0.1:1".parse().unwrap());
        }
        counters.nack(State::ENoCmd);
        counters.nack(State::ENoCmd);
        counters.nack(State::ELua);
        let lua = counters.set("lua").unwrap();
        lua.calls = 4;
        lua.errors = 1;
        lua.nanos = 1_500_000_000;
        Reading {
            version: "9.9.9",
            uptime: 12.5,
            start_time: 1000.0,
            counters,
            connections: vec![ConnGroup {
                listener: "127.0.0.1:1".into(),
                protocol: "tcp".into(),
                count: 3,
            }],
            routes_stored: 2,
            rss_bytes: 4096,
            open_fds: 9,
            queues: vec![QueueFigures {
                name: "jobs/\"a\"".into(),
                depth: 5,
                ready: 3,
                in_flight: 2,
                consumers: 1,
                oldest_ms: 1500,
            }],
            queue_totals: QueueTotals {
                queues: 1,
                depth: 5,
                in_flight: 2,
                bytes: 640,
                commits: 12,
                commit_failures: 3,
            },
            ..Reading::default()
        }
    }

    #[test]
    fn prometheus_lines_for_counters_labels_and_process() {
        let text = prometheus(&sample());
        for line in [
            "ducq_build_info{version=\"9.9.9\"} 1",
            "ducq_connections{listener=\"127.0.0.1:1\",protocol=\"tcp\"} 3",
            "ducq_connections_accepted_total{listener=\"127.0.0.1:1\"} 4",
            "ducq_messages_received_total 7",
            "ducq_received_bytes_total 300",
            "ducq_deliveries_total 5",
            "ducq_nacks_total{code=\"17\",state=\"ENOCMD\"} 2",
            "ducq_nacks_total{code=\"22\",state=\"ELUA\"} 1",
            "ducq_command_set_calls_total{set=\"lua\"} 4",
            "ducq_command_set_errors_total{set=\"lua\"} 1",
            "ducq_command_set_seconds_total{set=\"lua\"} 1.500000000",
            "ducq_routes_stored 2",
            "process_resident_memory_bytes 4096",
            "process_open_fds 9",
            "# TYPE ducq_deliveries_total counter",
            "ducq_queues 1",
            "ducq_queue_payload_bytes 640",
            "ducq_queue_commits_total 12",
            "ducq_queue_commit_failures_total 3",
            "ducq_queue_depth{queue=\"jobs/\\\"a\\\"\"} 5",
            "ducq_queue_ready{queue=\"jobs/\\\"a\\\"\"} 3",
            "ducq_queue_in_flight{queue=\"jobs/\\\"a\\\"\"} 2",
            "ducq_queue_consumers{queue=\"jobs/\\\"a\\\"\"} 1",
            "ducq_queue_oldest_age_seconds{queue=\"jobs/\\\"a\\\"\"} 1.500",
            "# TYPE ducq_queue_depth gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn json_holds_the_same_numbers() {
        let j = json(&sample());
        for part in [
            "\"version\":\"9.9.9\"",
            "\"connections\":[{\"listener\":\"127.0.0.1:1\",\"protocol\":\"tcp\",\"count\":3}]",
            "\"connections_accepted\":{\"127.0.0.1:1\":4}",
            "\"messages_received\":7",
            "\"deliveries\":5",
            "\"nacks\":{\"17\":2,\"22\":1}",
            "\"command_sets\":{\"lua\":{\"calls\":4,\"errors\":1,\"seconds\":1.500000000}}",
            "\"process\":{\"resident_memory_bytes\":4096,\"open_fds\":9,",
            "\"queue_totals\":{\"queues\":1,\"depth\":5,\"in_flight\":2,\"payload_bytes\":640,\
             \"commits\":12,\"commit_failures\":3}",
            "\"queues\":[{\"name\":\"jobs/\\\"a\\\"\",\"depth\":5,\"ready\":3,\"in_flight\":2,\
             \"consumers\":1,\"oldest_ms\":1500}]}",
        ] {
            assert!(j.contains(part), "{part} not in {j}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn this_process_has_memory_and_descriptors() {
        let (rss, fds, _) = process();
        assert!(rss > 0 && fds > 2, "{rss} {fds}");
    }
}
