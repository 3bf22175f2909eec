//! Message helpers for C. The original's (on NUL-terminated strings):
//! `ducq_parse_command` / `_route` / `_payload` (pointers into the buffer),
//! the destructive `ducq_parse_msg`, `ducq_ack_to_state`,
//! `ducq_route_cmp`. ducq's (on sized, binary-safe buffers):
//! `ducq_split_msg`, `ducq_copy_command` / `_route` / `_payload`,
//! `ducq_classify`, `ducq_nack_state`. Parsing and matching live in
//! [`crate::proto`]; this converts.

use alloc::string::String;
use core::ffi::{c_char, CStr};

use super::state::RawState;
use super::{boundary, copy_out, slice_arg};
use crate::proto::message::{classify, memchr, nack_state, Kind};
use crate::proto::{route, Message, State};

/// The bytes of a NUL-terminated string, or `None` for NULL.
///
/// # Safety
/// `p` is NULL or NUL-terminated and valid for `'a`.
unsafe fn c_bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: forwarded caller contract.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// The command of a NUL-terminated message, as the original finds it: when
/// the message holds a space, returns `buffer` (the command starts there)
/// and stores the address of that first space in `*end`; otherwise returns
/// NULL and stores NULL in `*end`. `end` may be NULL. NULL for NULL.
/// Nothing is copied or modified.
///
/// # Safety
/// `buffer` is NULL or NUL-terminated; `end` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_parse_command(
    buffer: *const c_char,
    end: *mut *const c_char,
) -> *const c_char {
    boundary(|| {
        // SAFETY: forwarded caller contract.
        let Some(bytes) = (unsafe { c_bytes(buffer) }) else {
            return core::ptr::null();
        };
        let space = memchr(b' ', bytes).map(|i| buffer.wrapping_add(i));
        if !end.is_null() {
            // SAFETY: non-null and writable (caller contract).
            unsafe { *end = space.unwrap_or(core::ptr::null()) };
        }
        if space.is_some() {
            buffer
        } else {
            core::ptr::null()
        }
    })
}

/// The route of a NUL-terminated message, as the original finds it: it
/// starts after the first space (or at `buffer + 1` when `buffer` itself
/// starts with a space) and ends at the next newline. When there is such a
/// newline, returns the route's first character and stores the newline's
/// address in `*end`; otherwise returns NULL (and stores NULL in `*end`
/// when a space was found). `end` may be NULL. NULL for NULL. Nothing is
/// copied or modified.
///
/// # Safety
/// `buffer` is NULL or NUL-terminated; `end` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_parse_route(
    buffer: *const c_char,
    end: *mut *const c_char,
) -> *const c_char {
    boundary(|| {
        // SAFETY: forwarded caller contract.
        let Some(bytes) = (unsafe { c_bytes(buffer) }) else {
            return core::ptr::null();
        };
        let start = if bytes.first() == Some(&b' ') {
            1
        } else {
            match memchr(b' ', bytes) {
                Some(i) => i + 1,
                None => return core::ptr::null(),
            }
        };
        let newline = bytes
            .get(start..)
            .and_then(|rest| memchr(b'\n', rest))
            .map(|i| buffer.wrapping_add(start + i));
        if !end.is_null() {
            // SAFETY: non-null and writable (caller contract).
            unsafe { *end = newline.unwrap_or(core::ptr::null()) };
        }
        match newline {
            Some(_) => buffer.wrapping_add(start),
            None => core::ptr::null(),
        }
    })
}

/// The payload of a NUL-terminated message: the character after its first
/// newline, or NULL when it has none (and for NULL). Nothing is copied.
///
/// # Safety
/// `buffer` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_parse_payload(buffer: *const c_char) -> *const c_char {
    boundary(|| {
        // SAFETY: forwarded caller contract.
        let Some(bytes) = (unsafe { c_bytes(buffer) }) else {
            return core::ptr::null();
        };
        match memchr(b'\n', bytes) {
            Some(i) => buffer.wrapping_add(i + 1),
            None => core::ptr::null(),
        }
    })
}

/// The state an answer carries: `DUCQ_OK` for `ACK…`, the code on the line
/// after the first newline for a NACK (`NACK *\n17\ncommand unknown` gives
/// `DUCQ_ENOCMD`; out-of-range codes folded as in `ducq_state_tostr`), and
/// `DUCQ_EMSGINV` when there is no readable non-zero code (or for NULL).
///
/// # Safety
/// `msg` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_ack_to_state(msg: *const c_char) -> RawState {
    boundary(|| {
        // SAFETY: forwarded caller contract.
        let Some(bytes) = (unsafe { c_bytes(msg) }) else {
            return State::EMsgInv.into();
        };
        if bytes.starts_with(b"ACK") {
            return State::Ok.into();
        }
        let Some(nl) = memchr(b'\n', bytes) else {
            return State::EMsgInv.into();
        };
        // As strtol: leading spaces, a sign, digits.
        let rest = bytes.get(nl + 1..).unwrap_or(&[]);
        let text = String::from_utf8_lossy(rest);
        let text = text.trim_start();
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let digits: String = digits.chars().take_while(char::is_ascii_digit).collect();
        let code = digits.parse::<i64>().unwrap_or(0);
        if code == 0 {
            return State::EMsgInv.into();
        }
        State::from_code(if neg { -code } else { code }).into()
    })
}

/// Whether the published route `pub_route` matches the subscription route
/// `sub_route`: `*` matches any sequence of bytes, `/` included, possibly
/// empty; matching is case-sensitive (PROTOCOL.md §7; every pair the
/// original matched matches). False when either is NULL. Safe from any
/// thread and from callbacks.
///
/// # Safety
/// Non-null arguments point to NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn ducq_route_cmp(
    sub_route: *const c_char,
    pub_route: *const c_char,
) -> bool {
    boundary(|| {
        // SAFETY: forwarded caller contract.
        match unsafe { (c_bytes(sub_route), c_bytes(pub_route)) } {
            (Some(s), Some(p)) => route::matches(s, p),
            _ => false,
        }
    })
}

/// A message split in place by `ducq_parse_msg`: pointers into the buffer
/// given to it, NUL-terminated, or NULL for a part that is missing.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_msg {
    /// The command word.
    pub command: *mut c_char,
    /// The route.
    pub route: *mut c_char,
    /// The payload (up to its first NUL byte).
    pub payload: *mut c_char,
}

impl super::PanicValue for ducq_msg {
    fn on_panic() -> Self {
        ducq_msg {
            command: core::ptr::null_mut(),
            route: core::ptr::null_mut(),
            payload: core::ptr::null_mut(),
        }
    }
}

/// Splits a NUL-terminated message in place, as the original does with
/// `strtok`: the command is the first run of characters other than a
/// space (its end becomes NUL), the route what follows up to the next
/// newline (idem, leading newlines skipped), the payload the rest (NULL
/// when nothing is left). The parts point into `message`, which is
/// modified; a NULL `message` gives three NULLs. Unlike `strtok` it keeps
/// no state between calls, so it is safe from any thread.
///
/// # Safety
/// `message` is NULL or a writable NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ducq_parse_msg(message: *mut c_char) -> ducq_msg {
    boundary(|| {
        let mut out = <ducq_msg as super::PanicValue>::on_panic();
        // SAFETY: forwarded caller contract.
        let Some(bytes) = (unsafe { c_bytes(message) }) else {
            return out;
        };
        let len = bytes.len();
        // strtok: skip leading delimiters, take a token up to the next one,
        // end it with a NUL, continue after it.
        let mut at = 0usize;
        let mut token = |delim: &[u8]| -> Option<*mut c_char> {
            while at < len && bytes.get(at).is_some_and(|b| delim.contains(b)) {
                at += 1;
            }
            if at >= len {
                return None;
            }
            let start = at;
            while at < len && !bytes.get(at).is_some_and(|b| delim.contains(b)) {
                at += 1;
            }
            let cut = at < len;
            let ptr = message.wrapping_add(start);
            if cut {
                // SAFETY: `at < len`: a byte of the caller's writable
                // string, made the token's end.
                unsafe { *message.add(at) = 0 };
                at += 1;
            }
            Some(ptr)
        };
        out.command = token(b" ").unwrap_or(core::ptr::null_mut());
        if !out.command.is_null() {
            out.route = token(b"\n").unwrap_or(core::ptr::null_mut());
        }
        if !out.route.is_null() {
            out.payload = token(b"").unwrap_or(core::ptr::null_mut());
        }
        out
    })
}

/// The parts of a message, pointing into the caller's buffer (nothing is
/// copied and nothing is NUL-terminated: use the lengths).
///
/// The pointers borrow the message given to `ducq_split_msg` and are valid
/// as long as that buffer is.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_msg_parts {
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

/// Splits `msg` (`size` bytes, `<command> <route>\n<payload>`, any bytes)
/// into its parts, written to `*out` on success only.
///
/// Returns `DUCQ_ENULL` when `msg` (with `size > 0`) or `out` is NULL,
/// `DUCQ_EMSGINV` for an empty message or a route holding a NUL byte. The
/// parts borrow `msg`. Safe from any thread and from callbacks.
///
/// # Safety
/// `msg` points to `size` readable bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_split_msg(
    msg: *const c_char,
    size: usize,
    out: *mut ducq_msg_parts,
) -> RawState {
    super::boundary_state(|| {
        super::nonnull(out)?;
        // SAFETY: `msg` has `size` readable bytes (caller contract).
        let raw = unsafe { slice_arg(msg.cast(), size) }?;
        let m = Message::parse(raw)?;
        // SAFETY: `out` is non-null and writable (caller contract).
        unsafe {
            *out = ducq_msg_parts {
                command: m.command.as_ptr().cast(),
                command_len: m.command.len(),
                route: m.route.as_ptr().cast(),
                route_len: m.route.len(),
                payload: m.payload.as_ptr().cast(),
                payload_len: m.payload.len(),
            };
        }
        Ok(())
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
/// As for the three `ducq_copy_*` functions.
unsafe fn copy_part(
    part: Part,
    msg: *const c_char,
    size: usize,
    buf: *mut c_char,
    buf_size: *mut usize,
) -> RawState {
    super::boundary_state(|| {
        super::nonnull(buf)?;
        super::nonnull(buf_size)?;
        // SAFETY: `msg` has `size` readable bytes (caller contract).
        let raw = unsafe { slice_arg(msg.cast(), size) }?;
        let m = Message::parse(raw)?;
        let bytes = match part {
            Part::Command => m.command,
            Part::Route => m.route,
            Part::Payload => m.payload,
        };
        // SAFETY: `buf` has `*buf_size` writable bytes (caller contract).
        unsafe { copy_out(bytes, buf, buf_size) }
    })
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
pub unsafe extern "C" fn ducq_copy_command(
    msg: *const c_char,
    size: usize,
    buf: *mut c_char,
    buf_size: *mut usize,
) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { copy_part(Part::Command, msg, size, buf, buf_size) }
}

/// Copies the route of `msg` into `buf`; otherwise as `ducq_copy_command`.
///
/// # Safety
/// As for `ducq_copy_command`.
#[no_mangle]
pub unsafe extern "C" fn ducq_copy_route(
    msg: *const c_char,
    size: usize,
    buf: *mut c_char,
    buf_size: *mut usize,
) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { copy_part(Part::Route, msg, size, buf, buf_size) }
}

/// Copies the payload of `msg` into `buf` (a payload may hold NUL bytes:
/// trust `*buf_size`, not `strlen`); otherwise as `ducq_copy_command`.
///
/// # Safety
/// As for `ducq_copy_command`.
#[no_mangle]
pub unsafe extern "C" fn ducq_copy_payload(
    msg: *const c_char,
    size: usize,
    buf: *mut c_char,
    buf_size: *mut usize,
) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { copy_part(Part::Payload, msg, size, buf, buf_size) }
}

/// Classifies a received message (PROTOCOL.md §4): `DUCQ_OK` for a data
/// message, `DUCQ_PROTOCOL` for `ACK`, `PARTS`, `END`, `PING` and `PONG`,
/// `DUCQ_NACK` for a NACK (see `ducq_nack_state`). `DUCQ_ENULL` when `msg`
/// is NULL with `size > 0`. Safe from any thread and from callbacks.
///
/// # Safety
/// `msg` points to `size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_classify(msg: *const c_char, size: usize) -> RawState {
    boundary(|| {
        // SAFETY: `msg` has `size` readable bytes (caller contract).
        match unsafe { slice_arg(msg.cast(), size) }.map(classify) {
            Ok(Kind::Nack(_)) => State::Nack.into(),
            Ok(Kind::Data) => State::Ok.into(),
            Ok(_) => State::Protocol.into(),
            Err(e) => e.into(),
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
pub unsafe extern "C" fn ducq_nack_state(msg: *const c_char, size: usize) -> RawState {
    super::boundary_state(|| {
        // SAFETY: `msg` has `size` readable bytes (caller contract).
        let raw = unsafe { slice_arg(msg.cast(), size) }?;
        if !raw.starts_with(b"NACK") {
            return Err(State::EMsgInv);
        }
        Err(nack_state(raw).unwrap_or(State::Unknown))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::ffi::CString;

    fn text(p: *const c_char) -> Option<String> {
        // SAFETY: the functions return pointers into our NUL-terminated
        // test strings, or NULL.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    #[test]
    fn parse_msg_splits_as_strtok() {
        for (input, want) in [
            ("pub a/b\nhello", (Some("pub"), Some("a/b"), Some("hello"))),
            (
                "pub a b\nx y\nz",
                (Some("pub"), Some("a b"), Some("x y\nz")),
            ),
            ("pub a/b\n", (Some("pub"), Some("a/b"), None)),
            ("PING", (Some("PING"), None, None)),
            ("  sub r", (Some("sub"), Some("r"), None)),
            ("pub r\n\nx", (Some("pub"), Some("r"), Some("\nx"))),
            ("", (None, None, None)),
        ] {
            let c = CString::new(input).unwrap().into_raw();
            // SAFETY: a writable NUL-terminated string, freed below.
            let m = unsafe { ducq_parse_msg(c) };
            let got = (text(m.command), text(m.route), text(m.payload));
            let want = (
                want.0.map(str::to_owned),
                want.1.map(str::to_owned),
                want.2.map(str::to_owned),
            );
            assert_eq!(got, want, "{input:?}");
            // SAFETY: from into_raw above.
            drop(unsafe { CString::from_raw(c) });
        }
    }

    #[test]
    fn ack_to_state_reads_codes_like_strtol() {
        for (msg, want) in [
            ("ACK", State::Ok),
            ("NACK *\n17\ncommand unknown", State::ENoCmd),
            ("NACK *\n  -15 x", State::EMsgInv),
            ("NACK *\n99", State::Unknown),
            ("NACK *\nnot a number", State::EMsgInv),
            ("NACK", State::EMsgInv),
        ] {
            let c = CString::new(msg).unwrap();
            // SAFETY: a NUL-terminated string.
            assert_eq!(
                unsafe { ducq_ack_to_state(c.as_ptr()) }.state(),
                want,
                "{msg:?}"
            );
        }
    }
}
