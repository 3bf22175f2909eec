//! The wire forms of durable queues that more than one side reads or
//! writes (PROTOCOL.md §14): a message handed out (`qmsg Q\n<id>
//! <deliveries>\n<payload>`) and an `lsq` line
//! (`name,depth,ready,in_flight,consumers,oldest_ms`), each formatted,
//! read back and rendered as JSON here, once: the server formats them, the
//! client reads them, HTTP and the CLI's `--json` render them. Pure
//! functions: no I/O, nothing that can panic on any input.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use super::listing::{self, json_payload, json_string};
use super::message::{self, Message};

/// A message handed out by a queue, borrowed from its `qmsg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered<'a> {
    /// The queue's name.
    pub queue: &'a [u8],
    /// The message's id (what `qack` takes).
    pub id: u64,
    /// How often it was handed out, this time included.
    pub deliveries: u32,
    /// What was enqueued, byte for byte.
    pub payload: &'a [u8],
}

impl<'a> Delivered<'a> {
    /// Reads a `qmsg`; `None` for anything else.
    pub fn parse(msg: &'a [u8]) -> Option<Delivered<'a>> {
        let m = Message::parse(msg).ok()?;
        if m.command != b"qmsg" || !m.has_newline {
            return None;
        }
        let (head, payload) = split_line(m.payload)?;
        let head = core::str::from_utf8(head).ok()?;
        let (id, deliveries) = head.split_once(' ')?;
        Some(Delivered {
            queue: m.route,
            id: id.parse().ok()?,
            deliveries: deliveries.parse().ok()?,
            payload,
        })
    }

    /// The `qmsg` for this message.
    pub fn format(&self) -> Vec<u8> {
        let mut head = String::new();
        let _ = writeln!(head, "{} {}", self.id, self.deliveries);
        let mut m = Vec::with_capacity(6 + self.queue.len() + head.len() + self.payload.len());
        message::format_into(&mut m, b"qmsg", self.queue, head.as_bytes());
        m.extend_from_slice(self.payload);
        m
    }

    /// Appends `{"queue":..,"id":..,"deliveries":..,"payload":..}`, with
    /// `"payload_base64"` instead when the payload is not UTF-8 (the rule
    /// of [`json_payload`]), so any payload comes back byte for byte.
    pub fn json(&self, out: &mut String) {
        out.push_str("{\"queue\":");
        json_string(out, self.queue);
        let _ = write!(
            out,
            ",\"id\":{},\"deliveries\":{},",
            self.id, self.deliveries
        );
        json_payload(out, self.payload);
        out.push('}');
    }
}

/// The JSON array of the messages a `qget` or `qtake` returned (each part
/// one `qmsg`): `[{"queue":..,"id":..,"deliveries":..,"payload":..},..]`.
/// A part that is not a `qmsg` is kept as `{"message":..}`.
pub fn deliveries_json(parts: &[Vec<u8>]) -> String {
    let mut out = String::from("[");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match Delivered::parse(part) {
            Some(d) => d.json(&mut out),
            None => {
                out.push_str("{\"message\":");
                json_string(&mut out, part);
                out.push('}');
            }
        }
    }
    out.push(']');
    out
}

/// One queue of an `lsq` listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLine<'a> {
    /// The queue's name.
    pub name: &'a [u8],
    /// Messages not yet acknowledged.
    pub depth: u64,
    /// Of those, waiting to be handed out.
    pub ready: u64,
    /// Of those, handed out and not yet acknowledged.
    pub in_flight: u64,
    /// Attached consumers.
    pub consumers: u64,
    /// Age of the oldest message in milliseconds, 0 when empty.
    pub oldest_ms: u64,
}

impl<'a> QueueLine<'a> {
    /// Reads a line `name,depth,ready,in_flight,consumers,oldest_ms`
    /// (line end allowed); `None` for anything else.
    pub fn parse(line: &'a [u8]) -> Option<QueueLine<'a>> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut f = line.split(|&b| b == b',');
        let name = f.next()?;
        let mut n = || -> Option<u64> { core::str::from_utf8(f.next()?).ok()?.parse().ok() };
        let q = QueueLine {
            name,
            depth: n()?,
            ready: n()?,
            in_flight: n()?,
            consumers: n()?,
            oldest_ms: n()?,
        };
        f.next().is_none().then_some(q)
    }

    /// The line, with its line end.
    pub fn format(&self) -> Vec<u8> {
        let mut s = String::from_utf8_lossy(self.name).into_owned();
        let _ = writeln!(
            s,
            ",{},{},{},{},{}",
            self.depth, self.ready, self.in_flight, self.consumers, self.oldest_ms
        );
        s.into_bytes()
    }

    /// Appends `{"name":..,"depth":..,"ready":..,"in_flight":..,
    /// "consumers":..,"oldest_ms":..}`.
    pub fn json(&self, out: &mut String) {
        out.push_str("{\"name\":");
        json_string(out, self.name);
        let _ = write!(
            out,
            ",\"depth\":{},\"ready\":{},\"in_flight\":{},\"consumers\":{},\"oldest_ms\":{}}}",
            self.depth, self.ready, self.in_flight, self.consumers, self.oldest_ms
        );
    }
}

/// The JSON array of an `lsq` listing's parts: an object per queue (a line
/// of another shape is kept as `{"line":..}`).
pub fn lsq_json(parts: &[Vec<u8>]) -> String {
    let mut out = String::from("[");
    for (i, line) in listing::lines(parts).enumerate() {
        if i > 0 {
            out.push(',');
        }
        match QueueLine::parse(line) {
            Some(q) => q.json(&mut out),
            None => {
                out.push_str("{\"line\":");
                json_string(&mut out, line);
                out.push('}');
            }
        }
    }
    out.push(']');
    out
}

/// The first line of `p` and the rest; `None` without a line break.
fn split_line(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = p.iter().position(|&b| b == b'\n')?;
    Some((p.get(..i)?, p.get(i + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn deliveries_round_trip_with_any_payload() {
        for payload in [
            &b"plain"[..],
            b"",
            b"line\nbreaks\r\nand\rreturns\n",
            b"nul\0inside",
            b"\xff\xfe not utf-8 \x00",
        ] {
            let d = Delivered {
                queue: b"jobs/a",
                id: 12,
                deliveries: 3,
                payload,
            };
            let wire = d.format();
            assert!(wire.starts_with(b"qmsg jobs/a\n12 3\n"));
            assert_eq!(Delivered::parse(&wire), Some(d));
        }
        assert_eq!(Delivered::parse(b"qmsg jobs\n12\nx"), None);
        assert_eq!(Delivered::parse(b"qmsg jobs\n12 x\nx"), None);
        assert_eq!(Delivered::parse(b"qmsg jobs\n12 3"), None);
        assert_eq!(Delivered::parse(b"pub jobs\n12 3\nx"), None);
    }

    #[test]
    fn deliveries_as_json_keep_every_byte() {
        let parts = vec![
            b"qmsg q\n1 1\na\nb\r\nc\0d".to_vec(),
            b"qmsg q\n2 4\n\xff\x00\x80".to_vec(),
            b"odd".to_vec(),
        ];
        assert_eq!(
            deliveries_json(&parts),
            concat!(
                r#"[{"queue":"q","id":1,"deliveries":1,"payload":"a\nb\r\nc\u0000d"},"#,
                r#"{"queue":"q","id":2,"deliveries":4,"payload_base64":"/wCA"},"#,
                r#"{"message":"odd"}]"#
            )
        );
        assert_eq!(deliveries_json(&[]), "[]");
    }

    #[test]
    fn lsq_lines_round_trip_and_render() {
        let q = QueueLine {
            name: b"a/b",
            depth: 5,
            ready: 3,
            in_flight: 2,
            consumers: 1,
            oldest_ms: 1500,
        };
        assert_eq!(q.format(), b"a/b,5,3,2,1,1500\n");
        assert_eq!(QueueLine::parse(&q.format()), Some(q));
        assert_eq!(QueueLine::parse(b"a/b,5,3,2,1,1500\r\n"), Some(q));
        assert_eq!(QueueLine::parse(b"a,1,2"), None);
        assert_eq!(QueueLine::parse(b"a,1,2,3,4,5,6"), None);
        assert_eq!(QueueLine::parse(b"a,1,2,3,4,x"), None);
        let parts = vec![b"a/b,5,3,2,1,1500\nc,0,0,0,2,0\n".to_vec(), b"?".to_vec()];
        assert_eq!(
            lsq_json(&parts),
            concat!(
                r#"[{"name":"a/b","depth":5,"ready":3,"in_flight":2,"consumers":1,"oldest_ms":1500},"#,
                r#"{"name":"c","depth":0,"ready":0,"in_flight":0,"consumers":2,"oldest_ms":0},"#,
                r#"{"line":"?"}]"#
            )
        );
    }
}
