//! Client handles: a TCP client (`ducq_new_tcp`), a WebSocket client
//! (`ducq_new_ws_client`), the original's HTTP client placeholder
//! (`ducq_new_http_client`) and a client over a socket layer written in C
//! (`ducq_new_socket`). Each runs the blocking [`Client`] (framing,
//! handshake, PING answers, ACK waits) with the transport's codec; this
//! file only knows where a handle connects and which client it holds.

use std::ffi::c_char;
use std::ffi::c_void;
use std::time::Duration;

use super::fdconn::FdStream;
use super::handle::{Handle, Kind};
use super::reconnect::Resume;
use super::socket::{ducq_socket_vtbl, CStream};
use super::vtbl::ducq_i;
use super::{boundary, str_arg};
use crate::client::{Client, Error, NetStream, DEFAULT_MAX_MESSAGE};
use crate::proto::State;
use crate::transport::tcp::TcpCodec;
use crate::transport::ws::WsClient;
use crate::transport::Transport;

/// How long `ducq_conn` waits when no timeout is set.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// Which protocol a socket client speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    /// Length-framed TCP.
    Tcp,
    /// WebSocket, to the server's HTTP port.
    Ws,
    /// The original's HTTP client: never implemented there, nor here.
    Http,
}

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
    Socket {
        proto: Proto,
        host: String,
        port: String,
    },
    /// A socket layer written in C.
    Layer {
        vtbl: ducq_socket_vtbl,
        ctx: *mut c_void,
    },
    /// TLS or a Unix socket (`secure`): a connector, and the id shown
    /// before connecting.
    Net {
        connect: NetConnector,
        label: String,
    },
}

/// Opens a TLS or Unix socket client within the timeout given.
pub(crate) type NetConnector = std::sync::Arc<dyn Fn(Duration) -> Result<Client<NetStream>, Error>>;

/// The connected client, over a socket, a C layer, or (for a handle made
/// from an accepted descriptor) a descriptor.
pub(crate) enum AnyClient {
    Socket(Client),
    Layer(Client<CStream>),
    Fd(Client<FdStream>),
    Net(Client<NetStream>),
}

/// Runs the same code on any client.
macro_rules! on_client {
    ($c:expr, $cl:ident => $body:expr) => {
        match $c {
            $crate::ffi::client::AnyClient::Socket($cl) => $body,
            $crate::ffi::client::AnyClient::Layer($cl) => $body,
            $crate::ffi::client::AnyClient::Fd($cl) => $body,
            $crate::ffi::client::AnyClient::Net($cl) => $body,
        }
    };
}
pub(crate) use on_client;

/// A client handle's state.
pub(crate) struct ClientSide {
    pub(crate) target: Target,
    pub(crate) timeout: Option<Duration>,
    pub(crate) conn: Option<AnyClient>,
    /// The reconnect policy and what it makes again (`reconnect`).
    pub(crate) resume: Resume,
}

impl ClientSide {
    /// An unconnected copy: same destination and timeout.
    pub(crate) fn copy(&self) -> ClientSide {
        ClientSide {
            target: self.target.clone(),
            timeout: self.timeout,
            conn: None,
            resume: self.resume.policy_only(),
        }
    }

    /// Connects (dropping the current connection first). On failure, the
    /// state and its detail.
    pub(crate) fn connect(&mut self) -> Result<(), (State, String)> {
        self.conn = None;
        let timeout = self.timeout;
        let result = match &self.target {
            Target::Socket {
                proto: Proto::Http, ..
            } => {
                let text = "the HTTP client is not implemented (use ducq_new_ws_client)";
                return Err((State::ENoImpl, text.into()));
            }
            Target::Socket { proto, host, port } => {
                let addr = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                let codec: Box<dyn Transport> = match proto {
                    Proto::Ws => Box::new(WsClient::new(&addr, "/", DEFAULT_MAX_MESSAGE)),
                    _ => Box::new(TcpCodec::new(DEFAULT_MAX_MESSAGE)),
                };
                Client::connect_with(&addr, timeout.unwrap_or(CONNECT_LIMIT), codec).and_then(
                    |mut cl| {
                        cl.set_timeout(timeout)?;
                        Ok(AnyClient::Socket(cl))
                    },
                )
            }
            Target::Layer { vtbl, ctx } => {
                let stream = CStream::open(*vtbl, *ctx, timeout)
                    .map_err(|s| (s, "the socket layer could not connect".to_owned()))?;
                let codec = Box::new(TcpCodec::new(DEFAULT_MAX_MESSAGE));
                Client::from_io(stream, codec, timeout).map(AnyClient::Layer)
            }
            Target::Net { connect, .. } => {
                connect(timeout.unwrap_or(CONNECT_LIMIT)).and_then(|mut cl| {
                    cl.set_timeout(timeout)?;
                    Ok(AnyClient::Net(cl))
                })
            }
        };
        match result {
            Ok(client) => {
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
            (None, Target::Socket { proto, host, port }) => {
                format!("{}:{host}:{port}", proto.name())
            }
            (None, Target::Layer { .. }) => "TCP:".to_owned(),
            (None, Target::Net { label, .. }) => label.clone(),
        }
    }

    /// Whether it speaks WebSocket.
    pub(crate) fn is_ws(&self) -> bool {
        matches!(
            self.target,
            Target::Socket {
                proto: Proto::Ws,
                ..
            }
        )
    }

    /// Sets the receive timeout of this and later connections.
    pub(crate) fn set_timeout(&mut self, t: Option<Duration>) -> Result<(), Error> {
        self.timeout = t;
        match self.conn.as_mut() {
            Some(conn) => on_client!(conn, cl => cl.set_timeout(t)),
            None => Ok(()),
        }
    }
}

/// A new client handle for `target`, owned by the caller.
pub(crate) fn new_handle(target: Target) -> *mut ducq_i {
    Handle::into_raw(Kind::Client(Box::new(ClientSide {
        target,
        timeout: None,
        conn: None,
        resume: Resume::default(),
    })))
}

/// The body of the three socket constructors.
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
#[no_mangle]
pub unsafe extern "C" fn ducq_new_http_client(
    host: *const c_char,
    port: *const c_char,
) -> *mut ducq_i {
    // SAFETY: forwarded caller contract.
    unsafe { new_socket_client(Proto::Http, host, port) }
}
