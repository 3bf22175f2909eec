//! C commands: `struct ducq_cmd_t { name, doc, exec }`, registered on a
//! reactor (`ducq_reactor_add_command`) or exported by plugins (a folder of
//! shared objects, loaded by [`crate::server::plugins`]). `CCommands` is
//! the dispatcher's command set holding them: it lends C the reactor and
//! the caller's handle for the length of one `exec`, through the server's
//! hub lending and reply rule. Dispatch order and NACKs stay the
//! dispatcher's business.

use std::ffi::{c_char, CStr, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use super::access::FfiCtx;
use super::reactor::{ducq_reactor, reactor_ref};
use super::state::RawState;
use super::vtbl::ducq_i;
use super::{boundary_state, nonnull, str_arg};
use crate::proto::{Message, State};
use crate::server::lend::command_result;
use crate::server::plugins::{self, Library, Plugin};
use crate::server::{rules, CommandSet, Hub, Level, Reactor};

/// A command's function: runs `message` (`size` bytes, a NUL-terminated
/// copy the command may modify) sent by the client `ducq`.
///
/// `reactor` and `ducq` are lent for the call only (keep the client with
/// `ducq_copy`); `ducq` is the same pointer for the same client in every
/// callback. The command replies itself through `ducq` (`ducq_send`,
/// `ducq_send_ack`, `ducq_parts` … `ducq_end`); sends are queued and written
/// after it returns. It returns `DUCQ_OK`, or an error state: when it sent
/// the client nothing, the client then gets a NACK with that state; either
/// way the error is logged. It runs on the reactor's thread and must not
/// block for long: every client waits meanwhile.
pub type ducq_command_f = Option<
    unsafe extern "C" fn(
        reactor: *mut ducq_reactor,
        ducq: *mut ducq_i,
        message: *mut c_char,
        size: usize,
    ) -> RawState,
>;

/// A command written in C: its name (the first word of a message), the one
/// line `lscmd` shows, and its function.
///
/// A plugin (a shared object in a folder given to
/// `ducq_dispatcher_load_commands_path`, `ducq_reactor_load_commands` or
/// `ducq-server --commands`) exports one of these under the symbol name
/// `command`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_cmd_t {
    /// The command word, NUL-terminated, no space or newline.
    pub name: *const c_char,
    /// One line of help for `lscmd` (may be NULL).
    pub doc: *const c_char,
    /// What it does.
    pub exec: ducq_command_f,
}

type ExecFn = unsafe extern "C" fn(*mut ducq_reactor, *mut ducq_i, *mut c_char, usize) -> RawState;

/// One registered C command.
pub(crate) struct CCommand {
    name: String,
    doc: String,
    exec: ExecFn,
    /// The plugin it comes from, kept loaded while the command lives.
    library: Option<Rc<Library>>,
}

impl CCommand {
    /// Checks and copies a C description.
    ///
    /// # Safety
    /// Non-null strings in `cmd` are NUL-terminated.
    unsafe fn from_c(cmd: &ducq_cmd_t) -> Result<CCommand, State> {
        nonnull(cmd.name)?;
        let exec = cmd.exec.ok_or(State::ENull)?;
        // SAFETY: non-null and NUL-terminated (caller contract).
        let name = unsafe { str_arg(cmd.name) }?.to_owned();
        let doc = if cmd.doc.is_null() {
            String::new()
        } else {
            // SAFETY: non-null and NUL-terminated (caller contract).
            unsafe { CStr::from_ptr(cmd.doc) }
                .to_string_lossy()
                .into_owned()
        };
        rules::check_command_name(name.as_bytes())?;
        if rules::is_core_command(name.as_bytes()) {
            return Err(State::EMsgInv);
        }
        Ok(CCommand {
            name,
            doc,
            exec,
            library: None,
        })
    }

    /// A plugin's command.
    fn from_plugin(p: Plugin) -> CCommand {
        // SAFETY: the plugin exports `struct ducq_cmd_t command`, whose
        // `exec` is a `ducq_command_f`; the loader checked it points to code
        // in the loaded object, which `library` keeps loaded.
        let exec = unsafe { std::mem::transmute::<*const std::ffi::c_void, ExecFn>(p.exec) };
        CCommand {
            name: p.name,
            doc: p.doc,
            exec,
            library: Some(p.library),
        }
    }
}

/// Adds or replaces (same name) a command in a reactor's C command list.
fn register(ctx: &FfiCtx, cmd: CCommand) {
    let mut list = ctx.commands.borrow_mut();
    match list.iter_mut().find(|c| c.name == cmd.name) {
        Some(old) => *old = cmd,
        None => list.push(cmd),
    }
}

/// Loads the plugins of `dir` into `ctx`, logging each through `log`;
/// returns how many commands loaded.
fn load_dir(ctx: &FfiCtx, dir: &Path, log: impl FnMut(Level, String)) -> io::Result<usize> {
    let loaded = plugins::load_dir(dir, log)?;
    let n = loaded.len();
    for p in loaded {
        register(ctx, CCommand::from_plugin(p));
    }
    Ok(n)
}

/// Loads the command plugins of a folder into `reactor`: each `*.so` file
/// exporting a `struct ducq_cmd_t command` adds that command (listed by
/// `lscmd`, dispatched like a built-in). Files that cannot be used are
/// refused with a log line naming them and why. Returns the number of
/// commands loaded.
///
/// The objects call back into the ducq C API (`ducq_send_ack`, …), so the
/// program must export those symbols to shared objects (a C program links
/// with `-rdynamic`). Loading runs the objects' initialisers: only point it
/// at a folder you trust.
pub fn load_commands_dir(reactor: &mut Reactor, dir: &Path) -> io::Result<usize> {
    let ctx = FfiCtx::new(reactor.stop_handle());
    let hub = reactor.hub_mut();
    let loaded = load_dir(&ctx, dir, |level, text| {
        hub.log(level, "commands", "server", &text)
    })?;
    reactor.add_command_set(Box::new(CCommands::new(ctx)))?;
    Ok(loaded)
}

/// Loads a plugin folder into a C-owned reactor, logging through it.
pub(crate) fn load_into(ctx: &FfiCtx, dir: &Path) -> Result<usize, State> {
    let mut lines = Vec::new();
    let loaded = load_dir(ctx, dir, |level, text| lines.push((level, text)));
    let _ = ctx.with_hub(|hub| {
        for (level, text) in &lines {
            hub.log(*level, "commands", "server", text);
        }
    });
    loaded.map_err(|_| State::EFile)
}

/// The number of C commands of a reactor.
pub(crate) fn count(ctx: &FfiCtx) -> usize {
    ctx.commands.borrow().len()
}

/// The dispatcher's view of a reactor's C commands.
pub(crate) struct CCommands {
    ctx: Rc<FfiCtx>,
}

impl CCommands {
    pub(crate) fn new(ctx: Rc<FfiCtx>) -> CCommands {
        CCommands { ctx }
    }
}

impl CommandSet for CCommands {
    fn name(&self) -> &str {
        "c"
    }

    fn list(&self) -> Vec<(String, String)> {
        let list = self.ctx.commands.borrow();
        list.iter()
            .map(|c| (c.name.clone(), c.doc.clone()))
            .collect()
    }

    fn has(&self, name: &[u8]) -> bool {
        let list = self.ctx.commands.borrow();
        list.iter().any(|c| c.name.as_bytes() == name)
    }

    fn exec(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        let (exec, name, _library) = {
            let list = self.ctx.commands.borrow();
            let cmd = list
                .iter()
                .find(|c| c.name.as_bytes() == msg.command)
                .ok_or(State::ENoCmd)?;
            (cmd.exec, cmd.name.clone(), cmd.library.clone())
        };
        let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
        self.ctx.sweep(hub);
        let handle = self.ctx.lent_handle(id);
        let mut message = msg.raw.to_vec();
        message.push(0);
        let mut view = None;
        let mut reactor = self.ctx.owner();
        if reactor.is_null() {
            reactor = view.insert(ducq_reactor::view(self.ctx.clone())) as *mut ducq_reactor;
        }
        let message_ptr = message.as_mut_ptr().cast();
        // SAFETY: a C function registered for this command (its plugin kept
        // loaded by `_library`); the reactor, the handle and the message
        // copy are lent for the call and outlive it; the hub is reached
        // only through the slot until `lend` returns.
        let (rc, replied) = self.ctx.slot.lend(hub, Some(id), || unsafe {
            exec(reactor, handle, message_ptr, msg.raw.len())
        });
        drop(view);
        let state = rc.state();
        if state.is_error() {
            let sender = hub.client_id(caller).unwrap_or_default();
            let text = format!("returned {}", state.name());
            hub.log(Level::Warn, &name, &sender, &text);
        }
        command_result(state, replied)
    }
}

/// Registers a C command on the reactor (replacing a C command of the same
/// name); clients call it by name and `lscmd` lists it. The core protocol
/// (`pub`, `sub`, `PING`, `PONG`, `lscmd` and their aliases) cannot be
/// replaced: such a name gives `DUCQ_EMSGINV`.
///
/// `cmd` and its strings are copied: they may be freed after the call; the
/// `exec` function must stay loaded while the reactor lives. Works while the
/// reactor is idle and from a running C command. `DUCQ_ENULL` for NULL
/// `reactor`, `cmd`, name or exec; `DUCQ_EMSGINV` for a name holding a space
/// or newline (or not UTF-8).
///
/// # Safety
/// `reactor` is NULL or a live handle; `cmd` NULL or a valid `ducq_cmd_t`
/// whose non-null strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_add_command(
    reactor: *mut ducq_reactor,
    cmd: *const ducq_cmd_t,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(cmd)?;
        // SAFETY: a live handle and a valid description (caller contract).
        let (r, cmd) = unsafe { (reactor_ref(reactor), &*cmd) };
        // SAFETY: as above.
        let c = unsafe { CCommand::from_c(cmd) }?;
        register(&r.ctx, c);
        Ok(())
    })
}

/// Loads a folder of command plugins: every `*.so` file in `directory` that
/// exports a usable `struct ducq_cmd_t command` registers it (as
/// `ducq_reactor_add_command` would). Files that cannot be used (not a
/// shared object, no `command`, a `command` that is not such a struct, a
/// core command's name) are refused with a log line naming the file and the
/// reason; the number loaded is stored in `*count` when `count` is not
/// NULL. The original's call is `ducq_dispatcher_load_commands_path`.
///
/// The objects call back into this API, so link the program with `-rdynamic`
/// (see docs/C-API.md). Loading runs the objects' initialisers: only load a
/// folder you trust. Objects stay loaded until the reactor is freed. Works
/// while the reactor is idle and from a C command. `DUCQ_ENULL` for NULL
/// reactor or directory, `DUCQ_EFILE` when the folder cannot be read.
///
/// # Safety
/// `reactor` is NULL or a live handle, `directory` NULL or NUL-terminated,
/// `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_load_commands(
    reactor: *mut ducq_reactor,
    directory: *const c_char,
    count: *mut usize,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(directory)?;
        // SAFETY: a live handle and a NUL-terminated path (caller contract).
        let (r, dir) = unsafe { (reactor_ref(reactor), CStr::from_ptr(directory)) };
        let n = load_into(&r.ctx, Path::new(OsStr::from_bytes(dir.to_bytes())))?;
        if !count.is_null() {
            // SAFETY: non-null and writable (caller contract).
            unsafe { *count = n };
        }
        Ok(())
    })
}
