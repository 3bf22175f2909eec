//! Channels defined by Lua files: reading a file's `channels` table
//! (`channels.NAME = { pattern = …, on_publish = fn, on_subscribe = fn,
//! history = N, … }`), running its hooks for the server's channel gate
//! under the same instruction budget and memory limit as commands, and
//! handing the host's current set to the hub. Which file defines what, and
//! reloading, stay `files`' business; the rules channels follow are the
//! server's (`server::channels`).

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::Ordering;

use mlua::{Function, Lua, Table, Value, WeakLua};

use super::api::{self, CallCtx, ConnHandle};
use super::host::LuaCommands;
use super::limits::{Budget, LuaLimits, LuaProbe};
use super::report::describe;
use crate::proto::{Message, State};
use crate::server::channels::{
    self, setting_item, Channel, ChannelHooks, ChannelSpec, Origin, Publication, PublishVerdict,
    SettingValue, SubscribeVerdict, SETTINGS,
};
use crate::server::{ConnId, Hub, Level};

/// A channel a file defines.
pub(super) struct LuaChannel {
    pub(super) name: String,
    pub(super) file: PathBuf,
    spec: ChannelSpec,
    on_publish: Option<Function>,
    on_subscribe: Option<Function>,
}

/// What the hooks share with the host: the lent hub's slot, the budget and
/// limits, the message metatable, the state (weakly: a hook outliving its
/// host fails instead of keeping the state alive) and the probe.
pub(super) struct HookRuntime {
    pub(super) ctx: Rc<CallCtx>,
    pub(super) budget: Rc<Budget>,
    pub(super) limits: LuaLimits,
    pub(super) msg_mt: Table,
    pub(super) lua: WeakLua,
    pub(super) probe: LuaProbe,
}

/// Reads the `channels` table of a file: its channels, and a warning for
/// each entry that is not one.
pub(super) fn read(table: &Table, file: &Path) -> (Vec<LuaChannel>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for pair in table.pairs::<Value, Value>() {
        let (key, value) = match pair {
            Ok(kv) => kv,
            Err(e) => {
                warnings.push(format!("channels: {}", describe(&e)));
                continue;
            }
        };
        let name = match &key {
            Value::String(s) => s.to_str().map(|s| s.to_string()).unwrap_or_default(),
            other => other.to_string().unwrap_or_default(),
        };
        if let Err(e) = channels::check_name(&name) {
            warnings.push(format!("channels[{name}]: {e}"));
            continue;
        }
        let Value::Table(t) = value else {
            warnings.push(format!("channels.{name} is not a table with a pattern"));
            continue;
        };
        match read_one(&name, &t, file) {
            Ok(c) => out.push(c),
            Err(e) => warnings.push(format!("channels.{name}: {e}")),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, warnings)
}

fn read_one(name: &str, t: &Table, file: &Path) -> Result<LuaChannel, String> {
    let mut text = String::new();
    let mut hooks: [Option<Function>; 2] = [None, None];
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| describe(&e))?;
        let key = match &k {
            Value::String(s) => s.to_str().map(|s| s.to_string()).unwrap_or_default(),
            other => other.to_string().unwrap_or_default(),
        };
        let slot = match key.as_str() {
            "on_publish" => Some(0),
            "on_subscribe" => Some(1),
            "doc" => continue,
            k if SETTINGS.contains(&k) => None,
            other => {
                return Err(format!(
                    "unknown field '{other}' (pattern, on_publish, on_subscribe, doc, {})",
                    SETTINGS.get(1..).unwrap_or_default().join(", ")
                ))
            }
        };
        if let Some(i) = slot {
            match v {
                Value::Function(f) => {
                    if let Some(h) = hooks.get_mut(i) {
                        *h = Some(f);
                    }
                }
                Value::Nil => {}
                other => return Err(format!("{key} is a {}, not a function", other.type_name())),
            }
            continue;
        }
        let text_value: String;
        let value = match v {
            Value::Boolean(b) => SettingValue::Bool(b),
            Value::Integer(n) => SettingValue::Int(n),
            Value::Number(n) => SettingValue::Float(n),
            Value::String(s) => {
                text_value = s
                    .to_str()
                    .map_err(|_| format!("{key} is not UTF-8"))?
                    .to_string();
                SettingValue::Text(&text_value)
            }
            other => return Err(format!("{key} is a {}", other.type_name())),
        };
        if let Some(item) = setting_item(&key, value).map_err(|e| e.0)? {
            text.push_str(&item);
            text.push('\n');
        }
    }
    // The real route bound is the server's; `channels::replace` checks it.
    let spec = ChannelSpec::parse(&text, usize::MAX).map_err(|e| e.0)?;
    let [on_publish, on_subscribe] = hooks;
    Ok(LuaChannel {
        name: name.to_string(),
        file: file.to_path_buf(),
        spec,
        on_publish,
        on_subscribe,
    })
}

/// The hooks of one Lua channel, as the server's channel gate calls them.
struct LuaHooks {
    name: String,
    file: PathBuf,
    on_publish: Option<Function>,
    on_subscribe: Option<Function>,
    rt: Rc<HookRuntime>,
}

/// How a hook call ended.
enum Called {
    Returned(Value, bool),
    Failed(String),
}

impl LuaHooks {
    /// Calls `f(handle, msg)` for `who` with the hub lent, under a fresh
    /// budget.
    fn call(&self, hub: &mut Hub, who: ConnId, f: &Function, msg: Table) -> Called {
        self.rt.budget.reset(self.rt.limits.instructions);
        let (result, replied) = self
            .rt
            .ctx
            .slot
            .lend(hub, Some(who), || f.call::<Value>((ConnHandle(who), msg)));
        let data = &self.rt.probe.0;
        if let Some(lua) = self.rt.lua.try_upgrade() {
            data.used_memory.store(lua.used_memory(), Ordering::Relaxed);
        }
        data.calls.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(v) => Called::Returned(v, replied),
            Err(e) => Called::Failed(describe(&e)),
        }
    }

    /// Logs a hook's failure (with its file and line) from `who`; the
    /// client is answered `NACK 22` unless the hook already replied.
    fn failed(&self, hub: &mut Hub, who: ConnId, hook: &str, text: &str) -> State {
        let file = self.file.display().to_string();
        let text = if text.contains(&file) {
            format!("channel '{}' {hook}: {text}", self.name)
        } else {
            format!("channel '{}' {hook} ({file}): {text}", self.name)
        };
        let client = hub
            .resolve(who)
            .and_then(|k| hub.client_id(k))
            .unwrap_or_default();
        hub.log(Level::Error, "lua", &client, &text);
        State::ELua
    }

    fn lua(&self) -> Result<Lua, State> {
        self.rt.lua.try_upgrade().ok_or(State::ELua)
    }
}

/// A whole number a hook returned, as a state.
fn as_state(v: &Value) -> Option<State> {
    match *v {
        Value::Integer(i) => Some(State::from_code(i)),
        Value::Number(n) if n.fract() == 0.0 => Some(State::from_code(n as i64)),
        _ => None,
    }
}

impl ChannelHooks for LuaHooks {
    fn has_on_publish(&self) -> bool {
        self.on_publish.is_some()
    }

    fn has_on_subscribe(&self) -> bool {
        self.on_subscribe.is_some()
    }

    /// `on_publish(ducq, msg)`: nil, true or 0 publishes `msg` as the hook
    /// left it (`msg.route`, `msg.payload`); false drops it; an error state
    /// refuses it.
    fn on_publish(
        &self,
        hub: &mut Hub,
        publisher: ConnId,
        p: &mut Publication,
    ) -> Result<PublishVerdict, State> {
        let Some(f) = &self.on_publish else {
            return Ok(PublishVerdict::Publish);
        };
        let lua = self.lua()?;
        let msg = Message {
            command: &p.command,
            route: &p.route,
            payload: &p.payload,
            raw: &[],
            has_newline: true,
        };
        let table = match api::msg_table(&lua, &self.rt.msg_mt, &msg) {
            Ok(t) => t,
            Err(e) => return Err(self.failed(hub, publisher, "on_publish", &describe(&e))),
        };
        let (v, replied) = match self.call(hub, publisher, f, table.clone()) {
            Called::Returned(v, replied) => (v, replied),
            Called::Failed(text) => return Err(self.failed(hub, publisher, "on_publish", &text)),
        };
        let state = match &v {
            Value::Nil | Value::Boolean(true) => State::Ok,
            Value::Boolean(false) => return Ok(PublishVerdict::Drop),
            v => match as_state(v) {
                Some(s) => s,
                None => {
                    let text = format!("returned a {}, not a state code or boolean", v.type_name());
                    return Err(self.failed(hub, publisher, "on_publish", &text));
                }
            },
        };
        if state.is_error() {
            return match replied {
                true => Ok(PublishVerdict::Answered),
                false => Err(state),
            };
        }
        let field = |k: &str| -> Result<Vec<u8>, String> {
            match table.raw_get::<Value>(k) {
                Ok(Value::String(s)) => Ok(s.as_bytes().to_vec()),
                Ok(other) => Err(format!("msg.{k} is a {}, not a string", other.type_name())),
                Err(e) => Err(describe(&e)),
            }
        };
        match (field("route"), field("payload")) {
            (Ok(route), Ok(payload)) => {
                p.route = route;
                p.payload = payload;
                Ok(PublishVerdict::Publish)
            }
            (Err(e), _) | (_, Err(e)) => Err(self.failed(hub, publisher, "on_publish", &e)),
        }
    }

    /// `on_subscribe(ducq, msg)`: nil, true or 0 accepts; a string accepts
    /// and is the greeting; false refuses (`EACCESS`); an error state
    /// refuses with it.
    fn on_subscribe(
        &self,
        hub: &mut Hub,
        subscriber: ConnId,
        request: &Message<'_>,
    ) -> Result<SubscribeVerdict, State> {
        let Some(f) = &self.on_subscribe else {
            return Ok(SubscribeVerdict::Accept(None));
        };
        let lua = self.lua()?;
        let table = match api::msg_table(&lua, &self.rt.msg_mt, request) {
            Ok(t) => t,
            Err(e) => return Err(self.failed(hub, subscriber, "on_subscribe", &describe(&e))),
        };
        let (v, replied) = match self.call(hub, subscriber, f, table) {
            Called::Returned(v, replied) => (v, replied),
            Called::Failed(text) => {
                return Err(self.failed(hub, subscriber, "on_subscribe", &text))
            }
        };
        let refuse = |state: State| match replied {
            true => Ok(SubscribeVerdict::Answered),
            false => Err(state),
        };
        match &v {
            Value::Nil | Value::Boolean(true) => Ok(SubscribeVerdict::Accept(None)),
            Value::Boolean(false) => refuse(State::EAccess),
            Value::String(s) => Ok(SubscribeVerdict::Accept(Some(s.as_bytes().to_vec()))),
            v => match as_state(v) {
                Some(s) if s.is_error() => refuse(s),
                Some(_) => Ok(SubscribeVerdict::Accept(None)),
                None => {
                    let text = format!(
                        "returned a {}, not a state code, boolean or greeting",
                        v.type_name()
                    );
                    Err(self.failed(hub, subscriber, "on_subscribe", &text))
                }
            },
        }
    }

    fn source(&self) -> String {
        self.file.display().to_string()
    }
}

impl LuaCommands {
    /// Hands the hub the channels the host's files define now, when they
    /// changed since the last time: a name defined by several files takes
    /// the definition of the one loaded last.
    pub(super) fn sync_channels(&mut self, hub: &mut Hub) {
        if !std::mem::take(&mut self.channels_changed) {
            return;
        }
        let mut by_name: std::collections::BTreeMap<&str, &Rc<LuaChannel>> = Default::default();
        for entry in self.files_by_load_order() {
            for c in &entry.channels {
                by_name.insert(&c.name, c);
            }
        }
        let defs: Vec<Channel> = by_name
            .into_values()
            .map(|c| {
                let hooks: Option<Rc<dyn ChannelHooks>> =
                    if c.on_publish.is_some() || c.on_subscribe.is_some() {
                        Some(Rc::new(LuaHooks {
                            name: c.name.clone(),
                            file: c.file.clone(),
                            on_publish: c.on_publish.clone(),
                            on_subscribe: c.on_subscribe.clone(),
                            rt: Rc::clone(&self.hook_rt),
                        }))
                    } else {
                        None
                    };
                Channel::new(&c.name, c.spec.clone(), hooks)
            })
            .collect();
        for (name, e) in channels::replace(hub, Origin::Lua, defs) {
            hub.log(
                Level::Warn,
                "lua",
                "server",
                &format!("channels.{name}: {e}"),
            );
        }
    }
}
