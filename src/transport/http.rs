//! HTTP/1.1 on the WebSocket port (PROTOCOL.md §1, §10): [`HttpOrWs`] reads
//! a request head and either upgrades to a [`WsServer`] or serves the request
//! by turning it into one ducq message and the ducq reply into a response.
//!
//! Sans-IO: it never touches a socket. It must never panic on peer bytes nor
//! buffer a body it has already refused: sizes are decided from the head.
//!
//! # Endpoints
//! | request | ducq message | response |
//! |---|---|---|
//! | `POST /pub/<route>`, body P | `pub <route>\nP` | reply mapping below |
//! | `GET /last/<route>` | `sub <route>\nlast` | 200 with the payload of the stored message (its route in `X-Ducq-Route`), or 204 when there is none |
//! | `GET /last/<pattern>` (with `*`) | `sub <pattern>\nlast` | 200 `[{"route":..,"payload":..}]`, every stored message that matches (`[]` when none) |
//! | `GET /sub/<route>` | `sub <route>\n` | a Server-Sent Events stream |
//! | `GET /lscmd` | `lscmd` | 200 `[{"name":..,"doc":..}]` |
//! | `GET /lsconn` | `lsconn` | 200 `[{"id":..,"route":..}]` |
//! | `POST /cmd/<command>/<route>`, body P | `<command> <route>\nP` | reply mapping below |
//! | `POST /cmd/<command>`, body P | `<command>` (or `<command>\nP` when P is not empty) | reply mapping below |
//! | `GET /metrics` | `metrics` | 200, the reply as `text/plain; version=0.0.4` (Prometheus) |
//! | `GET /stats` | `stats` | 200, the reply as JSON |
//! | `GET /`, `GET /dashboard/<file>` | `dashboard <file>\n` | 200, the reply with the file's type (404 when the server has no dashboard) |
//!
//! Routes and commands are percent-decoded; the query string is ignored.
//!
//! # Reply mapping
//! The first reply completes the request:
//! - `ACK` → `200` with the JSON body `{"ok":true}`;
//! - `NACK` → `{"error":"<text>","code":<code>}` with status 400 for code 15,
//!   413 for 16, 404 for 17 and 19, 501 for 20, 500 otherwise;
//! - `PARTS` … `END` → `200` with a JSON array of the lines (objects for
//!   `/lscmd` and `/lsconn`, strings otherwise);
//! - anything else → `200` with the message as the body (`text/plain` when
//!   it is UTF-8, `application/octet-stream` otherwise).
//!
//! HTTP errors carry `{"error":"<reason>"}`: 400 malformed, 404 unknown path,
//! 405 wrong method, 413 body over the limit, or chunk lines and trailers
//! that with the head pass the head limit (then close), 431 head over the
//! limit (then close), 501 unsupported transfer coding.
//!
//! # Server-Sent Events
//! After `GET /sub/<route>` is acknowledged, every message for the connection
//! becomes one event. A published message `pub a/b\nline1\nline2` is
//! `event: a/b`, then `data: line1`, `data: line2`, then a blank line (in a
//! browser: `source.addEventListener("a/b", …)`). Any other message has no
//! `event:` line (a plain `message` event) and the whole message as data.
//! Line breaks (`\n`, `\r\n`, `\r`) in the payload split `data:` lines.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::ws::handshake::{self, HeadPoll, HeadReader, RequestHead, MAX_HEAD};
use super::ws::WsServer;
use super::{Decoded, SharedEncoding, Step, Transport};
use crate::proto::listing;
use crate::proto::message::{classify, nack_text, Kind, Message};
use crate::proto::{route, State};

/// Size limits of an HTTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest request head (request line and headers); longer is a 431.
    pub max_head: usize,
    /// Longest request body; longer is a 413 and the connection closes.
    pub max_body: usize,
    /// Longest WebSocket message once upgraded (close 1009 beyond).
    pub max_message: usize,
}

impl Default for HttpLimits {
    /// 8 KiB heads, 1 MiB bodies and messages.
    fn default() -> Self {
        HttpLimits {
            max_head: MAX_HEAD,
            max_body: 1 << 20,
            max_message: 1 << 20,
        }
    }
}

/// What a request is waiting for, which decides how its reply is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `/pub`, `/cmd`: the generic mapping.
    Plain,
    /// `/last` on a route: the payload of a stored message, 204 on ACK.
    Last,
    /// `/last` on a pattern: every stored message that matches, as JSON.
    LastAll,
    /// `/sub`: an SSE stream on ACK.
    Sub,
    /// `/lscmd`: JSON objects `{name, doc}`.
    Lscmd,
    /// `/lsconn`: JSON objects `{id, route}`.
    Lsconn,
    /// `/metrics`, `/stats`, the dashboard's files: the reply is the body,
    /// of this media type.
    Body(&'static str),
}

/// A routed request: the ducq message it becomes, minus its body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Action {
    kind: Endpoint,
    /// The message up to the payload.
    prefix: Vec<u8>,
    /// The body is the payload (POST). Otherwise it is read and dropped.
    takes_body: bool,
    /// A bare command: a non-empty body is joined with a `\n`.
    bare: bool,
}

impl Action {
    fn message(&self, body: &[u8]) -> Vec<u8> {
        let mut msg = self.prefix.clone();
        if self.takes_body && !body.is_empty() {
            if self.bare {
                msg.push(b'\n');
            }
            msg.extend_from_slice(body);
        }
        msg
    }
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
}

/// A request whose head is read and whose body is still arriving.
#[derive(Debug, Clone)]
struct Incoming {
    action: Action,
    keep_alive: bool,
    head_len: usize,
    framing: Framing,
    /// `Expect: 100-continue` and the interim answer not yet sent.
    send_continue: bool,
}

/// Where the connection is.
#[derive(Debug)]
enum Phase {
    /// Waiting for a request head.
    Idle,
    /// The head is read, the body is not complete.
    Body(Incoming),
    /// The request went to the broker; waiting for its first reply.
    Waiting { kind: Endpoint, keep_alive: bool },
    /// Collecting a `PARTS` … `END` reply.
    Collecting {
        kind: Endpoint,
        keep_alive: bool,
        items: Vec<Vec<u8>>,
    },
    /// Sending Server-Sent Events.
    Streaming,
    /// Upgraded to WebSocket.
    Ws(WsServer),
    /// A response that ends the connection was written.
    Done,
}

/// An HTTP connection on the WebSocket port; becomes a WebSocket when the
/// first request asks for it. Named "HTTP", then "WS".
#[derive(Debug)]
pub struct HttpOrWs {
    limits: HttpLimits,
    reader: HeadReader,
    phase: Phase,
}

impl HttpOrWs {
    /// A fresh connection with these limits.
    pub fn new(limits: HttpLimits) -> HttpOrWs {
        HttpOrWs {
            limits,
            reader: HeadReader::new(limits.max_head),
            phase: Phase::Idle,
        }
    }

    /// Writes an error response. With a body still unread or no keep-alive,
    /// the connection ends; otherwise it waits for the next request.
    fn fail<'a>(
        &mut self,
        status: u16,
        reason: &str,
        extra: &[(&str, &str)],
        keep: Option<usize>,
        input_len: usize,
        out: &mut Vec<u8>,
    ) -> Step<'a> {
        respond(
            out,
            status,
            JSON,
            extra,
            &error_json(reason, None),
            keep.is_some(),
        );
        self.reader.reset();
        match keep {
            Some(consumed) => {
                self.phase = Phase::Idle;
                Step {
                    consumed,
                    decoded: Decoded::Nothing,
                }
            }
            None => {
                self.phase = Phase::Done;
                Step {
                    consumed: input_len,
                    decoded: Decoded::Close,
                }
            }
        }
    }

    /// Handles a complete request head.
    fn on_head<'a>(
        &mut self,
        head: RequestHead,
        input: &'a mut [u8],
        out: &mut Vec<u8>,
    ) -> Step<'a> {
        let input_len = input.len();
        if handshake::is_upgrade(&head) {
            self.reader.reset();
            return match handshake::validate_upgrade(&head) {
                Ok(accept) => {
                    handshake::write_switching(&accept, out);
                    self.phase = Phase::Ws(WsServer::upgraded(self.limits.max_message));
                    Step {
                        consumed: head.len,
                        decoded: Decoded::Nothing,
                    }
                }
                Err(reject) => {
                    reject.write(out);
                    self.phase = Phase::Done;
                    Step {
                        consumed: input_len,
                        decoded: Decoded::Close,
                    }
                }
            };
        }
        let keep_alive = if head.minor_version >= 1 {
            !head.headers.has_token("connection", "close")
        } else {
            head.headers.has_token("connection", "keep-alive")
        };
        let framing = match framing(&head, self.limits.max_body) {
            Ok(f) => f,
            Err((status, reason)) => return self.fail(status, reason, &[], None, input_len, out),
        };
        // An error answered before its body was read keeps the connection
        // only when there is no body to skip.
        let keep = (keep_alive && framing == Framing::Length(0)).then_some(head.len);
        if head.method == "OPTIONS" {
            // CORS preflight, so pages from other origins may POST.
            respond(
                out,
                204,
                "",
                &[
                    ("Access-Control-Allow-Methods", "GET, POST"),
                    ("Access-Control-Allow-Headers", "Content-Type"),
                ],
                b"",
                keep.is_some(),
            );
            self.reader.reset();
            if let Some(consumed) = keep {
                return Step {
                    consumed,
                    decoded: Decoded::Nothing,
                };
            }
            self.phase = Phase::Done;
            return Step {
                consumed: input_len,
                decoded: Decoded::Close,
            };
        }
        let action = match route(&head.method, &head.target) {
            Ok(a) => a,
            Err(RouteError {
                status,
                reason,
                allow,
            }) => {
                let allow = allow.map(|a| ("Allow", a));
                return self.fail(status, reason, allow.as_slice(), keep, input_len, out);
            }
        };
        let send_continue = head.minor_version >= 1
            && head.headers.has_token("expect", "100-continue")
            && framing != Framing::Length(0);
        self.phase = Phase::Body(Incoming {
            action,
            keep_alive,
            head_len: head.len,
            framing,
            send_continue,
        });
        self.on_body(input, out)
    }

    /// Reads the body of the request in `Phase::Body` once it has arrived.
    fn on_body<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        let input_len = input.len();
        let Phase::Body(inc) = &mut self.phase else {
            return Step::need_more();
        };
        let rest = input.get(inc.head_len..).unwrap_or(&[]);
        // `None` while the body is still arriving.
        let got: Option<(Cow<[u8]>, usize)> = match inc.framing {
            Framing::Length(n) => rest.get(..n).map(|body| (Cow::Borrowed(body), n)),
            Framing::Chunked => {
                // Chunk lines and trailers cost bytes too: together with the
                // head they may take at most `max_head` bytes beyond the
                // body. That bounds what a dribbling peer can make us hold
                // and keeps a request within what the reactor buffers for a
                // connection (largest message + 16 KiB), so an oversized
                // one gets a 413 rather than a silent close. Only the bytes
                // within the bound are ever read, so the answer (200, 400 or
                // 413) does not depend on how the bytes were cut into reads.
                let cap = self
                    .limits
                    .max_body
                    .saturating_add(self.limits.max_head)
                    .saturating_sub(inc.head_len);
                match read_chunked(rest.get(..cap).unwrap_or(rest), self.limits.max_body) {
                    Chunked::Done(body, used) => Some((Cow::Owned(body), used)),
                    Chunked::Incomplete if rest.len() <= cap => None,
                    Chunked::Incomplete | Chunked::TooBig => {
                        return self.fail(413, "body too large", &[], None, input_len, out)
                    }
                    Chunked::Invalid => {
                        return self.fail(400, "malformed chunked body", &[], None, input_len, out)
                    }
                }
            }
        };
        let Some((body, used)) = got else {
            if inc.send_continue {
                inc.send_continue = false;
                out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            return Step::need_more();
        };
        let msg = inc.action.message(&body);
        let consumed = inc.head_len.saturating_add(used);
        self.phase = Phase::Waiting {
            kind: inc.action.kind,
            keep_alive: inc.keep_alive,
        };
        self.reader.reset();
        Step {
            consumed,
            decoded: Decoded::Message(Cow::Owned(msg)),
        }
    }

    /// Ends a request: back to idle, or done when the connection closes.
    fn finish(&mut self, keep_alive: bool) {
        self.phase = if keep_alive { Phase::Idle } else { Phase::Done };
    }

    /// Renders the first reply to a request.
    fn reply(&mut self, kind: Endpoint, keep_alive: bool, msg: &[u8], out: &mut Vec<u8>) {
        match classify(msg) {
            Kind::Nack(state) => {
                // A missing dashboard file is not a missing connection.
                let text = match kind {
                    Endpoint::Body(_) if state == State::ENotFound => "not found".to_owned(),
                    _ => nack_text(msg),
                };
                let body = error_json(&text, Some(state));
                respond(out, nack_status(state), JSON, &[], &body, keep_alive);
                self.finish(keep_alive);
            }
            _ if kind == Endpoint::Sub => {
                out.extend_from_slice(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                      Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n\
                      Connection: close\r\n\r\n",
                );
                self.phase = Phase::Streaming;
                if !msg.starts_with(b"ACK") {
                    sse_event(msg, out);
                }
            }
            Kind::Parts => {
                self.phase = Phase::Collecting {
                    kind,
                    keep_alive,
                    items: Vec::new(),
                }
            }
            Kind::Ack if kind == Endpoint::Last => {
                respond(out, 204, "", &[], b"", keep_alive);
                self.finish(keep_alive);
            }
            Kind::Ack if kind == Endpoint::LastAll => {
                respond(out, 200, JSON, &[], b"[]", keep_alive);
                self.finish(keep_alive);
            }
            // One message per match, then nothing: the request completes
            // when the command returns (`after_dispatch`).
            _ if kind == Endpoint::LastAll => {
                self.phase = Phase::Collecting {
                    kind,
                    keep_alive,
                    items: vec![msg.to_vec()],
                }
            }
            Kind::Ack => {
                respond(out, 200, JSON, &[], b"{\"ok\":true}", keep_alive);
                self.finish(keep_alive);
            }
            _ if kind == Endpoint::Last => {
                let (route, payload) = match Message::parse(msg) {
                    Ok(m) if m.has_newline => (Some(header_safe(m.route)), m.payload),
                    _ => (None, msg),
                };
                let extra: Vec<(&str, &str)> =
                    route.iter().map(|r| ("X-Ducq-Route", r.as_str())).collect();
                respond(out, 200, content_type(payload), &extra, payload, keep_alive);
                self.finish(keep_alive);
            }
            _ if matches!(kind, Endpoint::Body(_)) => {
                let media = match kind {
                    Endpoint::Body(media) => media,
                    _ => JSON,
                };
                let extra = [
                    ("Cache-Control", "no-cache"),
                    ("X-Content-Type-Options", "nosniff"),
                ];
                respond(out, 200, media, &extra, msg, keep_alive);
                self.finish(keep_alive);
            }
            _ => {
                respond(out, 200, content_type(msg), &[], msg, keep_alive);
                self.finish(keep_alive);
            }
        }
    }
}

impl Transport for HttpOrWs {
    fn name(&self) -> &str {
        match &self.phase {
            Phase::Ws(ws) => ws.name(),
            _ => "HTTP",
        }
    }

    fn is_open(&self) -> bool {
        match &self.phase {
            Phase::Ws(ws) => ws.is_open(),
            _ => true,
        }
    }

    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        match &mut self.phase {
            Phase::Ws(ws) => return ws.decode(input, out),
            Phase::Body(_) => return self.on_body(input, out),
            // One request at a time: pipelined ones wait in the input.
            Phase::Waiting { .. } | Phase::Collecting { .. } => return Step::need_more(),
            // Nothing more is read on a stream or after the last response.
            Phase::Streaming | Phase::Done => {
                return Step {
                    consumed: input.len(),
                    decoded: Decoded::Nothing,
                }
            }
            Phase::Idle => {}
        }
        match self.reader.read_request(input) {
            HeadPoll::Partial => Step::need_more(),
            HeadPoll::Error(r) => {
                let len = input.len();
                self.fail(r.status, r.reason, &[], None, len, out)
            }
            HeadPoll::Complete(head) => self.on_head(head, input, out),
        }
    }

    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        match &mut self.phase {
            Phase::Ws(ws) => ws.encode(msg, out),
            Phase::Streaming => sse_event(msg, out),
            &mut Phase::Waiting { kind, keep_alive } => self.reply(kind, keep_alive, msg, out),
            Phase::Collecting {
                kind,
                keep_alive,
                items,
            } => {
                if classify(msg) != Kind::End {
                    items.push(msg.to_vec());
                    return;
                }
                let body = list_json(*kind, items);
                let keep_alive = *keep_alive;
                respond(out, 200, JSON, &[], body.as_bytes(), keep_alive);
                self.finish(keep_alive);
            }
            // Nothing was asked: HTTP cannot carry it.
            Phase::Idle | Phase::Body(_) | Phase::Done => {}
        }
    }

    /// A command that sent no reply (`PONG`, say) still completes its
    /// request: `204 No Content`.
    fn after_dispatch(&mut self, out: &mut Vec<u8>) {
        match &mut self.phase {
            &mut Phase::Waiting { keep_alive, .. } => {
                respond(out, 204, JSON, &[], b"", keep_alive);
                self.finish(keep_alive);
            }
            Phase::Collecting {
                kind: Endpoint::LastAll,
                keep_alive,
                items,
            } => {
                let body = stored_json(items);
                let keep_alive = *keep_alive;
                respond(out, 200, JSON, &[], body.as_bytes(), keep_alive);
                self.finish(keep_alive);
            }
            _ => {}
        }
    }

    fn shared_encoding(&self) -> Option<SharedEncoding> {
        match &self.phase {
            Phase::Ws(ws) => ws.shared_encoding(),
            Phase::Streaming => Some(SharedEncoding::SseEvent),
            _ => None,
        }
    }

    fn close_after_flush(&self) -> bool {
        match &self.phase {
            Phase::Ws(ws) => ws.close_after_flush(),
            Phase::Done => true,
            _ => false,
        }
    }

    /// On an event stream, an SSE comment that the peer does not answer.
    /// Elsewhere nothing is sent and the idle timeout applies.
    fn keepalive(&mut self, out: &mut Vec<u8>) -> bool {
        match &mut self.phase {
            Phase::Ws(ws) => ws.keepalive(out),
            Phase::Streaming => {
                out.extend_from_slice(b": keepalive\n\n");
                false
            }
            _ => true,
        }
    }
}

/// The media type of JSON bodies.
const JSON: &str = "application/json";
/// The media type of the Prometheus text exposition format.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The media type of a dashboard file, from its name.
fn asset_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// Appends a complete response with a `Content-Length` body. An empty
/// `content_type` sends no such header.
fn respond(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) {
    let mut head = format!("HTTP/1.1 {} {}\r\n", status, handshake::status_text(status));
    if !content_type.is_empty() {
        let _ = write!(head, "Content-Type: {content_type}\r\n");
    }
    if status != 204 {
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
    }
    for (name, value) in extra {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("Access-Control-Allow-Origin: *\r\n");
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    out.reserve(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
}

fn content_type(body: &[u8]) -> &'static str {
    if std::str::from_utf8(body).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// The HTTP status for a NACK's state.
fn nack_status(state: State) -> u16 {
    match state {
        State::EMsgInv => 400,
        State::EMsgSize => 413,
        State::ENoCmd | State::ENotFound => 404,
        State::ENoImpl => 501,
        _ => 500,
    }
}

/// The body framing a head declares, refused when over `max_body`.
fn framing(head: &RequestHead, max_body: usize) -> Result<Framing, (u16, &'static str)> {
    let te = head.headers.all("transfer-encoding").next().is_some();
    let cl = head.headers.single("content-length");
    if te {
        if !matches!(cl, Ok(None)) {
            return Err((400, "both Transfer-Encoding and Content-Length"));
        }
        // Only `chunked` alone is supported.
        let mut codings = head
            .headers
            .all("transfer-encoding")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(handshake::trim)
            .filter(|t| !t.is_empty());
        return match (codings.next(), codings.next()) {
            (Some(c), None) if c.eq_ignore_ascii_case(b"chunked") => Ok(Framing::Chunked),
            _ => Err((501, "unsupported Transfer-Encoding")),
        };
    }
    match cl {
        Ok(None) => Ok(Framing::Length(0)),
        Ok(Some(v)) => match parse_decimal(v) {
            Some(n) if n <= max_body as u64 => Ok(Framing::Length(n as usize)),
            Some(_) => Err((413, "body too large")),
            None => Err((400, "bad Content-Length")),
        },
        Err(()) => Err((400, "repeated Content-Length")),
    }
}

/// A non-empty run of ASCII digits; saturates (a huge length is simply too
/// large).
fn parse_decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Progress of a chunked body.
#[derive(Debug, PartialEq, Eq)]
enum Chunked {
    Incomplete,
    Invalid,
    TooBig,
    /// The body and the bytes it used, trailers included.
    Done(Vec<u8>, usize),
}

/// Reads a whole chunked body from the front of `input`, refusing one whose
/// declared chunk sizes add up past `max` before waiting for their data.
fn read_chunked(input: &[u8], max: usize) -> Chunked {
    let mut pos = 0usize;
    let mut total = 0u64;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    loop {
        let rest = input.get(pos..).unwrap_or(&[]);
        let (n, size) = match httparse::parse_chunk_size(rest) {
            Err(_) => return Chunked::Invalid,
            Ok(httparse::Status::Partial) => return Chunked::Incomplete,
            Ok(httparse::Status::Complete(c)) => c,
        };
        pos += n;
        total = match total.checked_add(size) {
            Some(t) if t <= max as u64 => t,
            _ => return Chunked::TooBig,
        };
        if size == 0 {
            break;
        }
        // size <= max, so it fits a usize.
        let size = size as usize;
        let Some(end) = pos.checked_add(size) else {
            return Chunked::TooBig;
        };
        match input.get(end..) {
            None => return Chunked::Incomplete,
            Some([b'\r', b'\n', ..]) => {
                spans.push((pos, size));
                pos = end + 2;
            }
            Some([b'\n', ..]) => {
                spans.push((pos, size));
                pos = end + 1;
            }
            Some([] | [b'\r']) => return Chunked::Incomplete,
            Some(_) => return Chunked::Invalid,
        }
    }
    // Trailer lines, up to an empty one; their content is ignored.
    loop {
        let rest = input.get(pos..).unwrap_or(&[]);
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Chunked::Incomplete;
        };
        let line = rest.get(..nl).unwrap_or(&[]);
        pos += nl + 1;
        if line.is_empty() || line == b"\r" {
            break;
        }
    }
    let mut body = Vec::with_capacity(total as usize);
    for (start, len) in spans {
        body.extend_from_slice(input.get(start..start + len).unwrap_or(&[]));
    }
    Chunked::Done(body, pos)
}

/// Why a request has no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RouteError {
    status: u16,
    reason: &'static str,
    /// The `Allow` header for a 405.
    allow: Option<&'static str>,
}

const fn not_found() -> RouteError {
    RouteError {
        status: 404,
        reason: "unknown path",
        allow: None,
    }
}

const fn bad(reason: &'static str) -> RouteError {
    RouteError {
        status: 400,
        reason,
        allow: None,
    }
}

/// Maps a method and target to the ducq message it stands for.
fn route(method: &str, target: &str) -> Result<Action, RouteError> {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let (endpoint, rest) = match path.strip_prefix('/') {
        Some(p) => p.split_once('/').map_or((p, None), |(e, r)| (e, Some(r))),
        None => return Err(not_found()),
    };
    let want = match (endpoint, rest.is_some()) {
        ("pub", true) | ("cmd", true) => "POST",
        ("last", true) | ("sub", true) | ("lscmd", false) | ("lsconn", false) => "GET",
        ("metrics", false) | ("stats", false) | ("", false) | ("dashboard", true) => "GET",
        _ => return Err(not_found()),
    };
    if method != want {
        return Err(RouteError {
            status: 405,
            reason: "method not allowed",
            allow: Some(want),
        });
    }
    let rest = rest.unwrap_or("");
    let action = |kind, prefix, takes_body, bare| Action {
        kind,
        prefix,
        takes_body,
        bare,
    };
    Ok(match endpoint {
        "pub" => action(Endpoint::Plain, with_route(b"pub", rest, b"")?, true, false),
        "last" => {
            let msg = with_route(b"sub", rest, b"last")?;
            let pattern = msg
                .get(4..msg.len().saturating_sub(5))
                .is_some_and(route::is_pattern);
            let kind = if pattern {
                Endpoint::LastAll
            } else {
                Endpoint::Last
            };
            action(kind, msg, false, false)
        }
        "sub" => action(Endpoint::Sub, with_route(b"sub", rest, b"")?, false, false),
        "lscmd" => action(Endpoint::Lscmd, b"lscmd".to_vec(), false, true),
        "lsconn" => action(Endpoint::Lsconn, b"lsconn".to_vec(), false, true),
        "metrics" => action(Endpoint::Body(PROMETHEUS), b"metrics".to_vec(), false, true),
        "stats" => action(Endpoint::Body(JSON), b"stats".to_vec(), false, true),
        "" => action(
            Endpoint::Body(asset_type("index.html")),
            b"dashboard index.html\n".to_vec(),
            false,
            false,
        ),
        "dashboard" => action(
            Endpoint::Body(asset_type(rest)),
            with_route(b"dashboard", rest, b"")?,
            false,
            false,
        ),
        _ => {
            let (command, route) = rest
                .split_once('/')
                .map_or((rest, None), |(c, r)| (c, Some(r)));
            let command = percent_decode(command.as_bytes()).ok_or(bad("bad percent-encoding"))?;
            if command.is_empty() || command.iter().any(|b| matches!(b, b' ' | b'\n' | 0)) {
                return Err(bad("invalid command"));
            }
            match route {
                Some(r) => action(Endpoint::Plain, with_route(&command, r, b"")?, true, false),
                None => action(Endpoint::Plain, command, true, true),
            }
        }
    })
}

/// `<command> <decoded route>\n<payload>`.
fn with_route(command: &[u8], encoded: &str, payload: &[u8]) -> Result<Vec<u8>, RouteError> {
    let route = percent_decode(encoded.as_bytes()).ok_or(bad("bad percent-encoding"))?;
    if route.is_empty() {
        return Err(bad("missing route"));
    }
    if route.iter().any(|&b| b == b'\n' || b == 0) {
        return Err(bad("invalid route"));
    }
    let mut msg = Vec::with_capacity(command.len() + route.len() + payload.len() + 2);
    msg.extend_from_slice(command);
    msg.push(b' ');
    msg.extend_from_slice(&route);
    msg.push(b'\n');
    msg.extend_from_slice(payload);
    Ok(msg)
}

/// Decodes `%XX` escapes; `None` on a malformed one. `+` stays `+` (this is
/// a path, not a form).
pub fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter();
    while let Some(&b) = it.next() {
        if b == b'%' {
            let hi = hex(*it.next()?)?;
            let lo = hex(*it.next()?)?;
            out.push(hi << 4 | lo);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// A route made safe for a header value: visible ASCII kept, other bytes
/// (and `%`) percent-encoded.
fn header_safe(route: &[u8]) -> String {
    let mut s = String::with_capacity(route.len());
    for &b in route {
        if b.is_ascii_graphic() && b != b'%' || b == b' ' {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

/// Appends `bytes` (lossily UTF-8) as a JSON string literal.
pub use crate::proto::listing::json_string;

/// `{"error":"<reason>"}`, with `"code":n` for a NACK.
fn error_json(reason: &str, state: Option<State>) -> Vec<u8> {
    let mut s = String::from("{\"error\":");
    json_string(&mut s, reason.as_bytes());
    if let Some(state) = state {
        let _ = write!(s, ",\"code\":{}", state.code());
    }
    s.push('}');
    s.into_bytes()
}

/// The JSON array for `GET /last/<pattern>`: `{"route":..,"payload":..}`
/// per stored message (payloads as text, invalid UTF-8 replaced).
fn stored_json(items: &[Vec<u8>]) -> String {
    let mut s = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let (route, payload) = match Message::parse(item) {
            Ok(m) => (m.route, m.payload),
            Err(_) => (&b""[..], item.as_slice()),
        };
        s.push_str("{\"route\":");
        json_string(&mut s, route);
        s.push_str(",\"payload\":");
        json_string(&mut s, payload);
        s.push('}');
    }
    s.push(']');
    s
}

/// The JSON array for a multipart reply: objects for `/lscmd` and
/// `/lsconn` (read as the CLI reads them), strings otherwise.
fn list_json(kind: Endpoint, items: &[Vec<u8>]) -> String {
    match kind {
        Endpoint::Lscmd => listing::lscmd_json(items),
        Endpoint::Lsconn => listing::lsconn_json(items),
        _ => {
            let mut s = String::from("[");
            for (i, line) in listing::lines(items).enumerate() {
                if i > 0 {
                    s.push(',');
                }
                json_string(&mut s, line);
            }
            s.push(']');
            s
        }
    }
}

/// Appends one Server-Sent Event for a ducq message (format in the module
/// docs).
pub fn sse_event(msg: &[u8], out: &mut Vec<u8>) {
    let data = match Message::parse(msg) {
        Ok(m) if m.has_newline && matches!(m.command, b"pub" | b"publish") => {
            out.extend_from_slice(b"event: ");
            // A CR would end the field early; routes never hold a LF.
            out.extend(m.route.iter().filter(|&&b| b != b'\r'));
            out.push(b'\n');
            m.payload
        }
        _ => msg,
    };
    let mut rest = data;
    loop {
        let brk = rest.iter().position(|&b| b == b'\n' || b == b'\r');
        out.extend_from_slice(b"data: ");
        match brk {
            Some(at) => {
                out.extend_from_slice(rest.get(..at).unwrap_or(b""));
                out.push(b'\n');
                let skip = if rest.get(at..at + 2) == Some(b"\r\n") {
                    2
                } else {
                    1
                };
                rest = rest.get(at + skip..).unwrap_or(b"");
            }
            None => {
                out.extend_from_slice(rest);
                out.push(b'\n');
                break;
            }
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::message::nack;

    fn http() -> HttpOrWs {
        HttpOrWs::new(HttpLimits {
            max_head: 1024,
            max_body: 64,
            max_message: 1024,
        })
    }

    /// Feeds `input`; returns messages, bytes written back, closed, bytes used.
    fn drive(t: &mut HttpOrWs, input: &[u8]) -> (Vec<Vec<u8>>, String, bool, usize) {
        let mut buf = input.to_vec();
        let mut pos = 0;
        let (mut msgs, mut out) = (Vec::new(), Vec::new());
        loop {
            let step = t.decode(&mut buf[pos..], &mut out);
            pos += step.consumed;
            match step.decoded {
                Decoded::Message(m) => msgs.push(m.into_owned()),
                Decoded::Close => return (msgs, String::from_utf8_lossy(&out).into(), true, pos),
                Decoded::Nothing if step.consumed == 0 => {
                    return (msgs, String::from_utf8_lossy(&out).into(), false, pos)
                }
                Decoded::Nothing => {}
            }
        }
    }

    fn answer(t: &mut HttpOrWs, replies: &[&[u8]]) -> String {
        let mut out = Vec::new();
        for r in replies {
            t.encode(r, &mut out);
        }
        String::from_utf8_lossy(&out).into()
    }

    /// One request, its ducq message and the response to `replies`.
    fn exchange(req: &str, replies: &[&[u8]]) -> (Vec<Vec<u8>>, String, HttpOrWs) {
        let mut t = http();
        let (msgs, early, closed, _) = drive(&mut t, req.as_bytes());
        assert!(!closed, "{early}");
        let resp = answer(&mut t, replies);
        (msgs, early + &resp, t)
    }

    fn body(resp: &str) -> &str {
        resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
    }

    #[test]
    fn pub_becomes_a_ducq_message_and_ack_a_200() {
        let (msgs, resp, t) = exchange(
            "POST /pub/a%2Fb/c%20d HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            &[b"ACK"],
        );
        assert_eq!(msgs, vec![b"pub a/b/c d\nhello".to_vec()]);
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.contains("Content-Type: application/json\r\n"));
        assert!(resp.contains("Connection: keep-alive\r\n"));
        assert_eq!(body(&resp), "{\"ok\":true}");
        assert!(!t.close_after_flush());
        assert_eq!(t.name(), "HTTP");
    }

    #[test]
    fn body_split_across_reads() {
        let mut t = http();
        let req = b"POST /pub/r HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        for n in 0..req.len() {
            let mut t2 = http();
            let (msgs, _, closed, used) = drive(&mut t2, &req[..n]);
            assert!(msgs.is_empty() && !closed && used == 0, "{n}");
        }
        // Resumed on the same codec, a byte more each time.
        for n in 0..req.len() {
            assert_eq!(drive(&mut t, &req[..n]).0.len(), 0);
        }
        assert_eq!(drive(&mut t, req).0, vec![b"pub r\nhello".to_vec()]);
    }

    #[test]
    fn nack_maps_to_status_and_json() {
        for (state, status) in [
            (State::EMsgInv, "400"),
            (State::EMsgSize, "413"),
            (State::ENoCmd, "404"),
            (State::ENotFound, "404"),
            (State::ELua, "500"),
            (State::Error, "500"),
        ] {
            let (_, resp, _) = exchange("POST /cmd/x/r HTTP/1.1\r\n\r\n", &[&nack(state)]);
            assert!(resp.starts_with(&format!("HTTP/1.1 {status} ")), "{resp}");
            assert_eq!(
                body(&resp),
                format!(
                    "{{\"error\":\"{}\",\"code\":{}}}",
                    state.text(),
                    state.code()
                )
            );
        }
    }

    #[test]
    fn cmd_with_and_without_route() {
        let (msgs, resp, _) = exchange("POST /cmd/epoch HTTP/1.1\r\n\r\n", &[b"1700000000"]);
        assert_eq!(msgs, vec![b"epoch".to_vec()]);
        assert!(resp.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert_eq!(body(&resp), "1700000000");
        let (msgs, _, _) = exchange(
            "POST /cmd/unsub/a%2Fb HTTP/1.1\r\nContent-Length: 3\r\n\r\nid1",
            &[b"ACK"],
        );
        assert_eq!(msgs, vec![b"unsub a/b\nid1".to_vec()]);
        let (msgs, _, _) = exchange(
            "POST /cmd/mine HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
            &[b"ACK"],
        );
        assert_eq!(msgs, vec![b"mine\nhi".to_vec()]);
    }

    #[test]
    fn last_returns_the_payload_or_204() {
        let (msgs, resp, _) = exchange("GET /last/a/b HTTP/1.1\r\n\r\n", &[b"pub a/b\n21.5"]);
        assert_eq!(msgs, vec![b"sub a/b\nlast".to_vec()]);
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(resp.contains("X-Ducq-Route: a/b\r\n"));
        assert_eq!(body(&resp), "21.5");
        let (_, resp, _) = exchange("GET /last/none HTTP/1.1\r\n\r\n", &[b"ACK"]);
        assert!(resp.starts_with("HTTP/1.1 204 No Content\r\n"));
        assert!(!resp.contains("Content-Length"));
    }

    #[test]
    fn last_on_a_pattern_returns_every_match_as_json() {
        let mut t = http();
        let (msgs, early, closed, _) = drive(&mut t, b"GET /last/s%2F* HTTP/1.1\r\n\r\n");
        assert!(early.is_empty() && !closed);
        assert_eq!(msgs, vec![b"sub s/*\nlast".to_vec()]);
        // Nothing is sent until the command has returned.
        let partial = answer(&mut t, &[b"pub s/a\n1", b"pub s/b\nsay \"hi\"\nbye"]);
        assert_eq!(partial, "");
        let mut out = Vec::new();
        t.after_dispatch(&mut out);
        let resp = String::from_utf8_lossy(&out).into_owned();
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.contains("Content-Type: application/json\r\n"));
        assert_eq!(
            body(&resp),
            r#"[{"route":"s/a","payload":"1"},{"route":"s/b","payload":"say \"hi\"\nbye"}]"#
        );
        // The connection serves the next request as usual.
        let (msgs, _, _, _) = drive(&mut t, b"GET /last/x HTTP/1.1\r\n\r\n");
        assert_eq!(msgs, vec![b"sub x\nlast".to_vec()]);
        // No match: an empty array, not 204.
        let (_, resp, _) = exchange("GET /last/none/* HTTP/1.1\r\n\r\n", &[b"ACK"]);
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert_eq!(body(&resp), "[]");
        // A refusal is still an error.
        let (_, resp, _) = exchange(
            "GET /last/a* HTTP/1.1\r\n\r\n",
            &[b"NACK a*\n18\nroute too long"],
        );
        assert!(resp.starts_with("HTTP/1.1 500"), "{resp}");
    }

    #[test]
    fn metrics_stats_and_dashboard_files_are_bodies_of_their_type() {
        let cases: [(&str, &[u8], &[u8], &str); 5] = [
            (
                "/metrics",
                b"metrics",
                b"# HELP x y\nx 1\n",
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            ("/stats", b"stats", b"{\"a\":1}", "application/json"),
            (
                "/",
                b"dashboard index.html\n",
                b"<!doctype html>",
                "text/html; charset=utf-8",
            ),
            (
                "/dashboard/app.js",
                b"dashboard app.js\n",
                b"'use strict';",
                "text/javascript; charset=utf-8",
            ),
            (
                "/dashboard/app.css?v=2",
                b"dashboard app.css\n",
                b"body{}",
                "text/css; charset=utf-8",
            ),
        ];
        for (path, msg, reply, media) in cases {
            let (msgs, resp, _) = exchange(&format!("GET {path} HTTP/1.1\r\n\r\n"), &[reply]);
            assert_eq!(msgs, vec![msg.to_vec()], "{path}");
            assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
            assert!(
                resp.contains(&format!("\r\nContent-Type: {media}\r\n")),
                "{resp}"
            );
            assert!(resp.contains("\r\nCache-Control: no-cache\r\n"), "{resp}");
            assert_eq!(body(&resp).as_bytes(), reply, "{path}");
        }
        // No dashboard, or no such file: 404.
        let (_, resp, _) = exchange("GET / HTTP/1.1\r\n\r\n", &[b"NACK *\n17\ncommand unknown"]);
        assert!(resp.starts_with("HTTP/1.1 404 "), "{resp}");
        let (_, resp, _) = exchange(
            "GET /dashboard/x.js HTTP/1.1\r\n\r\n",
            &[b"NACK *\n19\nconnection not found"],
        );
        assert_eq!(body(&resp), r#"{"error":"not found","code":19}"#);
        // Read-only endpoints.
        let (_, resp, _) = exchange("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &[]);
        assert!(resp.starts_with("HTTP/1.1 405 "), "{resp}");
        assert!(resp.contains("\r\nAllow: GET\r\n"), "{resp}");
        let (_, resp, _) = exchange("GET /metrics/x HTTP/1.1\r\n\r\n", &[]);
        assert!(resp.starts_with("HTTP/1.1 404 "), "{resp}");
    }

    #[test]
    fn lscmd_and_lsconn_become_json_arrays() {
        let (msgs, resp, _) = exchange(
            "GET /lscmd HTTP/1.1\r\n\r\n",
            &[
                b"PARTS",
                b"\"lscmd\",\"list \\\"commands\\\"\"\n",
                b"\"pub\",\"publish\"\n",
                b"END",
            ],
        );
        assert_eq!(msgs, vec![b"lscmd".to_vec()]);
        assert_eq!(
            body(&resp),
            r#"[{"name":"lscmd","doc":"list \\\"commands\\\""},{"name":"pub","doc":"publish"}]"#
        );
        let (msgs, resp, _) = exchange(
            "GET /lsconn HTTP/1.1\r\n\r\n",
            &[b"PARTS", b"TCP:1.2.3.4:5,a/*\n", b"WS:1.2.3.4:6,\n", b"END"],
        );
        assert_eq!(msgs, vec![b"lsconn".to_vec()]);
        assert_eq!(
            body(&resp),
            r#"[{"id":"TCP:1.2.3.4:5","route":"a/*"},{"id":"WS:1.2.3.4:6","route":""}]"#
        );
        let (_, resp, _) = exchange("GET /lscmd HTTP/1.1\r\n\r\n", &[b"PARTS", b"END"]);
        assert_eq!(body(&resp), "[]");
    }

    #[test]
    fn sub_becomes_an_event_stream() {
        let (msgs, resp, mut t) = exchange("GET /sub/a/* HTTP/1.1\r\n\r\n", &[b"ACK"]);
        assert_eq!(msgs, vec![b"sub a/*\n".to_vec()]);
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(resp.contains("Content-Type: text/event-stream\r\n"));
        assert!(!resp.contains("Content-Length"));
        assert_eq!(t.shared_encoding(), Some(SharedEncoding::SseEvent));
        let ev = answer(
            &mut t,
            &[b"pub a/b\nhello", b"pub a/c\nl1\nl2\r\nl3", b"LOG line"],
        );
        assert_eq!(
            ev,
            "event: a/b\ndata: hello\n\n\
             event: a/c\ndata: l1\ndata: l2\ndata: l3\n\n\
             data: LOG line\n\n"
        );
        let mut out = Vec::new();
        assert!(!t.keepalive(&mut out));
        assert_eq!(out, b": keepalive\n\n");
        // Whatever the peer sends now is ignored.
        let (msgs, _, closed, used) = drive(&mut t, b"GET /lscmd HTTP/1.1\r\n\r\n");
        assert!(msgs.is_empty() && !closed && used == 23);
        assert!(!t.close_after_flush());
    }

    #[test]
    fn sub_refused_is_an_error_response() {
        let (_, resp, t) = exchange("GET /sub/x HTTP/1.1\r\n\r\n", &[&nack(State::EMsgInv)]);
        assert!(resp.starts_with("HTTP/1.1 400 "));
        assert_eq!(t.shared_encoding(), None);
    }

    #[test]
    fn empty_payload_event() {
        let mut out = Vec::new();
        sse_event(b"pub r\n", &mut out);
        assert_eq!(out, b"event: r\ndata: \n\n");
    }

    #[test]
    fn pipelined_requests_wait_their_turn() {
        let mut t = http();
        let reqs = "GET /lscmd HTTP/1.1\r\n\r\nPOST /pub/r HTTP/1.1\r\nContent-Length: 1\r\n\r\nx";
        let mut buf = reqs.as_bytes().to_vec();
        let (msgs, _, _, used) = drive(&mut t, &buf);
        assert_eq!(msgs, vec![b"lscmd".to_vec()]);
        // Still waiting for the lscmd reply: the second request stays put.
        let mut out = Vec::new();
        assert_eq!(t.decode(&mut buf[used..], &mut out), Step::need_more());
        answer(&mut t, &[b"PARTS", b"END"]);
        let (msgs, _, _, _) = drive(&mut t, &buf[used..]);
        assert_eq!(msgs, vec![b"pub r\nx".to_vec()]);
        buf.clear();
    }

    #[test]
    fn connection_close_and_http_1_0() {
        let (_, resp, t) = exchange(
            "GET /lscmd HTTP/1.1\r\nConnection: close\r\n\r\n",
            &[b"PARTS", b"END"],
        );
        assert!(resp.contains("Connection: close\r\n"));
        assert!(t.close_after_flush());
        let (_, resp, t) = exchange("GET /lscmd HTTP/1.0\r\n\r\n", &[b"PARTS", b"END"]);
        assert!(resp.contains("Connection: close\r\n"));
        assert!(t.close_after_flush());
        let (_, resp, t) = exchange(
            "GET /lscmd HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            &[b"PARTS", b"END"],
        );
        assert!(resp.contains("Connection: keep-alive\r\n"));
        assert!(!t.close_after_flush());
    }

    #[test]
    fn unknown_path_and_wrong_method() {
        let mut t = http();
        let req = b"GET /nope HTTP/1.1\r\n\r\n";
        let (msgs, out, closed, used) = drive(&mut t, req);
        assert!(msgs.is_empty() && !closed && used == req.len());
        assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert_eq!(body(&out), "{\"error\":\"unknown path\"}");
        // The connection is still good.
        let (msgs, out, _, _) = drive(&mut t, b"GET /pub/x HTTP/1.1\r\n\r\n");
        assert!(msgs.is_empty());
        assert!(out.starts_with("HTTP/1.1 405 "));
        assert!(out.contains("Allow: POST\r\n"));
        for (req, status) in [
            ("POST /lscmd HTTP/1.1\r\n\r\n", "405"),
            ("GET /pub HTTP/1.1\r\n\r\n", "404"),
            ("POST /pub/ HTTP/1.1\r\n\r\n", "400"),
            ("POST /pub/a%0Ab HTTP/1.1\r\n\r\n", "400"),
            ("POST /pub/a%zz HTTP/1.1\r\n\r\n", "400"),
            ("POST /cmd/a%20b/r HTTP/1.1\r\n\r\n", "400"),
            ("GET nope HTTP/1.1\r\n\r\n", "404"),
        ] {
            let (msgs, out, _, _) = drive(&mut http(), req.as_bytes());
            assert!(msgs.is_empty());
            assert!(
                out.starts_with(&format!("HTTP/1.1 {status} ")),
                "{req}: {out}"
            );
        }
    }

    #[test]
    fn error_with_an_unread_body_closes() {
        let (msgs, out, closed, _) = drive(
            &mut http(),
            b"POST /nope HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        );
        assert!(msgs.is_empty() && closed);
        assert!(out.starts_with("HTTP/1.1 404 ") && out.contains("Connection: close"));
    }

    #[test]
    fn oversized_body_is_413_from_the_header() {
        // Only the head has arrived; the answer does not wait for the body.
        let (msgs, out, closed, _) = drive(
            &mut http(),
            b"POST /pub/r HTTP/1.1\r\nContent-Length: 65\r\n\r\n",
        );
        assert!(msgs.is_empty() && closed);
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
        let (_, out, closed, _) = drive(
            &mut http(),
            b"POST /pub/r HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        );
        assert!(closed && out.starts_with("HTTP/1.1 413 "));
        // Exactly the limit is fine.
        let req = format!(
            "POST /pub/r HTTP/1.1\r\nContent-Length: 64\r\n\r\n{}",
            "x".repeat(64)
        );
        let (msgs, _, closed, _) = drive(&mut http(), req.as_bytes());
        assert!(!closed && msgs.len() == 1);
    }

    #[test]
    fn oversized_or_malformed_head() {
        let mut req = b"GET /lscmd HTTP/1.1\r\nX: ".to_vec();
        req.extend(std::iter::repeat_n(b'a', 2000));
        let (_, out, closed, _) = drive(&mut http(), &req);
        assert!(closed && out.starts_with("HTTP/1.1 431 "), "{out}");
        let (_, out, closed, _) = drive(&mut http(), b"GET /lscmd HTTP/9.9\r\n\r\n");
        assert!(closed && out.starts_with("HTTP/1.1 400 "));
        for bad in [
            "POST /pub/r HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST /pub/r HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST /pub/r HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let (_, out, closed, _) = drive(&mut http(), bad.as_bytes());
            assert!(closed && out.starts_with("HTTP/1.1 400 "), "{bad}: {out}");
        }
        let (_, out, closed, _) = drive(
            &mut http(),
            b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        );
        assert!(closed && out.starts_with("HTTP/1.1 501 "));
    }

    #[test]
    fn chunked_bodies() {
        let req = "POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                   5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let mut t = http();
        for n in 0..req.len() - 4 {
            assert!(drive(&mut t, &req.as_bytes()[..n]).0.is_empty(), "{n}");
        }
        let (msgs, _, closed, used) = drive(&mut t, req.as_bytes());
        assert!(!closed);
        assert_eq!(msgs, vec![b"pub r\nhello world".to_vec()]);
        assert_eq!(used, req.len() - 4);
        // Declared sizes past the limit are refused before the data comes.
        let (_, out, closed, _) = drive(
            &mut http(),
            b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n",
        );
        assert!(!closed, "{out}");
        let (_, out, closed, _) = drive(
            &mut http(),
            b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n",
        );
        assert!(closed && out.starts_with("HTTP/1.1 413 "));
        let (_, out, closed, _) = drive(
            &mut http(),
            b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        );
        assert!(closed && out.starts_with("HTTP/1.1 400 "));
    }

    /// Found in review, shown by the split-anywhere oracle
    /// (`tests/prop_ws_http.rs`, `chunked_overhead_split_anywhere`): a
    /// chunked body whose chunk lines (extensions) passed the buffering
    /// bound was accepted when it came in one read and refused with 413
    /// when it came in two.
    #[test]
    fn chunked_overhead_bound_does_not_depend_on_reads() {
        let mut req = b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
        req.extend(std::iter::repeat_n(b'e', 1200));
        req.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        let (msgs, out, closed, _) = drive(&mut http(), &req);
        assert!(
            msgs.is_empty() && closed && out.starts_with("HTTP/1.1 413 "),
            "{out}"
        );
        let mut t = http();
        let mut buf = req[..1215].to_vec();
        let (msgs, out, closed, _) = drive(&mut t, &buf);
        assert!(
            msgs.is_empty() && closed && out.starts_with("HTTP/1.1 413 "),
            "{out}"
        );
        // Extensions within the bound are fine, in one read or many.
        let small =
            b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=1\r\nx\r\n0\r\n\r\n";
        let (msgs, _, closed, _) = drive(&mut http(), small);
        assert!(!closed && msgs == vec![b"pub r\nx".to_vec()]);
        let mut t = http();
        buf.clear();
        let mut got = Vec::new();
        for &b in small.iter() {
            buf.push(b);
            let (msgs, _, closed, used) = drive(&mut t, &buf);
            assert!(!closed);
            buf.drain(..used);
            got.extend(msgs);
        }
        assert_eq!(got, vec![b"pub r\nx".to_vec()]);
    }

    /// Found by the `http_request` fuzz target (its input, minus the two
    /// configuration bytes): a chunked body that turns malformed only past
    /// the bound was answered 400 when it came whole and 413 when it came
    /// byte by byte. Now only the bytes within the bound are read: 413.
    #[test]
    fn chunked_error_past_the_bound_does_not_depend_on_reads() {
        let input: &[u8] = b"POST /pub/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
            5\r\nhello\r\n6;eHTTP/1.1 100 \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\
            \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\
            \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffContinue\r\n\r\n\rx\xc0\r \n";
        let limits = HttpLimits {
            max_head: 96,
            max_body: 16,
            max_message: 256,
        };
        let (msgs, whole, closed, _) = drive(&mut HttpOrWs::new(limits), input);
        assert!(msgs.is_empty() && closed);
        let mut t = HttpOrWs::new(limits);
        let mut buf = Vec::new();
        let mut split = String::new();
        for &b in input {
            buf.push(b);
            let (msgs, out, closed, used) = drive(&mut t, &buf);
            assert!(msgs.is_empty());
            split.push_str(&out);
            if closed {
                break;
            }
            buf.drain(..used);
        }
        assert_eq!(whole, split);
        assert!(whole.starts_with("HTTP/1.1 413 "), "{whole}");
    }

    #[test]
    fn expect_continue_gets_an_interim_answer() {
        let mut t = http();
        let head = b"POST /pub/r HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        let (msgs, out, _, _) = drive(&mut t, head);
        assert!(msgs.is_empty());
        assert_eq!(out, "HTTP/1.1 100 Continue\r\n\r\n");
        let mut full = head.to_vec();
        full.extend_from_slice(b"ok");
        let (msgs, out, _, _) = drive(&mut t, &full);
        assert_eq!(msgs, vec![b"pub r\nok".to_vec()]);
        assert!(out.is_empty(), "sent once");
    }

    #[test]
    fn options_preflight() {
        let (msgs, out, closed, _) = drive(&mut http(), b"OPTIONS /pub/r HTTP/1.1\r\n\r\n");
        assert!(msgs.is_empty() && !closed);
        assert!(out.starts_with("HTTP/1.1 204 ") && out.contains("Access-Control-Allow-Methods"));
    }

    #[test]
    fn upgrade_becomes_websocket_and_keeps_trailing_frames() {
        let mut t = http();
        let mut wire =
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                .to_vec();
        let mut frame = Vec::new();
        super::super::ws::frame::encode_frame(&mut frame, 1, b"lscmd", Some([9, 8, 7, 6]));
        wire.extend(frame);
        let (msgs, out, closed, _) = drive(&mut t, &wire);
        assert!(!closed);
        assert!(out.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert_eq!(msgs, vec![b"lscmd".to_vec()]);
        assert_eq!(t.name(), "WS");
        assert_eq!(t.shared_encoding(), Some(SharedEncoding::WsServerFrame));
        let mut out = Vec::new();
        t.encode(b"PARTS", &mut out);
        assert_eq!(out, b"\x81\x05PARTS");
        // A bad upgrade is a 400 and a close.
        let (_, out, closed, _) = drive(
            &mut http(),
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        );
        assert!(closed && out.starts_with("HTTP/1.1 400 "));
    }

    #[test]
    fn unsolicited_messages_are_dropped() {
        let mut t = http();
        assert!(answer(&mut t, &[b"pub a\nb"]).is_empty());
    }

    #[test]
    fn json_escaping() {
        let mut s = String::new();
        json_string(&mut s, b"a\"b\\c\nd\te\x01\xff");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\te\\u0001\u{fffd}\"");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%2Fb%2fc+d"), Some(b"a/b/c+d".to_vec()));
        assert_eq!(percent_decode(b"%e2%82%AC"), Some("€".as_bytes().to_vec()));
        assert_eq!(percent_decode(b"%"), None);
        assert_eq!(percent_decode(b"%4"), None);
        assert_eq!(percent_decode(b"%g0"), None);
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut gen = super::super::ws::frame::MaskGen::from_seed(0xbad);
        let seeds: [&[u8]; 4] = [
            b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /cmd/x/y HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
            b"GET /sub/a HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n",
        ];
        for round in 0..3000u64 {
            let mut wire = seeds[(round % 4) as usize].to_vec();
            let n = gen.next_u64() % 48;
            for _ in 0..n {
                let b = gen.next_u64() as u8;
                // Mix in bytes that matter to the parsers.
                wire.push(match b % 8 {
                    0 => b'\r',
                    1 => b'\n',
                    2 => b'0' + b % 10,
                    _ => b,
                });
            }
            if round % 3 == 0 {
                let at = (gen.next_u64() as usize) % wire.len();
                wire[at] = gen.next_u64() as u8;
            }
            let mut t = http();
            let _ = drive(&mut t, &wire);
            let mut out = Vec::new();
            t.encode(b"ACK", &mut out);
            t.encode(b"pub a\nb", &mut out);
        }
    }
}
