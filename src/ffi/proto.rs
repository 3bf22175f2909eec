//! C-supplied server protocols: `ducq_reactor_listen_proto` puts a codec
//! written in C (`struct ducq_proto_vtbl`) on a listener, and
//! `ducq_buf_append` is how its functions write bytes. The adapter that
//! makes the vtable a Rust transport is [`crate::transport::c_vtable`].

use std::ffi::{c_char, c_void};

use super::reactor::{ducq_reactor, listen_error, reactor_ref, store_port};
use super::state::RawState;
use super::{boundary_state, nonnull, slice_arg, str_arg};
use crate::proto::State;
use crate::transport::c_vtable::{ducq_buf, ducq_proto_vtbl, CProtocol};

/// Listens on `address` (as for `ducq_reactor_listen_tcp`) for clients that
/// speak the protocol `vtbl` describes; they publish, subscribe and call
/// commands like any other client.
///
/// `vtbl` and its name are copied; `ctx` is borrowed: it is passed to every
/// protocol function and must stay valid, as must the functions, until the
/// reactor is freed. The bound port goes to `*out_port` when not NULL.
/// `DUCQ_ENULL` for NULL reactor, address or vtbl, or a vtbl without
/// `decode` or `encode`; other errors as for `ducq_reactor_listen_tcp`.
///
/// # Safety
/// `reactor` is a live handle, `address` NUL-terminated, `vtbl` valid with
/// functions valid for `ctx`, `out_port` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_listen_proto(
    reactor: *mut ducq_reactor,
    address: *const c_char,
    vtbl: *const ducq_proto_vtbl,
    ctx: *mut c_void,
    out_port: *mut u16,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(address)?;
        nonnull(vtbl)?;
        // SAFETY: live handle, NUL-terminated address, valid vtbl.
        let (r, addr, vtbl) = unsafe { (reactor_ref(reactor), str_arg(address)?, &*vtbl) };
        let bound = r.ctx.with_reactor(|re| {
            let max = re.hub().settings().max_message;
            // SAFETY: functions valid for `ctx` until the reactor is freed,
            // which drops every transport first (caller contract).
            let proto = unsafe { CProtocol::new(vtbl, ctx, max) }.ok_or(State::ENull)?;
            re.listen(addr, proto.factory())
                .map_err(|e| listen_error(&e))
        })??;
        // SAFETY: NULL or writable (caller contract).
        unsafe { store_port(out_port, bound.port()) };
        Ok(())
    })
}

/// Appends `len` bytes of `data` to a buffer ducq lent to a protocol
/// function (`message` or `out`).
///
/// `data` is copied; it may be NULL when `len` is 0. `DUCQ_EMSGSIZE` when a
/// message would pass the server's largest message (the buffer is left as
/// it was), `DUCQ_ENULL` for a NULL buffer.
///
/// # Safety
/// `buf` is NULL or a buffer lent to the running protocol function; `data`
/// is readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_buf_append(
    buf: *mut ducq_buf,
    data: *const c_void,
    len: usize,
) -> RawState {
    boundary_state(|| {
        nonnull(buf)?;
        // SAFETY: readable for `len` bytes (caller contract).
        let data = unsafe { slice_arg(data.cast(), len) }?;
        // SAFETY: a lent buffer, not otherwise borrowed during the call.
        if unsafe { &mut *buf }.append(data) {
            Ok(())
        } else {
            Err(State::EMsgSize)
        }
    })
}
