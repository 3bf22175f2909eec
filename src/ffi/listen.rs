//! Listening: receive messages on a handle and hand each to a C callback
//! by kind. `ducq_listen` is the original's (whole messages, callbacks
//! return non-zero to stop, the receive state is returned);
//! `ducq_listen_ex` is ducq's (route and payload apart, the NACK's state
//! decoded, the callback's state returned). Both receive through the
//! handle's table, never keep a borrow of the handle across a callback,
//! and on ducq's own handles let a callback close, reconnect or even free
//! the handle: the free is deferred until the callback returns and the
//! listen then ends with `DUCQ_ECONNCLOSED`.

use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_void};

use super::calls::ducq_receive;
use super::handle::{self, Handle};
use super::state::RawState;
use super::vtbl::{ducq_i, ducq_recv};
use super::{boundary, c_copy};
use crate::proto::message::{classify, nack_text, Kind};
use crate::proto::{Message, State};

/// The buffer a listen starts with: the original's message size.
const FIRST_BUFFER: usize = 256;
/// The largest buffer a listen grows to for a message that does not fit.
const MAX_BUFFER: usize = 64 << 20;

/// A message callback of `ducq_listen`: the handle, the whole message
/// (NUL-terminated, `size` bytes, which the callback may modify; borrowed
/// for the call) and the listen's `ctx`. Returns 0 to keep listening.
pub type ducq_on_msg_f = Option<
    unsafe extern "C" fn(
        ducq: *mut ducq_i,
        payload: *mut c_char,
        size: usize,
        ctx: *mut c_void,
    ) -> c_int,
>;

/// The error callback of `ducq_listen`: a receive failed with `state`.
/// Returns 0 to keep listening.
pub type ducq_on_err_f =
    Option<unsafe extern "C" fn(ducq: *mut ducq_i, state: RawState, ctx: *mut c_void) -> c_int>;

/// The callbacks of `ducq_listen` (the original's layout). Each may be
/// NULL: that kind of message is skipped. The callbacks run on the
/// listening thread and may call any client function, on this handle too.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_listen_ctx {
    /// A data message (with `recv_raw`, every message).
    pub on_message: ducq_on_msg_f,
    /// ACK, PARTS, END, PING, PONG, and the keep-alive PING `ducq_receive`
    /// sends on a timeout.
    pub on_protocol: ducq_on_msg_f,
    /// A NACK (`NACK *\n<code>\n<text>`; `ducq_ack_to_state` reads it).
    pub on_nack: ducq_on_msg_f,
    /// A receive failed.
    pub on_error: ducq_on_err_f,
    /// Receive with `ducq_recv` (every message to `on_message`) instead of
    /// `ducq_receive`.
    pub recv_raw: bool,
    /// Passed to every callback; ducq never reads it.
    pub ctx: *mut c_void,
}

/// Calls one callback with our handle marked busy, so a `ducq_free` from
/// the callback is deferred. Returns the callback's value and whether the
/// handle must now be freed (and the listen end).
///
/// # Safety
/// `ducq` is a live handle; `call` calls valid C code.
unsafe fn call<R>(ducq: *mut ducq_i, call: impl FnOnce() -> R) -> (R, bool) {
    // SAFETY: a live handle; only its cells are touched, through shared
    // references that end before and after the callback.
    let ours = unsafe { Handle::from_ptr(ducq) }.map(|h| &*h);
    if let Some(h) = ours {
        h.depth.set(h.depth.get() + 1);
    }
    let out = call();
    // SAFETY: still live: a free from the callback was deferred.
    let Some(h) = (unsafe { Handle::from_ptr(ducq) }) else {
        return (out, false);
    };
    h.depth.set(h.depth.get() - 1);
    let free = h.depth.get() == 0 && h.free_pending.get();
    if free {
        // SAFETY: the deferred free: the callback is over, nothing else
        // uses the handle now.
        unsafe { handle::free_deferred(ducq) };
    }
    (out, free)
}

/// Receives one message into `buf` (grown when a message does not fit,
/// up to `MAX_BUFFER`) with `recv`; returns the state and the length.
///
/// # Safety
/// `ducq` is a live handle.
unsafe fn receive(
    ducq: *mut ducq_i,
    buf: &mut Vec<c_char>,
    recv: unsafe extern "C" fn(*mut ducq_i, *mut c_char, *mut usize) -> RawState,
) -> (State, usize) {
    loop {
        let mut size = buf.len();
        // SAFETY: a live handle; `buf` writable for `size` bytes.
        let state = unsafe { recv(ducq, buf.as_mut_ptr(), &mut size) }.state();
        if state == State::EMsgSize && size > buf.len() && size <= MAX_BUFFER {
            buf.resize(size, 0);
            continue;
        }
        return (state, size.min(buf.len()));
    }
}

/// Whether the handle is still usable after an error a callback chose to
/// ignore: always for handles made elsewhere (as in the original), after a
/// timeout, or when still (or again) connected.
///
/// # Safety
/// `ducq` is a live handle.
unsafe fn goes_on(ducq: *mut ducq_i, state: State) -> bool {
    // SAFETY: a live handle.
    state == State::ETimeout || unsafe { Handle::from_ptr(ducq) }.is_none_or(|h| h.is_connected())
}

/// Receives messages and hands each to the callback of its kind until a
/// callback returns non-zero, as the original does: data to `on_message`,
/// ACK/PARTS/END/PING/PONG to `on_protocol`, NACK to `on_nack` (all with
/// the whole message), failed receives to `on_error`. With `recv_raw`,
/// every message goes to `on_message`.
///
/// Returns the state of the last receive when a callback stopped the
/// listen (`DUCQ_OK` for a data message, `DUCQ_PROTOCOL`, `DUCQ_NACK`, or
/// the error `on_error` saw). An error with no `on_error` ends the listen
/// with that error, except a timeout, which is skipped; after `on_error`
/// returned 0 the listen goes on while the handle is connected (or
/// reconnected by the callback). Messages of any size are delivered (the
/// original's stopped at 255 bytes). A callback that frees a ducq handle
/// ends the listen with `DUCQ_ECONNCLOSED`. `*ctx` is copied at the start.
/// `DUCQ_ENULL` for NULL arguments.
///
/// # Safety
/// `ducq` is a live handle; `ctx` points to a valid `ducq_listen_ctx`
/// whose callbacks are valid functions.
#[no_mangle]
pub unsafe extern "C" fn ducq_listen(ducq: *mut ducq_i, ctx: *mut ducq_listen_ctx) -> RawState {
    boundary(|| {
        if ducq.is_null() || ctx.is_null() {
            return State::ENull.into();
        }
        // SAFETY: valid (caller contract); copied.
        let cb = unsafe { *ctx };
        let recv = if cb.recv_raw { ducq_recv } else { ducq_receive };
        let mut buf: Vec<c_char> = alloc::vec![0; FIRST_BUFFER];
        loop {
            // SAFETY: a live handle (it ends the listen when freed).
            let (state, size) = unsafe { receive(ducq, &mut buf, recv) };
            if state.is_error() {
                let Some(on_error) = cb.on_error else {
                    if state == State::ETimeout {
                        continue;
                    }
                    return state.into();
                };
                // SAFETY: a valid callback and a live handle.
                let (stop, freed) = unsafe { call(ducq, || on_error(ducq, state.into(), cb.ctx)) };
                if freed {
                    return State::EConnClosed.into();
                }
                // SAFETY: a live handle.
                if stop != 0 || !unsafe { goes_on(ducq, state) } {
                    return state.into();
                }
                continue;
            }
            let callback = match state {
                State::Ok => cb.on_message,
                State::Protocol => cb.on_protocol,
                _ => cb.on_nack,
            };
            let Some(f) = callback else { continue };
            let ptr = buf.as_mut_ptr();
            // SAFETY: a valid callback; `buf` holds the NUL-terminated
            // message and outlives the call.
            let (stop, freed) = unsafe { call(ducq, || f(ducq, ptr, size, cb.ctx)) };
            if freed {
                return State::EConnClosed.into();
            }
            if stop != 0 {
                return state.into();
            }
        }
    })
}

/// The callbacks of `ducq_listen_ex`. Every callback gets the listening
/// handle and `ctx`, and returns `DUCQ_OK` to keep listening; any other
/// value ends `ducq_listen_ex`, which returns it. A NULL callback ignores
/// that kind of message (for `on_error`: `ducq_listen_ex` returns the error).
///
/// The `char *` arguments are NUL-terminated copies the callback may modify;
/// they are freed when it returns. Callbacks run on the listening thread;
/// they may call any client function, on this handle too; they must not
/// throw C++ exceptions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_listen_ex_ctx {
    /// A data message: its route and payload (`payload_size` bytes, which
    /// may hold NUL bytes). With `recv_raw`, `route` is NULL and `payload`
    /// is the whole message as received (`pub a/b\nhello`).
    pub on_message: Option<
        unsafe extern "C" fn(
            ducq: *mut ducq_i,
            route: *mut c_char,
            payload: *mut c_char,
            payload_size: usize,
            ctx: *mut c_void,
        ) -> RawState,
    >,
    /// ACK, PARTS, END or PONG (PINGs are answered by ducq and not shown).
    pub on_protocol: Option<
        unsafe extern "C" fn(
            ducq: *mut ducq_i,
            message: *mut c_char,
            size: usize,
            ctx: *mut c_void,
        ) -> RawState,
    >,
    /// A NACK: the state it carries and its text.
    pub on_nack: Option<
        unsafe extern "C" fn(
            ducq: *mut ducq_i,
            state: RawState,
            text: *mut c_char,
            ctx: *mut c_void,
        ) -> RawState,
    >,
    /// A receive failed with `state` (`DUCQ_ETIMEOUT` when the handle's
    /// timeout passed with nothing to read). Returning `DUCQ_OK` keeps
    /// listening if the handle is still connected (after a timeout, or when
    /// the callback reconnected it with `ducq_conn`); otherwise
    /// `ducq_listen_ex` returns `state`.
    pub on_error: Option<
        unsafe extern "C" fn(ducq: *mut ducq_i, state: RawState, ctx: *mut c_void) -> RawState,
    >,
    /// Deliver data messages whole instead of split (see `on_message`).
    pub recv_raw: bool,
    /// Passed to every callback; ducq never reads it.
    pub ctx: *mut c_void,
}

/// Receives messages and hands each to the matching callback of `*listen`
/// until one returns something other than `DUCQ_OK` (that value is
/// returned) or receiving fails (see `on_error`): ducq's listen, with
/// route and payload apart and NACKs decoded. PINGs are answered
/// automatically and not shown.
///
/// A callback that closes the handle makes `ducq_listen_ex` return
/// `DUCQ_ECONNCLOSED` (unless it reconnected); one that frees a ducq handle
/// has the free deferred until it returns, and `ducq_listen_ex` then
/// returns `DUCQ_ECONNCLOSED` (the handle is gone). `*listen` is copied at
/// the start. `DUCQ_ENULL` for NULL arguments, `DUCQ_ENOIMPL` on a handle
/// lent by a reactor.
///
/// # Safety
/// `ducq` is a live handle; `listen` points to a valid
/// `ducq_listen_ex_ctx` whose callbacks are valid functions.
#[no_mangle]
pub unsafe extern "C" fn ducq_listen_ex(
    ducq: *mut ducq_i,
    listen: *const ducq_listen_ex_ctx,
) -> RawState {
    boundary(|| {
        if ducq.is_null() || listen.is_null() {
            return State::ENull.into();
        }
        // SAFETY: valid (caller contract); copied.
        let cb = unsafe { *listen };
        let mut buf: Vec<c_char> = alloc::vec![0; FIRST_BUFFER];
        loop {
            // SAFETY: a live handle (it ends the listen when freed).
            let (state, size) = unsafe { receive(ducq, &mut buf, ducq_recv) };
            let (result, freed) = if state == State::Ok {
                // SAFETY: `size` bytes of `buf` hold the message; copied
                // before any callback runs.
                let msg = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), size) };
                // SAFETY: a live handle, valid callbacks (caller contract).
                unsafe { dispatch(ducq, &cb, msg.to_vec()) }
            } else {
                let Some(on_error) = cb.on_error else {
                    return state.into();
                };
                // SAFETY: a valid callback and a live handle.
                let (r, freed) = unsafe { call(ducq, || on_error(ducq, state.into(), cb.ctx)) };
                let r = r.state();
                // SAFETY: a live handle unless freed.
                if !freed && r == State::Ok && unsafe { goes_on(ducq, state) } {
                    continue;
                }
                (if r == State::Ok { state } else { r }, freed)
            };
            if freed {
                return State::EConnClosed.into();
            }
            if result != State::Ok {
                return result.into();
            }
            // SAFETY: a live handle.
            if !unsafe { goes_on(ducq, State::Ok) } {
                return State::EConnClosed.into();
            }
        }
    })
}

/// Hands one message to its `ducq_listen_ex` callback.
///
/// # Safety
/// `ducq` is a live handle; the callbacks are valid functions.
unsafe fn dispatch(ducq: *mut ducq_i, cb: &ducq_listen_ex_ctx, msg: Vec<u8>) -> (State, bool) {
    let (state, freed) = match classify(&msg) {
        Kind::Data => {
            let Some(f) = cb.on_message else {
                return (State::Ok, false);
            };
            if cb.recv_raw {
                let mut raw = c_copy(&msg);
                let ptr = raw.as_mut_ptr().cast();
                // SAFETY: a valid callback; the copy outlives the call.
                unsafe {
                    call(ducq, || {
                        f(ducq, core::ptr::null_mut(), ptr, msg.len(), cb.ctx)
                    })
                }
            } else {
                let (route, payload) = match Message::parse(&msg) {
                    Ok(m) => (m.route, m.payload),
                    Err(_) => (&[][..], &msg[..]),
                };
                let (mut r, mut p, len) = (c_copy(route), c_copy(payload), payload.len());
                let (rp, pp) = (r.as_mut_ptr().cast(), p.as_mut_ptr().cast());
                // SAFETY: as above.
                unsafe { call(ducq, || f(ducq, rp, pp, len, cb.ctx)) }
            }
        }
        Kind::Nack(state) => {
            let Some(f) = cb.on_nack else {
                return (State::Ok, false);
            };
            let mut text = c_copy(nack_text(&msg).as_bytes());
            let ptr = text.as_mut_ptr().cast();
            // SAFETY: as above.
            unsafe { call(ducq, || f(ducq, state.into(), ptr, cb.ctx)) }
        }
        _ => {
            let Some(f) = cb.on_protocol else {
                return (State::Ok, false);
            };
            let mut m = c_copy(&msg);
            let ptr = m.as_mut_ptr().cast();
            // SAFETY: as above.
            unsafe { call(ducq, || f(ducq, ptr, msg.len(), cb.ctx)) }
        }
    };
    (state.state(), freed)
}
