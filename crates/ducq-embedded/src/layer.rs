//! The socket layer: the table of C functions through which the platform
//! lends ducq its network (connect with a timeout, send, receive with a
//! timeout, close), and [`LayerStream`], the byte stream the blocking
//! client runs over it. It converts between the table's C calls and the
//! client's stream calls, nothing more.

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_void, CStr};
use core::time::Duration;

use ducq::client::io::{self, ErrorKind, Read, Write};
use ducq::client::Stream;
use ducq::proto::State;

use crate::types::RawState;

/// A socket layer written in C (a device's own network stack), for
/// `ducq_new_vtbl`. ducq runs its framing and protocol over these
/// functions. Each gets the `ctx` given to `ducq_new_vtbl`.
///
/// `send` and `recv` are required; the others may be NULL. The functions
/// are called only from ducq calls made on the handle, on the caller's
/// thread; they must not call ducq functions on the same handle.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_vtbl {
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

/// A socket layer and its context, as a handle keeps them.
#[derive(Debug, Clone, Copy)]
pub struct Layer {
    /// The table, copied from the caller's.
    pub vtbl: ducq_vtbl,
    /// The context passed to every function: the caller's, or the
    /// handle's own copy (see [`OwnedCtx`]).
    pub ctx: *mut c_void,
}

/// A block aligned for any object a socket layer's context holds.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Block([u8; 16]);

/// A handle's own copy of a socket layer's context (`ducq_new_socket_ctx`):
/// made from the caller's template, freed with the handle, and made afresh
/// from the template for each `ducq_copy`.
pub struct OwnedCtx {
    template: Vec<Block>,
    live: Vec<Block>,
}

impl OwnedCtx {
    /// Copies `template` twice: once to keep, once to lend to the layer.
    pub fn new(template: &[u8]) -> OwnedCtx {
        let mut blocks = alloc::vec![Block([0; 16]); template.len().div_ceil(16)];
        for (block, chunk) in blocks.iter_mut().zip(template.chunks(16)) {
            if let Some(dst) = block.0.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
        }
        OwnedCtx {
            live: blocks.clone(),
            template: blocks,
        }
    }

    /// A fresh copy of the template.
    pub fn again(&self) -> OwnedCtx {
        OwnedCtx {
            template: self.template.clone(),
            live: self.template.clone(),
        }
    }

    /// The copy the layer works on; it moves only with the handle's box.
    pub fn ptr(&mut self) -> *mut c_void {
        self.live.as_mut_ptr().cast()
    }
}

impl Layer {
    /// Opens the layer's connection (when it has a `conn`) and returns the
    /// stream over it; the state the layer answered otherwise.
    pub fn open(self, timeout: Option<Duration>) -> Result<LayerStream, State> {
        if let Some(conn) = self.vtbl.conn {
            // SAFETY: the layer's own function and context (the contract
            // of `ducq_new_vtbl`).
            let rc = unsafe { conn(self.ctx, timeout_ms(timeout)) }.state();
            if rc != State::Ok {
                return Err(if rc.is_error() { rc } else { State::EConnect });
            }
        }
        Ok(LayerStream {
            layer: self,
            timeout_ms: timeout_ms(timeout),
        })
    }
}

/// An open connection of a socket layer; closed when dropped.
pub struct LayerStream {
    layer: Layer,
    timeout_ms: c_int,
}

/// The stream error for a state a layer function answered.
fn io_error(state: State) -> io::Error {
    match state {
        State::ETimeout => ErrorKind::WouldBlock.into(),
        State::EConnClosed => ErrorKind::ConnectionReset.into(),
        s => io::Error::other(s.text()),
    }
}

impl Read for LayerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(recv) = self.layer.vtbl.recv else {
            return Err(ErrorKind::Unsupported.into());
        };
        let mut n = 0usize;
        // SAFETY: the layer's own function and context; `buf` is writable
        // for its length, `n` is a valid out.
        let rc = unsafe {
            recv(
                self.layer.ctx,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut n,
                self.timeout_ms,
            )
        };
        match rc.state() {
            State::Ok => Ok(n.min(buf.len())),
            s => Err(io_error(s)),
        }
    }
}

impl Write for LayerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(send) = self.layer.vtbl.send else {
            return Err(ErrorKind::Unsupported.into());
        };
        let mut n = 0usize;
        // SAFETY: as in `read`; `buf` is readable for its length.
        let rc = unsafe { send(self.layer.ctx, buf.as_ptr().cast(), buf.len(), &mut n) };
        match rc.state() {
            State::Ok => Ok(n.min(buf.len())),
            s => Err(io_error(s)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for LayerStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeout_ms = timeout_ms(timeout);
        Ok(())
    }

    fn local_name(&self) -> Option<String> {
        let id = self.layer.vtbl.id?;
        // SAFETY: the layer's own function and context.
        let p = unsafe { id(self.layer.ctx) };
        if p.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string valid until the next call on
        // ctx; copied at once.
        let name = unsafe { CStr::from_ptr(p) };
        Some(String::from_utf8_lossy(name.to_bytes()).into_owned())
    }
}

impl Drop for LayerStream {
    fn drop(&mut self) {
        if let Some(close) = self.layer.vtbl.close {
            // SAFETY: the layer's own function and context.
            let _ = unsafe { close(self.layer.ctx) };
        }
    }
}

/// Milliseconds for the layer: -1 for no limit.
pub fn timeout_ms(t: Option<Duration>) -> c_int {
    t.map_or(-1, |t| c_int::try_from(t.as_millis()).unwrap_or(c_int::MAX))
}
