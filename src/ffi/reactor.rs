//! The broker for C: `ducq_reactor` — create (with the original's log
//! function), free, run (`ducq_loop`, `ducq_reactor_run`,
//! `ducq_loop_once`), stop, and ducq's listeners. Calls reach the reactor
//! through `FfiCtx` (see `access`).

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int, c_void};
use std::rc::Rc;
use std::time::Duration;

use super::access::FfiCtx;
use super::command::CCommands;
use super::log::{ducq_log_f, install};
use super::state::RawState;
use super::{boundary, boundary_state, nonnull, str_arg};
use crate::proto::State;
use crate::server::bridge::Sources;
use crate::server::{Level, Reactor, Settings, StopHandle};

/// A ducq broker: listeners, client connections, subscriptions, commands,
/// all driven by one thread (`ducq_loop`, `ducq_reactor_run` or
/// `ducq_loop_once`).
///
/// Made by `ducq_reactor_new_with_log` (or the `ducq_reactor_new()` macro),
/// freed by `ducq_reactor_free`. The handle a C command or callback
/// receives is the reactor itself when C created it, or a view valid for
/// that call only when Rust code did (`ducq-server --commands`).
pub struct ducq_reactor {
    stop: StopHandle,
    fd: c_int,
    pub(crate) ctx: Rc<FfiCtx>,
    /// `None` for a view lent to a callback.
    pub(crate) reactor: Option<UnsafeCell<Reactor>>,
}

impl ducq_reactor {
    /// A view for C callbacks of a reactor owned by Rust code.
    pub(crate) fn view(ctx: Rc<FfiCtx>) -> ducq_reactor {
        ducq_reactor {
            stop: ctx.stop.clone(),
            fd: -1,
            ctx,
            reactor: None,
        }
    }
}

/// Borrows a reactor handle for the length of one export.
///
/// # Safety
/// `r` is non-null and a live handle.
pub(crate) unsafe fn reactor_ref<'a>(r: *mut ducq_reactor) -> &'a ducq_reactor {
    // SAFETY: guaranteed by the caller; only shared references are made, the
    // mutable parts sit behind cells.
    unsafe { &*r }
}

fn new_reactor(logger: *mut c_void, logfunc: ducq_log_f) -> *mut ducq_reactor {
    // As the original: a peer gone while we write is an error, not a
    // signal that ends the program.
    // SAFETY: setting a signal's disposition to "ignore" has no
    // preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let Ok(mut reactor) = Reactor::new(Settings::default()) else {
        return std::ptr::null_mut();
    };
    let stop = reactor.stop_handle();
    let ctx = FfiCtx::new(stop.clone());
    if reactor
        .add_command_set(Box::new(CCommands::new(ctx.clone())))
        .is_err()
    {
        return std::ptr::null_mut();
    }
    // The descriptors C gives the reactor to poll, the original's way.
    let Ok(sources) = Sources::new() else {
        return std::ptr::null_mut();
    };
    if reactor.add_command_set(Box::new(sources.clone())).is_err() {
        return std::ptr::null_mut();
    }
    *ctx.sources.borrow_mut() = Some(sources);
    install(reactor.hub_mut().logger_mut(), logger, logfunc);
    let fd = reactor.fd();
    let handle = Box::into_raw(Box::new(ducq_reactor {
        stop,
        fd,
        ctx: ctx.clone(),
        reactor: Some(UnsafeCell::new(reactor)),
    }));
    ctx.set_owner(handle);
    handle
}

/// Creates a broker whose log lines go to `logfunc(logger, …)` (the
/// original's `ducq_log_f`, printf-style; `ducq_log_tofile` prints to a
/// file) and to the subscribers of the `LOG` route. With a NULL `logfunc`
/// lines only go to `LOG` subscribers (the `ducq_reactor_new()` macro).
/// Logs from the INFO level (`ducq_reactor_set_log_level`). It has no
/// listener yet. Like the original it sets `SIGPIPE` to be ignored.
///
/// `logger` is passed back untouched and must outlive the reactor. The log
/// function runs on the reactor's thread, in the middle of reactor work:
/// calls on this reactor (or handles it lent) from it are refused with
/// `DUCQ_ERROR`. Returns NULL when the operating system refuses (out of
/// descriptors). The caller owns the result and frees it with
/// `ducq_reactor_free`. The reactor and everything it lends belong to the
/// thread that runs it.
#[no_mangle]
pub extern "C" fn ducq_reactor_new_with_log(
    logger: *mut c_void,
    logfunc: ducq_log_f,
) -> *mut ducq_reactor {
    boundary(|| new_reactor(logger, logfunc))
}

/// `ducq_reactor_new_with_log(NULL, NULL)`, for callers that cannot use the
/// `ducq_reactor_new()` macro of `ducq_reactor.h` (which it shadows).
#[no_mangle]
pub extern "C" fn ducq_reactor_new() -> *mut ducq_reactor {
    boundary(|| new_reactor(std::ptr::null_mut(), None))
}

/// Frees a reactor: closes its listeners and connections (freeing the
/// handles it took over), releases its C commands (and the shared objects
/// they came from), its Lua commands and protocols.
///
/// `ducq_reactor_free(NULL)` is a no-op. Called from inside one of the
/// reactor's own callbacks, or on a view lent to a callback, it does nothing
/// (a running reactor cannot be freed under itself). Handles the reactor
/// lent and that were kept with `ducq_copy` stay safe to call and free: they
/// answer `DUCQ_ERROR` from then on.
///
/// # Safety
/// `reactor` is NULL or a handle from `ducq_reactor_new*` not yet freed; no
/// other thread uses it during the call.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_free(reactor: *mut ducq_reactor) {
    boundary(|| {
        if reactor.is_null() {
            return;
        }
        // SAFETY: a live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        if r.reactor.is_none() || !r.ctx.is_idle() {
            return;
        }
        r.ctx.set_owner(std::ptr::null_mut());
        r.ctx.release_handles();
        // The Lua host goes with the reactor, even while kept copies of
        // lent handles keep the shared context alive.
        let lua = r.ctx.lua.borrow_mut().take();
        // SAFETY: made by `Box::into_raw` in `new_reactor`, not borrowed now
        // (idle), and freed once (caller contract).
        drop(unsafe { Box::from_raw(reactor) });
        drop(lua);
    })
}

/// Runs the reactor: accepts clients (on its listeners and the descriptors
/// given to `ducq_reactor_add_server`), runs their commands (C commands run
/// on this thread), writes replies, until `ducq_reactor_stop` is called
/// (the original's never returned). A polling failure is logged.
///
/// Does nothing for NULL, on a view, or from a callback of this reactor
/// (it is already running); `ducq_reactor_run` says which.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_loop(reactor: *mut ducq_reactor) {
    // SAFETY: forwarded caller contract.
    let _ = unsafe { ducq_reactor_run(reactor) };
}

/// `ducq_loop` with a result: `DUCQ_OK` once stopped, `DUCQ_ECOMMLAYER`
/// when polling failed, `DUCQ_ENULL` for NULL, `DUCQ_ERROR` on a view or
/// from a callback of this reactor.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_run(reactor: *mut ducq_reactor) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        // SAFETY: live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        r.ctx.with_reactor(|re| {
            re.run().map_err(|e| {
                let text = format!("polling failed: {e}");
                re.hub_mut().log(Level::Error, "loop", "server", &text);
                State::ECommLayer
            })
        })?
    })
}

/// Runs one turn of the reactor: waits at most `timeout_ms` milliseconds for
/// activity (0 does not wait; a negative value waits until the reactor's
/// next timer), handles it, writes the replies, and returns.
///
/// For a host with its own event loop: wait until `ducq_reactor_fd` is
/// readable or `ducq_reactor_timeout_ms` elapsed, then call
/// `ducq_loop_once(reactor, 0)`. Errors as for `ducq_reactor_run`. A
/// stopped reactor still runs turns: the host decides when to stop calling.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_loop_once(reactor: *mut ducq_reactor, timeout_ms: c_int) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        // SAFETY: live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        r.ctx
            .with_reactor(|re| re.run_once(timeout).map_err(|_| State::ECommLayer))?
    })
}

/// The reactor's file descriptor: readable when `ducq_loop_once` has work.
/// Never close it. -1 for NULL or a view. Safe from callbacks.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_fd(reactor: *mut ducq_reactor) -> c_int {
    boundary(|| {
        if reactor.is_null() {
            return -1;
        }
        // SAFETY: live handle (caller contract).
        unsafe { reactor_ref(reactor) }.fd
    })
}

/// The longest a host loop may wait before calling `ducq_loop_once` again
/// even if the descriptor stays quiet (timers, backlogs), in milliseconds.
/// -1 for NULL, a view, or from a callback.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_timeout_ms(reactor: *mut ducq_reactor) -> c_int {
    boundary(|| {
        if reactor.is_null() {
            return -1;
        }
        // SAFETY: live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        r.ctx
            .with_reactor(|re| re.next_timeout().as_millis().min(i32::MAX as u128) as c_int)
            .unwrap_or(-1)
    })
}

/// Asks the reactor to stop: `ducq_loop` returns after the current turn.
///
/// The one function that may be called from any thread and from a signal
/// handler: it stores a flag and writes to an eventfd, nothing else (no
/// allocation, no lock). Also fine from the reactor's own callbacks. NULL is
/// a no-op.
///
/// # Safety
/// `reactor` is NULL or a handle that is not freed during the call.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_stop(reactor: *mut ducq_reactor) {
    boundary(|| {
        if reactor.is_null() {
            return;
        }
        // SAFETY: a live handle (caller contract); `stop` is never modified
        // after creation, so reading it while the loop runs elsewhere is no
        // data race.
        let stop = unsafe { &*std::ptr::addr_of!((*reactor).stop) };
        stop.stop();
    })
}

/// The state for a failed bind.
pub(crate) fn listen_error(e: &std::io::Error) -> State {
    if e.kind() == std::io::ErrorKind::InvalidInput {
        State::EMsgInv
    } else {
        State::ECommLayer
    }
}

/// Writes a bound port to an optional out-parameter.
///
/// # Safety
/// `out` is NULL or writable.
pub(crate) unsafe fn store_port(out: *mut u16, port: u16) {
    if !out.is_null() {
        // SAFETY: non-null and writable (caller contract).
        unsafe { *out = port };
    }
}

/// Which of ducq's listeners to open.
#[derive(Clone, Copy)]
enum Listener {
    Tcp,
    Http,
}

/// The body of the two listen calls.
///
/// # Safety
/// As for `ducq_reactor_listen_tcp`.
unsafe fn listen(
    reactor: *mut ducq_reactor,
    address: *const c_char,
    out_port: *mut u16,
    kind: Listener,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(address)?;
        // SAFETY: live handle and NUL-terminated string (caller contract).
        let (r, addr) = unsafe { (reactor_ref(reactor), str_arg(address)?) };
        let bound = r.ctx.with_reactor(|re| match kind {
            Listener::Tcp => re.listen_tcp(addr),
            Listener::Http => re.listen_http(addr),
        })?;
        let bound = bound.map_err(|e| listen_error(&e))?;
        // SAFETY: NULL or writable (caller contract).
        unsafe { store_port(out_port, bound.port()) };
        Ok(())
    })
}

/// Listens for length-framed TCP clients on `address` (`"0.0.0.0:59090"`,
/// `"127.0.0.1:0"` for any free port, `"[::1]:59090"`): ducq's way, beside
/// the original's `ducq_reactor_add_server`.
///
/// On success the bound port is stored in `*out_port` when `out_port` is not
/// NULL. `DUCQ_ENULL` for a NULL reactor or address, `DUCQ_EMSGINV` for an
/// address that does not parse, `DUCQ_ECOMMLAYER` when binding fails,
/// `DUCQ_ERROR` while the reactor is running or lent to a callback. The
/// address is only read during the call.
///
/// # Safety
/// `reactor` is NULL or a live handle, `address` NULL or a NUL-terminated
/// string, `out_port` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_listen_tcp(
    reactor: *mut ducq_reactor,
    address: *const c_char,
    out_port: *mut u16,
) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { listen(reactor, address, out_port, Listener::Tcp) }
}

/// Listens on `address` for HTTP/1.1 and WebSocket clients (one port for
/// both: a request asking for an upgrade becomes a WebSocket, any other is
/// served as HTTP, e.g. `POST /pub/<route>`, `GET /lscmd`,
/// `POST /cmd/<command>/<route>`). They reach the same commands and
/// subscriptions as TCP clients.
///
/// Arguments, ownership and errors as for `ducq_reactor_listen_tcp`.
///
/// # Safety
/// As for `ducq_reactor_listen_tcp`.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_listen_http(
    reactor: *mut ducq_reactor,
    address: *const c_char,
    out_port: *mut u16,
) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { listen(reactor, address, out_port, Listener::Http) }
}
