//! Unit tests of the read path on a real reactor driven by hand: a client
//! over loopback TCP, its bytes waited for in the server's socket, then one
//! `Reactor::read` (one connection's turn) and a look at what it left: the
//! replies queued, the input kept, the large-frame buffer, the backlog.
//! What a whole server shows over many turns is in `tests/read_path.rs`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use super::*;
use crate::server::conn::tests::{queued, set_rcvbuf};
use crate::server::conn::Conn;
use crate::server::test_server::accept_client;
use crate::server::Settings;
use crate::transport::tcp::TcpCodec;

/// A reactor whose largest message is `max_message` bytes, with one client
/// accepted: the reactor, the client's stream and its key.
fn rig(max_message: usize) -> (Reactor, TcpStream, usize) {
    let settings = Settings {
        max_message,
        ..Settings::default()
    };
    let mut r = Reactor::new(settings).unwrap();
    r.hub_mut().logger_mut().stderr = false;
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let (client, key) = accept_client(&mut r, addr);
    // Room for more than a turn's budget waiting at once.
    set_rcvbuf(&r.hub.conns[key].socket, 2 << 20);
    (r, client, key)
}

fn conn(r: &Reactor, key: usize) -> &Conn {
    &r.hub.conns[key]
}

/// `pub ROUTE\n` then `len - 6 - route.len()` bytes: a message of `len`.
fn publication(route: &str, len: usize) -> Vec<u8> {
    let mut m = format!("pub {route}\n").into_bytes();
    m.resize(len, b'x');
    m
}

/// Sends `bytes` and waits until they all wait in the server's socket
/// (on top of `already` bytes waiting there).
fn send(r: &Reactor, client: &mut TcpStream, key: usize, already: usize, bytes: &[u8]) {
    client.write_all(bytes).unwrap();
    queued(&conn(r, key).socket, already + bytes.len());
}

/// The replies queued for the client: how many `ACK`s, nothing else.
fn acks(r: &Reactor, key: usize) -> usize {
    let pending = conn(r, key).out.pending();
    assert_eq!(pending % 5, 0, "{pending} bytes queued");
    pending / 5
}

#[test]
fn a_burst_longer_than_the_input_buffer_is_all_handled_in_one_turn() {
    // The buffer holds max_message + INPUT_SLACK = 17 384 bytes; 300
    // frames of 104 bytes (31 200) fill it once with a partial frame at
    // its end, then the rest is read in the same turn.
    let (mut r, mut client, key) = rig(1000);
    let frame = TcpCodec::frame(&publication("a", 100));
    assert_eq!(frame.len(), 104);
    send(&r, &mut client, key, 0, &frame.repeat(300));
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 300);
    let c = conn(&r, key);
    assert!(!c.closing);
    assert!(c.input.is_empty());
    assert_eq!(c.partial_since, None);
    assert_eq!(c.bytes_in(), 31_200);
    assert!(r.backlog.is_empty());
}

#[test]
fn a_message_of_exactly_the_limit_fits_with_its_header() {
    let (mut r, mut client, key) = rig(1000);
    let frame = TcpCodec::frame(&publication("a", 1000));
    send(&r, &mut client, key, 0, &frame);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 1);
    assert!(!conn(&r, key).closing);
}

#[test]
fn a_small_partial_frame_is_kept_without_a_buffer_of_its_own_size() {
    let (mut r, mut client, key) = rig(1 << 20);
    let frame = TcpCodec::frame(&publication("a", 100));
    let t0 = Instant::now();
    send(&r, &mut client, key, 0, &frame[..50]);
    r.read(key, t0, false);
    let c = conn(&r, key);
    assert_eq!(c.input, frame[..50]);
    assert_eq!((c.input_end, c.frame_hint), (0, 0));
    assert_eq!(c.partial_since, Some(t0));
    assert_eq!(acks(&r, key), 0);
    // The shared scratch buffer went back to the reactor.
    assert!(r.scratch.capacity() >= 64 << 10);
    send(&r, &mut client, key, 0, &frame[50..]);
    r.read(key, Instant::now(), false);
    let c = conn(&r, key);
    // Nothing is left, and no buffer is kept for it.
    assert_eq!(c.input.capacity(), 0);
    assert_eq!(c.partial_since, None);
    assert_eq!(acks(&r, key), 1);
}

#[test]
fn a_large_frame_is_read_into_a_buffer_of_its_size_and_shared_as_it_is() {
    let (mut r, mut client, key) = rig(1 << 20);
    let msg = publication("big", 100_000);
    let frame = TcpCodec::frame(&msg);
    let len = frame.len();
    assert_eq!(len, 100_007);
    send(&r, &mut client, key, 0, &frame[..50_000]);
    r.read(key, Instant::now(), false);
    let c = conn(&r, key);
    assert_eq!((c.input_end, c.frame_hint), (len, len));
    assert!(c.input == frame[..50_000]);
    assert_eq!(c.input.capacity(), len);
    assert!(c.partial_since.is_some());
    let buffer = c.input.as_ptr() as usize;
    // The scratch buffer it was read into went back to the reactor.
    assert!(r.scratch.capacity() >= 64 << 10);
    assert_eq!(r.hub.body_pool_size(), (0, 0));
    // The rest completes the frame: the message is stored from that very
    // buffer, not copied.
    send(&r, &mut client, key, 0, &frame[50_000..]);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 1);
    let stored = r.hub.last.get(b"big").unwrap();
    assert!(stored == msg, "stored {} bytes", stored.len());
    let at = stored.as_ptr() as usize;
    assert_eq!(at, buffer + 7, "copied");
    let c = conn(&r, key);
    assert!(c.input.is_empty());
    assert_eq!(c.partial_since, None);
    // The next read expects a frame of the same size, but has not begun
    // one.
    assert_eq!((c.input_end, c.frame_hint), (0, len));
    assert_eq!(c.bytes_in(), len as u64);
    // The pool holds the shared buffer (still the stored message) and the
    // one the next round found nothing to read into.
    assert_eq!(r.hub.body_pool_size(), (2, 2 * len));

    // A second one whole: read into a buffer of its size, shared too.
    send(&r, &mut client, key, 0, &frame);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 2);
    let c = conn(&r, key);
    assert_eq!((c.input_end, c.frame_hint), (0, len));
    assert!(c.input.is_empty());

    // A small message after them ends the expectation.
    send(
        &r,
        &mut client,
        key,
        0,
        &TcpCodec::frame(&publication("a", 50)),
    );
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 3);
    assert_eq!(r.hub.last.get(b"a").unwrap().len(), 50);
    let c = conn(&r, key);
    assert_eq!((c.input_end, c.frame_hint), (0, 0));
}

#[test]
fn a_large_frame_whose_header_arrives_in_pieces_keeps_its_buffer() {
    let (mut r, mut client, key) = rig(1 << 20);
    let msg = publication("big", 40_000);
    let frame = TcpCodec::frame(&msg);
    let len = frame.len();
    // Half a header: nothing known yet.
    send(&r, &mut client, key, 0, &frame[..3]);
    r.read(key, Instant::now(), false);
    let c = conn(&r, key);
    assert_eq!(c.input, frame[..3]);
    assert_eq!((c.input_end, c.frame_hint), (0, 0));
    // The rest of the header and some of the body: now it is a large
    // frame, kept in the connection's buffer, grown to its size.
    send(&r, &mut client, key, 0, &frame[3..1000]);
    r.read(key, Instant::now(), false);
    let c = conn(&r, key);
    assert!(c.input == frame[..1000]);
    assert_eq!((c.input_end, c.frame_hint), (len, len));
    assert!(c.input.capacity() >= len);
    send(&r, &mut client, key, 0, &frame[1000..]);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 1);
    assert!(r.hub.last.get(b"big") == Some(&msg[..]));
    assert!(conn(&r, key).input.is_empty());
}

#[test]
fn small_messages_then_the_start_of_a_large_one_in_one_read() {
    let (mut r, mut client, key) = rig(1 << 20);
    let small = TcpCodec::frame(&publication("a", 100));
    let big = TcpCodec::frame(&publication("big", 50_000));
    let mut wire = small.repeat(3);
    wire.extend_from_slice(&big[..10_000]);
    send(&r, &mut client, key, 0, &wire);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 3);
    let c = conn(&r, key);
    // The large frame's start moved into a buffer of its size.
    assert!(c.input == big[..10_000]);
    assert_eq!(c.input.capacity(), big.len());
    assert_eq!(c.input_end, big.len());
    send(&r, &mut client, key, 0, &big[10_000..]);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 4);
}

#[test]
fn a_turn_reads_its_budget_then_the_connection_waits_in_the_backlog() {
    let (mut r, mut client, key) = rig(1 << 20);
    let frame = TcpCodec::frame(&publication("a", 996));
    assert_eq!(frame.len(), 1000);
    send(&r, &mut client, key, 0, &frame.repeat(400));
    r.read(key, Instant::now(), false);
    // Four reads of 64 KiB into the scratch buffer use the budget.
    assert_eq!(conn(&r, key).bytes_in(), READ_BUDGET as u64);
    assert_eq!(r.backlog, [(key, false)]);
    assert_eq!(acks(&r, key), READ_BUDGET / 1000);
    let kept = READ_BUDGET % 1000;
    assert_eq!(conn(&r, key).input.len(), kept);
    // The next turn reads from the backlog, without an event.
    r.backlog.clear();
    r.read(key, Instant::now(), false);
    assert_eq!(conn(&r, key).bytes_in(), 400_000);
    assert_eq!(acks(&r, key), 400);
    assert!(r.backlog.is_empty());
}

#[test]
fn the_end_of_the_stream_closes_after_the_replies() {
    let (mut r, mut client, key) = rig(1 << 20);
    let frame = TcpCodec::frame(&publication("a", 100));
    client.write_all(&frame).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    queued(&conn(&r, key).socket, frame.len());
    r.read(key, Instant::now(), true);
    let c = conn(&r, key);
    assert!(c.peer_done);
    assert!(c.close_after_flush);
    r.hub.flush_dirty();
    r.hub.reap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"3\nACK");
}

#[test]
fn place_in_finds_a_slice_within_the_buffer_only() {
    let buf = [0u8; 20];
    let base = buf.as_ptr() as usize;
    assert_eq!(place_in(&buf[4..9], base, 10), Some((4, 5)));
    assert_eq!(place_in(&buf[2..4], base, 10), Some((2, 2)));
    // Up to the end exactly, and past it.
    assert_eq!(place_in(&buf[6..10], base, 10), Some((6, 4)));
    assert_eq!(place_in(&buf[6..11], base, 10), None);
    assert_eq!(place_in(&buf[10..15], base, 10), None);
    // Before the buffer: elsewhere.
    assert_eq!(place_in(&buf[0..3], base + 4, 10), None);
    assert_eq!(place_in(&buf[0..0], base, 0), Some((0, 0)));
}

#[test]
fn a_publisher_held_back_mid_buffer_keeps_the_rest_until_let_go() {
    let settings = Settings {
        output_high_water: 1000,
        output_low_water: 500,
        ..Settings::default()
    };
    let mut r = Reactor::new(settings).unwrap();
    r.hub_mut().logger_mut().stderr = false;
    let (sub, mut sub_peer) =
        crate::server::hub::tests::connect(&mut r.hub, Box::new(TcpCodec::new(1 << 20)));
    crate::server::actions::subscribe(&mut r.hub, sub, b"r", true).unwrap();
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let (mut client, key) = accept_client(&mut r, addr);
    let first = TcpCodec::frame(&publication("r", 2000));
    let second = TcpCodec::frame(&publication("r", 40_000));
    let mut wire = first.clone();
    wire.extend_from_slice(&second);
    send(&r, &mut client, key, 0, &wire);
    r.read(key, Instant::now(), false);
    // The first filled the subscriber's queue past the mark: the second,
    // a large frame, waits in the connection as it came, as no frame in
    // progress.
    assert_eq!(acks(&r, key), 1);
    let c = conn(&r, key);
    assert_eq!(c.holds, 1);
    assert!(c.input == second, "{} bytes kept", c.input.len());
    assert_eq!((c.input_end, c.frame_hint), (0, 0));
    assert_eq!(c.partial_since, None);
    // Not read while held, even with more waiting.
    send(&r, &mut client, key, 0, &first);
    r.read(key, Instant::now(), true);
    assert_eq!(acks(&r, key), 1);
    assert_eq!(conn(&r, key).bytes_in(), wire.len() as u64);
    // The subscriber drains: the publisher is let go and read next turn,
    // to the end.
    r.hub.flush(sub);
    let got = crate::server::hub::tests::read_now(&mut sub_peer);
    assert_eq!(got.len(), first.len());
    r.hub.flush(sub);
    assert_eq!(conn(&r, key).holds, 0);
    r.resume_released();
    assert_eq!(r.backlog, [(key, true)]);
    r.backlog.clear();
    r.read(key, Instant::now(), true);
    assert_eq!(acks(&r, key), 2);
    assert_eq!(conn(&r, key).holds, 1);
}

/// A codec that never finds the end of a message.
struct Hoarder;

impl crate::transport::Transport for Hoarder {
    fn name(&self) -> &str {
        "HOARD"
    }
    fn decode<'a>(&mut self, _: &'a mut [u8], _: &mut Vec<u8>) -> crate::transport::Step<'a> {
        crate::transport::Step::need_more()
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(msg);
    }
}

#[test]
fn input_that_fills_the_buffer_without_a_message_closes_the_connection() {
    let settings = Settings {
        max_message: 1000,
        ..Settings::default()
    };
    let mut r = Reactor::new(settings).unwrap();
    r.hub_mut().logger_mut().stderr = false;
    let addr = r
        .listen("127.0.0.1:0", Box::new(|| Box::new(Hoarder)))
        .unwrap();
    let (mut client, key) = accept_client(&mut r, addr);
    // One byte short of max_message + INPUT_SLACK: kept.
    send(&r, &mut client, key, 0, &[b'x'; 17_383]);
    r.read(key, Instant::now(), false);
    assert!(!conn(&r, key).closing);
    assert_eq!(conn(&r, key).input.len(), 17_383);
    send(&r, &mut client, key, 0, b"yz");
    r.read(key, Instant::now(), false);
    assert!(conn(&r, key).closing);
}

#[test]
fn a_read_that_brings_bytes_is_what_counts_as_the_peer_being_alive() {
    let (mut r, mut client, key) = rig(1 << 20);
    let t1 = Instant::now() + std::time::Duration::from_secs(1);
    r.hub.conns[key].pinged = true;
    send(&r, &mut client, key, 0, &TcpCodec::frame(b"pub a\nxyz"));
    r.read(key, t1, false);
    assert_eq!(conn(&r, key).last_rx, t1);
    assert!(!conn(&r, key).pinged);
    // A read that finds nothing (a turn from the backlog, say) is not.
    r.hub.conns[key].pinged = true;
    r.read(key, t1 + std::time::Duration::from_secs(1), true);
    assert_eq!(conn(&r, key).last_rx, t1);
    assert!(conn(&r, key).pinged);
}

#[test]
fn a_large_frame_begun_in_a_turn_is_finished_past_its_budget() {
    // Two rounds fill the buffer (116 384 bytes each) with small frames,
    // the second ending with the start of a large one; less budget than
    // the rest of that frame is left, and it is read whole all the same.
    let (mut r, mut client, key) = rig(100_000);
    let small = TcpCodec::frame(&publication("a", 996));
    let big = TcpCodec::frame(&publication("big", 90_000));
    let mut wire = small.repeat(232);
    wire.extend_from_slice(&big);
    send(&r, &mut client, key, 0, &wire);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 233);
    assert_eq!(conn(&r, key).bytes_in(), wire.len() as u64);
    assert!(r.hub.last.get(b"big").is_some_and(|m| m.len() == 90_000));
}

#[test]
fn a_small_frame_completed_then_a_large_one_begun_in_the_same_buffer() {
    let (mut r, mut client, key) = rig(1 << 20);
    let small = TcpCodec::frame(&publication("a", 100));
    let big = TcpCodec::frame(&publication("big", 50_000));
    send(&r, &mut client, key, 0, &small[..40]);
    r.read(key, Instant::now(), false);
    assert!(conn(&r, key).input == small[..40]);
    // The rest of the small frame and the start of the large one, read
    // into the connection's own buffer: the large frame's start goes to a
    // buffer of its own size, the finished frame stays behind.
    let mut wire = small[40..].to_vec();
    wire.extend_from_slice(&big[..20_000]);
    send(&r, &mut client, key, 0, &wire);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 1);
    let c = conn(&r, key);
    assert!(c.input == big[..20_000], "{} bytes kept", c.input.len());
    assert_eq!(c.input.capacity(), big.len());
    assert_eq!(c.input_end, big.len());
    send(&r, &mut client, key, 0, &big[20_000..]);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 2);
    assert!(r.hub.last.get(b"big").is_some_and(|m| m.len() == 50_000));
}

#[test]
fn reading_into_a_large_frames_buffer_stops_at_its_end() {
    let (mut r, mut client, key) = rig(1 << 20);
    let msg = publication("big", 100_000);
    let frame = TcpCodec::frame(&msg);
    send(&r, &mut client, key, 0, &frame[..50_000]);
    r.read(key, Instant::now(), false);
    let buffer = conn(&r, key).input.as_ptr() as usize;
    // The rest and a small frame behind it: the buffer still holds the
    // large frame alone, and is stored as it is; the small one follows.
    let mut wire = frame[50_000..].to_vec();
    wire.extend_from_slice(&TcpCodec::frame(&publication("a", 50)));
    send(&r, &mut client, key, 0, &wire);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 2);
    let stored = r.hub.last.get(b"big").unwrap();
    assert_eq!(stored.as_ptr() as usize, buffer + 7, "copied");
    assert!(stored == msg);
    assert_eq!(r.hub.last.get(b"a").unwrap().len(), 50);
}

#[test]
fn a_large_frame_of_another_size_is_read_on_in_the_buffer_expected_for_the_last() {
    let (mut r, mut client, key) = rig(1 << 20);
    let first = TcpCodec::frame(&publication("big", 100_000));
    send(&r, &mut client, key, 0, &first[..50_000]);
    r.read(key, Instant::now(), false);
    send(&r, &mut client, key, 0, &first[50_000..]);
    r.read(key, Instant::now(), false);
    assert_eq!(conn(&r, key).frame_hint, first.len());
    // A smaller large frame begins: read into the buffer kept for one of
    // the last size, which stays (it has room), not moved to one of the
    // new size.
    let second = TcpCodec::frame(&publication("big", 60_000));
    send(&r, &mut client, key, 0, &second[..30_000]);
    r.read(key, Instant::now(), false);
    let c = conn(&r, key);
    assert!(c.input == second[..30_000]);
    assert_eq!(c.input.capacity(), first.len());
    assert_eq!((c.input_end, c.frame_hint), (second.len(), second.len()));
    send(&r, &mut client, key, 0, &second[30_000..]);
    r.read(key, Instant::now(), false);
    assert_eq!(acks(&r, key), 2);
    assert!(r.hub.last.get(b"big").is_some_and(|m| m.len() == 60_000));
}
