//! What the device library adds to the client half of the C API it
//! exports from the portable core (`ducq::ffi`): seeding the entropy of
//! WebSocket masks from the platform, and the declarations of the two
//! constructors the platform port defines in C (`ports/esp-idf`), so the
//! device header has them. Nothing else belongs here: every other call is
//! the very code `libducq.a` runs.

use core::ffi::c_char;

use ducq::ffi::ducq_i;

/// Device only. Mixes `seed` into the entropy pool from which WebSocket
/// masking keys and handshake nonces are drawn: call it once at start-up
/// with the platform's random source (`esp_random()` on ESP-IDF), before
/// the first WebSocket connection. Safe from any thread; calling it again
/// adds to the pool.
#[no_mangle]
pub extern "C" fn ducq_seed_entropy(seed: u64) {
    ducq::transport::ws::entropy::seed_entropy(seed);
}

// Defined by the platform port, not by this library: declared here for
// the header only. `ducq_i` is opaque to C: only pointers to it cross.
#[allow(improper_ctypes, dead_code)]
extern "C" {
    /// Creates an unconnected TCP client handle for `host` (a name or an
    /// IPv4 or IPv6 address) and `port` (decimal, e.g. `"59090"`). Connect
    /// it with `ducq_conn`, or let `ducq_publish` connect it.
    ///
    /// On a device this comes from the platform port, not from
    /// libducq_embedded.a: `ports/esp-idf/ducq_socket.c` makes it over
    /// lwIP's (or POSIX) sockets with `ducq_new_socket_ctx`. Both strings
    /// are copied. Returns NULL when either is NULL or too long. The caller
    /// owns the handle and frees it with `ducq_free`.
    pub fn ducq_new_tcp(host: *const c_char, port: *const c_char) -> *mut ducq_i;

    /// Creates an unconnected WebSocket client handle for the
    /// HTTP/WebSocket port of a server; `ducq_conn` completes the opening
    /// handshake. Every client function then works on it as on a TCP
    /// handle.
    ///
    /// On a device this comes from the platform port, like `ducq_new_tcp`,
    /// made with `ducq_new_ws_socket`; seed the entropy first
    /// (`ducq_seed_entropy`). Both strings are copied. Returns NULL when
    /// either is NULL or too long. The caller owns the handle.
    pub fn ducq_new_ws_client(host: *const c_char, port: *const c_char) -> *mut ducq_i;
}
