//! The C ABI: the only place in the crate with exported symbols (beside
//! the two small C files next to it, see `build.rs`). Every `extern "C"`
//! function here checks its pointers, runs its body inside `boundary` (a
//! caught panic becomes an error value; nothing unwinds into C), converts
//! between C and Rust values, and documents who owns what. Broker and
//! protocol rules live in [`crate::server`], [`crate::client`],
//! [`crate::proto`] and [`crate::transport`]; this module calls them.
//!
//! The interface is the original C ducq's (`ORIGINAL-C-API` in the
//! repository's docs): the same names, signatures and layouts, under the
//! original header names. What ducq adds has names of its own
//! (docs/C-API.md has the porting table).
//!
//! # Layout
//! - `state`: `ducq_state` values, their texts, `ducq_version`.
//! - `vtbl`: `ducq_i` and `ducq_vtbl`, the original's interface object and
//!   its table, and the client functions that go through it.
//! - `handle`: the `ducq_i` objects ducq makes, and their table.
//! - `client`, `socket`: client handles (TCP, WebSocket, HTTP, a socket
//!   layer written in C).
//! - `lent`: handles to a reactor's clients, lent to callbacks or kept.
//! - `fdconn`: handles made from an accepted descriptor
//!   (`ducq_new_tcp_connection`, …).
//! - `foreign`: tables and listening descriptors the reactor drives for
//!   C (`ducq_reactor_add_client`, `ducq_reactor_add_server`).
//! - `calls`: emit, receive, publish, subscribe, over any `ducq_i`.
//! - `listen`: `ducq_listen` and `ducq_listen_ex`.
//! - `message`: message parsing and route matching helpers.
//! - `access`: how C calls reach a reactor (idle, running, lent).
//! - `reactor`: the broker handle, its loop and listeners.
//! - `clients`: the reactor's clients: loop, iterator, subscribe, delete,
//!   publish, last messages, descriptors added by the embedder.
//! - `log`: log callbacks, levels, the `LOG` route switch.
//! - `command`, `dispatcher`: C commands, plugins, Lua folders.
//! - `proto`: protocols written in C for the non-blocking reactor.
//! - `queue`: durable queues and request/reply on a client handle.
//! - `secure`: TLS and Unix socket client handles, `ducq_authenticate`,
//!   password hashing.
//! - `config`: TLS, HTTPS, MQTT(S) and Unix listeners, users and the
//!   anonymous access list, the configuration file and its reload.
//! - `reconnect`: a client handle that connects and subscribes again when
//!   its connection is lost (`ducq_set_reconnect`).
//!
//! # Client side and server side
//! The client side is `state`, `vtbl`, `handle`, `client`, `socket`,
//! `calls`, `listen`, `message` and `secure` (with `crate::proto`,
//! `crate::client` and `crate::tls` beneath them; `ducq_hash_password`
//! borrows the server's hashing); everything else needs the server. The
//! client modules reach the server side at exactly two seams: the handle
//! kinds `Kind::Server` and `Kind::Fd` (`handle`) and the client over an
//! accepted descriptor, `AnyClient::Fd` (`client`), all made only by
//! server-side calls. Those three variants, the server modules and the
//! client calls that need an operating system (sockets of ducq's own,
//! `ducq_buffer`) are gated on the `std` feature: without it this module
//! is the client-only C API the device library (`libducq_embedded.a`)
//! exports, and its header (`include/ducq_client.h`) is the functions of
//! those modules plus `ducq_socket_vtbl` (named apart from `ducq_vtbl`,
//! the original's table). Without `std`, `boundary` cannot catch a
//! panic; the device library is built with `panic = abort` instead.
//!
//! # Threads
//! A client `ducq_i` may move between threads but is used by one at a time.
//! A reactor and every handle it lends belong to the thread that runs it;
//! only `ducq_reactor_stop` may be called from another thread or a signal
//! handler.
#![allow(non_camel_case_types)]

use alloc::vec::Vec;
use core::ffi::{c_char, c_int, CStr};
#[cfg(feature = "std")]
use std::panic::{catch_unwind, AssertUnwindSafe};

// The client side (`state`, `vtbl`, `handle`, `client`, `socket`, `calls`,
// `listen`, `message`) is built with and without `std`; the rest is the
// server side, and client calls that need the operating system.
#[cfg(feature = "std")]
pub mod access;
pub mod calls;
pub mod client;
#[cfg(feature = "std")]
pub mod clients;
#[cfg(feature = "std")]
pub mod command;
#[cfg(feature = "std")]
pub mod config;
#[cfg(feature = "std")]
pub mod dispatcher;
#[cfg(feature = "std")]
pub mod fdconn;
#[cfg(feature = "std")]
pub mod foreign;
pub mod handle;
#[cfg(feature = "std")]
pub mod lent;
pub mod listen;
#[cfg(feature = "std")]
pub mod log;
pub mod message;
#[cfg(feature = "std")]
pub mod proto;
#[cfg(feature = "std")]
pub mod queue;
#[cfg(feature = "std")]
pub mod reactor;
#[cfg(feature = "std")]
pub mod reconnect;
#[cfg(feature = "std")]
pub mod secure;
pub mod socket;
pub mod state;
pub mod vtbl;

#[cfg(feature = "std")]
pub use command::load_commands_dir;
pub use state::RawState;
pub use vtbl::{ducq_i, ducq_vtbl};

use crate::proto::State;

/// What an export returns when its body panicked.
pub trait PanicValue {
    /// The value handed to C instead of unwinding.
    fn on_panic() -> Self;
}

impl PanicValue for RawState {
    fn on_panic() -> Self {
        RawState::from(State::Unknown)
    }
}

impl<T> PanicValue for *mut T {
    fn on_panic() -> Self {
        core::ptr::null_mut()
    }
}

impl<T> PanicValue for *const T {
    fn on_panic() -> Self {
        core::ptr::null()
    }
}

impl PanicValue for () {
    fn on_panic() -> Self {}
}

impl PanicValue for bool {
    fn on_panic() -> Self {
        false
    }
}

impl PanicValue for c_int {
    fn on_panic() -> Self {
        -1
    }
}

/// Runs the body of an export: a panic is caught and turned into the
/// type's [`PanicValue`], so it never unwinds into C.
#[cfg(feature = "std")]
pub(crate) fn boundary<R: PanicValue>(body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| R::on_panic())
}

/// Runs the body of an export. Without `std` nothing unwinds: the device
/// library is built with `panic = abort`, so a panic ends the program
/// there instead of reaching C.
#[cfg(not(feature = "std"))]
pub(crate) fn boundary<R: PanicValue>(body: impl FnOnce() -> R) -> R {
    body()
}

/// The same, for a body that reports its failures as `Err(state)`.
pub(crate) fn boundary_state(body: impl FnOnce() -> Result<(), State>) -> RawState {
    boundary(|| match body() {
        Ok(()) => RawState::OK,
        Err(s) => RawState::from(s),
    })
}

/// `Err(ENull)` when a pointer is null: `nonnull(p)?` in a state body.
pub(crate) fn nonnull<T>(p: *const T) -> Result<(), State> {
    if p.is_null() {
        Err(State::ENull)
    } else {
        Ok(())
    }
}

/// Borrows a NUL-terminated C string as UTF-8 (`EMsgInv` otherwise).
///
/// # Safety
/// `p` is non-null and points to a NUL-terminated string that stays valid
/// and unmodified for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char) -> Result<&'a str, State> {
    // SAFETY: guaranteed by the caller.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    core::str::from_utf8(bytes).map_err(|_| State::EMsgInv)
}

/// Borrows a NUL-terminated C string as bytes; `ENull` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and
/// unmodified for `'a`.
pub(crate) unsafe fn bytes_arg<'a>(p: *const c_char) -> Result<&'a [u8], State> {
    nonnull(p)?;
    // SAFETY: non-null and NUL-terminated (caller contract).
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Borrows `len` bytes at `p`; a null `p` is an empty slice when `len` is
/// 0 and `ENull` otherwise.
///
/// # Safety
/// When `len > 0`, `p` points to `len` readable bytes that stay valid for
/// `'a`.
pub(crate) unsafe fn slice_arg<'a>(p: *const u8, len: usize) -> Result<&'a [u8], State> {
    if len == 0 {
        return Ok(&[]);
    }
    nonnull(p)?;
    // SAFETY: non-null and `len` readable bytes, guaranteed by the caller.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// Copies `msg` into the caller's buffer of `*size` bytes, NUL-terminated,
/// and stores its length in `*size`. When it does not fit (the NUL
/// included), stores the size needed and fails with `EMsgSize`; the buffer
/// is untouched then.
///
/// # Safety
/// `buf` points to `*size` writable bytes; `size` is valid.
pub(crate) unsafe fn copy_out(msg: &[u8], buf: *mut c_char, size: *mut usize) -> Result<(), State> {
    // SAFETY: `size` is valid, guaranteed by the caller.
    let cap = unsafe { *size };
    if msg.len() >= cap {
        // SAFETY: as above.
        unsafe { *size = msg.len() + 1 };
        return Err(State::EMsgSize);
    }
    // SAFETY: `buf` has `cap > msg.len()` writable bytes; the regions are
    // distinct (msg is ducq's own memory).
    unsafe {
        core::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), msg.len());
        *buf.add(msg.len()) = 0;
        *size = msg.len();
    }
    Ok(())
}

/// A NUL-terminated copy of `bytes`, for a callback that may modify it.
pub(crate) fn c_copy(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "std")]
    #[test]
    fn a_panic_becomes_an_error_value() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let state: RawState = boundary(|| panic!("inside an export"));
        let ptr: *mut u8 = boundary(|| panic!("inside an export"));
        let n: c_int = boundary(|| panic!("inside an export"));
        std::panic::set_hook(hook);
        assert_eq!(state.state(), State::Unknown);
        assert!(ptr.is_null());
        assert_eq!(n, -1);
    }

    #[test]
    fn copy_out_reports_the_size_needed() {
        let mut buf = [0 as c_char; 4];
        let mut size = buf.len();
        // SAFETY: `buf` has `size` writable bytes.
        let r = unsafe { copy_out(b"hello", buf.as_mut_ptr(), &mut size) };
        assert_eq!((r, size, buf[0]), (Err(State::EMsgSize), 6, 0));
        size = buf.len();
        // SAFETY: as above.
        let r = unsafe { copy_out(b"abc", buf.as_mut_ptr(), &mut size) };
        assert_eq!((r, size, buf[3]), (Ok(()), 3, 0));
    }
}
