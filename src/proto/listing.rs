//! The text listings `lscmd` and `lsconn` answer with, read back into their
//! fields, and JSON string literals and payload members for rendering them
//! (the CLI's `--json`, HTTP's JSON answers). Pure functions: no I/O, no allocation beyond the
//! output string, nothing that can panic on any input.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

/// Appends `bytes` (lossily UTF-8) as a JSON string literal.
pub fn json_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a payload as a JSON member: `"payload":"<text>"` when it is
/// UTF-8 (every character escaped as JSON needs, line breaks and NULs
/// included), `"payload_base64":"<base64>"` when it is not. Either way the
/// bytes come back exactly; this is the one rule for payloads in JSON (the
/// CLI's `--json`, HTTP's queue replies).
pub fn json_payload(out: &mut String, payload: &[u8]) {
    match core::str::from_utf8(payload) {
        Ok(text) => {
            out.push_str("\"payload\":");
            json_string(out, text.as_bytes());
        }
        Err(_) => {
            use base64::Engine as _;
            out.push_str("\"payload_base64\":\"");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(payload));
            out.push('"');
        }
    }
}

/// The lines of a listing's parts, without line ends, empty lines skipped.
pub fn lines(parts: &[Vec<u8>]) -> impl Iterator<Item = &[u8]> {
    parts
        .iter()
        .flat_map(|item| item.split(|&b| b == b'\n'))
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
}

/// Name and doc of an `lscmd` line `"name","doc"`; a line of another shape
/// is all name.
pub fn lscmd_entry(line: &[u8]) -> (&[u8], &[u8]) {
    line.strip_prefix(b"\"")
        .and_then(|l| l.strip_suffix(b"\""))
        .and_then(|l| {
            let at = l.windows(3).position(|w| w == b"\",\"")?;
            Some((l.get(..at)?, l.get(at + 3..)?))
        })
        .unwrap_or((line, b""))
}

/// Client id and route of an `lsconn` line `id,route` (the route is empty
/// for a connection without subscriptions).
pub fn lsconn_entry(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b',') {
        Some(at) => (
            line.get(..at).unwrap_or(line),
            line.get(at + 1..).unwrap_or(b""),
        ),
        None => (line, b""),
    }
}

/// `{"<k1>":"<v1>","<k2>":"<v2>"}` for a pair of fields.
pub fn json_pair(out: &mut String, keys: (&str, &str), values: (&[u8], &[u8])) {
    out.push('{');
    json_string(out, keys.0.as_bytes());
    out.push(':');
    json_string(out, values.0);
    out.push(',');
    json_string(out, keys.1.as_bytes());
    out.push(':');
    json_string(out, values.1);
    out.push('}');
}

/// The JSON array of an `lscmd` listing: `[{"name":..,"doc":..},..]`.
pub fn lscmd_json(parts: &[Vec<u8>]) -> String {
    array(parts, |out, line| {
        json_pair(out, ("name", "doc"), lscmd_entry(line))
    })
}

/// The JSON array of an `lsconn` listing: `[{"id":..,"route":..},..]`.
pub fn lsconn_json(parts: &[Vec<u8>]) -> String {
    array(parts, |out, line| {
        json_pair(out, ("id", "route"), lsconn_entry(line))
    })
}

fn array(parts: &[Vec<u8>], mut item: impl FnMut(&mut String, &[u8])) -> String {
    let mut out = String::from("[");
    for (i, line) in lines(parts).enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(&mut out, line);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping() {
        let mut s = String::new();
        json_string(&mut s, b"a\"b\\c\nd\re\tf\x01g\xffh");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\u{fffd}h\"");
    }

    #[test]
    fn payloads_in_json_are_text_or_base64() {
        let mut s = String::new();
        json_payload(&mut s, b"a\r\nb\0");
        assert_eq!(s, r#""payload":"a\r\nb\u0000""#);
        let mut s = String::new();
        json_payload(&mut s, b"\xff\x00");
        assert_eq!(s, r#""payload_base64":"/wA=""#);
    }

    #[test]
    fn listings_become_json_arrays() {
        let cmds = vec![
            b"\"pub\",\"publish a message\"\n".to_vec(),
            b"\"odd\"\n".to_vec(),
        ];
        assert_eq!(
            lscmd_json(&cmds),
            r#"[{"name":"pub","doc":"publish a message"},{"name":"\"odd\"","doc":""}]"#
        );
        let conns = vec![
            b"TCP:127.0.0.1:5,a/*\r\nTCP:127.0.0.1:5,b\n".to_vec(),
            b"WS:127.0.0.1:6,\n".to_vec(),
        ];
        assert_eq!(
            lsconn_json(&conns),
            r#"[{"id":"TCP:127.0.0.1:5","route":"a/*"},{"id":"TCP:127.0.0.1:5","route":"b"},{"id":"WS:127.0.0.1:6","route":""}]"#
        );
        assert_eq!(lsconn_json(&[]), "[]");
    }

    #[test]
    fn entries_of_any_shape_never_fail() {
        assert_eq!(lscmd_entry(b"\""), (&b"\""[..], &b""[..]));
        assert_eq!(lscmd_entry(b"\"a\",\"\""), (&b"a"[..], &b""[..]));
        assert_eq!(lsconn_entry(b"no comma"), (&b"no comma"[..], &b""[..]));
        assert_eq!(lsconn_entry(b",r"), (&b""[..], &b"r"[..]));
    }
}
