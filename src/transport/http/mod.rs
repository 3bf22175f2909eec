//! HTTP/1.1 on the WebSocket port (PROTOCOL.md §1, §10): [`HttpOrWs`] reads
//! a request head and either upgrades to a
//! [`WsServer`](super::ws::WsServer) or serves the request by turning it
//! into one ducq message and the ducq reply into a response.
//!
//! Sans-IO: it never touches a socket. It must never panic on peer bytes nor
//! buffer a body it has already refused: sizes are decided from the head.
//!
//! # Layout
//! - `request`: the per-connection state machine ([`HttpOrWs`]): head,
//!   body, waiting for the reply, streaming, upgraded.
//! - `body`: body framing (`Content-Length`, chunked) and its limits.
//! - `routing`: method and path to the ducq message a request stands for.
//! - `response`: responses, JSON bodies and Server-Sent Events.
//!
//! This file holds the protocol mapping (below) and the limits; it must
//! not grow logic of its own.
//!
//! # Endpoints
//! | request | ducq message | response |
//! |---|---|---|
//! | `POST /pub/<route>`, body P | `pub <route>\nP` | reply mapping below |
//! | `GET /last/<route>` | `last <route>\n` | 200 with the payload of the stored message (its route in `X-Ducq-Route`), or 204 when there is none |
//! | `GET /last/<pattern>` (with `*`, `+`, `#`) | `last <pattern>\n` | 200 `[{"route":..,"payload":..}]`, the newest stored message of every matching route (`[]` when none) |
//! | `GET /last/<route or pattern>?n=N` | `last <route>\nN` | 200 `[{"route":..,"payload":..}]`, up to the N newest stored messages of each matching route, oldest first (`[]` when none) |
//! | `GET /sub/<route>` | `sub <route>\n` | a Server-Sent Events stream |
//! | `GET /lscmd` | `lscmd` | 200 `[{"name":..,"doc":..}]` |
//! | `GET /lsconn` | `lsconn` | 200 `[{"id":..,"route":..}]` |
//! | `POST /cmd/<command>/<route>`, body P | `<command> <route>\nP` | reply mapping below |
//! | `POST /cmd/qget/<queue>`, `POST /cmd/qtake/<queue>`, body N | `qget <queue>\nN`, `qtake <queue>\nN` | 200 `[{"queue":..,"id":..,"deliveries":..,"payload":..}]` (`"payload_base64"` for a payload that is not UTF-8), or the NACK mapping |
//! | `POST /cmd/lsq` | `lsq` | 200 `[{"name":..,"depth":..,"ready":..,"in_flight":..,"consumers":..,"oldest_ms":..}]` |
//! | `POST /cmd/<command>`, body P | `<command>` (or `<command>\nP` when P is not empty) | reply mapping below |
//! | `GET /metrics` | `metrics` | 200, the reply as `text/plain; version=0.0.4` (Prometheus) |
//! | `GET /stats` | `stats` | 200, the reply as JSON |
//! | `GET /`, `GET /dashboard/<file>` | `dashboard <file>\n` | 200, the reply with the file's type (404 when the server has no dashboard) |
//!
//! Routes and commands are percent-decoded; the query string is ignored but
//! for `n` on `/last` (400 unless it is a decimal number). `/last` only
//! reads the store: the connection is not subscribed.
//!
//! # Reply mapping
//! The first reply completes the request:
//! - `ACK` → `200` with the JSON body `{"ok":true}`;
//! - `NACK` → `{"error":"<text>","code":<code>}` with status 400 for code 15,
//!   413 for 16, 404 for 17 and 19, 501 for 20, 429 for 21 (a rate limit),
//!   500 otherwise;
//! - `PARTS` … `END` → `200` with a JSON array of the lines (objects for
//!   `/lscmd`, `/lsconn` and `lsq`, one object per message for `qget` and
//!   `qtake`, strings otherwise);
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

use super::ws::handshake::MAX_HEAD;

mod body;
mod request;
mod response;
mod routing;
#[cfg(test)]
mod tests;

pub use request::HttpOrWs;
pub use response::{json_string, sse_event};
pub use routing::percent_decode;

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
