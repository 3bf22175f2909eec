//! The device's C API: every function `libducq_embedded.a` exports, with
//! the signatures `ducq.h` gives them, and the device's own additions
//! (`ducq_seed_entropy`, `ducq_set_limits`). Each checks its pointers,
//! converts, and calls [`Handle`] or the core; the rules live there.
//!
//! Built with `panic = abort`: nothing here unwinds, and nothing may panic
//! (indexing and arithmetic are checked by construction).
//!
//! Over 600 lines by design: the whole C surface in one file, so the
//! original API's call forms can replace today's in one place; about half
//! of it is the doc comments that become the header's.

use alloc::boxed::Box;
use alloc::ffi::CString;
use alloc::vec::Vec;
use core::cell::Cell;
use core::ffi::{c_char, c_int, c_void, CStr};
use core::time::Duration;

use ducq::proto::message::{self, classify, nack_text, Kind};
use ducq::proto::{Message, State, ACK, END, PARTS};

use crate::handle::{invalid, Failure, Handle};
use crate::layer::{ducq_vtbl, Layer};
use crate::types::{ducq_listen_ctx, RawState};

/// A client connection to a ducq server over a socket layer.
///
/// Handles come from `ducq_new_vtbl` or `ducq_copy` (and from the
/// platform's `ducq_new_tcp`); the caller owns them and frees them with
/// `ducq_free`. A handle may move between threads (tasks) but is used by
/// one at a time.
pub struct ducq_i {
    handle: Handle,
    /// The string `ducq_id` last returned.
    id: CString,
    /// The detail of the last failure, for `ducq_last_error`.
    error: CString,
    /// `ducq_listen` callbacks running on this handle.
    depth: Cell<u32>,
    /// `ducq_free` was called during a callback: free when it returns.
    free_pending: Cell<bool>,
}

impl ducq_i {
    fn boxed(handle: Handle) -> *mut ducq_i {
        Box::into_raw(Box::new(ducq_i {
            handle,
            id: CString::default(),
            error: CString::default(),
            depth: Cell::new(0),
            free_pending: Cell::new(false),
        }))
    }

    /// Records a failure for `ducq_last_error`; returns its state.
    fn fail(&mut self, f: Failure) -> RawState {
        let bytes: Vec<u8> = f
            .detail
            .into_bytes()
            .into_iter()
            .filter(|&b| b != 0)
            .collect();
        self.error = CString::new(bytes).unwrap_or_default();
        f.state.into()
    }

    /// The state of a result, its failure recorded.
    fn status(&mut self, r: Result<(), Failure>) -> RawState {
        match r {
            Ok(()) => State::Ok.into(),
            Err(f) => self.fail(f),
        }
    }
}

/// Returns `DUCQ_ENULL` from the enclosing function when a pointer is null.
macro_rules! nonnull {
    ($($p:expr),+ $(,)?) => {
        $(
            if $p.is_null() {
                return State::ENull.into();
            }
        )+
    };
}

/// Borrows a handle for the length of one export.
///
/// # Safety
/// `p` is non-null and a live handle not borrowed elsewhere for the call.
unsafe fn handle<'a>(p: *mut ducq_i) -> &'a mut ducq_i {
    // SAFETY: guaranteed by the caller. Exports never keep this borrow
    // across a call into C, so a callback using the same handle is safe.
    unsafe { &mut *p }
}

/// Borrows a NUL-terminated C string as bytes.
///
/// # Safety
/// `p` is non-null and NUL-terminated, valid for `'a`.
unsafe fn bytes_arg<'a>(p: *const c_char) -> &'a [u8] {
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

/// Borrows a NUL-terminated C string as UTF-8.
///
/// # Safety
/// As for [`bytes_arg`].
unsafe fn str_arg<'a>(p: *const c_char) -> Option<&'a str> {
    // SAFETY: forwarded caller contract.
    core::str::from_utf8(unsafe { bytes_arg(p) }).ok()
}

/// Borrows `len` bytes at `p`; NULL is an empty slice when `len` is 0.
///
/// # Safety
/// When `len > 0`, `p` points to `len` readable bytes valid for `'a`.
unsafe fn slice_arg<'a>(p: *const c_void, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and `len` readable bytes (caller contract).
    Some(unsafe { core::slice::from_raw_parts(p.cast(), len) })
}

/// Copies `msg` into a buffer of `*size` bytes, NUL-terminated, and
/// stores its length in `*size`; when it does not fit, stores the size
/// needed and returns `DUCQ_EMSGSIZE`.
///
/// # Safety
/// `buf` points to `*size` writable bytes; `size` is valid.
unsafe fn copy_out(msg: &[u8], buf: *mut c_char, size: *mut usize) -> State {
    // SAFETY: `size` is valid (caller contract).
    let cap = unsafe { *size };
    if msg.len() >= cap {
        // SAFETY: as above.
        unsafe { *size = msg.len().saturating_add(1) };
        return State::EMsgSize;
    }
    // SAFETY: `buf` has `cap > msg.len()` writable bytes, distinct from
    // `msg` (ducq's own memory).
    unsafe {
        core::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), msg.len());
        *buf.add(msg.len()) = 0;
        *size = msg.len();
    }
    State::Ok
}

/// Creates an unconnected client handle that runs ducq over a socket layer
/// written in C (`vtbl`, see `struct ducq_vtbl`). Connect it with
/// `ducq_conn`; every client function then works on it.
///
/// `vtbl` is copied; `ctx` is borrowed: it is passed to the functions and
/// must stay valid until the handle (and every `ducq_copy` of it, which
/// share it) is freed. ducq never frees `ctx`. Returns NULL when `vtbl` is
/// NULL or lacks `send` or `recv`. The caller owns the handle.
///
/// # Safety
/// `vtbl` is NULL or points to a valid `ducq_vtbl` whose functions are
/// valid for `ctx`.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_vtbl(vtbl: *const ducq_vtbl, ctx: *mut c_void) -> *mut ducq_i {
    // SAFETY: NULL or valid (caller contract); copied.
    let Some(vtbl) = (unsafe { vtbl.as_ref() }).copied() else {
        return core::ptr::null_mut();
    };
    if vtbl.send.is_none() || vtbl.recv.is_none() {
        return core::ptr::null_mut();
    }
    ducq_i::boxed(Handle::new(Layer { vtbl, ctx }))
}

// `ducq_i` is opaque to C: only pointers to it cross.
#[allow(improper_ctypes)]
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
}

/// Device only. Like `ducq_new_vtbl`, but the handle keeps its own copy of
/// the layer's context: `ctx_size` bytes copied from `ctx` (aligned for any
/// object), passed to the layer's functions and freed with the handle. A
/// `ducq_copy` gets a fresh copy of the same `ctx` bytes. This is how a
/// platform port makes `ducq_new_tcp(host, port)`: its context (a socket
/// descriptor, the host and port) lives and dies with the handle.
///
/// `ctx` is only read during the call. Returns NULL when `vtbl` is NULL or
/// lacks `send` or `recv`, or `ctx` is NULL with a size. The caller owns
/// the handle.
///
/// # Safety
/// `vtbl` is NULL or a valid `ducq_vtbl`; `ctx` is readable for `ctx_size`
/// bytes; the functions accept a copy of those bytes as their context.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_socket_ctx(
    vtbl: *const ducq_vtbl,
    ctx: *const c_void,
    ctx_size: usize,
) -> *mut ducq_i {
    // SAFETY: NULL or valid (caller contract); copied.
    let Some(vtbl) = (unsafe { vtbl.as_ref() }).copied() else {
        return core::ptr::null_mut();
    };
    // SAFETY: readable for `ctx_size` bytes (caller contract); copied.
    let Some(template) = (unsafe { slice_arg(ctx, ctx_size) }) else {
        return core::ptr::null_mut();
    };
    if vtbl.send.is_none() || vtbl.recv.is_none() {
        return core::ptr::null_mut();
    }
    ducq_i::boxed(Handle::with_own_ctx(vtbl, template))
}

/// Connects a client handle (closing its current connection first) through
/// its socket layer's `conn`, within the handle's timeout.
///
/// The state the layer's `conn` answered when it failed (`DUCQ_ECONNECT`
/// for a non-error one), `DUCQ_ETIMEOUT` when the server does not answer
/// in time (`ducq_last_error` has the detail), `DUCQ_ENULL` for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_conn(ducq: *mut ducq_i) -> RawState {
    nonnull!(ducq);
    // SAFETY: live handle (caller contract).
    let d = unsafe { handle(ducq) };
    let r = d.handle.connect();
    d.status(r)
}

/// Closes the connection (the layer's `close` runs). The handle stays
/// usable: `ducq_conn` reconnects it. Closing a closed handle is
/// `DUCQ_OK`. `DUCQ_ENULL` for NULL. Safe from a `ducq_listen` callback on
/// the same handle (the listen then returns `DUCQ_ECONNCLOSED`).
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_close(ducq: *mut ducq_i) -> RawState {
    nonnull!(ducq);
    // SAFETY: live handle (caller contract).
    unsafe { handle(ducq) }.handle.close();
    State::Ok.into()
}

/// Frees a handle, closing its connection. `ducq_free(NULL)` is a no-op.
/// Called from a `ducq_listen` callback on the same handle, the free
/// happens when that callback returns (the listen returns
/// `DUCQ_ECONNCLOSED` and the handle must not be used again).
///
/// # Safety
/// `ducq` is NULL or a handle this library returned that was not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ducq_free(ducq: *mut ducq_i) {
    if ducq.is_null() {
        return;
    }
    // SAFETY: live handle (caller contract).
    let d = unsafe { handle(ducq) };
    if d.depth.get() > 0 {
        d.free_pending.set(true);
        d.handle.close();
        return;
    }
    // SAFETY: made by Box::into_raw in `ducq_i::boxed`, freed once.
    drop(unsafe { Box::from_raw(ducq) });
}

/// Sends one message: `*count` bytes of `buf`, framed. On success `*count`
/// holds the number of message bytes sent (all of them). `buf` is only read
/// during the call. `DUCQ_ECONNCLOSED` when not connected, `DUCQ_EWRITE`
/// when writing fails, `DUCQ_ENULL` for NULL pointers.
///
/// # Safety
/// `ducq` is a live handle, `count` valid, `buf` readable for `*count` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_send(
    ducq: *mut ducq_i,
    buf: *const c_void,
    count: *mut usize,
) -> RawState {
    nonnull!(ducq, count);
    // SAFETY: valid pointers (caller contract).
    let (d, len) = unsafe { (handle(ducq), *count) };
    // SAFETY: readable for `len` bytes (caller contract).
    let Some(msg) = (unsafe { slice_arg(buf, len) }) else {
        return State::ENull.into();
    };
    let r = d.handle.run(|c| c.send(msg));
    d.status(r)
}

/// Receives one message into the caller's buffer; returns its kind.
///
/// # Safety
/// `buf` is writable for `*size` bytes, `size` valid.
unsafe fn receive_into(
    d: &mut ducq_i,
    buf: *mut c_char,
    size: *mut usize,
) -> Result<Kind, RawState> {
    let msg = d.handle.run(|c| c.receive()).map_err(|f| d.fail(f))?;
    // SAFETY: forwarded caller contract.
    match unsafe { copy_out(&msg, buf, size) } {
        State::Ok => Ok(classify(&msg)),
        e => {
            let _ = d.handle.run(|c| {
                c.unreceive(msg);
                Ok(())
            });
            Err(e.into())
        }
    }
}

/// Receives the next message into `buf`, NUL-terminated (PINGs from the
/// server are answered and skipped). Any message counts: data, ACK, NACK,
/// PARTS, END, PONG; see `ducq_receive` to have it classified.
///
/// `*size` is the capacity of `buf` on entry and the message length (NUL
/// excluded) on success. When the message does not fit, it stays queued for
/// the next call, `*size` receives the capacity needed, and `DUCQ_EMSGSIZE`
/// is returned. Waits at most the handle's timeout (`DUCQ_ETIMEOUT`).
/// `DUCQ_ECONNCLOSED` when the server closed.
///
/// # Safety
/// `ducq` is a live handle, `size` valid, `buf` writable for `*size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_recv(
    ducq: *mut ducq_i,
    buf: *mut c_char,
    size: *mut usize,
) -> RawState {
    nonnull!(ducq, buf, size);
    // SAFETY: valid pointers (caller contract).
    match unsafe { receive_into(handle(ducq), buf, size) } {
        Ok(_) => State::Ok.into(),
        Err(e) => e,
    }
}

/// Like `ducq_recv`, and tells what arrived: `DUCQ_OK` for a data message,
/// `DUCQ_PROTOCOL` for ACK, PARTS, END and PONG, `DUCQ_NACK` for a NACK.
/// Errors as for `ducq_recv`.
///
/// # Safety
/// As for `ducq_recv`.
#[no_mangle]
pub unsafe extern "C" fn ducq_receive(
    ducq: *mut ducq_i,
    buf: *mut c_char,
    size: *mut usize,
) -> RawState {
    nonnull!(ducq, buf, size);
    // SAFETY: valid pointers (caller contract).
    match unsafe { receive_into(handle(ducq), buf, size) } {
        Ok(Kind::Data) => State::Ok.into(),
        Ok(Kind::Nack(_)) => State::Nack.into(),
        Ok(_) => State::Protocol.into(),
        Err(e) => e,
    }
}

/// Sends one whole message body on a connected handle.
///
/// # Safety
/// `ducq` is NULL or a live handle.
unsafe fn send_body(ducq: *mut ducq_i, body: &[u8]) -> RawState {
    nonnull!(ducq);
    // SAFETY: live handle (caller contract).
    let d = unsafe { handle(ducq) };
    let r = d.handle.run(|c| c.send(body));
    d.status(r)
}

/// Sends `PARTS`, the first message of a multipart reply. Errors as for
/// `ducq_send`.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_parts(ducq: *mut ducq_i) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { send_body(ducq, PARTS) }
}

/// Sends `END`, the last message of a multipart reply. Errors as for
/// `ducq_send`.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_end(ducq: *mut ducq_i) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { send_body(ducq, END) }
}

/// Sends `ACK` when `state` is `DUCQ_OK`, otherwise
/// `NACK *\n<code>\n<text>` for `state`. Returns the send's error when
/// sending failed, otherwise `state` itself.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_send_ack(ducq: *mut ducq_i, state: RawState) -> RawState {
    let state = state.state();
    let body = if state == State::Ok {
        ACK.to_vec()
    } else {
        message::nack(state)
    };
    // SAFETY: forwarded caller contract.
    match unsafe { send_body(ducq, &body) }.state() {
        State::Ok => state.into(),
        e => e.into(),
    }
}

/// Sends `<command> <route>\n<payload>` and returns without waiting for a
/// reply (read it with `ducq_receive`). When `close` is true the connection
/// is closed once the message is sent.
///
/// `payload` (`payload_size` bytes, may hold NUL bytes) may be NULL when
/// `payload_size` is 0. `DUCQ_EMSGINV` for a command holding a space or
/// newline, or a route holding a newline. Errors as for `ducq_send`.
///
/// # Safety
/// `ducq` is a live handle, `command` and `route` NUL-terminated, `payload`
/// readable for `payload_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_emit(
    ducq: *mut ducq_i,
    command: *const c_char,
    route: *const c_char,
    payload: *const c_char,
    payload_size: usize,
    close: bool,
) -> RawState {
    nonnull!(ducq, command, route);
    // SAFETY: valid pointers (caller contract).
    let (d, command, route) = unsafe { (handle(ducq), bytes_arg(command), bytes_arg(route)) };
    // SAFETY: readable for `payload_size` bytes (caller contract).
    let Some(payload) = (unsafe { slice_arg(payload.cast(), payload_size) }) else {
        return State::ENull.into();
    };
    if command.is_empty() || command.contains(&b' ') || command.contains(&b'\n') {
        return d.fail(invalid("command"));
    }
    if route.contains(&b'\n') {
        return d.fail(invalid("route"));
    }
    let r = d
        .handle
        .run(|c| c.send(&message::format(command, route, payload)));
    if close && r.is_ok() {
        d.handle.close();
    }
    d.status(r)
}

/// Publishes `payload` (`payload_size` bytes, may be NULL when 0) on
/// `route` and waits for the server's ACK. Data messages arriving meanwhile
/// are kept for the next receive.
///
/// `DUCQ_OK` on ACK; on a NACK, the state it carries (`ducq_last_error`
/// has its text); `DUCQ_ETIMEOUT` when no answer came within the handle's
/// timeout; `DUCQ_ECONNCLOSED` when not connected.
///
/// # Safety
/// `ducq` is a live handle, `route` NUL-terminated, `payload` readable for
/// `payload_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_pub(
    ducq: *mut ducq_i,
    route: *const c_char,
    payload: *const c_char,
    payload_size: usize,
) -> RawState {
    nonnull!(ducq, route);
    // SAFETY: valid pointers (caller contract).
    let (d, route) = unsafe { (handle(ducq), str_arg(route)) };
    // SAFETY: readable for `payload_size` bytes (caller contract).
    let Some(payload) = (unsafe { slice_arg(payload.cast(), payload_size) }) else {
        return State::ENull.into();
    };
    let Some(route) = route else {
        return d.fail(invalid("route"));
    };
    let r = d.handle.run(|c| c.publish(route, payload));
    d.status(r)
}

/// `ducq_pub` with a NUL-terminated payload, as device code calls it; it
/// connects the handle first when it is not connected.
///
/// # Safety
/// `ducq` is a live handle; `route` and `payload` are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_publish(
    ducq: *mut ducq_i,
    route: *const c_char,
    payload: *const c_char,
) -> RawState {
    nonnull!(ducq, route, payload);
    // SAFETY: valid pointers (caller contract).
    let (d, route, payload) = unsafe { (handle(ducq), str_arg(route), bytes_arg(payload)) };
    let Some(route) = route else {
        return d.fail(invalid("route"));
    };
    let r = d.handle.run_connected(|c| c.publish(route, payload));
    d.status(r)
}

/// Subscribes to `route` (`*` matches anything) and waits for the answer.
/// `options` may be NULL or hold space-separated options: `last` (the
/// server answers with the stored last message instead of ACK) and `add`
/// (keep the other subscriptions of this connection).
///
/// `DUCQ_OK` on ACK or on a stored message; that message then comes first
/// from `ducq_receive` / `ducq_listen`. On a NACK, the state it carries.
/// Other errors as for `ducq_pub`.
///
/// # Safety
/// `ducq` is a live handle; `route` and non-null `options` are
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_sub(
    ducq: *mut ducq_i,
    route: *const c_char,
    options: *const c_char,
) -> RawState {
    nonnull!(ducq, route);
    // SAFETY: valid pointers (caller contract).
    let (d, route) = unsafe { (handle(ducq), str_arg(route)) };
    let options = if options.is_null() {
        Some("")
    } else {
        // SAFETY: NUL-terminated (caller contract).
        unsafe { str_arg(options) }
    };
    let (Some(route), Some(options)) = (route, options) else {
        return d.fail(invalid("route or options"));
    };
    let r = d.handle.run(|c| {
        if let Some(stored) = c.subscribe(route, options)? {
            c.unreceive(stored);
        }
        Ok(())
    });
    d.status(r)
}

/// Calls one `ducq_listen` callback with the handle marked busy, so a
/// `ducq_free` from the callback is deferred. Returns the callback's state
/// and whether the handle must now be freed.
///
/// # Safety
/// `ducq` is a live handle; `call` calls valid C code.
unsafe fn callback(ducq: *mut ducq_i, call: impl FnOnce() -> RawState) -> (State, bool) {
    // SAFETY: live handle; only its cells are touched, through a shared
    // reference that ends before the callback runs.
    let depth = unsafe { &(*ducq).depth };
    depth.set(depth.get() + 1);
    let state = call().state();
    // SAFETY: still live: a free from the callback was deferred.
    let d = unsafe { &*ducq };
    d.depth.set(d.depth.get() - 1);
    (state, d.depth.get() == 0 && d.free_pending.get())
}

/// A NUL-terminated copy of `bytes`, for a callback to read (or modify).
fn c_copy(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    v.push(0);
    v
}

/// Hands one message to its callback.
///
/// # Safety
/// `ducq` is a live handle; the callbacks of `cb` are valid.
unsafe fn dispatch(ducq: *mut ducq_i, cb: &ducq_listen_ctx, msg: &[u8]) -> (State, bool) {
    let ok = (State::Ok, false);
    match classify(msg) {
        Kind::Data => {
            let Some(f) = cb.on_message else { return ok };
            let (mut route, mut payload, len) = if cb.recv_raw {
                (None, c_copy(msg), msg.len())
            } else {
                let (r, p) = match Message::parse(msg) {
                    Ok(m) => (m.route, m.payload),
                    Err(_) => (&[][..], msg),
                };
                (Some(c_copy(r)), c_copy(p), p.len())
            };
            let route = route
                .as_mut()
                .map_or(core::ptr::null_mut(), |r| r.as_mut_ptr().cast());
            // SAFETY: a valid callback (caller contract); the copies
            // outlive the call.
            unsafe {
                callback(ducq, || {
                    f(ducq, route, payload.as_mut_ptr().cast(), len, cb.ctx)
                })
            }
        }
        Kind::Nack(state) => {
            let Some(f) = cb.on_nack else { return ok };
            let mut text = c_copy(nack_text(msg).as_bytes());
            // SAFETY: as above.
            unsafe {
                callback(ducq, || {
                    f(ducq, state.into(), text.as_mut_ptr().cast(), cb.ctx)
                })
            }
        }
        _ => {
            let Some(f) = cb.on_protocol else { return ok };
            let mut m = c_copy(msg);
            // SAFETY: as above.
            unsafe { callback(ducq, || f(ducq, m.as_mut_ptr().cast(), msg.len(), cb.ctx)) }
        }
    }
}

/// What the listen loop does after a callback.
enum Next {
    Go,
    Return(State),
}

/// After a receive failed with `e`: asks `on_error`, which may reconnect.
///
/// # Safety
/// As for [`dispatch`].
unsafe fn on_failure(ducq: *mut ducq_i, cb: &ducq_listen_ctx, e: RawState) -> Next {
    let Some(on_error) = cb.on_error else {
        return Next::Return(e.state());
    };
    // SAFETY: valid callback and handle (caller contract).
    let (state, free) = unsafe { callback(ducq, || on_error(ducq, e, cb.ctx)) };
    if free {
        // SAFETY: the deferred free: the callback is over.
        unsafe { ducq_free(ducq) };
        return Next::Return(State::EConnClosed);
    }
    // SAFETY: live handle.
    let connected = unsafe { &*ducq }.handle.is_connected();
    match state {
        State::Ok if connected => Next::Go,
        State::Ok => Next::Return(e.state()),
        other => Next::Return(other),
    }
}

/// Receives messages on a connected client handle and hands each to the
/// matching callback of `*listen` until one returns something other than
/// `DUCQ_OK` (that value is returned) or receiving fails (see `on_error`).
/// PINGs are answered automatically.
///
/// A callback that closes the handle makes `ducq_listen` return
/// `DUCQ_ECONNCLOSED` (unless it reconnected); one that frees the handle
/// has the free deferred until it returns, and `ducq_listen` then returns
/// `DUCQ_ECONNCLOSED` (the handle is gone). `*listen` is copied at the
/// start. `DUCQ_ENULL` for NULL arguments.
///
/// # Safety
/// `ducq` is a live client handle; `listen` points to a valid
/// `ducq_listen_ctx` whose callbacks are valid functions.
#[no_mangle]
pub unsafe extern "C" fn ducq_listen(
    ducq: *mut ducq_i,
    listen: *const ducq_listen_ctx,
) -> RawState {
    nonnull!(ducq, listen);
    // SAFETY: valid pointer (caller contract); copied.
    let cb = unsafe { *listen };
    loop {
        // SAFETY: live handle; this borrow ends before any callback.
        let d = unsafe { handle(ducq) };
        let next = match d.handle.run(|c| c.receive()) {
            Err(f) => {
                let e = d.fail(f);
                // SAFETY: forwarded caller contract.
                unsafe { on_failure(ducq, &cb, e) }
            }
            Ok(msg) => {
                // SAFETY: forwarded caller contract.
                match unsafe { dispatch(ducq, &cb, &msg) } {
                    (_, true) => {
                        // SAFETY: the deferred free: the callback is over.
                        unsafe { ducq_free(ducq) };
                        Next::Return(State::EConnClosed)
                    }
                    (State::Ok, false) => Next::Go,
                    (other, false) => Next::Return(other),
                }
            }
        };
        match next {
            Next::Return(s) => return s.into(),
            // SAFETY: live handle (not freed: that returned above).
            Next::Go if !unsafe { &*ducq }.handle.is_connected() => {
                return State::EConnClosed.into()
            }
            Next::Go => {}
        }
    }
}

/// The handle's id: `TCP:` and this end's address as the socket layer's
/// `id` gives it (`TCP:` alone when unknown or not connected).
///
/// The string belongs to the handle: valid until the handle is closed,
/// reconnected or freed. Returns NULL for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_id(ducq: *mut ducq_i) -> *const c_char {
    if ducq.is_null() {
        return core::ptr::null();
    }
    // SAFETY: live handle (caller contract).
    let d = unsafe { handle(ducq) };
    let id: Vec<u8> = d
        .handle
        .id()
        .into_bytes()
        .into_iter()
        .filter(|&b| b != 0)
        .collect();
    if d.id.as_bytes() != id.as_slice() {
        d.id = CString::new(id).unwrap_or_default();
    }
    d.id.as_ptr()
}

/// Whether two handles name the same connection: the same id when both
/// are connected, the same socket-layer context otherwise. False when
/// either is NULL.
///
/// # Safety
/// Non-null arguments are live handles.
#[no_mangle]
pub unsafe extern "C" fn ducq_eq(a: *mut ducq_i, b: *mut ducq_i) -> bool {
    if a.is_null() || b.is_null() {
        return false;
    }
    if a == b {
        return true;
    }
    // SAFETY: live handles (caller contract); only read.
    let (a, b) = unsafe { (&*a, &*b) };
    a.handle.same_as(&b.handle)
}

/// A new, unconnected handle with the same socket layer (sharing its
/// `ctx`), timeout and limits. The caller owns the copy and frees it with
/// `ducq_free`. NULL for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_copy(ducq: *mut ducq_i) -> *mut ducq_i {
    // SAFETY: NULL or a live handle (caller contract).
    match unsafe { ducq.as_ref() } {
        Some(d) => ducq_i::boxed(d.handle.copy()),
        None => core::ptr::null_mut(),
    }
}

/// Sets how long connecting and each receive may wait, in seconds; 0 or
/// less waits without limit. Applies to the current connection and later
/// ones.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_timeout(ducq: *mut ducq_i, timeout: c_int) -> RawState {
    nonnull!(ducq);
    // SAFETY: live handle (caller contract).
    let d = unsafe { handle(ducq) };
    let t = u64::try_from(timeout)
        .ok()
        .filter(|&s| s > 0)
        .map(Duration::from_secs);
    let r = d.handle.set_timeout(t);
    d.status(r)
}

/// Kept for programs written for the original library: a documented no-op
/// here (`DUCQ_OK`; `DUCQ_ENULL` for NULL).
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reuseaddr(ducq: *mut ducq_i) -> RawState {
    nonnull!(ducq);
    State::Ok.into()
}

/// The detail of the handle's last failure (a NACK's text, what the socket
/// layer refused), or `""`. The string belongs to the handle and is valid
/// until its next call. NULL for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_last_error(ducq: *mut ducq_i) -> *const c_char {
    // SAFETY: NULL or a live handle (caller contract).
    match unsafe { ducq.as_ref() } {
        Some(d) => d.error.as_ptr(),
        None => core::ptr::null(),
    }
}

/// The text of a state, e.g. `"message invalid"` for `DUCQ_EMSGINV`. Takes
/// any int: a negative code counts as its absolute value, anything above
/// the last code (24) gives the text of `DUCQ_UNKNOWN`. Never NULL; static.
#[no_mangle]
pub extern "C" fn ducq_state_tostr(state: c_int) -> *const c_char {
    RawState(state).state().c_text().as_ptr()
}

/// The short name of a state without its `DUCQ_` prefix, e.g. `"EMSGINV"`.
/// Folds its argument like `ducq_state_tostr`. Never NULL; static.
#[no_mangle]
pub extern "C" fn ducq_state_short(state: c_int) -> *const c_char {
    RawState(state).state().c_short_name().as_ptr()
}

/// The version of the linked library, e.g. `"0.1.0"`. Static.
#[no_mangle]
pub extern "C" fn ducq_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Device only. Mixes `seed` into the entropy pool from which WebSocket
/// masking keys and handshake nonces are drawn: call it once at start-up
/// with the platform's random source (`esp_random()` on ESP-IDF), before
/// the first connection. Safe from any thread; calling it again adds to
/// the pool.
#[no_mangle]
pub extern "C" fn ducq_seed_entropy(seed: u64) {
    ducq::transport::ws::entropy::seed_entropy(seed);
}

/// Device only. Sets how many bytes the handle's input buffer grows by for
/// one read (`read_chunk`, 1024 by default; a frame whose header tells its
/// length gets room for all of it) and the largest message it accepts
/// (`max_message`, 16384 by default: a larger one is skipped as it
/// arrives, never buffered). 0 keeps a value. The chunk applies at once,
/// the maximum from the next `ducq_conn`. `DUCQ_ENULL` for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_set_limits(
    ducq: *mut ducq_i,
    read_chunk: usize,
    max_message: usize,
) -> RawState {
    nonnull!(ducq);
    // SAFETY: live handle (caller contract).
    unsafe { handle(ducq) }
        .handle
        .set_limits(read_chunk, max_message);
    State::Ok.into()
}
