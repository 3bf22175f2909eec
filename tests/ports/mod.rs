//! Loopback ports for tests that start a real broker (ducq, Mosquitto,
//! nats-server) on a port chosen before the process runs. Not for anything
//! but tests: a port is free when handed out, nothing holds it after.
//!
//! Ports come from below the kernel's ephemeral range, in sequence from an
//! offset of this process. A port from `bind(0)` is an ephemeral one, and an
//! outgoing connection (a NATS node dialling a route it cannot reach yet,
//! say) may take it as its source port in the moment before the broker
//! binds it: that race made a cluster test fail with "address already in
//! use".
#![allow(dead_code)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The next port to try, counted from this process's offset.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The lowest port of the kernel's ephemeral range (Linux's default if it
/// cannot be read).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A loopback port below the ephemeral range that nothing is bound to now.
/// Each call in a process gets a different port.
pub fn free_port() -> u16 {
    let high = ephemeral_low().clamp(2048, 65535);
    let low = high.saturating_sub(20_000).max(1024);
    let span = high - low;
    // The offset differs per process and per copy of this module, so that
    // test binaries (and two copies compiled into one) start apart.
    let mut h = DefaultHasher::new();
    (std::process::id(), module_path!()).hash(&mut h);
    let offset = (h.finish() % u64::from(span)) as u32;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (low + (offset + n) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {low}..{high}");
}
