//! The byte streams a client reaches a server over besides plain TCP: TLS
//! (rustls over TCP, the handshake completed before the client is handed
//! out, so a wrong certificate is an error at connect time) and Unix domain
//! sockets. [`NetStream`] is one type for all three, so a program (the
//! CLI, the C API) picks the way at run time and drives one `Client`.
//! It must not know ducq framing: the codec does.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::{Client, Error, Stream, DEFAULT_MAX_MESSAGE};
use crate::proto::State;
use crate::transport::tcp::TcpCodec;
use crate::transport::ws::WsClient;
use crate::transport::Transport;

/// TCP, TLS over TCP, or a Unix domain socket.
pub enum NetStream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// A Unix domain stream socket.
    Unix(UnixStream),
}

impl Read for NetStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            NetStream::Tcp(s) => s.read(buf),
            NetStream::Tls(s) => match s.read(buf) {
                // A peer that closes without close_notify: an ordinary end
                // for a client that was only reading.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
            NetStream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for NetStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            NetStream::Tcp(s) => s.write(buf),
            NetStream::Tls(s) => s.write(buf),
            NetStream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            NetStream::Tcp(s) => s.flush(),
            NetStream::Tls(s) => s.flush(),
            NetStream::Unix(s) => s.flush(),
        }
    }
}

impl Stream for NetStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            NetStream::Tcp(s) => s.set_read_timeout(timeout),
            NetStream::Tls(s) => s.sock.set_read_timeout(timeout),
            NetStream::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    fn local_name(&self) -> Option<String> {
        match self {
            NetStream::Tcp(s) => s.local_addr().ok().map(|a| a.to_string()),
            NetStream::Tls(s) => s.sock.local_addr().ok().map(|a| a.to_string()),
            NetStream::Unix(_) => None,
        }
    }
}

impl NetStream {
    /// Shuts both directions down (another thread's blocked read returns).
    pub fn shutdown(&self) -> io::Result<()> {
        match self {
            NetStream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            NetStream::Tls(s) => s.sock.shutdown(std::net::Shutdown::Both),
            NetStream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        }
    }
}

/// The codec a client speaks over a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Length-framed ducq.
    Framed,
    /// WebSocket at path `/`.
    Ws,
}

fn codec(wire: Wire, host: &str) -> Box<dyn Transport> {
    match wire {
        Wire::Framed => Box::new(TcpCodec::new(DEFAULT_MAX_MESSAGE)),
        Wire::Ws => Box::new(WsClient::new(host, "/", DEFAULT_MAX_MESSAGE)),
    }
}

/// A TCP connection to `addr`, trying each address it resolves to within
/// `timeout` (Nagle off); `EConnect` with the last error when none
/// answers. The one way every client connects over TCP.
pub(crate) fn tcp_connect(addr: &str, timeout: Duration) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| Error::Io {
            state: State::EConnect,
            source: e,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(Error::Io {
        state: State::EConnect,
        source: last,
    })
}

/// A TLS failure as a client error that says what went wrong.
fn tls_error(e: io::Error) -> Error {
    let hint = if e.to_string().contains("InvalidContentType")
        || e.to_string().contains("corrupt message")
    {
        " (is the server's port plain TCP, not TLS?)"
    } else {
        ""
    };
    Error::Io {
        state: State::EConnect,
        source: io::Error::new(e.kind(), format!("TLS handshake failed: {e}{hint}")),
    }
}

/// Connects over TLS to `addr` (`host:port`), checking the server's
/// certificate for `host`, and completes the handshake within `timeout`.
pub fn connect_tls_stream(
    addr: &str,
    timeout: Duration,
    config: Arc<ClientConfig>,
) -> Result<NetStream, Error> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let name = crate::tls::server_name(host).map_err(|e| Error::Io {
        state: State::EConnect,
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    let mut tcp = tcp_connect(addr, timeout)?;
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
        .map_err(|e| Error::io(State::ECommLayer, e))?;
    let mut conn = ClientConnection::new(config, name).map_err(|e| Error::Io {
        state: State::EConnect,
        source: io::Error::other(e),
    })?;
    while conn.is_handshaking() {
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) if conn.is_handshaking() => {
                return Err(tls_error(io::ErrorKind::UnexpectedEof.into()))
            }
            Ok(_) => {}
            Err(e) => return Err(tls_error(e)),
        }
    }
    let _ = tcp.set_write_timeout(None);
    Ok(NetStream::Tls(Box::new(StreamOwned::new(conn, tcp))))
}

impl<S: Stream> Client<S> {
    /// Authenticates as `user` (`auth <user>\n<password>`) and waits for
    /// the ACK; a refusal is `Error::Nack` with state 24.
    pub fn authenticate(&mut self, user: &str, password: &[u8]) -> Result<(), Error> {
        self.emit("auth", user, password)?;
        self.expect_ack()
    }
}

impl Client<NetStream> {
    /// Connects over TCP (`wire` says framed or WebSocket).
    pub fn connect_net(
        addr: &str,
        timeout: Duration,
        wire: Wire,
    ) -> Result<Client<NetStream>, Error> {
        let tcp = tcp_connect(addr, timeout)?;
        Client::from_io(NetStream::Tcp(tcp), codec(wire, addr), Some(timeout))
    }

    /// Connects over TLS with `config` (`crate::tls::client_config`):
    /// framed ducq on a `tls` listener, or WebSocket (WSS) on `https`.
    pub fn connect_tls(
        addr: &str,
        timeout: Duration,
        config: Arc<ClientConfig>,
        wire: Wire,
    ) -> Result<Client<NetStream>, Error> {
        let stream = connect_tls_stream(addr, timeout, config)?;
        Client::from_io(stream, codec(wire, addr), Some(timeout))
    }

    /// Connects to a Unix domain socket at `path` (framed ducq).
    pub fn connect_unix(path: &Path, timeout: Duration) -> Result<Client<NetStream>, Error> {
        let s = UnixStream::connect(path).map_err(|e| Error::Io {
            state: State::EConnect,
            source: e,
        })?;
        Client::from_io(
            NetStream::Unix(s),
            codec(Wire::Framed, "localhost"),
            Some(timeout),
        )
    }
}
