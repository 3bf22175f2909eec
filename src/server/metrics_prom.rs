//! A metrics reading in the Prometheus text exposition format (version
//! 0.0.4): a small writer of families and samples, and one function per
//! group of families, called in the order they appear in the text. A part
//! of `metrics`, in a file of its own; it renders what the reading holds
//! and reads nothing else.

use std::fmt::Write as _;

use crate::proto::state::ALL;

use super::{Counters, Reading};

/// Escapes a label value (backslash, quote, line break).
pub(super) fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text being written: `# HELP`/`# TYPE` lines and samples.
pub(super) struct Prom {
    out: String,
}

impl Prom {
    /// The `# HELP` and `# TYPE` lines that open a family.
    pub(super) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample line, its label values escaped.
    pub(super) fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl std::fmt::Display,
    ) {
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

    /// A family of one unlabelled sample.
    pub(super) fn one(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        value: impl std::fmt::Display,
    ) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// The reading in the Prometheus text exposition format (version 0.0.4).
pub fn prometheus(r: &Reading) -> String {
    let mut p = Prom { out: String::new() };
    server(&mut p, r);
    connections(&mut p, r);
    traffic(&mut p, &r.counters);
    nacks(&mut p, &r.counters);
    command_sets(&mut p, &r.counters);
    store_and_output(&mut p, r);
    super::queues::prometheus(&mut p, r);
    process(&mut p, r);
    p.out
}

/// Version and uptime.
fn server(p: &mut Prom, r: &Reading) {
    p.family("ducq_build_info", "gauge", "Version of the running server.");
    p.sample("ducq_build_info", &[("version", r.version)], 1);
    p.one(
        "ducq_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        format_args!("{:.3}", r.uptime),
    );
}

/// Open connections by listener and protocol, accepted ones by listener.
fn connections(p: &mut Prom, r: &Reading) {
    p.family(
        "ducq_connections",
        "gauge",
        "Open client connections, by listener and protocol.",
    );
    for g in &r.connections {
        p.sample(
            "ducq_connections",
            &[("listener", &g.listener), ("protocol", &g.protocol)],
            g.count,
        );
    }
    p.family(
        "ducq_connections_accepted_total",
        "counter",
        "Client connections accepted, by listener.",
    );
    for (listener, n) in &r.counters.accepted {
        let listener = listener.to_string();
        p.sample(
            "ducq_connections_accepted_total",
            &[("listener", &listener)],
            n,
        );
    }
}

/// The unlabelled counters: refusals, messages, bytes, fan-out, cuts.
fn traffic(p: &mut Prom, c: &Counters) {
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
}

/// NACKs by state, only the states that were sent.
fn nacks(p: &mut Prom, c: &Counters) {
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
}

/// Calls, errors and time of each command set.
fn command_sets(p: &mut Prom, c: &Counters) {
    p.family(
        "ducq_command_set_calls_total",
        "counter",
        "Commands run by a command set (lua: Lua scripts).",
    );
    for s in &c.sets {
        p.sample("ducq_command_set_calls_total", &[("set", &s.name)], s.calls);
    }
    p.family(
        "ducq_command_set_errors_total",
        "counter",
        "Commands of a set that failed in the set itself (a Lua error).",
    );
    for s in &c.sets {
        p.sample(
            "ducq_command_set_errors_total",
            &[("set", &s.name)],
            s.errors,
        );
    }
    p.family(
        "ducq_command_set_seconds_total",
        "counter",
        "Time spent in a command set's commands.",
    );
    for s in &c.sets {
        p.sample(
            "ducq_command_set_seconds_total",
            &[("set", &s.name)],
            format_args!("{:.9}", s.nanos as f64 / 1e9),
        );
    }
}

/// The last-message store, subscriptions and queued output.
fn store_and_output(p: &mut Prom, r: &Reading) {
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
}

/// The standard `process_*` families, under the names Prometheus's own
/// client libraries give them.
fn process(p: &mut Prom, r: &Reading) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::State;

    #[test]
    fn only_the_states_sent_get_a_nack_sample() {
        let mut r = Reading::default();
        let at = ALL.iter().position(|s| *s == State::EAccess).unwrap();
        r.counters.nacks[at] = 2;
        let text = prometheus(&r);
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ducq_nacks_total"))
            .collect();
        assert_eq!(samples.len(), 1, "{samples:?}");
        assert!(samples[0].ends_with("} 2"), "{samples:?}");
        assert!(samples[0].contains("code=\"24\""), "{samples:?}");
    }
}
