//! Client handles: a TCP client (`ducq_new_tcp`), a WebSocket client
//! (`ducq_new_ws_client`), the original's HTTP client placeholder
//! (`ducq_new_http_client`) and a client over a socket layer written in C
//! (`ducq_new_socket` and its kin, see `socket`). Each runs the blocking
//! [`Client`] (framing, handshake, PING answers, ACK waits) with the
//! transport's codec; this file only knows where a handle connects, its
//! buffer limits, and which client it holds.
//!
//! Without `std` (a device) there are no sockets of ducq's own: a handle
//! connects through a socket layer only, and the three constructors by
//! host and port come from the platform port instead.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
#[cfg(feature = "std")]
use core::ffi::c_char;
use core::time::Duration;

use super::boundary;
#[cfg(feature = "std")]
use super::fdconn::FdStream;
use super::handle::{Handle, Kind};
#[cfg(feature = "std")]
use super::reconnect::Resume;
use super::socket::{CStream, Layer};
use super::state::RawState;
#[cfg(feature = "std")]
use super::str_arg;
use super::vtbl::ducq_i;
#[cfg(feature = "std")]
use crate::client::NetStream;
use crate::client::{Client, Error};
use crate::proto::State;
#[cfg(feature = "std")]
use crate::transport::tcp::TcpCodec;
#[cfg(feature = "std")]
use crate::transport::ws::WsClient;
#[cfg(feature = "std")]
use crate::transport::Transport;

/// How long `ducq_conn` waits when no timeout is set.
#[cfg(feature = "std")]
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// The largest message a handle accepts unless `ducq_set_limits` says
/// otherwise: the server's default where there is an operating system.
#[cfg(feature = "std")]
pub const DEFAULT_MAX_MESSAGE: usize = crate::client::DEFAULT_MAX_MESSAGE;

/// The largest message a handle accepts unless `ducq_set_limits` says
/// otherwise: 16 KiB on a device. A larger one is skipped as it arrives,
/// never buffered, so a frame header cannot make a device allocate more.
#[cfg(not(feature = "std"))]
pub const DEFAULT_MAX_MESSAGE: usize = 16 * 1024;

/// Which protocol a socket client speaks.
#[cfg(feature = "std")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    /// Length-framed TCP.
    Tcp,
    /// WebSocket, to the server's HTTP port.
    Ws,
    /// The original's HTTP client: never implemented there, nor here.
    Http,
}

#[cfg(feature = "std")]
impl Proto {
    /// The id prefix, as the server names such clients.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Ws => "WS",
            Proto::Http => "HTTP",
        }
    }
}

/// Where a client handle connects.
#[derive(Clone)]
pub(crate) enum Target {
    /// A host and port, over a socket.
    #[cfg(feature = "std")]
    Socket {
        proto: Proto,
        host: String,
        port: String,
    },
    /// A socket layer written in C.
    Layer(Layer),
    /// TLS or a Unix socket (`secure`): a connector, and the id shown
    /// before connecting.
    #[cfg(feature = "std")]
    Net {
        connect: NetConnector,
        label: String,
    },
}

/// Opens a TLS or Unix socket client within the timeout given.
#[cfg(feature = "std")]
pub(crate) type NetConnector = std::sync::Arc<dyn Fn(Duration) -> Result<Client<NetStream>, Error>>;

/// The connected client, over a socket, a C layer, or (for a handle made
/// from an accepted descriptor) a descriptor.
pub(crate) enum AnyClient {
    #[cfg(feature = "std")]
    Socket(Client),
    Layer(Client<CStream>),
    #[cfg(feature = "std")]
    Fd(Client<FdStream>),
    #[cfg(feature = "std")]
    Net(Client<NetStream>),
}

/// Runs the same code on any client.
macro_rules! on_client {
    ($c:expr, $cl:ident => $body:expr) => {
        match $c {
            #[cfg(feature = "std")]
            $crate::ffi::client::AnyClient::Socket($cl) => $body,
            $crate::ffi::client::AnyClient::Layer($cl) => $body,
            #[cfg(feature = "std")]
            $crate::ffi::client::AnyClient::Fd($cl) => $body,
            #[cfg(feature = "std")]
            $crate::ffi::client::AnyClient::Net($cl) => $body,
        }
    };
}
pub(crate) use on_client;

/// How a handle's input buffer grows, and the largest message it takes.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// Bytes the input buffer grows by for one read.
    pub(crate) read_chunk: usize,
    /// The largest message accepted (the codec's limit).
    pub(crate) max_message: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            read_chunk: crate::client::DEFAULT_READ_CHUNK,
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

/// A client handle's state.
pub(crate) struct ClientSide {
    pub(crate) target: Target,
    pub(crate) timeout: Option<Duration>,
    pub(crate) limits: Limits,
    pub(crate) conn: Option<AnyClient>,
    /// The reconnect policy and what it makes again (`reconnect`).
    #[cfg(feature = "std")]
    pub(crate) resume: Resume,
}

impl Drop for ClientSide {
    /// The connection goes first: closing it calls its socket layer, whose
    /// context the target may own.
    fn drop(&mut self) {
        self.conn = None;
    }
}

impl ClientSide {
    /// An unconnected copy: same destination, timeout and limits.
    pub(crate) fn copy(&self) -> ClientSide {
        ClientSide {
            target: self.target.clone(),
            timeout: self.timeout,
            limits: self.limits,
            conn: None,
            #[cfg(feature = "std")]
            resume: self.resume.policy_only(),
        }
    }

    /// Connects (dropping the current connection first). On failure, the
    /// state and its detail.
    pub(crate) fn connect(&mut self) -> Result<(), (State, String)> {
        self.conn = None;
        let (timeout, limits) = (self.timeout, self.limits);
        let result = match &self.target {
            #[cfg(feature = "std")]
            Target::Socket {
                proto: Proto::Http, ..
            } => {
                let text = "the HTTP client is not implemented (use ducq_new_ws_client)";
                return Err((State::ENoImpl, text.into()));
            }
            #[cfg(feature = "std")]
            Target::Socket { proto, host, port } => {
                let addr = host_port(host, port);
                let codec: Box<dyn Transport> = match proto {
                    Proto::Ws => Box::new(WsClient::new(&addr, "/", limits.max_message)),
                    _ => Box::new(TcpCodec::client(limits.max_message)),
                };
                Client::connect_with(&addr, timeout.unwrap_or(CONNECT_LIMIT), codec).and_then(
                    |mut cl| {
                        cl.set_timeout(timeout)?;
                        Ok(AnyClient::Socket(cl))
                    },
                )
            }
            Target::Layer(layer) => {
                let stream = layer
                    .open(timeout)
                    .map_err(|s| (s, "the socket layer could not connect".to_owned()))?;
                Client::from_io(stream, layer.codec(limits.max_message), timeout)
                    .map(AnyClient::Layer)
            }
            #[cfg(feature = "std")]
            Target::Net { connect, .. } => {
                connect(timeout.unwrap_or(CONNECT_LIMIT)).and_then(|mut cl| {
                    cl.set_timeout(timeout)?;
                    Ok(AnyClient::Net(cl))
                })
            }
        };
        match result {
            Ok(mut client) => {
                on_client!(&mut client, cl => cl.set_read_chunk(limits.read_chunk));
                self.conn = Some(client);
                Ok(())
            }
            Err(e) => {
                let state = match e {
                    Error::Timeout => State::ETimeout,
                    _ => State::EConnect,
                };
                Err((state, e.to_string()))
            }
        }
    }

    /// The id: this end's address once connected, the server's before.
    pub(crate) fn id_string(&self) -> String {
        match (&self.conn, &self.target) {
            (Some(conn), _) => on_client!(conn, cl => cl.id()),
            #[cfg(feature = "std")]
            (None, Target::Socket { proto, host, port }) => {
                format!("{}:{host}:{port}", proto.name())
            }
            (None, Target::Layer(layer)) => layer.id_string(),
            #[cfg(feature = "std")]
            (None, Target::Net { label, .. }) => label.clone(),
        }
    }

    /// Whether it speaks WebSocket.
    #[cfg(feature = "std")]
    pub(crate) fn is_ws(&self) -> bool {
        match &self.target {
            Target::Socket { proto, .. } => *proto == Proto::Ws,
            Target::Layer(layer) => layer.is_ws(),
            // TLS and Unix handles speak the framed protocol.
            Target::Net { .. } => false,
        }
    }

    /// Sets the receive timeout of this and later connections.
    pub(crate) fn set_timeout(&mut self, t: Option<Duration>) -> Result<(), Error> {
        self.timeout = t;
        match self.conn.as_mut() {
            Some(conn) => on_client!(conn, cl => cl.set_timeout(t)),
            None => Ok(()),
        }
    }

    /// Sets the read chunk (now, and for later connections) and the
    /// largest message (from the next connection); 0 keeps a value.
    fn set_limits(&mut self, read_chunk: usize, max_message: usize) {
        if read_chunk > 0 {
            self.limits.read_chunk = read_chunk;
            if let Some(conn) = self.conn.as_mut() {
                on_client!(conn, cl => cl.set_read_chunk(read_chunk));
            }
        }
        if max_message > 0 {
            self.limits.max_message = max_message;
        }
    }
}

/// `host:port` as a socket address or a WebSocket `Host`: an IPv6 address
/// goes in brackets.
pub(crate) fn host_port(host: &str, port: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A new client handle for `target`, owned by the caller.
pub(crate) fn new_handle(target: Target) -> *mut ducq_i {
    Handle::into_raw(Kind::Client(Box::new(ClientSide {
        target,
        timeout: None,
        limits: Limits::default(),
        conn: None,
        #[cfg(feature = "std")]
        resume: Resume::default(),
    })))
}

/// Sets how many bytes a client handle's input buffer grows by for one
/// read (`read_chunk`, 1024 by default; a frame whose header tells its
/// length gets room for all of it at once) and the largest message it
/// accepts (`max_message`; by default 1 MiB, the server's default, and
/// 16 KiB in the device library: a larger message is skipped as it
/// arrives, never buffered). 0 keeps a value. The chunk applies at once,
/// the maximum from the next `ducq_conn`; copies made later keep both.
///
/// `DUCQ_ENULL` for NULL, `DUCQ_ENOIMPL` for a handle that is not a
/// client made by ducq. A ducq call, not in the original.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_set_limits(
    ducq: *mut ducq_i,
    read_chunk: usize,
    max_message: usize,
) -> RawState {
    boundary(|| {
        if ducq.is_null() {
            return State::ENull.into();
        }
        // SAFETY: a live handle (caller contract).
        match unsafe { Handle::from_ptr(ducq) }.map(|h| &mut h.kind) {
            Some(Kind::Client(c)) => {
                c.set_limits(read_chunk, max_message);
                RawState::OK
            }
            #[cfg(feature = "std")]
            Some(_) => State::ENoImpl.into(),
            None => State::ENoImpl.into(),
        }
    })
}

/// The body of the three socket constructors.
///
/// # Safety
/// Non-null arguments are NUL-terminated strings.
#[cfg(feature = "std")]
unsafe fn new_socket_client(proto: Proto, host: *const c_char, port: *const c_char) -> *mut ducq_i {
    boundary(|| {
        if host.is_null() || port.is_null() {
            return core::ptr::null_mut();
        }
        // SAFETY: non-null, NUL-terminated (caller contract).
        let (Ok(host), Ok(port)) = (unsafe { str_arg(host) }, unsafe { str_arg(port) }) else {
            return core::ptr::null_mut();
        };
        new_handle(Target::Socket {
            proto,
            host: host.to_owned(),
            port: port.to_owned(),
        })
    })
}

/// Creates an unconnected TCP client handle for `host` (a name or an IPv4
/// or IPv6 address) and `port` (decimal, e.g. `"59090"`). Connect it with
/// `ducq_conn`, or let `ducq_publish` connect it.
///
/// Both strings are copied. Returns NULL when either is NULL or not UTF-8.
/// The caller owns the handle and frees it with `ducq_free`; it may move
/// between threads but is used by one thread at a time.
///
/// # Safety
/// Non-null arguments are NUL-terminated strings.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn ducq_new_tcp(host: *const c_char, port: *const c_char) -> *mut ducq_i {
    // SAFETY: forwarded caller contract.
    unsafe { new_socket_client(Proto::Tcp, host, port) }
}

/// Creates an unconnected WebSocket client handle for the HTTP/WebSocket
/// port of a server (`ducq-server --http`, `ducq_reactor_listen_http`).
/// `ducq_conn` connects it and completes the WebSocket opening handshake
/// (path `/`, `host:port` as the `Host` header) within the handle's
/// timeout.
///
/// Every client function then works on it as on a TCP handle. One ducq
/// message travels as one WebSocket message, its bytes unchanged (NUL
/// bytes and non-UTF-8 included). The server's WebSocket pings are
/// answered inside receives. `ducq_id` gives `WS:<ip>:<port>` of this end
/// once connected, `WS:<host>:<port>` before.
///
/// Both strings are copied. Returns NULL when either is NULL or not UTF-8.
/// Ownership and threads as for `ducq_new_tcp`.
///
/// # Safety
/// Non-null arguments are NUL-terminated strings.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn ducq_new_ws_client(
    host: *const c_char,
    port: *const c_char,
) -> *mut ducq_i {
    // SAFETY: forwarded caller contract.
    unsafe { new_socket_client(Proto::Ws, host, port) }
}

/// The original's HTTP client handle, which it never implemented: as
/// there, `ducq_conn` answers `DUCQ_ENOIMPL` (use `ducq_new_ws_client` to
/// talk to an HTTP port). `ducq_id` gives `HTTP:<host>:<port>`; the other
/// calls answer as on an unconnected handle.
///
/// Both strings are copied. Returns NULL when either is NULL or not UTF-8.
/// The caller owns the handle and frees it with `ducq_free`.
///
/// # Safety
/// Non-null arguments are NUL-terminated strings.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn ducq_new_http_client(
    host: *const c_char,
    port: *const c_char,
) -> *mut ducq_i {
    // SAFETY: forwarded caller contract.
    unsafe { new_socket_client(Proto::Http, host, port) }
}
