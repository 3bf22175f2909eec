//! [`Clock`]: converts between the `Instant`s the queue logic runs on and
//! the unix times the store keeps, so an age survives a restart. It reads
//! the system clock only in `Clock::system`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Maps `Instant`s to unix time and back, from one moment known in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    at: Instant,
    unix_ms: u64,
}

impl Clock {
    /// `at` is `unix_ms` milliseconds after the epoch.
    pub fn new(at: Instant, unix_ms: u64) -> Clock {
        Clock { at, unix_ms }
    }

    /// The system clock, now.
    pub fn system() -> Clock {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Clock::new(Instant::now(), unix_ms)
    }

    /// `t` in unix milliseconds.
    pub fn unix_ms(&self, t: Instant) -> u64 {
        match t.checked_duration_since(self.at) {
            Some(d) => self.unix_ms.saturating_add(d.as_millis() as u64),
            None => self
                .unix_ms
                .saturating_sub(self.at.duration_since(t).as_millis() as u64),
        }
    }

    /// Unix time `unix_ms` as an `Instant`, given that `now` is now (a time
    /// further back than `Instant` reaches is `now`).
    pub fn instant(&self, unix_ms: u64, now: Instant) -> Instant {
        let age = self.unix_ms(now).saturating_sub(unix_ms);
        now.checked_sub(Duration::from_millis(age)).unwrap_or(now)
    }
}
