//! A metrics reading as one JSON object (`GET /stats`, the dashboard's
//! `stats` command): the same numbers as the Prometheus text, under the
//! names the dashboard reads. A part of `metrics`, in a file of its own; it
//! renders what the reading holds and reads nothing else.

use std::fmt::Write as _;

use crate::proto::listing::json_string;
use crate::proto::state::ALL;

use super::{Counters, Reading};

/// The same reading as one JSON object.
pub fn json(r: &Reading) -> String {
    let mut s = String::with_capacity(1024);
    let _ = write!(
        s,
        "{{\"version\":\"{}\",\"uptime_seconds\":{:.3},\"start_time_seconds\":{:.3}",
        r.version, r.uptime, r.start_time
    );
    connections(&mut s, r);
    traffic(&mut s, &r.counters);
    nacks_and_sets(&mut s, &r.counters);
    let _ = write!(
        s,
        ",\"routes_stored\":{},\"stored_bytes\":{},\"subscriptions\":{},\
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
    super::queues::json(&mut s, r);
    s.push('}');
    s
}

/// `connections` (by listener and protocol), `connections_accepted`.
fn connections(s: &mut String, r: &Reading) {
    s.push_str(",\"connections\":[");
    for (i, g) in r.connections.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"listener\":");
        json_string(s, g.listener.as_bytes());
        s.push_str(",\"protocol\":");
        json_string(s, g.protocol.as_bytes());
        let _ = write!(s, ",\"count\":{}}}", g.count);
    }
    s.push_str("],\"connections_accepted\":{");
    for (i, (listener, n)) in r.counters.accepted.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_string(s, listener.to_string().as_bytes());
        let _ = write!(s, ":{n}");
    }
    s.push('}');
}

/// The unlabelled counters, under the dashboard's names.
fn traffic(s: &mut String, c: &Counters) {
    let _ = write!(
        s,
        ",\"connections_refused\":{},\"messages_received\":{},\"messages_sent\":{},\
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
}

/// `nacks` by state code (only the states sent), `command_sets` by name.
fn nacks_and_sets(s: &mut String, c: &Counters) {
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
        json_string(s, set.name.as_bytes());
        let _ = write!(
            s,
            ":{{\"calls\":{},\"errors\":{},\"seconds\":{:.9}}}",
            set.calls,
            set.errors,
            set.nanos as f64 / 1e9
        );
    }
    s.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::State;
    use crate::server::metrics::ConnGroup;

    #[test]
    fn every_connection_group_and_listener_between_commas() {
        let group = |listener: &str, protocol: &str, count| ConnGroup {
            listener: listener.into(),
            protocol: protocol.into(),
            count,
        };
        let mut r = Reading {
            connections: vec![
                group("127.0.0.1:1", "tcp", 3),
                group("127.0.0.1:2", "ws", 2),
                group("127.0.0.1:2", "http", 1),
            ],
            ..Reading::default()
        };
        r.counters.accepted = vec![
            ("127.0.0.1:1".parse().unwrap(), 7),
            ("127.0.0.1:2".parse().unwrap(), 5),
        ];
        for (name, calls) in [("lua", 4), ("commands", 1)] {
            r.counters.set(name).unwrap().calls = calls;
        }
        for state in [State::ENotFound, State::EAccess] {
            r.counters.nack(state);
        }
        let s = json(&r);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
        let groups: Vec<String> = v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| format!("{} {} {}", g["listener"], g["protocol"], g["count"]))
            .collect();
        assert_eq!(
            groups,
            [
                "\"127.0.0.1:1\" \"tcp\" 3",
                "\"127.0.0.1:2\" \"ws\" 2",
                "\"127.0.0.1:2\" \"http\" 1"
            ]
        );
        assert_eq!(
            v["connections_accepted"],
            serde_json::json!({"127.0.0.1:1": 7, "127.0.0.1:2": 5})
        );
        assert_eq!(
            v["command_sets"],
            serde_json::json!({
                "lua": {"calls": 4, "errors": 0, "seconds": 0.0},
                "commands": {"calls": 1, "errors": 0, "seconds": 0.0},
            })
        );
        assert_eq!(v["nacks"], serde_json::json!({"19": 1, "24": 1}));
    }
}
