//! Message helpers for C: split a received message into command, route and
//! payload (borrowed or copied), classify it, read a NACK's code, and match
//! a route against a subscription pattern. Conversion only; parsing and
//! matching live in [`crate::proto`].

use std::ffi::{c_char, CStr};

use super::state::ducq_state;
use super::{boundary, copy_out, nonnull, slice_arg};
use crate::proto::message::{classify, nack_state, Kind};
use crate::proto::{route, Message};

/// The parts of a message, pointing into the caller's buffer (nothing is
/// copied and nothing is NUL-terminated: use the lengths).
///
/// The pointers borrow the message given to `ducq_parse_message` and are
/// valid as long as that buffer is.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_msg {
    /// First byte of the command word.
    pub command: *const c_char,
    /// Length of the command word.
    pub command_len: usize,
    /// First byte of the route (after the first space).
    pub route: *const c_char,
    /// Length of the route (up to the first newline).
    pub route_len: usize,
    /// First byte of the payload (after the first newline).
    pub payload: *const c_char,
    /// Length of the payload.
    pub payload_len: usize,
}

/// Splits `msg` (`size` bytes, `<command> <route>\n<payload>`) into its
/// parts, written to `*out` on success only.
///
/// Returns `DUCQ_ENULL` when `msg` (with `size > 0`) or `out` is NULL,
/// `DUCQ_EMSGINV` for an empty message or a route holding a NUL byte. The
/// parts borrow `msg`. Safe from any thread and from callbacks.
///
/// # Safety
/// `msg` points to `size` readable bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_parse_message(
    msg: *const c_char,
    size: usize,
    out: *mut ducq_msg,
) -> ducq_state {
    boundary(|| {
        nonnull!(msg, out);
        // SAFETY: `msg` has `size` readable bytes (caller contract).
        let raw = match unsafe { slice_arg(msg.cast(), size) } {
            Ok(raw) => raw,
            Err(e) => return e,
        };
        let m = match Message::parse(raw) {
            Ok(m) => m,
            Err(e) => return e.into(),
        };
        // SAFETY: `out` is non-null and writable (caller contract).
        unsafe {
            *out = ducq_msg {
                command: m.command.as_ptr().cast(),
                command_len: m.command.len(),
                route: m.route.as_ptr().cast(),
                route_len: m.route.len(),
                payload: m.payload.as_ptr().cast(),
                payload_len: m.payload.len(),
            };
        }
        ducq_state::DUCQ_OK
    })
}

/// Which part `copy_part` copies.
#[derive(Clone, Copy)]
enum Part {
    Command,
    Route,
    Payload,
}

/// # Safety
/// As for the three `ducq_parse_*` copy functions.
unsafe fn copy_part(
    part: Part,
    msg: *const c_char,
    size: usize,
    buf: *mut c_char,
    buf_size: *mut usize,
) -> ducq_state {
    nonnull!(msg, buf, buf_size);
    // SAFETY: `msg` has `size` readable bytes (caller contract).
    let raw = match unsafe { slice_arg(msg.cast(), size) } {
        Ok(raw) => raw,
        Err(e) => return e,
    };
    let m = match Message::parse(raw) {
        Ok(m) => m,
        Err(e) => return e.into(),
    };
    let bytes = match part {
        Part::Command => m.command,
        Part::Route => m.route,
        Part::Payload => m.payload,
    };
    // SAFETY: `buf` has `*buf_size` writable bytes (caller contract).
    unsafe { copy_out(bytes, buf, buf_size) }
}

/// Copies the command word of `msg` (`size` bytes) into `buf`,
/// NUL-terminated.
///
/// `*buf_size` is the capacity of `buf` on entry and the length copied (NUL
/// excluded) on success. When the part does not fit, `*buf_size` receives
/// the capacity needed and `DUCQ_EMSGSIZE` is returned. `DUCQ_EMSGINV` for an
/// unparsable message, `DUCQ_ENULL` for a NULL pointer. Safe from any thread
/// and from callbacks.
///
/// # Safety
/// `msg` points to `size` readable bytes, `buf` to `*buf_size` writable ones.
#[no_mangle]
pub unsafe extern "C" fn ducq_parse_command(
    msg: *const c_char,
    size: usize,
    buf: *mut c_char,
    buf_size: *mut usize,
) -> ducq_state {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { copy_part(Part::Command, msg, size, buf, buf_size) })
}

/// Copies the route of `msg` into `buf`; otherwise as `ducq_parse_command`.
///
/// # Safety
/// As for `ducq_parse_command`.
#[no_mangle]
pub unsafe extern "C" fn ducq_parse_route(
    msg: *const c_char,
    size: usize,
    buf: *mut c_char,
    buf_size: *mut usize,
) -> ducq_state {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { copy_part(Part::Route, msg, size, buf, buf_size) })
}

/// Copies the payload of `msg` into `buf` (a payload may hold NUL bytes:
/// trust `*buf_size`, not `strlen`); otherwise as `ducq_parse_command`.
///
/// # Safety
/// As for `ducq_parse_command`.
#[no_mangle]
pub unsafe extern "C" fn ducq_parse_payload(
    msg: *const c_char,
    size: usize,
    buf: *mut c_char,
    buf_size: *mut usize,
) -> ducq_state {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { copy_part(Part::Payload, msg, size, buf, buf_size) })
}

/// Classifies a received message (PROTOCOL.md §4): `DUCQ_OK` for a data
/// message, `DUCQ_PROTOCOL` for `ACK`, `PARTS`, `END`, `PING` and `PONG`,
/// `DUCQ_NACK` for a NACK (see `ducq_nack_state`). `DUCQ_ENULL` when `msg`
/// is NULL with `size > 0`. Safe from any thread and from callbacks.
///
/// # Safety
/// `msg` points to `size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_classify(msg: *const c_char, size: usize) -> ducq_state {
    boundary(|| {
        // SAFETY: `msg` has `size` readable bytes (caller contract).
        let raw = match unsafe { slice_arg(msg.cast(), size) } {
            Ok(raw) => raw,
            Err(e) => return e,
        };
        match classify(raw) {
            Kind::Nack(_) => ducq_state::DUCQ_NACK,
            Kind::Data => ducq_state::DUCQ_OK,
            _ => ducq_state::DUCQ_PROTOCOL,
        }
    })
}

/// The state a NACK carries (`NACK *\n17\ncommand unknown` gives
/// `DUCQ_ENOCMD`), `DUCQ_UNKNOWN` when its code is unreadable, and
/// `DUCQ_EMSGINV` when `msg` is not a NACK. `DUCQ_ENULL` when `msg` is NULL
/// with `size > 0`. Safe from any thread and from callbacks.
///
/// # Safety
/// `msg` points to `size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_nack_state(msg: *const c_char, size: usize) -> ducq_state {
    boundary(|| {
        // SAFETY: `msg` has `size` readable bytes (caller contract).
        let raw = match unsafe { slice_arg(msg.cast(), size) } {
            Ok(raw) => raw,
            Err(e) => return e,
        };
        if !raw.starts_with(b"NACK") {
            return ducq_state::DUCQ_EMSGINV;
        }
        nack_state(raw).map_or(ducq_state::DUCQ_UNKNOWN, Into::into)
    })
}

/// Whether the published route `route` matches the subscription pattern
/// `pattern` (PROTOCOL.md §7: `*` matches any bytes, `/` included; matching
/// is case-sensitive). Both are NUL-terminated and only read during the
/// call. Returns false when either is NULL. Safe from any thread and from
/// callbacks.
///
/// # Safety
/// Non-null arguments point to NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn ducq_route_cmp(pattern: *const c_char, route: *const c_char) -> bool {
    boundary(|| {
        if pattern.is_null() || route.is_null() {
            return false;
        }
        // SAFETY: both non-null and NUL-terminated (caller contract).
        let (p, r) = unsafe { (CStr::from_ptr(pattern), CStr::from_ptr(route)) };
        route::matches(p.to_bytes(), r.to_bytes())
    })
}
