//! The event loop of client scripts: `Ducq.run([seconds])` waits on every
//! listening connection (one `poll(2)`) and on the timers
//! (`Ducq.after`, `Ducq.every`), and calls their Lua callbacks on this one
//! thread. A callback returning a non-zero number (`Ducq.stop`, or the
//! original client's `-1`) ends the run; SIGINT and SIGTERM end it with
//! the error `interrupted` (`signals`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::{Function, Lua, Table, UserData, UserDataMethods, Value};

use super::conn::{message_table, ConnCell, LuaConn};
use super::signals;
use super::{seconds, ScriptOptions};
use crate::client::Error;
use crate::proto::message::{classify, Kind};

/// What the scripts of one process share: connection defaults, the message
/// metatable, the open connections and the timers.
pub(crate) struct Runtime {
    pub(crate) defaults: ScriptOptions,
    pub(crate) msg_mt: Table,
    pub(crate) conns: RefCell<Vec<Rc<ConnCell>>>,
    timers: RefCell<Vec<Rc<TimerCell>>>,
    /// Whether a run happened (a script that runs the loop itself is not
    /// run again when its main chunk returns).
    pub(crate) ran: Cell<bool>,
}

impl Runtime {
    pub(crate) fn new(defaults: ScriptOptions, msg_mt: Table) -> Runtime {
        Runtime {
            defaults,
            msg_mt,
            conns: RefCell::new(Vec::new()),
            timers: RefCell::new(Vec::new()),
            ran: Cell::new(false),
        }
    }

    /// Whether a run would wait for anything: a listening connection or a
    /// pending timer.
    pub(crate) fn has_work(&self) -> bool {
        self.conns.borrow().iter().any(|c| c.listening())
            || self.timers.borrow().iter().any(|t| !t.cancelled.get())
    }
}

/// The runtime set up by `run_script`.
pub(crate) fn runtime(lua: &Lua) -> mlua::Result<Rc<Runtime>> {
    lua.app_data_ref::<Rc<Runtime>>()
        .map(|r| Rc::clone(&r))
        .ok_or_else(|| mlua::Error::runtime("ducq: no client runtime"))
}

/// A timer: when it is due, what it calls, and its period if it repeats.
pub(crate) struct TimerCell {
    due: Cell<Instant>,
    every: Option<Duration>,
    f: Function,
    cancelled: Cell<bool>,
}

/// A timer as scripts hold it: `t:cancel()`.
pub(crate) struct LuaTimer(Rc<TimerCell>);

impl UserData for LuaTimer {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("cancel", |_, this, ()| {
            this.0.cancelled.set(true);
            Ok(())
        });
    }
}

/// `Ducq.after(seconds, fn)` and `Ducq.every(seconds, fn)`.
pub(crate) fn add_timer(lua: &Lua, secs: f64, f: Function, repeat: bool) -> mlua::Result<LuaTimer> {
    let period = seconds(secs)?;
    let cell = Rc::new(TimerCell {
        due: Cell::new(Instant::now() + period),
        // A timer repeating at 0 s would never let the loop wait.
        every: repeat.then_some(period.max(Duration::from_millis(1))),
        f,
        cancelled: Cell::new(false),
    });
    runtime(lua)?.timers.borrow_mut().push(Rc::clone(&cell));
    Ok(LuaTimer(cell))
}

/// Whether a callback's result ends the run: a non-zero number does.
fn stops(v: &Value) -> mlua::Result<bool> {
    match v {
        Value::Nil => Ok(false),
        Value::Integer(i) => Ok(*i != 0),
        Value::Number(n) => Ok(*n != 0.0),
        Value::Boolean(_) => Ok(false),
        other => Err(mlua::Error::runtime(format!(
            "a callback returned a {}, not a number (0 or nothing to go on, Ducq.stop to end the run)",
            other.type_name()
        ))),
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// A callback asked for it.
    Stopped,
    /// Its time was up.
    TimeUp,
    /// Nothing was left to wait for.
    Idle,
}

impl Ended {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ended::Stopped => "stopped",
            Ended::TimeUp => "timeout",
            Ended::Idle => "idle",
        }
    }
}

/// Runs the loop until a callback stops it, `limit` passes, or nothing is
/// left to wait for.
pub(crate) fn run(lua: &Lua, limit: Option<Duration>) -> mlua::Result<Ended> {
    let rt = runtime(lua)?;
    rt.ran.set(true);
    let end = limit.map(|l| Instant::now() + l);
    loop {
        signals::check()?;
        if fire_timers(&rt)? {
            return Ok(Ended::Stopped);
        }
        let conns: Vec<Rc<ConnCell>> = rt
            .conns
            .borrow()
            .iter()
            .filter(|c| c.listening())
            .cloned()
            .collect();
        for c in &conns {
            if drain(lua, c)? {
                return Ok(Ended::Stopped);
            }
        }
        if !rt.has_work() {
            return Ok(Ended::Idle);
        }
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            return Ok(Ended::TimeUp);
        }
        let next_timer = rt
            .timers
            .borrow()
            .iter()
            .filter(|t| !t.cancelled.get())
            .map(|t| t.due.get())
            .min();
        let wake = [next_timer, end].into_iter().flatten().min();
        let wait = wake.map(|w| w.saturating_duration_since(now));
        let listening: Vec<Rc<ConnCell>> = conns.into_iter().filter(|c| c.listening()).collect();
        for (c, ready) in listening.iter().zip(wait_readable(&listening, wait)) {
            if ready {
                let read = c.with(|cl| {
                    cl.set_timeout(Some(Duration::from_millis(1)))?;
                    match cl.read_once() {
                        Err(Error::Timeout) => Ok(()),
                        other => other,
                    }
                });
                if let Err(e) = read {
                    if failed(lua, c, e)? {
                        return Ok(Ended::Stopped);
                    }
                }
            }
        }
    }
}

/// Calls the due timers, earliest first. True when one stops the run.
fn fire_timers(rt: &Runtime) -> mlua::Result<bool> {
    let now = Instant::now();
    let mut due: Vec<Rc<TimerCell>> = rt
        .timers
        .borrow()
        .iter()
        .filter(|t| !t.cancelled.get() && t.due.get() <= now)
        .cloned()
        .collect();
    due.sort_by_key(|t| t.due.get());
    for t in due {
        if t.cancelled.get() {
            continue;
        }
        match t.every {
            Some(p) => t.due.set(t.due.get().max(now - p) + p),
            None => t.cancelled.set(true),
        }
        let v: Value = t.f.call(())?;
        if stops(&v)? {
            rt.timers.borrow_mut().retain(|t| !t.cancelled.get());
            return Ok(true);
        }
    }
    rt.timers.borrow_mut().retain(|t| !t.cancelled.get());
    Ok(false)
}

/// Hands every message already read on `c` to its callbacks. True when
/// one stops the run.
fn drain(lua: &Lua, c: &Rc<ConnCell>) -> mlua::Result<bool> {
    loop {
        if !c.listening() {
            return Ok(false);
        }
        let next = c.with(|cl| cl.try_receive());
        let raw = match next {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(false),
            Err(e) => return failed(lua, c, e),
        };
        if dispatch(lua, c, &raw)? {
            return Ok(true);
        }
    }
}

/// Calls the callback for one message: `message` for data, `protocol`
/// for ACK, PARTS, END, PONG, `nack` for a NACK. True when it stops.
pub(crate) fn dispatch(lua: &Lua, c: &Rc<ConnCell>, raw: &[u8]) -> mlua::Result<bool> {
    let h = c.handlers.borrow().clone();
    let f = match classify(raw) {
        Kind::Data => h.message,
        Kind::Nack(_) => h.nack,
        _ => h.protocol,
    };
    let Some(f) = f else { return Ok(false) };
    let msg = message_table(lua, raw)?;
    let v: Value = f.call((LuaConn(Rc::clone(c)), msg))?;
    stops(&v)
}

/// A connection failed (closed by the server, a read error): it is closed
/// and its `error` callback gets `{ state =, payload = <text>, … }`; its
/// result says whether the run ends. Without an `error` callback the
/// failure is a script error.
pub(crate) fn failed(lua: &Lua, c: &Rc<ConnCell>, e: Error) -> mlua::Result<bool> {
    c.close();
    let Some(f) = c.handlers.borrow().error.clone() else {
        let text = match e {
            Error::Closed => "closed by the server".to_string(),
            other => other.to_string(),
        };
        return Err(mlua::Error::runtime(format!(
            "connection {} to {}: {text}",
            c.id(),
            c.url()
        )));
    };
    let state = e.state();
    let err = lua.create_table()?;
    err.raw_set("command", "error")?;
    err.raw_set("route", "*")?;
    err.raw_set("payload", state.text())?;
    err.raw_set("state", state.code())?;
    err.raw_set("kind", "error")?;
    err.set_metatable(Some(runtime(lua)?.msg_mt.clone()))?;
    let v: Value = f.call((LuaConn(Rc::clone(c)), err))?;
    // The original's onError returns -1 to stop; the connection is gone
    // either way.
    stops(&v).map(|s| s || !runtime(lua).is_ok_and(|rt| rt.has_work()))
}

/// Waits until one of `conns` is readable or `wait` passes (`None`: no
/// limit); a signal ends the wait early (the signal pipe is polled too).
/// Which ones are readable, in order.
fn wait_readable(conns: &[Rc<ConnCell>], wait: Option<Duration>) -> Vec<bool> {
    let mut fds: Vec<libc::pollfd> = conns
        .iter()
        .map(|c| c.fd())
        .chain([signals::wake_fd()])
        .map(|fd| libc::pollfd {
            fd: fd.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = match wait {
        None => -1,
        // Rounded up, so a timer is never woken for a hair early.
        Some(w) => i32::try_from(w.as_micros().div_ceil(1000)).unwrap_or(i32::MAX),
    };
    // SAFETY: `fds` is a live, initialised array of `fds.len()` pollfd
    // structs that poll only reads and writes within; a negative fd is
    // ignored by poll.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n <= 0 {
        return vec![false; conns.len()];
    }
    fds.iter()
        .take(conns.len())
        .map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
        .collect()
}
