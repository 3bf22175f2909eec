//! A client script's connection to a server: `Ducq.connect(...)` and the
//! methods of the connection it returns (`pub`, `sub`, `call`, `send`,
//! `receive`, `listen`, …, and the original client's `recv`, `conn`,
//! `timeout`, `sendack`, `close`, `id`). The socket and the protocol are
//! the library's blocking [`Client`]; this file turns its results into Lua
//! values and errors. Waiting on several connections is `runloop`'s job;
//! reading the address `Ducq.connect` takes is `target`'s.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::{
    AnyUserData, FromLuaMulti, Function, IntoLuaMulti, Lua, MetaMethod, MultiValue, Table,
    UserData, UserDataMethods, Value,
};

use super::runloop::runtime;
use super::seconds;
use super::signals;
use super::target::Target;
use crate::client::{Client, Error};
use crate::proto::message::{classify, format, Kind};
use crate::proto::{Message, State, ACK};

/// Callbacks of a listening connection, named as the original client's
/// globals were: `onMessage`, `onProtocol`, `onNack`, `onError`.
#[derive(Default, Clone)]
pub(crate) struct Handlers {
    pub(crate) message: Option<Function>,
    pub(crate) protocol: Option<Function>,
    pub(crate) nack: Option<Function>,
    pub(crate) error: Option<Function>,
}

impl Handlers {
    pub(crate) fn any(&self) -> bool {
        self.message.is_some() || self.protocol.is_some() || self.nack.is_some()
    }
}

/// One connection: its client (none once closed), where it goes, and its
/// callbacks.
pub(crate) struct ConnCell {
    pub(crate) client: RefCell<Option<Client>>,
    pub(crate) target: Target,
    /// Waits for command replies (`pub`, `sub`, `call`, `recv`).
    pub(crate) timeout: Cell<Duration>,
    pub(crate) handlers: RefCell<Handlers>,
    /// This end's id as the server lists it, kept past a close.
    id: RefCell<String>,
}

impl ConnCell {
    /// Connects to `target`.
    pub(crate) fn open(target: Target, timeout: Duration) -> Result<Rc<ConnCell>, String> {
        let client = dial(&target, timeout)?;
        Ok(Rc::new(ConnCell {
            id: RefCell::new(client.id()),
            client: RefCell::new(Some(client)),
            target,
            timeout: Cell::new(timeout),
            handlers: RefCell::new(Handlers::default()),
        }))
    }

    /// Whether it is open and has callbacks: `Ducq.run` waits on it.
    pub(crate) fn listening(&self) -> bool {
        self.is_open() && self.handlers.borrow().any()
    }

    pub(crate) fn is_open(&self) -> bool {
        self.client.borrow().is_some()
    }

    pub(crate) fn fd(&self) -> Option<RawFd> {
        self.client
            .borrow()
            .as_ref()
            .map(|c| c.stream().as_raw_fd())
    }

    /// Runs `f` on the open client; "closed" when there is none.
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, Error>,
    ) -> Result<R, Error> {
        match self.client.borrow_mut().as_mut() {
            Some(c) => f(c),
            None => Err(Error::Closed),
        }
    }

    /// This end's id as the server lists it (`TCP:127.0.0.1:50312`).
    pub(crate) fn id(&self) -> String {
        self.id.borrow().clone()
    }

    /// Where it goes, as `tcp://host:port` or `ws://host:port`.
    pub(crate) fn url(&self) -> String {
        self.target.url()
    }

    /// Drops the client (the socket closes).
    pub(crate) fn close(&self) {
        self.client.borrow_mut().take();
    }

    /// The next message within `wait` (`None`: as long as it takes), in
    /// slices, so a signal ends the wait with the Lua error. The inner
    /// result is the client's: a message, `Timeout`, `Closed`, …
    pub(crate) fn next(&self, wait: Option<Duration>) -> mlua::Result<Result<Vec<u8>, Error>> {
        let end = wait.map(|w| Instant::now() + w);
        loop {
            signals::check()?;
            let left = end.map(|e| e.saturating_duration_since(Instant::now()));
            let slice = left.map_or(signals::SLICE, |l| l.min(signals::SLICE));
            let got = self.with(|c| {
                if let Some(m) = c.try_receive()? {
                    return Ok(m);
                }
                c.set_timeout(Some(slice.max(Duration::from_millis(1))))?;
                c.receive()
            });
            match got {
                Err(Error::Timeout) if end.is_none_or(|e| Instant::now() < e) => continue,
                other => return Ok(other),
            }
        }
    }

    /// Waits for the reply of a command sent just before: the next message
    /// that is not a data message (those are kept for `receive` and the
    /// callbacks), within the connection's timeout.
    fn reply(&self) -> mlua::Result<Result<Vec<u8>, Error>> {
        let end = Instant::now() + self.timeout.get();
        let mut held = Vec::new();
        let got = loop {
            match self.next(Some(end.saturating_duration_since(Instant::now())))? {
                Ok(m) if classify(&m) == Kind::Data => held.push(m),
                other => break other,
            }
        };
        let _ = self.with(|c| {
            for m in held.into_iter().rev() {
                c.unreceive(m);
            }
            Ok(())
        });
        Ok(got)
    }
}

fn dial(t: &Target, timeout: Duration) -> Result<Client, String> {
    let addr = t.addr();
    let c = if t.ws {
        Client::connect_ws(&addr, timeout)
    } else {
        Client::connect(&addr, timeout)
    };
    c.map_err(|e| {
        let why = match e {
            Error::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        };
        format!("could not connect to {}: {why}", t.url())
    })
}

/// A connection as scripts hold it.
#[derive(Clone)]
pub(crate) struct LuaConn(pub(crate) Rc<ConnCell>);

/// The error a failed call raises: `NACK 24: access denied`,
/// `timeout`, `connection closed`, …
fn failure(c: &ConnCell, what: &str, e: Error) -> mlua::Error {
    let e = match e {
        Error::Nack { state, text } => format!("NACK {}: {text}", state.code()),
        Error::Closed => format!("connection to {} closed", c.target.url()),
        other => other.to_string(),
    };
    mlua::Error::runtime(format!("{what}: {e}"))
}

/// A Lua string argument.
type LStr = mlua::String;

/// The error for a NACK answered to `what`.
fn nack(c: &ConnCell, what: &str, state: State, m: &[u8]) -> mlua::Error {
    let text = crate::proto::message::nack_text(m);
    failure(c, what, Error::Nack { state, text })
}

/// The error for a reply `what` does not expect.
fn unexpected(c: &ConnCell, what: &str, m: &[u8]) -> mlua::Error {
    failure(c, what, Error::Protocol(String::from_utf8_lossy(m).into()))
}

/// The reply to a command just sent; a NACK, a timeout or a closed
/// connection is the error.
fn expect_reply(c: &ConnCell, what: &str) -> mlua::Result<Vec<u8>> {
    let m = c.reply()?.map_err(|e| failure(c, what, e))?;
    match classify(&m) {
        Kind::Nack(state) => Err(nack(c, what, state, &m)),
        _ => Ok(m),
    }
}

fn bytes(s: &mlua::String) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A received message as a table: `command`, `route`, `payload` (as the
/// server's message tables), and `kind`: `"message"`, `"protocol"` (ACK,
/// PARTS, END, PONG) or `"nack"`.
pub(crate) fn message_table(lua: &Lua, raw: &[u8]) -> mlua::Result<Table> {
    let rt = runtime(lua)?;
    let t = match Message::parse(raw) {
        Ok(m) => crate::lua::api::msg_table(lua, &rt.msg_mt, &m)?,
        Err(_) => {
            let t = lua.create_table()?;
            t.raw_set("command", lua.create_string(raw)?)?;
            t.raw_set("route", "")?;
            t.raw_set("payload", "")?;
            t.set_metatable(Some(rt.msg_mt.clone()))?;
            t
        }
    };
    let kind = match classify(raw) {
        Kind::Data => "message",
        Kind::Nack(_) => "nack",
        _ => "protocol",
    };
    t.raw_set("kind", kind)?;
    Ok(t)
}

/// Reads a listener argument: a function (data messages) or a table of
/// `message`, `protocol`, `nack`, `error` functions.
fn handlers(v: Value) -> mlua::Result<Handlers> {
    match v {
        Value::Function(f) => Ok(Handlers {
            message: Some(f),
            ..Handlers::default()
        }),
        Value::Table(t) => {
            let mut h = Handlers::default();
            for (k, slot) in [
                ("message", &mut h.message),
                ("protocol", &mut h.protocol),
                ("nack", &mut h.nack),
                ("error", &mut h.error),
            ] {
                match t.raw_get::<Value>(k)? {
                    Value::Function(f) => *slot = Some(f),
                    Value::Nil => {}
                    other => {
                        return Err(mlua::Error::runtime(format!(
                            "listen: {k} is a {}, not a function",
                            other.type_name()
                        )))
                    }
                }
            }
            Ok(h)
        }
        Value::Nil => Ok(Handlers::default()),
        other => Err(mlua::Error::runtime(format!(
            "listen takes a function or a table of functions, not a {}",
            other.type_name()
        ))),
    }
}

/// A state as scripts get it back from the calls that return one.
fn state(r: Result<(), Error>) -> i32 {
    match r {
        Ok(()) => State::Ok.code(),
        Err(Error::Nack { state, .. }) => state.code(),
        Err(e) => e.state().code(),
    }
}

/// The methods of connections, as plain functions taking the connection
/// first; `setup` wraps them so that their errors are Lua strings naming
/// the caller's line, and the connection's `__index` finds them.
pub(crate) fn methods(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;

    add(
        lua,
        &t,
        "pub",
        |_, this, (route, payload): (LStr, Option<LStr>)| {
            let c = &this.0;
            let msg = format(
                b"pub",
                &bytes(&route),
                &payload.map(|p| bytes(&p)).unwrap_or_default(),
            );
            c.with(|cl| cl.send(&msg))
                .map_err(|e| failure(c, "pub", e))?;
            match expect_reply(c, "pub")? {
                m if classify(&m) == Kind::Ack => Ok(true),
                m => Err(unexpected(c, "pub", &m)),
            }
        },
    )?;
    add(
        lua,
        &t,
        "sub",
        |_, this, (route, options): (LStr, Option<LStr>)| {
            let c = &this.0;
            let msg = format(
                b"sub",
                &bytes(&route),
                &options.map(|o| bytes(&o)).unwrap_or_default(),
            );
            c.with(|cl| cl.send(&msg))
                .map_err(|e| failure(c, "sub", e))?;
            // ACK, or (with `last`) the stored messages, which the callbacks
            // and `receive` get like any other.
            let m = c
                .next(Some(c.timeout.get()))?
                .map_err(|e| failure(c, "sub", e))?;
            match classify(&m) {
                Kind::Ack => Ok(true),
                Kind::Data => {
                    let _ = c.with(|cl| {
                        cl.unreceive(m);
                        Ok(())
                    });
                    Ok(true)
                }
                Kind::Nack(state) => Err(nack(c, "sub", state, &m)),
                _ => Err(unexpected(c, "sub", &m)),
            }
        },
    )?;
    add(
        lua,
        &t,
        "call",
        |lua, this, (command, route, payload): (LStr, Option<LStr>, Option<LStr>)| {
            let c = &this.0;
            let raw = match route {
                Some(r) => format(
                    &command.as_bytes(),
                    &r.as_bytes(),
                    &payload.map(|p| bytes(&p)).unwrap_or_default(),
                ),
                None => bytes(&command),
            };
            c.with(|cl| cl.send(&raw))
                .map_err(|e| failure(c, "call", e))?;
            let first = expect_reply(c, "call")?;
            if classify(&first) != Kind::Parts {
                return Ok(Value::String(lua.create_string(&first)?));
            }
            let parts = lua.create_table()?;
            loop {
                let m = c
                    .next(Some(c.timeout.get()))?
                    .map_err(|e| failure(c, "call", e))?;
                match classify(&m) {
                    Kind::End => return Ok(Value::Table(parts)),
                    Kind::Nack(state) => return Err(nack(c, "call", state, &m)),
                    _ => parts.raw_push(lua.create_string(m.strip_suffix(b"\n").unwrap_or(&m))?)?,
                }
            }
        },
    )?;
    // `send(raw)` as the original, or `send(command, route[, payload])`.
    add(
        lua,
        &t,
        "send",
        |_,
         this,
         (a, route, payload): (mlua::String, Option<mlua::String>, Option<mlua::String>)| {
            let raw = match route {
                Some(r) => format(
                    &a.as_bytes(),
                    &r.as_bytes(),
                    &payload.map(|p| bytes(&p)).unwrap_or_default(),
                ),
                None => bytes(&a),
            };
            if raw.is_empty() {
                return Ok(State::EMsgInv.code());
            }
            Ok(state(this.0.with(|cl| cl.send(&raw))))
        },
    )?;
    add(lua, &t, "sendack", |_, this, ()| {
        Ok(state(this.0.with(|cl| cl.send(ACK))))
    })?;
    add(lua, &t, "receive", |lua, this, wait: Option<f64>| {
        let c = &this.0;
        let wait = wait.map(seconds).transpose()?;
        match c.next(wait)? {
            Ok(m) => Ok((Some(message_table(lua, &m)?), None)),
            Err(Error::Timeout) => Ok((None, Some("timeout"))),
            Err(e) => Err(failure(c, "receive", e)),
        }
    })?;
    // The original's `recv`: the raw message and a state, never an error.
    add(lua, &t, "recv", |lua, this, ()| {
        let got = this.0.next(Some(this.0.timeout.get()))?;
        match got {
            Ok(m) => {
                let s = match classify(&m) {
                    Kind::Data => State::Ok,
                    Kind::Nack(_) => State::Nack,
                    _ => State::Protocol,
                };
                Ok((lua.create_string(&m)?, s.code()))
            }
            Err(e) => Ok((lua.create_string("")?, e.state().code())),
        }
    })?;
    t.raw_set(
        "listen",
        lua.create_function(|_, (ud, v): (AnyUserData, Value)| {
            let this = ud.borrow::<LuaConn>()?;
            *this.0.handlers.borrow_mut() = handlers(v)?;
            Ok(ud.clone())
        })?,
    )?;
    add(lua, &t, "close", |_, this, ()| {
        let was = this.0.is_open();
        this.0.close();
        Ok(if was {
            State::Ok.code()
        } else {
            State::EConnClosed.code()
        })
    })?;
    // The original's `conn`: (re)connects when closed.
    add(lua, &t, "conn", |_, this, ()| {
        let c = &this.0;
        if c.is_open() {
            return Ok(State::Ok.code());
        }
        match dial(&c.target, c.timeout.get()) {
            Ok(client) => {
                *c.id.borrow_mut() = client.id();
                *c.client.borrow_mut() = Some(client);
                Ok(State::Ok.code())
            }
            Err(_) => Ok(State::EConnect.code()),
        }
    })?;
    add(lua, &t, "timeout", |_, this, secs: f64| {
        this.0
            .timeout
            .set(seconds(secs)?.max(Duration::from_millis(1)));
        Ok(State::Ok.code())
    })?;
    add(lua, &t, "id", |_, this, ()| Ok(this.0.id.borrow().clone()))?;
    add(lua, &t, "is_open", |_, this, ()| Ok(this.0.is_open()))?;
    Ok(t)
}

/// Adds method `name` to `t`: `f(lua, connection, arguments)`.
fn add<A, R>(
    lua: &Lua,
    t: &Table,
    name: &str,
    f: impl Fn(&Lua, &LuaConn, A) -> mlua::Result<R> + 'static,
) -> mlua::Result<()>
where
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    let func = lua.create_function(move |lua, (ud, args): (AnyUserData, MultiValue)| {
        let this = ud.borrow::<LuaConn>()?.clone();
        f(lua, &this, A::from_lua_multi(args, lua)?)
    })?;
    t.raw_set(name, func)
}

/// Registry key of the wrapped methods.
pub(crate) const METHODS: &str = "ducq.client.methods";

impl UserData for LuaConn {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_function(MetaMethod::Index, |lua, (_, key): (AnyUserData, Value)| {
            lua.named_registry_value::<Table>(METHODS)?
                .raw_get::<Value>(key)
        });
        m.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!(
                "ducq connection {} to {}",
                this.0.id.borrow(),
                this.0.target.url()
            ))
        });
        m.add_meta_function(MetaMethod::Eq, |_, (a, b): (AnyUserData, AnyUserData)| {
            let a = a.borrow::<LuaConn>().map(|c| Rc::as_ptr(&c.0));
            let b = b.borrow::<LuaConn>().map(|c| Rc::as_ptr(&c.0));
            Ok(matches!((a, b), (Ok(a), Ok(b)) if a == b))
        });
    }
}
