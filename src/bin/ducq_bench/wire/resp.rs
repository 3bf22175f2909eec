//! Redis pub/sub over RESP2, the subset a benchmark needs: SUBSCRIBE and
//! PUBLISH as arrays of bulk strings; replies parsed incrementally (integers
//! answer PUBLISH, three-element arrays carry `subscribe` confirmations and
//! `message` deliveries). Other Redis commands and RESP3 are out of scope.

use std::borrow::Cow;
use std::ops::Range;

use std::io::Write as _;

use super::{find, parse_usize, Event, Prefix, Wire};

/// Longest header line accepted.
const MAX_LINE: usize = 1024;

/// A Redis pub/sub client codec.
pub struct Resp {
    /// A PUBLISH command's bytes before its payload, for the last one.
    prefix: Prefix,
}

impl Resp {
    /// A fresh codec.
    pub fn new() -> Self {
        Resp {
            prefix: Prefix::default(),
        }
    }
}

/// Appends one command as an array of bulk strings.
fn put_command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "*{}\r\n", parts.len());
    for p in parts {
        let _ = write!(out, "${}\r\n", p.len());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
}

/// One line from `at`: `Ok(None)` when incomplete, else (line range, next).
fn line(input: &[u8], at: usize) -> Result<Option<(Range<usize>, usize)>, String> {
    match find(&input[at..], b"\r\n") {
        Some(i) => Ok(Some((at..at + i, at + i + 2))),
        None if input.len() - at > MAX_LINE => Err("RESP line too long".into()),
        None => Ok(None),
    }
}

/// One array element from `at`: a bulk string's bytes or an integer's
/// digits, as a range. `Ok(None)` when incomplete.
fn element(input: &[u8], at: usize) -> Result<Option<(Range<usize>, usize)>, String> {
    let Some((l, next)) = line(input, at)? else {
        return Ok(None);
    };
    match input[l.start] {
        b':' => Ok(Some((l.start + 1..l.end, next))),
        b'$' => {
            let n = parse_usize(&input[l.start + 1..l.end]).ok_or("RESP bulk length malformed")?;
            if input.len() < next + n + 2 {
                return Ok(None);
            }
            Ok(Some((next..next + n, next + n + 2)))
        }
        b => Err(format!("unexpected RESP element type {:?}", b as char)),
    }
}

impl Wire for Resp {
    fn hello(&mut self, _out: &mut Vec<u8>) -> bool {
        false
    }

    fn subscribe(&mut self, topic: &str, out: &mut Vec<u8>) {
        put_command(out, &[b"SUBSCRIBE", topic.as_bytes()]);
    }

    fn publish(&mut self, topic: &str, payload: &[u8], out: &mut Vec<u8>) {
        if let Some(prefix) = self.prefix.get(topic, payload.len()) {
            out.extend_from_slice(prefix);
        } else {
            // The command as a whole, then everything before the payload
            // (it ends the command, followed by its CRLF) kept.
            let start = out.len();
            put_command(out, &[b"PUBLISH", topic.as_bytes(), payload]);
            let head = out.len() - payload.len() - 2;
            self.prefix.set(topic, payload.len(), &out[start..head]);
            out.truncate(head);
        }
        out.extend_from_slice(payload);
        out.extend_from_slice(b"\r\n");
    }

    fn acks_publish(&self) -> bool {
        true
    }

    fn decode<'a>(
        &mut self,
        input: &'a mut [u8],
        _out: &mut Vec<u8>,
    ) -> Result<Option<(usize, Event<'a>)>, String> {
        if input.is_empty() {
            return Ok(None);
        }
        let Some((head, mut at)) = line(input, 0)? else {
            return Ok(None);
        };
        let text = &input[head.start + 1..head.end];
        match input[0] {
            // The reply to PUBLISH: how many subscribers it reached.
            b':' => Ok(Some((at, Event::Acked))),
            b'+' => Ok(Some((at, Event::Nothing))),
            b'-' => Err(format!("Redis error: {}", String::from_utf8_lossy(text))),
            b'*' => {
                let n = parse_usize(text).ok_or("RESP array length malformed")?;
                let mut parts: [Range<usize>; 3] = [0..0, 0..0, 0..0];
                for i in 0..n {
                    let Some((r, next)) = element(input, at)? else {
                        return Ok(None);
                    };
                    if let Some(p) = parts.get_mut(i) {
                        *p = r;
                    }
                    at = next;
                }
                let event = match (n, &input[parts[0].clone()]) {
                    (3, b"message") => Event::Message(Cow::Borrowed(&input[parts[2].clone()])),
                    (3, b"subscribe") => Event::Subscribed,
                    _ => Event::Nothing,
                };
                Ok(Some((at, event)))
            }
            b => Err(format!("unexpected RESP type {:?}", b as char)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::events;
    use super::*;

    #[test]
    fn command_bytes() {
        let mut r = Resp::new();
        let mut out = Vec::new();
        r.publish("ch", b"hi", &mut out);
        assert_eq!(out, b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\nhi\r\n");
        // Everything before the payload is reused while topic and size
        // stay; another size or topic makes a new command head.
        assert_eq!(
            r.prefix.get("ch", 2),
            Some(&b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\n"[..])
        );
        out.clear();
        r.publish("ch", b"yo", &mut out);
        r.publish("ch", b"yes", &mut out);
        r.publish("c", b"yes", &mut out);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\nyo\r\n\
              *3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$3\r\nyes\r\n\
              *3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$3\r\nyes\r\n"
        );
        out.clear();
        r.subscribe("ch", &mut out);
        assert_eq!(out, b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n");
    }

    #[test]
    fn replies_and_split_messages() {
        let mut r = Resp::new();
        let input = b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n:16\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\na\r\nb\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nab";
        let (seen, _, used) = events(&mut r, input);
        assert_eq!(seen, ["subscribed", "acked", "msg:a\r\nb"]);
        assert_eq!(&input[used..used + 4], b"*3\r\n");
        let mut err = *b"-ERR wrong\r\n";
        assert!(r.decode(&mut err, &mut Vec::new()).is_err());
    }
}
