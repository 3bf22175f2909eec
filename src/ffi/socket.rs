//! A socket layer written in C (a device's own network stack, say) as a
//! byte stream for the blocking client: `struct ducq_socket_vtbl`, and the
//! handles made over one (`ducq_new_socket`, which borrows the layer's
//! context; `ducq_new_socket_ctx` and `ducq_new_ws_socket`, which keep a
//! copy of it). ducq runs its framing and protocol over the layer's
//! `send`/`recv`. (The original's `ducq_vtbl` is the protocol interface of
//! `ducq_i`; this one is the layer below a ducq client.)
//!
//! This is how a device connects at all: without `std` there is no other
//! way to a server (its `ducq_new_tcp` is made by the platform port over
//! `ducq_new_socket_ctx`).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::ffi::{c_char, c_int, c_void, CStr};
use core::time::Duration;

use super::state::RawState;
use super::vtbl::ducq_i;
use super::{boundary, client, slice_arg, str_arg};
use crate::client::io::{self, Read, Write};
use crate::client::Stream;
use crate::proto::State;
use crate::transport::tcp::TcpCodec;
use crate::transport::ws::WsClient;
use crate::transport::Transport;

/// A socket layer written in C, for `ducq_new_socket`. Each function gets
/// the `ctx` given to `ducq_new_socket` (or the handle's copy of it).
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

/// A block aligned for any object a socket layer's context holds.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Block([u8; 16]);

/// A handle's own copy of a socket layer's context: made from the caller's
/// bytes, freed with the handle, made afresh from them for each
/// `ducq_copy`. The live copy is a raw allocation the layer may write
/// through; Rust never reads it.
pub(crate) struct OwnedCtx {
    template: Box<[Block]>,
    live: *mut [Block],
}

impl OwnedCtx {
    /// Copies `bytes` twice: once to keep, once to lend to the layer.
    fn new(bytes: &[u8]) -> OwnedCtx {
        let mut blocks = alloc::vec![Block([0; 16]); bytes.len().div_ceil(16)];
        for (block, chunk) in blocks.iter_mut().zip(bytes.chunks(16)) {
            if let Some(dst) = block.0.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
        }
        OwnedCtx::from_template(blocks.into_boxed_slice())
    }

    fn from_template(template: Box<[Block]>) -> OwnedCtx {
        let live = Box::into_raw(template.clone());
        OwnedCtx { template, live }
    }

    /// The copy the layer works on; it stays put until the context is
    /// dropped.
    fn ptr(&self) -> *mut c_void {
        self.live.cast()
    }
}

impl Clone for OwnedCtx {
    /// A fresh copy of the caller's bytes, not of the live copy.
    fn clone(&self) -> OwnedCtx {
        OwnedCtx::from_template(self.template.clone())
    }
}

impl Drop for OwnedCtx {
    fn drop(&mut self) {
        // SAFETY: made by `Box::into_raw` in `from_template`, freed once.
        drop(unsafe { Box::from_raw(self.live) });
    }
}

/// Where a layer's context lives.
#[derive(Clone)]
enum Ctx {
    /// The caller's, shared by every copy of the handle (`ducq_new_socket`).
    Borrowed(*mut c_void),
    /// The handle's own copy.
    Owned(OwnedCtx),
}

/// Makes the codec of a new connection. A function pointer chosen by the
/// constructor, so a device program that never makes a WebSocket handle
/// links no WebSocket code.
type MakeCodec = fn(host: &str, max_message: usize) -> Box<dyn Transport>;

fn tcp_codec(_host: &str, max_message: usize) -> Box<dyn Transport> {
    Box::new(TcpCodec::client(max_message))
}

fn ws_codec(host: &str, max_message: usize) -> Box<dyn Transport> {
    Box::new(WsClient::new(host, "/", max_message))
}

/// A socket layer as a handle keeps it: the table, the context, and the
/// protocol spoken over it.
#[derive(Clone)]
pub(crate) struct Layer {
    vtbl: ducq_socket_vtbl,
    ctx: Ctx,
    /// `TCP` or `WS`: the id's prefix.
    name: &'static str,
    /// The WebSocket `Host` (`host:port`); empty for TCP.
    host: String,
    make: MakeCodec,
}

impl Layer {
    /// The id before connecting: the protocol's prefix alone.
    pub(crate) fn id_string(&self) -> String {
        format!("{}:", self.name)
    }

    /// Whether it speaks WebSocket.
    #[cfg(feature = "std")]
    pub(crate) fn is_ws(&self) -> bool {
        self.name == "WS"
    }

    /// Opens the layer's connection (when it has a `conn`); the state it
    /// answered otherwise.
    pub(crate) fn open(&self, timeout: Option<Duration>) -> Result<CStream, State> {
        let ctx = match &self.ctx {
            Ctx::Borrowed(p) => *p,
            Ctx::Owned(o) => o.ptr(),
        };
        if let Some(conn) = self.vtbl.conn {
            // SAFETY: the C layer's own function and context (the
            // constructors' contract).
            let rc = unsafe { conn(ctx, timeout_ms(timeout)) }.state();
            if rc != State::Ok {
                return Err(if rc.is_error() { rc } else { State::EConnect });
            }
        }
        Ok(CStream {
            vtbl: self.vtbl,
            ctx,
            timeout_ms: timeout_ms(timeout),
        })
    }

    /// The codec of a new connection.
    pub(crate) fn codec(&self, max_message: usize) -> Box<dyn Transport> {
        (self.make)(&self.host, max_message)
    }
}

/// A byte stream over a C socket layer; closes the layer when dropped.
/// Its context outlives it (a handle drops its connection first).
pub(crate) struct CStream {
    vtbl: ducq_socket_vtbl,
    ctx: *mut c_void,
    timeout_ms: c_int,
}

impl CStream {
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
        let name = unsafe { CStr::from_ptr(p) };
        Some(String::from_utf8_lossy(name.to_bytes()).into_owned())
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
    t.map_or(-1, |t| c_int::try_from(t.as_millis()).unwrap_or(c_int::MAX))
}

/// The table, copied, when it has the two functions every layer needs.
///
/// # Safety
/// `vtbl` is NULL or points to a valid `ducq_socket_vtbl`.
unsafe fn usable(vtbl: *const ducq_socket_vtbl) -> Option<ducq_socket_vtbl> {
    // SAFETY: NULL or valid (caller contract); copied.
    let vtbl = unsafe { vtbl.as_ref() }.copied()?;
    (vtbl.send.is_some() && vtbl.recv.is_some()).then_some(vtbl)
}

/// Creates an unconnected client handle that runs ducq over a socket layer
/// written in C (`vtbl`, see `struct ducq_socket_vtbl`). Connect it with
/// `ducq_conn` (or let `ducq_publish` connect it); every client function
/// then works on it.
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
        // SAFETY: forwarded caller contract.
        let Some(vtbl) = (unsafe { usable(vtbl) }) else {
            return core::ptr::null_mut();
        };
        client::new_handle(client::Target::Layer(Layer {
            vtbl,
            ctx: Ctx::Borrowed(ctx),
            name: "TCP",
            host: String::new(),
            make: tcp_codec,
        }))
    })
}

/// Like `ducq_new_socket`, but the handle keeps its own copy of the layer's
/// context: `ctx_size` bytes copied from `ctx` (aligned for any object),
/// passed to the layer's functions and freed with the handle. A
/// `ducq_copy` gets a fresh copy of the same `ctx` bytes. This is how a
/// platform port makes `ducq_new_tcp(host, port)`: its context (a socket
/// descriptor, the host and port) lives and dies with the handle.
///
/// `ctx` is only read during the call. Returns NULL when `vtbl` is NULL or
/// lacks `send` or `recv`, or `ctx` is NULL with a size. The caller owns
/// the handle (`ducq_free`).
///
/// # Safety
/// `vtbl` is NULL or a valid `ducq_socket_vtbl`; `ctx` is readable for
/// `ctx_size` bytes; the functions accept a copy of those bytes as their
/// context.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_socket_ctx(
    vtbl: *const ducq_socket_vtbl,
    ctx: *const c_void,
    ctx_size: usize,
) -> *mut ducq_i {
    boundary(|| {
        // SAFETY: forwarded caller contract.
        let (Some(vtbl), Ok(bytes)) = (unsafe { (usable(vtbl), slice_arg(ctx.cast(), ctx_size)) })
        else {
            return core::ptr::null_mut();
        };
        client::new_handle(client::Target::Layer(Layer {
            vtbl,
            ctx: Ctx::Owned(OwnedCtx::new(bytes)),
            name: "TCP",
            host: String::new(),
            make: tcp_codec,
        }))
    })
}

/// Like `ducq_new_socket_ctx`, for a WebSocket client over the layer: the
/// handle speaks WebSocket to a server's HTTP/WebSocket port, as a
/// `ducq_new_ws_client` handle does (`ducq_conn` completes the opening
/// handshake, path `/`, with `host:port` as its `Host`; every client
/// function then works on it; `ducq_id` gives `WS:` and the layer's
/// address). How a platform port makes `ducq_new_ws_client(host, port)`.
///
/// The masking keys come from the library's entropy: on a device, seed it
/// first (`ducq_seed_entropy`). `ctx`, `host` and `port` are only read
/// during the call. Returns NULL as `ducq_new_socket_ctx` does, and when
/// `host` or `port` is NULL or not UTF-8. The caller owns the handle.
///
/// # Safety
/// As for `ducq_new_socket_ctx`; non-null `host` and `port` are
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_ws_socket(
    vtbl: *const ducq_socket_vtbl,
    ctx: *const c_void,
    ctx_size: usize,
    host: *const c_char,
    port: *const c_char,
) -> *mut ducq_i {
    boundary(|| {
        if host.is_null() || port.is_null() {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded caller contract.
        let (Some(vtbl), Ok(bytes), Ok(host), Ok(port)) = (unsafe {
            (
                usable(vtbl),
                slice_arg(ctx.cast(), ctx_size),
                str_arg(host),
                str_arg(port),
            )
        }) else {
            return core::ptr::null_mut();
        };
        client::new_handle(client::Target::Layer(Layer {
            vtbl,
            ctx: Ctx::Owned(OwnedCtx::new(bytes)),
            name: "WS",
            host: client::host_port(host, port),
            make: ws_codec,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn an_owned_context_is_copied_from_the_callers_bytes() {
        let bytes: Vec<u8> = (0u8..40).collect();
        let a = OwnedCtx::new(&bytes);
        // SAFETY: the live copy holds at least 40 bytes (3 blocks).
        let live = unsafe { core::slice::from_raw_parts_mut(a.ptr().cast::<u8>(), 40) };
        assert_eq!(live, &bytes[..]);
        assert_eq!(a.ptr() as usize % 16, 0, "aligned for any object");
        live[0] = 99;
        // A copy starts again from the caller's bytes, at its own address.
        let b = a.clone();
        assert_ne!(a.ptr(), b.ptr());
        // SAFETY: as above.
        let copied = unsafe { core::slice::from_raw_parts(b.ptr().cast::<u8>(), 40) };
        assert_eq!(copied, &bytes[..]);
        assert_eq!(OwnedCtx::new(&[]).template.len(), 0);
    }

    #[test]
    fn timeouts_in_milliseconds_for_c() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::from_millis(1500))), 1500);
        assert_eq!(timeout_ms(Some(Duration::from_secs(u64::MAX))), c_int::MAX);
    }

    #[test]
    fn a_layer_without_send_or_recv_makes_no_handle() {
        let none = ducq_socket_vtbl {
            conn: None,
            send: None,
            recv: None,
            close: None,
            id: None,
        };
        // SAFETY: a valid table; nothing is called.
        unsafe {
            assert!(ducq_new_socket(&none, core::ptr::null_mut()).is_null());
            assert!(ducq_new_socket_ctx(&none, core::ptr::null(), 0).is_null());
            assert!(ducq_new_socket(core::ptr::null(), core::ptr::null_mut()).is_null());
        }
    }
}
