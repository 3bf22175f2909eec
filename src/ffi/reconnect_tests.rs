//! Tests of a reconnecting C client handle against an in-process broker
//! stopped and started again on the same port: reconnection by a receive
//! and by a publish, a closed handle staying closed, and the buffer of
//! publications made while the connection is lost.

use std::ffi::c_char;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::client::Client;
use crate::ffi::calls::{ducq_pub, ducq_publish, ducq_sub};
use crate::ffi::client::ducq_new_tcp;
use crate::ffi::vtbl::{ducq_close, ducq_conn, ducq_free, ducq_recv, ducq_timeout};
use crate::server::test_server::ThreadServer;
use crate::server::{Level, Settings};

const WAIT: Duration = Duration::from_secs(5);

type Server = ThreadServer;

/// A quiet in-process broker on `addr` (port 0: any), stopped on drop.
fn start(addr: &str) -> Server {
    let settings = Settings {
        log_level: Level::Off,
        ..Settings::default()
    };
    ThreadServer::start(addr, settings)
}

unsafe extern "C" fn count(_e: ducq_reconnect_event, _a: u32, _d: u32, ctx: *mut c_void) {
    // SAFETY: the tests pass an AtomicU32 that outlives the handle.
    unsafe { &*ctx.cast::<AtomicU32>() }.fetch_add(1, Ordering::SeqCst);
}

/// A connected TCP handle to `server` with a fast policy counting its
/// events in `events`, subscribed to `r`, receiving with a 2 s timeout.
fn handle(server: &Server, events: &AtomicU32) -> *mut ducq_i {
    let policy = ducq_reconnect_policy {
        initial_ms: 5,
        max_ms: 20,
        max_attempts: 0,
        on_event: Some(count),
        ctx: std::ptr::from_ref(events).cast_mut().cast(),
        buffer_messages: 0,
        buffer_bytes: 0,
    };
    handle_with(server, &policy)
}

/// As [`handle`], with `policy`.
fn handle_with(server: &Server, policy: &ducq_reconnect_policy) -> *mut ducq_i {
    let port = std::ffi::CString::new(server.addr.port().to_string()).unwrap();
    // SAFETY: NUL-terminated strings; the handle is freed by each test.
    let d = unsafe { ducq_new_tcp(c"127.0.0.1".as_ptr(), port.as_ptr()) };
    // SAFETY: a live handle; valid arguments.
    unsafe {
        assert_eq!(ducq_set_reconnect(d, policy), RawState::OK);
        assert_eq!(ducq_conn(d), RawState::OK);
        assert_eq!(ducq_timeout(d, 2), RawState::OK);
        assert_eq!(ducq_sub(d, c"r".as_ptr(), std::ptr::null()), RawState::OK);
    }
    d
}

/// A handle made against a server that is then stopped and started
/// again on the same port: the new server, and the handle, whose
/// connection is now dead.
fn handle_across_a_restart(events: &AtomicU32) -> (Server, *mut ducq_i) {
    let server = start("127.0.0.1:0");
    let d = handle(&server, events);
    let addr = server.addr.to_string();
    drop(server);
    (start(&addr), d)
}

/// One message received on `d`.
fn recv(d: *mut ducq_i) -> (State, Vec<u8>) {
    let mut buf = [0 as c_char; 256];
    let mut size = buf.len();
    // SAFETY: a live handle; `buf` writable for `size` bytes.
    let state = unsafe { ducq_recv(d, buf.as_mut_ptr(), &mut size) }.state();
    let bytes = buf[..size.min(buf.len())]
        .iter()
        .map(|&c| c as u8)
        .collect();
    (state, bytes)
}

#[test]
fn publish_after_a_restart_connects_and_subscribes_again() {
    let events = AtomicU32::new(0);
    let (server, d) = handle_across_a_restart(&events);
    // The publish meets the dead connection, connects again (once) and
    // makes the subscription again: the handle gets its own message.
    // SAFETY: a live handle; NUL-terminated strings.
    let rc = unsafe { ducq_publish(d, c"r".as_ptr(), c"back".as_ptr(), 4) };
    assert_eq!(rc, RawState::OK);
    assert_eq!(recv(d), (State::Ok, b"pub r\nback".to_vec()));
    let mut p = Client::connect(&server.addr.to_string(), WAIT).unwrap();
    p.publish("r", b"from another").unwrap();
    assert_eq!(recv(d), (State::Ok, b"pub r\nfrom another".to_vec()));
    // Not through the receive's reconnection: no event told.
    assert_eq!(events.load(Ordering::SeqCst), 0);
    // SAFETY: the caller's handle, freed once.
    unsafe { ducq_free(d) };
}

#[test]
fn a_receive_reconnects_and_a_closed_handle_stays_closed() {
    let events = AtomicU32::new(0);
    let (server, d) = handle_across_a_restart(&events);
    let addr = server.addr.to_string();
    let publisher = std::thread::spawn(move || {
        // Until the handle is back and subscribed.
        let mut p = Client::connect(&addr, WAIT).unwrap();
        loop {
            let subs = p.list("lsconn").unwrap();
            if subs.iter().any(|l| l.ends_with(b",r\n")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        p.publish("r", b"live").unwrap();
    });
    assert_eq!(recv(d), (State::Ok, b"pub r\nlive".to_vec()));
    publisher.join().unwrap();
    // Lost, retrying (at least once), reconnected.
    assert!(events.load(Ordering::SeqCst) >= 3);
    let told = events.load(Ordering::SeqCst);
    // SAFETY: a live handle.
    assert_eq!(unsafe { ducq_close(d) }, RawState::OK);
    assert_eq!(recv(d).0, State::EConnClosed);
    assert_eq!(events.load(Ordering::SeqCst), told);
    drop(server);
    // SAFETY: the caller's handle, freed once; NULLs as documented.
    unsafe {
        ducq_free(d);
        assert_eq!(
            ducq_set_reconnect(std::ptr::null_mut(), std::ptr::null()),
            State::ENull.into()
        );
    }
}

/// Events told, as `(event, attempt)`.
type Told = std::sync::Mutex<Vec<(ducq_reconnect_event, u32)>>;

unsafe extern "C" fn record(e: ducq_reconnect_event, a: u32, _d: u32, ctx: *mut c_void) {
    // SAFETY: the tests pass a `Told` that outlives the handle.
    let told = unsafe { &*ctx.cast::<Told>() };
    told.lock().unwrap().push((e, a));
}

/// A policy keeping two publications (or `bytes` of payload) while
/// the connection is lost, recording its events in `told`.
fn buffering(told: &Told, bytes: u32) -> ducq_reconnect_policy {
    ducq_reconnect_policy {
        initial_ms: 5,
        max_ms: 20,
        max_attempts: 0,
        on_event: Some(record),
        ctx: std::ptr::from_ref(told).cast_mut().cast(),
        buffer_messages: 2,
        buffer_bytes: bytes,
    }
}

fn publish(d: *mut ducq_i, payload: &str) -> State {
    // SAFETY: a live handle; NUL-terminated route, readable payload.
    unsafe { ducq_publish(d, c"r".as_ptr(), payload.as_ptr().cast(), payload.len()) }.state()
}

#[test]
fn publications_while_lost_are_kept_within_bounds_and_sent_after_the_subscriptions() {
    use ducq_reconnect_event::*;
    let told = Told::default();
    let first = start("127.0.0.1:0");
    let d = handle_with(&first, &buffering(&told, 0));
    let addr = first.addr.to_string();
    drop(first);
    // Down: two are kept, the third finds the buffer full.
    assert_eq!(publish(d, "one"), State::Ok);
    assert_eq!(publish(d, "two"), State::Ok);
    assert_eq!(publish(d, "three"), State::EMax);
    // SAFETY: a live handle; the text lives until its next call.
    let text = unsafe { std::ffi::CStr::from_ptr(crate::ffi::calls::ducq_last_error(d)) };
    assert_eq!(
        text.to_str().unwrap(),
        "the buffer for publications while disconnected is full"
    );
    assert_eq!(
        *told.lock().unwrap(),
        [(DUCQ_RECONNECT_KEPT, 1), (DUCQ_RECONNECT_KEPT, 2)]
    );
    // Back: the next publish connects, subscribes again, sends the two
    // kept ones in order, then its own; the handle, subscribed to r,
    // gets all three once.
    let _second = start(&addr);
    assert_eq!(publish(d, "four"), State::Ok);
    for want in ["one", "two", "four"] {
        assert_eq!(recv(d), (State::Ok, format!("pub r\n{want}").into_bytes()));
    }
    assert_eq!(
        told.lock().unwrap().last(),
        Some(&(DUCQ_RECONNECT_FLUSHED, 2))
    );
    // SAFETY: a live handle; nothing more came.
    unsafe { assert_eq!(ducq_timeout(d, 1), RawState::OK) };
    assert_eq!(recv(d).0, State::ETimeout);
    // SAFETY: the caller's handle, freed once.
    unsafe { ducq_free(d) };
}

#[test]
fn a_receive_that_reconnects_sends_what_was_kept_and_bytes_bound_the_buffer() {
    use ducq_reconnect_event::*;
    let told = Told::default();
    let (server, d) = {
        let first = start("127.0.0.1:0");
        let d = handle_with(&first, &buffering(&told, 8));
        let addr = first.addr.to_string();
        drop(first);
        (addr, d)
    };
    // `ducq_pub` (no connecting of its own) meets the dead connection.
    // SAFETY: a live handle; NUL-terminated strings.
    let rc = unsafe { ducq_pub(d, c"r".as_ptr(), c"12345".as_ptr(), 5) };
    assert_eq!(rc, RawState::OK);
    // 5 + 4 bytes is over the 8 allowed.
    assert_eq!(publish(d, "6789"), State::EMax);
    let _second = start(&server);
    // The receive reconnects, subscribes again, sends the kept one: the
    // handle gets its own publication.
    assert_eq!(recv(d), (State::Ok, b"pub r\n12345".to_vec()));
    let told = told.lock().unwrap();
    let kinds: Vec<_> = told.iter().map(|t| t.0).collect();
    assert_eq!(kinds.first(), Some(&DUCQ_RECONNECT_KEPT));
    assert_eq!(kinds[1], DUCQ_RECONNECT_LOST);
    assert_eq!(
        told[told.len() - 2..],
        [
            (DUCQ_RECONNECT_DONE, told[told.len() - 2].1),
            (DUCQ_RECONNECT_FLUSHED, 1)
        ]
    );
    // SAFETY: the caller's handle, freed once.
    unsafe { ducq_free(d) };
}

#[test]
fn without_a_buffer_a_publish_while_lost_fails_at_once() {
    let told = Told::default();
    let mut policy = buffering(&told, 0);
    policy.buffer_messages = 0;
    let first = start("127.0.0.1:0");
    let d = handle_with(&first, &policy);
    drop(first);
    assert_eq!(publish(d, "x"), State::EConnect);
    assert!(told.lock().unwrap().is_empty());
    // SAFETY: the caller's handle, freed once.
    unsafe { ducq_free(d) };
}
