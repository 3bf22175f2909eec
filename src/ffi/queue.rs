//! Durable queues and request/reply for C clients, on a `ducq_i` handle
//! made by ducq: `ducq_enqueue`, `ducq_consume`, `ducq_next_delivery`,
//! `ducq_queue_ack`, `ducq_request`. Conversion and checks only; the
//! protocol is `crate::client::queue`'s (PROTOCOL.md §14). A handle written
//! in C (its own `ducq_vtbl`) gets `DUCQ_ENOIMPL`: these calls need the
//! client's waits, which only ducq's handles have.

use std::ffi::c_char;
use std::time::Duration;

use super::client::{on_client, AnyClient};
use super::handle::Handle;
use super::state::RawState;
use super::vtbl::ducq_i;
use super::{boundary_state, copy_out, nonnull, slice_arg, str_arg};
use crate::client::Error;
use crate::proto::{message, State};

/// The ducq-made handle behind `ducq` (`ENoImpl` for a C-written one).
///
/// # Safety
/// `ducq` is a live handle.
unsafe fn own_handle<'a>(ducq: *mut ducq_i) -> Result<&'a mut Handle, State> {
    nonnull(ducq)?;
    // SAFETY: a live handle (caller contract).
    unsafe { Handle::from_ptr(ducq) }.ok_or(State::ENoImpl)
}

/// A NUL-terminated name as UTF-8 (`EMsgInv` otherwise, `ENull` for NULL).
///
/// # Safety
/// `p` is NULL or NUL-terminated, valid for `'a`.
unsafe fn name_arg<'a>(p: *const c_char) -> Result<&'a str, State> {
    nonnull(p)?;
    // SAFETY: non-null and NUL-terminated (caller contract).
    unsafe { str_arg(p) }
}

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
) -> RawState {
    boundary_state(|| {
        nonnull(id)?;
        // SAFETY: valid pointers (caller contract).
        let (h, queue) = unsafe { (own_handle(ducq)?, name_arg(queue)?) };
        // SAFETY: readable for `size` bytes (caller contract).
        let payload = unsafe { slice_arg(payload.cast(), size) }?;
        let n =
            h.with_client(|c| on_client!(c, cl => nack_state(cl.enqueue(queue, payload))))??;
        // SAFETY: `id` is writable (caller contract).
        unsafe { *id = n };
        Ok(())
    })
}

/// A NACK answer as its own state, so C sees `DUCQ_ENOTFOUND` rather
/// than `DUCQ_NACK`; other errors go on to the handle's error handling.
fn nack_state<T>(r: Result<T, Error>) -> Result<Result<T, State>, Error> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(Error::Nack { state, .. }) => Ok(Err(state)),
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
) -> RawState {
    boundary_state(|| {
        // SAFETY: valid pointers (caller contract).
        let (h, queue) = unsafe { (own_handle(ducq)?, name_arg(queue)?) };
        h.with_client(|c| on_client!(c, cl => nack_state(cl.consume(queue, prefetch))))?
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
) -> RawState {
    boundary_state(|| {
        for p in [id.cast::<u8>(), deliveries.cast(), buf.cast(), size.cast()] {
            nonnull(p)?;
        }
        // SAFETY: a valid pointer (caller contract).
        let h = unsafe { own_handle(ducq)? };
        let m = h.with_client(|c| on_client!(c, cl => cl.next_delivery()))?;
        // SAFETY: `buf` and `size` as the caller guarantees.
        if let Err(e) = unsafe { copy_out(&m.payload, buf, size) } {
            // Too small: the message stays for the next call.
            let mut raw = message::format(
                b"qmsg",
                m.queue.as_bytes(),
                format!("{} {}", m.id, m.deliveries).as_bytes(),
            );
            raw.push(b'\n');
            raw.extend_from_slice(&m.payload);
            h.unreceive(raw);
            return Err(e);
        }
        // SAFETY: writable (caller contract).
        unsafe {
            *id = m.id;
            *deliveries = m.deliveries;
        }
        Ok(())
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
) -> RawState {
    boundary_state(|| {
        // SAFETY: valid pointers (caller contract).
        let (h, queue) = unsafe { (own_handle(ducq)?, name_arg(queue)?) };
        h.with_client(|c| on_client!(c, cl => nack_state(cl.ack(queue, id))))?
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
) -> RawState {
    boundary_state(|| {
        nonnull(buf)?;
        nonnull(size)?;
        // SAFETY: valid pointers (caller contract).
        let (h, route) = unsafe { (own_handle(ducq)?, name_arg(route)?) };
        // SAFETY: readable for `payload_size` bytes (caller contract).
        let payload = unsafe { slice_arg(payload.cast(), payload_size) }?;
        let wait = Duration::from_millis(u64::from(timeout_ms.max(1)));
        let reply = h.with_client(
            |c: &mut AnyClient| on_client!(c, cl => nack_state(cl.request(route, payload, wait))),
        )??;
        // SAFETY: `buf` and `size` as the caller guarantees.
        unsafe { copy_out(&reply, buf, size) }
    })
}
