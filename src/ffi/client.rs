//! The `ducq_i` connection handle for C. One handle type, four kinds
//! behind it: a TCP client (`ducq_new_tcp`), a WebSocket client
//! (`ducq_new_ws_client`), a client over a socket layer written in C
//! (`ducq_new_vtbl`), and a server-side connection a reactor lends to a C
//! command or loop callback. The client kinds run the blocking [`Client`]
//! (framing, handshake, PING answers, ACK waits) with the transport's codec;
//! the server kind queues through the reactor's hub. Conversion and checks
//! only.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::Duration;

use super::reactor::FfiCtx;
use super::state::{ducq_state, RawState};
use super::{boundary, bytes_arg, copy_out, nonnull, slice_arg, str_arg};
use crate::client::{Client, Error, Stream, DEFAULT_MAX_MESSAGE};
use crate::proto::message::{self, classify, Kind};
use crate::proto::{State, ACK, END, PARTS};
use crate::server::ConnId;
use crate::transport::tcp::TcpCodec;
use crate::transport::ws::WsClient;
use crate::transport::Transport;

/// A socket layer written in C (a device's own network stack, say), for
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

/// A byte stream over a C socket layer.
pub(crate) struct CStream {
    vtbl: ducq_vtbl,
    ctx: *mut c_void,
    timeout_ms: c_int,
}

impl CStream {
    fn io_error(state: RawState) -> io::Error {
        let s = State::from(state.state());
        match s {
            State::ETimeout => io::ErrorKind::WouldBlock.into(),
            State::EConnClosed => io::ErrorKind::ConnectionReset.into(),
            _ => io::Error::other(s.text()),
        }
    }
}

impl Read for CStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(recv) = self.vtbl.recv else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        let mut n = 0usize;
        // SAFETY: the C layer's own function and context (`ducq_new_vtbl`
        // contract); `buf` is writable for its length, `n` is a valid out.
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
            ducq_state::DUCQ_OK => Ok(n.min(buf.len())),
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
            ducq_state::DUCQ_OK => Ok(n.min(buf.len())),
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

fn timeout_ms(t: Option<Duration>) -> c_int {
    t.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as c_int)
}

/// Which protocol a socket client speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// Length-framed TCP.
    Tcp,
    /// WebSocket, to the server's HTTP port.
    Ws,
}

impl Proto {
    /// The codec for a connection to `addr` (`host:port`, also the
    /// WebSocket `Host` header).
    fn codec(self, addr: &str) -> Box<dyn Transport> {
        match self {
            Proto::Tcp => Box::new(TcpCodec::new(DEFAULT_MAX_MESSAGE)),
            Proto::Ws => Box::new(WsClient::new(addr, "/", DEFAULT_MAX_MESSAGE)),
        }
    }

    /// The id prefix, as the server names such clients.
    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Ws => "WS",
        }
    }
}

/// Where a client handle connects.
#[derive(Clone)]
enum Target {
    Socket {
        proto: Proto,
        host: String,
        port: String,
    },
    Vtbl {
        vtbl: ducq_vtbl,
        ctx: *mut c_void,
    },
    /// TLS or a Unix socket (`ffi/secure.rs`): a connector and the id
    /// shown before connecting.
    Net {
        connect: NetConnector,
        label: String,
    },
}

/// Opens a TLS or Unix socket client within the timeout given.
pub(crate) type NetConnector =
    std::sync::Arc<dyn Fn(Duration) -> Result<Client<crate::client::NetStream>, Error>>;

enum AnyClient {
    Tcp(Client),
    C(Client<CStream>),
    Net(Client<crate::client::NetStream>),
}

/// Runs the same code on either client.
macro_rules! on_client {
    ($c:expr, $cl:ident => $body:expr) => {
        match $c {
            AnyClient::Tcp($cl) => $body,
            AnyClient::C($cl) => $body,
            AnyClient::Net($cl) => $body,
        }
    };
}

struct ClientSide {
    target: Target,
    timeout: Option<Duration>,
    conn: Option<AnyClient>,
}

struct ServerSide {
    ctx: Rc<FfiCtx>,
    conn: ConnId,
    /// Lent to a callback (not freed by `ducq_free`).
    lent: bool,
}

enum Side {
    Client(Box<ClientSide>),
    Server(ServerSide),
}

/// A connection to talk ducq over: a client connection to a server, or
/// (inside a reactor callback) one of the server's clients.
///
/// Client handles come from `ducq_new_tcp`, `ducq_new_ws_client`,
/// `ducq_new_vtbl` or `ducq_copy`;
/// the caller owns them and frees them with `ducq_free`. A client handle may
/// move between threads but is used by one thread at a time. Handles given
/// to C commands and `ducq_reactor_loop` callbacks are lent for that call;
/// `ducq_copy` makes one that lasts, usable on the reactor's thread.
pub struct ducq_i {
    kind: Side,
    id: Option<CString>,
    error: CString,
    /// `ducq_listen` callbacks running on this handle.
    pub(crate) depth: Cell<u32>,
    /// `ducq_free` was called during a callback: free when it returns.
    pub(crate) free_pending: Cell<bool>,
}

impl ducq_i {
    fn new(kind: Side) -> ducq_i {
        ducq_i {
            kind,
            id: None,
            error: CString::default(),
            depth: Cell::new(0),
            free_pending: Cell::new(false),
        }
    }

    /// An unconnected client handle that connects with `connect`.
    pub(crate) fn net_client(connect: NetConnector, label: String) -> *mut ducq_i {
        ducq_i::client(Target::Net { connect, label })
    }

    fn client(target: Target) -> *mut ducq_i {
        Box::into_raw(Box::new(ducq_i::new(Side::Client(Box::new(ClientSide {
            target,
            timeout: None,
            conn: None,
        })))))
    }

    /// A server-side handle lent to one callback.
    pub(crate) fn lent(ctx: Rc<FfiCtx>, conn: ConnId) -> ducq_i {
        ducq_i::new(Side::Server(ServerSide {
            ctx,
            conn,
            lent: true,
        }))
    }

    /// The connection this handle names in the reactor of `ctx`.
    pub(crate) fn server_conn(&self, ctx: &Rc<FfiCtx>) -> Option<ConnId> {
        match &self.kind {
            Side::Server(s) if Rc::ptr_eq(&s.ctx, ctx) => Some(s.conn),
            _ => None,
        }
    }

    /// Records the detail of a failure for `ducq_last_error`.
    fn fail(&mut self, state: ducq_state, detail: &str) -> ducq_state {
        let text = if detail.is_empty() {
            State::from(state).text().to_owned()
        } else {
            detail.replace('\0', " ")
        };
        self.error = CString::new(text).unwrap_or_default();
        state
    }

    fn client_error(&mut self, e: &Error) -> ducq_state {
        let state = match e {
            Error::Nack { state, .. } if state.is_error() => (*state).into(),
            other => other.state().into(),
        };
        self.fail(state, &e.to_string())
    }

    fn connected(&mut self) -> Result<&mut AnyClient, ducq_state> {
        match &mut self.kind {
            Side::Client(c) => c.conn.as_mut().ok_or(ducq_state::DUCQ_ECONNCLOSED),
            Side::Server(_) => Err(ducq_state::DUCQ_ENOIMPL),
        }
    }

    /// Runs a client operation, recording its error.
    fn with_client<T>(
        &mut self,
        op: impl FnOnce(&mut AnyClient) -> Result<T, Error>,
    ) -> Result<T, ducq_state> {
        let result = match self.connected() {
            Ok(c) => op(c),
            Err(state) => return Err(self.fail(state, "")),
        };
        result.map_err(|e| {
            // A connection the server closed, or whose socket failed, is
            // over: drop it so the handle reads as closed until `ducq_conn`.
            if matches!(e, Error::Closed | Error::Io { .. }) {
                if let Side::Client(c) = &mut self.kind {
                    c.conn = None;
                }
            }
            self.client_error(&e)
        })
    }

    /// Sends one message body.
    pub(crate) fn send_msg(&mut self, msg: &[u8]) -> Result<(), ducq_state> {
        if let Side::Server(s) = &self.kind {
            let (ctx, id) = (s.ctx.clone(), s.conn);
            let sent = ctx.with_hub(|hub| {
                let key = hub.resolve(id).ok_or(ducq_state::DUCQ_ENOTFOUND)?;
                hub.send(key, msg).map_err(ducq_state::from)?;
                Ok(key)
            });
            return match sent {
                Ok(Ok(key)) => {
                    ctx.sent_to(key);
                    Ok(())
                }
                Ok(Err(e)) | Err(e) => Err(self.fail(e, "")),
            };
        }
        self.with_client(|c| on_client!(c, cl => cl.send(msg)))
    }

    /// The next message (PINGs answered and skipped).
    pub(crate) fn receive_msg(&mut self) -> Result<Vec<u8>, ducq_state> {
        self.with_client(|c| on_client!(c, cl => cl.receive()))
    }

    fn unreceive(&mut self, msg: Vec<u8>) {
        if let Ok(c) = self.connected() {
            on_client!(c, cl => cl.unreceive(msg));
        }
    }

    /// Whether a client handle has a connection (server handles: whether
    /// the client is still open).
    pub(crate) fn is_connected(&self) -> bool {
        match &self.kind {
            Side::Client(c) => c.conn.is_some(),
            Side::Server(s) => {
                let id = s.conn;
                s.ctx
                    .with_hub(|hub| hub.resolve(id).is_some())
                    .unwrap_or(false)
            }
        }
    }

    fn connect(&mut self) -> Result<(), ducq_state> {
        let Side::Client(c) = &mut self.kind else {
            return Err(ducq_state::DUCQ_ENOIMPL);
        };
        c.conn = None;
        self.id = None;
        let timeout = c.timeout;
        let result = match c.target.clone() {
            Target::Socket { proto, host, port } => {
                let addr = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                let limit = timeout.unwrap_or(Duration::from_secs(10));
                Client::connect_with(&addr, limit, proto.codec(&addr)).and_then(|mut cl| {
                    cl.set_timeout(timeout)?;
                    Ok(AnyClient::Tcp(cl))
                })
            }
            Target::Vtbl { vtbl, ctx } => {
                if let Some(conn) = vtbl.conn {
                    // SAFETY: the C layer's own function and context.
                    let rc = unsafe { conn(ctx, timeout_ms(timeout)) }.state();
                    if rc != ducq_state::DUCQ_OK {
                        let state = if rc.is_error() {
                            rc
                        } else {
                            ducq_state::DUCQ_ECONNECT
                        };
                        return Err(self.fail(state, "the socket layer could not connect"));
                    }
                }
                let stream = CStream {
                    vtbl,
                    ctx,
                    timeout_ms: timeout_ms(timeout),
                };
                Client::from_io(stream, Proto::Tcp.codec(""), timeout).map(AnyClient::C)
            }
            Target::Net { connect, .. } => {
                let limit = timeout.unwrap_or(Duration::from_secs(10));
                connect(limit).and_then(|mut cl| {
                    cl.set_timeout(timeout)?;
                    Ok(AnyClient::Net(cl))
                })
            }
        };
        match result {
            Ok(client) => {
                c.conn = Some(client);
                Ok(())
            }
            Err(e) => {
                let state = match e {
                    Error::Timeout => ducq_state::DUCQ_ETIMEOUT,
                    _ => ducq_state::DUCQ_ECONNECT,
                };
                Err(self.fail(state, &e.to_string()))
            }
        }
    }

    fn id_string(&self) -> String {
        match &self.kind {
            Side::Server(s) => {
                let id = s.conn;
                s.ctx
                    .with_hub(|hub| hub.resolve(id).and_then(|k| hub.client_id(k)))
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            }
            Side::Client(c) => match (&c.conn, &c.target) {
                (Some(conn), _) => on_client!(conn, cl => cl.id()),
                (None, Target::Socket { proto, host, port }) => {
                    format!("{}:{host}:{port}", proto.name())
                }
                (None, Target::Vtbl { .. }) => "TCP:".to_owned(),
                (None, Target::Net { label, .. }) => label.clone(),
            },
        }
    }
}

/// Borrows a handle for the length of one export.
///
/// # Safety
/// `p` is non-null and a live handle not borrowed elsewhere for the call.
pub(crate) unsafe fn handle<'a>(p: *mut ducq_i) -> &'a mut ducq_i {
    // SAFETY: guaranteed by the caller. Exports never keep this borrow
    // across a call into C, so a callback using the same handle is safe.
    unsafe { &mut *p }
}

fn status(r: Result<(), ducq_state>) -> ducq_state {
    r.err().unwrap_or(ducq_state::DUCQ_OK)
}

/// Creates an unconnected TCP client handle for `host` (a name or an IPv4
/// or IPv6 address) and `port` (decimal, e.g. `"59090"`). Connect it with
/// `ducq_conn`.
///
/// Both strings are copied. Returns NULL when either is NULL or not UTF-8.
/// The caller owns the handle and frees it with `ducq_free`.
///
/// # Safety
/// Non-null arguments are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_tcp(host: *const c_char, port: *const c_char) -> *mut ducq_i {
    // SAFETY: forwarded caller contract.
    unsafe { new_socket_client(Proto::Tcp, host, port) }
}

/// Creates an unconnected WebSocket client handle for the HTTP/WebSocket
/// port of a server (`ducq-server --http`, `ducq_reactor_listen_http`):
/// `host` (a name or an IPv4 or IPv6 address) and `port` (decimal, e.g.
/// `"59091"`). `ducq_conn` connects it and completes the WebSocket opening
/// handshake (path `/`, `host:port` as the `Host` header) within the
/// handle's timeout.
///
/// Every client function then works on it as on a TCP handle: `ducq_emit`,
/// `ducq_send`, `ducq_recv`, `ducq_receive`, `ducq_listen`, `ducq_pub`,
/// `ducq_sub`, `ducq_copy` (an unconnected WebSocket handle), `ducq_close`
/// (reconnect with `ducq_conn`). One ducq message travels as one WebSocket
/// message, its bytes unchanged (NUL bytes and non-UTF-8 included). The
/// server's WebSocket pings are answered inside receives. `ducq_id` gives
/// `WS:<ip>:<port>` of this end once connected, `WS:<host>:<port>` before.
///
/// Both strings are copied. Returns NULL when either is NULL or not UTF-8.
/// The caller owns the handle and frees it with `ducq_free`; it may move
/// between threads but is used by one thread at a time.
///
/// # Safety
/// Non-null arguments are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_ws_client(
    host: *const c_char,
    port: *const c_char,
) -> *mut ducq_i {
    // SAFETY: forwarded caller contract.
    unsafe { new_socket_client(Proto::Ws, host, port) }
}

/// The body of `ducq_new_tcp` and `ducq_new_ws_client`.
///
/// # Safety
/// Non-null arguments are NUL-terminated strings.
unsafe fn new_socket_client(proto: Proto, host: *const c_char, port: *const c_char) -> *mut ducq_i {
    boundary(|| {
        if host.is_null() || port.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: non-null, NUL-terminated (caller contract).
        let (Ok(host), Ok(port)) = (unsafe { str_arg(host) }, unsafe { str_arg(port) }) else {
            return std::ptr::null_mut();
        };
        ducq_i::client(Target::Socket {
            proto,
            host: host.to_owned(),
            port: port.to_owned(),
        })
    })
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
    boundary(|| {
        if vtbl.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: non-null and valid (caller contract).
        let vtbl = unsafe { *vtbl };
        if vtbl.send.is_none() || vtbl.recv.is_none() {
            return std::ptr::null_mut();
        }
        ducq_i::client(Target::Vtbl { vtbl, ctx })
    })
}

/// Connects a client handle (closing its current connection first) and
/// completes the protocol's handshake, within the handle's timeout (10 s
/// when none is set).
///
/// `DUCQ_ECONNECT` when the server cannot be reached (or refuses a
/// WebSocket upgrade), `DUCQ_ETIMEOUT` when it does not answer in time
/// (`ducq_last_error` has the detail),
/// `DUCQ_ENOIMPL` on a server-side handle, `DUCQ_ENULL` for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_conn(ducq: *mut ducq_i) -> ducq_state {
    boundary(|| {
        nonnull!(ducq);
        // SAFETY: live handle (caller contract).
        status(unsafe { handle(ducq) }.connect())
    })
}

/// Closes the connection. A client handle stays usable: `ducq_conn`
/// reconnects it. On a server-side handle, closes that client once the
/// replies queued for it are written.
///
/// Closing a closed handle is `DUCQ_OK`. `DUCQ_ENULL` for NULL. Safe from
/// a `ducq_listen` callback on the same handle (the listen then returns
/// `DUCQ_ECONNCLOSED`).
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_close(ducq: *mut ducq_i) -> ducq_state {
    boundary(|| {
        nonnull!(ducq);
        // SAFETY: live handle (caller contract).
        let d = unsafe { handle(ducq) };
        match &mut d.kind {
            Side::Client(c) => {
                c.conn = None;
                d.id = None;
                ducq_state::DUCQ_OK
            }
            Side::Server(s) => {
                let id = s.conn;
                super::reactor::flatten(s.ctx.with_hub(|hub| {
                    let key = hub.resolve(id).ok_or(ducq_state::DUCQ_ENOTFOUND)?;
                    hub.close_after_flush(key);
                    Ok(())
                }))
            }
        }
    })
}

/// Frees a handle, closing its connection (a server-side copy only lets go:
/// the client stays connected).
///
/// `ducq_free(NULL)` and freeing a handle lent to a callback are no-ops.
/// Called from a `ducq_listen` callback on the same handle, the free happens
/// when that callback returns (the listen returns `DUCQ_ECONNCLOSED` and the
/// handle must not be used again).
///
/// # Safety
/// `ducq` is NULL, a lent handle, or a handle this library returned that was
/// not freed yet.
#[no_mangle]
pub unsafe extern "C" fn ducq_free(ducq: *mut ducq_i) {
    boundary(|| {
        if ducq.is_null() {
            return;
        }
        // SAFETY: live handle (caller contract).
        let d = unsafe { handle(ducq) };
        if let Side::Server(ServerSide { lent: true, .. }) = d.kind {
            return;
        }
        if d.depth.get() > 0 {
            d.free_pending.set(true);
            if let Side::Client(c) = &mut d.kind {
                c.conn = None;
            }
            return;
        }
        // SAFETY: made by Box::into_raw in this module, freed once.
        drop(unsafe { Box::from_raw(ducq) });
    })
}

/// Sends one message: `*count` bytes of `buf`, framed by the handle's
/// protocol. On a server-side handle the message is queued for that client
/// and written when the command returns.
///
/// On success `*count` holds the number of message bytes sent (all of
/// them). `buf` is only read during the call. `DUCQ_ECONNCLOSED` when not
/// connected, `DUCQ_EWRITE` when writing fails, `DUCQ_ENOTFOUND` when a
/// server-side client is gone, `DUCQ_ENULL` for NULL pointers.
///
/// # Safety
/// `ducq` is a live handle, `count` valid, `buf` readable for `*count` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_send(
    ducq: *mut ducq_i,
    buf: *const c_void,
    count: *mut usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, count);
        // SAFETY: valid pointers (caller contract).
        let (d, len) = unsafe { (handle(ducq), *count) };
        // SAFETY: readable for `len` bytes (caller contract).
        let msg = match unsafe { slice_arg(buf.cast(), len) } {
            Ok(m) => m,
            Err(e) => return e,
        };
        status(d.send_msg(msg))
    })
}

/// Receives the next message into `buf`, NUL-terminated (PINGs from the
/// server are answered and skipped). Any message counts: data, ACK, NACK,
/// PARTS, END, PONG; see `ducq_receive` to have it classified.
///
/// `*size` is the capacity of `buf` on entry and the message length (NUL
/// excluded) on success. When the message does not fit, it stays queued for
/// the next call, `*size` receives the capacity needed, and `DUCQ_EMSGSIZE`
/// is returned. Waits at most the handle's timeout (`DUCQ_ETIMEOUT`).
/// `DUCQ_ECONNCLOSED` when the server closed, `DUCQ_ENOIMPL` on a
/// server-side handle.
///
/// # Safety
/// `ducq` is a live handle, `size` valid, `buf` writable for `*size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_recv(
    ducq: *mut ducq_i,
    buf: *mut c_char,
    size: *mut usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, buf, size);
        // SAFETY: valid pointers (caller contract).
        let d = unsafe { handle(ducq) };
        // SAFETY: as above.
        match receive_into(d, buf, size) {
            Ok(_) => ducq_state::DUCQ_OK,
            Err(e) => e,
        }
    })
}

/// Receives one message into the caller's buffer; returns its kind.
fn receive_into(d: &mut ducq_i, buf: *mut c_char, size: *mut usize) -> Result<Kind, ducq_state> {
    let msg = d.receive_msg()?;
    // SAFETY: the exports calling this checked `buf` and `size`, which are
    // valid for `*size` bytes (their caller contract).
    match unsafe { copy_out(&msg, buf, size) } {
        ducq_state::DUCQ_OK => Ok(classify(&msg)),
        e => {
            d.unreceive(msg);
            Err(e)
        }
    }
}

/// Like `ducq_recv`, and tells what arrived: `DUCQ_OK` for a data message
/// (a publication on a subscribed route, a command's answer), `DUCQ_PROTOCOL`
/// for ACK, PARTS, END and PONG, `DUCQ_NACK` for a NACK (read its code with
/// `ducq_nack_state`). Errors as for `ducq_recv`.
///
/// # Safety
/// As for `ducq_recv`.
#[no_mangle]
pub unsafe extern "C" fn ducq_receive(
    ducq: *mut ducq_i,
    buf: *mut c_char,
    size: *mut usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, buf, size);
        // SAFETY: valid pointers (caller contract).
        let d = unsafe { handle(ducq) };
        match receive_into(d, buf, size) {
            Ok(Kind::Data) => ducq_state::DUCQ_OK,
            Ok(Kind::Nack(_)) => ducq_state::DUCQ_NACK,
            Ok(_) => ducq_state::DUCQ_PROTOCOL,
            Err(e) => e,
        }
    })
}

/// Sends `PARTS`, the first message of a multipart reply (then one
/// `ducq_send` per part, then `ducq_end`). Errors as for `ducq_send`.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_parts(ducq: *mut ducq_i) -> ducq_state {
    boundary(|| {
        nonnull!(ducq);
        // SAFETY: live handle (caller contract).
        status(unsafe { handle(ducq) }.send_msg(PARTS))
    })
}

/// Sends `END`, the last message of a multipart reply. Errors as for
/// `ducq_send`.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_end(ducq: *mut ducq_i) -> ducq_state {
    boundary(|| {
        nonnull!(ducq);
        // SAFETY: live handle (caller contract).
        status(unsafe { handle(ducq) }.send_msg(END))
    })
}

/// Sends `ACK` when `state` is `DUCQ_OK`, otherwise
/// `NACK *\n<code>\n<text>` for `state` (out-of-range values folded as in
/// `ducq_state_tostr`).
///
/// Returns the send's error when sending failed, otherwise `state` itself,
/// so a command can end with `return ducq_send_ack(ducq, DUCQ_ENOTFOUND);`
/// (the client gets one NACK, not two).
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_send_ack(ducq: *mut ducq_i, state: RawState) -> ducq_state {
    boundary(|| {
        nonnull!(ducq);
        // SAFETY: live handle (caller contract).
        let d = unsafe { handle(ducq) };
        let state = state.state();
        let msg = if state == ducq_state::DUCQ_OK {
            ACK.to_vec()
        } else {
            message::nack(state.into())
        };
        match d.send_msg(&msg) {
            Ok(()) => state,
            Err(e) => e,
        }
    })
}

/// Sends `<command> <route>\n<payload>` and returns without waiting for a
/// reply (read it with `ducq_receive`). When `close` is true the connection
/// is closed once the message is sent.
///
/// `payload` (`payload_size` bytes, may hold NUL bytes) may be NULL when
/// `payload_size` is 0. All strings are only read during the call.
/// `DUCQ_EMSGINV` for a command holding a space or newline, or a route
/// holding a newline. Errors as for `ducq_send`.
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
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, command, route);
        // SAFETY: valid pointers (caller contract).
        let (d, command, route) = unsafe { (handle(ducq), bytes_arg(command), bytes_arg(route)) };
        // SAFETY: readable for `payload_size` bytes (caller contract).
        let payload = match unsafe { slice_arg(payload.cast(), payload_size) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        if command.is_empty()
            || command.contains(&b' ')
            || command.contains(&b'\n')
            || route.contains(&b'\n')
        {
            return ducq_state::DUCQ_EMSGINV;
        }
        let result = d.send_msg(&message::format(command, route, payload));
        if close && result.is_ok() {
            // SAFETY: live handle (caller contract).
            return unsafe { ducq_close(ducq) };
        }
        status(result)
    })
}

/// Publishes `payload` (`payload_size` bytes, may be NULL when 0) on
/// `route` and waits for the server's ACK. Data messages arriving meanwhile
/// are kept for the next receive.
///
/// `DUCQ_OK` on ACK; on a NACK, the state it carries (`DUCQ_EMSGINV` for an
/// empty route, …; `ducq_last_error` has its text); `DUCQ_ETIMEOUT` when no
/// answer came within the handle's timeout; `DUCQ_ENOIMPL` on a server-side
/// handle. The arguments are only read during the call.
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
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, route);
        // SAFETY: valid pointers (caller contract).
        let (d, route) = unsafe { (handle(ducq), str_arg(route)) };
        // SAFETY: readable for `payload_size` bytes (caller contract).
        let payload = match unsafe { slice_arg(payload.cast(), payload_size) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        let Ok(route) = route else {
            return ducq_state::DUCQ_EMSGINV;
        };
        status(d.with_client(|c| on_client!(c, cl => cl.publish(route, payload))))
    })
}

/// `ducq_pub` with a NUL-terminated payload, as older device code calls it.
///
/// # Safety
/// `ducq` is a live handle; `route` and `payload` are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_publish(
    ducq: *mut ducq_i,
    route: *const c_char,
    payload: *const c_char,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, route, payload);
        // SAFETY: NUL-terminated (caller contract).
        let len = unsafe { CStr::from_ptr(payload) }.to_bytes().len();
        // SAFETY: forwarded caller contract.
        unsafe { ducq_pub(ducq, route, payload, len) }
    })
}

/// Subscribes to `route` (`*` matches anything) and waits for the answer.
/// `options` may be NULL or hold space-separated options: `last` (the
/// server answers with the stored last message instead of ACK) and `add`
/// (keep the other subscriptions of this connection).
///
/// `DUCQ_OK` on ACK or on a stored message; that message (and, for a
/// pattern, the others) then comes first from `ducq_receive` /
/// `ducq_listen`. On a NACK, the state it carries. Other errors as for
/// `ducq_pub`. The arguments are only read during the call.
///
/// # Safety
/// `ducq` is a live handle; `route` and non-null `options` are
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_sub(
    ducq: *mut ducq_i,
    route: *const c_char,
    options: *const c_char,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, route);
        // SAFETY: valid pointers (caller contract).
        let (d, route) = unsafe { (handle(ducq), str_arg(route)) };
        let options = if options.is_null() {
            Ok("")
        } else {
            // SAFETY: NUL-terminated (caller contract).
            unsafe { str_arg(options) }
        };
        let (Ok(route), Ok(options)) = (route, options) else {
            return ducq_state::DUCQ_EMSGINV;
        };
        match d.with_client(|c| on_client!(c, cl => cl.subscribe(route, options))) {
            Ok(Some(stored)) => {
                d.unreceive(stored);
                ducq_state::DUCQ_OK
            }
            Ok(None) => ducq_state::DUCQ_OK,
            Err(e) => e,
        }
    })
}

/// The handle's id: `TCP:<ip>:<port>` of this end for a connected client,
/// `TCP:<host>:<port>` of the server before connecting (`WS:` instead of
/// `TCP:` for a WebSocket handle), and for a server-side handle the
/// client's id as `lsconn` lists it.
///
/// The string belongs to the handle: valid until the handle is closed,
/// reconnected or freed (for a lent handle, until the callback returns).
/// Returns NULL for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_id(ducq: *mut ducq_i) -> *const c_char {
    boundary(|| {
        if ducq.is_null() {
            return std::ptr::null();
        }
        // SAFETY: live handle (caller contract).
        let d = unsafe { handle(ducq) };
        let id = CString::new(d.id_string()).unwrap_or_default();
        if d.id.as_ref() != Some(&id) {
            d.id = Some(id);
        }
        d.id.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Whether two handles name the same connection: the same client of a
/// reactor for server-side handles (a lent handle and its copies are
/// equal), the same id for client handles. False when either is NULL.
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
        // SAFETY: live handles (caller contract); only read.
        let (a, b) = unsafe { (&*a, &*b) };
        match (&a.kind, &b.kind) {
            (Side::Server(x), Side::Server(y)) => Rc::ptr_eq(&x.ctx, &y.ctx) && x.conn == y.conn,
            (Side::Client(_), Side::Client(_)) => a.id_string() == b.id_string(),
            _ => false,
        }
    })
}

/// A new handle to the same place: for a client handle, an unconnected
/// handle with the same destination and timeout (a `ducq_vtbl` handle
/// shares its `ctx`); for a server-side handle (lent to a callback), a
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
        if ducq.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: live handle (caller contract).
        let d = unsafe { &*ducq };
        let kind = match &d.kind {
            Side::Client(c) => Side::Client(Box::new(ClientSide {
                target: c.target.clone(),
                timeout: c.timeout,
                conn: None,
            })),
            Side::Server(s) => Side::Server(ServerSide {
                ctx: s.ctx.clone(),
                conn: s.conn,
                lent: false,
            }),
        };
        Box::into_raw(Box::new(ducq_i::new(kind)))
    })
}

/// Sets how long connecting and each receive may wait, in seconds; 0 or
/// less waits without limit (connecting then gives up after 10 s). Applies
/// to the current connection and later ones. A no-op on a server-side handle.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_timeout(ducq: *mut ducq_i, timeout: c_int) -> ducq_state {
    boundary(|| {
        nonnull!(ducq);
        // SAFETY: live handle (caller contract).
        let d = unsafe { handle(ducq) };
        let t = u64::try_from(timeout)
            .ok()
            .filter(|&s| s > 0)
            .map(Duration::from_secs);
        let Side::Client(c) = &mut d.kind else {
            return ducq_state::DUCQ_OK;
        };
        c.timeout = t;
        let result = match c.conn.as_mut() {
            Some(conn) => on_client!(conn, cl => cl.set_timeout(t)),
            None => Ok(()),
        };
        match result {
            Ok(()) => ducq_state::DUCQ_OK,
            Err(e) => d.client_error(&e),
        }
    })
}

/// Kept for programs written for the original library, which set
/// `SO_REUSEADDR` here. A client's local port is ephemeral and the
/// reactor's listeners already reuse addresses, so this is a documented
/// no-op: `DUCQ_OK`, or `DUCQ_ENULL` for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reuseaddr(ducq: *mut ducq_i) -> ducq_state {
    boundary(|| {
        nonnull!(ducq);
        ducq_state::DUCQ_OK
    })
}

/// The detail of the handle's last failure (`"could not connect to server:
/// Connection refused (os error 111)"`, a NACK's text), or `""`.
///
/// The string belongs to the handle and is valid until its next call.
/// NULL for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_last_error(ducq: *mut ducq_i) -> *const c_char {
    boundary(|| {
        if ducq.is_null() {
            return std::ptr::null();
        }
        // SAFETY: live handle (caller contract).
        unsafe { &*ducq }.error.as_ptr()
    })
}
