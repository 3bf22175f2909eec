//! The original's interface object and its table. A `ducq_i` is any object
//! whose first member is a `ducq_vtbl *`: the handles ducq makes (see
//! `handle`) and protocols written in C alike. The twelve client functions
//! here only check their pointers and call through that table, so a C
//! protocol works with every `ducq_*` function built on them.

use core::ffi::{c_char, c_int, c_void};

use super::{boundary, state::RawState};
use crate::proto::State;

/// The interface object: every handle starts with a pointer to its table.
/// Opaque in the header (`typedef struct ducq_i ducq_i;`); a protocol
/// written in C is a struct whose first member is `ducq_vtbl *tbl`, cast
/// to `ducq_i *`.
#[repr(C)]
pub struct ducq_i {
    /// The table of the object's functions.
    pub tbl: *const ducq_vtbl,
}

/// The functions of a `ducq_i`, the original's protocol interface: the
/// client functions (`ducq_conn`, `ducq_send`, …) call the matching entry,
/// and a reactor drives a client added with `ducq_reactor_add_client`
/// through `recv`, `send`, `id`, `close` and `free`.
///
/// Every entry gets the object itself. A NULL entry makes the matching
/// function answer `DUCQ_ENOIMPL` (NULL, false, nothing for the others)
/// instead of crashing. `dtor` is never called by ducq (nor was it by the
/// original); `free` releases the object.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_vtbl {
    /// Connects (a client); `DUCQ_OK` or an error state.
    pub conn: Option<unsafe extern "C" fn(ducq: *mut ducq_i) -> RawState>,
    /// Sends one message of `*size` bytes at `ptr`; on success `*size`
    /// holds the bytes sent.
    pub send: Option<
        unsafe extern "C" fn(ducq: *mut ducq_i, ptr: *const c_void, size: *mut usize) -> RawState,
    >,
    /// Sends `PARTS`, the start of a multipart reply.
    pub parts: Option<unsafe extern "C" fn(ducq: *mut ducq_i) -> RawState>,
    /// Sends `END`, the end of a multipart reply.
    pub end: Option<unsafe extern "C" fn(ducq: *mut ducq_i) -> RawState>,
    /// Receives one message into `ptr` (capacity `*size`), NUL-terminated;
    /// on success `*size` holds its length.
    pub recv: Option<
        unsafe extern "C" fn(ducq: *mut ducq_i, ptr: *mut c_char, size: *mut usize) -> RawState,
    >,
    /// The object's id (`TCP:127.0.0.1:4000`), owned by the object.
    pub id: Option<unsafe extern "C" fn(ducq: *mut ducq_i) -> *const c_char>,
    /// A new object for the same peer.
    pub copy: Option<unsafe extern "C" fn(ducq: *mut ducq_i) -> *mut ducq_i>,
    /// Whether `a` and `b` are the same connection.
    pub eq: Option<unsafe extern "C" fn(a: *mut ducq_i, b: *mut ducq_i) -> bool>,
    /// Sets the receive timeout, in seconds.
    pub timeout: Option<unsafe extern "C" fn(ducq: *mut ducq_i, timeout: c_int) -> RawState>,
    /// Asks for `SO_REUSEADDR` on the next connect.
    pub reuseaddr: Option<unsafe extern "C" fn(ducq: *mut ducq_i) -> RawState>,
    /// Closes the connection.
    pub close: Option<unsafe extern "C" fn(ducq: *mut ducq_i) -> RawState>,
    /// Releases the object.
    pub free: Option<unsafe extern "C" fn(ducq: *mut ducq_i)>,
    /// Kept for layout compatibility; not called.
    pub dtor: Option<unsafe extern "C" fn(ducq: *mut ducq_i)>,
}

/// The table of a handle, or `None` for a NULL handle or table.
///
/// # Safety
/// `ducq` is NULL or points to a live object whose first member is a
/// table pointer (NULL or a valid `ducq_vtbl`).
pub(crate) unsafe fn table<'a>(ducq: *mut ducq_i) -> Option<&'a ducq_vtbl> {
    if ducq.is_null() {
        return None;
    }
    // SAFETY: a live object starting with a table pointer (caller contract);
    // a non-null table is a valid `ducq_vtbl` that outlives the call.
    unsafe { (*ducq).tbl.as_ref() }
}

/// Calls one state-returning entry: `ENull` for NULL, `ENoImpl` for a
/// missing entry.
///
/// # Safety
/// As for [`table`]; the entry is a valid function for the object.
unsafe fn call(
    ducq: *mut ducq_i,
    pick: impl FnOnce(&ducq_vtbl) -> Option<unsafe extern "C" fn(*mut ducq_i) -> RawState>,
) -> RawState {
    if ducq.is_null() {
        return State::ENull.into();
    }
    // SAFETY: forwarded caller contract.
    match unsafe { table(ducq) }.and_then(pick) {
        // SAFETY: the object's own function (caller contract).
        Some(f) => unsafe { f(ducq) },
        None => State::ENoImpl.into(),
    }
}

/// Connects a client handle (closing its current connection first) and
/// completes the protocol's handshake, within the handle's timeout (10 s
/// when none is set): `tbl->conn`.
///
/// For ducq's handles: `DUCQ_ECONNECT` when the server cannot be reached
/// (or refuses a WebSocket upgrade), `DUCQ_ETIMEOUT` when it does not
/// answer in time (`ducq_last_error` has the detail), `DUCQ_ENOIMPL` on a
/// server-side handle. `DUCQ_ENULL` for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_conn(ducq: *mut ducq_i) -> RawState {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { call(ducq, |t| t.conn) })
}

/// Sends one message: `*size` bytes of `buf`, framed by the handle's
/// protocol (`tbl->send`). On a handle lent by a reactor the message is
/// queued for that client and written after the callback returns.
///
/// On success `*size` holds the number of message bytes sent. `buf` is only
/// read during the call. For ducq's handles: `DUCQ_ECONNCLOSED` when not
/// connected, `DUCQ_EWRITE` when writing fails, `DUCQ_ENOTFOUND` when a
/// reactor's client is gone, `DUCQ_EMSGSIZE` past the largest message.
/// `DUCQ_ENULL` for NULL `ducq` or `size`, or NULL `buf` with a size.
///
/// # Safety
/// `ducq` is NULL or a live handle, `size` NULL or valid, `buf` readable
/// for `*size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_send(
    ducq: *mut ducq_i,
    buf: *const c_void,
    size: *mut usize,
) -> RawState {
    boundary(|| {
        // SAFETY: `size` is NULL or valid (caller contract).
        if ducq.is_null() || size.is_null() || (buf.is_null() && unsafe { *size } > 0) {
            return State::ENull.into();
        }
        // SAFETY: a live handle (caller contract).
        match unsafe { table(ducq) }.and_then(|t| t.send) {
            // SAFETY: the object's own function; arguments checked above.
            Some(f) => unsafe { f(ducq, buf, size) },
            None => State::ENoImpl.into(),
        }
    })
}

/// Sends `PARTS`, the first message of a multipart reply (then one
/// `ducq_send` per part, then `ducq_end`): `tbl->parts`. Errors as for
/// `ducq_send`.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_parts(ducq: *mut ducq_i) -> RawState {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { call(ducq, |t| t.parts) })
}

/// Sends `END`, the last message of a multipart reply: `tbl->end`. Errors
/// as for `ducq_send`.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_end(ducq: *mut ducq_i) -> RawState {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { call(ducq, |t| t.end) })
}

/// Receives the next message into `buf`, NUL-terminated: `tbl->recv`. Any
/// message counts (data, ACK, NACK, PARTS, END, PONG); `ducq_receive`
/// classifies it.
///
/// `*size` is the capacity of `buf` on entry and the message length (NUL
/// excluded) on success. For ducq's handles: PINGs from the server are
/// answered and skipped; when the message does not fit, it stays queued
/// for the next call, `*size` receives the capacity needed and
/// `DUCQ_EMSGSIZE` is returned; waits at most the handle's timeout
/// (`DUCQ_ETIMEOUT`); `DUCQ_ECONNCLOSED` when the server closed;
/// `DUCQ_ENOIMPL` on a handle lent by a reactor (the reactor reads).
/// `DUCQ_ENULL` for NULL pointers.
///
/// # Safety
/// `ducq` is NULL or a live handle, `size` NULL or valid, `buf` writable
/// for `*size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_recv(
    ducq: *mut ducq_i,
    buf: *mut c_char,
    size: *mut usize,
) -> RawState {
    boundary(|| {
        if ducq.is_null() || buf.is_null() || size.is_null() {
            return State::ENull.into();
        }
        // SAFETY: a live handle (caller contract).
        match unsafe { table(ducq) }.and_then(|t| t.recv) {
            // SAFETY: the object's own function; arguments checked above.
            Some(f) => unsafe { f(ducq, buf, size) },
            None => State::ENoImpl.into(),
        }
    })
}

/// The handle's id (`tbl->id`). For ducq's handles: `TCP:<ip>:<port>` of
/// this end for a connected client, `TCP:<host>:<port>` of the server
/// before connecting (`WS:` for a WebSocket handle), and for a reactor's
/// client its id as `lsconn` lists it.
///
/// The string belongs to the handle: valid until the handle is closed,
/// reconnected or freed (for a lent handle, until the callback returns).
/// NULL for NULL (or an object without `id`).
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_id(ducq: *mut ducq_i) -> *const c_char {
    boundary(|| {
        // SAFETY: NULL or a live handle (caller contract).
        match unsafe { table(ducq) }.and_then(|t| t.id) {
            // SAFETY: the object's own function.
            Some(f) => unsafe { f(ducq) },
            None => core::ptr::null(),
        }
    })
}

/// Whether two handles name the same connection (`a->tbl->eq`). For
/// ducq's handles: the same client of a reactor for its handles (a lent
/// handle and its copies are equal), the same id for client handles.
/// False when either is NULL.
///
/// # Safety
/// Non-null arguments are live handles.
#[no_mangle]
pub unsafe extern "C" fn ducq_eq(a: *mut ducq_i, b: *mut ducq_i) -> bool {
    boundary(|| {
        if a.is_null() || b.is_null() {
            return false;
        }
        if a == b {
            return true;
        }
        // SAFETY: live handles (caller contract).
        match unsafe { table(a) }.and_then(|t| t.eq) {
            // SAFETY: the object's own function.
            Some(f) => unsafe { f(a, b) },
            None => false,
        }
    })
}

/// A new handle to the same place (`tbl->copy`). For ducq's client
/// handles, an unconnected handle with the same destination and timeout
/// (a socket-layer handle shares its `ctx`); for a reactor's client, a
/// lasting handle to that client, usable on the reactor's thread until it
/// is freed (calls answer `DUCQ_ENOTFOUND` once the client is gone).
///
/// The caller owns the copy and frees it with `ducq_free`. NULL for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_copy(ducq: *mut ducq_i) -> *mut ducq_i {
    boundary(|| {
        // SAFETY: NULL or a live handle (caller contract).
        match unsafe { table(ducq) }.and_then(|t| t.copy) {
            // SAFETY: the object's own function.
            Some(f) => unsafe { f(ducq) },
            None => core::ptr::null_mut(),
        }
    })
}

/// Sets how long connecting and each receive may wait, in seconds
/// (`tbl->timeout`); for ducq's handles 0 or less waits without limit
/// (connecting then gives up after 10 s), it applies to the current
/// connection and later ones, and it is a no-op on a reactor's client.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_timeout(ducq: *mut ducq_i, timeout: c_int) -> RawState {
    boundary(|| {
        if ducq.is_null() {
            return State::ENull.into();
        }
        // SAFETY: a live handle (caller contract).
        match unsafe { table(ducq) }.and_then(|t| t.timeout) {
            // SAFETY: the object's own function.
            Some(f) => unsafe { f(ducq, timeout) },
            None => State::ENoImpl.into(),
        }
    })
}

/// Asks for `SO_REUSEADDR` (`tbl->reuseaddr`). For ducq's handles a
/// documented no-op: a client's local port is ephemeral and the reactor's
/// listeners already reuse addresses; `DUCQ_OK`, or `DUCQ_ENULL` for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reuseaddr(ducq: *mut ducq_i) -> RawState {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { call(ducq, |t| t.reuseaddr) })
}

/// Closes the connection (`tbl->close`). A ducq client handle stays
/// usable: `ducq_conn` reconnects it. On a reactor's client, closes that
/// client once the replies queued for it are written. For ducq's handles,
/// closing a closed handle is `DUCQ_OK`, and it is safe from a
/// `ducq_listen` callback on the same handle (the listen then ends).
/// `DUCQ_ENULL` for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_close(ducq: *mut ducq_i) -> RawState {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { call(ducq, |t| t.close) })
}

/// Frees a handle (`tbl->free`). For ducq's handles it closes the
/// connection first (a reactor's client only lets go: the client stays
/// connected); `ducq_free(NULL)`, freeing a handle lent to a callback and
/// freeing one a reactor owns (added with `ducq_reactor_add_client`) are
/// no-ops; called from a `ducq_listen` callback on the same handle, the free
/// happens when that callback returns and the listen ends.
///
/// # Safety
/// `ducq` is NULL, a lent handle, or a live handle not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ducq_free(ducq: *mut ducq_i) {
    boundary(|| {
        // SAFETY: NULL or a live handle (caller contract).
        if let Some(f) = unsafe { table(ducq) }.and_then(|t| t.free) {
            // SAFETY: the object's own function, called once (caller
            // contract).
            unsafe { f(ducq) }
        }
    })
}
