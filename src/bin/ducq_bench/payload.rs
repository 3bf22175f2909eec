//! The benchmark payload: a sequence number and a send timestamp at the
//! front, filler up to the requested size. ASCII hex rather than binary so
//! the same payload is valid in every protocol and in a WebSocket text frame.
//! Also the per-subscriber check that every message arrived, in order.

/// Bytes taken by the header: `<16 hex seq> <16 hex stamp> `.
pub const HEADER: usize = 34;

/// A send timestamp as the payload carries it. The publisher stamps a
/// whole batch with one clock reading, so the digits are made once per
/// batch, not once per message.
#[derive(Debug, Clone, Copy)]
pub struct Stamp([u8; 16]);

impl Stamp {
    /// The stamp of `ns` (clock nanoseconds).
    pub fn new(ns: u64) -> Stamp {
        Stamp(to_hex(ns))
    }
}

/// Writes the payload of message `seq`, stamped `stamp`, into `buf`.
/// A buffer of `size` bytes is taken to hold an earlier payload of this
/// function (the publisher keeps one): only its header is rewritten.
pub fn fill(buf: &mut Vec<u8>, seq: u64, stamp: &Stamp, size: usize) {
    let size = size.max(HEADER);
    if buf.len() != size {
        buf.clear();
        buf.resize(size, b'.');
    }
    if let Some(header) = buf.get_mut(..HEADER) {
        header[..16].copy_from_slice(&to_hex(seq));
        header[16] = b' ';
        header[17..33].copy_from_slice(&stamp.0);
        header[33] = b' ';
    }
}

// The bench client shares the CPUs with the broker it measures, so its
// per-message work is kept small: each nibble becomes its digit with a
// few word operations over all sixteen at once (SWAR), not a table
// lookup per digit.
fn to_hex(v: u64) -> [u8; 16] {
    // Spread the 16 nibbles into 16 bytes, most significant first.
    let spread = |half: u32| -> u64 {
        let mut x = u64::from(half);
        x = (x | x << 16) & 0x0000_ffff_0000_ffff;
        x = (x | x << 8) & 0x00ff_00ff_00ff_00ff;
        x = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f;
        x
    };
    let digits = |n: u64| -> u64 {
        // Each byte n (0..=15) becomes b'0' + n, plus 39 more when n > 9
        // ('a' − '0' − 10): n + 6 carries into bit 4 exactly when n > 9.
        let letters = ((n + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
        n + 0x3030_3030_3030_3030 + letters * 39
    };
    let mut out = [0u8; 16];
    // The low byte of a little-endian word comes first in memory, so the
    // spread is byte-swapped to put the most significant nibble first.
    out[..8].copy_from_slice(&digits(spread((v >> 32) as u32)).swap_bytes().to_le_bytes());
    out[8..].copy_from_slice(&digits(spread(v as u32)).swap_bytes().to_le_bytes());
    out
}

/// The value of 16 lowercase hex digits, or None if any byte is not one.
/// Word operations over eight digits at a time, for the reason above.
fn get_hex(digits: &[u8]) -> Option<u64> {
    let (hi, lo) = (digits.get(..8)?, digits.get(8..16)?);
    Some(u64::from(get_hex8(hi)?) << 32 | u64::from(get_hex8(lo)?))
}

fn get_hex8(digits: &[u8]) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let w = u64::from_be_bytes(digits.try_into().ok()?);
    if w & HIGH != 0 {
        return None;
    }
    // Per byte (all below 0x80 now, so no carry crosses a byte):
    // `at_least(c)` sets a byte's high bit exactly when the byte is >= c.
    let at_least = |c: u64| w + (0x80 - c) * ONES;
    let digit = at_least(0x30) & !at_least(0x3a);
    let letter = at_least(0x61) & !at_least(0x67);
    if (digit | letter) & HIGH != HIGH {
        return None;
    }
    // '0'..'9' → low nibble; 'a'..'f' → low nibble + 9 (bit 6 marks them).
    let n = (w & (0x0f * ONES)) + 9 * ((w >> 6) & ONES);
    // Pack the eight nibbles, the first byte's most significant.
    let x = (n | n >> 4) & 0x00ff_00ff_00ff_00ff;
    let x = (x | x >> 8) & 0x0000_ffff_0000_ffff;
    Some((x | x >> 16) as u32)
}

/// Reads (seq, stamp) back from a payload.
pub fn read(payload: &[u8]) -> Option<(u64, u64)> {
    if payload.len() < HEADER || payload[16] != b' ' || payload[33] != b' ' {
        return None;
    }
    Some((get_hex(&payload[..16])?, get_hex(&payload[17..33])?))
}

/// What one subscriber has received so far.
#[derive(Debug, Default, Clone)]
pub struct Order {
    /// The sequence number expected next (= messages received in order).
    pub next: u64,
    /// The stamp digits (with the spaces around them) of the last payload
    /// read, and their value: a batch shares one stamp, so most payloads
    /// repeat the last one's bytes, and bytes equal to digits already
    /// checked need no second reading.
    last_stamp: Option<([u8; HEADER - 16], u64)>,
}

impl Order {
    /// Checks one delivery of a run that sends `size`-byte payloads; returns
    /// its timestamp. Any gap, reordering, duplicate or damage is an error.
    pub fn check(&mut self, payload: &[u8], size: usize) -> Result<u64, String> {
        // The common case, cheaply: the expected number is formatted and
        // compared rather than the received one parsed.
        if payload.len() == size && payload.get(..16) == Some(&to_hex(self.next)[..]) {
            let stamp_bytes = payload.get(16..HEADER);
            let known = match (&self.last_stamp, stamp_bytes) {
                (Some((bytes, stamp)), Some(b)) if b == bytes => Some(*stamp),
                _ => None,
            };
            let stamp = known.or_else(|| {
                let h = stamp_bytes.filter(|h| h[0] == b' ' && h[17] == b' ')?;
                let stamp = get_hex(&h[1..17])?;
                self.last_stamp = Some((h.try_into().ok()?, stamp));
                Some(stamp)
            });
            if let Some(stamp) = stamp {
                self.next += 1;
                return Ok(stamp);
            }
        }
        let (seq, stamp) = read(payload).ok_or_else(|| {
            format!(
                "damaged payload after message #{}: {:?}",
                self.next,
                String::from_utf8_lossy(&payload[..payload.len().min(40)])
            )
        })?;
        if seq != self.next {
            let what = if seq > self.next {
                "gap (messages lost)"
            } else {
                "reordered or duplicated message"
            };
            return Err(format!("{what}: expected #{}, got #{seq}", self.next));
        }
        if payload.len() != size {
            return Err(format!(
                "message #{seq} has {} bytes, sent {size}",
                payload.len()
            ));
        }
        self.next += 1;
        Ok(stamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = Vec::new();
        fill(&mut b, 0x1234, &Stamp::new(u64::MAX), 64);
        assert_eq!(b.len(), 64);
        assert_eq!(read(&b), Some((0x1234, u64::MAX)));
        fill(&mut b, 7, &Stamp::new(8), 10);
        assert_eq!(b.len(), HEADER);
        // A damaged digit anywhere is caught, whatever the damage.
        for at in (0..16).chain(17..33) {
            for bad_byte in [
                b'G', b'g', b'/', b':', b'`', b'A', b'F', 0x80, 0xb0, 0xe1, 0, b' ',
            ] {
                let mut bad = b.clone();
                bad[at] = bad_byte;
                assert_eq!(read(&bad), None, "{at} {bad_byte:#x}");
            }
        }
        for at in [0, 5, 15, 17, 32] {
            let mut bad = b.clone();
            bad[at] = b'G';
            assert_eq!(read(&bad), None, "{at}");
        }
    }

    #[test]
    fn hex_digits_match_the_formatter() {
        for v in [
            0,
            1,
            9,
            10,
            15,
            16,
            0x0123_4567_89ab_cdef,
            u64::MAX,
            0xa5a5_5a5a_0f0f_f0f0,
        ] {
            assert_eq!(to_hex(v), format!("{v:016x}").as_bytes(), "{v:#x}");
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            assert_eq!(to_hex(x), format!("{x:016x}").as_bytes());
            assert_eq!(get_hex(&to_hex(x)), Some(x));
        }
    }

    #[test]
    fn refill_rewrites_the_header_only() {
        let mut b = Vec::new();
        fill(&mut b, 1, &Stamp::new(2), 50);
        fill(&mut b, 3, &Stamp::new(4), 50);
        assert_eq!(read(&b), Some((3, 4)));
        assert!(b[HEADER..].iter().all(|&c| c == b'.'));
        // A size change starts over.
        fill(&mut b, 5, &Stamp::new(6), 40);
        assert_eq!(b.len(), 40);
        assert_eq!(read(&b), Some((5, 6)));
    }

    #[test]
    fn order_catches_gaps_and_reorders() {
        let mut b = Vec::new();
        let mut o = Order::default();
        fill(&mut b, 0, &Stamp::new(5), 40);
        assert_eq!(o.check(&b, 40), Ok(5));
        fill(&mut b, 2, &Stamp::new(5), 40);
        assert!(o.check(&b, 40).unwrap_err().contains("gap"));
        fill(&mut b, 0, &Stamp::new(5), 40);
        assert!(o.check(&b, 40).unwrap_err().contains("reordered"));
        fill(&mut b, 1, &Stamp::new(5), 40);
        assert!(o.check(&b[..39], 40).is_err());
        assert!(o.check(b"garbage", 40).is_err());
    }

    #[test]
    fn a_repeated_stamp_is_read_once_and_a_changed_or_damaged_one_again() {
        let mut b = Vec::new();
        let mut o = Order::default();
        for (seq, stamp) in [(0, 7), (1, 7), (2, 0xabc), (3, 0xabc), (4, 7)] {
            fill(&mut b, seq, &Stamp::new(stamp), 40);
            assert_eq!(o.check(&b, 40), Ok(stamp), "#{seq}");
        }
        // Damage in the stamp of a payload whose sequence number is right:
        // its bytes differ from the last stamp's, so they are read, and
        // refused.
        fill(&mut b, 5, &Stamp::new(7), 40);
        let mut bad = b.clone();
        bad[20] = b'G';
        assert!(o.check(&bad, 40).unwrap_err().contains("damaged"));
        bad = b.clone();
        bad[33] = b'x';
        assert!(o.check(&bad, 40).unwrap_err().contains("damaged"));
        assert_eq!(o.check(&b, 40), Ok(7));
    }
}
