//! Where the WebSocket client's masking keys and handshake nonces get their
//! seed. With `std`: the operating system (the std hasher's per-process
//! random keys, the clock), a counter and a stack address. Without it (a
//! device): the platform's own entropy, handed in with `seed_entropy`
//! (the device library's `ducq_seed_entropy`), mixed with a stack address.
//!
//! Not cryptographic: masks guard against proxy cache poisoning, not
//! against a peer that reads the traffic anyway. It must not use a 64-bit
//! atomic or any read-modify-write atomic: riscv32imc has neither.

#[cfg(feature = "std")]
pub use os::entropy;
#[cfg(not(feature = "std"))]
pub use platform::{entropy, is_seeded, seed_entropy};

/// One step of splitmix64: a bijection that spreads every input bit over
/// the output, so nearby inputs (counters, addresses) give unrelated values.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The address of a local of the caller's frame: differs between threads
/// (and tasks of a small RTOS), each with its own stack.
#[inline(never)]
fn stack_address() -> u64 {
    let local = 0u8;
    core::ptr::addr_of!(local) as usize as u64
}

#[cfg(feature = "std")]
mod os {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// 64 bits that differ between calls, processes and moments: the std
    /// hasher's per-process random keys, the clock, a counter and a stack
    /// address, mixed.
    pub fn entropy() -> u64 {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        h.write_u64(super::stack_address());
        super::mix(h.finish())
    }
}

#[cfg(not(feature = "std"))]
mod platform {
    use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    /// Odd constant of splitmix64's sequence (the golden ratio).
    const STEP: u64 = 0x9e37_79b9_7f4a_7c15;

    /// The pool's 64 bits in two halves, read and written with plain
    /// 32-bit loads and stores (all riscv32imc has). Two threads drawing at
    /// the same moment may read the same pool; their stack addresses still
    /// set their values apart.
    pub(super) struct Pool {
        high: AtomicU32,
        low: AtomicU32,
        seeded: AtomicBool,
    }

    impl Pool {
        pub(super) const fn new() -> Pool {
            Pool {
                high: AtomicU32::new(0),
                low: AtomicU32::new(0),
                seeded: AtomicBool::new(false),
            }
        }

        pub(super) fn load(&self) -> u64 {
            (u64::from(self.high.load(Ordering::Relaxed)) << 32)
                | u64::from(self.low.load(Ordering::Relaxed))
        }

        pub(super) fn store(&self, v: u64) {
            self.high.store((v >> 32) as u32, Ordering::Relaxed);
            self.low.store(v as u32, Ordering::Relaxed);
        }

        pub(super) fn seed(&self, seed: u64) {
            self.store(super::mix(self.load() ^ super::mix(seed)));
            self.seeded.store(true, Ordering::Relaxed);
        }

        pub(super) fn is_seeded(&self) -> bool {
            self.seeded.load(Ordering::Relaxed)
        }

        /// The next value for a caller whose stack is at `stack`.
        pub(super) fn draw(&self, stack: u64) -> u64 {
            let state = self.load().wrapping_add(STEP);
            self.store(state);
            super::mix(state ^ stack.rotate_left(32))
        }
    }

    static POOL: Pool = Pool::new();

    /// Mixes `seed` (from the platform's random source: a hardware RNG, a
    /// radio's noise) into the pool. Call it before the first WebSocket
    /// client is made; calling it again adds to what is there.
    pub fn seed_entropy(seed: u64) {
        POOL.seed(seed);
    }

    /// Whether [`seed_entropy`] was called: without it the pool holds only
    /// what a stack address gives, which an observer can guess.
    pub fn is_seeded() -> bool {
        POOL.is_seeded()
    }

    /// 64 bits from the pool, which moves on at each draw.
    pub fn entropy() -> u64 {
        POOL.draw(super::stack_address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_spreads_neighbours_apart() {
        assert_ne!(mix(1), mix(2));
        // About half of the 64 bits differ between neighbouring inputs.
        let flipped = (mix(1) ^ mix(2)).count_ones();
        assert!((16..=48).contains(&flipped), "{flipped} bits differ");
    }

    /// `mix` is splitmix64's finaliser: seeded with 0, splitmix64's first
    /// output is mix(golden ratio) = 0xe220a8397b1dcdaf, the published
    /// reference value. Pinned so a changed shift or operator shows.
    #[test]
    fn mix_is_splitmix64() {
        assert_eq!(mix(0x9e37_79b9_7f4a_7c15), 0xe220_a839_7b1d_cdaf);
        assert_eq!(mix(1), 0x5692_161d_100b_05e5);
        assert_eq!(mix(u64::MAX), 0xb4d0_55fc_f2cb_bd7b);
        assert_eq!(mix(0), 0);
    }

    /// Each thread (or RTOS task) has its own stack, so the address mixed
    /// into a draw differs between them.
    #[test]
    fn stack_addresses_differ_between_threads() {
        let here = stack_address();
        let there = std::thread::spawn(stack_address).join().unwrap();
        assert_ne!(here, there);
        assert!(here > 1 && there > 1);
    }

    #[test]
    fn draws_differ() {
        let draws: Vec<u64> = (0..64).map(|_| entropy()).collect();
        for (i, a) in draws.iter().enumerate() {
            assert!(!draws[i + 1..].contains(a), "a value repeated");
        }
    }

    /// The platform's seed decides what follows: before it, the pool is
    /// marked unseeded; after it, draws move away from the unseeded ones.
    #[cfg(not(feature = "std"))]
    #[test]
    fn a_platform_seed_marks_the_pool_and_changes_the_draws() {
        // No other test seeds the process' pool.
        assert!(!is_seeded());
        let before = entropy();
        seed_entropy(0x1234_5678_9abc_def0);
        assert!(is_seeded());
        let after = entropy();
        assert_ne!(before, after);
        assert_ne!(after, 0);
    }

    /// The pool's arithmetic on a pool of the test's own (the process'
    /// one moves with every WebSocket client drawn meanwhile): halves
    /// stored and loaded, each draw a splitmix64 step mixed with the
    /// caller's stack address turned by half, a seed mixed into what is
    /// there.
    #[cfg(not(feature = "std"))]
    #[test]
    fn the_pool_is_a_splitmix64_sequence_moved_by_seeds() {
        use platform::Pool;
        const STEP: u64 = 0x9e37_79b9_7f4a_7c15;
        let pool = Pool::new();
        assert!(!pool.is_seeded());
        pool.store(0x1234_5678_9abc_def0);
        assert_eq!(pool.load(), 0x1234_5678_9abc_def0);
        pool.store(0);
        // Unseeded, at stack 0: splitmix64's own first outputs.
        assert_eq!(pool.draw(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(pool.load(), STEP);
        assert_eq!(pool.draw(0), mix(STEP.wrapping_mul(2)));
        let stack = 0x0000_7fff_0000_1234;
        let next = STEP.wrapping_mul(3);
        assert_eq!(pool.draw(stack), mix(next ^ 0x0000_1234_0000_7fff));
        pool.seed(7);
        assert!(pool.is_seeded());
        let seeded = mix(next ^ mix(7));
        assert_eq!(pool.load(), seeded);
        assert_eq!(pool.draw(0), mix(seeded.wrapping_add(STEP)));
        pool.seed(7);
        assert_eq!(pool.load(), mix(seeded.wrapping_add(STEP) ^ mix(7)));
    }
}
