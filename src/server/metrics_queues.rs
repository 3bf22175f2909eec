//! The durable queues in a metrics reading: their totals and one series
//! per queue in the Prometheus text, the same figures in the JSON reading
//! (each queue as `lsq` renders it). A part of `metrics`, in a file of its
//! own; it renders what the reading holds and reads nothing else.

use std::fmt::Write as _;

use super::prom::Prom;
use super::{QueueFigures, Reading};

/// The queue families: totals, then one series per queue and figure.
pub(super) fn prometheus(p: &mut Prom, r: &Reading) {
    let t = &r.queue_totals;
    p.one("ducq_queues", "gauge", "Durable queues.", t.queues);
    p.one(
        "ducq_queue_payload_bytes",
        "gauge",
        "Payload bytes held by all durable queues.",
        t.bytes,
    );
    p.one(
        "ducq_queue_commits_total",
        "counter",
        "Commits of the queue store that wrote something.",
        t.commits,
    );
    p.one(
        "ducq_queue_commit_failures_total",
        "counter",
        "Queue store commits that failed (the turn's changes were refused).",
        t.commit_failures,
    );
    type Figure = fn(&QueueFigures) -> u64;
    let families: [(&str, &str, Figure); 4] = [
        (
            "ducq_queue_depth",
            "Messages of a queue not yet acknowledged.",
            |q| q.depth,
        ),
        (
            "ducq_queue_ready",
            "Messages of a queue waiting to be handed out.",
            |q| q.ready,
        ),
        (
            "ducq_queue_in_flight",
            "Messages of a queue handed out and not yet acknowledged.",
            |q| q.in_flight,
        ),
        (
            "ducq_queue_consumers",
            "Consumers attached to a queue.",
            |q| q.consumers,
        ),
    ];
    for (name, help, figure) in families {
        p.family(name, "gauge", help);
        for q in &r.queues {
            p.sample(name, &[("queue", &q.name)], figure(q));
        }
    }
    p.family(
        "ducq_queue_oldest_age_seconds",
        "gauge",
        "Age of the oldest message of a queue (0 when empty).",
    );
    for q in &r.queues {
        let age = format_args!("{:.3}", q.oldest_ms as f64 / 1000.0);
        p.sample("ducq_queue_oldest_age_seconds", &[("queue", &q.name)], age);
    }
}

/// The queue members of the JSON reading: the totals, and the queues as
/// `lsq` renders them (left out of a summary).
pub(super) fn json(s: &mut String, r: &Reading) {
    let t = &r.queue_totals;
    let _ = write!(
        s,
        ",\"queue_totals\":{{\"queues\":{},\"depth\":{},\"in_flight\":{},\
         \"payload_bytes\":{},\"commits\":{},\"commit_failures\":{}}}",
        t.queues, t.depth, t.in_flight, t.bytes, t.commits, t.commit_failures
    );
    s.push_str(",\"queues\":[");
    for (i, q) in r.queues.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        crate::proto::queue::QueueLine {
            name: q.name.as_bytes(),
            depth: q.depth,
            ready: q.ready,
            in_flight: q.in_flight,
            consumers: q.consumers,
            oldest_ms: q.oldest_ms,
        }
        .json(s);
    }
    s.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::metrics::QueueFigures;

    #[test]
    fn json_lists_every_queue_between_commas() {
        let queue = |name: &str, depth| QueueFigures {
            name: name.into(),
            depth,
            ready: depth,
            ..QueueFigures::default()
        };
        let r = Reading {
            queues: vec![queue("a", 1), queue("b", 2), queue("c", 3)],
            ..Reading::default()
        };
        let mut s = String::from("{\"x\":0");
        json(&mut s, &r);
        s.push('}');
        let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
        let names: Vec<(&str, u64)> = v["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| (q["name"].as_str().unwrap(), q["depth"].as_u64().unwrap()))
            .collect();
        assert_eq!(names, [("a", 1), ("b", 2), ("c", 3)]);
    }
}
