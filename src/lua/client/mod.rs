//! Client scripts: `ducq lua SCRIPT.lua [ARGS]` runs a Lua file on the same
//! vendored Lua 5.4 as the server, with a small client API in the `Ducq`
//! module (`require("LuaDucq")`): connect over TCP or WebSocket, `pub`,
//! `sub`, `call`, `send`, `receive`, `listen` with callbacks, timers, and
//! the event loop `Ducq.run` (docs/LUA.md "Client scripts"). Scripts
//! written for the original CLI's Lua client, which set globals instead,
//! run unchanged (`compat`).
//!
//! A client script is the user's own program: it gets the whole standard
//! library and no instruction budget, unlike server scripts. It runs on
//! the calling thread and never inside a server.

use std::fmt;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Value, Variadic, VmState};

mod compat;
mod conn;
mod runloop;
mod signals;
mod target;

use super::report::describe;
use conn::{ConnCell, LuaConn};
use runloop::{runtime, Runtime};

/// Makes the API's errors plain Lua strings placed at the caller's line.
const WRAP: &str = include_str!("wrap.lua");

/// Where `Ducq.connect()` goes when the script does not say, and how long
/// it waits for a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOptions {
    /// Host (default `127.0.0.1`).
    pub host: String,
    /// Port (default 59090, or 59091 over WebSocket).
    pub port: Option<u16>,
    /// Connect over WebSocket.
    pub ws: bool,
    /// Connect and reply timeout (default 5 s).
    pub timeout: Duration,
}

impl Default for ScriptOptions {
    fn default() -> ScriptOptions {
        ScriptOptions {
            host: "127.0.0.1".into(),
            port: None,
            ws: false,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why a script did not end well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptError {
    /// The file could not be read.
    Io(String),
    /// It failed to compile or raised an error: one line, with the file
    /// and line where it happened (`script.lua:3: attempt to …`).
    Lua(String),
    /// SIGINT or SIGTERM ended it while it waited in `Ducq.run`.
    Interrupted(i32),
}

impl ScriptError {
    /// The exit status for it: 1, or 128 + the signal number.
    pub fn exit_code(&self) -> u8 {
        match self {
            ScriptError::Interrupted(sig) => u8::try_from(128 + sig).unwrap_or(130),
            _ => 1,
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptError::Io(s) | ScriptError::Lua(s) => f.write_str(s),
            ScriptError::Interrupted(sig) => write!(f, "interrupted (signal {sig})"),
        }
    }
}

impl std::error::Error for ScriptError {}

/// A duration in seconds from a script: finite, from 0 to 10⁹.
fn seconds(v: f64) -> mlua::Result<Duration> {
    if v.is_finite() && (0.0..1e9).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(mlua::Error::runtime(format!(
            "{v} is not a number of seconds"
        )))
    }
}

/// Runs the client script at `path` with `args` (its `...` and
/// `arg[1..]`; `arg[0]` is the path). When its main chunk returns without
/// having called `Ducq.run`, the callbacks and timers it set up run until
/// nothing is left to wait for (for a script in the original client's
/// style, until a callback ends the listening).
pub fn run_script(
    path: &Path,
    args: &[String],
    options: &ScriptOptions,
) -> Result<(), ScriptError> {
    let source =
        std::fs::read(path).map_err(|e| ScriptError::Io(format!("{}: {e}", path.display())))?;
    let lua = setup(path, args, options).map_err(|e| ScriptError::Lua(describe(&e)))?;
    let _catch = signals::Catch::install();
    let outcome = lua
        .load(&source[..])
        .set_name(format!("@{}", path.display()))
        .call::<()>(Variadic::from_iter(args.iter().cloned()))
        .and_then(|()| {
            if compat::wanted(&lua) {
                compat::drive(&lua)
            } else if runtime(&lua).is_ok_and(|rt| !rt.ran.get() && rt.has_work()) {
                runloop::run(&lua, None).map(|_| ())
            } else {
                Ok(())
            }
        });
    match outcome {
        Ok(()) => Ok(()),
        Err(_) if signals::caught().is_some() => Err(ScriptError::Interrupted(
            signals::caught().unwrap_or(libc::SIGINT),
        )),
        Err(e) => Err(ScriptError::Lua(describe(&e))),
    }
}

/// A Lua state with the standard library, the `Ducq` module (also
/// `require("LuaDucq")`), `arg`, and the script's folder on the module
/// path.
fn setup(path: &Path, args: &[String], options: &ScriptOptions) -> mlua::Result<Lua> {
    let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::default())?;
    // Ctrl-C stops Lua code too, even a loop that never calls the API.
    let every = HookTriggers::new().every_nth_instruction(10_000);
    lua.set_global_hook(every, |_, _| signals::check().map(|()| VmState::Continue))?;
    let msg_mt = super::api::msg_metatable(&lua)?;
    let module = super::api::ducq_module(&lua, &msg_mt)?;
    lua.set_app_data(Rc::new(Runtime::new(options.clone(), msg_mt)));

    module.set(
        "connect",
        lua.create_function(|lua, arg: Value| {
            let rt = runtime(lua)?;
            let (t, timeout) = target::target(&arg, &rt.defaults)
                .map_err(|e| mlua::Error::runtime(format!("connect: {e}")))?;
            let c = ConnCell::open(t, timeout).map_err(mlua::Error::runtime)?;
            rt.conns.borrow_mut().push(Rc::clone(&c));
            Ok(LuaConn(c))
        })?,
    )?;
    module.set(
        "after",
        lua.create_function(|lua, (secs, f): (f64, Function)| {
            runloop::add_timer(lua, secs, f, false)
        })?,
    )?;
    module.set(
        "every",
        lua.create_function(|lua, (secs, f): (f64, Function)| {
            runloop::add_timer(lua, secs, f, true)
        })?,
    )?;
    module.set(
        "run",
        lua.create_function(|lua, secs: Option<f64>| {
            let limit = secs.map(seconds).transpose()?;
            runloop::run(lua, limit).map(|e| e.name())
        })?,
    )?;
    module.set(
        "sleep",
        lua.create_function(|_, secs: f64| signals::sleep(seconds(secs)?))?,
    )?;

    let wrapped: mlua::Table = lua
        .load(WRAP)
        .set_name("=ducq client")
        .call((conn::methods(&lua)?, module.clone()))?;
    lua.set_named_registry_value(conn::METHODS, wrapped)?;

    let globals = lua.globals();
    globals.set("Ducq", module.clone())?;
    let loader = lua.create_function(move |_, _: Variadic<Value>| Ok(module.clone()))?;
    lua.preload_module("LuaDucq", loader)?;

    let arg = lua.create_table()?;
    arg.raw_set(0, path.display().to_string())?;
    for (i, a) in args.iter().enumerate() {
        arg.raw_set(i + 1, a.as_str())?;
    }
    globals.set("arg", arg)?;
    // The original client's -s/--silent.
    globals.set("silent", args.iter().any(|a| a == "-s" || a == "--silent"))?;

    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let package: mlua::Table = globals.get("package")?;
    let old: String = package.get("path")?;
    package.set("path", format!("{}/?.lua;{old}", dir.display()))?;
    Ok(lua)
}
