//! The original's higher-level client calls, over any `ducq_i`: emit a
//! command, acknowledge, receive and classify, publish (and the device's
//! `ducq_publish`, which connects by itself), plus ducq's subscribe and
//! error-detail calls. They work through the handle's table, as the
//! original's did, so a protocol written in C gets them too; on ducq's own
//! handles `ducq_pub` and `ducq_sub` use the client's richer waits (data
//! that arrives before the answer is kept for the next receive).

use alloc::vec::Vec;
use core::ffi::c_char;
#[cfg(feature = "std")]
use core::ffi::c_void;

use super::client::on_client;
use super::handle::Handle;
use super::state::RawState;
use super::vtbl::{ducq_close, ducq_conn, ducq_i, ducq_recv, ducq_send};
use super::{boundary, bytes_arg, slice_arg, str_arg};
use crate::proto::checks;
use crate::proto::message::{self, classify, Kind};
use crate::proto::{State, ACK};

/// A function applied to a connection (`ducq_tcp_apply`): returns a state.
#[cfg(feature = "std")]
pub type ducq_apply_f =
    Option<unsafe extern "C" fn(ctx: *mut c_void, ducq: *mut ducq_i) -> RawState>;

/// The keep-alive `ducq_receive` sends when a receive times out.
const PING: &[u8] = b"PING _\nping";

/// Sends `msg` through the handle's table.
///
/// # Safety
/// `ducq` is a live handle.
unsafe fn send_raw(ducq: *mut ducq_i, msg: &[u8]) -> Result<(), State> {
    let mut size = msg.len();
    // SAFETY: a live handle; `msg` readable for `size` bytes.
    let rc = unsafe { ducq_send(ducq, msg.as_ptr().cast(), &mut size) }.state();
    if rc == State::Ok {
        Ok(())
    } else {
        Err(rc)
    }
}

/// `<command> <route>\n<payload>`, checked: a command word with a space,
/// newline or NUL, or a route with a newline, is `EMsgInv`.
///
/// # Safety
/// Non-null strings are NUL-terminated; `payload` readable for `size`.
unsafe fn format_command(
    command: *const c_char,
    route: *const c_char,
    payload: *const c_char,
    size: usize,
) -> Result<Vec<u8>, State> {
    // SAFETY: forwarded caller contract.
    let (command, route) = unsafe { (bytes_arg(command)?, bytes_arg(route)?) };
    // SAFETY: forwarded caller contract.
    let payload = unsafe { slice_arg(payload.cast(), size) }?;
    checks::check_command_name(command)?;
    if route.contains(&b'\n') {
        return Err(State::EMsgInv);
    }
    Ok(message::format(command, route, payload))
}

/// Sends `<command> <route>\n<payload>` and returns without waiting for a
/// reply (read it with `ducq_receive`).
///
/// `payload` (`payload_size` bytes, may hold NUL bytes) may be NULL when
/// `payload_size` is 0. All strings are only read during the call; the
/// message has no size limit beyond the server's. `DUCQ_EMSGINV` for a
/// command holding a space or newline, or a route holding a newline;
/// `DUCQ_ENULL` for NULL pointers; other errors as for `ducq_send`.
///
/// # Safety
/// `ducq` is NULL or a live handle, `command` and `route` NULL or
/// NUL-terminated, `payload` readable for `payload_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_emit(
    ducq: *mut ducq_i,
    command: *const c_char,
    route: *const c_char,
    payload: *const c_char,
    payload_size: usize,
) -> RawState {
    boundary(|| {
        if ducq.is_null() {
            return State::ENull.into();
        }
        // SAFETY: forwarded caller contract.
        let msg = unsafe { format_command(command, route, payload, payload_size) };
        // SAFETY: a live handle.
        msg.and_then(|m| unsafe { send_raw(ducq, &m) }).into()
    })
}

/// `ducq_emit`, then, when `close` is true, `ducq_close` once the message
/// is sent (a command whose answer is not wanted, in one call).
///
/// # Safety
/// As for `ducq_emit`.
#[no_mangle]
pub unsafe extern "C" fn ducq_emit_ex(
    ducq: *mut ducq_i,
    command: *const c_char,
    route: *const c_char,
    payload: *const c_char,
    payload_size: usize,
    close: bool,
) -> RawState {
    boundary(|| {
        // SAFETY: forwarded caller contract.
        let sent = unsafe { ducq_emit(ducq, command, route, payload, payload_size) };
        if close && sent == RawState::OK {
            // SAFETY: a live handle (caller contract).
            return unsafe { ducq_close(ducq) };
        }
        sent
    })
}

/// Sends `ACK` when `state` is `DUCQ_OK`, otherwise
/// `NACK *\n<code>\n<text>` for `state` (out-of-range values folded as in
/// `ducq_state_tostr`).
///
/// Returns the send's error when sending failed, otherwise `state` itself,
/// so a command can end with `return ducq_send_ack(ducq, DUCQ_ENOTFOUND);`
/// (the client gets one NACK, not two).
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_send_ack(ducq: *mut ducq_i, state: RawState) -> RawState {
    boundary(|| {
        if ducq.is_null() {
            return State::ENull.into();
        }
        let state = state.state();
        let msg = if state == State::Ok {
            ACK.to_vec()
        } else {
            message::nack(state)
        };
        // SAFETY: a live handle (caller contract).
        match unsafe { send_raw(ducq, &msg) } {
            Ok(()) => state.into(),
            Err(e) => e.into(),
        }
    })
}

/// Receives the next message into `msg` (as `ducq_recv`) and tells what it
/// is, as the original does: `DUCQ_OK` for a data message (a publication, a
/// command's answer), `DUCQ_PROTOCOL` for ACK, PARTS, END, PING and PONG (a
/// PING is answered with a PONG), `DUCQ_NACK` for a NACK (read its code
/// with `ducq_ack_to_state`).
///
/// When the handle's timeout passes with nothing to read, it sends a
/// keep-alive `PING _\nping` to the server (copied into `msg` when it fits)
/// and returns `DUCQ_PROTOCOL`; when it passes again right after (`msg`
/// still starts with `PING`), it returns `DUCQ_ETIMEOUT`. Other errors as
/// for `ducq_recv`.
///
/// # Safety
/// `ducq` is NULL or a live handle, `size` NULL or valid, `msg` writable
/// for `*size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_receive(
    ducq: *mut ducq_i,
    msg: *mut c_char,
    size: *mut usize,
) -> RawState {
    boundary(|| {
        if ducq.is_null() || msg.is_null() || size.is_null() {
            return State::ENull.into();
        }
        // SAFETY: valid (caller contract).
        let cap = unsafe { *size };
        // SAFETY: forwarded caller contract.
        let state = unsafe { ducq_recv(ducq, msg, size) }.state();
        if state == State::ETimeout {
            // SAFETY: `msg` holds `cap` bytes (caller contract); only read
            // within them.
            let pinged =
                cap >= 4 && unsafe { slice_arg(msg.cast(), 4) }.is_ok_and(|b| b == b"PING");
            if pinged {
                return State::ETimeout.into();
            }
            // SAFETY: a live handle.
            if let Err(e) = unsafe { send_raw(ducq, PING) } {
                return e.into();
            }
            if cap > PING.len() {
                // SAFETY: `msg` has `cap > PING.len()` writable bytes.
                unsafe {
                    core::ptr::copy_nonoverlapping(PING.as_ptr(), msg.cast(), PING.len());
                    *msg.add(PING.len()) = 0;
                    *size = PING.len();
                }
            }
            return State::Protocol.into();
        }
        if state != State::Ok {
            return state.into();
        }
        // SAFETY: on success `*size` bytes of `msg` hold the message.
        let len = unsafe { *size };
        // SAFETY: as above.
        let received = unsafe { core::slice::from_raw_parts(msg.cast::<u8>(), len) };
        match classify(received) {
            Kind::Data => State::Ok.into(),
            Kind::Nack(_) => State::Nack.into(),
            Kind::Ping => {
                let pong = message::pong_for(received);
                // SAFETY: a live handle.
                match unsafe { send_raw(ducq, &pong) } {
                    Ok(()) => State::Protocol.into(),
                    Err(e) => e.into(),
                }
            }
            _ => State::Protocol.into(),
        }
    })
}

/// Publishes `payload` (`size` bytes, may be NULL when 0) on `route` and
/// waits for the server's answer.
///
/// `DUCQ_OK` on ACK; `DUCQ_NACK` when the server refused (as the original;
/// `ducq_last_error` has the NACK's code and text on ducq's handles); other
/// errors as for `ducq_recv` (`DUCQ_ECONNCLOSED` when not connected). On a
/// host's handle whose reconnect policy has a buffer (`ducq_set_reconnect`), a
/// publication its lost connection could not take is kept for the next
/// connection instead: `DUCQ_OK`, or `DUCQ_EMAX` when the buffer is full.
/// On ducq's own handles, data messages that arrive before the ACK are kept
/// for the next receive; on other handles the first answer counts, as in
/// the original. The arguments are only read during the call.
///
/// # Safety
/// `ducq` is NULL or a live handle, `route` NULL or NUL-terminated,
/// `payload` readable for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_pub(
    ducq: *mut ducq_i,
    route: *const c_char,
    payload: *const c_char,
    size: usize,
) -> RawState {
    boundary(|| {
        if ducq.is_null() {
            return State::ENull.into();
        }
        // SAFETY: forwarded caller contract.
        match unsafe { publish_once(ducq, route, payload, size) } {
            Err(state @ (State::EConnClosed | State::EWrite | State::ERead)) => {
                // SAFETY: forwarded caller contract.
                unsafe { keep_offline(ducq, route, payload, size) }.unwrap_or(state.into())
            }
            other => other.into(),
        }
    })
}

/// Keeps a publication for the next connection when the handle's
/// reconnect policy has a buffer and its connection is lost (`None`
/// otherwise): `DUCQ_OK`, or `DUCQ_EMAX` when full.
///
/// # Safety
/// As for `ducq_pub`, `ducq` non-null.
unsafe fn keep_offline(
    ducq: *mut ducq_i,
    route: *const c_char,
    payload: *const c_char,
    size: usize,
) -> Option<RawState> {
    // SAFETY: a live handle (caller contract).
    let h = unsafe { Handle::from_ptr(ducq) }?;
    // SAFETY: forwarded caller contract.
    let route = unsafe { str_arg(route_or_null(route).ok()?) }.ok()?;
    // SAFETY: forwarded caller contract.
    let payload = unsafe { slice_arg(payload.cast(), size) }.ok()?;
    h.keep_offline(route, payload).map(Into::into)
}

/// The body of `ducq_pub`.
///
/// # Safety
/// As for `ducq_pub`, `ducq` non-null.
unsafe fn publish_once(
    ducq: *mut ducq_i,
    route: *const c_char,
    payload: *const c_char,
    size: usize,
) -> Result<(), State> {
    // SAFETY: a live handle (caller contract).
    if let Some(h) = unsafe { Handle::from_ptr(ducq) } {
        // SAFETY: forwarded caller contract.
        let route = unsafe { str_arg(route_or_null(route)?) }?;
        // SAFETY: forwarded caller contract.
        let payload = unsafe { slice_arg(payload.cast(), size) }?;
        let published = h.with_client(|c| on_client!(c, cl => cl.publish(route, payload)));
        return published.map_err(|s| {
            if h.last_nack().is_some() {
                State::Nack
            } else {
                s
            }
        });
    }
    // SAFETY: forwarded caller contract.
    let msg = unsafe { format_command(c"pub".as_ptr(), route, payload, size) }?;
    // SAFETY: a live handle.
    unsafe { send_raw(ducq, &msg) }?;
    let mut answer = alloc::vec![0 as c_char; 256];
    let mut len = answer.len();
    // SAFETY: a live handle; `answer` writable for `len` bytes.
    match unsafe { ducq_receive(ducq, answer.as_mut_ptr(), &mut len) }.state() {
        State::Ok | State::Protocol => Ok(()),
        other => Err(other),
    }
}

/// `Err(ENull)` for a NULL route, else the route.
fn route_or_null(route: *const c_char) -> Result<*const c_char, State> {
    super::nonnull(route).map(|()| route)
}

/// Publishes as `ducq_pub` does, connecting first when the handle is not
/// connected, and connecting again (once) when the connection turns out to
/// be closed: the original device call, made on a handle from
/// `ducq_new_tcp` that was never connected. Returns as `ducq_pub`, or the
/// state of the failed connect (`DUCQ_ECONNECT`, `DUCQ_ETIMEOUT`) — unless
/// the handle's lost connection could not be made again and its reconnect
/// policy has a buffer: then the publication is kept, as `ducq_pub` keeps
/// it.
///
/// # Safety
/// As for `ducq_pub`.
#[no_mangle]
pub unsafe extern "C" fn ducq_publish(
    ducq: *mut ducq_i,
    route: *const c_char,
    payload: *const c_char,
    size: usize,
) -> RawState {
    boundary(|| {
        if ducq.is_null() {
            return State::ENull.into();
        }
        // SAFETY: a live handle (caller contract).
        let connected = unsafe { Handle::from_ptr(ducq) }.is_none_or(|h| h.is_connected());
        if !connected {
            // SAFETY: a live handle.
            let rc = unsafe { ducq_conn(ducq) };
            if rc != RawState::OK {
                // SAFETY: forwarded caller contract.
                return unsafe { keep_offline(ducq, route, payload, size) }.unwrap_or(rc);
            }
        }
        // SAFETY: forwarded caller contract.
        match unsafe { publish_once(ducq, route, payload, size) } {
            Err(State::EConnClosed | State::EWrite | State::ERead) => {
                // SAFETY: a live handle.
                let rc = unsafe { ducq_conn(ducq) };
                if rc != RawState::OK {
                    // SAFETY: forwarded caller contract.
                    return unsafe { keep_offline(ducq, route, payload, size) }.unwrap_or(rc);
                }
                // SAFETY: forwarded caller contract.
                unsafe { publish_once(ducq, route, payload, size) }.into()
            }
            other => other.into(),
        }
    })
}

/// Subscribes to `route` (`*` matches anything) and waits for the answer
/// (a ducq call, not in the original). `options` may be NULL or hold
/// space-separated options: `last` (the server answers with the stored
/// last message instead of ACK) and `add` (keep the other subscriptions of
/// this connection).
///
/// `DUCQ_OK` on ACK or on a stored message; that message (and, for a
/// pattern, the others) then comes first from `ducq_receive` /
/// `ducq_listen`. On a NACK, the state it carries (`ducq_last_error` has
/// its text). Other errors as for `ducq_recv`. The arguments are only read
/// during the call.
///
/// # Safety
/// `ducq` is NULL or a live handle; `route` and non-null `options` are
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_sub(
    ducq: *mut ducq_i,
    route: *const c_char,
    options: *const c_char,
) -> RawState {
    boundary(|| {
        if ducq.is_null() || route.is_null() {
            return State::ENull.into();
        }
        let options = if options.is_null() {
            c"".as_ptr()
        } else {
            options
        };
        // SAFETY: a live handle (caller contract).
        let Some(h) = (unsafe { Handle::from_ptr(ducq) }) else {
            // SAFETY: forwarded caller contract.
            return unsafe { subscribe_through_table(ducq, route, options) }.into();
        };
        // SAFETY: NUL-terminated (caller contract).
        let (route, options) = match unsafe { (str_arg(route), str_arg(options)) } {
            (Ok(r), Ok(o)) => (r, o),
            _ => return State::EMsgInv.into(),
        };
        let result = h.with_client(|c| on_client!(c, cl => cl.subscribe(route, options)));
        if result.is_ok() {
            h.subscribed(route, options);
        }
        match result {
            Ok(Some(stored)) => {
                h.unreceive(stored);
                RawState::OK
            }
            Ok(None) => RawState::OK,
            Err(e) => e.into(),
        }
    })
}

/// `ducq_sub` on a handle made elsewhere: send, then the first answer.
///
/// # Safety
/// As for `ducq_sub`, all pointers non-null.
unsafe fn subscribe_through_table(
    ducq: *mut ducq_i,
    route: *const c_char,
    options: *const c_char,
) -> Result<(), State> {
    // SAFETY: NUL-terminated (caller contract).
    let len = unsafe { bytes_arg(options) }?.len();
    // SAFETY: forwarded caller contract.
    let msg = unsafe { format_command(c"sub".as_ptr(), route, options, len) }?;
    // SAFETY: a live handle.
    unsafe { send_raw(ducq, &msg) }?;
    let mut answer = alloc::vec![0 as c_char; 256];
    let mut size = answer.len();
    // SAFETY: a live handle; `answer` writable for `size` bytes.
    match unsafe { ducq_receive(ducq, answer.as_mut_ptr(), &mut size) }.state() {
        State::Ok | State::Protocol => Ok(()),
        State::Nack => {
            let nack = answer.get(..size).unwrap_or(&[]);
            // SAFETY: c_char and u8 have the same layout.
            let nack: &[u8] =
                unsafe { core::slice::from_raw_parts(nack.as_ptr().cast(), nack.len()) };
            Err(message::nack_state(nack).unwrap_or(State::Unknown))
        }
        other => Err(other),
    }
}

/// The detail of the handle's last failure (`"could not connect to server:
/// Connection refused (os error 111)"`, `"NACK 15: message invalid"`), or
/// `""` (also for handles made elsewhere).
///
/// The string belongs to the handle and is valid until its next call.
/// NULL for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_last_error(ducq: *mut ducq_i) -> *const c_char {
    boundary(|| {
        if ducq.is_null() {
            return core::ptr::null();
        }
        // SAFETY: a live handle (caller contract).
        match unsafe { Handle::from_ptr(ducq) } {
            Some(h) => h.last_error(),
            None => c"".as_ptr(),
        }
    })
}
