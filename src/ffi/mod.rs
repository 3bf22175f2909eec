//! The C ABI: the only place in the crate with exported symbols. Every
//! `extern "C"` function here checks its pointers, runs its body inside
//! `boundary` (a caught panic becomes an error value; nothing unwinds into
//! C), converts results to `ducq_state`, and documents who owns what. No
//! broker or protocol logic lives here: it converts, checks and calls into
//! [`crate::client`], [`crate::server`] and [`crate::transport`].
//!
//! # Layout
//! - `state`: `ducq_state`, its texts, `ducq_version`.
//! - `message`: message parse helpers and `ducq_route_cmp`.
//! - `client`: the `ducq_i` connection handle (TCP, a C socket vtable, or a
//!   server-side connection lent to a C command) and its functions.
//! - `listen`: `ducq_listen` and its callbacks.
//! - `reactor`: the broker (`ducq_reactor`), its loop, stop, log and state.
//! - `secure`: TLS and Unix socket clients and listeners, users, the
//!   configuration file and its reload, password hashing.
//! - `command`: C commands (`struct ducq_cmd_t`), registered or loaded from
//!   a folder of shared objects.
//! - `dispatcher`: Lua commands (`ducq_dispatcher_add`), loaded into the
//!   reactor's Lua host and reloaded when their files change.
//! - `proto`: C-supplied server protocols (a codec vtable per listener).
//!
//! # Threads
//! A `ducq_i` may move between threads but is used by one at a time. A
//! reactor and every handle it lends belong to the thread that runs it;
//! only `ducq_reactor_stop` may be called from another thread or a signal
//! handler.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub mod client;
pub mod command;
pub mod dispatcher;
pub mod listen;
pub mod message;
pub mod proto;
pub mod reactor;
pub mod secure;
pub mod state;

pub use command::load_commands_dir;
pub use state::ducq_state;

/// What an export returns when its body panicked.
pub trait PanicValue {
    /// The value handed to C instead of unwinding.
    fn on_panic() -> Self;
}

impl PanicValue for ducq_state {
    fn on_panic() -> Self {
        ducq_state::DUCQ_UNKNOWN
    }
}

impl<T> PanicValue for *mut T {
    fn on_panic() -> Self {
        std::ptr::null_mut()
    }
}

impl<T> PanicValue for *const T {
    fn on_panic() -> Self {
        std::ptr::null()
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

impl PanicValue for i32 {
    fn on_panic() -> Self {
        -1
    }
}

/// Runs the body of an export: a panic is caught and turned into the
/// type's [`PanicValue`], so it never unwinds into C.
pub(crate) fn boundary<R: PanicValue>(body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| R::on_panic())
}

/// Returns `DUCQ_ENULL` from the enclosing function when a pointer is null.
macro_rules! nonnull {
    ($($p:expr),+ $(,)?) => {
        $(
            if $p.is_null() {
                return $crate::ffi::state::ducq_state::DUCQ_ENULL;
            }
        )+
    };
}
pub(crate) use nonnull;

/// Borrows a NUL-terminated C string as UTF-8.
///
/// # Safety
/// `p` is non-null and points to a NUL-terminated string that stays valid
/// and unmodified for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char) -> Result<&'a str, ducq_state> {
    // SAFETY: guaranteed by the caller.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|_| ducq_state::DUCQ_EMSGINV)
}

/// Borrows a NUL-terminated C string as bytes.
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn bytes_arg<'a>(p: *const c_char) -> &'a [u8] {
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

/// Borrows `len` bytes at `p`; a null `p` is an empty slice when `len` is 0.
///
/// # Safety
/// When `len > 0`, `p` points to `len` readable bytes that stay valid for
/// `'a`.
pub(crate) unsafe fn slice_arg<'a>(p: *const u8, len: usize) -> Result<&'a [u8], ducq_state> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(ducq_state::DUCQ_ENULL);
    }
    // SAFETY: non-null and `len` readable bytes, guaranteed by the caller.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Copies `msg` into the caller's buffer of `*size` bytes, NUL-terminated,
/// and stores its length in `*size`. When it does not fit (the NUL
/// included), stores the size needed and returns `DUCQ_EMSGSIZE`.
///
/// # Safety
/// `buf` points to `*size` writable bytes; `size` is valid.
pub(crate) unsafe fn copy_out(msg: &[u8], buf: *mut c_char, size: *mut usize) -> ducq_state {
    // SAFETY: `size` is valid, guaranteed by the caller.
    let cap = unsafe { *size };
    if msg.len() >= cap {
        // SAFETY: as above.
        unsafe { *size = msg.len() + 1 };
        return ducq_state::DUCQ_EMSGSIZE;
    }
    // SAFETY: `buf` has `cap > msg.len()` writable bytes; the regions are
    // distinct (msg is ducq's own memory).
    unsafe {
        std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), msg.len());
        *buf.add(msg.len()) = 0;
        *size = msg.len();
    }
    ducq_state::DUCQ_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_value() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let state: ducq_state = boundary(|| panic!("inside an export"));
        let ptr: *mut u8 = boundary(|| panic!("inside an export"));
        std::panic::set_hook(hook);
        assert_eq!(state, ducq_state::DUCQ_UNKNOWN);
        assert!(ptr.is_null());
    }

    #[test]
    fn copy_out_reports_the_size_needed() {
        let mut buf = [0 as c_char; 4];
        let mut size = buf.len();
        // SAFETY: `buf` has `size` writable bytes.
        let state = unsafe { copy_out(b"hello", buf.as_mut_ptr(), &mut size) };
        assert_eq!((state, size), (ducq_state::DUCQ_EMSGSIZE, 6));
        size = buf.len();
        // SAFETY: as above.
        let state = unsafe { copy_out(b"abc", buf.as_mut_ptr(), &mut size) };
        assert_eq!((state, size, buf[3]), (ducq_state::DUCQ_OK, 3, 0));
    }
}
