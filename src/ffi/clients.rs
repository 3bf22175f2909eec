//! A reactor's clients for C: the original's loop, iterator, subscribe,
//! delete and last-message calls, ducq's publish and binary-safe last
//! messages, and the original way to feed a reactor descriptors accepted
//! outside it (`ducq_reactor_add_client`, `ducq_reactor_add_server`). The
//! rules are the server's ([`crate::server::clients`],
//! [`crate::server::actions`], [`crate::server::adopt`]); this converts.

use std::ffi::{c_char, c_int, c_void, CString};
use std::rc::Rc;

use super::access::FfiCtx;
use super::fdconn::FdSide;
use super::foreign;
use super::handle::{Handle, Kind};
use super::lent::ServerSide;
use super::reactor::{ducq_reactor, reactor_ref};
use super::state::RawState;
use super::vtbl::ducq_i;
use super::{boundary, boundary_state, bytes_arg, c_copy, copy_out, nonnull, slice_arg};
use crate::proto::{State, ACK};
use crate::server::clients::{self, WalkError};
use crate::server::{actions, adopt, ConnId};

/// What a `ducq_reactor_loop` callback tells the loop (bits: `DUCQ_LOOP_DELETE
/// | DUCQ_LOOP_BREAK` deletes and stops).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ducq_loop_t {
    /// Go on with the next client.
    DUCQ_LOOP_CONTINUE = 0,
    /// Stop the loop.
    DUCQ_LOOP_BREAK = 1,
    /// Delete this client, then go on.
    DUCQ_LOOP_DELETE = 2,
}

/// A `ducq_loop_t` as C returns it: any int. `ducq_loop_t` in the header.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLoop(pub c_int);

/// The callback of `ducq_reactor_loop`: a client (lent for the call, the
/// same pointer as in its commands), one of its subscription routes (a
/// NUL-terminated copy, `""` when it has none; a client with several
/// routes is visited once per route), and the loop's `ctx`.
pub type ducq_loop_f = Option<
    unsafe extern "C" fn(ducq: *mut ducq_i, route: *mut c_char, ctx: *mut c_void) -> RawLoop,
>;

/// The client `ducq` names in the reactor of `ctx`.
///
/// # Safety
/// `ducq` is a live handle.
unsafe fn client_of(ctx: &Rc<FfiCtx>, ducq: *mut ducq_i) -> Result<ConnId, State> {
    // SAFETY: a live handle (caller contract).
    match unsafe { Handle::from_ptr(ducq) }.map(|h| &h.kind) {
        Some(Kind::Server(s)) if s.belongs_to(ctx) => Ok(s.conn()),
        _ => Err(State::ENotFound),
    }
}

/// Calls `apply(client, route, ctx)` for every client and subscription
/// route of the reactor (a snapshot taken now; clients closed meanwhile are
/// skipped), in connection order, until a result holds `DUCQ_LOOP_BREAK`;
/// a result holding `DUCQ_LOOP_DELETE` deletes that client: it gets no more
/// publications and is closed once what was queued for it is written.
/// Returns the last result (`DUCQ_LOOP_CONTINUE` when there was no client).
///
/// The `ducq_i` given to `apply` is lent for that call: it may be used with
/// `ducq_send`, `ducq_id`, `ducq_eq`, `ducq_copy` (to keep it), and
/// `ducq_reactor_*` functions, never freed. Works from a C command and
/// while the reactor is idle. `DUCQ_LOOP_BREAK` (nothing done) for NULL
/// arguments or when the reactor cannot be reached (from a log callback).
///
/// # Safety
/// `reactor` is NULL or a live handle; `apply` NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_loop(
    reactor: *mut ducq_reactor,
    apply: ducq_loop_f,
    ctx: *mut c_void,
) -> RawLoop {
    let stop = RawLoop(ducq_loop_t::DUCQ_LOOP_BREAK as c_int);
    boundary(|| {
        let Some(apply) = apply else { return stop };
        if reactor.is_null() {
            return stop;
        }
        // SAFETY: a live handle (caller contract).
        let fctx = unsafe { reactor_ref(reactor) }.ctx.clone();
        if !fctx.slot.is_lent() {
            // Called while idle: no callback holds a lent handle now.
            let _ = fctx.with_hub(|hub| fctx.sweep(hub));
        }
        let walked = fctx.lent(|| {
            clients::walk(&fctx.slot, |id, route| {
                let handle = fctx.lent_handle(id);
                let mut route = c_copy(route);
                // SAFETY: a valid C function (caller contract); the handle
                // and the route copy outlive the call.
                let verdict = unsafe { apply(handle, route.as_mut_ptr().cast(), ctx) };
                Ok::<_, ()>(i64::from(verdict.0))
            })
        });
        match walked {
            Ok(Ok(last)) => RawLoop(last as c_int),
            Ok(Err(WalkError::Callback(()) | WalkError::Unreachable)) | Err(_) => stop,
        }
    })
}

impl super::PanicValue for RawLoop {
    fn on_panic() -> Self {
        RawLoop(ducq_loop_t::DUCQ_LOOP_BREAK as c_int)
    }
}

/// Subscribes the client `ducq` (a handle the reactor lent, or a copy of
/// one) to `route`, replacing its subscriptions, as its own `sub route`
/// would (the same route rule applies).
///
/// `DUCQ_ENULL` for NULL arguments, `DUCQ_ENOTFOUND` when `ducq` is not an
/// open client of this reactor, `DUCQ_EMSGINV` for an empty route or one
/// holding a newline, `DUCQ_EMSGSIZE` past the longest route, `DUCQ_ERROR`
/// when the reactor cannot be reached. The route is copied.
///
/// # Safety
/// `reactor` and `ducq` are NULL or live handles; `route` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_subscribe(
    reactor: *mut ducq_reactor,
    ducq: *mut ducq_i,
    route: *const c_char,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(ducq)?;
        // SAFETY: live handles, NUL-terminated route (caller contract).
        let (r, route) = unsafe { (reactor_ref(reactor), bytes_arg(route)?) };
        // SAFETY: as above.
        let id = unsafe { client_of(&r.ctx, ducq) }?;
        r.ctx.with_hub(|hub| {
            let key = hub.resolve(id).ok_or(State::ENotFound)?;
            actions::subscribe(hub, key, route, false)
        })?
    })
}

/// Deletes the client `ducq` (a handle the reactor lent, or a copy of
/// one): it gets no more publications and is closed once what was queued
/// for it is written. True when it was an open client of this reactor;
/// false otherwise, for NULL, or when the reactor cannot be reached.
///
/// # Safety
/// `reactor` and `ducq` are NULL or live handles.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_delete(
    reactor: *mut ducq_reactor,
    ducq: *mut ducq_i,
) -> bool {
    boundary(|| {
        if reactor.is_null() || ducq.is_null() {
            return false;
        }
        // SAFETY: live handles (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        // SAFETY: as above.
        let Ok(id) = (unsafe { client_of(&r.ctx, ducq) }) else {
            return false;
        };
        r.ctx
            .with_hub(|hub| clients::delete(hub, id))
            .unwrap_or(false)
    })
}

/// Publishes as a client's `pub route\npayload` would (a ducq call, not in
/// the original): stores the message as the route's last message and sends
/// it to every matching subscriber, with the checks `pub` applies.
///
/// `payload` (`payload_size` bytes, may be NULL when 0) and `route` are
/// copied. `DUCQ_EMSGINV` for an empty route or one holding a newline,
/// `DUCQ_EMSGSIZE` past the longest route or message; other errors as for
/// `ducq_reactor_subscribe`.
///
/// # Safety
/// `reactor` is NULL or a live handle, `route` NULL or NUL-terminated,
/// `payload` readable for `payload_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_publish(
    reactor: *mut ducq_reactor,
    route: *const c_char,
    payload: *const c_char,
    payload_size: usize,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        // SAFETY: live handle, NUL-terminated route, readable payload.
        let (r, route, payload) = unsafe {
            (
                reactor_ref(reactor),
                bytes_arg(route)?,
                slice_arg(payload.cast(), payload_size)?,
            )
        };
        r.ctx
            .with_hub(|hub| actions::publish(hub, route, payload).map(|_| ()))?
    })
}

/// The last message published on `route` (the whole message, as its
/// publisher sent it), or `"ACK"` when the route has none, as the original
/// answers `sub route\nlast` (a message holding NUL bytes ends at the
/// first). The string is owned by the reactor and valid until the next
/// `ducq_get_last_msg` on it; NULL for NULL arguments or when the reactor
/// cannot be reached. `ducq_copy_last_msg` copies binary messages.
///
/// # Safety
/// `reactor` is NULL or a live handle, `route` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_get_last_msg(
    reactor: *mut ducq_reactor,
    route: *const c_char,
) -> *const c_char {
    boundary(|| {
        if reactor.is_null() {
            return std::ptr::null();
        }
        // SAFETY: live handle, NUL-terminated route (caller contract).
        let (r, route) = unsafe { (reactor_ref(reactor), bytes_arg(route)) };
        let Ok(route) = route else {
            return std::ptr::null();
        };
        let Ok(stored) = r
            .ctx
            .with_hub(|hub| hub.last.get(route).map(<[u8]>::to_vec))
        else {
            return std::ptr::null();
        };
        let mut text = stored.unwrap_or_else(|| ACK.to_vec());
        if let Some(nul) = text.iter().position(|&b| b == 0) {
            text.truncate(nul);
        }
        let mut slot = r.ctx.last_msg.borrow_mut();
        *slot = CString::new(text).unwrap_or_default();
        slot.as_ptr()
    })
}

/// Stores the NUL-terminated `msg` as the last message of `route`, as a
/// publish would, without sending it to anyone (`ducq_store_last_msg`
/// takes a size). `DUCQ_EMSGINV` or `DUCQ_EMSGSIZE` for a route the route
/// rule refuses, `DUCQ_EMSGSIZE` for a message past the largest; other
/// errors as for `ducq_reactor_subscribe`. Both strings are copied.
///
/// # Safety
/// `reactor` is NULL or a live handle; `route` and `msg` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_set_last_msg(
    reactor: *mut ducq_reactor,
    route: *const c_char,
    msg: *const c_char,
) -> RawState {
    boundary_state(|| {
        // SAFETY: NUL-terminated (caller contract).
        let len = unsafe { bytes_arg(msg) }?.len();
        // SAFETY: forwarded caller contract.
        unsafe { store_last(reactor, route, msg, len) }
    })
}

/// # Safety
/// As for `ducq_store_last_msg`.
unsafe fn store_last(
    reactor: *mut ducq_reactor,
    route: *const c_char,
    msg: *const c_char,
    size: usize,
) -> Result<(), State> {
    nonnull(reactor)?;
    // SAFETY: live handle, NUL-terminated route, readable message.
    let (r, route, msg) = unsafe {
        (
            reactor_ref(reactor),
            bytes_arg(route)?,
            slice_arg(msg.cast(), size)?,
        )
    };
    r.ctx.with_hub(|hub| actions::set_last(hub, route, msg))?
}

/// Stores `msg` (`size` bytes, copied, any bytes) as the last message of
/// `route`; otherwise as `ducq_set_last_msg`.
///
/// # Safety
/// `reactor` is NULL or a live handle, `route` NULL or NUL-terminated,
/// `msg` readable for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_store_last_msg(
    reactor: *mut ducq_reactor,
    route: *const c_char,
    msg: *const c_char,
    size: usize,
) -> RawState {
    // SAFETY: forwarded caller contract.
    boundary_state(|| unsafe { store_last(reactor, route, msg, size) })
}

/// Copies the last message published on `route` (the whole message, any
/// bytes) into `buffer`, NUL-terminated.
///
/// `*size` is the capacity of `buffer` on entry and the message length on
/// success. When it does not fit, `*size` receives the capacity needed and
/// `DUCQ_EMSGSIZE` is returned. `DUCQ_ENOTFOUND` when the route has none;
/// other errors as for `ducq_reactor_subscribe`.
///
/// # Safety
/// `reactor` is NULL or a live handle, `route` NULL or NUL-terminated,
/// `buffer` writable for `*size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_copy_last_msg(
    reactor: *mut ducq_reactor,
    route: *const c_char,
    buffer: *mut c_char,
    size: *mut usize,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(buffer)?;
        nonnull(size)?;
        // SAFETY: live handle, NUL-terminated route (caller contract).
        let (r, route) = unsafe { (reactor_ref(reactor), bytes_arg(route)?) };
        r.ctx.with_hub(|hub| match hub.last.get(route) {
            // SAFETY: `buffer` writable for `*size` bytes (caller contract).
            Some(msg) => unsafe { copy_out(msg, buffer, size) },
            None => Err(State::ENotFound),
        })?
    })
}

/// An iterator over a reactor's clients (`ducq_new_client_it`).
pub struct ducq_client_it {
    ctx: Rc<FfiCtx>,
    pairs: std::vec::IntoIter<(ConnId, Vec<u8>)>,
    route: CString,
}

/// An iterator over the reactor's clients and their subscription routes
/// (one step per route, `""` for a client without one), from a snapshot
/// taken now: `ducq_next` gives them one by one. NULL for NULL or when the
/// reactor cannot be reached. The caller frees it with
/// `ducq_client_it_free`; use it on the reactor's thread.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_client_it(reactor: *mut ducq_reactor) -> *mut ducq_client_it {
    boundary(|| {
        if reactor.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: a live handle (caller contract).
        let ctx = unsafe { reactor_ref(reactor) }.ctx.clone();
        let Ok(pairs) = ctx.with_hub(|hub| clients::pairs(hub)) else {
            return std::ptr::null_mut();
        };
        Box::into_raw(Box::new(ducq_client_it {
            ctx,
            pairs: pairs.into_iter(),
            route: CString::default(),
        }))
    })
}

/// The next client of the iterator (skipping clients closed since it was
/// made), with its route in `*route`; NULL when there is none left (or for
/// NULL). The client is the handle lent to its callbacks (never freed by
/// the caller; `ducq_copy` keeps it); the route string belongs to the
/// iterator; both are valid until the next `ducq_next` or
/// `ducq_client_it_free`. `route` may be NULL.
///
/// # Safety
/// `it` is NULL or a live iterator, `route` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_next(
    it: *mut ducq_client_it,
    route: *mut *mut c_char,
) -> *mut ducq_i {
    boundary(|| {
        // SAFETY: NULL or a live iterator (caller contract).
        let Some(it) = (unsafe { it.as_mut() }) else {
            return std::ptr::null_mut();
        };
        for (id, r) in it.pairs.by_ref() {
            let open = it.ctx.with_hub(|hub| clients::is_open(hub, id));
            if open != Ok(true) {
                continue;
            }
            it.route = CString::new(r).unwrap_or_default();
            if !route.is_null() {
                // SAFETY: non-null and writable (caller contract); the
                // string lives in the iterator until the next call.
                unsafe { *route = it.route.as_ptr().cast_mut() };
            }
            return it.ctx.lent_handle(id);
        }
        std::ptr::null_mut()
    })
}

/// Frees an iterator. NULL is a no-op.
///
/// # Safety
/// `it` is NULL or an iterator from `ducq_new_client_it`, freed once.
#[no_mangle]
pub unsafe extern "C" fn ducq_client_it_free(it: *mut ducq_client_it) {
    boundary(|| {
        if !it.is_null() {
            // SAFETY: made by Box::into_raw in `ducq_new_client_it`, freed
            // once (caller contract).
            drop(unsafe { Box::from_raw(it) });
        }
    })
}

/// Hands a connected client to the reactor, the original's way: the
/// reactor polls `fd` and runs the client's commands.
///
/// A handle from `ducq_new_tcp_connection`, `ducq_new_ws_connection` or
/// `ducq_new_http_connection` (for this same `fd`) becomes an ordinary
/// connection of the reactor, served as if it had been accepted on one of
/// its listeners. Any other `ducq_i` — a protocol written in C, or a ducq
/// client handle — is driven through its table: when `fd` is readable the
/// reactor calls `recv` (one whole message, which it dispatches), replies
/// go out through `send`, and when the client leaves or `recv` fails
/// (answered with a NACK, as the original did) it calls `close` and `free`.
///
/// On success the reactor owns the handle: it stays valid, is the `ducq_i`
/// lent to that client's commands and loop callbacks, and is freed by the
/// reactor (`ducq_free` on it is a no-op). On failure the caller keeps the
/// handle and `fd`. `DUCQ_EMAX` at the connection limit, `DUCQ_EMSGINV`
/// when `fd` is not the handle's descriptor (for the handles above),
/// `DUCQ_ECOMMLAYER` when `fd` cannot be polled, `DUCQ_ENULL` for NULL,
/// `DUCQ_ERROR` when the reactor cannot be reached. Works while the reactor
/// is idle and from its callbacks (an accept callback, typically).
///
/// # Safety
/// `reactor` and `ducq` are NULL or live handles, `ducq` not used by
/// anything else during the call; a handle made elsewhere has valid table
/// functions that read and write `fd`.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_add_client(
    reactor: *mut ducq_reactor,
    fd: c_int,
    ducq: *mut ducq_i,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(ducq)?;
        // SAFETY: live handles (caller contract).
        let (r, h) = unsafe { (reactor_ref(reactor), Handle::from_ptr(ducq)) };
        let ctx = r.ctx.clone();
        let Some(h) = h.filter(|h| matches!(h.kind, Kind::Fd(_))) else {
            // SAFETY: forwarded caller contract.
            return unsafe { foreign::add_client(&ctx, fd, ducq) };
        };
        if !h.is_caller_owned() {
            return Err(State::EMsgInv);
        }
        let Kind::Fd(side) = &mut h.kind else {
            return Err(State::Error);
        };
        if side.fd() != fd || fd < 0 {
            return Err(State::EMsgInv);
        }
        let proto = side.protocol();
        let id = ctx.with_hub(|hub| adopt::adopt(hub, fd, proto))??;
        released(side);
        // SAFETY: a caller-owned handle made by `Handle::into_raw` (checked
        // above), not borrowed past this point.
        let mut owned = unsafe { Handle::take_over(ducq) };
        owned.kind = Kind::Server(ServerSide::lent(&ctx, id));
        ctx.adopt_handle(id, owned);
        Ok(())
    })
}

/// The descriptor now belongs to the reactor's connection.
fn released(side: &mut FdSide) {
    let _ = side.release();
}

/// Accept callback of `ducq_reactor_add_server`: called on the reactor's
/// thread when the listening `fd` has a connection waiting, with the
/// reactor (which it may give to `ducq_reactor_add_client`) and the `ctx`
/// given with it.
pub type ducq_accept_f =
    Option<unsafe extern "C" fn(reactor: *mut ducq_reactor, fd: c_int, ctx: *mut c_void)>;

/// Has the reactor poll the listening descriptor `fd` (the original's way
/// to serve a port): while it has a connection waiting, the reactor calls
/// `accept_f(reactor, fd, ctx)`, which accepts it, wraps it
/// (`ducq_new_tcp_connection`, `ducq_new_ws_connection`,
/// `ducq_new_http_connection`, or a protocol of its own) and hands it to
/// `ducq_reactor_add_client`. Any readable descriptor works (the callback
/// decides what readable means). `fd` stays the caller's: the reactor never
/// closes it, and stops polling it when freed.
///
/// `DUCQ_ENULL` for NULL reactor or callback, `DUCQ_EMSGINV` for a negative
/// `fd`, `DUCQ_ECOMMLAYER` when it cannot be polled, `DUCQ_ERROR` when the
/// reactor is running or lent (add servers before `ducq_loop`).
///
/// # Safety
/// `reactor` is NULL or a live handle; `accept_f` NULL or a valid function;
/// `ctx` is whatever `accept_f` expects, valid while the reactor lives.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_add_server(
    reactor: *mut ducq_reactor,
    fd: c_int,
    accept_f: ducq_accept_f,
    ctx: *mut c_void,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        let accept = accept_f.ok_or(State::ENull)?;
        if fd < 0 {
            return Err(State::EMsgInv);
        }
        // SAFETY: a live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        foreign::add_server(&r.ctx, fd, accept, ctx)
    })
}
