//! The pool of large-body buffers: a buffer is reused once the pool holds
//! the only reference, so a steady stream of large messages allocates
//! nothing. It must not hand out a buffer anything else still holds, nor
//! keep more than its byte bound.

use std::rc::Rc;

/// Bytes of body buffers kept for reuse (about what a subscriber may have
/// queued by default), and the largest body pooled.
const BODY_POOL_BYTES: usize = 8 << 20;
const POOLED_BODY_MAX: usize = 256 << 10;

/// Buffers for large message bodies. A buffer is reused once the pool holds
/// the only reference (every queue wrote it, the store replaced it), so a
/// steady stream of large messages allocates nothing: a large allocation
/// per message would be handed back to the system and faulted in again.
#[derive(Default)]
pub(super) struct BodyPool {
    bufs: Vec<Rc<Vec<u8>>>,
    /// Capacity of `bufs`, in bytes.
    bytes: usize,
    /// Where the search for a free buffer starts (just after the last one).
    next: usize,
    /// A body was taken since the last `trim`.
    used: bool,
}

impl BodyPool {
    /// A shared copy of `msg`, in a pooled buffer when one is free.
    pub(super) fn copy_of(&mut self, msg: &[u8]) -> Rc<Vec<u8>> {
        self.used = true;
        let n = self.bufs.len();
        if msg.len() <= POOLED_BODY_MAX {
            for i in 0..n {
                let at = (self.next + i) % n;
                let Some(body) = self.bufs.get_mut(at) else {
                    continue;
                };
                if let Some(buf) = Rc::get_mut(body) {
                    let before = buf.capacity();
                    buf.clear();
                    buf.extend_from_slice(msg);
                    self.bytes = self.bytes - before + buf.capacity();
                    self.next = at + 1;
                    return Rc::clone(body);
                }
            }
        }
        let body = Rc::new(msg.to_vec());
        if msg.len() <= POOLED_BODY_MAX && self.bytes + body.capacity() <= BODY_POOL_BYTES {
            self.bytes += body.capacity();
            self.bufs.push(Rc::clone(&body));
        }
        body
    }

    /// An empty buffer with room for `len` bytes: a free pooled one (taken
    /// out of the pool) or a new one.
    pub(super) fn take(&mut self, len: usize) -> Vec<u8> {
        self.used = true;
        if len <= POOLED_BODY_MAX {
            let free = self.bufs.iter().position(|b| Rc::strong_count(b) == 1);
            if let Some(buf) = free.map(|i| self.bufs.swap_remove(i)) {
                self.bytes -= buf.capacity();
                if let Ok(mut v) = Rc::try_unwrap(buf) {
                    v.clear();
                    v.reserve_exact(len);
                    return v;
                }
            }
        }
        Vec::with_capacity(len)
    }

    /// Adds `buf` to the pool if there is room; it is reused once nothing
    /// else holds it.
    pub(super) fn keep(&mut self, buf: Rc<Vec<u8>>) {
        self.used = true;
        let cap = buf.capacity();
        if cap <= POOLED_BODY_MAX && self.bytes + cap <= BODY_POOL_BYTES {
            self.bytes += cap;
            self.bufs.push(buf);
        }
    }

    /// Buffers held, and their capacity in bytes.
    pub(super) fn size(&self) -> (usize, usize) {
        (self.bufs.len(), self.bytes)
    }

    /// Lets go of every buffer unless the pool was used since the last
    /// call (buffers still held elsewhere are freed by their last holder).
    pub(super) fn trim(&mut self) {
        if !std::mem::take(&mut self.used) {
            self.bufs = Vec::new();
            self.bytes = 0;
            self.next = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body of `n` bytes, all `b`.
    fn body(b: u8, n: usize) -> Vec<u8> {
        vec![b; n]
    }

    #[test]
    fn a_free_buffer_is_reused_and_a_held_one_never() {
        let mut pool = BodyPool::default();
        let first = pool.copy_of(&body(1, 1000));
        assert_eq!((pool.bufs.len(), pool.bytes), (1, first.capacity()));
        // Still held (by a queue, say): a second buffer.
        let second = pool.copy_of(&body(2, 1000));
        assert!(!Rc::ptr_eq(&first, &second));
        assert_eq!(pool.bufs.len(), 2);
        let caps = first.capacity() + second.capacity();
        assert_eq!(pool.size(), (2, caps));
        assert_eq!(*first, body(1, 1000));
        // Let go of: the same buffer again, with the new bytes.
        let addr = Rc::as_ptr(&first);
        drop(first);
        let third = pool.copy_of(&body(3, 900));
        assert_eq!(Rc::as_ptr(&third), addr);
        assert_eq!(*third, body(3, 900));
        assert_eq!(*second, body(2, 1000));
        assert_eq!(pool.bufs.len(), 2);
    }

    #[test]
    fn free_buffers_are_taken_in_turn() {
        let mut pool = BodyPool::default();
        let held: Vec<Rc<Vec<u8>>> = (0..3).map(|i| pool.copy_of(&body(i, 100))).collect();
        let addrs: Vec<*const Vec<u8>> = held.iter().map(Rc::as_ptr).collect();
        drop(held);
        // Each copy starts looking just after the last one used, so the
        // buffers take turns rather than the first one always.
        let mut seen = Vec::new();
        for i in 0..6 {
            let b = pool.copy_of(&body(i, 100));
            seen.push(Rc::as_ptr(&b));
        }
        let want: Vec<_> = [0, 1, 2, 0, 1, 2].iter().map(|&i| addrs[i]).collect();
        assert_eq!(seen, want);
        assert_eq!(pool.next, 3);
    }

    #[test]
    fn the_byte_count_follows_reused_capacity() {
        let mut pool = BodyPool::default();
        let small = pool.copy_of(&body(1, 100));
        let small_cap = small.capacity();
        drop(small);
        // Reused for a larger body: grows in place, counted at its new size.
        let large = pool.copy_of(&body(2, 5000));
        assert_eq!(pool.bufs.len(), 1);
        assert_eq!(pool.bytes, large.capacity());
        assert!(large.capacity() > small_cap);
        drop(large);
        let again = pool.copy_of(&body(3, 10));
        assert_eq!(pool.bytes, again.capacity());
    }

    #[test]
    fn large_bodies_are_not_pooled() {
        let mut pool = BodyPool::default();
        let big = pool.copy_of(&body(1, POOLED_BODY_MAX + 1));
        assert_eq!(*big, body(1, POOLED_BODY_MAX + 1));
        assert_eq!((pool.bufs.len(), pool.bytes), (0, 0));
        let edge = pool.copy_of(&body(2, POOLED_BODY_MAX));
        assert_eq!((pool.bufs.len(), pool.bytes), (1, edge.capacity()));
        drop(edge);
        // A free pooled buffer is not used for a body too large to pool.
        let other = pool.copy_of(&body(3, POOLED_BODY_MAX + 1));
        assert_eq!(pool.bufs.len(), 1);
        assert_eq!(Rc::strong_count(&pool.bufs[0]), 1);
        drop(other);
        pool.keep(Rc::new(Vec::with_capacity(POOLED_BODY_MAX + 1)));
        assert_eq!(pool.bufs.len(), 1);
    }

    #[test]
    fn bodies_up_to_256_kib_are_pooled_up_to_8_mib() {
        // The bounds the module documents, in numbers: the other tests
        // follow the constants, whatever they are.
        let mut pool = BodyPool::default();
        let held: Vec<Rc<Vec<u8>>> = (0..33).map(|_| pool.copy_of(&body(1, 256 << 10))).collect();
        assert_eq!((pool.bufs.len(), pool.bytes), (32, 8 << 20));
        drop(held);
        let mut pool = BodyPool::default();
        drop(pool.copy_of(&body(1, (256 << 10) + 1)));
        assert_eq!(pool.bufs.len(), 0);
    }

    #[test]
    fn the_pool_holds_at_most_its_byte_bound() {
        let mut pool = BodyPool::default();
        let n = BODY_POOL_BYTES / POOLED_BODY_MAX;
        // Every buffer held elsewhere, so each copy is a new buffer.
        let held: Vec<Rc<Vec<u8>>> = (0..n + 2)
            .map(|_| pool.copy_of(&body(7, POOLED_BODY_MAX)))
            .collect();
        assert_eq!(
            held.iter().map(|b| b.capacity()).max(),
            Some(POOLED_BODY_MAX)
        );
        assert_eq!((pool.bufs.len(), pool.bytes), (n, BODY_POOL_BYTES));
        // Nor does it keep one more given back.
        pool.keep(Rc::new(Vec::with_capacity(1)));
        assert_eq!((pool.bufs.len(), pool.bytes), (n, BODY_POOL_BYTES));
        drop(held);
        // Exactly at the bound, a buffer that fits is kept.
        let mut pool = BodyPool::default();
        for _ in 1..n {
            pool.keep(Rc::new(Vec::with_capacity(POOLED_BODY_MAX)));
        }
        pool.keep(Rc::new(Vec::with_capacity(POOLED_BODY_MAX - 10)));
        pool.keep(Rc::new(Vec::with_capacity(10)));
        assert_eq!((pool.bufs.len(), pool.bytes), (n + 1, BODY_POOL_BYTES));
        pool.keep(Rc::new(Vec::with_capacity(1)));
        assert_eq!((pool.bufs.len(), pool.bytes), (n + 1, BODY_POOL_BYTES));
    }

    #[test]
    fn take_hands_out_a_free_buffer_and_forgets_it() {
        let mut pool = BodyPool::default();
        pool.keep(Rc::new(Vec::with_capacity(4096)));
        let held = Rc::new(Vec::with_capacity(8192));
        pool.keep(Rc::clone(&held));
        assert_eq!((pool.bufs.len(), pool.bytes), (2, 4096 + 8192));
        // The free one, emptied, with room for what was asked.
        let mut v = pool.take(5000);
        assert!(v.is_empty() && v.capacity() >= 5000);
        assert_eq!((pool.bufs.len(), pool.bytes), (1, 8192));
        v.extend_from_slice(b"data");
        pool.keep(Rc::new(v));
        assert_eq!(pool.bufs.len(), 2);
        // The held one is never handed out; nor a pooled one for a length
        // too large to pool.
        let other = pool.take(100);
        assert!(other.capacity() >= 100);
        assert_eq!((pool.bufs.len(), pool.bytes), (1, 8192));
        let big = pool.take(POOLED_BODY_MAX + 1);
        assert!(big.capacity() > POOLED_BODY_MAX);
        assert_eq!(pool.bufs.len(), 1);
        assert_eq!(Rc::strong_count(&held), 2);
        let fresh = pool.take(10);
        assert!(fresh.capacity() >= 10);
        assert_eq!(pool.bufs.len(), 1);
    }

    #[test]
    fn trim_lets_go_only_after_a_quiet_period() {
        let mut pool = BodyPool::default();
        let b = pool.copy_of(&body(1, 100));
        drop(b);
        // Used since the last trim: kept.
        pool.trim();
        assert_eq!(pool.bufs.len(), 1);
        // Not used since: everything goes.
        pool.trim();
        assert_eq!((pool.bufs.len(), pool.bytes, pool.next), (0, 0, 0));
        // Each way of using it counts as use.
        for use_it in 0..3 {
            let mut pool = BodyPool::default();
            pool.keep(Rc::new(Vec::with_capacity(64)));
            pool.trim();
            pool.trim();
            assert!(pool.bufs.is_empty());
            match use_it {
                0 => drop(pool.copy_of(b"x")),
                1 => drop(pool.take(10)),
                _ => pool.keep(Rc::new(Vec::with_capacity(64))),
            }
            pool.keep(Rc::new(Vec::with_capacity(64)));
            pool.trim();
            assert!(!pool.bufs.is_empty(), "use {use_it}");
        }
    }
}
