//! The last five minutes of the server, one sample a second: message rate
//! in, delivery rate and open connections, for the dashboard's charts (a
//! page opened now still shows what happened before). Fixed size; a
//! sample costs a few words.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Instant;

/// Samples kept (one a second: five minutes).
pub const KEEP: usize = 300;

#[derive(Clone, Copy)]
struct Sample {
    messages_in: f64,
    deliveries: f64,
    connections: u64,
}

/// A ring of per-second samples.
#[derive(Default)]
pub struct History {
    samples: VecDeque<Sample>,
    /// Counter values and time of the previous sample.
    prev: Option<(u64, u64, Instant)>,
}

impl History {
    /// Records the counters now; the rates are per second since the last
    /// call (the first call only sets the baseline).
    pub fn sample(&mut self, messages_in: u64, deliveries: u64, connections: u64, now: Instant) {
        if let Some((m, d, at)) = self.prev {
            let secs = now.saturating_duration_since(at).as_secs_f64();
            if secs > 0.0 {
                if self.samples.len() == KEEP {
                    self.samples.pop_front();
                }
                self.samples.push_back(Sample {
                    messages_in: messages_in.saturating_sub(m) as f64 / secs,
                    deliveries: deliveries.saturating_sub(d) as f64 / secs,
                    connections,
                });
            }
        }
        self.prev = Some((messages_in, deliveries, now));
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no sample is held yet.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// `{"interval_seconds":1,"messages_received":[..],"deliveries":[..],
    /// "connections":[..]}`, oldest first.
    pub fn json(&self) -> String {
        let mut s = String::from("{\"interval_seconds\":1,\"messages_received\":[");
        list(&mut s, self.samples.iter().map(|x| x.messages_in));
        s.push_str("],\"deliveries\":[");
        list(&mut s, self.samples.iter().map(|x| x.deliveries));
        s.push_str("],\"connections\":[");
        list(&mut s, self.samples.iter().map(|x| x.connections as f64));
        s.push_str("]}");
        s
    }
}

fn list(s: &mut String, values: impl Iterator<Item = f64>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            s.push(',');
        }
        // Rates to two decimals; whole numbers print without any.
        if v.fract() == 0.0 {
            let _ = write!(s, "{v:.0}");
        } else {
            let _ = write!(s, "{v:.2}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rates_per_second_and_a_bounded_ring() {
        let t = Instant::now();
        let mut h = History::default();
        h.sample(10, 0, 1, t);
        assert!(h.is_empty());
        h.sample(30, 5, 2, t + Duration::from_secs(2));
        assert_eq!(
            h.json(),
            "{\"interval_seconds\":1,\"messages_received\":[10],\"deliveries\":[2.50],\"connections\":[2]}"
        );
        for i in 0..(KEEP as u64 + 10) {
            h.sample(30 + i, 5, 3, t + Duration::from_secs(3 + i));
        }
        assert_eq!(h.len(), KEEP);
    }

    #[test]
    fn no_time_no_sample_and_samples_are_listed_with_commas() {
        let t = Instant::now();
        let mut h = History::default();
        h.sample(0, 0, 1, t);
        // The same instant again: no rate can be made.
        h.sample(5, 5, 1, t);
        assert!(h.is_empty());
        h.sample(9, 5, 2, t + Duration::from_secs(1));
        assert!(!h.is_empty());
        h.sample(12, 6, 3, t + Duration::from_secs(3));
        assert_eq!(
            h.json(),
            "{\"interval_seconds\":1,\"messages_received\":[4,1.50],\"deliveries\":[0,0.50],\"connections\":[2,3]}"
        );
    }
}
