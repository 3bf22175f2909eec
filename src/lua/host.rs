//! The Lua host: one Lua state on the reactor thread, set up with its
//! sandbox, budget hook and memory limit, and run as a command set: a
//! command's script is called with the hub lent to it, and its failure is
//! logged and answered, never allowed to stop the server. Which files and
//! commands the host holds is `files`' business. This file does no socket
//! I/O: replies go through the hub lent for the call.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

use super::api::{self, CallCtx, ConnHandle, ReactorHandle};
use super::channels::HookRuntime;
use super::files::{Command, FileEntry, Root};
use super::limits::{Budget, LuaLimits, LuaProbe};
use super::report::{describe, LuaError};
use super::watch::Watcher;
use crate::proto::{Message, State};
use crate::server::lend::command_result;
use crate::server::{CommandSet, ConnId, Hub, Level};

/// Sandbox set up before any script runs.
const PRELUDE: &str = include_str!("prelude.lua");
/// Instructions between two checks of the budget.
const HOOK_STEP: u32 = 1000;
/// Log records kept while no hub is at hand (beyond, the oldest go).
const MAX_PENDING: usize = 1000;

/// How a call ended.
enum Outcome {
    /// Returned; the state, and whether the caller got a reply.
    Returned(Result<State, &'static str>, bool),
    /// Raised an error (or was stopped).
    Failed(String),
}

/// Commands defined by Lua files, reloaded when their files change. Add it
/// to a reactor with `Reactor::add_command_set`; the reactor then polls its
/// folder watcher.
///
/// ```no_run
/// use ducq::lua::{LuaCommands, LuaLimits};
/// use ducq::server::{Reactor, Settings};
/// let mut reactor = Reactor::new(Settings::default())?;
/// let mut lua = LuaCommands::new(LuaLimits::default())?;
/// lua.add_path("extensions".as_ref())?;
/// lua.flush_log(reactor.hub_mut());
/// reactor.add_command_set(Box::new(lua))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LuaCommands {
    pub(super) ctx: Rc<CallCtx>,
    pub(super) budget: Rc<Budget>,
    pub(super) msg_mt: Table,
    pub(super) env_mt: Table,
    pub(super) limits: LuaLimits,
    pub(super) roots: Vec<Root>,
    pub(super) files: BTreeMap<PathBuf, FileEntry>,
    pub(super) index: HashMap<Vec<u8>, Rc<Command>>,
    pub(super) seq: u64,
    pub(super) watcher: Option<Watcher>,
    pub(super) pending: Vec<(Level, String)>,
    pub(super) probe: LuaProbe,
    /// What channel hooks share with the host.
    pub(super) hook_rt: Rc<HookRuntime>,
    /// The files' channels changed since they were last handed to the hub.
    pub(super) channels_changed: bool,
    pub(super) main: *mut mlua::lua_State,
    // Last, so every Lua value above is released before the state closes.
    pub(super) lua: Lua,
}

impl LuaCommands {
    /// A host with no file yet, its sandbox and limits in place.
    pub fn new(limits: LuaLimits) -> Result<LuaCommands, LuaError> {
        let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::default())?;
        let ctx = Rc::new(CallCtx::default());
        lua.set_app_data(Rc::clone(&ctx));
        let budget = Rc::new(Budget::default());

        let msg_mt = api::msg_metatable(&lua)?;
        let module = api::ducq_module(&lua, &msg_mt)?;
        let globals = lua.globals();
        globals.set("Ducq", module.clone())?;
        globals.set("reactor", ReactorHandle)?;
        let loader = lua.create_function(move |_, _: mlua::Variadic<Value>| Ok(module.clone()))?;
        lua.preload_module("LuaDucq", loader)?;
        let b = Rc::clone(&budget);
        let exhausted = lua.create_function(move |_, ()| Ok(b.exhausted.get()))?;
        lua.load(PRELUDE)
            .set_name("=ducq prelude")
            .call::<()>(exhausted)?;
        let env_mt = lua.create_table()?;
        env_mt.set("__index", globals)?;

        // A global hook, so coroutines created by scripts count too.
        let b = Rc::clone(&budget);
        let every = HookTriggers::new().every_nth_instruction(HOOK_STEP);
        lua.set_global_hook(every, move |_, debug| {
            let left = b.left.get().saturating_sub(i64::from(HOOK_STEP));
            b.left.set(left);
            if left >= 0 {
                return Ok(VmState::Continue);
            }
            b.exhausted.set(true);
            let at = match (debug.source().short_src, debug.current_line()) {
                (Some(src), Some(line)) => format!(" at {src}:{line}"),
                _ => String::new(),
            };
            Err(mlua::Error::runtime(format!(
                "instruction budget exceeded{at}"
            )))
        })?;
        lua.set_memory_limit(limits.memory)?;

        let mut main: *mut mlua::lua_State = std::ptr::null_mut();
        // SAFETY: the closure only copies the state pointer; it calls no Lua
        // API and cannot fail.
        unsafe { lua.exec_raw::<()>((), |state| main = state)? };

        let mut pending = Vec::new();
        let watcher = match Watcher::new() {
            Ok(w) => Some(w),
            Err(e) => {
                pending.push((Level::Warn, format!("no hot reload: inotify: {e}")));
                None
            }
        };
        let probe = LuaProbe::default();
        let hook_rt = Rc::new(HookRuntime {
            ctx: Rc::clone(&ctx),
            budget: Rc::clone(&budget),
            limits,
            msg_mt: msg_mt.clone(),
            lua: lua.weak(),
            probe: probe.clone(),
        });
        let host = LuaCommands {
            ctx,
            budget,
            msg_mt,
            env_mt,
            limits,
            roots: Vec::new(),
            files: BTreeMap::new(),
            index: HashMap::new(),
            seq: 0,
            watcher,
            pending,
            probe,
            hook_rt,
            channels_changed: false,
            main,
            lua,
        };
        host.probe
            .0
            .stack_top
            .store(host.stack_top(), Ordering::Relaxed);
        Ok(host)
    }

    /// Writes the log records kept while no hub was at hand (loading at
    /// start-up) to `hub`'s log, and hands the hub the channels the files
    /// define when they changed. Done by itself when the host joins a
    /// reactor, at every command and at every reload.
    pub fn flush_log(&mut self, hub: &mut Hub) {
        for (level, text) in self.pending.drain(..) {
            hub.log(level, "lua", "server", &text);
        }
        self.sync_channels(hub);
    }

    /// `(name, doc)` of every Lua command, by name.
    pub fn commands(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .index
            .values()
            .map(|c| (c.name.clone(), c.doc.clone()))
            .collect();
        v.sort();
        v
    }

    /// A handle on readings taken after every command (Lua stack top, memory).
    pub fn probe(&self) -> LuaProbe {
        self.probe.clone()
    }

    /// Values on the Lua stack now: the same before and after any call.
    pub fn stack_top(&self) -> i64 {
        // SAFETY: `main` is the main thread of `self.lua`, which owns it and
        // outlives this call; we are on the thread that owns the state and
        // no Lua call is running (we hold `&self` outside any callback), and
        // lua_gettop only reads the current frame's size.
        i64::from(unsafe { mlua::ffi::lua_gettop(self.main) })
    }

    /// Bytes held by the Lua state.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    pub(super) fn note(&mut self, level: Level, text: String) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push((level, text));
    }

    /// Runs `cmd` for `caller` with the hub lent to the script.
    fn call(&self, hub: &mut Hub, caller: ConnId, cmd: &Command, msg: &Message<'_>) -> Outcome {
        let msg = match api::msg_table(&self.lua, &self.msg_mt, msg) {
            Ok(t) => t,
            Err(e) => return Outcome::Failed(describe(&e)),
        };
        self.budget.reset(self.limits.instructions);
        let (result, replied) = self.ctx.slot.lend(hub, Some(caller), || {
            cmd.exec.call::<Value>((ConnHandle(caller), msg))
        });
        match result {
            Ok(v) => Outcome::Returned(state_of(v), replied),
            Err(e) => Outcome::Failed(describe(&e)),
        }
    }
}

/// The state a command returned: nothing counts as OK; a number is a state
/// code (PROTOCOL.md §11); anything else is a mistake.
fn state_of(v: Value) -> Result<State, &'static str> {
    match v {
        Value::Nil => Ok(State::Ok),
        Value::Integer(i) => Ok(State::from_code(i)),
        Value::Number(n) if n.fract() == 0.0 => Ok(State::from_code(n as i64)),
        other => Err(other.type_name()),
    }
}

impl CommandSet for LuaCommands {
    fn list(&self) -> Vec<(String, String)> {
        self.commands()
    }

    fn has(&self, name: &[u8]) -> bool {
        self.index.contains_key(name)
    }

    /// Runs a Lua command. A run-time error, a spent budget or the memory
    /// limit answer `NACK 22` and are logged. A returned state follows the
    /// reply rule of [`command_result`]: an error the script did not answer
    /// itself gets a NACK.
    fn exec(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        self.flush_log(hub);
        let cmd = self.index.get(msg.command).cloned().ok_or(State::ENoCmd)?;
        let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
        let outcome = self.call(hub, id, &cmd, msg);
        let data = &self.probe.0;
        data.stack_top.store(self.stack_top(), Ordering::Relaxed);
        data.used_memory
            .store(self.lua.used_memory(), Ordering::Relaxed);
        data.calls.fetch_add(1, Ordering::Relaxed);

        let client = hub.client_id(caller).unwrap_or_default();
        let (state, replied) = match outcome {
            Outcome::Failed(text) => {
                let file = cmd.file.display().to_string();
                let text = if text.contains(&file) {
                    format!("'{}': {text}", cmd.name)
                } else {
                    format!("'{}' ({file}): {text}", cmd.name)
                };
                hub.log(Level::Error, "lua", &client, &text);
                return Err(State::ELua);
            }
            Outcome::Returned(Ok(state), replied) => (state, replied),
            Outcome::Returned(Err(ty), replied) => {
                let text = format!(
                    "'{}' ({}) returned a {ty}, not a state code",
                    cmd.name,
                    cmd.file.display()
                );
                hub.log(Level::Error, "lua", &client, &text);
                (State::ELua, replied)
            }
        };
        command_result(state, replied)
    }

    fn event_fd(&self) -> Option<RawFd> {
        self.watcher.as_ref().map(Watcher::fd)
    }

    fn on_event(&mut self, hub: &mut Hub) {
        self.reload();
        self.flush_log(hub);
    }

    fn on_attach(&mut self, hub: &mut Hub) {
        self.flush_log(hub);
    }

    fn name(&self) -> &str {
        "lua"
    }
}

/// A host shared between the reactor and its embedder, so paths can be
/// added after the set is in the reactor (the C ABI's
/// `ducq_dispatcher_add`). A call that finds the host busy (only possible
/// from inside one of its own commands) sees no command and changes nothing.
impl CommandSet for Rc<RefCell<LuaCommands>> {
    fn list(&self) -> Vec<(String, String)> {
        self.try_borrow().map(|h| h.commands()).unwrap_or_default()
    }

    fn has(&self, name: &[u8]) -> bool {
        self.try_borrow().is_ok_and(|h| h.has(name))
    }

    fn exec(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        match self.try_borrow_mut() {
            Ok(mut h) => h.exec(hub, caller, msg),
            Err(_) => Err(State::ELua),
        }
    }

    fn event_fd(&self) -> Option<RawFd> {
        self.try_borrow().ok().and_then(|h| h.event_fd())
    }

    fn on_event(&mut self, hub: &mut Hub) {
        if let Ok(mut h) = self.try_borrow_mut() {
            h.on_event(hub);
        }
    }

    fn on_attach(&mut self, hub: &mut Hub) {
        if let Ok(mut h) = self.try_borrow_mut() {
            h.on_attach(hub);
        }
    }

    fn name(&self) -> &str {
        "lua"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_states() {
        assert_eq!(state_of(Value::Nil), Ok(State::Ok));
        assert_eq!(state_of(Value::Integer(17)), Ok(State::ENoCmd));
        assert_eq!(state_of(Value::Number(15.0)), Ok(State::EMsgInv));
        assert_eq!(state_of(Value::Boolean(true)), Err("boolean"));
    }
}
