//! Reference models for HTTP/1.1 on the WebSocket port (PROTOCOL.md §10):
//! a strict reader for well-formed request heads, a reader for the
//! responses ducq writes, and a scripted broker that answers the ducq
//! messages requests become. Shared by the property tests and the fuzz
//! targets through `oracle`.
//!
//! Written for obviousness, not speed; it must not call the ducq code it is
//! compared with, and it does no I/O.

/// A request head in the strict subset of HTTP/1.1 that every conforming
/// parser reads the same way: CRLF line ends, a token method, a plain
/// target, `HTTP/1.0` or `HTTP/1.1`, `name: value` lines of visible ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefHead {
    /// The method as sent.
    pub method: Vec<u8>,
    /// The request target as sent.
    pub target: Vec<u8>,
    /// 0 or 1.
    pub minor: u8,
    /// Header names in lower case, values without surrounding blanks.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes of the head, the blank line included.
    pub len: usize,
}

impl RefHead {
    /// Every value of header `name` (lower case).
    pub fn all<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'s [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The value of `name` when it appears exactly once.
    pub fn single<'s>(&'s self, name: &'s [u8]) -> Option<&'s [u8]> {
        let mut it = self.all(name);
        match (it.next(), it.next()) {
            (Some(v), None) => Some(v),
            _ => None,
        }
    }

    /// Whether a comma-separated list in any `name` header holds `token`
    /// (case-insensitive).
    pub fn has_token(&self, name: &[u8], token: &[u8]) -> bool {
        self.all(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .any(|t| blank_trim(t).eq_ignore_ascii_case(token))
    }
}

fn blank_trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The head at the front of `input` if it is complete and inside the strict
/// subset (see [`RefHead`]); `None` otherwise, including for a head that
/// is merely unusual, since the reference makes no claim about those.
pub fn clean_head(input: &[u8]) -> Option<RefHead> {
    let end = input.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = &input[..end - 4];
    let mut lines = Vec::new();
    let mut rest = text;
    loop {
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                lines.push(&rest[..i]);
                rest = &rest[i + 2..];
            }
            None => {
                lines.push(rest);
                break;
            }
        }
    }
    if lines
        .iter()
        .any(|l| l.contains(&b'\r') || l.contains(&b'\n'))
    {
        return None;
    }
    let (request, fields) = lines.split_first()?;
    let mut parts = request.split(|&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let plain_target = |b: &u8| b.is_ascii_alphanumeric() || b"/-._~%?=&".contains(b);
    if parts.next().is_some()
        || method.is_empty()
        || method.len() > 16
        || !method.iter().all(u8::is_ascii_uppercase)
        || target.is_empty()
        || !target.iter().all(plain_target)
    {
        return None;
    }
    let minor = match version {
        b"HTTP/1.0" => 0,
        b"HTTP/1.1" => 1,
        _ => return None,
    };
    let mut headers = Vec::new();
    for line in fields {
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let visible = |b: &u8| matches!(b, b' ' | b'\t' | 0x21..=0x7e);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) || !value.iter().all(visible) {
            return None;
        }
        headers.push((name.to_ascii_lowercase(), blank_trim(value).to_vec()));
    }
    Some(RefHead {
        method: method.to_vec(),
        target: target.to_vec(),
        minor,
        headers,
        len: end,
    })
}

/// One response ducq wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names in lower case, values as sent.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl Response {
    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What follows the last complete response in a connection's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// Nothing.
    None,
    /// WebSocket frames, after a 101.
    Ws(Vec<u8>),
    /// Server-Sent Events, after a `text/event-stream` head.
    Sse(Vec<u8>),
}

/// The statuses ducq may answer with (PROTOCOL.md §10 and the HTTP codec's
/// documentation).
pub const STATUSES: &[u16] = &[100, 101, 200, 204, 400, 404, 405, 413, 431, 500, 501];

/// Splits what an HTTP connection wrote into responses: each a status line
/// `HTTP/1.1 <code> <reason>`, `Name: value` lines, a blank line, and a
/// body of exactly `Content-Length` bytes (none for 100, 101 and 204). A 101
/// or an event stream ends the HTTP part. `Err` describes the first thing
/// that is not so.
pub fn split_responses(out: &[u8]) -> Result<(Vec<Response>, Tail), String> {
    let mut responses = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("response head without its blank line")?;
        let head = std::str::from_utf8(&rest[..end]).map_err(|_| "head is not UTF-8")?;
        rest = &rest[end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        if !STATUSES.contains(&status) {
            return Err(format!("unexpected status {status}"));
        }
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(": ")
                .ok_or_else(|| format!("bad header line {line:?}"))?;
            if name.is_empty() || !name.bytes().all(is_tchar) || value.contains(['\r', '\n']) {
                return Err(format!("bad header line {line:?}"));
            }
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if status == 101 {
            responses.push(r);
            return Ok((responses, Tail::Ws(rest.to_vec())));
        }
        if r.header("content-type") == Some("text/event-stream") {
            responses.push(r);
            return Ok((responses, Tail::Sse(rest.to_vec())));
        }
        if status != 100 && status != 204 {
            let len: usize = r
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .ok_or("response without Content-Length")?;
            if rest.len() < len {
                return Err("body shorter than its Content-Length".into());
            }
            r.body = rest[..len].to_vec();
            rest = &rest[len..];
        }
        responses.push(r);
    }
    Ok((responses, Tail::None))
}

/// Whether `tail` is a sequence of complete Server-Sent Events as ducq
/// writes them: `event:` and `data:` lines, each event ending with a blank
/// line, or a `: keepalive` comment.
pub fn is_event_stream(tail: &[u8]) -> bool {
    let Some(body) = tail.strip_suffix(b"\n\n") else {
        return tail.is_empty();
    };
    body.split(|&b| b == b'\n').all(|line| {
        line.is_empty()
            || line.starts_with(b"data: ")
            || line.starts_with(b"event: ")
            || line == b": keepalive"
    }) && !body.contains(&b'\r')
}

/// What a broker answers to `msg`, scripted so that every reply shape an
/// HTTP connection renders comes up: ACK, NACK, PARTS … END, a stored
/// message, plain data, no reply at all, and a subscription that streams.
pub fn scripted_replies(msg: &[u8]) -> Vec<Vec<u8>> {
    let head = match msg.iter().position(|&b| b == b'\n') {
        Some(i) => &msg[..i],
        None => msg,
    };
    let (command, route) = match head.iter().position(|&b| b == b' ') {
        Some(i) => (&head[..i], &head[i + 1..]),
        None => (head, &[][..]),
    };
    let v = |s: &[u8]| s.to_vec();
    match command {
        b"pub" | b"publish" => vec![v(b"ACK")],
        b"last" if route.len() % 2 == 0 => {
            let mut stored = b"pub ".to_vec();
            stored.extend_from_slice(route);
            stored.extend_from_slice(b"\nstored\r\nvalue");
            vec![stored]
        }
        b"last" => vec![v(b"ACK")],
        b"sub" => vec![v(b"ACK"), v(b"pub a/b\nline 1\nline 2"), v(b"raw\r\ndata")],
        b"lscmd" => vec![
            v(b"PARTS"),
            v(b"\"lscmd\",\"list commands\"\n"),
            v(b"\"pub\",\"publish \\\"x\\\"\"\n"),
            v(b"END"),
        ],
        b"lsconn" => vec![
            v(b"PARTS"),
            v(b"TCP:127.0.0.1:1,a/*\nWS:[::1]:2,\n"),
            v(b"END"),
        ],
        b"PING" => vec![[b"PONG", &msg[4..]].concat()],
        b"PONG" => Vec::new(),
        b"epoch" => vec![v(b"1700000000")],
        b"bin" => vec![v(b"\xff\xfe\x00")],
        _ => vec![v(b"NACK *\n17\ncommand unknown")],
    }
}

/// `out` without the interim `100 Continue` answers, which only a body that
/// has not fully arrived gets, so split reads may legitimately add them.
pub fn without_continue(out: &[u8]) -> Vec<u8> {
    const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut kept = Vec::with_capacity(out.len());
    let mut rest = out;
    while !rest.is_empty() {
        if rest.starts_with(CONTINUE) {
            rest = &rest[CONTINUE.len()..];
        } else {
            kept.push(rest[0]);
            rest = &rest[1..];
        }
    }
    kept
}
