//! The ducq messages one MQTT packet becomes, waiting to be handed to the
//! dispatcher one per `decode` call. Nearly every packet becomes one
//! message, so the first waits inline and only a packet that becomes
//! several (a SUBSCRIBE with many filters, a resumed session) uses a queue,
//! given back once drained: an idle connection keeps no buffer for it. No
//! I/O; order is first in, first out.

use std::collections::VecDeque;

/// A FIFO queue with room for one item inline.
#[derive(Debug)]
pub(super) struct Outbox<T> {
    /// The oldest item, when `rest` was empty as it came.
    first: Option<T>,
    /// Boxed: 8 bytes instead of 32 in every connection; it is rarely
    /// there.
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<T>>>,
}

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Outbox {
            first: None,
            rest: None,
        }
    }
}

impl<T> Outbox<T> {
    /// Adds an item at the back.
    pub(super) fn push_back(&mut self, item: T) {
        if self.first.is_none() && self.rest.is_none() {
            self.first = Some(item);
        } else {
            self.rest.get_or_insert_with(Box::default).push_back(item);
        }
    }

    pub(super) fn pop_front(&mut self) -> Option<T> {
        if let Some(item) = self.first.take() {
            return Some(item);
        }
        let rest = self.rest.as_mut()?;
        let item = rest.pop_front();
        if rest.is_empty() {
            self.rest = None;
        }
        item
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.as_ref().map_or(0, |r| r.len())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn clear(&mut self) {
        *self = Outbox::default();
    }
}

#[cfg(test)]
mod tests {
    use super::Outbox;

    #[test]
    fn first_in_first_out_and_no_buffer_kept() {
        let mut o = Outbox::default();
        o.push_back(1);
        assert!(o.rest.is_none(), "one item waits inline");
        o.push_back(2);
        o.push_back(3);
        assert_eq!(o.pop_front(), Some(1));
        o.push_back(4);
        assert_eq!(o.len(), 3);
        assert_eq!(o.pop_front(), Some(2));
        assert_eq!(o.pop_front(), Some(3));
        assert_eq!(o.pop_front(), Some(4));
        assert_eq!(o.pop_front(), None);
        assert!(o.is_empty());
        assert!(o.rest.is_none(), "given back once drained");
        o.push_back(5);
        o.push_back(6);
        o.clear();
        assert!(o.is_empty() && o.pop_front().is_none());
    }
}
