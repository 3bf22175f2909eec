//! `ducq_listen`: receive messages on a client handle and hand each to a
//! C callback by kind (data, protocol, NACK, error). The loop never keeps a
//! borrow of the handle across a callback, so callbacks may send, close,
//! reconnect or free the handle; what then happens is written on
//! `ducq_listen`.

use std::ffi::{c_char, c_void};

use super::client::{ducq_i, handle};
use super::state::{ducq_state, RawState};
use super::{boundary, nonnull};
use crate::proto::message::{classify, nack_text, Kind};
use crate::proto::Message;

/// The callbacks of `ducq_listen`. Every callback gets the listening handle
/// and `ctx`, and returns `DUCQ_OK` to keep listening; any other value ends
/// `ducq_listen`, which returns it. A NULL callback ignores that kind of
/// message (for `on_error`: `ducq_listen` returns the error).
///
/// The `char *` arguments are NUL-terminated copies the callback may modify;
/// they are freed when it returns. Callbacks run on the listening thread;
/// they may call any client function, on this handle too; they must not
/// throw C++ exceptions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_listen_ctx {
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
            state: ducq_state,
            text: *mut c_char,
            ctx: *mut c_void,
        ) -> RawState,
    >,
    /// A receive failed with `state` (`DUCQ_ETIMEOUT` when the handle's
    /// timeout passed with nothing to read). Returning `DUCQ_OK` keeps
    /// listening if the handle is still connected (after a timeout, or when
    /// the callback reconnected it with `ducq_conn`); otherwise
    /// `ducq_listen` returns `state`.
    pub on_error: Option<
        unsafe extern "C" fn(ducq: *mut ducq_i, state: ducq_state, ctx: *mut c_void) -> RawState,
    >,
    /// Deliver data messages whole instead of split (see `on_message`).
    pub recv_raw: bool,
    /// Passed to every callback; ducq never reads it.
    pub ctx: *mut c_void,
}

/// A NUL-terminated copy of `bytes`.
fn c_copy(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    v.push(0);
    v
}

/// Calls one callback with the handle marked busy, so `ducq_free` from the
/// callback is deferred. Returns the callback's state and whether the
/// handle must now be freed.
///
/// # Safety
/// `ducq` is a live handle; `call` calls valid C code.
unsafe fn call(ducq: *mut ducq_i, call: impl FnOnce() -> RawState) -> (ducq_state, bool) {
    // SAFETY: live handle; only the cells are touched, through a shared
    // reference that does not outlive these statements.
    unsafe { &*ducq }
        .depth
        .set(unsafe { &*ducq }.depth.get() + 1);
    let state = call().state();
    // SAFETY: still live: a free from the callback was deferred.
    let d = unsafe { &*ducq };
    d.depth.set(d.depth.get() - 1);
    (state, d.depth.get() == 0 && d.free_pending.get())
}

/// Receives messages on a connected client handle and hands each to the
/// matching callback of `*listen` until one returns something other than
/// `DUCQ_OK` (that value is returned) or receiving fails (see `on_error`).
/// PINGs are answered automatically.
///
/// Callback misbehaviour is handled: a callback that closes the handle makes
/// `ducq_listen` return `DUCQ_ECONNCLOSED` (unless it reconnected); one that
/// frees the handle has the free deferred until it returns, and
/// `ducq_listen` then returns `DUCQ_ECONNCLOSED` (the handle is gone).
/// `*listen` is copied at the start. `DUCQ_ENULL` for NULL arguments,
/// `DUCQ_ENOIMPL` on a server-side handle.
///
/// # Safety
/// `ducq` is a live client handle; `listen` points to a valid
/// `ducq_listen_ctx` whose callbacks are valid functions.
#[no_mangle]
pub unsafe extern "C" fn ducq_listen(
    ducq: *mut ducq_i,
    listen: *const ducq_listen_ctx,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, listen);
        // SAFETY: valid pointer (caller contract); copied.
        let cb = unsafe { *listen };
        loop {
            // SAFETY: live handle; this borrow ends before any callback.
            let received = unsafe { handle(ducq) }.receive_msg();
            let (state, free) = match received {
                Err(e) => {
                    let Some(on_error) = cb.on_error else {
                        return e;
                    };
                    // SAFETY: valid callback and handle (caller contract).
                    let (state, free) = unsafe { call(ducq, || on_error(ducq, e, cb.ctx)) };
                    // SAFETY: live handle unless `free`.
                    let reconnected = !free && unsafe { &*ducq }.is_connected();
                    let keep_going = state == ducq_state::DUCQ_OK && reconnected;
                    if free {
                        // SAFETY: deferred free: no one else uses it now.
                        unsafe { super::client::ducq_free(ducq) };
                        return ducq_state::DUCQ_ECONNCLOSED;
                    }
                    if keep_going {
                        continue;
                    }
                    return if state == ducq_state::DUCQ_OK {
                        e
                    } else {
                        state
                    };
                }
                Ok(msg) => dispatch(ducq, &cb, msg),
            };
            if free {
                // SAFETY: the deferred free: the callback is over.
                unsafe { super::client::ducq_free(ducq) };
                return ducq_state::DUCQ_ECONNCLOSED;
            }
            if state != ducq_state::DUCQ_OK {
                return state;
            }
            // SAFETY: live handle.
            if !unsafe { &*ducq }.is_connected() {
                return ducq_state::DUCQ_ECONNCLOSED;
            }
        }
    })
}

/// Hands one message to its callback.
fn dispatch(ducq: *mut ducq_i, cb: &ducq_listen_ctx, msg: Vec<u8>) -> (ducq_state, bool) {
    match classify(&msg) {
        Kind::Data => {
            let Some(f) = cb.on_message else {
                return (ducq_state::DUCQ_OK, false);
            };
            if cb.recv_raw {
                let mut raw = c_copy(&msg);
                // SAFETY: valid callback (caller contract); the copy outlives the call.
                return unsafe {
                    call(ducq, || {
                        f(
                            ducq,
                            std::ptr::null_mut(),
                            raw.as_mut_ptr().cast(),
                            msg.len(),
                            cb.ctx,
                        )
                    })
                };
            }
            let (route, payload) = match Message::parse(&msg) {
                Ok(m) => (m.route, m.payload),
                Err(_) => (&[][..], &msg[..]),
            };
            let (mut r, mut p, len) = (c_copy(route), c_copy(payload), payload.len());
            // SAFETY: as above.
            unsafe {
                call(ducq, || {
                    f(
                        ducq,
                        r.as_mut_ptr().cast(),
                        p.as_mut_ptr().cast(),
                        len,
                        cb.ctx,
                    )
                })
            }
        }
        Kind::Nack(state) => {
            let Some(f) = cb.on_nack else {
                return (ducq_state::DUCQ_OK, false);
            };
            let mut text = c_copy(nack_text(&msg).as_bytes());
            // SAFETY: as above.
            unsafe {
                call(ducq, || {
                    f(ducq, state.into(), text.as_mut_ptr().cast(), cb.ctx)
                })
            }
        }
        _ => {
            let Some(f) = cb.on_protocol else {
                return (ducq_state::DUCQ_OK, false);
            };
            let mut m = c_copy(&msg);
            // SAFETY: as above.
            unsafe { call(ducq, || f(ducq, m.as_mut_ptr().cast(), msg.len(), cb.ctx)) }
        }
    }
}
