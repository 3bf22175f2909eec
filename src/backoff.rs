//! Exponential back-off with jitter and a cap: the one rule for how long a
//! reconnecting client (`client::reconnect`) and a broker's bridge
//! (`server::bridges`) wait before their next attempt. Pure arithmetic: it
//! never sleeps and never reads a clock; the caller supplies the attempt
//! number and a random value, so the rule is the same everywhere and its
//! tests are exact.

use core::time::Duration;

/// How long to wait before attempt `n` (counted from 0 after the last
/// success): `initial × factorⁿ`, at most `max`, minus a random share of up
/// to `jitter` of it, so that many clients cut off at once do not all
/// come back in the same instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay (the cap).
    pub max: Duration,
    /// Each delay is this many times the one before (at least 1).
    pub factor: u32,
    /// Share of a delay taken off at random, 0.0 (none) to 1.0 (anything
    /// from zero to the full delay). Out-of-range values are clamped.
    pub jitter: f32,
}

impl Default for Backoff {
    /// 100 ms, doubling, capped at 30 s, with up to half of each delay
    /// taken off at random.
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            factor: 2,
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (0 for the first retry), with
    /// `random` any value from a random source (`u32::MAX` takes off the
    /// whole jitter share, 0 none of it). Always within
    /// `[d × (1 − jitter), d]` where `d = min(max, initial × factorᵃᵗᵗᵉᵐᵖᵗ)`.
    pub fn delay(&self, attempt: u32, random: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        // Integer arithmetic from here: the same delay on every target.
        let ppm = (jitter * 1_000_000.0) as u128;
        let nanos = ceiling.as_nanos();
        let cut = nanos * ppm / 1_000_000 * u128::from(random) / u128::from(u32::MAX);
        ceiling.saturating_sub(Duration::from_nanos(cut as u64))
    }

    /// The delay before attempt `attempt` without jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let mut d = self.initial.min(self.max);
        for _ in 0..attempt {
            if d >= self.max {
                break;
            }
            d = d.saturating_mul(self.factor.max(1)).min(self.max);
        }
        d
    }
}

/// A random 32-bit value from the process's hash seed and a counter: good
/// enough to spread reconnects, no dependency, no system call per value.
#[cfg(feature = "std")]
pub fn random_u32() -> u32 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEED: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = SEED.get_or_init(RandomState::new).build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_the_cap_without_jitter() {
        let b = Backoff {
            initial: ms(10),
            max: ms(80),
            factor: 2,
            jitter: 0.0,
        };
        let got: Vec<_> = (0..7).map(|n| b.delay(n, u32::MAX)).collect();
        assert_eq!(
            got,
            [ms(10), ms(20), ms(40), ms(80), ms(80), ms(80), ms(80)]
        );
        // Far attempts neither overflow nor take long.
        assert_eq!(b.delay(u32::MAX, 7), ms(80));
    }

    #[test]
    fn jitter_takes_off_at_most_its_share() {
        let b = Backoff {
            initial: ms(100),
            max: ms(1000),
            factor: 3,
            jitter: 0.5,
        };
        assert_eq!(b.delay(1, 0), ms(300));
        assert_eq!(b.delay(1, u32::MAX), ms(150));
        assert_eq!(b.delay(1, u32::MAX / 2), Duration::from_nanos(225_000_001));
        for r in [1, 1000, 1 << 20, u32::MAX - 1] {
            let d = b.delay(2, r);
            assert!(d >= ms(450) && d <= ms(900), "{d:?}");
        }
    }

    #[test]
    fn odd_settings_are_tamed() {
        let b = Backoff {
            initial: ms(500),
            max: ms(200),
            factor: 0,
            jitter: 7.0,
        };
        // initial above the cap starts at the cap; factor 0 acts as 1;
        // jitter above 1 is 1.
        assert_eq!(b.ceiling(0), ms(200));
        assert_eq!(b.ceiling(5), ms(200));
        assert_eq!(b.delay(0, u32::MAX), ms(0));
        let nan = Backoff {
            jitter: f32::NAN,
            ..Backoff::default()
        };
        assert_eq!(nan.delay(0, u32::MAX), ms(100));
    }

    #[test]
    fn the_default_is_100ms_doubling_to_30s() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), ms(100));
        assert_eq!(b.ceiling(3), ms(800));
        assert_eq!(b.ceiling(20), Duration::from_secs(30));
    }

    #[cfg(feature = "std")]
    #[test]
    fn random_values_differ() {
        let a: Vec<u32> = (0..8).map(|_| random_u32()).collect();
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(distinct.len(), 8);
    }
}
