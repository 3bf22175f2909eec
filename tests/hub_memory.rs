//! The hub's memory promises, observed rather than trusted (issue 12): a
//! large publication is one buffer shared by the last-message store and
//! every subscriber, not a copy each; a steady stream reuses buffers
//! instead of allocating; the body pool keeps no more than its bound; idle
//! connections give their output buffers back.
//!
//! This test binary counts heap allocations with a global allocator that
//! wraps the system one. Counting is switched on only around the server's
//! turns (`Driven::turn`, run in the test's own thread) and hub calls, so
//! the clients' work is not counted.

mod driven;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use driven::{Client, Driven};
use ducq::server::Settings;

/// What the allocator saw while counting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    /// Allocations (and reallocations) of at least `LARGE` bytes.
    large: usize,
    /// Bytes freed (deallocations, and the old size of reallocations).
    freed: usize,
}

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static LARGE: Cell<usize> = const { Cell::new(usize::MAX) };
    static SEEN: Cell<Seen> = const { Cell::new(Seen { large: 0, freed: 0 }) };
}

fn note(alloc: usize, freed: usize) {
    // `try_with`: the allocator also runs while thread locals are torn down.
    let on = COUNTING.try_with(Cell::get).unwrap_or(false);
    if !on {
        return;
    }
    let large = LARGE.try_with(Cell::get).unwrap_or(usize::MAX);
    let _ = SEEN.try_with(|s| {
        let mut seen = s.get();
        if alloc >= large {
            seen.large += 1;
        }
        seen.freed += freed;
        s.set(seen);
    });
}

struct Counting;

// SAFETY: every call is passed on unchanged to the system allocator; the
// counting touches only const-initialised thread locals, which do not
// allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size, layout.size());
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` counting allocations of at least `large` bytes and bytes freed.
fn counted<R>(large: usize, f: impl FnOnce() -> R) -> (R, Seen) {
    LARGE.with(|l| l.set(large));
    SEEN.with(|s| s.set(Seen::default()));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, SEEN.with(Cell::get))
}

/// Runs counted turns until every client in `subs` has a frame; returns
/// the frames and what the turns allocated.
fn deliver(d: &mut Driven, subs: &mut [Client], large: usize) -> (Vec<Vec<u8>>, Seen) {
    let mut got: Vec<Option<Vec<u8>>> = vec![None; subs.len()];
    let mut seen = Seen::default();
    let deadline = std::time::Instant::now() + driven::WAIT;
    while got.iter().any(Option::is_none) {
        assert!(std::time::Instant::now() < deadline, "not delivered");
        let ((), s) = counted(large, || d.turn());
        seen.large += s.large;
        seen.freed += s.freed;
        for (c, slot) in subs.iter_mut().zip(got.iter_mut()) {
            if slot.is_none() {
                c.fill();
                *slot = c.frame();
            }
        }
    }
    (got.into_iter().flatten().collect(), seen)
}

/// `n` TCP subscribers of `route`, and a publisher.
fn subscribers(d: &mut Driven, route: &str, n: usize) -> (Vec<Client>, Client) {
    let subs = (0..n)
        .map(|_| {
            let (mut c, _) = d.connect();
            assert_eq!(d.call(&mut c, format!("sub {route}\n").as_bytes()), b"ACK");
            c
        })
        .collect();
    let (publisher, _) = d.connect();
    (subs, publisher)
}

/// A message of `len` bytes on `route`, different for each `seed`.
fn message(route: &str, seed: usize, len: usize) -> Vec<u8> {
    let mut m = format!("pub {route}\n{seed:08}").into_bytes();
    m.resize(len, b'a' + (seed % 26) as u8);
    m
}

#[test]
fn a_large_publication_is_one_buffer_for_the_store_and_every_subscriber() {
    let mut d = Driven::new(Settings::default());
    let (mut subs, mut publisher) = subscribers(&mut d, "big", 20);
    let len = 100_000;
    let mut large = Vec::new();
    for i in 0..5 {
        let msg = message("big", i, len);
        // The header first, read on its own: the server then knows the
        // frame's length before any of its body arrives.
        publisher.raw(format!("{len}\n").as_bytes());
        let ((), header) = counted(len, || {
            d.turn();
            d.turn();
        });
        publisher.raw(&msg);
        let (frames, seen) = deliver(&mut d, &mut subs, len);
        assert!(frames.iter().all(|f| *f == msg), "message {i}");
        assert_eq!(d.recv(&mut publisher), b"ACK");
        large.push(header.large + seen.large);
    }
    // The first message is read into a buffer of its own size, which the
    // store and the twenty queues then share (no copy), and one more is
    // made for the next large frame this peer is expected to send. From
    // then on the two take turns: the store lets go of one as it takes
    // the other. Nothing is allocated per message or per subscriber.
    assert_eq!(large, [2, 0, 0, 0, 0]);
    assert_eq!(
        d.call(&mut publisher, b"sub big\nlast"),
        message("big", 4, len)
    );
}

#[test]
fn a_large_message_published_by_a_command_is_copied_once() {
    let mut d = Driven::new(Settings::default());
    let (mut subs, _) = subscribers(&mut d, "big", 20);
    let len = 100_000;
    let mut large = Vec::new();
    for i in 0..4 {
        let msg = message("big", i, len);
        let (delivered, seen) = counted(len, || d.reactor.hub_mut().publish(b"big", &msg));
        assert_eq!(delivered, 20);
        let (frames, more) = deliver(&mut d, &mut subs, len);
        assert!(frames.iter().all(|f| *f == msg), "message {i}");
        large.push(seen.large + more.large);
    }
    // One pooled copy; reused once the store has let go of it.
    assert_eq!(large, [1, 1, 0, 0]);
}

#[test]
fn steady_publishing_allocates_no_buffers() {
    let mut d = Driven::new(Settings::default());
    let (mut subs, mut publisher) = subscribers(&mut d, "steady", 10);
    let mut large = Vec::new();
    // Below the size from which bodies are shared: each is encoded once
    // into an arena the ten queues point into, reused once written.
    for i in 0..200 {
        let msg = message("steady", i, 6_000);
        publisher.send(&msg);
        let (frames, seen) = deliver(&mut d, &mut subs, 4096);
        assert!(frames.iter().all(|f| *f == msg), "message {i}");
        assert_eq!(d.recv(&mut publisher), b"ACK");
        large.push(seen.large);
    }
    // Buffers are made while warming up (the arena, queues, the store's
    // copy), then never again.
    assert_eq!(large[20..], [0; 180]);
}

#[test]
fn the_body_pool_keeps_no_more_than_its_bound() {
    let mut d = Driven::new(Settings {
        max_output: 64 << 20,
        ..Settings::default()
    });
    // A subscriber that does not read holds every body in its queue.
    let (deaf, deaf_key) = d.connect();
    driven::set_rcvbuf(&deaf.stream, 4096);
    assert_eq!(d.reactor.hub_mut().send(deaf_key, b"x"), Ok(()));
    d.reactor.hub_mut().subs.subscribe(deaf_key, b"pool", false);
    // Bodies of 256 KiB, the largest pooled: 32 make the 8 MiB bound.
    let len = 256 << 10;
    // Queued with no turn between them, so none is written yet.
    for i in 0..40 {
        let msg = message("pool", i, len);
        assert_eq!(d.reactor.hub_mut().publish(b"pool", &msg), 1);
    }
    assert_eq!(d.reactor.hub().body_pool_size(), (32, 8 << 20));
    // Used since the last release: kept. Not used since: let go of.
    d.reactor.hub_mut().release_idle_buffers();
    assert_eq!(d.reactor.hub().body_pool_size(), (32, 8 << 20));
    d.reactor.hub_mut().release_idle_buffers();
    assert_eq!(d.reactor.hub().body_pool_size(), (0, 0));
    // The queue still held every body; once it goes, all of them go but
    // the store's last message.
    d.reactor.hub_mut().close(deaf_key, "test");
    let ((), seen) = counted(usize::MAX, || d.turn());
    assert_eq!(seen.freed / len, 39);
}

#[test]
fn idle_connections_give_their_output_buffers_back() {
    let mut d = Driven::new(Settings {
        max_output: 64 << 20,
        ..Settings::default()
    });
    let (mut idle, idle_key) = d.connect();
    // A reply of 3000 bytes: the connection's own buffer is made for it
    // (3000 and the longest header, 21) and kept once written, being small.
    assert_eq!(d.reactor.hub_mut().send(idle_key, &[b'r'; 3000]), Ok(()));
    assert_eq!(d.recv(&mut idle), [b'r'; 3000]);
    // One whose output is still pending keeps its buffers.
    let (busy, busy_key) = d.connect();
    driven::set_rcvbuf(&busy.stream, 4096);
    // More than any kernel buffer takes from a peer that does not read.
    for _ in 0..600 {
        assert_eq!(d.reactor.hub_mut().send(busy_key, &[b'b'; 10_000]), Ok(()));
    }
    d.turn();
    assert!(d.reactor.hub().conn(busy_key).unwrap().pending_output() > 0);
    let ((), seen) = counted(usize::MAX, || d.reactor.hub_mut().release_idle_buffers());
    assert_eq!(seen.freed, 3021);
    assert!(d.reactor.hub().conn(busy_key).unwrap().pending_output() > 0);
    // Given back, not broken: the next reply makes a new one.
    assert_eq!(d.call(&mut idle, b"PING again\n"), b"PONG again\n");
    drop(busy);
}

#[test]
fn bodies_are_shared_from_8_kib_on() {
    let mut d = Driven::new(Settings::default());
    let (_subs, _) = subscribers(&mut d, "edge", 2);
    let hub = d.reactor.hub_mut();
    // Below: encoded into the shared arena and copied into the store.
    assert_eq!(hub.publish(b"edge", &message("edge", 0, 8191)), 2);
    assert_eq!(hub.body_pool_size(), (0, 0));
    // From 8 KiB: one pooled copy, shared by the store and the queues.
    assert_eq!(hub.publish(b"edge", &message("edge", 1, 8192)), 2);
    assert_eq!(hub.body_pool_size(), (1, 8192));
}

#[test]
fn output_waiting_behind_a_slow_reader_shares_one_arena_while_it_fits() {
    let mut d = Driven::new(Settings::default());
    let (slow, key) = d.connect();
    driven::set_rcvbuf(&slow.stream, 4096);
    d.reactor.hub_mut().subs.subscribe(key, b"slow", false);
    // Nothing is written between these: each publication lands after the
    // last in the one 64 KiB arena the queue points into, and a new arena
    // is made only when the next does not fit.
    let mut large = Vec::new();
    for i in 0..12 {
        let msg = message("slow", i, 6_000);
        let (n, seen) = counted(64 << 10, || d.reactor.hub_mut().publish(b"slow", &msg));
        assert_eq!(n, 1);
        large.push(seen.large);
    }
    assert_eq!(large, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    drop(slow);
}

#[test]
fn arenas_are_given_back_after_a_quiet_period() {
    let mut d = Driven::new(Settings::default());
    let (mut subs, _) = subscribers(&mut d, "quiet", 3);
    let msg = message("quiet", 0, 1000);
    assert_eq!(d.reactor.hub_mut().publish(b"quiet", &msg), 3);
    let (frames, _) = deliver(&mut d, &mut subs, usize::MAX);
    assert!(frames.iter().all(|f| *f == msg));
    // Used since the last release: the arena (64 KiB) stays.
    let ((), first) = counted(usize::MAX, || d.reactor.hub_mut().release_idle_buffers());
    assert!(first.freed < 64 << 10, "{first:?}");
    // Not used since: it goes.
    let ((), second) = counted(usize::MAX, || d.reactor.hub_mut().release_idle_buffers());
    assert!(second.freed >= 64 << 10, "{second:?}");
    // And a new one is made when needed.
    let (n, seen) = counted(64 << 10, || d.reactor.hub_mut().publish(b"quiet", &msg));
    assert_eq!((n, seen.large), (3, 1));
}

#[test]
fn frames_below_32_kib_are_read_through_the_shared_buffer() {
    // Under 8 KiB a message is copied into the store and encoded into the
    // arena: the pool of large buffers is not touched at all.
    let mut d = Driven::new(Settings::default());
    let (mut subs, mut publisher) = subscribers(&mut d, "size", 2);
    for (i, len) in [100, 6_000, 8_191].into_iter().enumerate() {
        let msg = message("size", i, len);
        publisher.send(&msg);
        let (frames, _) = deliver(&mut d, &mut subs, usize::MAX);
        assert!(frames.iter().all(|f| *f == msg));
        assert_eq!(d.recv(&mut publisher), b"ACK");
        assert_eq!(d.reactor.hub().body_pool_size(), (0, 0), "{len}");
    }
    // From 8 KiB it is shared, but a frame under 32 KiB was read into the
    // shared buffer with others: one pooled copy of the message alone.
    let msg = message("size", 3, 20_000);
    publisher.send(&msg);
    let (frames, _) = deliver(&mut d, &mut subs, usize::MAX);
    assert!(frames.iter().all(|f| *f == msg));
    assert_eq!(d.recv(&mut publisher), b"ACK");
    assert_eq!(d.reactor.hub().body_pool_size(), (1, 20_000));
}

#[test]
fn a_frame_of_32_kib_gets_a_buffer_of_its_own() {
    let mut d = Driven::new(Settings::default());
    let (mut subs, mut publisher) = subscribers(&mut d, "size", 2);
    // 32 768 bytes with its header: read into a buffer of exactly that
    // size, shared as it is (no copy), and one more of that size for the
    // next large frame; both end up in the pool.
    let msg = message("size", 0, 32_768 - 6);
    publisher.raw(format!("{}\n", msg.len()).as_bytes());
    d.turn();
    publisher.raw(&msg);
    let (frames, _) = deliver(&mut d, &mut subs, usize::MAX);
    assert!(frames.iter().all(|f| *f == msg));
    assert_eq!(d.recv(&mut publisher), b"ACK");
    assert_eq!(d.reactor.hub().body_pool_size(), (2, 2 * 32_768));
}

#[test]
fn a_fan_out_is_encoded_once_for_all_websocket_subscribers() {
    let mut d = Driven::new(Settings::default());
    let mut subs: Vec<Client> = (0..10)
        .map(|_| {
            let (mut c, _) = d.connect_ws();
            c.send_ws(b"sub ws\n");
            assert_eq!(d.recv_ws(&mut c), b"ACK");
            c
        })
        .collect();
    let mut large = Vec::new();
    for i in 0..100 {
        let msg = message("ws", i, 6_000);
        let (n, mut seen) = counted(4096, || d.reactor.hub_mut().publish(b"ws", &msg));
        assert_eq!(n, 10);
        for c in subs.iter_mut() {
            let ((), s) = counted(4096, || d.turn());
            seen.large += s.large;
            assert_eq!(d.recv_ws(c), msg, "message {i}");
        }
        large.push(seen.large);
    }
    // One frame in the WebSocket arena that every queue points into; no
    // buffer per subscriber, none at all once warm.
    assert_eq!(large[10..], [0; 90]);
}
