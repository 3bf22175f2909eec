//! Scripts written for the original CLI's Lua client (`ducq_lua -f
//! script.lua`): they set globals instead of calling an API — `host`,
//! `port`, `command`, `route`, `payload`, and the callbacks `onMessage`,
//! `onProtocol`, `onNack`, `onError`, `log`, `finalize`. After such a
//! script's main chunk, this connects, sends `command route\npayload`
//! (`lscmd *` by default), hands what arrives to the callbacks until one
//! returns non-zero, the connection ends or a signal comes, then calls
//! `finalize`. Behaviour only, from reading the original; none of its code.

use std::rc::Rc;

use mlua::{Function, Lua, Table, Value};

use super::conn::{ConnCell, Handlers};
use super::runloop::{self, runtime};
use super::target::target;
use crate::proto::message::format;

/// The callbacks that make a script one of the original's.
const CALLBACKS: [&str; 4] = ["onMessage", "onProtocol", "onNack", "onError"];

/// Whether the script defined one of the original's callbacks.
pub(crate) fn wanted(lua: &Lua) -> bool {
    let g = lua.globals();
    CALLBACKS
        .iter()
        .any(|name| matches!(g.raw_get::<Value>(*name), Ok(Value::Function(_))))
}

fn text(g: &Table, name: &str, default: &str) -> mlua::Result<String> {
    Ok(match g.raw_get::<Value>(name)? {
        Value::String(s) => s.to_string_lossy(),
        Value::Integer(n) => n.to_string(),
        Value::Number(n) => n.to_string(),
        _ => default.to_string(),
    })
}

fn function(g: &Table, name: &str) -> Option<Function> {
    match g.raw_get::<Value>(name) {
        Ok(Value::Function(f)) => Some(f),
        _ => None,
    }
}

/// A log line through the script's `log(level, text)` if it has one (as
/// the original routed its own log lines), else errors and warnings on
/// stderr.
pub(crate) fn log(lua: &Lua, level: &str, line: &str) {
    match function(&lua.globals(), "log") {
        Some(f) => {
            if let Err(e) = f.call::<()>((level, line)) {
                eprintln!("ducq lua: log: {}", crate::lua::report::describe(&e));
            }
        }
        None if level != "debug" && level != "info" => eprintln!("ducq lua: {line}"),
        None => {}
    }
}

/// Runs the original client's course for a script that set its globals.
/// An error (no connection, a failing callback) is returned after
/// `finalize` ran; a signal ends the run quietly, as it did.
pub(crate) fn drive(lua: &Lua) -> mlua::Result<()> {
    let result = listen(lua);
    let result = match result {
        Err(e) if super::signals::caught().is_some() => {
            log(lua, "debug", &crate::lua::report::describe(&e));
            Ok(())
        }
        other => other,
    };
    log(lua, "debug", "finalizing...");
    if let Some(f) = function(&lua.globals(), "finalize") {
        f.call::<()>(())?;
    }
    result
}

fn listen(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    let rt = runtime(lua)?;
    let host = text(&g, "host", &rt.defaults.host)?;
    let default_port = rt.defaults.port.map(|p| p.to_string()).unwrap_or_default();
    let port = text(&g, "port", &default_port)?;
    let command = text(&g, "command", "lscmd")?;
    let route = text(&g, "route", "*")?;
    let payload = text(&g, "payload", "")?;
    let addr = if port.is_empty() {
        host.clone()
    } else {
        format!("{host}:{port}")
    };
    log(lua, "debug", &addr);
    let (t, timeout) = target(&Value::String(lua.create_string(&addr)?), &rt.defaults)
        .map_err(mlua::Error::runtime)?;
    let conn = match ConnCell::open(t, timeout) {
        Ok(c) => c,
        Err(e) => {
            log(lua, "error", &e);
            return Err(mlua::Error::runtime(e));
        }
    };
    *conn.handlers.borrow_mut() = Handlers {
        message: function(&g, "onMessage"),
        protocol: function(&g, "onProtocol"),
        nack: function(&g, "onNack"),
        error: function(&g, "onError"),
    };
    rt.conns.borrow_mut().push(Rc::clone(&conn));
    log(lua, "debug", &format!("'{command} {route}\n{payload}'"));
    let msg = format(command.as_bytes(), route.as_bytes(), payload.as_bytes());
    if let Err(e) = conn.with(|c| c.send(&msg)) {
        return runloop::failed(lua, &conn, e).map(|_| ());
    }
    log(lua, "debug", "listening");
    runloop::run(lua, None).map(|_| ())
}
