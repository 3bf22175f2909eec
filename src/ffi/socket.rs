//! A socket layer written in C (a device's own network stack, say) as a
//! byte stream for the blocking client: `struct ducq_socket_vtbl` and
//! `ducq_new_socket`. ducq runs its framing and protocol over the layer's
//! `send`/`recv`. (The original's `ducq_vtbl` is the protocol interface of
//! `ducq_i`; this one is the layer below a ducq client.)

use std::ffi::{c_char, c_int, c_void, CStr};
use std::io::{self, Read, Write};
use std::time::Duration;

use super::state::RawState;
use super::vtbl::ducq_i;
use super::{boundary, client};
use crate::client::Stream;
use crate::proto::State;

/// A socket layer written in C, for `ducq_new_socket`. Each function gets
/// the `ctx` given to `ducq_new_socket`.
///
/// `send` and `recv` are required; the others may be NULL. The functions
/// are called only from ducq calls made on the handle, on the caller's
/// thread; they must not call ducq functions on the same handle.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_socket_vtbl {
    /// Opens the connection (called by `ducq_conn`), waiting at most
    /// `timeout_ms` (-1: no limit). `DUCQ_OK` or an error state. NULL: the
    /// socket is already connected.
    pub conn: Option<unsafe extern "C" fn(ctx: *mut c_void, timeout_ms: c_int) -> RawState>,
    /// Writes up to `len` bytes of `buf`; stores how many in `*sent`.
    /// `DUCQ_OK` (after writing at least one byte) or an error state.
    pub send: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            buf: *const c_void,
            len: usize,
            sent: *mut usize,
        ) -> RawState,
    >,
    /// Reads up to `len` bytes into `buf`, waiting at most `timeout_ms`
    /// (-1: no limit); stores how many in `*received`. `DUCQ_OK` with
    /// `*received == 0` means the peer closed; `DUCQ_ETIMEOUT` means nothing
    /// arrived in time; any other state is a read error.
    pub recv: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            buf: *mut c_void,
            len: usize,
            received: *mut usize,
            timeout_ms: c_int,
        ) -> RawState,
    >,
    /// Closes the connection (by `ducq_close`, `ducq_free`, or before a
    /// reconnect). The return value is ignored.
    pub close: Option<unsafe extern "C" fn(ctx: *mut c_void) -> RawState>,
    /// This end's address for `ducq_id` (`"10.0.0.7:4242"`): a string that
    /// stays valid until the next call on `ctx`. NULL: unknown.
    pub id: Option<unsafe extern "C" fn(ctx: *mut c_void) -> *const c_char>,
}

/// A byte stream over a C socket layer.
pub(crate) struct CStream {
    pub(crate) vtbl: ducq_socket_vtbl,
    pub(crate) ctx: *mut c_void,
    pub(crate) timeout_ms: c_int,
}

impl CStream {
    /// Opens the layer's connection when it has a `conn`.
    pub(crate) fn open(
        vtbl: ducq_socket_vtbl,
        ctx: *mut c_void,
        timeout: Option<Duration>,
    ) -> Result<CStream, State> {
        if let Some(conn) = vtbl.conn {
            // SAFETY: the C layer's own function and context
            // (`ducq_new_socket` contract).
            let rc = unsafe { conn(ctx, timeout_ms(timeout)) }.state();
            if rc != State::Ok {
                return Err(if rc.is_error() { rc } else { State::EConnect });
            }
        }
        Ok(CStream {
            vtbl,
            ctx,
            timeout_ms: timeout_ms(timeout),
        })
    }

    fn io_error(state: RawState) -> io::Error {
        match state.state() {
            State::ETimeout => io::ErrorKind::WouldBlock.into(),
            State::EConnClosed => io::ErrorKind::ConnectionReset.into(),
            s => io::Error::other(s.text()),
        }
    }
}

impl Read for CStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(recv) = self.vtbl.recv else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        let mut n = 0usize;
        // SAFETY: the C layer's own function and context; `buf` is writable
        // for its length, `n` is a valid out.
        let rc = unsafe {
            recv(
                self.ctx,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut n,
                self.timeout_ms,
            )
        };
        match rc.state() {
            State::Ok => Ok(n.min(buf.len())),
            _ => Err(CStream::io_error(rc)),
        }
    }
}

impl Write for CStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(send) = self.vtbl.send else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        let mut n = 0usize;
        // SAFETY: as in `read`; `buf` is readable for its length.
        let rc = unsafe { send(self.ctx, buf.as_ptr().cast(), buf.len(), &mut n) };
        match rc.state() {
            State::Ok => Ok(n.min(buf.len())),
            _ => Err(CStream::io_error(rc)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for CStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeout_ms = timeout_ms(timeout);
        Ok(())
    }

    fn local_name(&self) -> Option<String> {
        let id = self.vtbl.id?;
        // SAFETY: the C layer's own function and context.
        let p = unsafe { id(self.ctx) };
        if p.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string valid until the next call on ctx;
        // copied at once.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

impl Drop for CStream {
    fn drop(&mut self) {
        if let Some(close) = self.vtbl.close {
            // SAFETY: the C layer's own function and context.
            let _ = unsafe { close(self.ctx) };
        }
    }
}

/// Milliseconds for the C layer: -1 for no limit.
pub(crate) fn timeout_ms(t: Option<Duration>) -> c_int {
    t.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as c_int)
}

/// Creates an unconnected client handle that runs ducq over a socket layer
/// written in C (`vtbl`, see `struct ducq_socket_vtbl`). Connect it with
/// `ducq_conn`; every client function then works on it.
///
/// `vtbl` is copied; `ctx` is borrowed: it is passed to the functions and
/// must stay valid until the handle (and every `ducq_copy` of it, which
/// share it) is freed. ducq never frees `ctx`. Returns NULL when `vtbl` is
/// NULL or lacks `send` or `recv`. The caller owns the handle (`ducq_free`).
///
/// # Safety
/// `vtbl` is NULL or points to a valid `ducq_socket_vtbl` whose functions
/// are valid for `ctx`.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_socket(
    vtbl: *const ducq_socket_vtbl,
    ctx: *mut c_void,
) -> *mut ducq_i {
    boundary(|| {
        // SAFETY: NULL or valid (caller contract); copied.
        let Some(vtbl) = (unsafe { vtbl.as_ref() }).copied() else {
            return std::ptr::null_mut();
        };
        if vtbl.send.is_none() || vtbl.recv.is_none() {
            return std::ptr::null_mut();
        }
        client::new_handle(client::Target::Layer { vtbl, ctx })
    })
}
