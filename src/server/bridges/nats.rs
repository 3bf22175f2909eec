//! The NATS remote: core NATS's text protocol, client side, encoded here
//! (it is a few line formats; the crates that speak it are async clients,
//! not sans-IO codecs). After the server's `INFO` it sends `CONNECT`
//! (`echo: false`, so its own publications do not come back, and
//! `verbose: false`), a `SUB` per subject the `in` patterns need, and a
//! `PING`; the first `PONG` opens it. Routes become subjects (`a/b` ↔
//! `a.b`, `+` ↔ `*`, `#` ↔ `>`; docs/BRIDGES.md). Publications are `PUB`;
//! a `PING` follows each burst and its `PONG` confirms every `PUB` before
//! it, so what a dying server never confirmed is sent again to the next
//! one. With `tls`, the `INFO` line (plain text) must offer TLS; the codec
//! then opens the connection's TLS gate, and `CONNECT` and all after it
//! wait for the handshake. It must not touch a socket.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::config::BridgeConfig;
use super::jetstream::{json_field, Mirror};
use super::link::{Link, Outgoing};
use super::mapping::{nats_filters, nats_route, nats_subject};
use super::transport::{Inbound, Remote, Sent};
use crate::proto::message::format;
use crate::transport::LastMessage;

/// Longest control line accepted (an `INFO` listing many cluster URLs).
const MAX_LINE: usize = 64 << 10;
/// Largest payload accepted from the server.
const MAX_MSG: usize = 64 << 20;

/// Where the handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for `INFO`.
    Info,
    /// `CONNECT`, `SUB`s and `PING` sent: waiting for the `PONG`.
    Pong,
    /// Publications may flow.
    Ready,
}

/// A `MSG` or `HMSG` frame, parsed.
struct Frame<'a> {
    subject: &'a [u8],
    /// The header block (`HMSG`), status line first.
    headers: &'a [u8],
    payload: &'a [u8],
    /// Bytes of input it took.
    len: usize,
}

/// The client side of a NATS bridge.
pub struct NatsRemote {
    state: State,
    subjects: Vec<String>,
    name: String,
    user: Option<String>,
    password: Option<String>,
    /// The server's `max_payload`.
    max_payload: usize,
    /// `PUB`s written on this connection.
    published: u64,
    /// `PUB`s confirmed by a `PONG`.
    confirmed: u64,
    /// Per `PING` sent and unanswered: how many `PUB`s its `PONG` confirms.
    pings: VecDeque<u64>,
    /// The JetStream mirror of durable queues, when configured.
    mirror: Option<Rc<RefCell<Mirror>>>,
    /// With `tls`: the connection's TLS gate, opened after `INFO`.
    tls: Option<Rc<Cell<bool>>>,
}

impl NatsRemote {
    /// A remote for `cfg`; `mirror`: the bridge's JetStream mirror; `tls`:
    /// the gate of the connection's TLS layer (a bridge with `tls`).
    pub fn new(
        cfg: &BridgeConfig,
        mirror: Option<Rc<RefCell<Mirror>>>,
        tls: Option<Rc<Cell<bool>>>,
    ) -> NatsRemote {
        let mut subjects = Vec::new();
        for p in cfg.mapping.remote_patterns() {
            for s in nats_filters(&p) {
                if !subjects.contains(&s) {
                    subjects.push(s);
                }
            }
        }
        NatsRemote {
            state: State::Info,
            subjects,
            name: cfg.name.clone(),
            user: cfg.user.clone(),
            password: cfg.password.clone(),
            max_payload: 1 << 20,
            published: 0,
            confirmed: 0,
            pings: VecDeque::new(),
            mirror,
            tls,
        }
    }

    /// Answers `INFO`: `CONNECT`, the `SUB`s (the mirror's reply inbox
    /// too), the mirror's stream request, and the first `PING`.
    fn connect(&mut self, info: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let offered = |field| json_field(info, field).as_deref() == Some("true");
        match &self.tls {
            Some(gate) if offered("tls_required") || offered("tls_available") => gate.set(true),
            // Credentials never go out in the clear to a server that was
            // meant to be reached over TLS.
            Some(_) => return Err("the server does not offer TLS (the bridge has tls=true)".into()),
            None if offered("tls_required") => {
                return Err("the server requires TLS: give the bridge tls=true (and ca)".into())
            }
            None => {}
        }
        if let Some(n) = json_field(info, "max_payload").and_then(|v| v.parse().ok()) {
            self.max_payload = n;
        }
        out.extend_from_slice(self.connect_line().as_bytes());
        for (i, s) in self.subjects.iter().enumerate() {
            out.extend_from_slice(format!("SUB {s} {}\r\n", i + 1).as_bytes());
        }
        if let Some(m) = &self.mirror {
            let token = format!(
                "{:08x}{:08x}",
                crate::backoff::random_u32(),
                crate::backoff::random_u32()
            );
            let sid = self.subjects.len() + 1;
            out.extend_from_slice(format!("SUB _INBOX.{token}.* {sid}\r\n").as_bytes());
            m.borrow_mut().begin(&token, self.max_payload, out);
        }
        self.state = State::Pong;
        self.ping(out);
        Ok(())
    }

    /// `CONNECT {...}`: no echo, not verbose; headers and "no responders"
    /// statuses when mirroring (JetStream needs both).
    fn connect_line(&self) -> String {
        let js = self.mirror.is_some();
        let mut c = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"echo\":false,\"headers\":{js},\
             \"no_responders\":{js},\"name\":{},\"lang\":\"rust-ducq\",\"version\":\"{}\",\"protocol\":1",
            json_str(&format!("ducq-bridge-{}", self.name)),
            env!("CARGO_PKG_VERSION"),
        );
        if let Some(u) = &self.user {
            c.push_str(&format!(",\"user\":{}", json_str(u)));
        }
        if let Some(p) = &self.password {
            c.push_str(&format!(",\"pass\":{}", json_str(p)));
        }
        c.push_str("}\r\n");
        c
    }

    /// A `MSG` or `HMSG` line and what follows: the local message (`None`
    /// when the route is not brought in, or it was a mirror reply); `Ok(None)`
    /// while the payload is incomplete.
    fn message(
        &self,
        link: &mut Link,
        input: &[u8],
        line: &[u8],
        after: usize,
    ) -> Result<Option<(usize, Option<Inbound>)>, String> {
        let Some(f) = frame(input, line, after)? else {
            return Ok(None);
        };
        if let Some(m) = self
            .mirror
            .as_ref()
            .filter(|m| m.borrow().is_reply(f.subject))
        {
            m.borrow_mut()
                .reply(f.subject, status(f.headers), f.payload)?;
            return Ok(Some((f.len, None)));
        }
        let route = nats_route(f.subject);
        let inbound = match link.cfg.mapping.inbound_route(&route) {
            Some(local) => Some(Inbound {
                message: format(b"pub", &local, f.payload),
                last: LastMessage::Store,
            }),
            None => {
                link.counters.ignored += 1;
                None
            }
        };
        Ok(Some((f.len, inbound)))
    }

    /// A `PONG`: confirms what its `PING` followed; a first one opens.
    fn pong(&mut self, link: &mut Link, out: &mut Vec<u8>) {
        let Some(upto) = self.pings.pop_front() else {
            return;
        };
        if self.state == State::Pong {
            self.state = State::Ready;
        }
        let n = upto.saturating_sub(self.confirmed);
        self.confirmed = self.confirmed.max(upto);
        link.confirm_first(n as usize);
        // Keep confirmations coming while anything is unconfirmed.
        if self.pings.is_empty() && self.published > self.confirmed {
            self.ping(out);
        }
    }

    /// One control line (not `MSG`/`HMSG`).
    fn control(
        &mut self,
        link: &mut Link,
        op: &[u8],
        line: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        match (op, self.state) {
            (b"PING", _) => out.extend_from_slice(b"PONG\r\n"),
            (b"PONG", _) => self.pong(link, out),
            (b"INFO", State::Info) => self.connect(line.get(5..).unwrap_or_default(), out)?,
            (b"INFO", _) | (b"+OK", _) => {}
            (b"-ERR", _) => {
                let text = String::from_utf8_lossy(line.get(4..).unwrap_or_default());
                let text = text.trim().trim_matches('\'');
                if !text.starts_with("Permissions Violation") {
                    return Err(format!("the server said: {text}"));
                }
                link.counters.rejected += 1;
                link.notes.push(format!("the server said: {text}"));
            }
            _ => {
                let shown =
                    String::from_utf8_lossy(line.get(..line.len().min(40)).unwrap_or_default());
                return Err(format!("unexpected line from the server: {shown:?}"));
            }
        }
        Ok(())
    }
}

/// Parses `MSG <subject> <sid> [reply] <#bytes>` or `HMSG <subject> <sid>
/// [reply] <#header bytes> <#total bytes>` and checks what follows.
fn frame<'a>(input: &'a [u8], line: &'a [u8], after: usize) -> Result<Option<Frame<'a>>, String> {
    let fields: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .collect();
    let headed = fields
        .first()
        .is_some_and(|op| op.eq_ignore_ascii_case(b"HMSG"));
    let sizes = if headed { 2 } else { 1 };
    if !(3 + sizes..=4 + sizes).contains(&fields.len()) {
        return Err("malformed MSG line".into());
    }
    let size = |i: usize| {
        fields
            .get(fields.len() - i)
            .and_then(|n| parse_size(n))
            .ok_or("malformed MSG size")
    };
    let total = size(1)?;
    let header = if headed { size(2)? } else { 0 };
    if total > MAX_MSG || header > total {
        return Err(format!(
            "MSG of {total} bytes is over the limit or malformed"
        ));
    }
    let end = after + total;
    let Some(tail) = input.get(end..end + 2) else {
        return Ok(None);
    };
    if tail != b"\r\n" {
        return Err("MSG payload not followed by CRLF".into());
    }
    Ok(Some(Frame {
        subject: fields.get(1).copied().unwrap_or_default(),
        headers: input.get(after..after + header).unwrap_or_default(),
        payload: input.get(after + header..end).unwrap_or_default(),
        len: end + 2,
    }))
}

/// The status of a header block (`NATS/1.0 503` → `503`).
fn status(headers: &[u8]) -> Option<&str> {
    let first = headers.split(|&b| b == b'\r').next()?;
    let text = std::str::from_utf8(first).ok()?;
    text.strip_prefix("NATS/1.0")?.split_whitespace().next()
}

impl Remote for NatsRemote {
    fn open(&mut self, _link: &mut Link, _out: &mut Vec<u8>) {
        // The server speaks first (INFO).
    }

    fn decode(
        &mut self,
        link: &mut Link,
        input: &mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, Option<Inbound>), String> {
        let input: &[u8] = input;
        let Some(eol) = input.windows(2).position(|w| w == b"\r\n") else {
            if input.len() > MAX_LINE {
                return Err("control line too long".into());
            }
            return Ok((0, None));
        };
        let line = input.get(..eol).unwrap_or_default();
        let after = eol + 2;
        let op = line.split(|&b| b == b' ').next().unwrap_or_default();
        let op = op.to_ascii_uppercase();
        let result = match (op.as_slice(), self.state) {
            (b"MSG" | b"HMSG", State::Ready | State::Pong) => {
                self.message(link, input, line, after)?.unwrap_or((0, None))
            }
            _ => {
                self.control(link, &op, line, out)?;
                (after, None)
            }
        };
        if let Some(m) = &self.mirror {
            // A PubAck opened the window, or the stream is there now.
            m.borrow_mut().drain(out);
        }
        Ok(result)
    }

    fn ready(&self) -> bool {
        self.state == State::Ready
    }

    fn outgoing(
        &mut self,
        link: &mut Link,
        route: &[u8],
        payload: &[u8],
        _seq: u64,
    ) -> Option<Outgoing> {
        link.mapped(nats_subject(route).map(String::into_bytes), payload)
    }

    fn send(&mut self, link: &mut Link, msg: &mut Outgoing, out: &mut Vec<u8>) -> Sent {
        if msg.payload.len() > self.max_payload {
            link.counters.unmappable += 1;
            return Sent::Skipped;
        }
        out.extend_from_slice(b"PUB ");
        out.extend_from_slice(&msg.name);
        out.extend_from_slice(format!(" {}\r\n", msg.payload.len()).as_bytes());
        out.extend_from_slice(&msg.payload);
        out.extend_from_slice(b"\r\n");
        self.published += 1;
        if self.pings.is_empty() {
            self.ping(out);
        }
        Sent::Unconfirmed
    }

    fn ping(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"PING\r\n");
        self.pings.push_back(self.published);
    }
}

/// A decimal size.
fn parse_size(text: &[u8]) -> Option<usize> {
    if text.is_empty() || text.len() > 12 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::new();
    crate::proto::listing::json_string(&mut out, s.as_bytes());
    out
}

#[cfg(test)]
#[path = "nats_tests.rs"]
mod tests;
