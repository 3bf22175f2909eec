//! The original's dispatcher calls. A reactor's dispatcher is the reactor
//! seen through another type (`ducq_reactor_get_dispatcher`): it lives
//! exactly as long as the reactor and is never freed by itself. Through it
//! C programs load plugin folders, Lua folders (the first path creates the
//! reactor's Lua host, [`LuaCommands`], and adds it as a command set), and
//! run a message for one of the reactor's clients.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use super::command;
use super::handle::{Handle, Kind};
use super::reactor::{ducq_reactor, reactor_ref};
use super::state::RawState;
use super::vtbl::ducq_i;
use super::{boundary, boundary_state, bytes_arg, nonnull, slice_arg};
use crate::lua::{LuaCommands, LuaLimits};
use crate::proto::State;

/// Where `ducq_dispatcher_load_commands_path(dispatcher, NULL)` looks, as
/// in the original.
const DEFAULT_COMMANDS: &CStr = c"/usr/local/lib/ducq_commands";

/// The command dispatcher of a reactor (`ducq_reactor_get_dispatcher`):
/// the reactor under another type, valid as long as the reactor (for a
/// reactor lent to a callback, during the call) and never freed by itself.
pub struct ducq_dispatcher {
    _opaque: [u8; 0],
}

/// The reactor a dispatcher handle is.
///
/// # Safety
/// `d` is non-null and from `ducq_reactor_get_dispatcher` on a live reactor.
unsafe fn reactor_of<'a>(d: *mut ducq_dispatcher) -> &'a ducq_reactor {
    // SAFETY: a dispatcher is a live reactor under another type (caller
    // contract).
    unsafe { reactor_ref(d.cast()) }
}

/// The dispatcher of `reactor`: not a new object, valid exactly as long as
/// `reactor`, never to be freed. NULL for NULL. Safe from callbacks.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_get_dispatcher(
    reactor: *mut ducq_reactor,
) -> *mut ducq_dispatcher {
    boundary(|| reactor.cast())
}

/// The original made a dispatcher per reactor here; ducq's reactor has its
/// own from the start, so this returns it (as
/// `ducq_reactor_get_dispatcher`). NULL for NULL.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_dispatcher_new(reactor: *mut ducq_reactor) -> *mut ducq_dispatcher {
    // SAFETY: forwarded caller contract.
    unsafe { ducq_reactor_get_dispatcher(reactor) }
}

/// A no-op: the dispatcher is freed with its reactor (`ducq_reactor_free`).
#[no_mangle]
pub extern "C" fn ducq_dispatcher_free(_dispatcher: *mut ducq_dispatcher) {}

/// Loads the command plugins of the folder `path` (NULL:
/// `/usr/local/lib/ducq_commands`, as the original): see
/// `ducq_reactor_load_commands`. `DUCQ_OK` when the folder was read (files
/// that could not be used are refused with a log line each), `DUCQ_EFILE`
/// when it cannot be read, `DUCQ_ENULL` for a NULL dispatcher.
///
/// # Safety
/// `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
/// reactor; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_dispatcher_load_commands_path(
    dispatcher: *mut ducq_dispatcher,
    path: *const c_char,
) -> RawState {
    boundary_state(|| {
        nonnull(dispatcher)?;
        let path = if path.is_null() {
            DEFAULT_COMMANDS.as_ptr()
        } else {
            path
        };
        // SAFETY: a live reactor; NUL-terminated (caller contract).
        let (r, path) = unsafe { (reactor_of(dispatcher), bytes_arg(path)?) };
        command::load_into(&r.ctx, Path::new(OsStr::from_bytes(path))).map(|_| ())
    })
}

/// The reactor's Lua host, created and added as a command set on first use.
fn lua_host(r: &ducq_reactor) -> Result<Rc<RefCell<LuaCommands>>, State> {
    if let Some(host) = r.ctx.lua.borrow().as_ref() {
        return Ok(host.clone());
    }
    // Only an idle reactor takes a new command set: nothing is created
    // when it is running or lent.
    let host = r.ctx.with_reactor(|re| {
        let host = LuaCommands::new(LuaLimits::default()).map_err(|e| e.state())?;
        let host = Rc::new(RefCell::new(host));
        re.add_command_set(Box::new(host.clone()))
            .map_err(|_| State::ECommLayer)?;
        Ok::<_, State>(host)
    })??;
    *r.ctx.lua.borrow_mut() = Some(host.clone());
    Ok(host)
}

/// Loads Lua commands into the reactor: every `.lua` file of the folder
/// `path` (in name order), or the one file `path`. Each file adds entries
/// to the global `commands` table (`commands.NAME = { doc = "...", exec =
/// function(ducq, msg) ... end }`, see docs/LUA.md); clients call them by
/// name and `lscmd` lists them. The path is watched: files written or moved
/// in are reloaded while the reactor runs, files removed take their
/// commands away. Scripts run with the default limits (10 000 000 VM
/// instructions a call, 64 MiB for all scripts); a script error is logged
/// and answered with a NACK, never fatal. Core commands cannot be replaced,
/// and a C command of the same name wins.
///
/// `DUCQ_OK` when every file loaded; `DUCQ_ELUA` when a file failed to load
/// (each failure is logged with its file and line; the other files are
/// loaded, and the failed one is retried when it is written again);
/// `DUCQ_EFILE` when `path` does not exist or cannot be read (nothing is
/// watched); `DUCQ_ENULL` for NULL arguments; `DUCQ_ECOMMLAYER` when the
/// reactor cannot poll the host's file watcher.
///
/// The first call creates the reactor's Lua host and must be made while the
/// reactor is idle (before `ducq_loop`, or between `ducq_loop_once` calls);
/// later calls add to the same host and also work from a C command.
/// `DUCQ_ERROR` otherwise (the reactor is running, or is a view a Rust
/// program lent to a callback), and from a log callback. `path` is only
/// read during the call.
///
/// # Safety
/// `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
/// reactor; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_dispatcher_add(
    dispatcher: *mut ducq_dispatcher,
    path: *const c_char,
) -> RawState {
    boundary_state(|| {
        nonnull(dispatcher)?;
        // SAFETY: a live reactor; NUL-terminated (caller contract).
        let (r, path) = unsafe { (reactor_of(dispatcher), bytes_arg(path)?) };
        let path = Path::new(OsStr::from_bytes(path));
        let host = lua_host(r)?;
        r.ctx.with_hub(|hub| {
            let mut h = host.try_borrow_mut().map_err(|_| State::Error)?;
            let loaded = h.add_path(path);
            h.flush_log(hub);
            match loaded {
                Ok(l) => match l.state() {
                    State::Ok => Ok(()),
                    s => Err(s),
                },
                Err(e) => Err(e.state()),
            }
        })?
    })
}

/// Reloads the Lua scripts whose files changed, as the reactor does by
/// itself when its file watcher is readable (the original registered this
/// as the watcher's accept callback). `fd` and `ctx` are not used. A no-op
/// for NULL, before any `ducq_dispatcher_add`, or when the reactor cannot
/// be reached.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_dispatcher_accept_notify(
    reactor: *mut ducq_reactor,
    _fd: c_int,
    _ctx: *mut c_void,
) {
    boundary(|| {
        if reactor.is_null() {
            return;
        }
        // SAFETY: a live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        let Some(host) = r.ctx.lua.borrow().clone() else {
            return;
        };
        let _ = r.ctx.with_hub(|hub| {
            if let Ok(mut h) = host.try_borrow_mut() {
                crate::server::CommandSet::on_event(&mut *h, hub);
            }
        });
    })
}

/// Runs the message `msg` (`size` bytes) as if the client `ducq` (a handle
/// the reactor lent, or a copy of one) had sent it: the command it names
/// answers that client. Returns `DUCQ_OK`, or the state the client was
/// answered a NACK with.
///
/// Works while the reactor is idle: `DUCQ_ERROR` while it runs (from a
/// callback). `DUCQ_ENOTFOUND` when `ducq` is not an open client of this
/// reactor, `DUCQ_ENULL` for NULL arguments.
///
/// # Safety
/// `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
/// reactor; `ducq` NULL or a live handle; `msg` readable for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_dispatch(
    dispatcher: *mut ducq_dispatcher,
    ducq: *mut ducq_i,
    msg: *mut c_char,
    size: usize,
) -> RawState {
    boundary_state(|| {
        nonnull(dispatcher)?;
        nonnull(ducq)?;
        // SAFETY: a live reactor and handle; `msg` readable (caller
        // contract).
        let (r, h, raw) = unsafe {
            (
                reactor_of(dispatcher),
                Handle::from_ptr(ducq),
                slice_arg(msg.cast(), size)?,
            )
        };
        let id = match h.map(|h| &h.kind) {
            Some(Kind::Server(s)) if s.belongs_to(&r.ctx) => s.conn(),
            _ => return Err(State::ENotFound),
        };
        r.ctx.with_reactor(|re| {
            let (hub, dispatcher) = re.parts_mut();
            let key = hub.resolve(id).ok_or(State::ENotFound)?;
            dispatcher.dispatch_state(hub, key, raw)
        })?
    })
}

/// The number of C commands the reactor holds (registered, or loaded from
/// plugins); -1 for NULL.
///
/// # Safety
/// `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
/// reactor.
#[no_mangle]
pub unsafe extern "C" fn ducq_dispatcher_count_cmds(dispatcher: *mut ducq_dispatcher) -> c_int {
    boundary(|| {
        if dispatcher.is_null() {
            return -1;
        }
        // SAFETY: a live reactor (caller contract).
        let r = unsafe { reactor_of(dispatcher) };
        c_int::try_from(command::count(&r.ctx)).unwrap_or(c_int::MAX)
    })
}
