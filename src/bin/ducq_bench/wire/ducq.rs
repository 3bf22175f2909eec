//! ducq as a benchmark client: `sub <route>\n` and `pub <route>\n<payload>`
//! (PROTOCOL.md §3–§6) over any library `Transport`: length-framed TCP and
//! the WebSocket client, and whatever transport comes next.
//! Framing comes from the library, nothing is encoded here by hand; a
//! delivery is read only as far as the bench needs (its payload).

use ducq::proto::message::{classify, format_into, memchr, nack_text, pong_for, Kind};
use ducq::proto::ACK;
use ducq::transport::tcp::TcpCodec;
use ducq::transport::ws::frame::{encode_frame, OP_TEXT};
use ducq::transport::ws::WsClient;
use ducq::transport::{Decoder, Frame, SharedEncoding, Transport};

use super::{sub_cow, Event, Prefix, Wire};

/// Largest frame the bench accepts from a server (S5 sends 64 KiB payloads).
const MAX_BODY: usize = 16 << 20;

/// A ducq client codec over transport `T`.
pub struct Ducq<T> {
    transport: T,
    /// Subscriptions sent and not yet acknowledged: the next ACKs are theirs.
    pending_subs: u32,
    /// Whether `Event::Ready` was reported for a transport with a handshake.
    ready_reported: bool,
    /// Reused buffer for the message body before framing.
    scratch: Vec<u8>,
    /// (topic, payload length, encoded bytes before the payload) of the
    /// last publication, for transports whose frame is a header followed
    /// by the message verbatim (see `publish`).
    prefix: Prefix,
    /// The bytes of one `ACK` as the server frames it, where every such
    /// frame is the same bytes (length-framed TCP: `3\nACK`; WebSocket: an
    /// unmasked text frame); see `decode`.
    ack_frame: Option<Vec<u8>>,
}

impl Ducq<TcpCodec> {
    /// ducq over length-framed TCP.
    pub fn tcp() -> Self {
        Ducq::new(TcpCodec::new(MAX_BODY))
    }
}

impl Ducq<WsClient> {
    /// ducq over WebSocket to `host` (`ip:port`, sent as the Host header).
    pub fn ws(host: &str) -> Self {
        let mut ducq = Ducq::new(WsClient::new(host, "/", MAX_BODY));
        // A server's frames are not masked: every ACK is one text frame of
        // the same bytes.
        let mut ack = Vec::new();
        encode_frame(&mut ack, OP_TEXT, ACK, None);
        ducq.ack_frame = Some(ack);
        ducq
    }
}

impl<T: Transport> Ducq<T> {
    /// ducq over `transport`.
    pub fn new(mut transport: T) -> Self {
        let ack_frame =
            (transport.shared_encoding() == Some(SharedEncoding::TcpFrame)).then(|| {
                let mut frame = Vec::new();
                transport.encode(ACK, &mut frame);
                frame
            });
        Ducq {
            pending_subs: 0,
            ready_reported: transport.is_open(),
            transport,
            scratch: Vec::new(),
            prefix: Prefix::default(),
            ack_frame,
        }
    }

    fn send(&mut self, command: &[u8], route: &str, payload: &[u8], out: &mut Vec<u8>) {
        self.scratch.clear();
        format_into(&mut self.scratch, command, route.as_bytes(), payload);
        self.transport.encode(&self.scratch, out);
    }
}

impl<T: Transport + Send> Wire for Ducq<T> {
    fn hello(&mut self, out: &mut Vec<u8>) -> bool {
        self.transport.open(out);
        // A transport without a handshake (TCP) is open at once.
        self.ready_reported = self.transport.is_open();
        !self.ready_reported
    }

    fn subscribe(&mut self, topic: &str, out: &mut Vec<u8>) {
        self.pending_subs += 1;
        self.send(b"sub", topic, b"", out);
    }

    fn publish(&mut self, topic: &str, payload: &[u8], out: &mut Vec<u8>) {
        // A run publishes payloads of one size on one topic. Where the
        // transport frames a message as a header (a function of the length
        // alone) followed by the message verbatim, everything before the
        // payload is the same for every publication: the library encodes
        // the first one, and the bytes before its payload are reused, so
        // each later one is two appends rather than a format and a frame
        // (about a tenth of the bench publisher's instructions per message).
        if let Some(prefix) = self.prefix.get(topic, payload.len()) {
            out.extend_from_slice(prefix);
            out.extend_from_slice(payload);
            return;
        }
        let start = out.len();
        self.send(b"pub", topic, payload, out);
        self.prefix.clear();
        if self.transport.shared_encoding() == Some(SharedEncoding::TcpFrame) {
            let encoded = out.get(start..).unwrap_or_default();
            if let Some(head) = encoded.strip_suffix(payload) {
                self.prefix.set(topic, payload.len(), head);
            }
        }
    }

    fn acks_publish(&self) -> bool {
        true
    }

    fn decode<'a>(
        &mut self,
        input: &'a mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<(usize, Event<'a>)>, String> {
        if !self.ready_reported && self.transport.is_open() {
            self.ready_reported = true;
            return Ok(Some((0, Event::Ready)));
        }
        // A publisher reads one ACK per publication: where an ACK is always
        // the same bytes, it is recognised by them, as the Redis client
        // tells its `:n` reply by the first byte.
        // Only once open: before, the input is the transport's handshake.
        let acks_only = self.pending_subs == 0 && self.ready_reported;
        if let Some(ack) = self.ack_frame.as_deref().filter(|_| acks_only) {
            if input.starts_with(ack) {
                return Ok(Some((ack.len(), Event::Acked)));
            }
        }
        let mut dec = Decoder::new();
        let frame = dec.next(&mut self.transport, input, out);
        let consumed = dec.consumed();
        let msg = match frame {
            None if consumed == 0 => return Ok(None),
            None => return Ok(Some((consumed, Event::Nothing))),
            Some(Frame::Close) => return Err("ducq stream closed (framing error)".into()),
            Some(Frame::Message(m)) => m,
        };
        let event = match classify(&msg) {
            Kind::Ack if self.pending_subs > 0 => {
                self.pending_subs -= 1;
                Event::Subscribed
            }
            Kind::Ack => Event::Acked,
            Kind::Ping => {
                let pong = pong_for(&msg);
                self.transport.encode(&pong, out);
                Event::Nothing
            }
            Kind::Pong | Kind::Parts | Kind::End => Event::Nothing,
            Kind::Nack(_) => return Err(format!("ducq NACK: {}", nack_text(&msg))),
            Kind::Data => {
                // A delivery is `pub <route>\n<payload>`: the payload is found
                // with one search for the newline, as the NATS client finds
                // the end of its MSG line; the bench checks payloads, and
                // routes only as far as the command word.
                let head_end = memchr(b'\n', &msg);
                let is_pub = |c: &[u8]| msg.starts_with(c) && msg.get(c.len()) == Some(&b' ');
                let Some(at) = head_end.filter(|_| is_pub(b"pub") || is_pub(b"publish")) else {
                    return Err(format!(
                        "unexpected ducq message: {}",
                        String::from_utf8_lossy(&msg[..msg.len().min(60)])
                    ));
                };
                Event::Message(sub_cow(msg, at + 1))
            }
        };
        Ok(Some((consumed, event)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::events;
    use super::*;
    use ducq::transport::tcp::encode_frame;

    #[test]
    fn sub_then_data_then_acks() {
        let mut w = Ducq::tcp();
        let mut out = Vec::new();
        assert!(!w.hello(&mut out));
        w.subscribe("r", &mut out);
        assert_eq!(out, b"6\nsub r\n");
        let mut input = Vec::new();
        encode_frame(b"ACK", &mut input);
        encode_frame(b"pub r\nhello", &mut input);
        encode_frame(b"ACK", &mut input);
        encode_frame(b"PING _\nping", &mut input);
        let (seen, out, used) = events(&mut w, &input);
        assert_eq!(seen, ["subscribed", "msg:hello", "acked", "nothing"]);
        assert_eq!(out, b"11\nPONG _\nping");
        assert_eq!(used, input.len());
    }

    #[test]
    fn publish_is_one_frame() {
        let mut w = Ducq::tcp();
        let mut out = Vec::new();
        w.publish("a/b", b"xyz", &mut out);
        assert_eq!(out, b"11\npub a/b\nxyz");
    }

    #[test]
    fn later_publications_reuse_the_encoded_prefix_byte_for_byte() {
        let mut w = Ducq::tcp();
        let mut out = Vec::new();
        w.publish("a/b", b"xyz", &mut out);
        // What the next publication of that topic and size reuses.
        assert_eq!(w.prefix.get("a/b", 3), Some(&b"11\npub a/b\n"[..]));
        assert_eq!(w.prefix.get("a/b", 4), None);
        assert_eq!(w.prefix.get("a/c", 3), None);
        w.publish("a/b", b"uvw", &mut out);
        // Another length, another topic: encoded afresh.
        w.publish("a/b", b"12345678901", &mut out);
        w.publish("c", b"12345678901", &mut out);
        w.publish("c", b"abcdefghijk", &mut out);
        let mut want = Vec::new();
        for (t, p) in [
            ("a/b", &b"xyz"[..]),
            ("a/b", b"uvw"),
            ("a/b", b"12345678901"),
            ("c", b"12345678901"),
            ("c", b"abcdefghijk"),
        ] {
            encode_frame(
                &ducq::proto::message::format(b"pub", t.as_bytes(), p),
                &mut want,
            );
        }
        assert_eq!(out, want);
        // A masked WebSocket frame is not a header before the message:
        // every publication is encoded (masked) afresh.
        let mut ws = Ducq::ws("127.0.0.1:1");
        let mut out = Vec::new();
        ws.publish("a/b", b"xyz", &mut out);
        let first = out.len();
        ws.publish("a/b", b"xyz", &mut out);
        assert_eq!(ws.prefix.get("a/b", 3), None);
        assert_eq!(out.len(), 2 * first);
        assert!(
            !out.windows(3).any(|w| w == b"xyz"),
            "the payload is masked"
        );
    }

    #[test]
    fn acks_split_anywhere_and_deliveries_by_their_command_word() {
        let mut w = Ducq::tcp();
        let mut input = Vec::new();
        for m in [&b"ACK"[..], b"publish a b\nx y", b"ACK", b"pub r\n", b"ACK"] {
            encode_frame(m, &mut input);
        }
        let want = ["acked", "msg:x y", "acked", "msg:", "acked"];
        // Fed whole, and cut at every byte: an ACK cut short waits for
        // the rest, like any frame.
        assert_eq!(events(&mut w, &input).0, want);
        for cut in 1..input.len() {
            let mut w = Ducq::tcp();
            let mut buf = input[..cut].to_vec();
            let (mut seen, _, used) = events(&mut w, &buf);
            buf.drain(..used);
            buf.extend_from_slice(&input[cut..]);
            seen.extend(events(&mut w, &buf).0);
            assert_eq!(seen, want, "cut at {cut}");
        }
        for bad in [&b"pubx r\nx"[..], b"pub r", b"sub r\nx", b"pub\nx"] {
            let mut input = Vec::new();
            encode_frame(bad, &mut input);
            let err = Ducq::tcp().decode(&mut input, &mut Vec::new()).unwrap_err();
            assert!(err.contains("unexpected ducq message"), "{err}");
        }
    }

    #[test]
    fn an_ack_frame_is_not_taken_from_a_websocket_handshake() {
        let mut w = Ducq::ws("127.0.0.1:1");
        let mut out = Vec::new();
        assert!(w.hello(&mut out));
        let ack = w.ack_frame.clone().unwrap();
        assert_eq!(ack, b"\x81\x03ACK");
        // Not open yet: these bytes are (bad) handshake bytes, not an ACK.
        let mut input = ack.clone();
        assert!(!matches!(
            w.decode(&mut input, &mut out),
            Ok(Some((_, Event::Acked)))
        ));
    }

    #[test]
    fn nack_is_an_error() {
        let mut w = Ducq::tcp();
        let mut input = Vec::new();
        encode_frame(b"NACK *\n16\nmessage too big", &mut input);
        let err = w.decode(&mut input, &mut Vec::new()).unwrap_err();
        assert!(err.contains("message too big"), "{err}");
    }
}
