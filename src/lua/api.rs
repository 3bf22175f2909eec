//! What scripts see: connection handles (the `ducq` argument of `exec` and
//! the clients of `ducq:clients()`), the global `reactor`, message tables
//! and the `LuaDucq` module. A handle holds a `ConnId`, never a reference,
//! so one kept past its connection's life is stale, not dangling: its
//! `send` answers ENOTFOUND. The hub is reachable only while the host lends
//! it for a call, through the server's [`HubSlot`]; sending, walking the
//! clients and publishing go through the server's shared rules
//! ([`crate::server::clients`], [`crate::server::actions`]).

use std::cell::Cell;
use std::rc::Rc;

use mlua::{
    AnyUserData, Function, Lua, MetaMethod, Table, UserData, UserDataFields, UserDataMethods,
    Value, Variadic,
};

use crate::proto::{message, route, state, Message, State, ACK};
use crate::server::clients::{self, WalkError};
use crate::server::{actions, ConnId, Hub, HubSlot, Level};

/// `reactor:loop` callback result: go on with the next client.
pub const LOOP_CONTINUE: i64 = clients::LOOP_CONTINUE;
/// `reactor:loop` callback result: stop after this client.
pub const LOOP_STOP: i64 = clients::LOOP_BREAK;
/// `reactor:loop` callback result: close this client (combinable with
/// `LOOP_STOP` by `|` or `+`).
pub const LOOP_DELETE: i64 = clients::LOOP_DELETE;

/// State shared by the host and the Lua callbacks during one call.
#[derive(Default)]
pub(crate) struct CallCtx {
    /// The hub lent for the call in progress.
    pub(crate) slot: HubSlot,
    /// `reactor:loop` calls in progress, one inside another.
    loops: Cell<u32>,
}

/// Most `reactor:loop` calls nested inside each other. Each level stacks
/// Rust frames between two Lua calls, which Lua's own C-call limit does not
/// bound tightly enough for a small thread stack.
const MAX_NESTED_LOOPS: u32 = 8;

/// The host's call context.
pub(crate) fn call_ctx(lua: &Lua) -> mlua::Result<Rc<CallCtx>> {
    lua.app_data_ref::<Rc<CallCtx>>()
        .map(|c| Rc::clone(&c))
        .ok_or_else(|| mlua::Error::runtime("ducq: no host"))
}

fn unreachable() -> mlua::Error {
    mlua::Error::runtime("ducq: connections are reachable only while a command runs")
}

/// Runs `f` with the lent hub (see [`HubSlot::with`]). `f` must not run Lua
/// code.
pub(crate) fn with_hub<R>(lua: &Lua, f: impl FnOnce(&mut Hub) -> R) -> mlua::Result<R> {
    call_ctx(lua)?.slot.with(f).map_err(|_| unreachable())
}

/// A connection as scripts see it: `ducq` in `exec(ducq, msg)`, and each
/// client of `ducq:clients()` / `reactor:loop`.
#[derive(Clone, Copy)]
pub(crate) struct ConnHandle(pub(crate) ConnId);

/// Sends `bytes` to `id`: the state code scripts get back.
fn send(lua: &Lua, id: ConnId, bytes: &[u8]) -> mlua::Result<i32> {
    let ctx = call_ctx(lua)?;
    Ok(match ctx.slot.send(id, bytes) {
        Ok(()) => State::Ok.code(),
        Err(s) => s.code(),
    })
}

/// The iterator function of `for client, route in ducq:clients()`. It walks
/// a snapshot taken now, skipping connections closed since.
fn clients(lua: &Lua) -> mlua::Result<Function> {
    let mut pairs = with_hub(lua, |hub| clients::pairs(hub))?.into_iter();
    lua.create_function_mut(move |lua, ()| {
        for (id, route) in pairs.by_ref() {
            let live = with_hub(lua, |hub| clients::is_open(hub, id)).unwrap_or(true);
            if live {
                return Ok((Some(ConnHandle(id)), Some(lua.create_string(&route)?)));
            }
        }
        Ok((None, None))
    })
}

/// Closes `id` once what was queued for it is written (a goodbye sent just
/// before still arrives).
fn close(lua: &Lua, id: ConnId) -> mlua::Result<i32> {
    with_hub(lua, |hub| match clients::close(hub, id) {
        true => State::Ok.code(),
        false => State::ENotFound.code(),
    })
}

impl UserData for ConnHandle {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("send", |lua, this, s: mlua::String| {
            send(lua, this.0, &s.as_bytes())
        });
        m.add_method("sendack", |lua, this, ()| send(lua, this.0, ACK));
        m.add_method("id", |lua, this, ()| {
            with_hub(lua, |hub| {
                hub.resolve(this.0).and_then(|k| hub.client_id(k))
            })
        });
        m.add_method("close", |lua, this, ()| close(lua, this.0));
        m.add_method("clients", |lua, _, ()| clients(lua));
        m.add_method(
            "request",
            |lua, this, (route, corr, payload): (mlua::String, mlua::String, Option<mlua::String>)| {
                let payload = payload.as_ref().map(|p| p.as_bytes());
                let payload: &[u8] = payload.as_deref().unwrap_or(b"");
                super::queue::request(lua, this.0, &route.as_bytes(), &corr.as_bytes(), payload)
            },
        );
        // Client-side calls of the original library: a server-side handle
        // is connected already, never waits, and cannot read (the reactor
        // reads, and a command must not block it).
        m.add_method("conn", |lua, this, ()| {
            with_hub(lua, |hub| match hub.resolve(this.0) {
                Some(_) => State::Ok.code(),
                None => State::ENotFound.code(),
            })
        });
        m.add_method("timeout", |_, _, _: Value| Ok(State::Ok.code()));
        m.add_method("recv", |_, _, ()| Ok(("", State::ENoImpl.code())));
        m.add_meta_function(MetaMethod::Eq, |_, (a, b): (AnyUserData, AnyUserData)| {
            let a = a.borrow::<ConnHandle>().map(|h| h.0);
            let b = b.borrow::<ConnHandle>().map(|h| h.0);
            Ok(matches!((a, b), (Ok(a), Ok(b)) if a == b))
        });
        m.add_meta_method(MetaMethod::ToString, |lua, this, ()| {
            let id = with_hub(lua, |hub| {
                hub.resolve(this.0).and_then(|k| hub.client_id(k))
            })
            .ok()
            .flatten();
            Ok(match id {
                Some(id) => format!("ducq connection {id}"),
                None => format!("ducq connection #{} (not reachable)", this.0.gen),
            })
        });
    }
}

/// The global `reactor`: the broker as a whole.
pub(crate) struct ReactorHandle;

/// `reactor:loop(fn)`: calls `fn(client, route)` for each pair of
/// `clients()`; its result says whether to go on, stop, and/or close that
/// client. Returns the last result.
fn reactor_loop(lua: &Lua, f: Function) -> mlua::Result<i64> {
    struct Depth(Rc<CallCtx>);
    impl Drop for Depth {
        fn drop(&mut self) {
            self.0.loops.set(self.0.loops.get() - 1);
        }
    }
    let ctx = call_ctx(lua)?;
    if ctx.loops.get() >= MAX_NESTED_LOOPS {
        return Err(mlua::Error::runtime(format!(
            "reactor:loop nested more than {MAX_NESTED_LOOPS} deep"
        )));
    }
    ctx.loops.set(ctx.loops.get() + 1);
    let depth = Depth(ctx);
    let walked = clients::walk(&depth.0.slot, |id, route| {
        let ctl: Value = f.call((ConnHandle(id), lua.create_string(route)?))?;
        match ctl {
            Value::Nil => Ok(LOOP_CONTINUE),
            Value::Integer(i) => Ok(i),
            Value::Number(n) if n.fract() == 0.0 => Ok(n as i64),
            other => Err(mlua::Error::runtime(format!(
                "reactor:loop callback returned a {}, not reactor.continue, reactor.stop or reactor.delete",
                other.type_name()
            ))),
        }
    });
    match walked {
        Ok(last) => Ok(last),
        Err(WalkError::Callback(e)) => Err(e),
        Err(WalkError::Unreachable) => Err(unreachable()),
    }
}

impl UserData for ReactorHandle {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_field("continue", LOOP_CONTINUE);
        f.add_field("stop", LOOP_STOP);
        f.add_field("delete", LOOP_DELETE);
    }

    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("loop", |lua, _, f: Function| reactor_loop(lua, f));
        m.add_method("clients", |lua, _, ()| clients(lua));
        super::queue::add_reactor_methods(m);
        m.add_method(
            "publish",
            |lua, _, (route, payload): (mlua::String, Option<mlua::String>)| {
                let route = route.as_bytes();
                let payload = payload.as_ref().map(|p| p.as_bytes());
                let payload: &[u8] = payload.as_deref().unwrap_or(b"");
                with_hub(lua, |hub| match actions::publish(hub, &route, payload) {
                    Ok(delivered) => (State::Ok.code(), delivered),
                    Err(s) => (s.code(), 0),
                })
            },
        );
        m.add_method("last", |lua, _, route: mlua::String| {
            let stored = with_hub(lua, |hub| {
                hub.last.get(&route.as_bytes()).map(<[u8]>::to_vec)
            })?;
            stored.map(|m| lua.create_string(m)).transpose()
        });
        m.add_method("log", |lua, _, args: Variadic<mlua::String>| {
            let (level, text) = match &args[..] {
                [text] => (Level::Info, text.to_string_lossy()),
                [level, text] => (
                    level
                        .to_str()?
                        .parse::<Level>()
                        .map_err(mlua::Error::runtime)?,
                    text.to_string_lossy(),
                ),
                _ => return Err(mlua::Error::runtime("reactor:log([level,] text)")),
            };
            let caller = call_ctx(lua)?.slot.caller();
            with_hub(lua, |hub| {
                let sender = caller
                    .and_then(|id| hub.resolve(id))
                    .and_then(|k| hub.client_id(k))
                    .unwrap_or_else(|| "lua".into());
                hub.log(level, "lua", &sender, &text);
            })
        });
    }
}

/// The metatable of message tables: `tostring(msg)` is the wire form
/// `<command> <route>\n<payload>`, built from the fields as they are now.
pub(crate) fn msg_metatable(lua: &Lua) -> mlua::Result<Table> {
    let mt = lua.create_table()?;
    let tostring = lua.create_function(|lua, t: Table| {
        let field = |k: &str| -> mlua::Result<Vec<u8>> {
            Ok(t.raw_get::<Option<mlua::String>>(k)?
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_default())
        };
        lua.create_string(message::format(
            &field("command")?,
            &field("route")?,
            &field("payload")?,
        ))
    })?;
    mt.set("__tostring", tostring)?;
    mt.set("__name", "ducq.msg")?;
    Ok(mt)
}

/// A message table: `command`, `route`, `payload` (Lua strings, bytes
/// unchanged), with the message metatable.
pub(crate) fn msg_table(lua: &Lua, mt: &Table, msg: &Message<'_>) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 3)?;
    t.raw_set("command", lua.create_string(msg.command)?)?;
    t.raw_set("route", lua.create_string(msg.route)?)?;
    t.raw_set("payload", lua.create_string(msg.payload)?)?;
    t.set_metatable(Some(mt.clone()))?;
    Ok(t)
}

/// The `LuaDucq` module (also the global `Ducq`): state codes by their short
/// names (`Ducq.OK`, `Ducq.ENOCMD`, …), the loop results, `Ducq.tostr(code)`
/// and `Ducq.parse(raw)`.
pub(crate) fn ducq_module(lua: &Lua, msg_mt: &Table) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    for s in state::ALL {
        m.set(s.short_name(), s.code())?;
    }
    m.set("continue", LOOP_CONTINUE)?;
    m.set("stop", LOOP_STOP)?;
    m.set("delete", LOOP_DELETE)?;
    m.set("version", env!("CARGO_PKG_VERSION"))?;
    let tostr = lua.create_function(|_, code: i64| Ok(State::from_code(code).text()))?;
    m.set("tostr", tostr.clone())?;
    m.set("state_tostr", tostr)?;
    let mt = msg_mt.clone();
    let parse = lua.create_function(move |lua, raw: mlua::String| {
        let raw = raw.as_bytes();
        match Message::parse(&raw) {
            Ok(msg) => Ok((Some(msg_table(lua, &mt, &msg)?), State::Ok.code())),
            Err(s) => Ok((None, s.code())),
        }
    })?;
    m.set("parse", parse)?;
    let matches = lua.create_function(|_, (pattern, r): (mlua::String, mlua::String)| {
        Ok(route::matches(&pattern.as_bytes(), &r.as_bytes()))
    })?;
    m.set("matches", matches)?;
    Ok(m)
}
