//! Channels: behaviour attached to a route pattern (PROTOCOL.md §15,
//! docs/LUA.md "Channels"). A channel has a name, a pattern, built-in
//! settings ([`ChannelSpec`]: history depth, retain-last, a rate limit per
//! publisher, a payload size limit, read-only) and, when a Lua file defines
//! it, hooks ([`ChannelHooks`]) that see each client publication and
//! subscription on its routes.
//!
//! Channels come from three places, each a layer of its own: `chan add`
//! (command), the embedder or its configuration file (config), and Lua
//! files (lua). A name defined in several layers takes the definition of
//! the highest (lua, then config, then command); the others come back when
//! it goes. This file holds the registry and the calls that change it;
//! `gate` applies channels to publications and subscriptions; `spec`,
//! `rate`, `depths` and `overlap` are its parts. It never touches a socket.
//! Over 600 lines only with its unit tests (the code is about 430).
//!
//! An embedder defines its channels in the config layer, with `define` /
//! `remove` (the configuration file's `[[channel]]` tables, at a reload
//! only those that changed), or replaces them all:
//!
//! ```
//! use ducq::server::channels::{self, Channel, ChannelSpec, Origin};
//! use ducq::server::{Reactor, Settings};
//! let mut reactor = Reactor::new(Settings::default())?;
//! let hub = reactor.hub_mut();
//! let sensors = ChannelSpec::parse("pattern=sensors/# history=10 retain rate=5/s", 1024)?;
//! let status = ChannelSpec { read_only: true, ..ChannelSpec::new("status/#") };
//! let refused = channels::replace(
//!     hub,
//!     Origin::Config,
//!     vec![Channel::new("sensors", sensors, None), Channel::new("status", status, None)],
//! );
//! assert!(refused.is_empty());
//! assert_eq!(hub.channels.list().len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use super::broker::Subscriptions;
use super::conn::ConnId;
use super::hub::Hub;
use crate::proto::{Message, State};

mod depths;
pub mod gate;
mod overlap;
mod rate;
mod spec;

pub use depths::RouteDepths;
pub use overlap::overlaps;
pub use spec::{
    check_name, quoted, setting_item, ChannelSpec, Rate, SettingValue, SpecError, MAX_DEPTH,
    MAX_NAME, SETTINGS,
};

/// Where a channel was defined. Layers, lowest first: a name defined in
/// several takes the highest one's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// `chan add` from a client.
    Command,
    /// The embedder: a configuration file, a Rust program.
    Config,
    /// A `channels` table of a Lua file.
    Lua,
}

impl Origin {
    const ALL: [Origin; 3] = [Origin::Command, Origin::Config, Origin::Lua];
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Command => "command",
            Origin::Config => "config",
            Origin::Lua => "lua",
        })
    }
}

/// A client's publication as `on_publish` sees it, and may change it
/// (transform the payload, reroute to another route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The command word as sent (`pub` or `publish`).
    pub command: Vec<u8>,
    /// The route.
    pub route: Vec<u8>,
    /// The payload.
    pub payload: Vec<u8>,
}

/// What an `on_publish` hook decided (a refusal is `Err(state)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishVerdict {
    /// Go on with the publication as it now is.
    Publish,
    /// Drop it: the publisher gets its ACK, nobody gets the message and
    /// nothing is stored.
    Drop,
    /// The hook answered the publisher itself: nothing more is done or
    /// sent.
    Answered,
}

/// What an `on_subscribe` hook decided (a refusal is `Err(state)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeVerdict {
    /// Subscribe; a greeting payload, if any, is sent after the ACK as
    /// `pub <route>\n<greeting>`.
    Accept(Option<Vec<u8>>),
    /// The hook answered the subscriber itself (and refused it): nothing
    /// more is done or sent.
    Answered,
}

/// Behaviour a channel gets from code outside the server (Lua). A hook
/// runs on the reactor thread with the hub; it must not keep it. Errors
/// are the hook's to log; `Err(state)` is answered with a NACK.
pub trait ChannelHooks {
    /// Whether `on_publish` does anything (else it is not called).
    fn has_on_publish(&self) -> bool;
    /// Whether `on_subscribe` does anything.
    fn has_on_subscribe(&self) -> bool;
    /// Sees, and may change, a client's publication on one of the
    /// channel's routes.
    fn on_publish(
        &self,
        hub: &mut Hub,
        publisher: ConnId,
        p: &mut Publication,
    ) -> Result<PublishVerdict, State>;
    /// Sees a client's `sub` (or `last`) whose route may match one of the
    /// channel's routes; may refuse it or give a greeting.
    fn on_subscribe(
        &self,
        hub: &mut Hub,
        subscriber: ConnId,
        request: &Message<'_>,
    ) -> Result<SubscribeVerdict, State>;
    /// Where the hooks come from, for `chan show` (a file name).
    fn source(&self) -> String;
}

/// A defined channel.
pub struct Channel {
    /// Its name (`chan show NAME`).
    pub name: String,
    /// Its pattern and built-in settings.
    pub spec: ChannelSpec,
    /// Where it was defined.
    pub origin: Origin,
    /// Its hooks, when a Lua file defines it.
    pub hooks: Option<Rc<dyn ChannelHooks>>,
    /// Unique to this definition: rate buckets are keyed by it, so a
    /// redefinition starts them afresh.
    uid: u64,
}

impl Channel {
    /// A channel to hand to [`define`] or [`replace`].
    pub fn new(name: &str, spec: ChannelSpec, hooks: Option<Rc<dyn ChannelHooks>>) -> Channel {
        Channel {
            name: name.to_string(),
            spec,
            origin: Origin::Command,
            hooks,
            uid: 0,
        }
    }

    /// `chan show`'s lines: the spec's `key=value` lines, then `origin=`
    /// and, for hooks, `on_publish=` / `on_subscribe=` with their source.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.spec.to_string().lines().map(String::from).collect();
        lines.push(format!("origin={}", self.origin));
        if let Some(h) = &self.hooks {
            if h.has_on_publish() {
                lines.push(format!("on_publish={}", h.source()));
            }
            if h.has_on_subscribe() {
                lines.push(format!("on_subscribe={}", h.source()));
            }
        }
        lines
    }
}

/// Why a channel could not be defined or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelError {
    /// A bad name or setting; the text says which.
    Spec(SpecError),
    /// The name belongs to a higher layer (a Lua file, the configuration),
    /// which must be changed instead.
    Owned(Origin),
    /// No such channel in that layer.
    NotFound,
}

impl ChannelError {
    /// The state a client is answered with: `EMSGINV`, `EACCESS`,
    /// `ENOTFOUND`.
    pub fn state(&self) -> State {
        match self {
            ChannelError::Spec(_) => State::EMsgInv,
            ChannelError::Owned(_) => State::EAccess,
            ChannelError::NotFound => State::ENotFound,
        }
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::Spec(e) => e.fmt(f),
            ChannelError::Owned(o) => write!(f, "the channel is defined by {o}; change it there"),
            ChannelError::NotFound => f.write_str("no such channel"),
        }
    }
}

impl std::error::Error for ChannelError {}

type Layer = BTreeMap<String, Rc<Channel>>;

/// Every channel, by layer, and the active ones indexed by pattern.
#[derive(Default)]
pub struct Channels {
    command: Layer,
    config: Layer,
    lua: Layer,
    /// The definition in force of each name, in name order.
    active: Vec<Rc<Channel>>,
    /// Patterns of `active`, keyed by position.
    index: Subscriptions,
    /// Whether some active channel acts on subscriptions (an
    /// `on_subscribe` hook, `retain`); if none does, a subscription does
    /// not look at channels at all.
    on_subscriptions: bool,
    rates: rate::RateLimits,
    next_uid: u64,
    /// Reused by the gate: positions of the channels matching a route.
    scratch: RefCell<Vec<usize>>,
}

impl Channels {
    fn layer(&self, o: Origin) -> &Layer {
        match o {
            Origin::Command => &self.command,
            Origin::Config => &self.config,
            Origin::Lua => &self.lua,
        }
    }

    fn layer_mut(&mut self, o: Origin) -> &mut Layer {
        match o {
            Origin::Command => &mut self.command,
            Origin::Config => &mut self.config,
            Origin::Lua => &mut self.lua,
        }
    }

    /// Whether no channel is defined: then publications and subscriptions
    /// pay one test and nothing more.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// The channels in force, in name order.
    pub fn list(&self) -> &[Rc<Channel>] {
        &self.active
    }

    /// The channel in force named `name`.
    pub fn get(&self, name: &str) -> Option<&Rc<Channel>> {
        self.active
            .binary_search_by(|c| c.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.active.get(i))
    }

    /// The channels whose pattern matches published `route`, in name
    /// order, through the pattern index (no channel is tested one by one).
    pub fn matching(&self, route: &[u8]) -> Vec<Rc<Channel>> {
        let mut hits = self.scratch.take();
        self.index.for_each_subscriber(route, |k| hits.push(k));
        let out = self.collect(&mut hits);
        self.scratch.replace(hits);
        out
    }

    /// Whether some channel's pattern matches `route`.
    pub fn any_matching(&self, route: &[u8]) -> bool {
        let mut any = false;
        self.index.for_each_subscriber(route, |_| any = true);
        any
    }

    fn collect(&self, hits: &mut Vec<usize>) -> Vec<Rc<Channel>> {
        hits.sort_unstable();
        hits.dedup();
        let out = hits
            .iter()
            .filter_map(|&k| self.active.get(k).cloned())
            .collect();
        hits.clear();
        out
    }

    /// Whether some channel acts on subscriptions: an `on_subscribe` hook
    /// or `retain`.
    #[inline]
    pub fn act_on_subscriptions(&self) -> bool {
        self.on_subscriptions
    }

    /// The channels a subscription to `pattern` may receive messages of
    /// (their patterns overlap), in name order.
    pub fn overlapping(&self, pattern: &[u8]) -> Vec<Rc<Channel>> {
        self.active
            .iter()
            .filter(|c| overlaps(c.spec.pattern.as_bytes(), pattern))
            .cloned()
            .collect()
    }
}

/// Defines (or redefines) channel `c` in `origin`'s layer. Refused when
/// the name or spec is invalid, or when `origin` is `Command` and a higher
/// layer holds the name.
pub fn define(hub: &mut Hub, origin: Origin, mut c: Channel) -> Result<(), ChannelError> {
    check_name(&c.name).map_err(ChannelError::Spec)?;
    c.spec
        .check(hub.settings().max_route)
        .map_err(ChannelError::Spec)?;
    if origin == Origin::Command {
        if let Some(o) = owner(&hub.channels, &c.name).filter(|&o| o > origin) {
            return Err(ChannelError::Owned(o));
        }
    }
    c.origin = origin;
    hub.channels.next_uid += 1;
    c.uid = hub.channels.next_uid;
    let layer = hub.channels.layer_mut(origin);
    layer.insert(c.name.clone(), Rc::new(c));
    rebuild(hub);
    Ok(())
}

/// Removes channel `name` from `origin`'s layer. `Owned` when only a
/// higher layer holds it (for `Command`), `NotFound` when none does.
pub fn remove(hub: &mut Hub, origin: Origin, name: &str) -> Result<(), ChannelError> {
    if hub.channels.layer_mut(origin).remove(name).is_none() {
        return Err(match owner(&hub.channels, name) {
            Some(o) if o > origin => ChannelError::Owned(o),
            _ => ChannelError::NotFound,
        });
    }
    rebuild(hub);
    Ok(())
}

/// Replaces `origin`'s whole layer with `channels` (a configuration
/// reload, a Lua file set that changed). Invalid entries are skipped and
/// returned with their reason; the rest is defined.
pub fn replace(
    hub: &mut Hub,
    origin: Origin,
    channels: Vec<Channel>,
) -> Vec<(String, ChannelError)> {
    let max_route = hub.settings().max_route;
    let mut refused = Vec::new();
    let mut layer = BTreeMap::new();
    for mut c in channels {
        let checked = check_name(&c.name).and_then(|()| c.spec.check(max_route));
        if let Err(e) = checked {
            refused.push((c.name.clone(), ChannelError::Spec(e)));
            continue;
        }
        c.origin = origin;
        hub.channels.next_uid += 1;
        c.uid = hub.channels.next_uid;
        layer.insert(c.name.clone(), Rc::new(c));
    }
    *hub.channels.layer_mut(origin) = layer;
    rebuild(hub);
    refused
}

/// The highest layer holding `name`.
fn owner(ch: &Channels, name: &str) -> Option<Origin> {
    Origin::ALL
        .into_iter()
        .rev()
        .find(|&o| ch.layer(o).contains_key(name))
}

/// Recomputes the channels in force, their index, the history depths they
/// set, and forgets the rate buckets of definitions that are gone.
fn rebuild(hub: &mut Hub) {
    let ch = &mut hub.channels;
    let mut active: BTreeMap<&str, &Rc<Channel>> = BTreeMap::new();
    for o in Origin::ALL {
        for (name, c) in ch.layer(o) {
            active.insert(name, c);
        }
    }
    let active: Vec<Rc<Channel>> = active.into_values().cloned().collect();
    let mut index = Subscriptions::default();
    for (k, c) in active.iter().enumerate() {
        index.subscribe(k, c.spec.pattern.as_bytes(), true);
    }
    let depths = RouteDepths::new(
        active
            .iter()
            .filter_map(|c| Some((c.spec.pattern.as_bytes(), c.spec.history?))),
    );
    ch.rates
        .retain_channels(|uid| active.iter().any(|c| c.uid == uid));
    ch.on_subscriptions = active.iter().any(|c| {
        c.spec.retain.is_some_and(|n| n > 0)
            || c.hooks.as_ref().is_some_and(|h| h.has_on_subscribe())
    });
    ch.active = active;
    ch.index = index;
    hub.last.set_route_depths(depths);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{Reactor, Settings};

    fn spec(text: &str) -> ChannelSpec {
        ChannelSpec::parse(text, 1024).unwrap()
    }

    #[test]
    fn layers_shadow_and_come_back() {
        let mut r = Reactor::new(Settings::default()).unwrap();
        let hub = r.hub_mut();
        assert!(hub.channels.is_empty());
        let c = |p: &str| Channel::new("x", spec(&format!("pattern={p}")), None);
        define(hub, Origin::Command, c("a/#")).unwrap();
        define(hub, Origin::Lua, c("b/#")).unwrap();
        assert_eq!(hub.channels.get("x").unwrap().spec.pattern, "b/#");
        assert_eq!(hub.channels.matching(b"a/1").len(), 0);
        assert_eq!(hub.channels.matching(b"b/1").len(), 1);
        // The command layer cannot change what a Lua file defines.
        assert_eq!(
            define(hub, Origin::Command, c("c")),
            Err(ChannelError::Owned(Origin::Lua))
        );
        assert_eq!(
            remove(hub, Origin::Command, "x"),
            Ok(()),
            "its own definition, shadowed, can go"
        );
        assert_eq!(
            remove(hub, Origin::Command, "x"),
            Err(ChannelError::Owned(Origin::Lua))
        );
        define(hub, Origin::Config, c("d")).unwrap();
        replace(hub, Origin::Lua, Vec::new());
        assert_eq!(hub.channels.get("x").unwrap().spec.pattern, "d");
        assert_eq!(remove(hub, Origin::Config, "x"), Ok(()));
        assert!(hub.channels.is_empty());
        assert_eq!(
            remove(hub, Origin::Command, "x"),
            Err(ChannelError::NotFound)
        );
    }

    #[test]
    fn matching_is_in_name_order_and_counts_each_channel_once() {
        let mut r = Reactor::new(Settings::default()).unwrap();
        let hub = r.hub_mut();
        for (name, p) in [("b", "a/#"), ("a", "a/+"), ("c", "x"), ("d", "*")] {
            let c = Channel::new(name, spec(&format!("pattern={p}")), None);
            define(hub, Origin::Command, c).unwrap();
        }
        let names = |v: Vec<Rc<Channel>>| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(hub.channels.matching(b"a/1")), ["a", "b", "d"]);
        assert_eq!(names(hub.channels.matching(b"x")), ["c", "d"]);
        assert!(hub.channels.any_matching(b"q"));
        assert_eq!(names(hub.channels.overlapping(b"a/1/2")), ["b", "d"]);
    }

    #[test]
    fn replace_skips_bad_entries_and_says_why() {
        let mut r = Reactor::new(Settings::default()).unwrap();
        let hub = r.hub_mut();
        let refused = replace(
            hub,
            Origin::Config,
            vec![
                Channel::new("ok", ChannelSpec::new("a"), None),
                Channel::new("bad name", ChannelSpec::new("a"), None),
                Channel::new("empty", ChannelSpec::new(""), None),
            ],
        );
        let names: Vec<&str> = refused.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["bad name", "empty"]);
        assert_eq!(hub.channels.list().len(), 1);
        assert_eq!(refused[0].1.state(), State::EMsgInv);
    }

    /// Test hooks: which ones they say they have, and what `on_publish`
    /// does to each publication (nothing without `edit`). `gate.rs`'s
    /// tests use them too.
    pub(super) struct Hooks {
        pub(super) publish: bool,
        pub(super) subscribe: bool,
        pub(super) edit: Option<fn(&mut Publication)>,
    }

    impl ChannelHooks for Hooks {
        fn has_on_publish(&self) -> bool {
            self.publish
        }
        fn has_on_subscribe(&self) -> bool {
            self.subscribe
        }
        fn on_publish(
            &self,
            _: &mut Hub,
            _: ConnId,
            p: &mut Publication,
        ) -> Result<PublishVerdict, State> {
            if let Some(edit) = self.edit {
                edit(p);
            }
            Ok(PublishVerdict::Publish)
        }
        fn on_subscribe(
            &self,
            _: &mut Hub,
            _: ConnId,
            _: &Message<'_>,
        ) -> Result<SubscribeVerdict, State> {
            Ok(SubscribeVerdict::Accept(None))
        }
        fn source(&self) -> String {
            "chat.lua".into()
        }
    }

    fn hooks(publish: bool, subscribe: bool) -> Option<Rc<dyn ChannelHooks>> {
        Some(Rc::new(Hooks {
            publish,
            subscribe,
            edit: None,
        }))
    }

    #[test]
    fn show_lists_settings_origin_and_hooks() {
        let mut r = Reactor::new(Settings::default()).unwrap();
        let hub = r.hub_mut();
        let c = Channel::new("chat", spec("pattern=chat/# history=5"), hooks(true, true));
        define(hub, Origin::Lua, c).unwrap();
        let c = Channel::new("news", spec("pattern=news read_only"), hooks(false, true));
        define(hub, Origin::Config, c).unwrap();
        define(
            hub,
            Origin::Command,
            Channel::new("x", spec("pattern=x"), None),
        )
        .unwrap();
        let show = |name: &str| hub.channels.get(name).unwrap().describe();
        assert_eq!(
            show("chat"),
            [
                "pattern=chat/#",
                "history=5",
                "origin=lua",
                "on_publish=chat.lua",
                "on_subscribe=chat.lua"
            ]
        );
        assert_eq!(
            show("news"),
            [
                "pattern=news",
                "read_only=true",
                "origin=config",
                "on_subscribe=chat.lua"
            ]
        );
        assert_eq!(show("x"), ["pattern=x", "origin=command"]);
        assert!(hub.channels.get("y").is_none());
    }

    #[test]
    fn errors_have_their_state_and_text() {
        let spec_error = ChannelError::Spec(SpecError("bad".into()));
        let cases = [
            (spec_error, State::EMsgInv, "bad"),
            (
                ChannelError::Owned(Origin::Lua),
                State::EAccess,
                "the channel is defined by lua; change it there",
            ),
            (ChannelError::NotFound, State::ENotFound, "no such channel"),
        ];
        for (e, state, text) in cases {
            assert_eq!((e.state(), e.to_string()), (state, text.to_string()));
        }
    }

    #[test]
    fn only_the_command_layer_yields_to_higher_ones() {
        let mut r = Reactor::new(Settings::default()).unwrap();
        let hub = r.hub_mut();
        let c = |p: &str| Channel::new("x", spec(&format!("pattern={p}")), None);
        define(hub, Origin::Command, c("a")).unwrap();
        // A command redefines its own layer's channel.
        define(hub, Origin::Command, c("b")).unwrap();
        assert_eq!(hub.channels.get("x").unwrap().spec.pattern, "b");
        define(hub, Origin::Lua, c("l")).unwrap();
        // The configuration defines under a Lua file's channel; it shows
        // once the Lua one goes.
        define(hub, Origin::Config, c("c")).unwrap();
        assert_eq!(hub.channels.get("x").unwrap().spec.pattern, "l");
        assert_eq!(remove(hub, Origin::Lua, "x"), Ok(()));
        assert_eq!(hub.channels.get("x").unwrap().spec.pattern, "c");
        // Removing from a layer that does not hold the name: NotFound
        // when only a lower one does, Owned when a higher one does.
        assert_eq!(remove(hub, Origin::Lua, "x"), Err(ChannelError::NotFound));
        assert_eq!(remove(hub, Origin::Command, "x"), Ok(()));
        assert_eq!(
            remove(hub, Origin::Command, "x"),
            Err(ChannelError::Owned(Origin::Config))
        );
        define(
            hub,
            Origin::Command,
            Channel::new("y", spec("pattern=y"), None),
        )
        .unwrap();
        assert_eq!(
            remove(hub, Origin::Config, "y"),
            Err(ChannelError::NotFound)
        );
    }

    #[test]
    fn each_definition_gets_its_own_rate_buckets() {
        use super::rate::Publisher;
        let mut r = Reactor::new(Settings::default()).unwrap();
        let hub = r.hub_mut();
        let ip = Publisher::Host(std::net::Ipv4Addr::LOCALHOST.into());
        let now = std::time::Instant::now();
        let limited = || Channel::new("a", spec("pattern=a rate=1/h burst=1"), None);
        define(hub, Origin::Command, limited()).unwrap();
        let first = Rc::clone(hub.channels.get("a").unwrap());
        assert_eq!(first.uid, 1);
        let rate = first.spec.rate.unwrap();
        assert!(hub.channels.rates.take(first.uid, &rate, ip, now, |_| true));
        assert!(!hub.channels.rates.take(first.uid, &rate, ip, now, |_| true));
        // Redefined: a new definition, the old one's bucket forgotten.
        define(hub, Origin::Command, limited()).unwrap();
        let second = Rc::clone(hub.channels.get("a").unwrap());
        assert_eq!(second.uid, 2);
        assert!(hub.channels.rates.is_empty());
        assert!(hub
            .channels
            .rates
            .take(second.uid, &rate, ip, now, |_| true));
        let refused = replace(
            hub,
            Origin::Config,
            vec![limited(), Channel::new("b", spec("pattern=b"), None)],
        );
        assert!(refused.is_empty());
        let uids: Vec<u64> = hub.channels.list().iter().map(|c| c.uid).collect();
        assert_eq!(uids, [3, 4]);
        assert!(hub.channels.rates.is_empty());
    }

    #[test]
    fn subscriptions_look_at_channels_only_for_retain_or_a_subscribe_hook() {
        let mut r = Reactor::new(Settings::default()).unwrap();
        let hub = r.hub_mut();
        let acts = |hub: &mut Hub, c: Channel| {
            replace(hub, Origin::Config, vec![c]);
            hub.channels.act_on_subscriptions()
        };
        assert!(!acts(
            hub,
            Channel::new("a", spec("pattern=a retain=0"), None)
        ));
        assert!(acts(
            hub,
            Channel::new("a", spec("pattern=a retain=1"), None)
        ));
        assert!(!acts(
            hub,
            Channel::new("a", spec("pattern=a"), hooks(true, false))
        ));
        assert!(acts(
            hub,
            Channel::new("a", spec("pattern=a"), hooks(false, true))
        ));
        assert!(!hub.channels.is_empty());
        assert!(hub.channels.any_matching(b"a"));
        assert!(!hub.channels.any_matching(b"b"));
        replace(hub, Origin::Config, Vec::new());
        assert!(hub.channels.is_empty());
        assert!(!hub.channels.act_on_subscriptions());
    }
}
