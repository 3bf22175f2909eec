//! The NATS remote: core NATS's text protocol, client side, encoded here
//! (it is a few line formats; the crates that speak it are async clients,
//! not sans-IO codecs). After the server's `INFO` it sends `CONNECT`
//! (`echo: false`, so its own publications do not come back, and
//! `verbose: false`), a `SUB` per subject the `in` patterns need, and a
//! `PING`; the first `PONG` opens it. Routes become subjects (`a/b` ↔
//! `a.b`, `+` ↔ `*`, `#` ↔ `>`; docs/BRIDGES.md). Publications are `PUB`;
//! a `PING` follows each burst and its `PONG` confirms every `PUB` before
//! it, so what a dying server never confirmed is sent again to the next
//! one. It must not touch a socket.

use std::collections::VecDeque;

use super::config::BridgeConfig;
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
}

impl NatsRemote {
    /// A remote for `cfg`.
    pub fn new(cfg: &BridgeConfig) -> NatsRemote {
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
        }
    }

    /// The `CONNECT`, `SUB`s and first `PING`.
    fn connect(&mut self, info: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if json_field(info, "tls_required").as_deref() == Some("true") {
            return Err("the server requires TLS, which this bridge does not speak".into());
        }
        if let Some(n) = json_field(info, "max_payload").and_then(|v| v.parse().ok()) {
            self.max_payload = n;
        }
        let mut c = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"echo\":false,\"headers\":false,\
             \"name\":{},\"lang\":\"rust-ducq\",\"version\":\"{}\",\"protocol\":1",
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
        out.extend_from_slice(c.as_bytes());
        for (i, s) in self.subjects.iter().enumerate() {
            out.extend_from_slice(format!("SUB {s} {}\r\n", i + 1).as_bytes());
        }
        self.state = State::Pong;
        self.ping(out);
        Ok(())
    }

    /// A `MSG` line and its payload: the local message, or `None` when the
    /// route is not brought in.
    fn message(
        &self,
        link: &mut Link,
        input: &[u8],
        line: &[u8],
        after: usize,
    ) -> Result<Option<(usize, Option<Inbound>)>, String> {
        // MSG <subject> <sid> [reply-to] <#bytes>
        let fields: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty())
            .collect();
        if !(4..=5).contains(&fields.len()) {
            return Err("malformed MSG line".into());
        }
        let (subject, size) = match (fields.get(1), fields.last()) {
            (Some(s), Some(n)) => (*s, parse_size(n).ok_or("malformed MSG size")?),
            _ => return Err("malformed MSG line".into()),
        };
        if size > MAX_MSG {
            return Err(format!("MSG of {size} bytes is over the limit"));
        }
        let end = after + size;
        let Some(tail) = input.get(end..end + 2) else {
            return Ok(None);
        };
        if tail != b"\r\n" {
            return Err("MSG payload not followed by CRLF".into());
        }
        let payload = input.get(after..end).unwrap_or_default();
        let route = nats_route(subject);
        let inbound = match link.cfg.mapping.inbound_route(&route) {
            Some(local) => Some(Inbound {
                message: format(b"pub", &local, payload),
                last: LastMessage::Store,
            }),
            None => {
                link.counters.ignored += 1;
                None
            }
        };
        Ok(Some((end + 2, inbound)))
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
        match (op.as_slice(), self.state) {
            (b"MSG", State::Ready | State::Pong) => {
                return Ok(self.message(link, input, line, after)?.unwrap_or((0, None)));
            }
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
        Ok((after, None))
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
        match nats_subject(route) {
            Some(subject) => Some(Outgoing {
                name: subject.into_bytes(),
                payload: payload.to_vec(),
                trace: None,
                resent: false,
                tag: 0,
            }),
            None => {
                link.counters.unmappable += 1;
                None
            }
        }
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

/// The raw text of a scalar field of a flat JSON object (`"key":value`),
/// quotes removed from a string. Enough for the few `INFO` fields read.
fn json_field(json: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(json).ok()?;
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = text.get(at..)?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        return Some(s.split('"').next()?.to_string());
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest.get(..end)?.trim().to_string())
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::new();
    crate::proto::listing::json_string(&mut out, s.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::bridges::config::Kind;
    use std::rc::Rc;

    fn setup() -> (NatsRemote, Link) {
        let mut cfg = BridgeConfig::new(Kind::Nats, "127.0.0.1:4222".parse().unwrap());
        cfg.mapping.out = vec!["o/#".into()];
        cfg.mapping.inbound = vec!["i/+".into(), "j/#".into()];
        cfg.user = Some("u".into());
        cfg.password = Some("p\"w".into());
        let remote = NatsRemote::new(&cfg);
        (remote, Link::new(Rc::new(cfg)))
    }

    /// Decodes everything in `input`; returns the local messages.
    fn feed(r: &mut NatsRemote, link: &mut Link, input: &[u8], out: &mut Vec<u8>) -> Vec<String> {
        let mut buf = input.to_vec();
        let mut got = Vec::new();
        loop {
            let (n, inbound) = r.decode(link, &mut buf, out).unwrap();
            if let Some(i) = inbound {
                got.push(String::from_utf8(i.message).unwrap());
            }
            if n == 0 {
                return got;
            }
            buf.drain(..n);
        }
    }

    #[test]
    fn handshake_subscribes_and_opens_on_pong() {
        let (mut r, mut link) = setup();
        let mut out = Vec::new();
        r.open(&mut link, &mut out);
        assert!(out.is_empty());
        feed(
            &mut r,
            &mut link,
            b"INFO {\"server_id\":\"x\",\"max_payload\":100}\r\n",
            &mut out,
        );
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with("CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,"),
            "{text}"
        );
        assert!(
            text.contains(",\"user\":\"u\",\"pass\":\"p\\\"w\"}\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with("SUB i.* 1\r\nSUB j.> 2\r\nSUB j 3\r\nPING\r\n"),
            "{text}"
        );
        assert!(!r.ready());
        out.clear();
        feed(&mut r, &mut link, b"+OK\r\nPONG\r\n", &mut out);
        assert!(r.ready() && out.is_empty());
        assert_eq!(r.max_payload, 100);
    }

    #[test]
    fn messages_in_and_confirmations_of_what_went_out() {
        let (mut r, mut link) = setup();
        let mut out = Vec::new();
        feed(&mut r, &mut link, b"INFO {}\r\nPONG\r\n", &mut out);
        out.clear();
        let got = feed(
            &mut r,
            &mut link,
            b"MSG i.x 1 5\r\nhello\r\nMSG j 3 reply.to 0\r\n\r\nMSG i.x.y 1 1\r\nz\r\nPING\r\nMSG i.a 1 3\r\nab",
            &mut out,
        );
        assert_eq!(got, ["pub i/x\nhello", "pub j\n"]);
        assert_eq!(link.counters.ignored, 1);
        assert_eq!(out, b"PONG\r\n");
        out.clear();
        // Two publications: a PING after the first, none after the second
        // until the PONG; that PONG confirms one and asks again.
        for p in ["1", "2"] {
            let mut m = r.outgoing(&mut link, b"o/a", p.as_bytes(), 0).unwrap();
            assert_eq!(r.send(&mut link, &mut m, &mut out), Sent::Unconfirmed);
            link.sent_unconfirmed(m);
        }
        assert_eq!(out, b"PUB o.a 1\r\n1\r\nPING\r\nPUB o.a 1\r\n2\r\n");
        out.clear();
        feed(&mut r, &mut link, b"PONG\r\n", &mut out);
        assert_eq!((link.counters.confirmed, link.in_flight()), (1, 1));
        assert_eq!(out, b"PING\r\n");
        feed(&mut r, &mut link, b"PONG\r\n", &mut out);
        assert_eq!((link.counters.confirmed, link.in_flight()), (2, 0));
        // Over the server's limit, or no subject for the route.
        r.max_payload = 2;
        let mut big = r.outgoing(&mut link, b"o/a", b"abc", 0).unwrap();
        assert_eq!(r.send(&mut link, &mut big, &mut out), Sent::Skipped);
        assert_eq!(r.outgoing(&mut link, b"o/a.b", b"x", 0), None);
        assert_eq!(link.counters.unmappable, 2);
    }

    #[test]
    fn hostile_servers_end_the_connection() {
        for bad in [
            &b"GARBAGE\r\n"[..],
            b"-ERR 'Authorization Violation'\r\n",
            b"INFO {\"tls_required\":true}\r\n",
        ] {
            let (mut r, mut link) = setup();
            let mut buf = bad.to_vec();
            assert!(
                r.decode(&mut link, &mut buf, &mut Vec::new()).is_err(),
                "{bad:?}"
            );
        }
        let (mut r, mut link) = setup();
        let mut out = Vec::new();
        feed(&mut r, &mut link, b"INFO {}\r\nPONG\r\n", &mut out);
        for bad in [
            &b"MSG a 1 x\r\n"[..],
            b"MSG a 1 2\r\nabcd",
            b"MSG a\r\n",
            b"MSG a 1 99999999999999\r\n",
        ] {
            let mut buf = bad.to_vec();
            assert!(r.decode(&mut link, &mut buf, &mut out).is_err(), "{bad:?}");
        }
        let mut long = vec![b'x'; MAX_LINE + 1];
        assert!(r.decode(&mut link, &mut long, &mut out).is_err());
        // A permissions error is counted and noted, not fatal.
        let mut perm = b"-ERR 'Permissions Violation for Publish to \"o.a\"'\r\n".to_vec();
        assert!(r.decode(&mut link, &mut perm, &mut out).is_ok());
        assert_eq!((link.counters.rejected, link.notes.len()), (1, 1));
    }

    #[test]
    fn json_fields() {
        let info = br#"{"a":"x y","max_payload": 1048576 ,"tls_required":true}"#;
        assert_eq!(json_field(info, "a").as_deref(), Some("x y"));
        assert_eq!(json_field(info, "max_payload").as_deref(), Some("1048576"));
        assert_eq!(json_field(info, "tls_required").as_deref(), Some("true"));
        assert_eq!(json_field(info, "nope"), None);
    }
}
