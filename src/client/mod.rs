//! A blocking ducq client over any [`Transport`]: connect with a timeout,
//! emit, receive (answering the server's PINGs), publish, subscribe, list,
//! listen. It owns one byte [`Stream`] (a `std::net::TcpStream` unless an
//! embedder supplies its own socket layer); the codec does the framing.
//! It must not be used from the reactor thread of a server it talks to.
//!
//! Without the `std` feature (a device) there is no `TcpStream`: the
//! embedder supplies the stream ([`Client::from_io`]), and [`io`] stands in
//! for `std::io`.

pub mod io;
#[cfg(feature = "std")]
pub(crate) mod kept;
#[cfg(feature = "std")]
pub mod reconnect;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
#[cfg(feature = "std")]
use std::net::TcpStream;
#[cfg(feature = "std")]
use std::time::Instant;

use self::io::{Read, Write};
use crate::proto::message::{self, classify, nack_text, pong_for, Kind};
use crate::proto::State;
#[cfg(feature = "std")]
use crate::transport::tcp::TcpCodec;
#[cfg(feature = "std")]
use crate::transport::ws::WsClient;
use crate::transport::{decode_all, Transport};

#[cfg(feature = "std")]
pub mod net;
#[cfg(feature = "std")]
pub use net::{NetStream, Wire};
#[cfg(feature = "std")]
pub mod queue;

/// Largest message the client accepts by default (the server's default).
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// How many bytes the input buffer grows by for a read, by default. A
/// frame whose header tells its length gets room for all of it at once,
/// so a large message still arrives in few reads; between messages the
/// buffer holds about this much (a device client talking 256-byte
/// messages keeps its heap small).
pub const DEFAULT_READ_CHUNK: usize = 1024;

/// Why a client call failed.
#[derive(Debug)]
pub enum Error {
    /// The server answered NACK.
    Nack {
        /// The state code the NACK carried.
        state: State,
        /// The NACK text.
        text: String,
    },
    /// The operating system refused an operation.
    Io {
        /// The ducq state for it (`EConnect`, `ERead`, `EWrite`, …).
        state: State,
        /// The underlying error.
        source: io::Error,
    },
    /// Nothing arrived in time.
    Timeout,
    /// The server closed the connection.
    Closed,
    /// The server sent something the call did not expect.
    Protocol(String),
    /// A reconnecting client is between connections and the call could
    /// not wait (`reconnect::Offline`): `full` when the message could not
    /// even be kept for later because the offline buffer is full.
    Offline {
        /// The offline buffer is full.
        full: bool,
    },
}

impl Error {
    /// The ducq state code for this error.
    pub fn state(&self) -> State {
        match self {
            Error::Nack { .. } => State::Nack,
            Error::Io { state, .. } => *state,
            Error::Timeout => State::ETimeout,
            Error::Closed => State::EConnClosed,
            Error::Protocol(_) => State::EMsgInv,
            Error::Offline { full: false } => State::EConnClosed,
            Error::Offline { full: true } => State::EMax,
        }
    }

    fn io(state: State, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => Error::Closed,
            _ => Error::Io { state, source },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Nack { state, text } => write!(f, "NACK {}: {}", state.code(), text),
            Error::Io { state, source } => write!(f, "{}: {}", state.text(), source),
            Error::Timeout => f.write_str("timeout"),
            Error::Closed => f.write_str("connection closed"),
            Error::Protocol(s) => write!(f, "unexpected reply: {s}"),
            Error::Offline { full: false } => f.write_str("disconnected, reconnecting"),
            Error::Offline { full: true } => {
                f.write_str("disconnected, and the offline buffer is full")
            }
        }
    }
}

impl core::error::Error for Error {}

/// What a `listen` callback tells the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep listening.
    Continue,
    /// Return from `listen`.
    Break,
}

/// A byte stream a [`Client`] runs over: a TCP socket, or a socket layer
/// supplied by an embedder (a device's own network stack, through the C ABI).
pub trait Stream: Read + Write {
    /// Sets how long one read may wait (`None`: forever). A read that times
    /// out fails with `WouldBlock` or `TimedOut`.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// This end's address as the server lists it (`127.0.0.1:50312`), when
    /// known.
    fn local_name(&self) -> Option<String> {
        None
    }
}

#[cfg(feature = "std")]
impl Stream for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn local_name(&self) -> Option<String> {
        self.local_addr().ok().map(|a| a.to_string())
    }
}

/// The stream a [`Client`] runs over unless it names another: a TCP socket.
#[cfg(feature = "std")]
pub type DefaultStream = TcpStream;

/// Without `std` there is no default stream: every client names its own.
#[cfg(not(feature = "std"))]
pub type DefaultStream = NoStream;

/// A stream that cannot exist (the default of `Client`'s stream parameter
/// where there are no sockets).
#[cfg(not(feature = "std"))]
#[derive(Debug)]
pub enum NoStream {}

#[cfg(not(feature = "std"))]
impl Read for NoStream {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match *self {}
    }
}

#[cfg(not(feature = "std"))]
impl Write for NoStream {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        match *self {}
    }

    fn flush(&mut self) -> io::Result<()> {
        match *self {}
    }
}

#[cfg(not(feature = "std"))]
impl Stream for NoStream {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        match *self {}
    }
}

/// A blocking connection to a ducq server, over TCP unless `S` says otherwise.
pub struct Client<S: Stream = DefaultStream> {
    stream: S,
    codec: Box<dyn Transport>,
    input: Vec<u8>,
    /// How much `input` grows by for a read (see [`DEFAULT_READ_CHUNK`]).
    read_chunk: usize,
    /// Messages decoded but not yet returned.
    queue: VecDeque<Vec<u8>>,
    closed: bool,
    timeout: Option<Duration>,
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    peer: Option<SocketAddr>,
}

#[cfg(feature = "std")]
impl Client {
    /// Connects over length-framed TCP.
    pub fn connect(addr: &str, timeout: Duration) -> Result<Client, Error> {
        Client::connect_with(
            addr,
            timeout,
            Box::new(TcpCodec::client(DEFAULT_MAX_MESSAGE)),
        )
    }

    /// Connects over WebSocket (the server's HTTP port) at path `/`.
    pub fn connect_ws(addr: &str, timeout: Duration) -> Result<Client, Error> {
        let host = addr.to_string();
        let codec = WsClient::new(&host, "/", DEFAULT_MAX_MESSAGE);
        Client::connect_with(addr, timeout, Box::new(codec))
    }

    /// Connects with any transport; completes its handshake (if any) within
    /// `timeout`. `timeout` also becomes the receive timeout.
    pub fn connect_with(
        addr: &str,
        timeout: Duration,
        codec: Box<dyn Transport>,
    ) -> Result<Client, Error> {
        let stream = net::tcp_connect(addr, timeout)?;
        Client::from_stream(stream, codec, Some(timeout))
    }

    /// Wraps a connected stream.
    pub fn from_stream(
        stream: TcpStream,
        codec: Box<dyn Transport>,
        timeout: Option<Duration>,
    ) -> Result<Client, Error> {
        let peer = stream
            .peer_addr()
            .map_err(|e| Error::io(State::EConnect, e))?;
        let _ = stream.set_nodelay(true);
        Client::start(stream, codec, timeout, Some(peer))
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl<S: Stream> Client<S> {
    /// Wraps a connected stream of any kind (an embedder's socket layer);
    /// completes the codec's handshake (if any) within `timeout`.
    pub fn from_io(
        stream: S,
        codec: Box<dyn Transport>,
        timeout: Option<Duration>,
    ) -> Result<Client<S>, Error> {
        Client::start(stream, codec, timeout, None)
    }

    fn start(
        stream: S,
        codec: Box<dyn Transport>,
        timeout: Option<Duration>,
        peer: Option<SocketAddr>,
    ) -> Result<Client<S>, Error> {
        let mut client = Client {
            stream,
            codec,
            input: Vec::new(),
            read_chunk: DEFAULT_READ_CHUNK,
            queue: VecDeque::new(),
            closed: false,
            timeout,
            peer,
        };
        client.set_timeout(timeout)?;
        let mut out = Vec::new();
        client.codec.open(&mut out);
        client.write_all(&out)?;
        // Without a clock (no `std`), each read still waits at most
        // `timeout`, and the codec bounds the handshake's bytes.
        #[cfg(feature = "std")]
        let deadline = timeout.map(|t| Instant::now() + t);
        while !client.codec.is_open() {
            #[cfg(feature = "std")]
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
            client.fill()?;
        }
        Ok(client)
    }

    /// Sets how many bytes the input buffer grows by for a read (at least
    /// 1; see [`DEFAULT_READ_CHUNK`]). The largest message accepted is the
    /// codec's limit (`TcpCodec::client(max)`, `WsClient::new(.., max)`).
    pub fn set_read_chunk(&mut self, chunk: usize) {
        self.read_chunk = chunk.max(1);
    }

    /// Sets the receive timeout (`None` waits forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.timeout = timeout.filter(|t| !t.is_zero());
        self.stream
            .set_read_timeout(self.timeout)
            .map_err(|e| Error::io(State::ECommLayer, e))
    }

    /// This end's id as the server lists it (`TCP:<ip>:<port>`).
    pub fn id(&self) -> String {
        let local = self.stream.local_name().unwrap_or_default();
        format!("{}:{}", self.codec.name(), local)
    }

    /// The underlying stream (to shut it down from another thread).
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Puts a message back at the front of the receive queue, for a caller
    /// that took it but could not use it yet (its buffer was too small, or
    /// it arrived in place of an ACK).
    pub fn unreceive(&mut self, msg: Vec<u8>) {
        self.queue.push_front(msg);
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.stream
            .write_all(bytes)
            .map_err(|e| Error::io(State::EWrite, e))
    }

    /// Sends one raw message body (`<command> <route>\n<payload>`).
    pub fn send(&mut self, msg: &[u8]) -> Result<(), Error> {
        let mut out = Vec::with_capacity(msg.len() + 16);
        self.codec.encode(msg, &mut out);
        self.write_all(&out)
    }

    /// Sends `<command> <route>\n<payload>`.
    pub fn emit(&mut self, command: &str, route: &str, payload: &[u8]) -> Result<(), Error> {
        self.send(&message::format(
            command.as_bytes(),
            route.as_bytes(),
            payload,
        ))
    }

    /// Reads once from the socket and decodes what arrived into the queue.
    fn fill(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let start = self.input.len();
        self.input.resize(start + self.read_room(), 0);
        let n = match self
            .stream
            .read(self.input.get_mut(start..).unwrap_or_default())
        {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => {
                self.input.truncate(start);
                return Err(Error::io(State::ERead, e));
            }
        };
        self.input.truncate(start + n);
        if n == 0 && start == self.input.len() {
            self.closed = true;
        }
        let mut out = Vec::new();
        let queue = &mut self.queue;
        let drained = decode_all(&mut *self.codec, &mut self.input, &mut out, |_, m, _| {
            queue.push_back(m.into_owned())
        });
        self.closed |= drained.closed;
        self.input.drain(..drained.consumed);
        if self.input.capacity() > 2 * self.read_chunk && self.input.len() <= self.read_chunk {
            // A large message is over: give its room back.
            self.input.shrink_to(self.read_chunk);
        }
        self.write_all(&out)?;
        if self.closed && self.queue.is_empty() {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// How many bytes the next read asks for: the rest of a frame whose
    /// length its header already told, else one chunk.
    fn read_room(&self) -> usize {
        let have = self.input.len();
        match self.codec.frame_len(&self.input) {
            Some(total) if total > have => (total - have).max(self.read_chunk),
            _ => self.read_chunk,
        }
    }

    /// Reads from the socket once and decodes what arrived, for callers
    /// that wait for readability themselves (`poll(2)` over several
    /// clients). It blocks, up to the timeout, only when nothing is there.
    pub fn read_once(&mut self) -> Result<(), Error> {
        self.fill()
    }

    /// The next message already read, if any, without touching the socket
    /// (PINGs answered and skipped, as by `receive`).
    pub fn try_receive(&mut self) -> Result<Option<Vec<u8>>, Error> {
        while let Some(msg) = self.queue.pop_front() {
            if classify(&msg) == Kind::Ping {
                self.send(&pong_for(&msg))?;
                continue;
            }
            return Ok(Some(msg));
        }
        Ok(None)
    }

    /// The next message from the server, whatever it is, except PINGs,
    /// which are answered with PONG and skipped.
    pub fn receive(&mut self) -> Result<Vec<u8>, Error> {
        loop {
            if let Some(msg) = self.try_receive()? {
                return Ok(msg);
            }
            self.fill()?;
        }
    }

    /// Like `receive`, but a NACK becomes `Err(Error::Nack)`.
    pub fn receive_reply(&mut self) -> Result<Vec<u8>, Error> {
        let msg = self.receive()?;
        match classify(&msg) {
            Kind::Nack(state) => Err(Error::Nack {
                state,
                text: nack_text(&msg),
            }),
            _ => Ok(msg),
        }
    }

    /// Waits for the ACK of a command; data messages that arrive first
    /// (from subscriptions) are kept for later `receive` calls.
    fn expect_ack(&mut self) -> Result<(), Error> {
        let mut held = Vec::new();
        let result = loop {
            match self.receive_reply() {
                Ok(m) if classify(&m) == Kind::Ack => break Ok(()),
                Ok(m) if classify(&m) == Kind::Data => held.push(m),
                Ok(m) => break Err(Error::Protocol(String::from_utf8_lossy(&m).into_owned())),
                Err(e) => break Err(e),
            }
        };
        for m in held.into_iter().rev() {
            self.queue.push_front(m);
        }
        result
    }

    /// Publishes `payload` on `route` and waits for the ACK.
    pub fn publish(&mut self, route: &str, payload: &[u8]) -> Result<(), Error> {
        self.emit("pub", route, payload)?;
        self.expect_ack()
    }

    /// Subscribes to `route` with the options in `options` (`""`, `"last"`,
    /// `"add"`, `"last add"`). Returns the stored message the server sends
    /// instead of an ACK when `last` is asked and one exists; further stored
    /// messages (for a pattern) come through `receive`.
    pub fn subscribe(&mut self, route: &str, options: &str) -> Result<Option<Vec<u8>>, Error> {
        self.emit("sub", route, options.as_bytes())?;
        let msg = self.receive_reply()?;
        match classify(&msg) {
            Kind::Ack => Ok(None),
            Kind::Data => Ok(Some(msg)),
            _ => Err(Error::Protocol(String::from_utf8_lossy(&msg).into_owned())),
        }
    }

    /// Sends a command answered by a multipart reply (`lscmd`, `lsconn`)
    /// and returns its parts.
    pub fn list(&mut self, command: &str) -> Result<Vec<Vec<u8>>, Error> {
        self.send(command.as_bytes())?;
        let first = self.receive_reply()?;
        if classify(&first) != Kind::Parts {
            return Err(Error::Protocol(
                String::from_utf8_lossy(&first).into_owned(),
            ));
        }
        let mut parts = Vec::new();
        loop {
            let m = self.receive_reply()?;
            if classify(&m) == Kind::End {
                return Ok(parts);
            }
            parts.push(m);
        }
    }

    /// Receives messages and hands each to `on_message` until it returns
    /// `Flow::Break` or the connection fails.
    pub fn listen(&mut self, mut on_message: impl FnMut(&[u8]) -> Flow) -> Result<(), Error> {
        loop {
            let msg = self.receive()?;
            if on_message(&msg) == Flow::Break {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests;
