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

// The bench client shares the CPUs with the broker it measures, so its
// per-message work is kept small: the digits are formatted into an array
// and appended once, not pushed one by one with a capacity check each.
fn put_hex(buf: &mut Vec<u8>, v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (i, d) in out.iter_mut().enumerate() {
        *d = DIGITS[((v >> ((15 - i) * 4)) & 0xf) as usize];
    }
    buf.extend_from_slice(&out);
}

/// The value of each byte as a lowercase hex digit, 0xff when it is none.
const HEX: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 16 {
        t[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn get_hex(digits: &[u8]) -> Option<u64> {
    let mut acc = 0u64;
    let mut bad = 0u8;
    for &b in digits {
        let d = HEX[b as usize];
        bad |= d & 0xf0;
        acc = acc << 4 | u64::from(d & 0xf);
    }
    (bad == 0).then_some(acc)
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
        // A damaged digit anywhere is caught.
        for at in [0, 5, 15, 17, 32] {
            let mut bad = b.clone();
            bad[at] = b'G';
            assert_eq!(read(&bad), None, "{at}");
        }
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
