//! The WebSocket opening handshake (RFC 6455 §4, PROTOCOL.md §9), both
//! sides, and the resumable HTTP/1.1 head reader that the HTTP codec shares.
//!
//! Sans-IO: it reads byte slices and appends answers to a buffer. It never
//! touches a socket and never panics on peer bytes: every malformed or
//! oversized head becomes a [`Reject`] (an HTTP status and a short reason).
//!
//! Over 600 lines because about 210 of them are its unit tests (the
//! RFC's accept-key example among them); the code is ~460.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID RFC 6455 appends to the client's key before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Default cap on the size of a request or response head.
pub const MAX_HEAD: usize = 8 * 1024;

/// Most header lines accepted in one head; more is a 431.
pub const MAX_HEADERS: usize = 64;

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`:
/// base64(sha1(key + GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// A refused request: the status to answer and why, in a few words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    /// HTTP status code (400, 431, …).
    pub status: u16,
    /// A short reason, sent as the plain-text body.
    pub reason: &'static str,
}

impl Reject {
    /// A `400 Bad Request` with `reason`.
    pub const fn bad(reason: &'static str) -> Reject {
        Reject {
            status: 400,
            reason,
        }
    }

    /// Appends the full response (which closes the connection) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let body = self.reason.as_bytes();
        out.extend_from_slice(
            format!(
                "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                self.status,
                status_text(self.status),
                body.len() + 1
            )
            .as_bytes(),
        );
        out.extend_from_slice(body);
        out.push(b'\n');
    }
}

/// The reason phrase of the status codes ducq sends.
pub fn status_text(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Header lines of a head, names as sent, values as raw bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, Vec<u8>)>);

impl Headers {
    fn from_parsed(parsed: &[httparse::Header<'_>]) -> Headers {
        Headers(
            parsed
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
        )
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The value of header `name` when it appears exactly once, trimmed.
    /// `Err(())` when it appears more than once.
    #[allow(clippy::result_unit_err)]
    pub fn single<'s>(&'s self, name: &'s str) -> Result<Option<&'s [u8]>, ()> {
        let mut it = self.all(name);
        let first = it.next();
        if it.next().is_some() {
            return Err(());
        }
        Ok(first.map(trim))
    }

    /// Whether the comma-separated token lists of header `name` hold
    /// `token` (case-insensitive), as `Connection: keep-alive, Upgrade` does.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.all(name).any(|v| {
            v.split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}

/// `bytes` without surrounding spaces and tabs.
pub fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or(&[])
}

/// A parsed request head (owned, so the input buffer can move on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent (`/pub/a%2Fb?x`).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// The header lines.
    pub headers: Headers,
    /// Bytes of input the head used, blank line included.
    pub len: usize,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub code: u16,
    /// The header lines.
    pub headers: Headers,
    /// Bytes of input the head used, blank line included.
    pub len: usize,
}

/// What [`HeadReader`] made of the input so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadPoll<T> {
    /// The head has not ended yet: wait for more bytes.
    Partial,
    /// A complete head; bytes after `len` belong to what follows.
    Complete(T),
    /// A malformed or oversized head.
    Error(Reject),
}

/// Reads one HTTP/1.x head from a growing buffer. It remembers how far it
/// has looked for the blank line, so a head that arrives a byte at a time is
/// not rescanned from the start, and it refuses a head longer than its cap.
#[derive(Debug, Clone)]
pub struct HeadReader {
    max: usize,
    scanned: usize,
}

impl HeadReader {
    /// A reader that refuses heads longer than `max` bytes.
    pub fn new(max: usize) -> HeadReader {
        HeadReader { max, scanned: 0 }
    }

    /// Forgets progress; call after a head was consumed from the buffer.
    pub fn reset(&mut self) {
        self.scanned = 0;
    }

    /// Finds the end of a head (after `\n\r\n` or `\n\n`) at or past
    /// `self.scanned`, within the cap. `Err` when the cap is passed.
    fn next_end(&mut self, input: &[u8]) -> Result<Option<usize>, Reject> {
        let limit = input.len().min(self.max.saturating_add(1));
        let from = self.scanned.min(limit);
        let window = input.get(from..limit).unwrap_or(&[]);
        for (i, &b) in window.iter().enumerate() {
            if b != b'\n' {
                continue;
            }
            let at = from + i;
            let tail = input.get(at + 1..).unwrap_or(&[]);
            let end = match tail {
                [b'\n', ..] => at + 2,
                [b'\r', b'\n', ..] => at + 3,
                // The blank line may not have fully arrived.
                [] | [b'\r'] => {
                    self.scanned = at;
                    return self.over_cap(input.len()).map(|()| None);
                }
                _ => continue,
            };
            if end > self.max {
                return Err(too_large());
            }
            self.scanned = end;
            return Ok(Some(end));
        }
        self.scanned = limit;
        self.over_cap(input.len()).map(|()| None)
    }

    fn over_cap(&self, len: usize) -> Result<(), Reject> {
        if len > self.max {
            Err(too_large())
        } else {
            Ok(())
        }
    }

    /// Reads a request head from the front of `input`.
    pub fn read_request(&mut self, input: &[u8]) -> HeadPoll<RequestHead> {
        self.read_head(input, |bytes| {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut slots);
            match req.parse(bytes) {
                Ok(httparse::Status::Complete(len)) => Ok(Some(RequestHead {
                    method: req.method.unwrap_or("").to_owned(),
                    target: req.path.unwrap_or("").to_owned(),
                    minor_version: req.version.unwrap_or(0),
                    headers: Headers::from_parsed(req.headers),
                    len,
                })),
                Ok(httparse::Status::Partial) => Ok(None),
                Err(httparse::Error::TooManyHeaders) => Err(Reject {
                    status: 431,
                    reason: "too many header lines",
                }),
                Err(_) => Err(Reject::bad("malformed request head")),
            }
        })
    }

    /// Reads a response head from the front of `input`.
    pub fn read_response(&mut self, input: &[u8]) -> HeadPoll<ResponseHead> {
        self.read_head(input, |bytes| {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut slots);
            match resp.parse(bytes) {
                Ok(httparse::Status::Complete(len)) => Ok(Some(ResponseHead {
                    code: resp.code.unwrap_or(0),
                    headers: Headers::from_parsed(resp.headers),
                    len,
                })),
                Ok(httparse::Status::Partial) => Ok(None),
                Err(_) => Err(Reject::bad("malformed response head")),
            }
        })
    }

    /// Finds the end of a head and has `parse` read it: `Ok(None)` means
    /// what looked like the end was not (leading blank lines), so the
    /// search goes on.
    fn read_head<H>(
        &mut self,
        input: &[u8],
        parse: impl Fn(&[u8]) -> Result<Option<H>, Reject>,
    ) -> HeadPoll<H> {
        loop {
            let end = match self.next_end(input) {
                Ok(Some(end)) => end,
                Ok(None) => return HeadPoll::Partial,
                Err(r) => return HeadPoll::Error(r),
            };
            match parse(input.get(..end).unwrap_or(&[])) {
                Ok(Some(head)) => return HeadPoll::Complete(head),
                Ok(None) => continue,
                Err(r) => return HeadPoll::Error(r),
            }
        }
    }
}

fn too_large() -> Reject {
    Reject {
        status: 431,
        reason: "request head too large",
    }
}

/// Whether a request asks for a WebSocket (its `Upgrade` lists
/// `websocket`). Such a request is then either accepted or refused as a
/// WebSocket handshake; it is never served as plain HTTP.
pub fn is_upgrade(req: &RequestHead) -> bool {
    req.headers.has_token("upgrade", "websocket")
}

/// Checks a WebSocket upgrade request and returns the accept key to answer.
pub fn validate_upgrade(req: &RequestHead) -> Result<String, Reject> {
    if req.method != "GET" {
        return Err(Reject::bad("websocket handshake must be GET"));
    }
    if req.minor_version < 1 {
        return Err(Reject::bad("websocket needs HTTP/1.1"));
    }
    if !is_upgrade(req) {
        return Err(Reject::bad("missing Upgrade: websocket"));
    }
    if !req.headers.has_token("connection", "upgrade") {
        return Err(Reject::bad("missing Connection: Upgrade"));
    }
    match req.headers.single("sec-websocket-version") {
        Ok(Some(b"13")) => {}
        _ => return Err(Reject::bad("Sec-WebSocket-Version must be 13")),
    }
    let key = match req.headers.single("sec-websocket-key") {
        Ok(Some(key)) => key,
        _ => return Err(Reject::bad("missing or repeated Sec-WebSocket-Key")),
    };
    // The key is base64 of exactly 16 bytes (24 characters); check by
    // decoding, so a wrong length or alphabet is a 400, never a panic.
    match BASE64.decode(key) {
        Ok(raw) if raw.len() == 16 => Ok(accept_key(key)),
        _ => Err(Reject::bad("Sec-WebSocket-Key must be base64 of 16 bytes")),
    }
}

/// Appends the `101 Switching Protocols` answer for `accept`.
pub fn write_switching(accept: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .as_bytes(),
    );
}

/// The outcome of one [`ServerHandshake::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// The request head is incomplete: wait for more input.
    Partial,
    /// Accepted: the 101 answer was appended to `out`; the first `usize`
    /// bytes of input were the request, what follows is WebSocket frames.
    Done(usize),
    /// Refused: an HTTP error answer was appended to `out`; close after it.
    Failed,
}

/// The server side of the handshake for a listener that speaks only
/// WebSocket.
#[derive(Debug, Clone)]
pub struct ServerHandshake {
    reader: HeadReader,
}

impl ServerHandshake {
    /// A handshake that refuses request heads longer than `max_head`.
    pub fn new(max_head: usize) -> ServerHandshake {
        ServerHandshake {
            reader: HeadReader::new(max_head),
        }
    }

    /// Reads as much of the request as `input` holds and answers it when
    /// complete.
    pub fn poll(&mut self, input: &[u8], out: &mut Vec<u8>) -> Handshake {
        let refused = match self.reader.read_request(input) {
            HeadPoll::Partial => return Handshake::Partial,
            HeadPoll::Error(r) => r,
            HeadPoll::Complete(req) => match validate_upgrade(&req) {
                Ok(accept) => {
                    write_switching(&accept, out);
                    return Handshake::Done(req.len);
                }
                Err(r) => r,
            },
        };
        refused.write(out);
        Handshake::Failed
    }
}

/// The client side: a random key, the request, and the check of the
/// server's answer.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    key: String,
    reader: HeadReader,
}

impl ClientHandshake {
    /// A handshake whose 16-byte key is derived from `seed`.
    pub fn new(seed: [u8; 16]) -> ClientHandshake {
        ClientHandshake {
            key: BASE64.encode(seed),
            reader: HeadReader::new(MAX_HEAD),
        }
    }

    /// The `Sec-WebSocket-Key` this handshake sends.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Appends the upgrade request for `path` on `host` to `out`.
    pub fn write_request(&self, host: &str, path: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: {}\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n",
                self.key
            )
            .as_bytes(),
        );
    }

    /// Reads the server's answer. `Ok(Some(n))`: a valid 101 that used the
    /// first `n` bytes; `Ok(None)`: incomplete; `Err`: refused or invalid.
    pub fn poll(&mut self, input: &[u8]) -> Result<Option<usize>, &'static str> {
        let resp = match self.reader.read_response(input) {
            HeadPoll::Partial => return Ok(None),
            HeadPoll::Error(r) => return Err(r.reason),
            HeadPoll::Complete(resp) => resp,
        };
        if resp.code != 101 {
            return Err("server refused the websocket upgrade");
        }
        if !resp.headers.has_token("upgrade", "websocket")
            || !resp.headers.has_token("connection", "upgrade")
        {
            return Err("101 without Upgrade: websocket");
        }
        match resp.headers.single("sec-websocket-accept") {
            Ok(Some(got)) if got == accept_key(self.key.as_bytes()).as_bytes() => {
                Ok(Some(resp.len))
            }
            _ => Err("wrong Sec-WebSocket-Accept"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
        Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn answer(req: &[u8]) -> (Handshake, String) {
        let mut hs = ServerHandshake::new(MAX_HEAD);
        let mut out = Vec::new();
        let r = hs.poll(req, &mut out);
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn rfc6455_sample_accept_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn accepts_the_rfc_sample_request() {
        let (r, out) = answer(SAMPLE);
        assert_eq!(r, Handshake::Done(SAMPLE.len()));
        assert!(out.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(out.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(out.ends_with("\r\n\r\n"));
    }

    #[test]
    fn split_request_is_resumed_and_trailing_bytes_kept() {
        let mut hs = ServerHandshake::new(MAX_HEAD);
        let mut input = SAMPLE.to_vec();
        input.extend_from_slice(b"\x81\x85frame");
        let mut out = Vec::new();
        // Every prefix short of the blank line is partial.
        for n in 0..SAMPLE.len() {
            assert_eq!(hs.poll(&input[..n], &mut out), Handshake::Partial, "{n}");
            assert!(out.is_empty());
        }
        assert_eq!(hs.poll(&input, &mut out), Handshake::Done(SAMPLE.len()));
        assert_eq!(&input[SAMPLE.len()..], b"\x81\x85frame");
    }

    #[test]
    fn header_names_and_tokens_are_case_insensitive() {
        let req = b"GET / HTTP/1.1\r\nupgrade: WebSocket\r\nCONNECTION: upgrade\r\n\
            sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n";
        assert!(matches!(answer(req).0, Handshake::Done(_)));
    }

    #[test]
    fn bad_requests_are_400_with_a_reason() {
        const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
        const BAD_KEY: &str = "Sec-WebSocket-Key must be base64 of 16 bytes";
        // (what the sample says, what it says instead, the reason answered)
        let cases: [(&str, &str, &str); 12] = [
            (KEY, "Sec-WebSocket-Key: abc", BAD_KEY),
            (KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==A", BAD_KEY),
            (KEY, "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!", BAD_KEY),
            // Valid base64, but of 4 and of 18 bytes, not 16.
            (KEY, "Sec-WebSocket-Key: YWJjZA==", BAD_KEY),
            (KEY, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA", BAD_KEY),
            (KEY, "X: y", "missing or repeated Sec-WebSocket-Key"),
            (
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Version: 8",
                "Sec-WebSocket-Version must be 13",
            ),
            (
                "Connection: keep-alive, Upgrade",
                "Connection: keep-alive",
                "missing Connection: Upgrade",
            ),
            ("Upgrade: websocket\r\n", "", "missing Upgrade: websocket"),
            (
                "Upgrade: websocket",
                "Upgrade: h2c",
                "missing Upgrade: websocket",
            ),
            ("GET /chat", "POST /chat", "websocket handshake must be GET"),
            (
                "HTTP/1.1\r\nHost",
                "HTTP/1.0\r\nHost",
                "websocket needs HTTP/1.1",
            ),
        ];
        let sample = std::str::from_utf8(SAMPLE).unwrap();
        for (from, to, reason) in cases {
            let req = sample.replace(from, to);
            assert_ne!(req, sample, "{from}");
            let (r, out) = answer(req.as_bytes());
            assert_eq!(r, Handshake::Failed, "{to}");
            assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
            assert!(out.contains("Connection: close"));
            assert!(out.ends_with(&format!("\r\n\r\n{reason}\n")), "{to}: {out}");
        }
        let (r, out) = answer(b"garbage\r\n\r\n");
        assert_eq!(r, Handshake::Failed);
        assert!(out.starts_with("HTTP/1.1 400 "));
    }

    #[test]
    fn oversized_head_is_431() {
        let mut hs = ServerHandshake::new(64);
        let mut out = Vec::new();
        let mut req = b"GET / HTTP/1.1\r\nX: ".to_vec();
        req.extend_from_slice(&[b'a'; 100]);
        assert_eq!(hs.poll(&req, &mut out), Handshake::Failed);
        assert!(out.starts_with(b"HTTP/1.1 431 "));
        // Also when the blank line is there but past the cap.
        let mut hs = ServerHandshake::new(64);
        out.clear();
        req.extend_from_slice(b"\r\n\r\n");
        assert_eq!(hs.poll(&req, &mut out), Handshake::Failed);
        assert!(out.starts_with(b"HTTP/1.1 431 "));
    }

    #[test]
    fn the_default_head_cap_is_8_kib() {
        assert_eq!(MAX_HEAD, 8192);
        // A request head of exactly 8 KiB is read; one byte more is not.
        let head = |len: usize| {
            let mut req = SAMPLE.to_vec();
            let pad = len - req.len() - "X: \r\n".len();
            req.truncate(req.len() - 2);
            req.extend_from_slice(b"X: ");
            req.extend_from_slice(&vec![b'a'; pad]);
            req.extend_from_slice(b"\r\n\r\n");
            assert_eq!(req.len(), len);
            req
        };
        let req = head(MAX_HEAD);
        let mut out = Vec::new();
        assert_eq!(
            ServerHandshake::new(MAX_HEAD).poll(&req, &mut out),
            Handshake::Done(MAX_HEAD)
        );
        let req = head(MAX_HEAD + 1);
        let mut out = Vec::new();
        assert_eq!(
            ServerHandshake::new(MAX_HEAD).poll(&req, &mut out),
            Handshake::Failed
        );
        assert!(out.starts_with(b"HTTP/1.1 431 "));
    }

    #[test]
    fn every_status_sent_has_its_reason_phrase() {
        let table = [
            (100, "Continue"),
            (101, "Switching Protocols"),
            (200, "OK"),
            (204, "No Content"),
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (413, "Content Too Large"),
            (421, "Misdirected Request"),
            (429, "Too Many Requests"),
            (431, "Request Header Fields Too Large"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (505, "HTTP Version Not Supported"),
            (418, "Unknown"),
        ];
        for (status, text) in table {
            assert_eq!(status_text(status), text, "{status}");
        }
    }

    #[test]
    fn too_many_headers_is_431() {
        let mut req = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..MAX_HEADERS + 1 {
            req.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        let (r, out) = answer(&req);
        assert_eq!(r, Handshake::Failed);
        assert!(out.starts_with("HTTP/1.1 431 "));
    }

    #[test]
    fn leading_blank_lines_are_skipped() {
        let mut req = b"\r\n".to_vec();
        req.extend_from_slice(SAMPLE);
        assert_eq!(answer(&req).0, Handshake::Done(req.len()));
    }

    #[test]
    fn bare_lf_heads_are_read() {
        let mut r = HeadReader::new(MAX_HEAD);
        match r.read_request(b"GET /x HTTP/1.1\nHost: a\n\nrest") {
            HeadPoll::Complete(h) => {
                assert_eq!(h.target, "/x");
                assert_eq!(h.len, 25);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn client_round_trip() {
        let client = ClientHandshake::new(*b"the sample nonce");
        assert_eq!(client.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        let mut req = Vec::new();
        client.write_request("h:1", "/", &mut req);
        let (r, resp) = answer(&req);
        assert_eq!(r, Handshake::Done(req.len()));
        let mut client = client;
        let mut resp = resp.into_bytes();
        let head = resp.len();
        resp.extend_from_slice(b"\x81\x03ACK");
        assert_eq!(client.poll(&resp[..head - 1]), Ok(None));
        assert_eq!(client.poll(&resp), Ok(Some(head)));
    }

    #[test]
    fn client_refuses_wrong_accept_and_non_101() {
        let mut c = ClientHandshake::new([7; 16]);
        let bad = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(c.poll(bad), Err("wrong Sec-WebSocket-Accept"));
        let mut c = ClientHandshake::new([7; 16]);
        assert_eq!(
            c.poll(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            Err("server refused the websocket upgrade")
        );
    }

    #[test]
    fn client_needs_both_upgrade_headers_in_the_101() {
        let accept = accept_key(ClientHandshake::new([7; 16]).key().as_bytes());
        let answer = |upgrade: &str, connection: &str| {
            let resp = format!(
                "HTTP/1.1 101 Switching Protocols\r\n{upgrade}{connection}\
                 Sec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            (
                ClientHandshake::new([7; 16]).poll(resp.as_bytes()),
                resp.len(),
            )
        };
        let (upgrade, connection) = ("Upgrade: websocket\r\n", "Connection: Upgrade\r\n");
        let (got, len) = answer(upgrade, connection);
        assert_eq!(got, Ok(Some(len)));
        let without = Err("101 without Upgrade: websocket");
        assert_eq!(answer("", connection).0, without);
        assert_eq!(answer(upgrade, "").0, without);
    }

    #[test]
    fn a_head_is_waited_for_up_to_the_cap_and_refused_past_it() {
        // No blank line yet at exactly the cap: still partial, no answer.
        let mut req = b"GET / HTTP/1.1\r\nX: ".to_vec();
        req.resize(64, b'a');
        let mut hs = ServerHandshake::new(64);
        let mut out = Vec::new();
        assert_eq!(hs.poll(&req, &mut out), Handshake::Partial);
        assert!(out.is_empty());
        // One byte past it: refused.
        req.push(b'a');
        assert_eq!(hs.poll(&req, &mut out), Handshake::Failed);
        assert!(out.starts_with(b"HTTP/1.1 431 "));
    }
}
