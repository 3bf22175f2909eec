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
