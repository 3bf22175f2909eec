//! Protocol codecs (the Rust side of ducq's protocol vtable). A transport
//! turns the bytes of one connection into ducq messages and ducq messages into
//! bytes. It never touches a socket: the reactor and the blocking client own
//! the I/O and call these functions with buffers.
//!
//! One trait serves both roles: the server keeps one boxed `Transport` per
//! connection, and the blocking client drives the same codecs from its side.
// Peer bytes flow through here: no panicking unwraps, indexing or panics.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

// Server-side and C-facing: they need the operating system (`std`).
#[cfg(feature = "std")]
pub mod c_vtable;
mod decoder;
#[cfg(feature = "std")]
pub mod http;
// Server side, with sessions shared by a listener's connections (`std`).
#[cfg(feature = "std")]
pub mod mqtt;
pub mod tcp;
pub mod ws;

pub use decoder::{decode_all, Decoder, Drained, Frame};

/// What one call to [`Transport::decode`] produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Nothing to deliver. If the step consumed bytes, call `decode` again
    /// with the rest; if it consumed none, wait for more input.
    Nothing,
    /// One complete ducq message (the body of one frame).
    Message(Cow<'a, [u8]>),
    /// The stream is over (peer close or an unrecoverable framing error):
    /// write whatever was appended to `out`, then close the connection.
    Close,
}

/// The result of one decoding step: how many input bytes were used, and what
/// they produced.
#[derive(Debug, PartialEq, Eq)]
pub struct Step<'a> {
    /// Bytes of `input` that are finished with; the caller drops them.
    pub consumed: usize,
    /// What those bytes produced.
    pub decoded: Decoded<'a>,
}

impl<'a> Step<'a> {
    /// A step that consumed nothing and needs more input.
    pub fn need_more() -> Step<'a> {
        Step {
            consumed: 0,
            decoded: Decoded::Nothing,
        }
    }
}

/// Groups connections whose encoding of a message is identical, so a fan-out
/// encodes once per group and copies the bytes (DESIGN.md, data path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedEncoding {
    /// Length-framed TCP.
    TcpFrame,
    /// An unmasked server-side WebSocket text frame.
    WsServerFrame,
    /// A Server-Sent Events `data:` record.
    SseEvent,
}

/// A protocol codec for one connection. Implementations are sans-IO.
pub trait Transport {
    /// The kind used in client ids (`TCP:<ip>:<port>`): `"TCP"`, `"WS"`,
    /// `"HTTP"`, or a name chosen by a C protocol. May change once, when an
    /// HTTP connection upgrades to WebSocket.
    fn name(&self) -> &str;

    /// Called once when the connection opens; may append bytes to send first
    /// (a client handshake, a greeting).
    fn open(&mut self, _out: &mut Vec<u8>) {}

    /// Whether the transport is ready to carry ducq messages (its handshake,
    /// if any, is complete).
    fn is_open(&self) -> bool {
        true
    }

    /// Decodes at most one message from the front of `input` (callers drive
    /// it through [`Decoder`], which loops over the steps). The codec may
    /// modify `input` in place (unmasking) and may append bytes that must be
    /// sent back to the peer to `out` (handshake answers, pongs, framing
    /// NACKs). It must consume everything it can skip in one call.
    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a>;

    /// The total length of the frame that starts at `input`, when its first
    /// bytes already tell it (a length prefix). The server uses it to give a
    /// large frame that is still arriving a buffer of exactly its size, read
    /// straight into and shared without a copy once complete. `None` (the
    /// default) when the length is unknown or the codec is skipping input.
    fn frame_len(&self, _input: &[u8]) -> Option<usize> {
        None
    }

    /// Called after the dispatcher handled a message from this connection,
    /// with every reply already encoded. A request/response protocol that
    /// got no reply at all can answer here instead of leaving its peer
    /// waiting.
    fn after_dispatch(&mut self, _out: &mut Vec<u8>) {}

    /// Whether a message the peer did not ask for (a direct message) can be
    /// sent now. A request/response protocol between requests cannot carry
    /// one; the default is true.
    fn accepts_push(&self) -> bool {
        true
    }

    /// Whether the peer reads ducq messages beyond publications and
    /// replies: direct messages (`from ID\nP`) and the parts of streamed
    /// payloads (`CONT`). A codec that carries publications only (MQTT, a
    /// bridge to another broker) says false, so `to` refuses it and a
    /// stream leaves it out instead of queueing what it would drop. The
    /// default is true.
    fn reads_ducq_messages(&self) -> bool {
        true
    }

    /// Whether `decode` is holding complete input back until the reply to
    /// the current request is encoded (a request/response protocol that
    /// serves one request at a time, like HTTP/1.1 with pipelining). When
    /// that reply comes later than the read that brought the request (it
    /// waited for a commit, or for another connection), the held input is
    /// decoded again then: no new bytes, and so no new readiness event,
    /// may ever come for it. The default is false.
    fn holds_input(&self) -> bool {
        false
    }

    /// Appends the wire form of one ducq message to `out`.
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>);

    /// When every connection with the same value encodes a message to the
    /// same bytes, a fan-out encodes once per value. `None` means "encode for
    /// this connection alone".
    fn shared_encoding(&self) -> Option<SharedEncoding> {
        None
    }

    /// Whether the connection should close once its pending output is
    /// written (an HTTP response with `Connection: close`, say).
    fn close_after_flush(&self) -> bool {
        false
    }

    /// Appends a keep-alive probe for an idle peer. Returns whether the peer
    /// is expected to answer it; a peer that is not is exempt from the idle
    /// timeout while it is open.
    fn keepalive(&mut self, out: &mut Vec<u8>) -> bool {
        self.encode(b"PING _\nping", out);
        true
    }

    /// Called once when the connection is accepted, with the peer's address
    /// (a codec that must name its own connection in a message).
    fn accepted(&mut self, _peer: SocketAddr) {}

    /// This connection's own idle timeout, when its protocol sets one per
    /// connection (MQTT's keep-alive); `None` keeps the server's.
    fn idle_timeout(&self) -> Option<Duration> {
        None
    }

    /// What a publication made by the message just decoded does to its
    /// route's stored messages: by default it becomes the last one.
    fn last_message(&self) -> LastMessage {
        LastMessage::Store
    }

    /// Whether the message just decoded was composed by the codec for its
    /// own bookkeeping (an MQTT session takeover closing the connection
    /// that held the session), not asked for by its peer: it passes the
    /// admin-only rule of access control (access lists still apply).
    fn own_request(&self) -> bool {
        false
    }

    /// Called once when the server marks this connection for closing (the
    /// peer left, an error, an admin's `unsub`, a slow consumer): it gets
    /// no more deliveries, so a codec that shares work with other
    /// connections (MQTT shared subscriptions) hands its part on at once.
    fn closing(&mut self) {}

    /// A message the server dispatches for this connection when it ends
    /// without the protocol's own goodbye (an MQTT will). Asked once, as the
    /// connection is removed.
    fn last_words(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// Called once when the server marks this connection for closing,
    /// after [`Transport::closing`]: a codec whose protocol keeps a
    /// client's subscriptions after its connection ends (an MQTT
    /// persistent session) returns what receives their publications from
    /// now on. The server moves the connection's subscriptions to it and
    /// drops both once it no longer wants any. The default keeps nothing.
    fn park(&mut self) -> Option<Box<dyn Parked>> {
        None
    }

    /// Appends publication number `seq` for this subscriber. Every
    /// subscriber of one publication sees the same `seq`, so a codec can
    /// deliver it to one member of a group only (MQTT shared
    /// subscriptions). The default encodes it like any message.
    fn encode_publication(&mut self, msg: &[u8], _seq: u64, out: &mut Vec<u8>) {
        self.encode(msg, out);
    }
}

/// The subscriptions of a connection that ended, kept by its protocol
/// ([`Transport::park`]): publications to them go here instead of to a
/// socket, until the client comes back or its protocol gives it up.
pub trait Parked {
    /// Publication number `seq` (as for
    /// [`Transport::encode_publication`]) matched one of the
    /// subscriptions. Returns false once it wants no more publications (the
    /// client came back, or its state was given up): the server then drops
    /// it and its subscriptions.
    fn deliver(&mut self, msg: &[u8], seq: u64) -> bool;

    /// Asked about once a second, before [`Parked::alive`], with the time
    /// since it was parked: a message due now (a delayed will), with what
    /// a publication it makes does to its route's stored messages. The
    /// server dispatches it from no connection, then calls
    /// [`Parked::dispatched`].
    fn due(&mut self, _parked_for: Duration) -> Option<(Vec<u8>, LastMessage)> {
        None
    }

    /// The message `due` returned has been dispatched.
    fn dispatched(&mut self) {}

    /// The user a state parked by the server itself (read back from a
    /// store at start, with no connection to take it from) acts for:
    /// what `due` returns is judged as that user's. None: anonymous.
    fn acts_for(&self) -> Option<String> {
        None
    }

    /// Asked about once a second with the time since it was parked; false
    /// drops it and its subscriptions (it expired, or is no longer wanted).
    fn alive(&mut self, parked_for: Duration) -> bool;
}

/// What a publication does to its route's stored messages
/// ([`Transport::last_message`]). Every variant fans it out to the
/// subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastMessage {
    /// It becomes the route's newest stored message (ducq's `pub`).
    Store,
    /// The stored messages stay as they are (an MQTT PUBLISH without
    /// RETAIN must not replace the retained one).
    Skip,
    /// The route's stored messages are removed (an MQTT retained PUBLISH
    /// with an empty payload deletes the retained message), as `forget`
    /// removes them.
    Forget,
}

/// Builds a fresh transport for each accepted connection of a listener.
pub type TransportFactory = Box<dyn Fn() -> Box<dyn Transport>>;
