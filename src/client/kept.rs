//! Publications kept while a reconnecting client is offline: a queue
//! bounded in messages and payload bytes, oldest first. Shared by the Rust
//! reconnecting client and the C handles' reconnect policy, so both bound
//! and count it the same way. It only holds; sending is the caller's.

use std::collections::VecDeque;

/// `(route, payload)` in the order published, and their payload bytes.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    list: VecDeque<(String, Vec<u8>)>,
    bytes: usize,
}

impl Kept {
    /// Keeps a publication unless that would pass `messages` messages or
    /// `bytes` payload bytes; false when full.
    pub(crate) fn push(
        &mut self,
        route: &str,
        payload: &[u8],
        messages: usize,
        bytes: usize,
    ) -> bool {
        if self.list.len() >= messages || self.bytes + payload.len() > bytes {
            return false;
        }
        self.bytes += payload.len();
        self.list.push_back((route.to_owned(), payload.to_vec()));
        true
    }

    /// The oldest publication, still kept.
    pub(crate) fn front(&self) -> Option<&(String, Vec<u8>)> {
        self.list.front()
    }

    /// Drops the oldest publication (it was sent or refused).
    pub(crate) fn pop_front(&mut self) {
        if let Some((_, p)) = self.list.pop_front() {
            self.bytes -= p.len();
        }
    }

    /// How many are kept.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Drops them all.
    pub(crate) fn clear(&mut self) {
        self.list.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_messages_and_bytes_and_freed_as_it_drains() {
        let mut k = Kept::default();
        assert!(k.push("a", b"12", 2, 5));
        assert!(!k.push("b", b"1234", 2, 5), "6 bytes > 5");
        assert!(k.push("b", b"123", 2, 5), "exactly 5 bytes");
        assert!(!k.push("c", b"", 2, 5), "3 messages > 2");
        assert_eq!(k.len(), 2);
        assert_eq!(k.front(), Some(&("a".to_owned(), b"12".to_vec())));
        k.pop_front();
        assert_eq!(k.front(), Some(&("b".to_owned(), b"123".to_vec())));
        assert!(k.push("c", b"12", 2, 5), "the drained bytes are free again");
        assert!(!k.push("d", b"1", 3, 5));
        k.clear();
        assert_eq!(k.len(), 0);
        assert!(k.push("e", b"12345", 1, 5));
    }
}
