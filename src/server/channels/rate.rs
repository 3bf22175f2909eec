//! Per-publisher rate limits of channels: one token bucket per (channel,
//! [`Publisher`]), created at a publisher's first publication on the
//! channel. Plain data and a clock reading passed in; no I/O. Buckets of
//! closed connections and full (idle) buckets are swept once the map has
//! doubled since the last sweep, so it stays bounded by the publishers
//! active in the last refill period.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use super::spec::Rate;
use crate::server::conn::ConnId;

/// Who a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Publisher {
    /// A connection that stays open between messages (TCP, WebSocket,
    /// MQTT).
    Conn(ConnId),
    /// Plain HTTP requests from one address: a client may open a
    /// connection per request, which must not give it a fresh bucket each
    /// time.
    Host(IpAddr),
}

struct Bucket {
    tokens: f64,
    at: Instant,
    burst: f64,
    per_second: f64,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_second).min(self.burst);
        self.at = now;
    }
}

/// The buckets of every rate-limited channel.
#[derive(Default)]
pub struct RateLimits {
    buckets: HashMap<(u64, Publisher), Bucket>,
    swept_at: usize,
}

impl RateLimits {
    /// Takes one publication from `publisher`'s bucket in channel `uid`;
    /// false when the bucket is empty (the publication is refused).
    /// `live` says whether a connection is still open, for the sweep.
    pub fn take(
        &mut self,
        uid: u64,
        rate: &Rate,
        publisher: Publisher,
        now: Instant,
        live: impl Fn(ConnId) -> bool,
    ) -> bool {
        if self.buckets.len() > 64 && self.buckets.len() >= 2 * self.swept_at {
            self.sweep(now, live);
        }
        let burst = f64::from(rate.burst);
        let b = self.buckets.entry((uid, publisher)).or_insert(Bucket {
            tokens: burst,
            at: now,
            burst,
            per_second: rate.per_second(),
        });
        b.refill(now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drops the buckets of channels no longer defined.
    pub fn retain_channels(&mut self, keep: impl Fn(u64) -> bool) {
        self.buckets.retain(|(uid, _), _| keep(*uid));
    }

    fn sweep(&mut self, now: Instant, live: impl Fn(ConnId) -> bool) {
        self.buckets.retain(|(_, who), b| {
            b.refill(now);
            let open = match who {
                Publisher::Conn(id) => live(*id),
                Publisher::Host(_) => true,
            };
            open && b.tokens < b.burst
        });
        self.swept_at = self.buckets.len();
    }

    /// Buckets held now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn id(key: usize) -> Publisher {
        Publisher::Conn(ConnId { key, gen: 1 })
    }

    #[test]
    fn the_sweep_waits_for_64_buckets_and_then_for_the_map_to_double() {
        let rate = Rate {
            count: 1.0,
            per: 60,
            burst: 5,
        };
        let mut r = RateLimits::default();
        let t = Instant::now();
        // Below 65 buckets nothing is swept, even the closed connections'.
        for k in 0..65 {
            assert!(r.take(1, &rate, id(k), t, |_| false));
        }
        assert_eq!(r.len(), 65);
        // Now the first sweep: every bucket here is in use (not full) and
        // its connection open, so all stay; the mark is 65.
        assert!(r.take(1, &rate, id(65), t, |_| true));
        assert_eq!(r.len(), 66);
        // No second sweep before 130 buckets, whatever is closed.
        for k in 66..130 {
            assert!(r.take(1, &rate, id(k), t, |_| false));
        }
        assert_eq!(r.len(), 130);
        // At 130 it runs: the closed connections' buckets go, the open
        // one's stays, and the publisher's own is made afresh.
        assert!(r.take(1, &rate, id(500), t, |c| c.key == 7));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_burst() {
        let rate = Rate {
            count: 2.0,
            per: 1,
            burst: 3,
        };
        let mut r = RateLimits::default();
        let t0 = Instant::now();
        let took: Vec<bool> = (0..4)
            .map(|_| r.take(1, &rate, id(1), t0, |_| true))
            .collect();
        assert_eq!(took, [true, true, true, false]);
        // Another publisher and another channel have buckets of their own.
        assert!(r.take(1, &rate, id(2), t0, |_| true));
        assert!(r.take(2, &rate, id(1), t0, |_| true));
        // Half a second gives one token back; ten seconds no more than three.
        let t1 = t0 + Duration::from_millis(500);
        assert!(r.take(1, &rate, id(1), t1, |_| true));
        assert!(!r.take(1, &rate, id(1), t1, |_| true));
        let t2 = t1 + Duration::from_secs(10);
        let took: Vec<bool> = (0..4)
            .map(|_| r.take(1, &rate, id(1), t2, |_| true))
            .collect();
        assert_eq!(took, [true, true, true, false]);
    }

    #[test]
    fn the_sweep_drops_closed_and_idle_publishers() {
        let rate = Rate {
            count: 1.0,
            per: 1,
            burst: 1,
        };
        let mut r = RateLimits::default();
        let t0 = Instant::now();
        for k in 0..65 {
            r.take(1, &rate, id(k), t0, |_| true);
        }
        assert_eq!(r.len(), 65);
        // Later: publisher 0 is closed, every other bucket refilled, so the
        // sweep leaves only the bucket just used.
        let t1 = t0 + Duration::from_secs(5);
        assert!(r.take(1, &rate, id(7), t1, |c| c.key != 0));
        assert_eq!(r.len(), 1);
        r.retain_channels(|uid| uid != 1);
        assert!(r.is_empty());
    }

    #[test]
    fn a_host_bucket_has_no_connection_to_outlive_and_goes_when_full() {
        let rate = Rate {
            count: 1.0,
            per: 1,
            burst: 1,
        };
        let mut r = RateLimits::default();
        let t0 = Instant::now();
        let host = Publisher::Host(IpAddr::from([127, 0, 0, 1]));
        assert!(r.take(1, &rate, host, t0, |_| true));
        for k in 0..64 {
            r.take(1, &rate, id(k), t0, |_| true);
        }
        // Half a second later every connection is closed: the sweep drops
        // their buckets and keeps the host's, still half empty.
        let t1 = t0 + Duration::from_millis(500);
        assert!(r.take(1, &rate, id(100), t1, |_| false));
        assert_eq!(r.len(), 2);
        assert!(!r.take(1, &rate, host, t1, |_| true));
        // Once full again, it goes at the next sweep like any idle bucket:
        // the 64th take below sweeps, leaving the 63 before it and itself.
        let t2 = t1 + Duration::from_secs(5);
        for k in 200..264 {
            r.take(1, &rate, id(k), t2, |_| true);
        }
        assert_eq!(r.len(), 64);
    }
}
