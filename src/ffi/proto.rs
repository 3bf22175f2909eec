//! C-supplied server protocols: `ducq_reactor_listen_proto` puts a codec
//! written in C (`struct ducq_proto_vtbl`) on a listener, and
//! `ducq_buf_append` is how its functions write bytes. The adapter that
//! makes the vtable a Rust transport is [`crate::transport::c_vtable`].

use std::ffi::{c_char, c_void};

use super::reactor::{ducq_reactor, listen_error, store_port};
use super::state::ducq_state;
use super::{boundary, nonnull, slice_arg, str_arg};
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
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, address, vtbl);
        // SAFETY: live handle, NUL-terminated address, valid vtbl.
        let (r, addr, vtbl) = unsafe { (&*reactor, str_arg(address), &*vtbl) };
        let Ok(addr) = addr else {
            return ducq_state::DUCQ_EMSGINV;
        };
        let bound = r.with_reactor_pub(|re| {
            let max = re.hub().settings().max_message;
            // SAFETY: functions valid for `ctx` until the reactor is freed,
            // which drops every transport first (caller contract).
            let proto = unsafe { CProtocol::new(vtbl, ctx, max) }.ok_or(ducq_state::DUCQ_ENULL)?;
            re.listen(addr, proto.factory())
                .map_err(|e| listen_error(&e))
        });
        match bound {
            Ok(Ok(a)) => {
                // SAFETY: NULL or writable (caller contract).
                unsafe { store_port(out_port, a.port()) };
                ducq_state::DUCQ_OK
            }
            Ok(Err(e)) | Err(e) => e,
        }
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
/// `buf` is a buffer lent to the running protocol function; `data` is
/// readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_buf_append(
    buf: *mut ducq_buf,
    data: *const c_void,
    len: usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(buf);
        // SAFETY: readable for `len` bytes (caller contract).
        let data = match unsafe { slice_arg(data.cast(), len) } {
            Ok(d) => d,
            Err(e) => return e,
        };
        // SAFETY: a lent buffer, not otherwise borrowed during the call.
        if unsafe { &mut *buf }.append(data) {
            ducq_state::DUCQ_OK
        } else {
            ducq_state::DUCQ_EMSGSIZE
        }
    })
}
