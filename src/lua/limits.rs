//! The limits scripts run under and what the host measures: the
//! instruction budget of one call, the memory limit, the probe readings.
//! Data only; the hook that spends the budget is set up by the host.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Limits applied to scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LuaLimits {
    /// Most Lua VM instructions one call may run (a command, or a file being
    /// loaded) before it is stopped with `NACK 22` (default 10 000 000).
    pub instructions: u64,
    /// Most bytes the Lua state may hold, all scripts together (default
    /// 64 MiB). An allocation beyond fails with a Lua memory error.
    pub memory: usize,
}

impl Default for LuaLimits {
    fn default() -> LuaLimits {
        LuaLimits {
            instructions: 10_000_000,
            memory: 64 << 20,
        }
    }
}

#[derive(Default)]
pub(super) struct ProbeData {
    pub(super) stack_top: AtomicI64,
    pub(super) used_memory: AtomicUsize,
    pub(super) calls: AtomicU64,
}

/// Readings of the Lua state taken after every command, readable from any
/// thread (tests, monitoring). A debugging aid: it changes nothing.
#[derive(Clone, Default)]
pub struct LuaProbe(pub(super) Arc<ProbeData>);

impl LuaProbe {
    /// Values on the Lua stack after the last call (constant when the host
    /// keeps it balanced).
    pub fn stack_top(&self) -> i64 {
        self.0.stack_top.load(Ordering::Relaxed)
    }

    /// Bytes held by the Lua state after the last call.
    pub fn used_memory(&self) -> usize {
        self.0.used_memory.load(Ordering::Relaxed)
    }

    /// Commands run so far.
    pub fn calls(&self) -> u64 {
        self.0.calls.load(Ordering::Relaxed)
    }
}

/// The instruction budget of the call in progress.
#[derive(Default)]
pub(super) struct Budget {
    pub(super) left: std::cell::Cell<i64>,
    pub(super) exhausted: std::cell::Cell<bool>,
}

impl Budget {
    pub(super) fn reset(&self, instructions: u64) {
        self.left
            .set(i64::try_from(instructions).unwrap_or(i64::MAX));
        self.exhausted.set(false);
    }
}
