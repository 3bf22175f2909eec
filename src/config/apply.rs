//! Applies a checked configuration to a reactor: at start (open the
//! listeners, install users, origin rules, Lua folders) and on reload
//! (everything but the listeners themselves, without dropping a client
//! connection; bridges are added, removed and redialled). A reload builds
//! everything that can fail first (the Lua host), so a refusal leaves the
//! running configuration untouched.
//! It must not read files: `check` does.

use std::path::Path;

use super::check::{ListenerKindName, ListenerSpec, Resolved};
use crate::lua::LuaCommands;
use crate::server::log::Level;
use crate::server::reactor::{ListenerKind, ListenerOptions};
use crate::server::socket::ListenSocket;
use crate::server::Reactor;

/// What a started configuration keeps for its reloads.
pub struct Running {
    /// The configuration in force.
    pub resolved: Resolved,
    /// The dispatcher index of the Lua command set, once there is one.
    pub lua_set: Option<usize>,
    /// The reactor's index of each of `resolved.listeners`: an embedder may
    /// have opened listeners of its own before, so the file's first is not
    /// necessarily the reactor's first.
    pub listeners: Vec<usize>,
}

/// Opens `l`; its index among the reactor's listeners.
fn open(reactor: &mut Reactor, l: &ListenerSpec) -> Result<usize, String> {
    let kind = match l.kind {
        ListenerKindName::Tcp | ListenerKindName::Tls | ListenerKindName::Unix => {
            ListenerKind::Framed
        }
        ListenerKindName::Http | ListenerKindName::Https => ListenerKind::Http,
        ListenerKindName::Mqtt | ListenerKindName::Mqtts => ListenerKind::Mqtt(
            crate::transport::mqtt::Sessions::with_limits(l.mqtt.clone().unwrap_or_default()),
        ),
    };
    let opts = ListenerOptions {
        kind,
        tls: l.tls.clone(),
        anonymous: l.anonymous,
    };
    let what = &l.source.kind;
    if l.kind == ListenerKindName::Unix {
        let socket = ListenSocket::bind_unix(Path::new(&l.addr), l.mode)
            .map_err(|e| format!("cannot listen on {} ({what}): {e}", l.addr))?;
        return reactor
            .add_listen_socket(socket, opts)
            .map_err(|e| format!("cannot listen on {} ({what}): {e}", l.addr));
    }
    let index = reactor.listener_names().len();
    reactor
        .listen_with(&l.addr, opts)
        .map(|_| index)
        .map_err(|e| format!("cannot listen on {} ({what}): {e}", l.addr))
}

fn lua_host(r: &Resolved) -> Result<Option<LuaCommands>, String> {
    if r.lua_dirs.is_empty() {
        return Ok(None);
    }
    let mut lua = LuaCommands::new(r.lua_limits).map_err(|e| format!("cannot start Lua: {e}"))?;
    for p in &r.lua_dirs {
        lua.add_path(p.as_ref())
            .map_err(|e| format!("lua {p}: {e}"))?;
    }
    Ok(Some(lua))
}

/// Applies `r` to a fresh reactor: Lua folders first (a wrong path stops
/// the start before any client is served), then users and origin rules,
/// then the listeners.
pub fn start(reactor: &mut Reactor, r: Resolved) -> Result<Running, String> {
    reactor.hub_mut().set_settings(r.settings.clone());
    super::channels::apply(reactor.hub_mut(), &[], &r.channels);
    let mut lua_set = None;
    if let Some(mut lua) = lua_host(&r)? {
        lua.flush_log(reactor.hub_mut());
        lua_set = Some(reactor.dispatcher().set_count());
        reactor
            .add_command_set(Box::new(lua))
            .map_err(|e| format!("cannot watch Lua folders: {e}"))?;
    }
    reactor.hub_mut().set_auth(r.auth.clone());
    reactor.set_http_policy(r.http.clone());
    let mut listeners = Vec::with_capacity(r.listeners.len());
    for l in &r.listeners {
        listeners.push(open(reactor, l)?);
    }
    for b in &r.bridges {
        reactor
            .add_bridge(b.clone())
            .map_err(|e| format!("bridge {}: {e}", b.name))?;
    }
    Ok(Running {
        resolved: r,
        lua_set,
        listeners,
    })
}

/// Applies a reloaded configuration: limits, log level, users and access
/// lists, origin rules, Lua folders, certificates, each listener's
/// anonymous setting, MQTT listeners' limits (for connections accepted
/// from then on) and the bridges (added, removed, or redialled with
/// changed settings; clients stay connected). Listeners added, removed or
/// moved need a restart (said in the log); the rest still applies.
pub fn apply_reload(
    reactor: &mut Reactor,
    running: &mut Running,
    new: Resolved,
) -> Result<(), Vec<String>> {
    let old = &running.resolved;
    let lua_changed = new.lua_dirs != old.lua_dirs || new.lua_limits != old.lua_limits;
    // Everything that can fail, before anything changes.
    let lua = if lua_changed {
        lua_host(&new).map_err(|e| vec![e])?
    } else {
        None
    };
    let same_listeners = new.listeners.len() == old.listeners.len()
        && new
            .listeners
            .iter()
            .zip(&old.listeners)
            .all(|(a, b)| a.kind == b.kind && a.addr == b.addr);
    if !same_listeners {
        let text = "listeners added, removed or moved: they change at the next restart";
        reactor.hub_mut().log(Level::Warn, "reload", "server", text);
    }
    reactor.hub_mut().set_settings(new.settings.clone());
    super::channels::apply(reactor.hub_mut(), &old.channels, &new.channels);
    reactor.hub_mut().set_auth(new.auth.clone());
    reactor.set_http_policy(new.http.clone());
    for (i, (l, was)) in new.listeners.iter().zip(&old.listeners).enumerate() {
        let Some(&index) = running.listeners.get(i) else {
            continue;
        };
        if l.kind != was.kind || l.addr != was.addr {
            continue;
        }
        if let Some(tls) = &l.tls {
            reactor.set_listener_tls(index, std::sync::Arc::clone(tls));
        }
        reactor.set_listener_anonymous(index, l.anonymous);
        if let Some(limits) = &l.mqtt {
            reactor.set_listener_mqtt_limits(index, limits.clone());
        }
    }
    if lua_changed {
        match (lua, running.lua_set) {
            (Some(mut lua), Some(index)) => {
                lua.flush_log(reactor.hub_mut());
                reactor.replace_command_set(index, Box::new(lua));
            }
            (Some(mut lua), None) => {
                lua.flush_log(reactor.hub_mut());
                running.lua_set = Some(reactor.dispatcher().set_count());
                if let Err(e) = reactor.add_command_set(Box::new(lua)) {
                    return Err(vec![format!("cannot watch Lua folders: {e}")]);
                }
            }
            (None, Some(index)) => {
                reactor.replace_command_set(index, Box::new(NoCommands));
            }
            (None, None) => {}
        }
    }
    // The channels are in force whatever fails below: the next reload
    // compares with them.
    running.resolved.channels = new.channels.clone();
    if new.bridges != running.resolved.bridges {
        reactor.reload_bridges(&new.bridges).map_err(|e| vec![e])?;
    }
    running.resolved = new;
    Ok(())
}

/// An empty command set, in the slot of a Lua host whose folders were all
/// removed from the configuration.
struct NoCommands;

impl crate::server::CommandSet for NoCommands {
    fn list(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn has(&self, _: &[u8]) -> bool {
        false
    }

    fn exec(
        &mut self,
        _: &mut crate::server::Hub,
        _: usize,
        _: &crate::proto::Message<'_>,
    ) -> Result<(), crate::proto::State> {
        Err(crate::proto::State::ENoCmd)
    }
}
