//! Lua commands for C: `ducq_dispatcher_add`, under the original library's
//! names (`ducq_reactor_get_dispatcher` gives the dispatcher of a reactor).
//! The dispatcher handle is the reactor seen through another type: it lives
//! exactly as long as the reactor. The first path added creates the
//! reactor's Lua host ([`LuaCommands`], default limits) and adds it as a
//! command set; later paths go to the same host, which watches every path it
//! was given and reloads changed scripts on the reactor's thread.

use std::cell::RefCell;
use std::ffi::{c_char, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use super::reactor::ducq_reactor;
use super::state::ducq_state;
use super::{boundary, bytes_arg, nonnull};
use crate::lua::{LuaCommands, LuaLimits};
use crate::proto::State;

/// The command dispatcher of a reactor, where Lua scripts are added
/// (`ducq_dispatcher_add`). Obtained from `ducq_reactor_get_dispatcher`; it
/// is the reactor under another type, so it is valid as long as the reactor
/// (for a reactor lent to a callback, during the call) and is never freed
/// by itself.
pub struct ducq_dispatcher {
    _opaque: [u8; 0],
}

/// The dispatcher of `reactor`, for `ducq_dispatcher_add` (the original
/// library's way to reach it).
///
/// Not a new object: it is valid exactly as long as `reactor` and must not
/// be freed. NULL for NULL. Safe from callbacks.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_get_dispatcher(
    reactor: *mut ducq_reactor,
) -> *mut ducq_dispatcher {
    boundary(|| reactor.cast())
}

/// The reactor's Lua host, created and added as a command set on first use.
fn lua_host(r: &ducq_reactor) -> Result<Rc<RefCell<LuaCommands>>, ducq_state> {
    if let Some(host) = r.ctx.lua.borrow().as_ref() {
        return Ok(host.clone());
    }
    // Only an idle reactor takes a new command set: nothing is created
    // when it is running or lent.
    let host = r
        .with_reactor_pub(|re| {
            let host = LuaCommands::new(LuaLimits::default()).map_err(|e| e.state())?;
            let host = Rc::new(RefCell::new(host));
            re.add_command_set(Box::new(host.clone()))
                .map_err(|_| State::ECommLayer)?;
            Ok::<_, State>(host)
        })?
        .map_err(ducq_state::from)?;
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
/// and a C command of the same name (`ducq_reactor_add_command`) wins.
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
/// program lent to a callback), and from a log or codec callback. `path` is
/// only read during the call.
///
/// # Safety
/// `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
/// reactor; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_dispatcher_add(
    dispatcher: *mut ducq_dispatcher,
    path: *const c_char,
) -> ducq_state {
    boundary(|| {
        nonnull!(dispatcher, path);
        // SAFETY: a dispatcher is a live reactor under another type (caller
        // contract); only shared references are made.
        let r = unsafe { &*dispatcher.cast::<ducq_reactor>() };
        // SAFETY: NUL-terminated (caller contract).
        let path = Path::new(OsStr::from_bytes(unsafe { bytes_arg(path) }));
        let host = match lua_host(r) {
            Ok(h) => h,
            Err(e) => return e,
        };
        let added = r.ctx.with_hub(|hub| {
            let Ok(mut h) = host.try_borrow_mut() else {
                return ducq_state::DUCQ_ERROR;
            };
            let loaded = h.add_path(path);
            h.flush_log(hub);
            match loaded {
                Ok(l) => l.state().into(),
                Err(e) => e.state().into(),
            }
        });
        added.unwrap_or_else(|e| e)
    })
}
