//! Publishing: a message fanned out to its subscribers is encoded once per
//! shared encoding into an arena that their output queues point into, and
//! a large body is shared (the input buffer it arrived in, or one pooled
//! copy) by the last-message store and every length-framed subscriber.
//! It must not allocate or copy per subscriber, nor add a pointer hop per
//! delivery: its state is a plain field of the hub.

use std::cell::RefCell;
use std::rc::Rc;

use super::body_pool::BodyPool;
use super::{queued_is_noop, Hub};
use crate::server::conn::{Conn, SharedRef};
use crate::transport::tcp::encode_header;
use crate::transport::{LastMessage, SharedEncoding};

/// The publish path's state.
#[derive(Default)]
pub(super) struct FanOut {
    /// Per shared encoding, the buffer fan-outs are encoded into; see
    /// `Hub::fan_out`.
    pub(super) arenas: [Option<Rc<RefCell<Vec<u8>>>>; 3],
    /// A fan-out used the arenas since the last `release_idle`.
    pub(super) arenas_used: bool,
    /// Buffers for large message bodies, reused once nothing else holds
    /// them.
    pub(super) bodies: BodyPool,
    /// The input buffer of the message being dispatched and where the
    /// message starts in it (see `offer_input`).
    offered: Option<(Rc<Vec<u8>>, usize)>,
    /// Reused list of fan-out targets (no allocation per publish).
    targets: Vec<usize>,
    pub(super) delivery_seq: u64,
}

impl FanOut {
    /// Gives back the body pool and the arenas unless used since the last
    /// call (an arena a queue still points into stays until it lets go).
    pub(super) fn release_idle(&mut self) {
        self.bodies.trim();
        if !std::mem::take(&mut self.arenas_used) {
            for arena in self.arenas.iter_mut() {
                if arena.as_ref().is_some_and(|a| Rc::strong_count(a) == 1) {
                    *arena = None;
                }
            }
        }
    }
}

impl Hub {
    /// Publishes `msg` (the publisher's message, unchanged) to every
    /// connection subscribed to a pattern matching `route`. Each connection
    /// receives it once, whatever number of its patterns match. Returns the
    /// number of deliveries.
    ///
    /// The message is encoded once per shared encoding, into an arena
    /// buffer that the subscribers' output queues point into: no copy per
    /// subscriber. Successive publications land next to each other in the
    /// arena, so a subscriber that receives them all writes them with one
    /// buffer. Once every queue has let go of the arena it is reused.
    pub fn fan_out(&mut self, route: &[u8], msg: &[u8]) -> usize {
        self.fan_out_with(route, msg, None)
    }

    /// `fan_out`, with `msg`'s bytes already in a shared buffer: connections
    /// whose encoding is a header followed by the message get the header
    /// from the arena and the body from `body`, uncopied.
    fn fan_out_with(
        &mut self,
        route: &[u8],
        msg: &[u8],
        body: Option<(&Rc<Vec<u8>>, usize)>,
    ) -> usize {
        let mut targets = std::mem::take(&mut self.fan.targets);
        self.subs.collect_subscribers(route, &mut targets);
        let delivered = self.deliver_all(&targets, msg, body);
        targets.clear();
        self.fan.targets = targets;
        delivered
    }

    /// Delivers one publication (`msg`, its body in `body` when shared) to
    /// `targets`, the subscribers of its route, and counts it. Returns the
    /// number of deliveries.
    pub(super) fn deliver_all(
        &mut self,
        targets: &[usize],
        msg: &[u8],
        body: Option<(&Rc<Vec<u8>>, usize)>,
    ) -> usize {
        self.fan.delivery_seq += 1;
        let seq = self.fan.delivery_seq;
        self.fan.arenas_used = true;
        // Where this publication's encoding lies in each shared encoding's
        // arena, once made.
        let mut encoded: [Option<(usize, usize)>; 3] = [None, None, None];
        let mut delivered = 0;
        for &key in targets {
            delivered += usize::from(self.deliver_to(key, msg, seq, &mut encoded, body));
        }
        self.metrics.publications += 1;
        self.metrics.deliveries += delivered as u64;
        self.metrics.messages_out += delivered as u64;
        delivered
    }

    /// Delivers publication `seq` (`msg`) to `key`, once however many of
    /// its patterns matched: through the shared encoding's arena when its
    /// codec has one (`encoded` remembers where this publication's encoding
    /// lies in each), with the body from `body` when given. Returns whether
    /// the delivery was queued.
    // Once per delivery: inlined into both fan-out loops.
    #[inline]
    pub(super) fn deliver_to(
        &mut self,
        key: usize,
        msg: &[u8],
        seq: u64,
        encoded: &mut [Option<(usize, usize)>; 3],
        body: Option<(&Rc<Vec<u8>>, usize)>,
    ) -> bool {
        let Some(conn) = self.conns.get_mut(key) else {
            // Not a connection: subscriptions kept after one ended.
            self.deliver_parked(key, msg, seq);
            return false;
        };
        if conn.closing || conn.last_delivery == seq {
            return false;
        }
        conn.last_delivery = seq;
        let slot = conn.transport.shared_encoding().and_then(|enc| {
            let i = shared_slot(enc);
            let body = body.filter(|_| enc == SharedEncoding::TcpFrame);
            encoded
                .get_mut(i)
                .zip(self.fan.arenas.get_mut(i))
                .map(|s| (s, body))
        });
        match slot {
            Some(((done, arena), body)) => {
                if done.is_none() {
                    *done = encode_shared(arena, conn, msg, body.is_some());
                }
                match (*done, arena.as_ref()) {
                    (Some((start, end)), Some(arena)) => {
                        conn.out.push_shared(SharedRef::Arena(arena), start, end);
                        if let Some((b, at)) = body {
                            conn.out
                                .push_shared(SharedRef::Frozen(b), at, at + msg.len());
                        }
                    }
                    _ => conn.transport.encode_publication(msg, seq, conn.out.own()),
                }
            }
            None => conn.transport.encode_publication(msg, seq, conn.out.own()),
        }
        if queued_is_noop(conn, self.high_water) {
            return true;
        }
        self.queued(key).is_ok()
    }

    /// Stores `msg` as the last message of `route` and fans it out (while
    /// a codec asked otherwise, see `last_rule`, leaves the store alone or
    /// removes the route's stored messages instead of storing). A large
    /// message is shared by the store and every length-framed TCP
    /// subscriber: the input buffer it arrived in when the reactor offered
    /// it (no copy at all), else one pooled copy.
    pub fn publish(&mut self, route: &[u8], msg: &[u8]) -> usize {
        match self.last_rule {
            LastMessage::Store => {}
            LastMessage::Skip => return self.fan_out(route, msg),
            LastMessage::Forget => {
                self.last.remove(route);
                return self.fan_out(route, msg);
            }
        }
        if msg.len() < SHARE_BODY_FROM {
            self.last.set(route, msg);
            return self.fan_out(route, msg);
        }
        let offered = self.fan.offered.as_ref().filter(|(buf, start)| {
            buf.get(*start..start + msg.len())
                .is_some_and(|b| std::ptr::eq(b, msg))
        });
        let (body, start) = match offered {
            Some((buf, start)) => (Rc::clone(buf), *start),
            None => (self.fan.bodies.copy_of(msg), 0),
        };
        let range = start..start + msg.len();
        self.last.set_shared(route, Rc::clone(&body), range);
        self.fan_out_with(route, msg, Some((&body, start)))
    }

    /// Tells `publish` that the message being dispatched starts at `start`
    /// in `buf`, which it may keep instead of copying the message.
    pub(crate) fn offer_input(&mut self, buf: Rc<Vec<u8>>, start: usize) {
        self.fan.offered = Some((buf, start));
    }

    /// Ends an `offer_input`; the buffer goes to the pool, to be read into
    /// again once the store and the queues let go of it.
    pub(crate) fn end_offer(&mut self) {
        if let Some((buf, _)) = self.fan.offered.take() {
            self.fan.bodies.keep(buf);
        }
    }

    /// An empty buffer with room for `len` bytes, from the pool when one is
    /// free, to read a large frame into.
    pub(crate) fn input_buffer(&mut self, len: usize) -> Vec<u8> {
        self.fan.bodies.take(len)
    }

    /// Buffers and bytes (capacity) the large-body pool holds. Public only
    /// so tests can observe its bound.
    #[doc(hidden)]
    pub fn body_pool_size(&self) -> (usize, usize) {
        self.fan.bodies.size()
    }

    /// Takes back a buffer from `input_buffer` that is no longer needed.
    pub(crate) fn return_buffer(&mut self, buf: Vec<u8>) {
        self.fan.bodies.keep(Rc::new(buf));
    }
}

/// Arena buffers start this large; one is replaced rather than reused once
/// it has grown past four times that (after a large message).
const ARENA_CHUNK: usize = 64 << 10;

/// Messages from this size on are shared between the last-message store and
/// the subscribers' queues instead of being copied into each.
pub(super) const SHARE_BODY_FROM: usize = 8 << 10;
/// Encodes `msg` with `conn`'s codec at the end of `arena` (reusing it when
/// no queue points into it any more, starting a new one when it is full and
/// still in use); with `header_only` (length-framed TCP whose body is sent
/// from a shared buffer), only the frame header goes into the arena.
/// Returns where the encoding lies in the arena.
// Once per publication and shared encoding: inlined into `fan_out_with`,
// as it was before the hub was split into files.
#[inline]
pub(super) fn encode_shared(
    arena: &mut Option<Rc<RefCell<Vec<u8>>>>,
    conn: &mut Conn,
    msg: &[u8],
    header_only: bool,
) -> Option<(usize, usize)> {
    let need = if header_only { 32 } else { msg.len() + 64 };
    let fits = match arena.as_mut() {
        // Nobody points into it: start over at the front.
        Some(a) if Rc::strong_count(a) == 1 => Rc::get_mut(a).is_some_and(|v| {
            let v = v.get_mut();
            v.clear();
            v.capacity() <= 4 * ARENA_CHUNK
        }),
        Some(a) => a
            .try_borrow()
            .is_ok_and(|v| v.len() + need <= v.capacity().max(ARENA_CHUNK)),
        None => false,
    };
    if !fits {
        *arena = Some(Rc::new(RefCell::new(Vec::with_capacity(
            ARENA_CHUNK.max(need),
        ))));
    }
    let mut buf = arena.as_ref()?.try_borrow_mut().ok()?;
    let start = buf.len();
    if header_only {
        encode_header(msg.len(), &mut buf);
    } else {
        conn.transport.encode(msg, &mut buf);
    }
    Some((start, buf.len()))
}

pub(super) fn shared_slot(enc: SharedEncoding) -> usize {
    match enc {
        SharedEncoding::TcpFrame => 0,
        SharedEncoding::WsServerFrame => 1,
        SharedEncoding::SseEvent => 2,
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::super::tests::{hub, read_now, tagged};
    use super::{Hub, ARENA_CHUNK};
    use crate::transport::SharedEncoding;

    #[test]
    fn idle_arenas_are_let_go_after_a_quiet_period_unless_held() {
        let (mut hub, _poll) = hub();
        let (a, _pa) = tagged(&mut hub, b'a', SharedEncoding::TcpFrame);
        let (b, _pb) = tagged(&mut hub, b'b', SharedEncoding::WsServerFrame);
        hub.subs.subscribe(a, b"r", true);
        hub.subs.subscribe(b, b"r", true);
        hub.fan_out(b"r", b"m");
        hub.flush_dirty();
        let live = |hub: &Hub| {
            hub.fan
                .arenas
                .iter()
                .map(Option::is_some)
                .collect::<Vec<_>>()
        };
        assert_eq!(live(&hub), [true, true, false]);
        // Used since the last call: kept.
        hub.fan.release_idle();
        assert_eq!(live(&hub), [true, true, false]);
        // A queue still points into the first one: only the second goes.
        let held = hub.fan.arenas[0].clone().unwrap();
        hub.fan.release_idle();
        assert_eq!(live(&hub), [true, false, false]);
        drop(held);
        hub.fan.release_idle();
        assert_eq!(live(&hub), [false, false, false]);
    }

    #[test]
    fn an_arena_grown_by_a_large_message_is_reused_up_to_four_chunks() {
        let (mut hub, _poll) = hub();
        let (a, mut pa) = tagged(&mut hub, b'a', SharedEncoding::TcpFrame);
        hub.subs.subscribe(a, b"r", true);
        let arena = |hub: &Hub| {
            let a = hub.fan.arenas[0].as_ref().unwrap();
            (Rc::as_ptr(a), a.borrow().capacity())
        };
        // Grown past one chunk, within four: kept once nobody points into it.
        let big = vec![7u8; 2 * ARENA_CHUNK];
        hub.fan_out(b"r", &big);
        hub.flush_dirty();
        assert_eq!(read_now(&mut pa).len(), big.len() + 1);
        let (grown, cap) = arena(&hub);
        assert!(cap > 2 * ARENA_CHUNK && cap <= 4 * ARENA_CHUNK);
        hub.fan_out(b"r", b"small");
        assert_eq!(arena(&hub), (grown, cap));
        hub.flush_dirty();
        assert_eq!(read_now(&mut pa), b"asmall");
        // Past four chunks: replaced by a chunk-sized one.
        let huge = vec![7u8; 4 * ARENA_CHUNK];
        hub.fan_out(b"r", &huge);
        // More than the socket takes at once: written as the peer reads.
        let mut got = 0;
        while got < huge.len() + 1 {
            hub.flush(a);
            got += read_now(&mut pa).len();
        }
        assert_eq!(got, huge.len() + 1);
        hub.fan_out(b"r", b"small");
        assert_eq!(arena(&hub).1, ARENA_CHUNK);
    }
}
