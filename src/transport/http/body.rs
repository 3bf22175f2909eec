//! Body framing for HTTP requests: how a head says its body is delimited
//! (`Content-Length` or chunked, refused over the limit before any of it
//! is read) and reading a chunked body. It must not route, render
//! responses or keep state between calls: each call looks only at the
//! bytes it is given, so the answer never depends on how they were cut
//! into reads.

use std::borrow::Cow;

use super::HttpLimits;
use crate::transport::ws::handshake::{self, RequestHead};

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Length(usize),
    Chunked,
}

/// The body framing a head declares, refused when over `max_body`.
pub(super) fn framing(head: &RequestHead, max_body: usize) -> Result<Framing, (u16, &'static str)> {
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

/// Where a request body stands.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Body<'a> {
    /// Still arriving.
    Arriving,
    /// The body, and the bytes it used after the head.
    Done(Cow<'a, [u8]>, usize),
    /// Refused with this status and reason; the connection ends.
    Refused(u16, &'static str),
}

/// Reads the body that `framing` delimits from `rest` (the bytes after a
/// head of `head_len` bytes).
pub(super) fn read_body<'a>(
    framing: Framing,
    rest: &'a [u8],
    head_len: usize,
    limits: &HttpLimits,
) -> Body<'a> {
    let n = match framing {
        Framing::Length(n) => n,
        Framing::Chunked => return read_chunked_within(rest, head_len, limits),
    };
    match rest.get(..n) {
        Some(body) => Body::Done(Cow::Borrowed(body), n),
        None => Body::Arriving,
    }
}

/// A chunked body within its bound. Chunk lines and trailers cost bytes
/// too: together with the head they may take at most `max_head` bytes
/// beyond the body. That bounds what a dribbling peer can make us hold and
/// keeps a request within what the reactor buffers for a connection
/// (largest message + 16 KiB), so an oversized one gets a 413 rather than a
/// silent close. Only the bytes within the bound are ever read, so the
/// answer (200, 400 or 413) does not depend on how the bytes were cut into
/// reads.
fn read_chunked_within<'a>(rest: &'a [u8], head_len: usize, limits: &HttpLimits) -> Body<'a> {
    let cap = limits
        .max_body
        .saturating_add(limits.max_head)
        .saturating_sub(head_len);
    match read_chunked(rest.get(..cap).unwrap_or(rest), limits.max_body) {
        Chunked::Done(body, used) => Body::Done(Cow::Owned(body), used),
        Chunked::Incomplete if rest.len() <= cap => Body::Arriving,
        Chunked::Incomplete | Chunked::TooBig => Body::Refused(413, "body too large"),
        Chunked::Invalid => Body::Refused(400, "malformed chunked body"),
    }
}

/// A non-empty run of ASCII digits; saturates (a huge length is simply too
/// large).
pub(super) fn parse_decimal(v: &[u8]) -> Option<u64> {
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
