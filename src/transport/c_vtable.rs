//! A server protocol written in C, adapted to the [`Transport`] trait: a C
//! program describes a codec as a table of functions (`ducq_proto_vtbl`:
//! open, decode, encode, close, a name) and the reactor drives it like any
//! Rust codec. Sans-IO like every transport: the C functions see byte
//! buffers, never a socket. The exported functions that go with it
//! (`ducq_reactor_listen_proto`, `ducq_buf_append`) live in `ffi`.

#![allow(non_camel_case_types)]

use std::borrow::Cow;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::rc::Rc;

use super::{Decoded, Step, Transport, TransportFactory};

/// A growable byte buffer a codec function appends to with
/// `ducq_buf_append`. Owned by ducq and lent for one call.
pub struct ducq_buf {
    pub(crate) bytes: Vec<u8>,
    pub(crate) limit: usize,
}

impl ducq_buf {
    fn lend(bytes: Vec<u8>, limit: usize) -> ducq_buf {
        ducq_buf { bytes, limit }
    }

    /// Appends `data` unless the buffer would pass its limit.
    pub fn append(&mut self, data: &[u8]) -> bool {
        if self.bytes.len().saturating_add(data.len()) > self.limit {
            return false;
        }
        self.bytes.extend_from_slice(data);
        true
    }
}

/// What one call of a C `decode` produced.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ducq_decoded {
    /// Nothing to deliver. With `*consumed > 0`, ducq calls again with the
    /// rest of the input; with `*consumed == 0`, it waits for more bytes.
    DUCQ_DECODED_NOTHING = 0,
    /// The bytes appended to `message` are one ducq message
    /// (`<command> <route>\n<payload>`). At least one input byte must have
    /// been consumed.
    DUCQ_DECODED_MESSAGE = 1,
    /// The stream is over (the peer said goodbye, or sent something
    /// unrecoverable): ducq writes what was appended to `out`, then closes.
    DUCQ_DECODED_CLOSE = 2,
}

/// A `ducq_decoded` as C returns it: any int. `ducq_decoded` in the header.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct RawDecoded(pub c_int);

/// A server protocol written in C, registered on a listener with
/// `ducq_reactor_listen_proto`. Each function gets the `ctx` given at
/// registration and the per-connection pointer `open` returned.
///
/// The functions run on the reactor's thread in the middle of its work:
/// they may call `ducq_buf_append` and `ducq_state_tostr` only. `decode`
/// and `encode` are required.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_proto_vtbl {
    /// The kind shown in client ids (`LINE` gives `LINE:<ip>:<port>`);
    /// copied at registration. NULL gives `C`.
    pub name: *const c_char,
    /// A client connected: returns its per-connection state (may be NULL)
    /// and may append a greeting to `out`. NULL: no state.
    pub open: Option<unsafe extern "C" fn(ctx: *mut c_void, out: *mut ducq_buf) -> *mut c_void>,
    /// Decodes at most one message from the front of `input` (`len`
    /// bytes): stores in `*consumed` how many bytes are finished with,
    /// appends the message to `message`, and anything to send back
    /// (handshake answers, errors) to `out`.
    pub decode: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            conn: *mut c_void,
            input: *const c_char,
            len: usize,
            consumed: *mut usize,
            message: *mut ducq_buf,
            out: *mut ducq_buf,
        ) -> RawDecoded,
    >,
    /// Appends the wire form of one ducq message (`len` bytes: an ACK, a
    /// NACK, a publication…) to `out`.
    pub encode: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            conn: *mut c_void,
            message: *const c_char,
            len: usize,
            out: *mut ducq_buf,
        ),
    >,
    /// The connection is gone: release `conn`. NULL: nothing to release.
    pub close: Option<unsafe extern "C" fn(ctx: *mut c_void, conn: *mut c_void)>,
}

type DecodeFn = unsafe extern "C" fn(
    *mut c_void,
    *mut c_void,
    *const c_char,
    usize,
    *mut usize,
    *mut ducq_buf,
    *mut ducq_buf,
) -> RawDecoded;
type EncodeFn = unsafe extern "C" fn(*mut c_void, *mut c_void, *const c_char, usize, *mut ducq_buf);

/// A registered C protocol, shared by the connections of its listener.
pub struct CProtocol {
    vtbl: ducq_proto_vtbl,
    decode: DecodeFn,
    encode: EncodeFn,
    ctx: *mut c_void,
    name: String,
    max_message: usize,
}

impl CProtocol {
    /// Checks and copies a C description. `None` when `decode` or `encode`
    /// is missing or the name is not UTF-8.
    ///
    /// # Safety
    /// The functions of `vtbl` are valid for `ctx` for as long as any
    /// transport made from this protocol lives; a non-null `name` is
    /// NUL-terminated.
    pub unsafe fn new(
        vtbl: &ducq_proto_vtbl,
        ctx: *mut c_void,
        max_message: usize,
    ) -> Option<CProtocol> {
        let (decode, encode) = (vtbl.decode?, vtbl.encode?);
        let name = if vtbl.name.is_null() {
            "C".to_owned()
        } else {
            // SAFETY: non-null and NUL-terminated (caller contract).
            unsafe { CStr::from_ptr(vtbl.name) }
                .to_str()
                .ok()?
                .to_owned()
        };
        Some(CProtocol {
            vtbl: *vtbl,
            decode,
            encode,
            ctx,
            name,
            max_message,
        })
    }

    /// A factory making one transport per accepted connection.
    pub fn factory(self) -> TransportFactory {
        let proto = Rc::new(self);
        Box::new(move || Box::new(CTransport::new(proto.clone())))
    }
}

/// One connection's C codec.
pub struct CTransport {
    proto: Rc<CProtocol>,
    conn: *mut c_void,
    greeting: Vec<u8>,
    message: Vec<u8>,
}

impl CTransport {
    fn new(proto: Rc<CProtocol>) -> CTransport {
        let mut greeting = ducq_buf::lend(Vec::new(), proto.max_message);
        let conn = match proto.vtbl.open {
            // SAFETY: the protocol's own function and context (`new`
            // contract); the buffer is lent for the call.
            Some(open) => unsafe { open(proto.ctx, &mut greeting) },
            None => std::ptr::null_mut(),
        };
        CTransport {
            proto,
            conn,
            greeting: greeting.bytes,
            message: Vec::new(),
        }
    }
}

impl Drop for CTransport {
    fn drop(&mut self) {
        if let Some(close) = self.proto.vtbl.close {
            // SAFETY: the protocol's own function, context and connection
            // state, released once.
            unsafe { close(self.proto.ctx, self.conn) };
        }
    }
}

impl Transport for CTransport {
    fn name(&self) -> &str {
        &self.proto.name
    }

    fn open(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.greeting);
    }

    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        let mut consumed = 0usize;
        let mut message = ducq_buf::lend(std::mem::take(&mut self.message), self.proto.max_message);
        message.bytes.clear();
        let mut reply = ducq_buf::lend(std::mem::take(out), usize::MAX);
        // SAFETY: the protocol's own function and context (`CProtocol::new`
        // contract); `input` is readable for its length, the out-pointers
        // and buffers are valid for the call.
        let result = unsafe {
            (self.proto.decode)(
                self.proto.ctx,
                self.conn,
                input.as_ptr().cast(),
                input.len(),
                &mut consumed,
                &mut message,
                &mut reply,
            )
        };
        *out = reply.bytes;
        let consumed = consumed.min(input.len());
        let decoded = match result.0 {
            0 => Decoded::Nothing,
            1 if consumed > 0 => Decoded::Message(Cow::Owned(std::mem::take(&mut message.bytes))),
            _ => {
                return Step {
                    consumed: input.len(),
                    decoded: Decoded::Close,
                }
            }
        };
        self.message = message.bytes;
        Step { consumed, decoded }
    }

    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        let mut buf = ducq_buf::lend(std::mem::take(out), usize::MAX);
        // SAFETY: the protocol's own function and context; `msg` readable
        // for its length; the buffer is lent for the call.
        unsafe {
            (self.proto.encode)(
                self.proto.ctx,
                self.conn,
                msg.as_ptr().cast(),
                msg.len(),
                &mut buf,
            )
        };
        *out = buf.bytes;
    }
}
