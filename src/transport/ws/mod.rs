//! WebSocket transports (PROTOCOL.md §9): [`WsServer`] for accepted
//! connections and [`WsClient`] for the blocking client. One WebSocket
//! message carries one ducq message, the same bytes as a TCP body without
//! the length prefix; PARTS and END are ordinary messages.
//!
//! Sans-IO like every transport: the handshake and frames are read from and
//! written to buffers, never to a socket.

pub mod entropy;
pub mod frame;
pub mod handshake;

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use frame::{FrameCodec, MaskGen, Role, OP_PING, OP_TEXT};
use handshake::{ClientHandshake, Handshake, ServerHandshake, MAX_HEAD};

use super::{Decoded, SharedEncoding, Step, Transport};

/// The server side of one WebSocket connection: the opening handshake (unless
/// it was already answered by the HTTP codec), then frames. Server frames are
/// unmasked, final, text, with the shortest length encoding.
#[derive(Debug, Clone)]
pub struct WsServer {
    /// Present until the 101 answer has been written.
    handshake: Option<ServerHandshake>,
    frames: FrameCodec,
}

impl WsServer {
    /// A connection that starts with the opening handshake and accepts
    /// messages of at most `max_message` bytes.
    pub fn new(max_message: usize) -> WsServer {
        WsServer {
            handshake: Some(ServerHandshake::new(MAX_HEAD)),
            frames: FrameCodec::new(Role::Server, max_message),
        }
    }

    /// A connection whose handshake was already accepted and answered (an
    /// HTTP connection that upgraded).
    pub fn upgraded(max_message: usize) -> WsServer {
        WsServer {
            handshake: None,
            frames: FrameCodec::new(Role::Server, max_message),
        }
    }
}

impl Transport for WsServer {
    fn name(&self) -> &str {
        "WS"
    }

    fn is_open(&self) -> bool {
        self.handshake.is_none() && !self.frames.is_closed()
    }

    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        let Some(hs) = &mut self.handshake else {
            return self.frames.decode(input, out);
        };
        match hs.poll(input, out) {
            Handshake::Partial => Step::need_more(),
            // Frames that came with the request stay in the input for the
            // next call.
            Handshake::Done(n) => {
                self.handshake = None;
                Step {
                    consumed: n,
                    decoded: Decoded::Nothing,
                }
            }
            Handshake::Failed => {
                self.handshake = None;
                self.frames.mark_closed();
                Step {
                    consumed: input.len(),
                    decoded: Decoded::Close,
                }
            }
        }
    }

    /// Drops the message when the connection is not open (before the 101, or
    /// after a close frame): nothing may be framed there.
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        if self.is_open() {
            self.frames.encode(OP_TEXT, msg, out);
        }
    }

    fn shared_encoding(&self) -> Option<SharedEncoding> {
        self.is_open().then_some(SharedEncoding::WsServerFrame)
    }

    /// A WebSocket ping: browsers answer it by themselves, without the page
    /// knowing ducq's PING command. The pong is consumed by `decode` and
    /// yields no message.
    fn keepalive(&mut self, out: &mut Vec<u8>) -> bool {
        if self.is_open() {
            self.frames.encode(OP_PING, b"ping", out);
        }
        true
    }
}

/// The client side of a WebSocket connection, for the blocking client.
/// `open` writes the upgrade request; messages encoded before the server's
/// 101 are held back and released once it has been checked.
#[derive(Debug, Clone)]
pub struct WsClient {
    host: String,
    path: String,
    /// Present until a valid 101 has been read.
    handshake: Option<ClientHandshake>,
    frames: FrameCodec,
    /// Frames encoded before the handshake completed.
    held: Vec<u8>,
}

impl WsClient {
    /// A client for `path` (e.g. `/`) on `host` (the `Host` header, e.g.
    /// `192.168.1.2:59091`), accepting messages of at most `max_message`
    /// bytes.
    pub fn new(host: &str, path: &str, max_message: usize) -> WsClient {
        let mut gen = MaskGen::new();
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&gen.next_u64().to_be_bytes());
        key[8..].copy_from_slice(&gen.next_u64().to_be_bytes());
        WsClient {
            host: host.to_owned(),
            path: path.to_owned(),
            handshake: Some(ClientHandshake::new(key)),
            frames: FrameCodec::new(Role::Client(gen), max_message),
            held: Vec::new(),
        }
    }
}

impl Transport for WsClient {
    fn name(&self) -> &str {
        "WS"
    }

    fn open(&mut self, out: &mut Vec<u8>) {
        if let Some(hs) = &self.handshake {
            hs.write_request(&self.host, &self.path, out);
        }
    }

    fn is_open(&self) -> bool {
        self.handshake.is_none() && !self.frames.is_closed()
    }

    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        let Some(hs) = &mut self.handshake else {
            return self.frames.decode(input, out);
        };
        match hs.poll(input) {
            Ok(None) => Step::need_more(),
            Ok(Some(n)) => {
                self.handshake = None;
                out.append(&mut self.held);
                Step {
                    consumed: n,
                    decoded: Decoded::Nothing,
                }
            }
            Err(_) => {
                self.handshake = None;
                self.held.clear();
                self.frames.mark_closed();
                Step {
                    consumed: input.len(),
                    decoded: Decoded::Close,
                }
            }
        }
    }

    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        if self.handshake.is_some() {
            self.frames.encode(OP_TEXT, msg, &mut self.held);
        } else {
            self.frames.encode(OP_TEXT, msg, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::frame::{apply_mask, encode_frame, parse_header};
    use super::*;
    use crate::transport::decode_all;
    use std::borrow::Cow;

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn masked_text(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, OP_TEXT, payload, Some([1, 2, 3, 4]));
        out
    }

    /// Feeds `input` until the codec stops; returns messages, output, closed.
    fn drive(t: &mut dyn Transport, input: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>, bool) {
        let mut buf = input.to_vec();
        let (mut msgs, mut out) = (Vec::new(), Vec::new());
        let d = decode_all(t, &mut buf, &mut out, |_, m, _| msgs.push(m.into_owned()));
        (msgs, out, d.closed)
    }

    #[test]
    fn server_handshake_then_frames_in_the_same_packet() {
        let mut s = WsServer::new(1024);
        assert!(!s.is_open());
        assert_eq!(s.shared_encoding(), None);
        let mut wire = REQUEST.to_vec();
        wire.extend(masked_text(b"pub a/b\nhello"));
        wire.extend(masked_text(b"sub a/*\n"));
        let (msgs, out, closed) = drive(&mut s, &wire);
        assert!(!closed && s.is_open());
        assert!(out.starts_with(b"HTTP/1.1 101 "));
        assert_eq!(
            msgs,
            vec![b"pub a/b\nhello".to_vec(), b"sub a/*\n".to_vec()]
        );
        assert_eq!(s.shared_encoding(), Some(SharedEncoding::WsServerFrame));
        assert_eq!(s.name(), "WS");
    }

    #[test]
    fn server_frames_are_unmasked_final_text() {
        let mut s = WsServer::upgraded(1024);
        let mut out = Vec::new();
        s.encode(b"ACK", &mut out);
        s.encode(b"PARTS", &mut out);
        assert_eq!(out, b"\x81\x03ACK\x81\x05PARTS");
        let mut out = Vec::new();
        s.encode(&[b'x'; 300], &mut out);
        assert_eq!(&out[..4], b"\x81\x7e\x01\x2c");
    }

    #[test]
    fn refused_handshake_closes_and_encodes_nothing() {
        let mut s = WsServer::new(1024);
        let (msgs, out, closed) = drive(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(msgs.is_empty() && closed);
        assert!(out.starts_with(b"HTTP/1.1 400 "));
        let mut out = Vec::new();
        s.encode(b"ACK", &mut out);
        assert!(out.is_empty());
        assert!(!s.is_open());
        // Whatever follows is dropped, not read as a new request.
        let (msgs, out, closed) = drive(&mut s, REQUEST);
        assert!(msgs.is_empty() && out.is_empty() && closed);
    }

    #[test]
    fn websocket_frames_do_not_get_a_buffer_of_their_own() {
        // Only length-framed TCP announces frame lengths to the reactor
        // (Transport::frame_len); WebSocket frames of any size are read
        // through its shared buffer.
        let big = masked_text(&vec![b'x'; 100_000]);
        assert_eq!(WsServer::upgraded(1 << 20).frame_len(&big), None);
        assert_eq!(WsServer::new(1 << 20).frame_len(REQUEST), None);
        assert_eq!(WsClient::new("h", "/", 1 << 20).frame_len(&big), None);
    }

    #[test]
    fn keepalive_is_a_websocket_ping() {
        let mut s = WsServer::upgraded(1024);
        let mut out = Vec::new();
        assert!(s.keepalive(&mut out));
        assert_eq!(out, b"\x89\x04ping");
    }

    #[test]
    fn client_and_server_talk() {
        let mut c = WsClient::new("127.0.0.1:59091", "/", 1024);
        let mut s = WsServer::new(1024);
        let mut to_server = Vec::new();
        c.open(&mut to_server);
        assert!(!c.is_open());
        // Encoded before the 101: held back, not written.
        let mut early = Vec::new();
        c.encode(b"pub r\nearly", &mut early);
        assert!(early.is_empty());

        let (_, to_client, _) = drive(&mut s, &to_server);
        let mut to_client = to_client;
        to_client.extend_from_slice(b"\x81\x03ACK");
        let mut to_server = Vec::new();
        let mut buf = to_client.clone();
        let step = c.decode(&mut buf, &mut to_server);
        assert!(c.is_open());
        let n = step.consumed;
        let step = c.decode(&mut buf[n..], &mut to_server);
        assert_eq!(step.decoded, Decoded::Message(Cow::Borrowed(&b"ACK"[..])));

        c.encode(b"pub r\nlate", &mut to_server);
        let h = parse_header(&to_server).unwrap();
        assert!(h.mask.is_some());
        let (msgs, _, closed) = drive(&mut s, &to_server);
        assert!(!closed);
        assert_eq!(
            msgs,
            vec![b"pub r\nearly".to_vec(), b"pub r\nlate".to_vec()]
        );
        // Check masking of the late frame by hand too.
        let h2 = parse_header(&to_server[h.header_len + h.len as usize..]).unwrap();
        let start = h.header_len + h.len as usize + h2.header_len;
        let mut body = to_server[start..].to_vec();
        apply_mask(&mut body, h2.mask.unwrap());
        assert_eq!(body, b"pub r\nlate");
    }

    #[test]
    fn client_refuses_a_bad_answer() {
        let mut c = WsClient::new("h", "/", 1024);
        let mut out = Vec::new();
        c.open(&mut out);
        let (_, _, closed) = drive(&mut c, b"HTTP/1.1 404 Not Found\r\n\r\n");
        assert!(closed && !c.is_open());
    }

    /// The name a connection listing and the logs show for either side.
    #[test]
    fn both_sides_are_named_ws() {
        assert_eq!(WsClient::new("h", "/", 1).name(), "WS");
        assert_eq!(WsServer::upgraded(1).name(), "WS");
    }

    #[test]
    fn random_bytes_never_panic_either_side() {
        let mut gen = MaskGen::from_seed(42);
        for round in 0..2000u64 {
            let n = (gen.next_u64() % 200) as usize;
            let mut wire: Vec<u8> = if round % 2 == 0 {
                b"HTTP/1.1 101 Switching Protocols\r\n".to_vec()
            } else {
                b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n".to_vec()
            };
            wire.extend((0..n).map(|_| match gen.next_u64() % 6 {
                0 => b'\r',
                1 => b'\n',
                2 => b':',
                _ => gen.next_u64() as u8,
            }));
            let mut c = WsClient::new("h", "/", 64);
            let mut out = Vec::new();
            c.open(&mut out);
            let _ = drive(&mut c, &wire);
            let _ = drive(&mut WsServer::new(64), &wire);
        }
    }

    #[test]
    fn client_keys_differ() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        WsClient::new("h", "/", 1).open(&mut a);
        WsClient::new("h", "/", 1).open(&mut b);
        assert_ne!(a, b);
    }
}
