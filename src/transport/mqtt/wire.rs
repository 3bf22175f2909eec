//! MQTT's primitive encodings (3.1.1 §1.5, 5.0 §1.5): big-endian integers,
//! the variable byte integer (at most four bytes), length-prefixed UTF-8
//! strings and binary data. A bounds-checked [`Reader`] over the bytes of one
//! packet, and writers that append to a [`Sink`].
//!
//! Nothing here panics on any input: every read is checked and a short or
//! invalid field is an [`Error`], never an index out of range.

use std::borrow::Cow;
use std::fmt;

/// The largest value a variable byte integer can carry (four bytes).
pub const MAX_VARINT: u32 = 268_435_455;

/// Why bytes could not be decoded as an MQTT packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Bytes that do not form a valid packet (MQTT 5 reason 0x81): the
    /// stream cannot be trusted any further.
    Malformed(&'static str),
    /// A well-formed packet with a value the protocol forbids (MQTT 5
    /// reason 0x82).
    Protocol(&'static str),
    /// A packet longer than the receiver's maximum, known from its fixed
    /// header before the rest is buffered (MQTT 5 reason 0x95).
    TooLarge {
        /// Total size the header announces, in bytes.
        size: u64,
        /// The maximum in force.
        max: u32,
    },
    /// A CONNECT for a protocol this codec does not speak: the protocol
    /// name and level as sent. 3.1.1 asks for CONNACK return code 1.
    UnsupportedProtocol(u8),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(what) => write!(f, "malformed packet: {what}"),
            Error::Protocol(what) => write!(f, "protocol error: {what}"),
            Error::TooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the maximum of {max}")
            }
            Error::UnsupportedProtocol(level) => {
                write!(f, "unsupported protocol level {level}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// What the front of a buffer holds as a variable byte integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarInt {
    /// The integer continues past the end of the buffer.
    Incomplete,
    /// A fifth byte would be needed: malformed.
    TooLong,
    /// The value and the bytes it took.
    Value(u32, usize),
}

/// Reads a variable byte integer from the front of `input`.
pub fn read_varint(input: &[u8]) -> VarInt {
    let mut value = 0u32;
    for (i, &b) in input.iter().take(4).enumerate() {
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return VarInt::Value(value, i + 1);
        }
    }
    if input.len() >= 4 {
        VarInt::TooLong
    } else {
        VarInt::Incomplete
    }
}

/// Bytes a variable byte integer takes (values above [`MAX_VARINT`] are
/// clamped to it).
pub fn varint_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Where encoded bytes go: a buffer, or a counter that only measures them,
/// so lengths are computed by the very code that writes (one rule, one
/// place).
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A sink that counts the bytes it is given.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// Appends a variable byte integer (clamped to [`MAX_VARINT`]).
pub fn put_varint(out: &mut impl Sink, value: u32) {
    let mut n = value.min(MAX_VARINT);
    let mut buf = [0u8; 4];
    let mut len = 0;
    for slot in buf.iter_mut() {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        *slot = b;
        len += 1;
        if n == 0 {
            break;
        }
    }
    out.put(buf.get(..len).unwrap_or(&[]));
}

/// Appends a two-byte big-endian integer.
pub fn put_u16(out: &mut impl Sink, v: u16) {
    out.put(&v.to_be_bytes());
}

/// Appends a four-byte big-endian integer.
pub fn put_u32(out: &mut impl Sink, v: u32) {
    out.put(&v.to_be_bytes());
}

/// Appends binary data: a two-byte length, then the bytes (cut at 65 535,
/// the most the format can say; callers check lengths before encoding).
pub fn put_bin(out: &mut impl Sink, bytes: &[u8]) {
    let bytes = bytes.get(..usize::from(u16::MAX)).unwrap_or(bytes);
    put_u16(out, bytes.len() as u16);
    out.put(bytes);
}

/// Appends a UTF-8 string (same layout as binary data).
pub fn put_str(out: &mut impl Sink, s: &str) {
    put_bin(out, s.as_bytes());
}

/// A cursor over the bytes of one packet. Every read checks its bounds.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

const SHORT: Error = Error::Malformed("packet shorter than its fields");

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.buf.len() {
            return Err(SHORT);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, Error> {
        let (&b, tail) = self.buf.split_first().ok_or(SHORT)?;
        self.buf = tail;
        Ok(b)
    }

    /// A two-byte big-endian integer.
    pub fn u16(&mut self) -> Result<u16, Error> {
        let (b, tail) = self.buf.split_first_chunk::<2>().ok_or(SHORT)?;
        self.buf = tail;
        Ok(u16::from_be_bytes(*b))
    }

    /// A four-byte big-endian integer.
    pub fn u32(&mut self) -> Result<u32, Error> {
        let (b, tail) = self.buf.split_first_chunk::<4>().ok_or(SHORT)?;
        self.buf = tail;
        Ok(u32::from_be_bytes(*b))
    }

    /// A variable byte integer; running out of bytes or a fifth byte is
    /// malformed.
    pub fn varint(&mut self) -> Result<u32, Error> {
        match read_varint(self.buf) {
            VarInt::Value(v, n) => {
                self.take(n)?;
                Ok(v)
            }
            VarInt::Incomplete => Err(SHORT),
            VarInt::TooLong => Err(Error::Malformed("variable byte integer over 4 bytes")),
        }
    }

    /// Binary data: a two-byte length and that many bytes.
    pub fn bin(&mut self) -> Result<Cow<'a, [u8]>, Error> {
        let n = self.u16()?;
        self.take(usize::from(n)).map(Cow::Borrowed)
    }

    /// A UTF-8 string: valid UTF-8 without U+0000 ([MQTT-1.5.3-1/2]).
    pub fn str(&mut self) -> Result<Cow<'a, str>, Error> {
        let n = self.u16()?;
        let bytes = self.take(usize::from(n))?;
        let s = std::str::from_utf8(bytes).map_err(|_| Error::Malformed("string not UTF-8"))?;
        if s.contains('\0') {
            return Err(Error::Malformed("string holds U+0000"));
        }
        Ok(Cow::Borrowed(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        out
    }

    #[test]
    fn varint_boundaries_of_the_spec_table() {
        // 3.1.1 table 2.4 / 5.0 table 1-1.
        for (v, bytes) in [
            (0u32, &b"\x00"[..]),
            (127, b"\x7f"),
            (128, b"\x80\x01"),
            (16_383, b"\xff\x7f"),
            (16_384, b"\x80\x80\x01"),
            (2_097_151, b"\xff\xff\x7f"),
            (2_097_152, b"\x80\x80\x80\x01"),
            (MAX_VARINT, b"\xff\xff\xff\x7f"),
        ] {
            assert_eq!(varint(v), bytes, "{v}");
            assert_eq!(varint_len(v), bytes.len());
            assert_eq!(read_varint(bytes), VarInt::Value(v, bytes.len()));
            let mut c = Counter::default();
            put_varint(&mut c, v);
            assert_eq!(c.0, bytes.len());
        }
        assert_eq!(varint(u32::MAX), varint(MAX_VARINT));
    }

    #[test]
    fn varint_incomplete_and_too_long() {
        assert_eq!(read_varint(b""), VarInt::Incomplete);
        assert_eq!(read_varint(b"\x80"), VarInt::Incomplete);
        assert_eq!(read_varint(b"\xff\xff\xff"), VarInt::Incomplete);
        assert_eq!(read_varint(b"\xff\xff\xff\xff"), VarInt::TooLong);
        assert_eq!(read_varint(b"\x80\x80\x80\x80\x01"), VarInt::TooLong);
        // Non-minimal but within four bytes: accepted, value 0.
        assert_eq!(read_varint(b"\x80\x00"), VarInt::Value(0, 2));
    }

    #[test]
    fn reader_checks_every_bound() {
        let mut r = Reader::new(b"\x00\x03ab");
        assert_eq!(r.clone().str(), Err(SHORT));
        assert_eq!(r.u16(), Ok(3));
        assert_eq!(r.take(3), Err(SHORT));
        assert_eq!(r.remaining(), 2);
        assert_eq!(r.rest(), b"ab");
        assert!(r.is_empty());
        assert_eq!(r.u8(), Err(SHORT));
        assert_eq!(r.u32(), Err(SHORT));
        assert!(Reader::new(b"\xff\xff\xff\xff").varint().is_err());
    }

    #[test]
    fn strings_are_utf8_without_nul() {
        assert_eq!(Reader::new(b"\x00\x02hi").str().unwrap(), "hi");
        assert_eq!(
            Reader::new(b"\x00\x02\xc3\x28").str(),
            Err(Error::Malformed("string not UTF-8"))
        );
        assert_eq!(
            Reader::new(b"\x00\x03a\x00b").str(),
            Err(Error::Malformed("string holds U+0000"))
        );
        // A surrogate half (U+D800) encoded as UTF-8 is ill-formed.
        assert!(Reader::new(b"\x00\x03\xed\xa0\x80").str().is_err());
        // Binary data may hold anything.
        assert_eq!(
            &*Reader::new(b"\x00\x02\x00\xff").bin().unwrap(),
            b"\x00\xff"
        );
    }

    #[test]
    fn writers() {
        let mut out = Vec::new();
        put_str(&mut out, "ab");
        put_bin(&mut out, b"\x00");
        put_u16(&mut out, 0x1234);
        put_u32(&mut out, 0xdeadbeef);
        assert_eq!(out, b"\x00\x02ab\x00\x01\x00\x12\x34\xde\xad\xbe\xef");
    }
}
