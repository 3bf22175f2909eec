//! The HTTP request state machine ([`HttpOrWs`]): read a head, then either
//! upgrade to WebSocket or read the body, hand the request to the broker as
//! one ducq message, and turn the first reply into a response; one request
//! at a time. It must not parse paths or body framing, nor format bytes
//! itself: `routing`, `body` and `response` do, and this file only decides
//! which of them to call and what state comes next.
//!
//! Two gates stand before the broker: the origin rules (`origin`: 421 for
//! an unknown `Host`, 403 for another site's upgrade or state-changing
//! request, a CORS header only for allowed origins) and, when a request
//! carries `Authorization: Basic`, an `auth` message sent first: the
//! request (or the WebSocket upgrade) goes on after its ACK and is answered
//! 401 after its NACK.
//!
//! Over 600 lines because the state machine is one job: every phase (head,
//! body, authentication, collecting parts, streaming, WebSocket) is a
//! transition on the same state, and splitting the transitions apart would
//! scatter one `match` over files. What can stand alone already does
//! (`routing`, `body`, `response`, `origin`).

use std::borrow::Cow;
use std::rc::Rc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::body::{framing, read_body, Body, Framing};
use super::origin::{OriginPolicy, Verdict};
use super::response::{
    content_type, error_json, header_safe, list_json, nack_status, respond, sse_event, stored_json,
    JSON,
};
use super::routing::{route, Action, Endpoint, RouteError};
use super::HttpLimits;
use crate::proto::message::{classify, nack_text, Kind, Message};
use crate::proto::State;
use crate::transport::ws::handshake::{self, HeadPoll, HeadReader, RequestHead};
use crate::transport::ws::WsServer;
use crate::transport::{Decoded, SharedEncoding, Step, Transport};

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

/// What waits for the answer to the `auth` message a request's
/// credentials became.
#[derive(Debug)]
enum AfterAuth {
    /// A request, as the ducq message it stands for.
    Request {
        msg: Vec<u8>,
        kind: Endpoint,
        keep_alive: bool,
    },
    /// A WebSocket upgrade, accepted once authenticated.
    Upgrade { accept: String },
}

/// Where the connection is.
#[derive(Debug)]
enum Phase {
    /// Waiting for the broker's answer to the credentials.
    Authing(AfterAuth),
    /// Authenticated: the request's message goes to the broker next.
    Queued {
        msg: Vec<u8>,
        kind: Endpoint,
        keep_alive: bool,
    },
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
    policy: Rc<OriginPolicy>,
    /// The allowed origin of the current request, named in its CORS header.
    cors: Option<String>,
    /// The current request's `Authorization: Basic`, as an `auth` message.
    creds: Option<Vec<u8>>,
    /// Credentials the broker accepted on this connection already.
    authed: Option<Vec<u8>>,
}

impl HttpOrWs {
    /// A fresh connection with these limits and the default origin rules.
    pub fn new(limits: HttpLimits) -> HttpOrWs {
        HttpOrWs::with_policy(limits, Rc::new(OriginPolicy::default()))
    }

    /// A fresh connection with these limits and origin rules.
    pub fn with_policy(limits: HttpLimits, policy: Rc<OriginPolicy>) -> HttpOrWs {
        HttpOrWs {
            limits,
            reader: HeadReader::new(limits.max_head),
            phase: Phase::Idle,
            policy,
            cors: None,
            creds: None,
            authed: None,
        }
    }

    /// The `auth` message to send before the request, when it carries
    /// credentials the broker has not accepted on this connection yet.
    fn auth_needed(&self) -> Option<Vec<u8>> {
        self.creds
            .clone()
            .filter(|c| self.authed.as_ref() != Some(c))
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
            self.cors.as_deref(),
        );
        self.answered(keep, input_len)
    }

    /// After a response written while no request is pending: wait for the
    /// next request having used `keep` bytes, or (`None`) end the
    /// connection.
    fn answered<'a>(&mut self, keep: Option<usize>, input_len: usize) -> Step<'a> {
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

    /// Answers a WebSocket upgrade request: switches to WebSocket, or
    /// refuses and ends the connection.
    fn upgrade<'a>(&mut self, head: &RequestHead, input_len: usize, out: &mut Vec<u8>) -> Step<'a> {
        match handshake::validate_upgrade(head) {
            Ok(accept) => {
                self.reader.reset();
                if let Some(auth) = self.auth_needed() {
                    self.phase = Phase::Authing(AfterAuth::Upgrade { accept });
                    return Step {
                        consumed: head.len,
                        decoded: Decoded::Message(Cow::Owned(auth)),
                    };
                }
                handshake::write_switching(&accept, out);
                self.phase = Phase::Ws(WsServer::upgraded(self.limits.max_message));
                Step {
                    consumed: head.len,
                    decoded: Decoded::Nothing,
                }
            }
            Err(reject) => {
                reject.write(out);
                self.answered(None, input_len)
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
        let host = head.headers.single("host").ok().flatten();
        let origin = head.headers.single("origin").ok().flatten();
        let verdict = self.policy.judge(origin, host);
        self.cors = match &verdict {
            Verdict::Allowed(o) => Some(o.clone()),
            _ => None,
        };
        let foreign = verdict == Verdict::Foreign;
        self.creds = basic_credentials(&head);
        if !self.policy.host_allowed(host) {
            return self.fail(421, "unknown host", &[], None, input_len, out);
        }
        if handshake::is_upgrade(&head) {
            if foreign {
                return self.fail(403, "origin not allowed", &[], None, input_len, out);
            }
            return self.upgrade(&head, input_len, out);
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
            // CORS preflight, so pages from allowed origins may POST, and
            // send credentials (`Authorization: Basic`) where users exist.
            // Another site's page gets no CORS header: its browser stops.
            let allow = [
                ("Access-Control-Allow-Methods", "GET, POST"),
                (
                    "Access-Control-Allow-Headers",
                    "Authorization, Content-Type",
                ),
            ];
            let cors = self.cors.as_deref();
            respond(out, 204, "", &allow, b"", keep.is_some(), cors);
            return self.answered(keep, input_len);
        }
        if foreign && !matches!(head.method.as_str(), "GET" | "HEAD") {
            // Another site's page may not change anything here.
            return self.fail(403, "origin not allowed", &[], keep, input_len, out);
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
        let got = match read_body(inc.framing, rest, inc.head_len, &self.limits) {
            Body::Arriving => None,
            Body::Done(body, used) => Some((body, used)),
            Body::Refused(status, reason) => {
                return self.fail(status, reason, &[], None, input_len, out)
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
        let (kind, keep_alive) = (inc.action.kind, inc.keep_alive);
        self.reader.reset();
        let (msg, phase) = match self.auth_needed() {
            Some(auth) => (
                auth,
                Phase::Authing(AfterAuth::Request {
                    msg,
                    kind,
                    keep_alive,
                }),
            ),
            None => (msg, Phase::Waiting { kind, keep_alive }),
        };
        self.phase = phase;
        Step {
            consumed,
            decoded: Decoded::Message(Cow::Owned(msg)),
        }
    }

    /// A `200` JSON answer of `body` that completes the request.
    fn json_done(&mut self, out: &mut Vec<u8>, body: &[u8], keep_alive: bool) {
        respond(out, 200, JSON, &[], body, keep_alive, self.cors.as_deref());
        self.finish(keep_alive);
    }

    /// Ends a request: back to idle, or done when the connection closes.
    fn finish(&mut self, keep_alive: bool) {
        self.phase = if keep_alive { Phase::Idle } else { Phase::Done };
    }

    /// The broker answered the credentials: go on with what waited, or
    /// answer 401.
    fn on_auth_reply(&mut self, after: AfterAuth, msg: &[u8], out: &mut Vec<u8>) {
        if classify(msg) == Kind::Ack {
            self.authed = self.creds.clone();
            self.phase = match after {
                AfterAuth::Request {
                    msg,
                    kind,
                    keep_alive,
                } => Phase::Queued {
                    msg,
                    kind,
                    keep_alive,
                },
                AfterAuth::Upgrade { accept } => {
                    handshake::write_switching(&accept, out);
                    Phase::Ws(WsServer::upgraded(self.limits.max_message))
                }
            };
            return;
        }
        let keep_alive = matches!(
            after,
            AfterAuth::Request {
                keep_alive: true,
                ..
            }
        );
        let body = error_json(&nack_text(msg), Some(State::EAccess));
        respond(
            out,
            401,
            JSON,
            &[CHALLENGE],
            &body,
            keep_alive,
            self.cors.as_deref(),
        );
        self.finish(keep_alive);
    }

    /// Renders the first reply to a request.
    fn reply(&mut self, kind: Endpoint, keep_alive: bool, msg: &[u8], out: &mut Vec<u8>) {
        let cors = self.cors.as_deref();
        match classify(msg) {
            Kind::Nack(state) => self.reply_nack(kind, state, keep_alive, msg, out),
            _ if kind == Endpoint::Sub => self.start_stream(msg, out),
            Kind::Parts => {
                self.phase = Phase::Collecting {
                    kind,
                    keep_alive,
                    items: Vec::new(),
                }
            }
            Kind::Ack if kind == Endpoint::Last => {
                respond(out, 204, "", &[], b"", keep_alive, cors);
                self.finish(keep_alive);
            }
            Kind::Ack if kind == Endpoint::LastAll => {
                self.json_done(out, b"[]", keep_alive);
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
                self.json_done(out, b"{\"ok\":true}", keep_alive);
            }
            _ if kind == Endpoint::Last => self.reply_last(keep_alive, msg, out),
            _ => {
                let extra = [
                    ("Cache-Control", "no-cache"),
                    ("X-Content-Type-Options", "nosniff"),
                ];
                match kind {
                    Endpoint::Body(media) => {
                        respond(out, 200, media, &extra, msg, keep_alive, cors)
                    }
                    _ => respond(out, 200, content_type(msg), &[], msg, keep_alive, cors),
                }
                self.finish(keep_alive);
            }
        }
    }

    /// A NACK as the request's answer: 401 with a challenge when access was
    /// refused to a request without credentials (with credentials the user
    /// may not do this: 403), else the state's status.
    fn reply_nack(
        &mut self,
        kind: Endpoint,
        state: State,
        keep_alive: bool,
        msg: &[u8],
        out: &mut Vec<u8>,
    ) {
        let cors = self.cors.as_deref();
        if state == State::EAccess && self.creds.is_none() {
            let body = error_json(&nack_text(msg), Some(State::EAccess));
            respond(out, 401, JSON, &[CHALLENGE], &body, keep_alive, cors);
        } else {
            // A missing dashboard file is not a missing connection.
            let text = match kind {
                Endpoint::Body(_) if state == State::ENotFound => "not found".to_owned(),
                _ => nack_text(msg),
            };
            let body = error_json(&text, Some(state));
            respond(out, nack_status(state), JSON, &[], &body, keep_alive, cors);
        }
        self.finish(keep_alive);
    }

    /// The head of a server-sent event stream (a `sub` over HTTP), and the
    /// first message as its first event unless it is the ACK.
    fn start_stream(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
              Cache-Control: no-cache\r\n",
        );
        cors_header(self.cors.as_deref(), out);
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        self.phase = Phase::Streaming;
        if !msg.starts_with(b"ACK") {
            sse_event(msg, out);
        }
    }

    /// A stored last message: its payload as the body, its route in
    /// `X-Ducq-Route`.
    fn reply_last(&mut self, keep_alive: bool, msg: &[u8], out: &mut Vec<u8>) {
        let (route, payload) = match Message::parse(msg) {
            Ok(m) if m.has_newline => (Some(header_safe(m.route)), m.payload),
            _ => (None, msg),
        };
        let extra: Vec<(&str, &str)> = route.iter().map(|r| ("X-Ducq-Route", r.as_str())).collect();
        let cors = self.cors.as_deref();
        respond(
            out,
            200,
            content_type(payload),
            &extra,
            payload,
            keep_alive,
            cors,
        );
        self.finish(keep_alive);
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
            Phase::Authing(_) => return Step::need_more(),
            Phase::Queued { .. } => {
                let Phase::Queued {
                    msg,
                    kind,
                    keep_alive,
                } = std::mem::replace(&mut self.phase, Phase::Idle)
                else {
                    return Step::need_more();
                };
                self.phase = Phase::Waiting { kind, keep_alive };
                return Step {
                    consumed: 0,
                    decoded: Decoded::Message(Cow::Owned(msg)),
                };
            }
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
            Phase::Authing(_) => {
                if let Phase::Authing(after) = std::mem::replace(&mut self.phase, Phase::Idle) {
                    self.on_auth_reply(after, msg, out);
                }
            }
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
                self.json_done(out, body.as_bytes(), keep_alive);
            }
            // Nothing was asked: HTTP cannot carry it.
            Phase::Idle | Phase::Body(_) | Phase::Done | Phase::Queued { .. } => {}
        }
    }

    /// A command that sent no reply (`PONG`, say) still completes its
    /// request: `204 No Content`.
    fn after_dispatch(&mut self, out: &mut Vec<u8>) {
        match &mut self.phase {
            &mut Phase::Waiting { keep_alive, .. } => {
                respond(out, 204, JSON, &[], b"", keep_alive, self.cors.as_deref());
                self.finish(keep_alive);
            }
            Phase::Collecting {
                kind: Endpoint::LastAll,
                keep_alive,
                items,
            } => {
                let body = stored_json(items);
                let keep_alive = *keep_alive;
                self.json_done(out, body.as_bytes(), keep_alive);
            }
            _ => {}
        }
    }

    /// Only an event stream or a WebSocket: a plain request's answer is its
    /// response, and between requests nothing can be sent.
    fn accepts_push(&self) -> bool {
        matches!(self.phase, Phase::Ws(_) | Phase::Streaming)
    }

    /// Pipelined requests wait in the input while a request's reply is
    /// awaited (`decode` returns "need more" until then).
    fn holds_input(&self) -> bool {
        matches!(self.phase, Phase::Waiting { .. } | Phase::Collecting { .. })
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

/// The answer to a request without (valid) credentials where some are
/// needed: browsers then ask their user.
const CHALLENGE: (&str, &str) = ("WWW-Authenticate", "Basic realm=\"ducq\"");

/// `Access-Control-Allow-Origin` for an allowed origin (and `Vary`, since
/// the answer depends on it).
fn cors_header(cors: Option<&str>, out: &mut Vec<u8>) {
    if let Some(origin) = cors {
        out.extend_from_slice(b"Access-Control-Allow-Origin: ");
        out.extend(origin.bytes().filter(|&b| b != b'\r' && b != b'\n'));
        out.extend_from_slice(b"\r\nVary: Origin\r\n");
    }
}

/// `Authorization: Basic base64(user:password)` as the message
/// `auth <user>\n<password>`; `None` without one (or a malformed one,
/// which then counts as no credentials).
fn basic_credentials(head: &RequestHead) -> Option<Vec<u8>> {
    let value = head.headers.single("authorization").ok().flatten()?;
    let (scheme, token) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let raw = BASE64.decode(handshake::trim(token)).ok()?;
    let colon = raw.iter().position(|&b| b == b':')?;
    let (user, password) = (raw.get(..colon)?, raw.get(colon + 1..)?);
    if user.is_empty() || user.iter().any(|&b| b == b'\n' || b == 0) {
        return None;
    }
    Some(crate::proto::message::format(b"auth", user, password))
}
