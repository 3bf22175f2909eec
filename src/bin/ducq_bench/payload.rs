//! The benchmark payload: a sequence number and a send timestamp at the
//! front, filler up to the requested size. ASCII hex rather than binary so
//! the same payload is valid in every protocol and in a WebSocket text frame.
//! Also the per-subscriber check that every message arrived, in order.

/// Bytes taken by the header: `<16 hex seq> <16 hex stamp> `.
pub const HEADER: usize = 34;

/// Writes the payload of message `seq`, stamped `stamp_ns`, into `buf`.
pub fn fill(buf: &mut Vec<u8>, seq: u64, stamp_ns: u64, size: usize) {
    buf.clear();
    put_hex(buf, seq);
    buf.push(b' ');
    put_hex(buf, stamp_ns);
    buf.push(b' ');
    buf.resize(size.max(HEADER), b'.');
}

fn put_hex(buf: &mut Vec<u8>, v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        buf.push(DIGITS[((v >> (shift * 4)) & 0xf) as usize]);
    }
}

fn get_hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u64::from(d))
    })
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
}

impl Order {
    /// Checks one delivery of a run that sends `size`-byte payloads; returns
    /// its timestamp. Any gap, reordering, duplicate or damage is an error.
    pub fn check(&mut self, payload: &[u8], size: usize) -> Result<u64, String> {
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
        fill(&mut b, 0x1234, u64::MAX, 64);
        assert_eq!(b.len(), 64);
        assert_eq!(read(&b), Some((0x1234, u64::MAX)));
        fill(&mut b, 7, 8, 10);
        assert_eq!(b.len(), HEADER);
    }

    #[test]
    fn order_catches_gaps_and_reorders() {
        let mut b = Vec::new();
        let mut o = Order::default();
        fill(&mut b, 0, 5, 40);
        assert_eq!(o.check(&b, 40), Ok(5));
        fill(&mut b, 2, 5, 40);
        assert!(o.check(&b, 40).unwrap_err().contains("gap"));
        fill(&mut b, 0, 5, 40);
        assert!(o.check(&b, 40).unwrap_err().contains("reordered"));
        fill(&mut b, 1, 5, 40);
        assert!(o.check(&b[..39], 40).is_err());
        assert!(o.check(b"garbage", 40).is_err());
    }
}
