//! C commands: `struct ducq_cmd_t { name, doc, exec }` registered on a
//! reactor, or loaded from a folder of shared objects that each export a
//! `struct ducq_cmd_t command`. `CCommands` is the dispatcher's
//! [`CommandSet`] holding them; it lends C the reactor and the calling
//! connection for the length of one `exec`. Dispatch order and replies stay
//! the dispatcher's business.

use std::ffi::{c_char, c_void, CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use super::client::ducq_i;
use super::reactor::{ducq_reactor, flatten, FfiCtx};
use super::state::{ducq_state, RawState};
use super::{boundary, nonnull, str_arg};
use crate::proto::{Message, State};
use crate::server::{CommandSet, Hub, Level, Reactor};

/// A command's function: runs `message` (`size` bytes, NUL-terminated
/// copy: the command may modify it) sent by the client `ducq`.
///
/// `reactor` and `ducq` are lent for the call only (keep the client with
/// `ducq_copy`). The command replies itself through `ducq` (`ducq_send`,
/// `ducq_send_ack`, `ducq_parts` … `ducq_end`); sends are queued and written
/// after it returns. It returns `DUCQ_OK`, or an error state: when it sent
/// the client nothing, the client then gets a NACK with that state; either
/// way the error is logged. It runs on the reactor's thread and must not
/// block for long: every client waits meanwhile.
pub type ducq_exec_f = Option<
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
/// A shared object loaded by `ducq_reactor_load_commands` exports one of
/// these under the symbol name `command`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_cmd_t {
    /// The command word, NUL-terminated, no space or newline.
    pub name: *const c_char,
    /// One line of help for `lscmd` (may be NULL).
    pub doc: *const c_char,
    /// What it does.
    pub exec: ducq_exec_f,
}

type ExecFn = unsafe extern "C" fn(*mut ducq_reactor, *mut ducq_i, *mut c_char, usize) -> RawState;

/// One registered C command.
pub(crate) struct CCommand {
    name: String,
    doc: String,
    exec: ExecFn,
}

impl CCommand {
    /// Copies a C description; `None` when a field is missing or invalid.
    ///
    /// # Safety
    /// Non-null strings in `cmd` are NUL-terminated.
    unsafe fn from_c(cmd: &ducq_cmd_t) -> Result<CCommand, ducq_state> {
        nonnull_res(cmd.name)?;
        let exec = cmd.exec.ok_or(ducq_state::DUCQ_ENULL)?;
        // SAFETY: non-null and NUL-terminated (caller contract).
        let name = unsafe { str_arg(cmd.name) }?.to_owned();
        let doc = if cmd.doc.is_null() {
            String::new()
        } else {
            // SAFETY: non-null and NUL-terminated (caller contract).
            unsafe { str_arg(cmd.doc) }?.to_owned()
        };
        let bad = |c: char| c == ' ' || c == '\n' || c == '\0';
        if name.is_empty() || name.contains(bad) || doc.contains(['\n', '"']) {
            return Err(ducq_state::DUCQ_EMSGINV);
        }
        Ok(CCommand { name, doc, exec })
    }
}

fn nonnull_res<T>(p: *const T) -> Result<(), ducq_state> {
    if p.is_null() {
        Err(ducq_state::DUCQ_ENULL)
    } else {
        Ok(())
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

/// An open shared object; closed when dropped (after its commands).
pub(crate) struct Library(*mut c_void);

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: a handle from dlopen, closed once; its commands were
        // dropped before (FfiCtx drops `commands` first).
        unsafe { libc::dlclose(self.0) };
    }
}

/// Loads `path` and registers its `command`.
fn load_one(ctx: &FfiCtx, path: &Path) -> Result<String, String> {
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a NUL-terminated path; loading runs the object's initialisers,
    // which is what loading a command folder asks for.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(dl_error());
    }
    let lib = Library(handle);
    // SAFETY: a live handle and a NUL-terminated symbol name.
    let sym = unsafe { libc::dlsym(lib.0, c"command".as_ptr()) };
    if sym.is_null() {
        return Err("no symbol 'command'".into());
    }
    // SAFETY: the object exports `struct ducq_cmd_t command` (the folder's
    // contract); its strings are NUL-terminated and copied here.
    let cmd = unsafe { CCommand::from_c(&*sym.cast::<ducq_cmd_t>()) }
        .map_err(|e| format!("invalid 'command': {}", State::from(e).text()))?;
    let name = cmd.name.clone();
    register(ctx, cmd);
    ctx.libraries.borrow_mut().push(lib);
    Ok(name)
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated thread-local string
    // valid until the next dl call on this thread; it is copied at once.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "dlopen failed".into()
    } else {
        // SAFETY: as above.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

/// Loads every `*.so` of `dir` in name order; returns how many commands
/// loaded, reporting each file through `log`.
fn load_dir(ctx: &FfiCtx, dir: &Path, mut log: impl FnMut(Level, &str)) -> io::Result<usize> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "so") && p.is_file())
        .collect();
    files.sort();
    let mut loaded = 0;
    for path in files {
        match load_one(ctx, &path) {
            Ok(name) => {
                loaded += 1;
                log(
                    Level::Info,
                    &format!("loaded command '{name}' from {}", path.display()),
                );
            }
            Err(e) => log(Level::Warn, &format!("skipped {}: {e}", path.display())),
        }
    }
    Ok(loaded)
}

/// Loads the C commands of a folder of shared objects into `reactor`: each
/// `*.so` file exporting a `struct ducq_cmd_t command` adds that command
/// (listed by `lscmd`, dispatched like a built-in). Files that fail to load
/// are logged and skipped. Returns the number of commands loaded.
///
/// The objects call back into the ducq C API (`ducq_send_ack`, …), so the
/// program must export those symbols to shared objects (a C program links
/// with `-rdynamic`). Loading runs the objects' initialisers: only point it
/// at a folder you trust.
pub fn load_commands_dir(reactor: &mut Reactor, dir: &Path) -> io::Result<usize> {
    let ctx = FfiCtx::new(reactor.stop_handle());
    let hub = reactor.hub_mut();
    let loaded = load_dir(&ctx, dir, |level, text| {
        hub.log(level, "commands", "server", text)
    })?;
    reactor.add_command_set(Box::new(CCommands::new(ctx)))?;
    Ok(loaded)
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
        let (exec, name) = {
            let list = self.ctx.commands.borrow();
            let Some(cmd) = list.iter().find(|c| c.name.as_bytes() == msg.command) else {
                return Err(State::ENoCmd);
            };
            (cmd.exec, cmd.name.clone())
        };
        let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
        let mut message = Vec::with_capacity(msg.raw.len() + 1);
        message.extend_from_slice(msg.raw);
        message.push(0);
        let mut handle = ducq_i::lent(self.ctx.clone(), id);
        let mut view = None;
        let mut reactor = self.ctx.owner();
        if reactor.is_null() {
            reactor = view.insert(ducq_reactor::view(self.ctx.clone())) as *mut ducq_reactor;
        }
        let prev = self.ctx.begin_command(caller);
        let (handle_ptr, message_ptr) = (&mut handle as *mut ducq_i, message.as_mut_ptr());
        // SAFETY: a C function registered for this command; the reactor, the
        // handle and the message copy are lent for the call and outlive it,
        // and no Rust borrow of the hub is used until `lend` returns.
        let result = self.ctx.lend(hub as *mut Hub, || unsafe {
            exec(reactor, handle_ptr, message_ptr.cast(), msg.raw.len())
        });
        let replied = self.ctx.end_command(prev);
        drop(view);
        let state = result.state();
        if !state.is_error() {
            return Ok(());
        }
        let sender = hub.client_id(caller).unwrap_or_default();
        let text = format!("returned {}", State::from(state).name());
        hub.log(Level::Warn, &name, &sender, &text);
        if replied {
            Ok(())
        } else {
            Err(state.into())
        }
    }
}

/// Registers a C command on the reactor (replacing a C command of the same
/// name); clients call it by name and `lscmd` lists it. The core protocol
/// (`pub`, `sub`, `PING`, `PONG`, `lscmd` and their aliases) cannot be
/// replaced.
///
/// `cmd` and its strings are copied: they may be freed after the call; the
/// `exec` function must stay loaded while the reactor lives. Works while the
/// reactor is idle and from a running C command. `DUCQ_ENULL` for NULL
/// `reactor`, `cmd`, name or exec; `DUCQ_EMSGINV` for a name holding a space
/// or newline, or a doc holding a newline or a double quote.
///
/// # Safety
/// `reactor` is a live handle; `cmd` points to a valid `ducq_cmd_t` whose
/// non-null strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_add_command(
    reactor: *mut ducq_reactor,
    cmd: *const ducq_cmd_t,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, cmd);
        // SAFETY: a live handle and a valid description (caller contract).
        let (r, cmd) = unsafe { (&*reactor, &*cmd) };
        // SAFETY: as above.
        match unsafe { CCommand::from_c(cmd) } {
            Ok(c) => {
                register(&r.ctx, c);
                ducq_state::DUCQ_OK
            }
            Err(e) => e,
        }
    })
}

/// Loads a folder of C commands: every `*.so` file in `directory` that
/// exports `struct ducq_cmd_t command` registers it (as
/// `ducq_reactor_add_command` would). Files that fail to load are logged and
/// skipped; the number loaded is stored in `*count` when `count` is not NULL.
///
/// The objects call back into this API, so link the program with `-rdynamic`
/// (see docs/C-API.md). Loading runs the objects' initialisers: only load a
/// folder you trust. Objects stay loaded until the reactor is freed. Works
/// while the reactor is idle and from a C command. `DUCQ_ENULL` for NULL
/// reactor or directory, `DUCQ_EFILE` when the folder cannot be read,
/// `DUCQ_ERROR` from a log or codec callback (the commands are loaded, their
/// log lines are lost).
///
/// # Safety
/// `reactor` is a live handle, `directory` NUL-terminated, `count` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_load_commands(
    reactor: *mut ducq_reactor,
    directory: *const c_char,
    count: *mut usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, directory);
        // SAFETY: a live handle and a NUL-terminated path (caller contract).
        let (r, dir) = unsafe { (&*reactor, CStr::from_ptr(directory)) };
        let dir = Path::new(std::ffi::OsStr::from_bytes(dir.to_bytes()));
        let mut lines = Vec::new();
        let loaded = load_dir(&r.ctx, dir, |level, text| {
            lines.push((level, text.to_owned()))
        });
        let logged = flatten(r.ctx.with_hub(|hub| {
            for (level, text) in &lines {
                hub.log(*level, "commands", "server", text);
            }
            Ok(())
        }));
        match loaded {
            Ok(n) => {
                if !count.is_null() {
                    // SAFETY: non-null and writable (caller contract).
                    unsafe { *count = n };
                }
                logged
            }
            Err(_) => ducq_state::DUCQ_EFILE,
        }
    })
}
