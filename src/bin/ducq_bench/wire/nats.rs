//! The NATS client text protocol, the subset a benchmark needs: CONNECT
//! (non-verbose), SUB, PUB, and MSG / PING / PONG / INFO / +OK / -ERR from
//! the server. A PING after CONNECT and after each SUB turns the server's
//! PONG into the confirmation the other protocols send natively.

use std::borrow::Cow;
use std::collections::VecDeque;

use std::io::Write as _;

use super::{find, parse_usize, Event, Prefix, Wire};

/// Longest control line accepted (INFO lines are a few hundred bytes).
const MAX_LINE: usize = 64 * 1024;

/// A NATS client codec.
pub struct Nats {
    next_sid: u32,
    /// What each outstanding PONG confirms, oldest first.
    pongs: VecDeque<bool>,
    /// `PUB <subject> <#bytes>\r\n` of the last publication.
    prefix: Prefix,
}

impl Nats {
    /// A fresh codec.
    pub fn new() -> Self {
        Nats {
            next_sid: 0,
            pongs: VecDeque::new(),
            prefix: Prefix::default(),
        }
    }
}

impl Wire for Nats {
    fn hello(&mut self, out: &mut Vec<u8>) -> bool {
        // verbose=false: no +OK per PUB, so publishers pipeline freely.
        out.extend_from_slice(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"ducq-bench\",\
              \"lang\":\"rust\",\"version\":\"0\",\"protocol\":1}\r\nPING\r\n",
        );
        self.pongs.push_back(false);
        true
    }

    fn subscribe(&mut self, topic: &str, out: &mut Vec<u8>) {
        self.next_sid += 1;
        out.extend_from_slice(format!("SUB {topic} {}\r\nPING\r\n", self.next_sid).as_bytes());
        self.pongs.push_back(true);
    }

    fn publish(&mut self, topic: &str, payload: &[u8], out: &mut Vec<u8>) {
        if let Some(prefix) = self.prefix.get(topic, payload.len()) {
            out.extend_from_slice(prefix);
        } else {
            let start = out.len();
            out.extend_from_slice(b"PUB ");
            out.extend_from_slice(topic.as_bytes());
            // Writing into a Vec cannot fail.
            let _ = write!(out, " {}\r\n", payload.len());
            self.prefix.set(topic, payload.len(), &out[start..]);
        }
        out.extend_from_slice(payload);
        out.extend_from_slice(b"\r\n");
    }

    fn acks_publish(&self) -> bool {
        false
    }

    fn decode<'a>(
        &mut self,
        input: &'a mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<(usize, Event<'a>)>, String> {
        let Some(eol) = find(input, b"\r\n") else {
            if input.len() > MAX_LINE {
                return Err("NATS control line too long".into());
            }
            return Ok(None);
        };
        let line = &input[..eol];
        let after = eol + 2;
        if line.starts_with(b"MSG ") {
            // MSG <subject> <sid> [reply-to] <#bytes>
            let size = line
                .iter()
                .rposition(|&b| b == b' ')
                .and_then(|sp| parse_usize(&line[sp + 1..]))
                .ok_or("NATS MSG line malformed")?;
            let end = after + size;
            if input.len() < end + 2 {
                return Ok(None);
            }
            if &input[end..end + 2] != b"\r\n" {
                return Err("NATS MSG payload not followed by CRLF".into());
            }
            return Ok(Some((
                end + 2,
                Event::Message(Cow::Borrowed(&input[after..end])),
            )));
        }
        let event = if line == b"PING" {
            out.extend_from_slice(b"PONG\r\n");
            Event::Nothing
        } else if line == b"PONG" {
            match self.pongs.pop_front() {
                Some(true) => Event::Subscribed,
                Some(false) => Event::Ready,
                None => Event::Nothing,
            }
        } else if line.starts_with(b"INFO ") || line == b"+OK" {
            Event::Nothing
        } else if line.starts_with(b"-ERR") {
            return Err(format!("NATS {}", String::from_utf8_lossy(line)));
        } else {
            return Err(format!(
                "unexpected NATS line: {}",
                String::from_utf8_lossy(&line[..line.len().min(60)])
            ));
        };
        Ok(Some((after, event)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::events;
    use super::*;

    #[test]
    fn handshake_sub_and_messages() {
        let mut n = Nats::new();
        let mut out = Vec::new();
        assert!(n.hello(&mut out));
        n.subscribe("bench.x", &mut out);
        assert!(out.ends_with(b"SUB bench.x 1\r\nPING\r\n"));
        let input = b"INFO {\"x\":1}\r\nPONG\r\nPONG\r\nMSG bench.x 1 5\r\nhello\r\nPING\r\nMSG bench.x 1 r 2\r\n\r\n\r\nMSG bench.x 1 9\r\nabc";
        let (seen, out, _) = events(&mut n, input);
        assert_eq!(
            seen,
            [
                "nothing",
                "ready",
                "subscribed",
                "msg:hello",
                "nothing",
                "msg:\r\n"
            ]
        );
        assert_eq!(out, b"PONG\r\n");
    }

    #[test]
    fn publish_bytes_and_errors() {
        let mut n = Nats::new();
        let mut out = Vec::new();
        n.publish("s", b"ab", &mut out);
        assert_eq!(out, b"PUB s 2\r\nab\r\n");
        // Later publications reuse the control line while topic and size
        // stay; another size or topic makes a new one.
        assert_eq!(n.prefix.get("s", 2), Some(&b"PUB s 2\r\n"[..]));
        n.publish("s", b"cd", &mut out);
        n.publish("s", b"efghijklmno", &mut out);
        n.publish("t", b"efghijklmno", &mut out);
        assert_eq!(
            out,
            b"PUB s 2\r\nab\r\nPUB s 2\r\ncd\r\nPUB s 11\r\nefghijklmno\r\nPUB t 11\r\nefghijklmno\r\n"
        );
        out.clear();
        let mut err = *b"-ERR 'Slow Consumer'\r\n";
        assert!(n.decode(&mut err, &mut out).is_err());
    }
}
