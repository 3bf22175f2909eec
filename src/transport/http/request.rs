//! The HTTP request state machine ([`HttpOrWs`]): read a head, then either
//! upgrade to WebSocket or read the body, hand the request to the broker as
//! one ducq message, and turn the first reply into a response; one request
//! at a time. It must not parse paths or body framing, nor format bytes
//! itself: `routing`, `body` and `response` do, and this file only decides
//! which of them to call and what state comes next.

use std::borrow::Cow;

use super::body::{framing, read_body, Body, Framing};
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
        if handshake::is_upgrade(&head) {
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
            // CORS preflight, so pages from other origins may POST.
            let allow = [
                ("Access-Control-Allow-Methods", "GET, POST"),
                ("Access-Control-Allow-Headers", "Content-Type"),
            ];
            respond(out, 204, "", &allow, b"", keep.is_some());
            return self.answered(keep, input_len);
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
