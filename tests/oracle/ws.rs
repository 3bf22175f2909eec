//! Reference models for WebSocket (RFC 6455, PROTOCOL.md §9): SHA-1 and
//! base64 for the accept key, the handshake verdict for a request head, and
//! a whole-stream frame reader. Shared by the property tests and the fuzz
//! targets through `oracle`.
//!
//! Written for obviousness, not speed; it must not call the ducq code it is
//! compared with, and it does no I/O.

use super::http::RefHead;

/// SHA-1 (FIPS 180-4), the plain textbook way: pad, then 80 rounds per
/// 64-byte block.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, &wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding.
pub fn base64(data: &[u8]) -> String {
    let mut s = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The `Sec-WebSocket-Accept` value for a key: base64(sha1(key + GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut input = key.to_vec();
    input.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&sha1(&input))
}

/// Whether `key` is the canonical base64 of exactly 16 bytes: 22 alphabet
/// characters, the last of which carries no bits past the 128th, then `==`.
pub fn key_is_valid(key: &[u8]) -> bool {
    let Some((chars, b"==")) = key.split_at_checked(22) else {
        return false;
    };
    let value = |c: &u8| ALPHABET.iter().position(|a| a == c);
    chars.iter().all(|c| value(c).is_some()) && value(&chars[21]).is_some_and(|v| v & 0xf == 0)
}

/// What a WebSocket-only listener must answer to a well-formed head:
/// `Ok(accept key)` for a valid upgrade, `Err(status)` otherwise, deciding
/// by the rules of PROTOCOL.md §9 one by one.
pub fn handshake_verdict(head: &RefHead, max_head: usize) -> Result<String, u16> {
    if head.len > max_head || head.headers.len() > 64 {
        return Err(431);
    }
    let ok = head.method == b"GET"
        && head.minor >= 1
        && head.has_token(b"upgrade", b"websocket")
        && head.has_token(b"connection", b"upgrade")
        && head.single(b"sec-websocket-version") == Some(&b"13"[..]);
    match head.single(b"sec-websocket-key") {
        Some(key) if ok && key_is_valid(key) => Ok(accept_key(key)),
        _ => Err(400),
    }
}

/// Which end reads the frames: a server reads masked client frames and
/// answers unmasked; a client the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Reads client frames.
    Server,
    /// Reads server frames.
    Client,
}

/// A control frame an endpoint sends back, with a close frame reduced to
/// its status code (the reason text is free).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A pong carrying the ping's payload.
    Pong(Vec<u8>),
    /// A close frame with this status, or none (an empty close).
    Close(Option<u16>),
}

/// What a frame stream means, read whole.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RefFrames {
    /// Complete messages (fragments joined, unmasked).
    pub messages: Vec<Vec<u8>>,
    /// Control frames sent back, in order.
    pub answers: Vec<Answer>,
    /// The stream ended (a close was sent or received).
    pub closed: bool,
    /// Bytes of an incomplete last frame (0 once closed).
    pub leftover: usize,
}

/// One frame header: (fin, rsv, opcode, mask, length, header size).
type RefHeader = (bool, u8, u8, Option<[u8; 4]>, u64, usize);

/// Reads a frame header, or `None` when it has not fully arrived.
pub fn ref_header(b: &[u8]) -> Option<RefHeader> {
    if b.len() < 2 {
        return None;
    }
    let mut at = 2;
    let mut len = u64::from(b[1] & 0x7f);
    let extra = match len {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    if extra > 0 {
        if b.len() < at + extra {
            return None;
        }
        len = 0;
        for &x in &b[at..at + extra] {
            len = len << 8 | u64::from(x);
        }
        at += extra;
    }
    let mask = if b[1] & 0x80 != 0 {
        if b.len() < at + 4 {
            return None;
        }
        at += 4;
        Some([b[at - 4], b[at - 3], b[at - 2], b[at - 1]])
    } else {
        None
    };
    Some((b[0] & 0x80 != 0, b[0] >> 4 & 7, b[0] & 0xf, mask, len, at))
}

/// The meaning of `stream` for `side`, with messages of at most `max`
/// bytes. A rule broken by a header alone is detected as soon as the
/// header is complete, in this order: reserved bits, masking, control frame
/// rules, fragmentation, unknown opcode (all 1002), then size (1009).
pub fn read_frames(stream: &[u8], side: Side, max: usize) -> RefFrames {
    let mut r = RefFrames::default();
    let mut partial: Option<Vec<u8>> = None;
    let mut pos = 0;
    let fail = |r: &mut RefFrames, code| {
        r.answers.push(Answer::Close(Some(code)));
        r.closed = true;
    };
    while pos < stream.len() {
        let rest = &stream[pos..];
        let Some((fin, rsv, op, mask, len, hlen)) = ref_header(rest) else {
            break;
        };
        let control = op >= 8;
        let broken = rsv != 0
            || mask.is_some() != (side == Side::Server)
            || (control && (!fin || len > 125))
            || (!control && matches!(op, 1 | 2) && partial.is_some())
            || (!control && op == 0 && partial.is_none())
            || !matches!(op, 0 | 1 | 2 | 8 | 9 | 10);
        if broken {
            fail(&mut r, 1002);
            return r;
        }
        // Control frames are not messages: only their own 125 bytes bound them.
        let so_far = partial.as_ref().map_or(0, |p| p.len()) as u128;
        if !control && (u128::from(len) + so_far > max as u128 || len >= 1 << 63) {
            fail(&mut r, 1009);
            return r;
        }
        if (rest.len() as u64) < hlen as u64 + len {
            break;
        }
        let mut payload = rest[hlen..hlen + len as usize].to_vec();
        if let Some(m) = mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= m[i % 4];
            }
        }
        pos += hlen + len as usize;
        match op {
            9 => r.answers.push(Answer::Pong(payload)),
            10 => {}
            8 => {
                let answer = match payload.len() {
                    0 => None,
                    1 => Some(1002),
                    _ => {
                        let code = u16::from_be_bytes([payload[0], payload[1]]);
                        let known = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
                        if !known {
                            Some(1002)
                        } else if std::str::from_utf8(&payload[2..]).is_err() {
                            Some(1007)
                        } else {
                            Some(code)
                        }
                    }
                };
                r.answers.push(Answer::Close(answer));
                r.closed = true;
                return r;
            }
            _ => {
                let mut msg = partial.take().unwrap_or_default();
                msg.extend_from_slice(&payload);
                if fin {
                    r.messages.push(msg);
                } else {
                    partial = Some(msg);
                }
            }
        }
    }
    r.leftover = stream.len() - pos;
    r
}

/// The control frames in bytes an endpoint wrote (frames sent by `side`,
/// so masked when `side` is the client), or `None` if they are not a
/// sequence of complete, final control frames.
pub fn answers_in(out: &[u8], side: Side) -> Option<Vec<Answer>> {
    let mut answers = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let (fin, rsv, op, mask, len, hlen) = ref_header(rest)?;
        if !fin || rsv != 0 || mask.is_some() != (side == Side::Client) || len > 125 {
            return None;
        }
        let len = len as usize;
        let mut payload = rest.get(hlen..hlen + len)?.to_vec();
        if let Some(m) = mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= m[i % 4];
            }
        }
        answers.push(match op {
            10 => Answer::Pong(payload),
            8 if payload.is_empty() => Answer::Close(None),
            8 if payload.len() >= 2 => {
                Answer::Close(Some(u16::from_be_bytes([payload[0], payload[1]])))
            }
            _ => return None,
        });
        rest = &rest[hlen + len..];
    }
    Some(answers)
}

/// Whether `wire` is exactly one unmasked, final text frame carrying
/// `payload` with the shortest length encoding (PROTOCOL.md §9: how a
/// server frames every message).
pub fn is_server_text_frame(wire: &[u8], payload: &[u8]) -> bool {
    let n = payload.len();
    let header: Vec<u8> = if n < 126 {
        vec![0x81, n as u8]
    } else if n <= 0xffff {
        vec![0x81, 126, (n >> 8) as u8, n as u8]
    } else {
        let mut h = vec![0x81, 127];
        h.extend_from_slice(&(n as u64).to_be_bytes());
        h
    };
    wire.len() == header.len() + n && wire.starts_with(&header) && &wire[header.len()..] == payload
}

/// A masked client frame, built by hand for tests and seeds.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = vec![u8::from(fin) << 7 | opcode];
    let n = payload.len();
    if n < 126 {
        out.push(0x80 | n as u8);
    } else if n <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Whether `wire` is a sequence of complete frames as a ducq server sends
/// them: final, no reserved bits, unmasked, text or control, control
/// payloads within 125 bytes.
pub fn server_frames_ok(wire: &[u8]) -> bool {
    let mut rest = wire;
    while !rest.is_empty() {
        let Some((fin, rsv, op, mask, len, hlen)) = ref_header(rest) else {
            return false;
        };
        let fits = (rest.len() - hlen) as u64 >= len;
        if !fin || rsv != 0 || mask.is_some() || !matches!(op, 1 | 8 | 9 | 10) || !fits {
            return false;
        }
        if op >= 8 && len > 125 {
            return false;
        }
        rest = &rest[hlen + len as usize..];
    }
    true
}

/// The bare frame codec as a transport, so `feed` can run it.
#[allow(unused_imports)] // Not every test crate that includes the oracle uses it.
pub use ducq::transport::ws::frame::Frames;
