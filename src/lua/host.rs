//! The Lua host: one Lua state on the reactor thread, the commands its files
//! define, and their reloading. Each file runs in an environment of its own
//! whose `commands` table collects what it defines, so reloading or
//! deleting a file replaces or removes exactly its commands. Every call runs
//! under an instruction budget and a memory limit; a script's failure is
//! logged and answered, never allowed to stop the server. This file does no
//! socket I/O: replies go through the hub lent for the call.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use mlua::{ChunkMode, Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

use super::api::{self, CallCtx, ConnHandle, HubLease, ReactorHandle};
use super::watch::{Change, Watcher};
use crate::proto::{Message, State};
use crate::server::commands;
use crate::server::{CommandSet, ConnId, Hub, Level};

/// Sandbox set up before any script runs.
const PRELUDE: &str = include_str!("prelude.lua");
/// Instructions between two checks of the budget.
const HOOK_STEP: u32 = 1000;
/// Log records kept while no hub is at hand (beyond, the oldest go).
const MAX_PENDING: usize = 1000;

/// Limits applied to scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LuaLimits {
    /// Most Lua VM instructions one call may run (a command, or a file being
    /// loaded) before it is stopped with `NACK 22` (default 10 000 000).
    pub instructions: u64,
    /// Most bytes the Lua state may hold, all scripts together (default
    /// 64 MiB). An allocation beyond fails with a Lua memory error.
    pub memory: usize,
}

impl Default for LuaLimits {
    fn default() -> LuaLimits {
        LuaLimits {
            instructions: 10_000_000,
            memory: 64 << 20,
        }
    }
}

/// Why the host could not start or take a path.
#[derive(Debug)]
pub enum LuaError {
    /// A path could not be read or found.
    Io {
        /// The path given.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The Lua state could not be set up.
    Lua(mlua::Error),
}

impl LuaError {
    /// The ducq state for this error (`EFILE` or `ELUA`), for the C ABI.
    pub fn state(&self) -> State {
        match self {
            LuaError::Io { .. } => State::EFile,
            LuaError::Lua(_) => State::ELua,
        }
    }
}

impl fmt::Display for LuaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LuaError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LuaError::Lua(e) => write!(f, "lua: {e}"),
        }
    }
}

impl std::error::Error for LuaError {}

impl From<mlua::Error> for LuaError {
    fn from(e: mlua::Error) -> LuaError {
        LuaError::Lua(e)
    }
}

/// What `add_path` loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Files that loaded.
    pub files: usize,
    /// Commands those files define.
    pub commands: usize,
    /// One line (`file:line: message`) per file that failed to load; such
    /// files are retried when they are written again.
    pub failed: Vec<String>,
}

impl Loaded {
    /// `OK`, or `ELUA` when a file failed to load (for the C ABI).
    pub fn state(&self) -> State {
        if self.failed.is_empty() {
            State::Ok
        } else {
            State::ELua
        }
    }
}

#[derive(Default)]
struct ProbeData {
    stack_top: AtomicI64,
    used_memory: AtomicUsize,
    calls: AtomicU64,
}

/// Readings of the Lua state taken after every command, readable from any
/// thread (tests, monitoring). A debugging aid: it changes nothing.
#[derive(Clone, Default)]
pub struct LuaProbe(Arc<ProbeData>);

impl LuaProbe {
    /// Values on the Lua stack after the last call (constant when the host
    /// keeps it balanced).
    pub fn stack_top(&self) -> i64 {
        self.0.stack_top.load(Ordering::Relaxed)
    }

    /// Bytes held by the Lua state after the last call.
    pub fn used_memory(&self) -> usize {
        self.0.used_memory.load(Ordering::Relaxed)
    }

    /// Commands run so far.
    pub fn calls(&self) -> u64 {
        self.0.calls.load(Ordering::Relaxed)
    }
}

/// The instruction budget of the call in progress.
#[derive(Default)]
struct Budget {
    left: std::cell::Cell<i64>,
    exhausted: std::cell::Cell<bool>,
}

impl Budget {
    fn reset(&self, instructions: u64) {
        self.left
            .set(i64::try_from(instructions).unwrap_or(i64::MAX));
        self.exhausted.set(false);
    }
}

/// One command a file defines.
struct Command {
    name: String,
    doc: String,
    exec: Function,
    file: PathBuf,
}

/// A file that loaded, with what it defines.
struct FileEntry {
    /// Load order: on a name defined twice, the latest load wins.
    seq: u64,
    /// Hash of the source, to skip rewrites that change nothing.
    hash: u64,
    commands: Vec<Rc<Command>>,
}

/// A path given to `add_path`: a folder, or one file in a folder.
struct Root {
    dir: PathBuf,
    only: Option<OsString>,
    wd: Option<i32>,
}

impl Root {
    fn accepts(&self, name: &OsStr) -> bool {
        match &self.only {
            Some(file) => file == name,
            None => is_script_name(name),
        }
    }
}

/// `x.lua`, not a hidden or backup file (`.x.lua.swp`, `x.lua~`, `4913`).
fn is_script_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.len() > 4 && b.ends_with(b".lua") && !b.starts_with(b".")
}

/// A name a client can send as a command word.
fn is_command_name(name: &str) -> bool {
    !name.is_empty() && !name.bytes().any(|b| b == b' ' || b == b'\n' || b == 0)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// `file:line` of the innermost Lua frame of a traceback.
fn location(traceback: &str) -> Option<&str> {
    traceback
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("[C]") && !l.starts_with("stack traceback"))
        .find_map(|l| l.find(": in ").map(|i| &l[..i]))
}

/// A one-line account of a Lua error, with its file and line when known.
fn describe(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { traceback, cause } => {
            let inner = describe(cause);
            match location(traceback) {
                Some(at) if !inner.contains(at) => format!("{at}: {inner}"),
                _ => inner,
            }
        }
        mlua::Error::WithContext { context, cause } => format!("{context}: {}", describe(cause)),
        mlua::Error::RuntimeError(s) => first_line(s).to_string(),
        mlua::Error::SyntaxError { message, .. } => first_line(message).to_string(),
        mlua::Error::MemoryError(_) => "out of memory (Lua memory limit reached)".to_string(),
        other => first_line(&other.to_string()).to_string(),
    }
}

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
    ctx: Rc<CallCtx>,
    budget: Rc<Budget>,
    msg_mt: Table,
    env_mt: Table,
    limits: LuaLimits,
    core: Vec<&'static str>,
    roots: Vec<Root>,
    files: BTreeMap<PathBuf, FileEntry>,
    index: HashMap<Vec<u8>, Rc<Command>>,
    seq: u64,
    watcher: Option<Watcher>,
    pending: Vec<(Level, String)>,
    probe: LuaProbe,
    main: *mut mlua::lua_State,
    // Last, so every Lua value above is released before the state closes.
    lua: Lua,
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
        let host = LuaCommands {
            ctx,
            budget,
            msg_mt,
            env_mt,
            limits,
            core: commands::core().iter().map(|b| b.name).collect(),
            roots: Vec::new(),
            files: BTreeMap::new(),
            index: HashMap::new(),
            seq: 0,
            watcher,
            pending,
            probe: LuaProbe::default(),
            main,
            lua,
        };
        host.probe
            .0
            .stack_top
            .store(host.stack_top(), Ordering::Relaxed);
        Ok(host)
    }

    /// Loads every `.lua` file of a folder (in name order) and watches the
    /// folder, or loads one file and watches it. Files that fail to load are
    /// logged and listed in the report; the path is watched all the same.
    pub fn add_path(&mut self, path: &Path) -> Result<Loaded, LuaError> {
        let io_err = |source| LuaError::Io {
            path: path.to_path_buf(),
            source,
        };
        let full = fs::canonicalize(path).map_err(io_err)?;
        let meta = fs::metadata(&full).map_err(io_err)?;
        let (dir, only) = if meta.is_dir() {
            (full.clone(), None)
        } else {
            let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
            (dir, full.file_name().map(OsStr::to_os_string))
        };
        let wd = match self.watcher.as_mut().map(|w| w.watch(&dir)) {
            Some(Ok(wd)) => Some(wd),
            Some(Err(e)) => {
                let text = format!("no hot reload for {}: {e}", dir.display());
                self.note(Level::Warn, text);
                None
            }
            None => None,
        };
        let root = Root { dir, only, wd };
        let files = if root.only.is_some() {
            vec![full]
        } else {
            scan(&root).map_err(io_err)?
        };
        let what = if wd.is_some() { "watching" } else { "loading" };
        self.note(Level::Info, format!("{what} {}", path.display()));
        self.roots.push(root);

        let mut report = Loaded::default();
        for file in files {
            match self.load_file(&file) {
                Ok(n) => {
                    report.files += 1;
                    report.commands += n;
                }
                Err(e) => report.failed.push(e),
            }
        }
        Ok(report)
    }

    /// Writes the log records kept while no hub was at hand (loading at
    /// start-up) to `hub`'s log. Done by itself at every command and reload.
    pub fn flush_log(&mut self, hub: &mut Hub) {
        for (level, text) in self.pending.drain(..) {
            hub.log(level, "lua", "server", &text);
        }
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

    fn note(&mut self, level: Level, text: String) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push((level, text));
    }

    /// Loads (or reloads) one file. Returns its number of commands, or the
    /// reason it failed; on failure its previous commands stay.
    fn load_file(&mut self, path: &Path) -> Result<usize, String> {
        let source = match fs::read(path) {
            Ok(s) => s,
            Err(e) => {
                let text = format!("{}: cannot read: {e}", path.display());
                self.note(Level::Error, text.clone());
                return Err(text);
            }
        };
        let mut h = DefaultHasher::new();
        source.hash(&mut h);
        let hash = h.finish();
        if let Some(old) = self.files.get(path) {
            if old.hash == hash {
                return Ok(old.commands.len());
            }
        }
        let defined = match self.run_file(path, &source) {
            Ok(d) => d,
            Err(e) => {
                let keep = if self.files.contains_key(path) {
                    "; its previous version stays"
                } else {
                    ""
                };
                let text = format!("failed to load {}{keep}", e);
                self.note(Level::Error, text);
                return Err(e);
            }
        };

        let mut names = Vec::new();
        let mut commands = Vec::new();
        for (name, doc, exec) in defined {
            if self.core.contains(&name.as_str()) {
                let text = format!(
                    "{}: '{name}' is a core command and cannot be replaced; ignored",
                    path.display()
                );
                self.note(Level::Warn, text);
                continue;
            }
            if let Some(other) = self.index.get(name.as_bytes()) {
                if other.file != path {
                    let text = format!(
                        "{}: '{name}' replaces the command of {}",
                        path.display(),
                        other.file.display()
                    );
                    self.note(Level::Warn, text);
                }
            }
            names.push(name.clone());
            commands.push(Rc::new(Command {
                name,
                doc,
                exec,
                file: path.to_path_buf(),
            }));
        }
        self.seq += 1;
        let entry = FileEntry {
            seq: self.seq,
            hash,
            commands,
        };
        let old = self.files.insert(path.to_path_buf(), entry);
        self.reindex();

        let verb = if old.is_some() { "reloaded" } else { "loaded" };
        let mut text = format!("{verb} {}: ", path.display());
        if names.is_empty() {
            text.push_str("no command");
        } else {
            text.push_str(&names.join(", "));
        }
        if let Some(old) = old {
            let gone: Vec<&str> = old
                .commands
                .iter()
                .map(|c| c.name.as_str())
                .filter(|n| !names.iter().any(|m| m == n))
                .collect();
            if !gone.is_empty() {
                text.push_str(&format!(" (removed: {})", gone.join(", ")));
            }
        }
        self.note(Level::Info, text);
        Ok(names.len())
    }

    /// Runs a file in an environment of its own and returns the commands it
    /// defines: its `commands` entries, or, for a file in the original's
    /// oldest style that fills no `commands` entry, each global function it
    /// defines (named after the function, with no doc).
    fn run_file(
        &mut self,
        path: &Path,
        source: &[u8],
    ) -> Result<Vec<(String, String, Function)>, String> {
        let lua = &self.lua;
        let fail = |e: mlua::Error| {
            let text = describe(&e);
            if text.starts_with(&path.display().to_string()) {
                text
            } else {
                format!("{}: {text}", path.display())
            }
        };
        let env = lua.create_table().map_err(fail)?;
        env.set_metatable(Some(self.env_mt.clone())).map_err(fail)?;
        let table = lua.create_table().map_err(fail)?;
        env.raw_set("commands", table.clone()).map_err(fail)?;
        self.budget.reset(self.limits.instructions);
        lua.load(source)
            .set_name(format!("@{}", path.display()))
            .set_mode(ChunkMode::Text)
            .set_environment(env.clone())
            .exec()
            .map_err(fail)?;

        let mut out = Vec::new();
        let mut warnings = Vec::new();
        for pair in table.pairs::<Value, Value>() {
            let (key, value) = pair.map_err(fail)?;
            let name = match &key {
                Value::String(s) => s.to_str().ok().map(|s| s.to_string()),
                _ => None,
            };
            let Some(name) = name.filter(|n| is_command_name(n)) else {
                warnings.push(format!(
                    "commands[{}] is not a valid command name",
                    key.to_string().unwrap_or_default()
                ));
                continue;
            };
            match value {
                Value::Function(f) => out.push((name, String::new(), f)),
                Value::Table(t) => {
                    let exec = t.get::<Value>("exec").map_err(fail)?;
                    let doc = t.get::<Value>("doc").map_err(fail)?;
                    let doc = match doc {
                        Value::Nil => String::new(),
                        v => v.to_string().unwrap_or_default(),
                    };
                    match exec {
                        Value::Function(f) => out.push((name, clean_doc(&doc), f)),
                        _ => warnings.push(format!("commands.{name} has no exec function")),
                    }
                }
                _ => warnings.push(format!("commands.{name} is not a table with exec")),
            }
        }
        if out.is_empty() && table.is_empty() {
            for pair in env.pairs::<Value, Value>() {
                let (key, value) = pair.map_err(fail)?;
                if let (Value::String(k), Value::Function(f)) = (key, value) {
                    match k.to_str() {
                        Ok(n) if is_command_name(&n) => out.push((n.to_string(), String::new(), f)),
                        _ => {}
                    }
                }
            }
        }
        for w in warnings {
            self.note(Level::Warn, format!("{}: {w}", path.display()));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Removes the commands of a file that is gone.
    fn unload(&mut self, path: &Path) {
        if let Some(old) = self.files.remove(path) {
            self.reindex();
            let names: Vec<&str> = old.commands.iter().map(|c| c.name.as_str()).collect();
            let text = format!("unloaded {}: {}", path.display(), names.join(", "));
            self.note(Level::Info, text);
        }
    }

    /// Rebuilds name → command, the latest load of a name winning.
    fn reindex(&mut self) {
        let mut entries: Vec<&FileEntry> = self.files.values().collect();
        entries.sort_by_key(|e| e.seq);
        self.index.clear();
        for e in entries {
            for c in &e.commands {
                self.index.insert(c.name.as_bytes().to_vec(), Rc::clone(c));
            }
        }
    }

    /// Runs `cmd` for `caller` with the hub lent to the script.
    fn call(&self, hub: &mut Hub, caller: ConnId, cmd: &Command, msg: &Message<'_>) -> Outcome {
        let msg = match api::msg_table(&self.lua, &self.msg_mt, msg) {
            Ok(t) => t,
            Err(e) => return Outcome::Failed(describe(&e)),
        };
        self.budget.reset(self.limits.instructions);
        let lease = HubLease::new(&self.ctx, hub, Some(caller));
        let result = cmd.exec.call::<Value>((ConnHandle(caller), msg));
        let replied = lease.replied();
        drop(lease);
        match result {
            Ok(v) => Outcome::Returned(state_of(v), replied),
            Err(e) => Outcome::Failed(describe(&e)),
        }
    }

    /// Reads the watcher and reloads or removes what changed.
    fn reload(&mut self) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let changes = match watcher.drain() {
            Ok(c) => c,
            Err(e) => {
                self.note(Level::Error, format!("reading the folder watcher: {e}"));
                return;
            }
        };
        let mut affected = BTreeSet::new();
        let mut rescan: Vec<usize> = Vec::new();
        for change in changes {
            match change {
                Change::File { wd, name } => {
                    for r in self.roots.iter().filter(|r| r.wd == Some(wd)) {
                        if r.accepts(&name) {
                            affected.insert(r.dir.join(&name));
                        }
                    }
                }
                Change::Gone { wd } => {
                    for (i, r) in self.roots.iter_mut().enumerate() {
                        if r.wd == Some(wd) {
                            r.wd = None;
                            rescan.push(i);
                        }
                    }
                }
                Change::Overflow => rescan.extend(0..self.roots.len()),
            }
        }
        rescan.sort_unstable();
        rescan.dedup();
        let mut stopped = Vec::new();
        for i in rescan {
            let root = &self.roots[i];
            if root.wd.is_none() {
                stopped.push(format!(
                    "stopped watching {} (moved or removed)",
                    root.dir.display()
                ));
            }
            if let Ok(found) = scan(root) {
                affected.extend(found);
            }
            for p in self.files.keys() {
                let known = p.parent() == Some(root.dir.as_path())
                    && p.file_name().is_some_and(|n| root.accepts(n));
                if known {
                    affected.insert(p.clone());
                }
            }
        }
        for text in stopped {
            self.note(Level::Warn, text);
        }
        for path in affected {
            if path.is_file() {
                let _ = self.load_file(&path);
            } else {
                self.unload(&path);
            }
        }
    }
}

/// The script files of a root, in name order.
fn scan(root: &Root) -> io::Result<Vec<PathBuf>> {
    if let Some(only) = &root.only {
        let p = root.dir.join(only);
        return Ok(if p.is_file() { vec![p] } else { Vec::new() });
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(&root.dir)? {
        let entry = entry?;
        let p = entry.path();
        if is_script_name(&entry.file_name()) && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// A doc fit for one lscmd line.
fn clean_doc(doc: &str) -> String {
    doc.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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
    /// limit answer `NACK 22` and are logged. A returned error state (3 and
    /// up) is answered with a NACK of that state only if the script sent the
    /// caller nothing; the script is otherwise responsible for its replies.
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
        if state.is_error() && !replied {
            Err(state)
        } else {
            Ok(())
        }
    }

    fn event_fd(&self) -> Option<RawFd> {
        self.watcher.as_ref().map(Watcher::fd)
    }

    fn on_event(&mut self, hub: &mut Hub) {
        self.reload();
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

    fn name(&self) -> &str {
        "lua"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names() {
        for ok in ["a.lua", "echo.lua", "x.y.lua"] {
            assert!(is_script_name(OsStr::new(ok)), "{ok}");
        }
        for no in [
            ".a.lua",
            ".x.lua.swp",
            "x.lua~",
            "4913",
            ".lua",
            "a.luac",
            "#a.lua#",
        ] {
            assert!(!is_script_name(OsStr::new(no)), "{no}");
        }
    }

    #[test]
    fn traceback_location() {
        let tb = "stack traceback:\n\t[C]: in ?\n\t/tmp/d/a.lua:3: in function 'exec'";
        assert_eq!(location(tb), Some("/tmp/d/a.lua:3"));
        assert_eq!(location("stack traceback:\n\t[C]: in ?"), None);
    }

    #[test]
    fn returned_states() {
        assert_eq!(state_of(Value::Nil), Ok(State::Ok));
        assert_eq!(state_of(Value::Integer(17)), Ok(State::ENoCmd));
        assert_eq!(state_of(Value::Number(15.0)), Ok(State::EMsgInv));
        assert_eq!(state_of(Value::Boolean(true)), Err("boolean"));
    }
}
