//! Durable queues and request/reply for C clients, on a `ducq_i` handle:
//! `ducq_enqueue`, `ducq_consume`, `ducq_next_delivery`, `ducq_queue_ack`,
//! `ducq_request`. Conversion and checks only; the protocol is
//! `crate::client::queue`'s (PROTOCOL.md §14).

use std::ffi::c_char;
use std::time::Duration;

use super::client::{ducq_i, handle, on_client, status, AnyClient};
use super::state::ducq_state;
use super::{boundary, copy_out, nonnull, slice_arg, str_arg};
use crate::client::Error;
use crate::proto::message;

/// Enqueues `size` bytes of `payload` in `queue` (created with defaults
/// when missing) and waits until the server has made the message durable;
/// its id is then stored in `*id`. A NACK's state is returned as it is
/// (`DUCQ_EMSGINV` bad name, `DUCQ_EMAX` queue limits, `DUCQ_EFILE` the
/// server's disk failed); `*id` is written only on `DUCQ_OK`.
///
/// Thread rules of every `ducq_i` call: one thread at a time.
///
/// # Safety
/// `ducq` is a live handle, `queue` NUL-terminated, `payload` readable for
/// `size` bytes, `id` writable. All are only used during the call.
#[no_mangle]
pub unsafe extern "C" fn ducq_enqueue(
    ducq: *mut ducq_i,
    queue: *const c_char,
    payload: *const c_char,
    size: usize,
    id: *mut u64,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, queue, id);
        // SAFETY: valid pointers (caller contract).
        let (d, queue) = unsafe { (handle(ducq), str_arg(queue)) };
        // SAFETY: readable for `size` bytes (caller contract).
        let payload = match unsafe { slice_arg(payload.cast(), size) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        let Ok(queue) = queue else {
            return ducq_state::DUCQ_EMSGINV;
        };
        match d.with_client(|c| on_client!(c, cl => nack_state(cl.enqueue(queue, payload)))) {
            Ok(Ok(n)) => {
                // SAFETY: `id` is writable (caller contract).
                unsafe { *id = n };
                ducq_state::DUCQ_OK
            }
            Ok(Err(state)) | Err(state) => state,
        }
    })
}

/// A NACK answer as its own state, so C sees `DUCQ_ENOTFOUND` rather
/// than `DUCQ_NACK`; other errors go on to the handle's error handling.
fn nack_state<T>(r: Result<T, Error>) -> Result<Result<T, ducq_state>, Error> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(Error::Nack { state, .. }) => Ok(Err(state.into())),
        Err(e) => Err(e),
    }
}

/// Becomes a consumer of `queue`, holding at most `prefetch` (1–10000)
/// unacknowledged messages; they arrive through `ducq_next_delivery`.
///
/// Thread rules of every `ducq_i` call: one thread at a time.
///
/// # Safety
/// `ducq` is a live handle and `queue` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_consume(
    ducq: *mut ducq_i,
    queue: *const c_char,
    prefetch: u32,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, queue);
        // SAFETY: valid pointers (caller contract).
        let (d, queue) = unsafe { (handle(ducq), str_arg(queue)) };
        let Ok(queue) = queue else {
            return ducq_state::DUCQ_EMSGINV;
        };
        match d.with_client(|c| on_client!(c, cl => nack_state(cl.consume(queue, prefetch)))) {
            Ok(r) => status(r),
            Err(state) => state,
        }
    })
}

/// Waits for the next message handed to this consumer (at most the
/// handle's timeout) and copies its payload into `buf` (`*size` bytes),
/// NUL-terminated; stores its length in `*size`, its id in `*id` and how
/// often it has been delivered in `*deliveries`. When `buf` is too small:
/// `DUCQ_EMSGSIZE`, `*size` set to the size needed, and the message stays
/// for the next call. Other messages that arrive meanwhile stay for
/// `ducq_receive`.
///
/// Thread rules of every `ducq_i` call: one thread at a time.
///
/// # Safety
/// `ducq` is a live handle; `id`, `deliveries` and `size` writable; `buf`
/// writable for `*size` bytes. Only used during the call.
#[no_mangle]
pub unsafe extern "C" fn ducq_next_delivery(
    ducq: *mut ducq_i,
    id: *mut u64,
    deliveries: *mut u32,
    buf: *mut c_char,
    size: *mut usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, id, deliveries, buf, size);
        // SAFETY: valid pointers (caller contract).
        let d = unsafe { handle(ducq) };
        let m = match d.with_client(|c| on_client!(c, cl => cl.next_delivery())) {
            Ok(m) => m,
            Err(state) => return state,
        };
        // SAFETY: `buf` and `size` as the caller guarantees.
        match unsafe { copy_out(&m.payload, buf, size) } {
            ducq_state::DUCQ_OK => {
                // SAFETY: writable (caller contract).
                unsafe {
                    *id = m.id;
                    *deliveries = m.deliveries;
                }
                ducq_state::DUCQ_OK
            }
            e => {
                let mut raw = message::format(
                    b"qmsg",
                    m.queue.as_bytes(),
                    format!("{} {}", m.id, m.deliveries).as_bytes(),
                );
                raw.push(b'\n');
                raw.extend_from_slice(&m.payload);
                d.unreceive(raw);
                e
            }
        }
    })
}

/// Acknowledges message `id` of `queue` and waits until the server has
/// made the removal durable. `DUCQ_ENOTFOUND`: the message is not in
/// flight for this consumer (acknowledged, redelivered, unknown).
///
/// Thread rules of every `ducq_i` call: one thread at a time.
///
/// # Safety
/// `ducq` is a live handle and `queue` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_queue_ack(
    ducq: *mut ducq_i,
    queue: *const c_char,
    id: u64,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, queue);
        // SAFETY: valid pointers (caller contract).
        let (d, queue) = unsafe { (handle(ducq), str_arg(queue)) };
        let Ok(queue) = queue else {
            return ducq_state::DUCQ_EMSGINV;
        };
        match d.with_client(|c| on_client!(c, cl => nack_state(cl.ack(queue, id)))) {
            Ok(r) => status(r),
            Err(state) => state,
        }
    })
}

/// Sends `payload_size` bytes of `payload` as a request to `route` and waits at
/// most `timeout_ms` for the reply, copied into `buf` (`*size` bytes) as
/// `ducq_next_delivery` does. `DUCQ_ENOTFOUND`: nobody serves `route`;
/// `DUCQ_ECONNCLOSED`: the member left before replying; `DUCQ_ERROR`: the
/// member's error reply;
/// `DUCQ_ETIMEOUT`: no reply in time; `DUCQ_EMSGSIZE`: `buf` too small
/// (`*size` set to the size needed; that reply is lost).
///
/// Thread rules of every `ducq_i` call: one thread at a time.
///
/// # Safety
/// `ducq` is a live handle, `route` NUL-terminated, `payload` readable for
/// `payload_size` bytes, `size` writable and `buf` writable for `*size`
/// bytes. All are only used during the call.
#[no_mangle]
pub unsafe extern "C" fn ducq_request(
    ducq: *mut ducq_i,
    route: *const c_char,
    payload: *const c_char,
    payload_size: usize,
    timeout_ms: u32,
    buf: *mut c_char,
    size: *mut usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(ducq, route, buf, size);
        // SAFETY: valid pointers (caller contract).
        let (d, route) = unsafe { (handle(ducq), str_arg(route)) };
        // SAFETY: readable for `payload_size` bytes (caller contract).
        let payload = match unsafe { slice_arg(payload.cast(), payload_size) } {
            Ok(p) => p,
            Err(e) => return e,
        };
        let Ok(route) = route else {
            return ducq_state::DUCQ_EMSGINV;
        };
        let wait = Duration::from_millis(u64::from(timeout_ms.max(1)));
        let reply = d.with_client(
            |c: &mut AnyClient| on_client!(c, cl => nack_state(cl.request(route, payload, wait))),
        );
        match reply {
            // SAFETY: `buf` and `size` as the caller guarantees.
            Ok(Ok(r)) => unsafe { copy_out(&r, buf, size) },
            Ok(Err(state)) | Err(state) => state,
        }
    })
}
