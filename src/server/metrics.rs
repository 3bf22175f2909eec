//! What the server counts about itself, and the two ways it is read out:
//! the Prometheus text format (`GET /metrics`) and JSON (`GET /stats`, the
//! dashboard's `stats` command), the same numbers in both.
//!
//! Counters are plain integers in the hub, bumped by the single reactor
//! thread where things happen (no atomics, no locks: nothing measurable on
//! the publish path). Gauges (connections, stored routes, process memory)
//! are computed when a reading is taken. This module holds the counters
//! and the reading; its parts render it (`metrics_prom.rs`,
//! `metrics_json.rs`, the queues' share in `metrics_queues.rs`). It never
//! walks connections itself (the caller builds the [`Reading`]).

use std::net::SocketAddr;

use crate::proto::state::ALL;
use crate::proto::State;

#[path = "metrics_json.rs"]
mod json;
#[path = "metrics_prom.rs"]
mod prom;
#[path = "metrics_queues.rs"]
mod queues;

pub use json::json;
pub use prom::prometheus;

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
    use super::prom::label;
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

    #[test]
    fn a_set_is_made_once_by_name() {
        let mut c = Counters::default();
        c.set("lua").unwrap().calls += 1;
        c.set("lua").unwrap().calls += 1;
        c.set("c").unwrap().errors += 1;
        let sets: Vec<(&str, u64, u64)> = c
            .sets
            .iter()
            .map(|s| (s.name.as_str(), s.calls, s.errors))
            .collect();
        assert_eq!(sets, [("lua", 2, 0), ("c", 0, 1)]);
    }

    /// This process's CPU seconds, user and system, as getrusage counts them.
    fn rusage() -> (f64, f64) {
        // SAFETY: an all-zero rusage is a valid value for the kernel to fill.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid, writable rusage owned by this frame.
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (secs(ru.ru_utime), secs(ru.ru_stime))
    }

    #[test]
    fn process_figures_are_the_kernels_own_accounts() {
        // Enough user and system time that a figure dropping, adding or
        // multiplying them shows: work and system calls until the process
        // has spent 60 ms in each (bounded: a few seconds at most on a
        // loaded machine).
        let start = std::time::Instant::now();
        let mut spin = 0u64;
        while rusage().0 < 0.06 && start.elapsed() < std::time::Duration::from_secs(5) {
            for i in 0..100_000u64 {
                spin = std::hint::black_box(spin.wrapping_mul(31).wrapping_add(i));
            }
        }
        while rusage().1 < 0.06 && start.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..1000 {
                let _ = std::fs::metadata("/proc/self");
            }
        }
        let (user0, sys0) = rusage();
        let (rss, _, cpu) = process();
        let (user1, sys1) = rusage();
        // /proc/self/stat counts whole clock ticks (at most 10 ms each, two
        // fields), and other tests' threads run meanwhile.
        assert!(
            user0 + sys0 - 0.021 <= cpu && cpu <= user1 + sys1 + 0.021,
            "{cpu} against {} .. {}",
            user0 + sys0,
            user1 + sys1
        );
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_rss_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        // Read a moment apart: allow the other tests a few MiB.
        let diff = rss.abs_diff(vm_rss_kib * 1024);
        assert!(diff < 8 << 20, "statm {rss} B, status {vm_rss_kib} KiB");
    }
}
