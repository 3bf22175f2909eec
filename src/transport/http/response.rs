//! Output for HTTP connections: complete responses, JSON bodies (errors,
//! lists, stored messages) and Server-Sent Events. It must not decide what
//! a request means or change connection state: each function appends the
//! bytes it is asked for.

use std::fmt::Write as _;

use super::routing::Endpoint;
use crate::proto::message::Message;
use crate::proto::State;
use crate::proto::{listing, queue};
use crate::transport::ws::handshake;

/// The media type of JSON bodies.
pub(super) const JSON: &str = "application/json";
/// The media type of the Prometheus text exposition format.
pub(super) const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Appends a complete response with a `Content-Length` body. An empty
/// `content_type` sends no such header.
pub(super) fn respond(
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

pub(super) fn content_type(body: &[u8]) -> &'static str {
    if std::str::from_utf8(body).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// The HTTP status for a NACK's state.
pub(super) fn nack_status(state: State) -> u16 {
    match state {
        State::EMsgInv => 400,
        State::EMsgSize => 413,
        State::EMax => 429,
        State::ENoCmd | State::ENotFound => 404,
        State::ENoImpl => 501,
        _ => 500,
    }
}

/// A route made safe for a header value: visible ASCII kept, other bytes
/// (and `%`) percent-encoded.
pub(super) fn header_safe(route: &[u8]) -> String {
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
pub(super) fn error_json(reason: &str, state: Option<State>) -> Vec<u8> {
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
pub(super) fn stored_json(items: &[Vec<u8>]) -> String {
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

/// The JSON array for a multipart reply: objects for `/lscmd`, `/lsconn`,
/// `lsq` (read as the CLI reads them) and for the messages of `qget` and
/// `qtake` (payloads whole); the lines as strings otherwise.
pub(super) fn list_json(kind: Endpoint, items: &[Vec<u8>]) -> String {
    match kind {
        Endpoint::Lscmd => listing::lscmd_json(items),
        Endpoint::Lsconn => listing::lsconn_json(items),
        Endpoint::Deliveries => queue::deliveries_json(items),
        Endpoint::Lsq => queue::lsq_json(items),
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

    #[test]
    fn json_escaping() {
        let mut s = String::new();
        json_string(&mut s, b"a\"b\\c\nd\te\x01\xff");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\te\\u0001\u{fffd}\"");
    }
}
