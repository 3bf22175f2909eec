//! The broker for C: `ducq_reactor` (create, listen, run, stop, free), its
//! log callback, the client loop and the broker-state functions C commands
//! use. Every access to the reactor goes through `FfiCtx`, which knows
//! whether the reactor is free, borrowed by Rust code (the loop is running),
//! or lent to a C callback; a call that would alias a live borrow is refused
//! with `DUCQ_ERROR` instead of being undefined behaviour.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::{c_char, c_int, c_void, CString};
use std::rc::Rc;
use std::time::Duration;

use super::client::ducq_i;
use super::command::{CCommand, CCommands, Library};
use super::state::ducq_state;
use super::{boundary, bytes_arg, copy_out, nonnull, slice_arg, str_arg};
use crate::lua::LuaCommands;
use crate::proto::message;
use crate::server::log::Record;
use crate::server::{Hub, Level, Reactor, Settings, StopHandle};

/// Severity of a log line, as the log callback receives it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ducq_log_level {
    /// Detail for debugging: every command.
    DUCQ_LOG_DEBUG = 0,
    /// Normal events: connections opening and closing.
    DUCQ_LOG_INFO = 1,
    /// Something was refused or dropped.
    DUCQ_LOG_WARNING = 2,
    /// Something failed.
    DUCQ_LOG_ERROR = 3,
    /// Nothing is logged (only as a level to set).
    DUCQ_LOG_OFF = 4,
}

/// A log level as C passes it in: any int. `ducq_log_level` in the header.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct RawLogLevel(pub c_int);

impl RawLogLevel {
    fn level(self) -> Level {
        match self.0 {
            i32::MIN..=0 => Level::Debug,
            1 => Level::Info,
            2 => Level::Warn,
            3 => Level::Error,
            _ => Level::Off,
        }
    }
}

fn c_level(level: Level) -> ducq_log_level {
    match level {
        Level::Debug => ducq_log_level::DUCQ_LOG_DEBUG,
        Level::Info => ducq_log_level::DUCQ_LOG_INFO,
        Level::Warn => ducq_log_level::DUCQ_LOG_WARNING,
        Level::Error => ducq_log_level::DUCQ_LOG_ERROR,
        Level::Off => ducq_log_level::DUCQ_LOG_OFF,
    }
}

/// The log callback: `logger` is the pointer given to
/// `ducq_reactor_new_with_log`; `function` (where it happened), `sender`
/// (the client id or `server`) and `text` are NUL-terminated and borrowed
/// for the call only.
pub type ducq_log_f = Option<
    unsafe extern "C" fn(
        logger: *mut c_void,
        level: ducq_log_level,
        function: *const c_char,
        sender: *const c_char,
        text: *const c_char,
    ),
>;

/// What a `ducq_reactor_loop` callback tells the loop.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ducq_loop_t {
    /// Go on with the next client.
    DUCQ_LOOP_CONTINUE = 0,
    /// Stop the loop.
    DUCQ_LOOP_BREAK = 1,
    /// Close this client (its pending output is dropped), then go on.
    DUCQ_LOOP_DELETE = 2,
}

/// A `ducq_loop_t` as C returns it: any int. `ducq_loop_t` in the header.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct RawLoop(pub c_int);

/// The callback of `ducq_reactor_loop`: called once per client connection
/// with a handle lent for the call and the `ctx` given to the loop.
pub type ducq_loop_f = Option<unsafe extern "C" fn(ducq: *mut ducq_i, ctx: *mut c_void) -> RawLoop>;

/// What the C-facing pieces of one reactor share: the C commands, and who
/// may touch the reactor right now.
pub(crate) struct FfiCtx {
    /// The hub while it is lent to a C callback; null otherwise.
    hub: Cell<*mut Hub>,
    /// Rust code holds a live borrow of the reactor or its hub: every entry
    /// that needs them is refused until it ends.
    locked: Cell<bool>,
    /// The C handle owning the reactor (null for a reactor owned by Rust
    /// code, and after `ducq_reactor_free`).
    owner: Cell<*mut ducq_reactor>,
    /// The connection whose C command is running, and whether that command
    /// sent it anything.
    caller: Cell<Option<usize>>,
    replied: Cell<bool>,
    pub(crate) commands: RefCell<Vec<CCommand>>,
    /// Shared objects whose commands are in `commands`; closed last.
    pub(crate) libraries: RefCell<Vec<Library>>,
    /// The Lua host of `ducq_dispatcher_add`, once created (also held by
    /// the reactor's dispatcher as a command set).
    pub(crate) lua: RefCell<Option<Rc<RefCell<LuaCommands>>>>,
    pub(crate) stop: StopHandle,
}

impl FfiCtx {
    pub(crate) fn new(stop: StopHandle) -> Rc<FfiCtx> {
        Rc::new(FfiCtx {
            hub: Cell::new(std::ptr::null_mut()),
            locked: Cell::new(false),
            owner: Cell::new(std::ptr::null_mut()),
            caller: Cell::new(None),
            replied: Cell::new(false),
            commands: RefCell::new(Vec::new()),
            libraries: RefCell::new(Vec::new()),
            lua: RefCell::new(None),
            stop,
        })
    }

    /// Runs `f` on the hub: the one lent to the current callback, or the
    /// owner's when the reactor is idle. `DUCQ_ERROR` when the reactor is
    /// borrowed (a log or codec callback calling back in, another entry
    /// running) or gone.
    pub(crate) fn with_hub<R>(&self, f: impl FnOnce(&mut Hub) -> R) -> Result<R, ducq_state> {
        if self.locked.get() {
            return Err(ducq_state::DUCQ_ERROR);
        }
        let mut hub = self.hub.get();
        if hub.is_null() {
            let owner = self.owner.get();
            if owner.is_null() {
                return Err(ducq_state::DUCQ_ERROR);
            }
            // SAFETY: a non-null owner is a live `ducq_reactor` (cleared by
            // `ducq_reactor_free`); nothing else borrows its reactor: the
            // reactor is not lent (hub is null) and not locked.
            let Some(cell) = (unsafe { &*owner }).reactor.as_ref() else {
                return Err(ducq_state::DUCQ_ERROR);
            };
            let reactor = cell.get();
            // SAFETY: as above; the borrow ends inside this function.
            hub = unsafe { (*reactor).hub_mut() };
        }
        self.locked.set(true);
        // SAFETY: `hub` is lent to this callback (or is the idle owner's)
        // and the lock keeps any other entry away until `f` returns.
        let result = boundary_keep(|| f(unsafe { &mut *hub }));
        self.locked.set(false);
        result.ok_or(ducq_state::DUCQ_UNKNOWN)
    }

    /// Runs C code with `hub` lent to it: entries made by that code reach
    /// the hub through `with_hub`. Restores the previous state afterwards.
    ///
    /// The caller must not use its own borrow of the hub until this returns.
    pub(crate) fn lend<R>(&self, hub: *mut Hub, f: impl FnOnce() -> R) -> R {
        let (prev_hub, prev_lock) = (self.hub.replace(hub), self.locked.replace(false));
        let result = f();
        self.hub.set(prev_hub);
        self.locked.set(prev_lock);
        result
    }

    /// Marks `key` as the connection whose command runs; returns the
    /// previous marks for `end_command`.
    pub(crate) fn begin_command(&self, key: usize) -> (Option<usize>, bool) {
        (self.caller.replace(Some(key)), self.replied.replace(false))
    }

    /// Whether the command that ran sent its caller anything; restores the
    /// previous marks.
    pub(crate) fn end_command(&self, prev: (Option<usize>, bool)) -> bool {
        let replied = self.replied.get();
        self.caller.set(prev.0);
        self.replied.set(prev.1);
        replied
    }

    /// Notes that `key` was sent something (a reply, when it is the caller).
    pub(crate) fn sent_to(&self, key: usize) {
        if self.caller.get() == Some(key) {
            self.replied.set(true);
        }
    }

    /// The handle to give C callbacks: the owner, when there is one.
    pub(crate) fn owner(&self) -> *mut ducq_reactor {
        self.owner.get()
    }
}

/// Like `boundary`, but keeps the panic as `None` for the caller to map.
fn boundary_keep<R>(f: impl FnOnce() -> R) -> Option<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// A ducq broker: listeners, client connections, subscriptions, commands,
/// all driven by one thread (`ducq_loop` or `ducq_loop_once`).
///
/// Made by `ducq_reactor_new`, freed by `ducq_reactor_free`. The handle a C
/// command or loop callback receives is the reactor itself when C created
/// it, or a view valid for that call only when Rust code did.
pub struct ducq_reactor {
    stop: StopHandle,
    fd: c_int,
    pub(crate) ctx: Rc<FfiCtx>,
    /// `None` for a view lent to a callback.
    reactor: Option<UnsafeCell<Reactor>>,
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

    /// `with_reactor` for the other ffi modules.
    pub(crate) fn with_reactor_pub<R>(
        &self,
        f: impl FnOnce(&mut Reactor) -> R,
    ) -> Result<R, ducq_state> {
        self.with_reactor(f)
    }

    /// Runs `f` with the whole reactor, refused while it is running, lent
    /// to a callback, or when this is a view.
    fn with_reactor<R>(&self, f: impl FnOnce(&mut Reactor) -> R) -> Result<R, ducq_state> {
        let Some(cell) = self.reactor.as_ref() else {
            return Err(ducq_state::DUCQ_ERROR);
        };
        if self.ctx.locked.get() || !self.ctx.hub.get().is_null() {
            return Err(ducq_state::DUCQ_ERROR);
        }
        self.ctx.locked.set(true);
        // SAFETY: not locked and not lent, so no other borrow of the reactor
        // is live; the lock keeps entries from callbacks away until `f` ends.
        let result = boundary_keep(|| f(unsafe { &mut *cell.get() }));
        self.ctx.locked.set(false);
        result.ok_or(ducq_state::DUCQ_UNKNOWN)
    }
}

/// Borrows a reactor handle for the length of one export.
///
/// # Safety
/// `r` is non-null and a live handle.
unsafe fn reactor_ref<'a>(r: *mut ducq_reactor) -> &'a ducq_reactor {
    // SAFETY: guaranteed by the caller; only shared references are made, the
    // mutable parts sit behind cells.
    unsafe { &*r }
}

fn new_reactor(
    hook: Option<(
        *mut c_void,
        unsafe extern "C" fn(
            *mut c_void,
            ducq_log_level,
            *const c_char,
            *const c_char,
            *const c_char,
        ),
    )>,
) -> *mut ducq_reactor {
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
    if let Some((logger, log)) = hook {
        reactor
            .hub_mut()
            .logger_mut()
            .set_hook(Box::new(move |rec: &Record<'_>| {
                let text = |s: &str| CString::new(s.replace('\0', " ")).unwrap_or_default();
                let (function, sender, line) =
                    (text(rec.function), text(rec.sender), text(rec.text));
                // SAFETY: the C function and its `logger` were handed over together
                // by `ducq_reactor_new_with_log`; the strings live for the call.
                // A callback re-entering the reactor is refused (it is locked).
                unsafe {
                    log(
                        logger,
                        c_level(rec.level),
                        function.as_ptr(),
                        sender.as_ptr(),
                        line.as_ptr(),
                    )
                };
            }));
    }
    let fd = reactor.fd();
    let handle = Box::into_raw(Box::new(ducq_reactor {
        stop,
        fd,
        ctx: ctx.clone(),
        reactor: Some(UnsafeCell::new(reactor)),
    }));
    ctx.owner.set(handle);
    handle
}

/// Creates a broker with the default limits, logging to stderr from the
/// INFO level. It has no listener yet.
///
/// Returns NULL when the operating system refuses (out of descriptors). The
/// caller owns the result and frees it with `ducq_reactor_free`. The reactor
/// and everything it lends belong to the thread that runs it.
#[no_mangle]
pub extern "C" fn ducq_reactor_new() -> *mut ducq_reactor {
    boundary(|| new_reactor(None))
}

/// Creates a broker whose log lines go to `log(logger, …)` instead of
/// stderr (they still reach subscribers of the `LOG` route).
///
/// `logger` is passed back untouched and must outlive the reactor. The log
/// function runs on the reactor's thread, in the middle of reactor work: it
/// may call `ducq_state_tostr` and client functions on its own handles, but
/// any call on this reactor (or on handles it lent) is refused with
/// `DUCQ_ERROR`. When `log` is NULL this is `ducq_reactor_new`. Ownership as
/// for `ducq_reactor_new`.
#[no_mangle]
pub extern "C" fn ducq_reactor_new_with_log(
    logger: *mut c_void,
    log: ducq_log_f,
) -> *mut ducq_reactor {
    boundary(|| new_reactor(log.map(|f| (logger, f))))
}

/// Frees a reactor: closes its listeners and connections, releases its C
/// commands (and the shared objects they came from), its Lua commands and
/// protocols.
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
        if r.reactor.is_none() || r.ctx.locked.get() || !r.ctx.hub.get().is_null() {
            return;
        }
        r.ctx.owner.set(std::ptr::null_mut());
        // The Lua host goes with the reactor, even while kept copies of
        // lent handles keep the shared context alive.
        let lua = r.ctx.lua.borrow_mut().take();
        // SAFETY: made by `Box::into_raw` in `new_reactor`, not borrowed now
        // (neither locked nor lent), and freed once (caller contract).
        drop(unsafe { Box::from_raw(reactor) });
        drop(lua);
    })
}

/// Sets the lowest level that is logged (default `DUCQ_LOG_INFO`;
/// `DUCQ_LOG_OFF` silences the log).
///
/// `DUCQ_ENULL` for a NULL reactor, `DUCQ_ERROR` from inside a callback.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_set_log_level(
    reactor: *mut ducq_reactor,
    level: RawLogLevel,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor);
        // SAFETY: live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        r.ctx
            .with_hub(|hub| hub.logger_mut().level = level.level())
            .err()
            .unwrap_or(ducq_state::DUCQ_OK)
    })
}

/// Listens for length-framed TCP clients on `address` (`"0.0.0.0:59090"`,
/// `"127.0.0.1:0"` for any free port, `"[::1]:59090"`).
///
/// On success the bound port is stored in `*out_port` when `out_port` is not
/// NULL. `DUCQ_ENULL` for a NULL reactor or address, `DUCQ_EMSGINV` for an
/// address that does not parse, `DUCQ_ECOMMLAYER` when binding fails,
/// `DUCQ_ERROR` while the reactor is running or lent to a callback. The
/// address is only read during the call.
///
/// # Safety
/// `reactor` is a live handle, `address` a NUL-terminated string,
/// `out_port` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_listen_tcp(
    reactor: *mut ducq_reactor,
    address: *const c_char,
    out_port: *mut u16,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, address);
        // SAFETY: live handle and NUL-terminated string (caller contract).
        let (r, addr) = unsafe { (reactor_ref(reactor), str_arg(address)) };
        let Ok(addr) = addr else {
            return ducq_state::DUCQ_EMSGINV;
        };
        let bound = match r.with_reactor(|re| re.listen_tcp(addr)) {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return listen_error(&e),
            Err(e) => return e,
        };
        // SAFETY: NULL or writable (caller contract).
        unsafe { store_port(out_port, bound.port()) };
        ducq_state::DUCQ_OK
    })
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
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, address);
        // SAFETY: live handle and NUL-terminated string (caller contract).
        let (r, addr) = unsafe { (reactor_ref(reactor), str_arg(address)) };
        let Ok(addr) = addr else {
            return ducq_state::DUCQ_EMSGINV;
        };
        let bound = match r.with_reactor(|re| re.listen_http(addr)) {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return listen_error(&e),
            Err(e) => return e,
        };
        // SAFETY: NULL or writable (caller contract).
        unsafe { store_port(out_port, bound.port()) };
        ducq_state::DUCQ_OK
    })
}

/// The state for a failed bind.
pub(crate) fn listen_error(e: &std::io::Error) -> ducq_state {
    if e.kind() == std::io::ErrorKind::InvalidInput {
        ducq_state::DUCQ_EMSGINV
    } else {
        ducq_state::DUCQ_ECOMMLAYER
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

/// Runs the reactor until `ducq_reactor_stop` is called: accepts clients,
/// runs their commands (C commands run on this thread), writes replies.
///
/// Returns `DUCQ_OK` once stopped, `DUCQ_ECOMMLAYER` when polling fails,
/// `DUCQ_ENULL` for NULL, and `DUCQ_ERROR` when called on a view, or from a
/// callback of this reactor (it is already running).
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_loop(reactor: *mut ducq_reactor) -> ducq_state {
    boundary(|| {
        nonnull!(reactor);
        // SAFETY: live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        match r.with_reactor(|re| re.run()) {
            Ok(Ok(())) => ducq_state::DUCQ_OK,
            Ok(Err(_)) => ducq_state::DUCQ_ECOMMLAYER,
            Err(e) => e,
        }
    })
}

/// Runs one turn of the reactor: waits at most `timeout_ms` milliseconds for
/// activity (0 does not wait; a negative value waits until the reactor's
/// next timer), handles it, writes the replies, and returns.
///
/// For a host with its own event loop: wait until `ducq_reactor_fd` is
/// readable or `ducq_reactor_timeout_ms` elapsed, then call
/// `ducq_loop_once(reactor, 0)`. Errors as for `ducq_loop`. A stopped
/// reactor still runs turns: the host decides when to stop calling.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_loop_once(
    reactor: *mut ducq_reactor,
    timeout_ms: c_int,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor);
        // SAFETY: live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match r.with_reactor(|re| re.run_once(timeout)) {
            Ok(Ok(())) => ducq_state::DUCQ_OK,
            Ok(Err(_)) => ducq_state::DUCQ_ECOMMLAYER,
            Err(e) => e,
        }
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
        r.with_reactor(|re| re.next_timeout().as_millis().min(i32::MAX as u128) as c_int)
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

/// Calls `apply(client, ctx)` for every client connection, in connection
/// order, until it returns `DUCQ_LOOP_BREAK`. `DUCQ_LOOP_DELETE` closes that
/// client (its pending output is dropped) and goes on; any other value
/// counts as `DUCQ_LOOP_BREAK`.
///
/// The `ducq_i` given to `apply` is lent for that call: it may be used with
/// `ducq_send`, `ducq_id`, `ducq_eq`, `ducq_copy` (to keep it), and
/// `ducq_reactor_*` functions, never freed. Works from a C command and while
/// the reactor is idle. `DUCQ_ENULL` for NULL reactor or apply; `DUCQ_ERROR`
/// when the reactor cannot be reached (from a log or codec callback).
///
/// # Safety
/// `reactor` is a live handle; `apply` is a valid function.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_loop(
    reactor: *mut ducq_reactor,
    apply: ducq_loop_f,
    ctx: *mut c_void,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor);
        let Some(apply) = apply else {
            return ducq_state::DUCQ_ENULL;
        };
        // SAFETY: live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        let fctx = r.ctx.clone();
        let keys = match fctx.with_hub(|hub| hub.clients()) {
            Ok(k) => k,
            Err(e) => return e,
        };
        for key in keys {
            // Only connections still open and in this hub are visited.
            let step = fctx.with_hub(|hub| {
                let id = hub.conn_id(key)?;
                hub.resolve(id)?;
                Some((id, hub as *mut Hub))
            });
            let (id, hub) = match step {
                Ok(Some(found)) => found,
                Ok(None) => continue,
                Err(e) => return e,
            };
            let mut handle = ducq_i::lent(fctx.clone(), id);
            let handle_ptr: *mut ducq_i = &mut handle;
            // SAFETY: a valid C function (caller contract); the handle and
            // the hub are lent for the call only, and no Rust borrow of the
            // hub is live meanwhile.
            let verdict = fctx.lend(hub, || unsafe { apply(handle_ptr, ctx) });
            match verdict.0 {
                0 => {}
                2 => {
                    let _ = fctx.with_hub(|hub| {
                        if let Some(k) = hub.resolve(id) {
                            hub.close(k, "deleted by the server");
                        }
                    });
                }
                _ => break,
            }
        }
        ducq_state::DUCQ_OK
    })
}

/// Subscribes the client `ducq` (a handle the reactor lent, or a copy of
/// one) to `route`, replacing its subscriptions, as its own `sub route`
/// would.
///
/// `DUCQ_ENULL` for NULL arguments, `DUCQ_ENOTFOUND` when `ducq` is not an
/// open client of this reactor, `DUCQ_EMSGINV` for an empty route,
/// `DUCQ_ERROR` when the reactor cannot be reached. The route is copied.
///
/// # Safety
/// `reactor` and `ducq` are live handles; `route` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_subscribe(
    reactor: *mut ducq_reactor,
    ducq: *mut ducq_i,
    route: *const c_char,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, ducq, route);
        // SAFETY: live handles, NUL-terminated route (caller contract).
        let (r, d, route) = unsafe { (reactor_ref(reactor), &*ducq, bytes_arg(route)) };
        if route.is_empty() {
            return ducq_state::DUCQ_EMSGINV;
        }
        let Some(id) = d.server_conn(&r.ctx) else {
            return ducq_state::DUCQ_ENOTFOUND;
        };
        flatten(r.ctx.with_hub(|hub| {
            let key = hub.resolve(id).ok_or(ducq_state::DUCQ_ENOTFOUND)?;
            hub.subs.subscribe(key, route, false);
            Ok(())
        }))
    })
}

/// Closes the client `ducq` (a handle the reactor lent, or a copy of one);
/// its pending output is dropped. The handle itself stays valid until the
/// callback ends (or until freed, for a copy).
///
/// `DUCQ_ENOTFOUND` when it is not an open client of this reactor; other
/// errors as for `ducq_reactor_subscribe`.
///
/// # Safety
/// `reactor` and `ducq` are live handles.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_delete(
    reactor: *mut ducq_reactor,
    ducq: *mut ducq_i,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, ducq);
        // SAFETY: live handles (caller contract).
        let (r, d) = unsafe { (reactor_ref(reactor), &*ducq) };
        let Some(id) = d.server_conn(&r.ctx) else {
            return ducq_state::DUCQ_ENOTFOUND;
        };
        flatten(r.ctx.with_hub(|hub| {
            let key = hub.resolve(id).ok_or(ducq_state::DUCQ_ENOTFOUND)?;
            hub.close(key, "deleted by the server");
            Ok(())
        }))
    })
}

/// Publishes as a client's `pub route\npayload` would: stores the message
/// as the route's last message and sends it to every matching subscriber.
///
/// `payload` (`payload_size` bytes, may be NULL when 0) and `route` are
/// copied. `DUCQ_EMSGINV` for an empty route or one holding a newline;
/// other errors as for `ducq_reactor_subscribe`.
///
/// # Safety
/// `reactor` is a live handle, `route` NUL-terminated, `payload` readable
/// for `payload_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_publish(
    reactor: *mut ducq_reactor,
    route: *const c_char,
    payload: *const c_char,
    payload_size: usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, route);
        // SAFETY: live handle, NUL-terminated route, readable payload.
        let (r, route, payload) = unsafe {
            (
                reactor_ref(reactor),
                bytes_arg(route),
                slice_arg(payload.cast(), payload_size),
            )
        };
        let Ok(payload) = payload else {
            return ducq_state::DUCQ_ENULL;
        };
        if route.is_empty() || route.contains(&b'\n') {
            return ducq_state::DUCQ_EMSGINV;
        }
        let msg = message::format(b"pub", route, payload);
        flatten(r.ctx.with_hub(|hub| {
            hub.publish(route, &msg);
            Ok(())
        }))
    })
}

/// Copies the last message published on `route` (the whole message, as its
/// publisher sent it) into `buffer`, NUL-terminated.
///
/// `*size` is the capacity of `buffer` on entry and the message length on
/// success. When it does not fit, `*size` receives the capacity needed and
/// `DUCQ_EMSGSIZE` is returned. `DUCQ_ENOTFOUND` when the route has none;
/// other errors as for `ducq_reactor_subscribe`.
///
/// # Safety
/// `reactor` is a live handle, `route` NUL-terminated, `buffer` writable
/// for `*size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_get_last_msg(
    reactor: *mut ducq_reactor,
    route: *const c_char,
    buffer: *mut c_char,
    size: *mut usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, route, buffer, size);
        // SAFETY: live handle, NUL-terminated route (caller contract).
        let (r, route) = unsafe { (reactor_ref(reactor), bytes_arg(route)) };
        flatten(r.ctx.with_hub(|hub| match hub.last.get(route) {
            // SAFETY: `buffer` writable for `*size` bytes (caller contract).
            Some(msg) => match unsafe { copy_out(msg, buffer, size) } {
                ducq_state::DUCQ_OK => Ok(()),
                e => Err(e),
            },
            None => Err(ducq_state::DUCQ_ENOTFOUND),
        }))
    })
}

/// Stores `msg` (`size` bytes, copied) as the last message of `route`, as
/// a publish would, without sending it to anyone.
///
/// Errors as for `ducq_reactor_subscribe`.
///
/// # Safety
/// `reactor` is a live handle, `route` NUL-terminated, `msg` readable for
/// `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_set_last_msg(
    reactor: *mut ducq_reactor,
    route: *const c_char,
    msg: *const c_char,
    size: usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, route);
        // SAFETY: live handle, NUL-terminated route, readable message.
        let (r, route, msg) = unsafe {
            (
                reactor_ref(reactor),
                bytes_arg(route),
                slice_arg(msg.cast(), size),
            )
        };
        let Ok(msg) = msg else {
            return ducq_state::DUCQ_ENULL;
        };
        if route.is_empty() {
            return ducq_state::DUCQ_EMSGINV;
        }
        flatten(r.ctx.with_hub(|hub| {
            hub.last.set(route, msg);
            Ok(())
        }))
    })
}

/// Logs a line through the reactor: to its log callback (or stderr) and to
/// subscribers of the `LOG` route, as `level,function,sender,text`.
///
/// `sender` may be NULL (`server`). The strings are copied. Errors as for
/// `ducq_reactor_subscribe` (`DUCQ_EMSGINV` for strings that are not UTF-8).
///
/// # Safety
/// `reactor` is a live handle; the strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_log(
    reactor: *mut ducq_reactor,
    level: RawLogLevel,
    function: *const c_char,
    sender: *const c_char,
    text: *const c_char,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, function, text);
        // SAFETY: live handle, NUL-terminated strings (caller contract).
        let (r, function, text) =
            unsafe { (reactor_ref(reactor), str_arg(function), str_arg(text)) };
        let sender = if sender.is_null() {
            Ok("server")
        } else {
            // SAFETY: NUL-terminated (caller contract).
            unsafe { str_arg(sender) }
        };
        let (Ok(function), Ok(sender), Ok(text)) = (function, sender, text) else {
            return ducq_state::DUCQ_EMSGINV;
        };
        flatten(r.ctx.with_hub(|hub| {
            hub.log(level.level(), function, sender, text);
            Ok(())
        }))
    })
}

/// `Result<Result<(), state>, state>` to one state.
pub(crate) fn flatten(r: Result<Result<(), ducq_state>, ducq_state>) -> ducq_state {
    match r {
        Ok(Ok(())) => ducq_state::DUCQ_OK,
        Ok(Err(e)) | Err(e) => e,
    }
}
