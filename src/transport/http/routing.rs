//! URL routing for HTTP requests: a method and a target become the ducq
//! message they stand for (the endpoint table in the parent module), or the
//! error status that refuses them. It must not read bodies or headers,
//! keep state, or render responses: `request` decides, `response` writes.

use super::response::{JSON, PROMETHEUS};
use crate::proto::route;

/// What a request is waiting for, which decides how its reply is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
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
    /// `/cmd/qget/<queue>`, `/cmd/qtake/<queue>`: JSON objects `{queue,
    /// id, deliveries, payload}`, a message's payload whole.
    Deliveries,
    /// `/cmd/lsq`: JSON objects, one per queue.
    Lsq,
    /// `/metrics`, `/stats`, the dashboard's files: the reply is the body,
    /// of this media type.
    Body(&'static str),
}

/// A routed request: the ducq message it becomes, minus its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Action {
    pub(super) kind: Endpoint,
    /// The message up to the payload.
    pub(super) prefix: Vec<u8>,
    /// The body is the payload (POST). Otherwise it is read and dropped.
    pub(super) takes_body: bool,
    /// A bare command: a non-empty body is joined with a `\n`.
    pub(super) bare: bool,
}

impl Action {
    /// The ducq message for a request with this body.
    pub(super) fn message(&self, body: &[u8]) -> Vec<u8> {
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

/// Why a request has no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RouteError {
    pub(super) status: u16,
    pub(super) reason: &'static str,
    /// The `Allow` header for a 405.
    pub(super) allow: Option<&'static str>,
}

pub(super) const fn not_found() -> RouteError {
    RouteError {
        status: 404,
        reason: "unknown path",
        allow: None,
    }
}

pub(super) const fn bad(reason: &'static str) -> RouteError {
    RouteError {
        status: 400,
        reason,
        allow: None,
    }
}

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

/// Maps a method and target to the ducq message it stands for.
pub(super) fn route(method: &str, target: &str) -> Result<Action, RouteError> {
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
            let n = query_count(target)?;
            let msg = with_route(b"last", rest, n.unwrap_or("").as_bytes())?;
            let pattern = percent_decode(rest.as_bytes()).is_some_and(|r| route::is_pattern(&r));
            let kind = if pattern || n.is_some() {
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
            // Replies that carry payloads or a listing are rendered whole.
            let kind = match &command[..] {
                b"qget" | b"qtake" => Endpoint::Deliveries,
                b"lsq" => Endpoint::Lsq,
                _ => Endpoint::Plain,
            };
            match route {
                Some(r) => action(kind, with_route(&command, r, b"")?, true, false),
                None => action(kind, command, true, true),
            }
        }
    })
}

/// The `n` of a query string (`?n=5`), if given; 400 unless it is decimal.
fn query_count(target: &str) -> Result<Option<&str>, RouteError> {
    let Some((_, query)) = target.split_once('?') else {
        return Ok(None);
    };
    match query.split('&').find_map(|kv| kv.strip_prefix("n=")) {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        Some(_) => Err(bad("n must be a number")),
        None => Ok(None),
    }
}

/// `<command> <decoded route>\n<payload>`.
pub(super) fn with_route(
    command: &[u8],
    encoded: &str,
    payload: &[u8],
) -> Result<Vec<u8>, RouteError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%2Fb%2fc+d"), Some(b"a/b/c+d".to_vec()));
        assert_eq!(percent_decode(b"%e2%82%AC"), Some("€".as_bytes().to_vec()));
        assert_eq!(percent_decode(b"%"), None);
        assert_eq!(percent_decode(b"%4"), None);
        assert_eq!(percent_decode(b"%g0"), None);
    }
}
