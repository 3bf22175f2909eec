//! The ducq message model: `<command> b" " <route> b"\n" <payload>`
//! (PROTOCOL.md §3), the fixed replies ACK / NACK / PARTS / END (§4), and how
//! a client classifies what it receives. Pure byte handling, no I/O.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::state::State;

/// The reply that acknowledges a command.
pub const ACK: &[u8] = b"ACK";
/// First message of a multipart reply.
pub const PARTS: &[u8] = b"PARTS";
/// Last message of a multipart reply.
pub const END: &[u8] = b"END";

/// A parsed message, borrowing the bytes it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Everything before the first space (or the first `\n`, or the whole
    /// message for a bare command).
    pub command: &'a [u8],
    /// What follows the space, up to the first `\n`; empty for a bare command.
    pub route: &'a [u8],
    /// Everything after the first `\n`; may be empty.
    pub payload: &'a [u8],
    /// Whether the route was closed by a `\n`. `pub` and `sub` require it.
    pub has_newline: bool,
    /// The whole message as received.
    pub raw: &'a [u8],
}

impl<'a> Message<'a> {
    /// Parses one message body. Fails with `EMsgInv` on an empty message or a
    /// route holding a NUL byte; any other byte string is a message.
    pub fn parse(raw: &'a [u8]) -> Result<Message<'a>, State> {
        if raw.is_empty() {
            return Err(State::EMsgInv);
        }
        let (head, payload) = split_once(raw, b'\n');
        let (command, route) = split_once(head, b' ');
        let route = route.unwrap_or(&[]);
        if memchr(0, route).is_some() {
            return Err(State::EMsgInv);
        }
        Ok(Message {
            command,
            route,
            payload: payload.unwrap_or(&[]),
            has_newline: payload.is_some(),
            raw,
        })
    }

    /// The command as text, if it is UTF-8.
    pub fn command_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.command).ok()
    }
}

/// Formats `<command> <route>\n<payload>` into a new buffer.
pub fn format(command: &[u8], route: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(command.len() + route.len() + payload.len() + 2);
    format_into(&mut out, command, route, payload);
    out
}

/// Appends `<command> <route>\n<payload>` to `out`.
pub fn format_into(out: &mut Vec<u8>, command: &[u8], route: &[u8], payload: &[u8]) {
    out.extend_from_slice(command);
    out.push(b' ');
    out.extend_from_slice(route);
    out.push(b'\n');
    out.extend_from_slice(payload);
}

/// The NACK body for a state: `NACK *\n<code>\n<text>`, no trailing newline.
pub fn nack(state: State) -> Vec<u8> {
    format!("NACK *\n{}\n{}", state.code(), state.text()).into_bytes()
}

/// What a client makes of a message it received (PROTOCOL.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ACK…`
    Ack,
    /// `PARTS…`
    Parts,
    /// `END…`
    End,
    /// `PING…`
    Ping,
    /// `PONG…`
    Pong,
    /// `NACK…`, with the state it carries (`Unknown` when unreadable).
    Nack(State),
    /// Anything else: a data message.
    Data,
}

impl Kind {
    /// ACK, PARTS, END, PING and PONG are protocol traffic.
    pub fn is_protocol(self) -> bool {
        matches!(
            self,
            Kind::Ack | Kind::Parts | Kind::End | Kind::Ping | Kind::Pong
        )
    }
}

/// Classifies a received message by its prefix.
pub fn classify(msg: &[u8]) -> Kind {
    // Every reply starts with one of these letters; a data message (what a
    // subscriber mostly receives) rarely does, and is told apart with one
    // comparison instead of six.
    if !matches!(msg.first(), Some(b'N' | b'A' | b'P' | b'E')) {
        return Kind::Data;
    }
    if msg.starts_with(b"NACK") {
        Kind::Nack(nack_state(msg).unwrap_or(State::Unknown))
    } else if msg.starts_with(ACK) {
        Kind::Ack
    } else if msg.starts_with(PARTS) {
        Kind::Parts
    } else if msg.starts_with(END) {
        Kind::End
    } else if msg.starts_with(b"PING") {
        Kind::Ping
    } else if msg.starts_with(b"PONG") {
        Kind::Pong
    } else {
        Kind::Data
    }
}

/// Reads the state code of a `NACK <route>\n<code>\n<text>` message.
pub fn nack_state(msg: &[u8]) -> Option<State> {
    let m = Message::parse(msg).ok()?;
    let (code, _) = split_once(m.payload, b'\n');
    let code: i64 = core::str::from_utf8(code).ok()?.trim().parse().ok()?;
    Some(State::from_code(code))
}

/// The text of a NACK (what follows its code line), lossily decoded.
pub fn nack_text(msg: &[u8]) -> String {
    let Ok(m) = Message::parse(msg) else {
        return String::from_utf8_lossy(msg).into_owned();
    };
    let text = match split_once(m.payload, b'\n') {
        (_, Some(text)) => text,
        (code, None) => code,
    };
    String::from_utf8_lossy(text).into_owned()
}

/// The answer to a `PING R\nP`: the same bytes with the second letter an `O`.
pub fn pong_for(ping: &[u8]) -> Vec<u8> {
    let mut out = ping.to_vec();
    if let Some(b) = out.get_mut(1) {
        *b = b'O';
    }
    out
}

/// Splits at the first `byte`: what comes before it, and what comes after it
/// (`None` when `byte` does not occur).
pub fn split_once(hay: &[u8], byte: u8) -> (&[u8], Option<&[u8]>) {
    match memchr(byte, hay).and_then(|at| hay.split_at_checked(at)) {
        // `after` starts with `byte`.
        Some((before, after)) => (before, after.get(1..)),
        None => (hay, None),
    }
}

/// Position of the first `byte` in `hay`, eight bytes at a time: every
/// message is scanned for its `\n`, its space and a NUL in its route, on
/// the server and on each client, and byte by byte that was a tenth of the
/// work of a small publication. The word that holds a match gives its
/// position directly (no byte loop), and the bytes after the last whole
/// word are read as one word overlapping the one before it.
pub fn memchr(byte: u8, hay: &[u8]) -> Option<usize> {
    let Some(last) = hay.len().checked_sub(8) else {
        return hay.iter().position(|&b| b == byte);
    };
    let pattern = u64::from_le_bytes([byte; 8]);
    let first_in = |at: usize| -> Option<usize> {
        let bytes: [u8; 8] = hay.get(at..at + 8)?.try_into().ok()?;
        let flags = zero_byte_flags(u64::from_le_bytes(bytes) ^ pattern);
        // In little-endian order the lowest flag is always a true zero
        // byte: a false flag only ever follows a true one.
        (flags != 0).then(|| at + (flags.trailing_zeros() / 8) as usize)
    };
    let mut at = 0;
    while at < last {
        if let Some(found) = first_in(at) {
            return Some(found);
        }
        at += 8;
    }
    // The last eight bytes; those before `at` were clean.
    first_in(last)
}

/// Whether one of the eight bytes of `word` is zero: the test behind the
/// word-at-a-time searches (`memchr`, `checks::check_route`). Exact: the
/// borrow it may propagate only flags bytes after a zero one, never a word
/// without any.
pub(crate) fn has_zero_byte(word: u64) -> bool {
    zero_byte_flags(word) != 0
}

/// The high bit of every byte of `word` that is zero, and possibly of
/// bytes above a zero one (the subtraction's borrow): never a flag without
/// a zero byte, and the lowest flag always marks a zero byte.
fn zero_byte_flags(word: u64) -> u64 {
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    word.wrapping_sub(LOW) & !word & HIGH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memchr_finds_the_first_match_at_every_position() {
        for len in 0..40 {
            for at in 0..=len {
                // Bytes that differ from the needle by one bit, or are its
                // neighbours, must not match.
                let near = [0x8a, 0x0b, 0x09, 0x1a, 0x0e, 0x02, 0x4a];
                let mut hay: Vec<u8> = (0..len).map(|i| near[i % near.len()]).collect();
                if at < len {
                    hay[at] = b'\n';
                    if at + 1 < len {
                        hay[at + 1] = b'\n';
                    }
                }
                let want = hay.iter().position(|&b| b == b'\n');
                assert_eq!(memchr(b'\n', &hay), want, "{len} {at}");
            }
        }
        assert_eq!(memchr(0, b"abc\0def\0"), Some(3));
        assert_eq!(memchr(0xff, &[0xfe; 17]), None);
        assert_eq!(split_once(b"a b c", b' '), (&b"a"[..], Some(&b"b c"[..])));
        assert_eq!(split_once(b"abc", b' '), (&b"abc"[..], None));
        assert_eq!(split_once(b"abc ", b' '), (&b"abc"[..], Some(&b""[..])));
    }

    #[test]
    fn parses_command_route_payload() {
        let m = Message::parse(b"pub a/b c\nhello\nworld").unwrap();
        assert_eq!(m.command, b"pub");
        assert_eq!(m.route, b"a/b c");
        assert_eq!(m.payload, b"hello\nworld");
        assert!(m.has_newline);
    }

    #[test]
    fn bare_command_and_missing_newline() {
        let m = Message::parse(b"lscmd").unwrap();
        assert_eq!(m.command, b"lscmd");
        assert_eq!(m.route, b"");
        assert!(!m.has_newline);
        let m = Message::parse(b"pub route").unwrap();
        assert_eq!(m.route, b"route");
        assert!(!m.has_newline);
        let m = Message::parse(b"epoch\n").unwrap();
        assert_eq!(m.command, b"epoch");
        assert_eq!(m.route, b"");
        assert_eq!(m.payload, b"");
    }

    #[test]
    fn empty_payload_and_nul_in_payload() {
        let m = Message::parse(b"pub r\n").unwrap();
        assert_eq!(m.payload, b"");
        let m = Message::parse(b"pub r\n\0x\0").unwrap();
        assert_eq!(m.payload, b"\0x\0");
    }

    #[test]
    fn rejects_empty_and_nul_route() {
        assert_eq!(Message::parse(b""), Err(State::EMsgInv));
        assert_eq!(Message::parse(b"pub a\0b\nx"), Err(State::EMsgInv));
    }

    #[test]
    fn nack_bytes_and_classification() {
        assert_eq!(nack(State::ENoCmd), b"NACK *\n17\ncommand unknown");
        assert_eq!(classify(b"ACK"), Kind::Ack);
        assert_eq!(
            classify(b"NACK *\n15\nmessage invalid"),
            Kind::Nack(State::EMsgInv)
        );
        assert_eq!(classify(b"PARTS"), Kind::Parts);
        assert_eq!(classify(b"END"), Kind::End);
        assert_eq!(classify(b"PING _\nping"), Kind::Ping);
        assert_eq!(classify(b"PONG _\nping"), Kind::Pong);
        assert_eq!(classify(b"pub a\nb"), Kind::Data);
        // Data that starts with a reply's first letter, or with nothing.
        for data in [
            &b"Alpha r\nx"[..],
            b"NAK",
            b"PUB r\nx",
            b"Ends",
            b"",
            b"ACk",
        ] {
            assert_eq!(classify(data), Kind::Data, "{data:?}");
        }
        // Each reply's prefix alone decides, whatever follows.
        assert_eq!(classify(b"ACKNOWLEDGED"), Kind::Ack);
        assert_eq!(classify(b"ENDx"), Kind::End);
        assert_eq!(nack_text(b"NACK *\n16\nmessage too big"), "message too big");
    }

    #[test]
    fn command_as_text_only_when_utf8() {
        assert_eq!(
            Message::parse(b"pub r\nx").unwrap().command_str(),
            Some("pub")
        );
        assert_eq!(
            Message::parse(b"\xc3\xa9t\xc3\xa9 r")
                .unwrap()
                .command_str(),
            Some("\u{e9}t\u{e9}")
        );
        assert_eq!(Message::parse(b"p\xffb r\nx").unwrap().command_str(), None);
    }

    #[test]
    fn protocol_traffic_is_the_five_fixed_replies() {
        for kind in [Kind::Ack, Kind::Parts, Kind::End, Kind::Ping, Kind::Pong] {
            assert!(kind.is_protocol(), "{kind:?}");
        }
        for kind in [
            Kind::Nack(State::ENoCmd),
            Kind::Nack(State::Unknown),
            Kind::Data,
        ] {
            assert!(!kind.is_protocol(), "{kind:?}");
        }
    }

    #[test]
    fn pong_changes_second_letter_only() {
        assert_eq!(pong_for(b"PING r\np"), b"PONG r\np");
    }

    #[test]
    fn format_round_trips() {
        let raw = format(b"pub", b"x/y", b"p\nq");
        let m = Message::parse(&raw).unwrap();
        assert_eq!(
            (m.command, m.route, m.payload),
            (&b"pub"[..], &b"x/y"[..], &b"p\nq"[..])
        );
    }
}
