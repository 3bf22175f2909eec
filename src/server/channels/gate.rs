//! Where channels act: the hook points the built-in commands call before
//! publishing (`pub`), subscribing (`sub`, `last`), streaming (`CONT`,
//! `END`) and removing stored messages (`forget`). Each starts with one
//! test, `Channels::is_empty`, and asks the pattern index next, so a
//! publication on a route no channel governs pays one index walk and
//! allocates nothing. Publications made by the
//! server's own code (Lua's `reactor:publish`, the C API) do not pass
//! here: limits and hooks are about clients; the history depth a channel
//! sets applies to every publication (the store looks it up).

use std::rc::Rc;
use std::time::Instant;

use super::rate::Publisher;
use super::{Channel, Publication, PublishVerdict, SubscribeVerdict};
use crate::proto::message::format;
use crate::proto::route::{is_pattern, matches};
use crate::proto::{Message, State};
use crate::server::conn::ConnId;
use crate::server::hub::Hub;
use crate::server::rules::check_route;

/// What becomes of a client's publication.
#[derive(Debug, PartialEq, Eq)]
pub enum Admitted {
    /// Publish it as sent (no channel, or none changed it).
    AsSent,
    /// Publish this message on this route instead (transformed or
    /// rerouted by `on_publish`).
    Rewritten {
        /// The route to publish on.
        route: Vec<u8>,
        /// The whole message, `<command> <route>\n<payload>`.
        msg: Vec<u8>,
    },
    /// ACK the publisher, publish nothing.
    Dropped,
    /// Nothing more: a hook answered the publisher.
    Answered,
}

/// Applies the channels governing `msg.route` to a client's publication:
/// read-only (`EACCESS`), payload size (`EMSGSIZE`), rate (`EMAX`), then
/// each `on_publish` hook in name order, each seeing what the previous one
/// left. `Err(state)` is answered with a NACK.
pub fn publication(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<Admitted, State> {
    if hub.channels.is_empty() {
        return Ok(Admitted::AsSent);
    }
    let matched = hub.channels.matching(msg.route);
    if matched.is_empty() {
        return Ok(Admitted::AsSent);
    }
    limits(hub, caller, &matched, Some(msg.payload.len()))?;
    let hooked: Vec<&Rc<Channel>> = matched
        .iter()
        .filter(|c| c.hooks.as_ref().is_some_and(|h| h.has_on_publish()))
        .collect();
    if hooked.is_empty() {
        return Ok(Admitted::AsSent);
    }
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    let mut p = Publication {
        command: msg.command.to_vec(),
        route: msg.route.to_vec(),
        payload: msg.payload.to_vec(),
    };
    for c in hooked {
        let Some(h) = &c.hooks else { continue };
        match h.on_publish(hub, id, &mut p)? {
            PublishVerdict::Publish => {}
            PublishVerdict::Drop => return Ok(Admitted::Dropped),
            PublishVerdict::Answered => return Ok(Admitted::Answered),
        }
    }
    if p.route == msg.route && p.payload == msg.payload && p.command == msg.command {
        return Ok(Admitted::AsSent);
    }
    check_route(&p.route, hub.settings().max_route)?;
    let out = format(&p.command, &p.route, &p.payload);
    if out.len() > hub.settings().max_message {
        return Err(State::EMsgSize);
    }
    Ok(Admitted::Rewritten {
        route: p.route,
        msg: out,
    })
}

/// The publisher limits of `matched`: read-only, then the payload size
/// (when `payload` is known), then one token from each rate bucket.
fn limits(
    hub: &mut Hub,
    caller: usize,
    matched: &[Rc<Channel>],
    payload: Option<usize>,
) -> Result<(), State> {
    if matched.iter().any(|c| c.spec.read_only) {
        return Err(State::EAccess);
    }
    if let Some(len) = payload {
        if matched
            .iter()
            .any(|c| c.spec.max_payload.is_some_and(|m| len > m))
        {
            return Err(State::EMsgSize);
        }
    }
    if matched.iter().all(|c| c.spec.rate.is_none()) {
        return Ok(());
    }
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    let who = publisher(hub, caller, id);
    let now = Instant::now();
    for c in matched {
        let Some(rate) = &c.spec.rate else { continue };
        let conns = &hub.conns;
        let live = |id: ConnId| conns.get(id.key).is_some_and(|c| c.gen == id.gen);
        if !hub.channels.rates.take(c.uid, rate, who, now, live) {
            return Err(State::EMax);
        }
    }
    Ok(())
}

/// Whose rate bucket a publication from `caller` takes from: its
/// connection's, unless it is a plain HTTP request (a connection that
/// cannot carry unasked messages), which counts for its address, so a
/// client opening a connection per request gets no fresh bucket each time.
fn publisher(hub: &Hub, caller: usize, id: ConnId) -> Publisher {
    match hub.conns.get(caller) {
        Some(c) if !c.transport.accepts_push() => match c.peer.ip() {
            Some(ip) => Publisher::Host(ip),
            // A Unix socket's clients have no address to share a bucket.
            None => Publisher::Conn(id),
        },
        _ => Publisher::Conn(id),
    }
}

/// A part of a client's streamed payload on `route` (PROTOCOL.md §12):
/// refused (`EACCESS`) on a read-only channel or one with an `on_publish`
/// hook, which must see whole messages, and (`EMSGSIZE`) on one with a
/// payload limit, since a stream's length is unknown; the opening part
/// (`opening`) takes one token from each rate bucket.
pub fn stream_part(hub: &mut Hub, caller: usize, route: &[u8], opening: bool) -> Result<(), State> {
    if hub.channels.is_empty() {
        return Ok(());
    }
    let matched = hub.channels.matching(route);
    if matched.is_empty() {
        return Ok(());
    }
    let whole_only =
        |c: &Rc<Channel>| c.spec.read_only || c.hooks.as_ref().is_some_and(|h| h.has_on_publish());
    if matched.iter().any(whole_only) {
        return Err(State::EAccess);
    }
    if matched.iter().any(|c| c.spec.max_payload.is_some()) {
        return Err(State::EMsgSize);
    }
    // Rate buckets count streams, not parts.
    if opening {
        limits(hub, caller, &matched, None)?;
    }
    Ok(())
}

/// A client's `forget R`: refused (`EACCESS`) when R may name a route of a
/// read-only channel (the patterns overlap), whose stored messages only
/// the server's own code changes; `forget #` cannot walk around it.
pub fn forgetting(hub: &Hub, route: &[u8]) -> Result<(), State> {
    if hub.channels.is_empty() {
        return Ok(());
    }
    let read_only = hub
        .channels
        .overlapping(route)
        .iter()
        .any(|c| c.spec.read_only);
    if read_only {
        return Err(State::EAccess);
    }
    Ok(())
}

/// What a subscriber gets after its subscription's own reply.
#[derive(Default)]
pub struct Welcome {
    greetings: Vec<Vec<u8>>,
    /// Retained messages to send (the channels with `retain`).
    retain: Vec<Rc<Channel>>,
}

/// Applies the channels a `sub` (or `last`) request may receive messages
/// of: their `on_subscribe` hooks in name order, any of which may refuse.
/// `Ok(None)`: a hook answered the subscriber itself; do nothing more.
pub fn subscription(
    hub: &mut Hub,
    caller: usize,
    msg: &Message<'_>,
) -> Result<Option<Welcome>, State> {
    if !hub.channels.act_on_subscriptions() {
        return Ok(Some(Welcome::default()));
    }
    let governing = hub.channels.overlapping(msg.route);
    let mut welcome = Welcome::default();
    for c in &governing {
        let Some(h) = c.hooks.as_ref().filter(|h| h.has_on_subscribe()) else {
            continue;
        };
        let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
        match h.on_subscribe(hub, id, msg)? {
            SubscribeVerdict::Accept(Some(g)) => welcome.greetings.push(g),
            SubscribeVerdict::Accept(None) => {}
            SubscribeVerdict::Answered => return Ok(None),
        }
    }
    welcome.retain = governing
        .into_iter()
        .filter(|c| c.spec.retain.is_some_and(|n| n > 0))
        .collect();
    Ok(Some(welcome))
}

impl Welcome {
    /// Sends what follows a subscription to `route`: unless the
    /// subscriber asked for stored messages itself (`asked`), the
    /// retained ones (up to `retain` of each route of a retaining channel
    /// the subscription matches, the first such channel in name order
    /// deciding how many), then the greetings as `pub <route>\n<greeting>`.
    pub fn send(
        self,
        hub: &mut Hub,
        caller: usize,
        route: &[u8],
        asked: bool,
    ) -> Result<(), State> {
        if !asked && !self.retain.is_empty() {
            send_retained(hub, caller, route, &self.retain)?;
        }
        for g in self.greetings {
            hub.send(caller, &format(b"pub", route, &g))?;
        }
        Ok(())
    }
}

/// The retained messages of the routes matching `pattern` that a
/// retaining channel governs, in the order `last` gives them.
fn send_retained(
    hub: &mut Hub,
    caller: usize,
    pattern: &[u8],
    retaining: &[Rc<Channel>],
) -> Result<(), State> {
    let most = retaining
        .iter()
        .filter_map(|c| c.spec.retain)
        .max()
        .unwrap_or(0);
    let stored: Vec<Vec<u8>> = if is_pattern(pattern) {
        hub.last
            .matching_history(pattern, most)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        hub.last
            .history(pattern, most)
            .map(<[u8]>::to_vec)
            .collect()
    };
    // Grouped by route, oldest first: keep the newest `n` of each group,
    // `n` from the first retaining channel governing that route.
    let mut i = 0;
    while i < stored.len() {
        let route = stored_route(stored.get(i));
        let end = (i..stored.len())
            .find(|&j| stored_route(stored.get(j)) != route)
            .unwrap_or(stored.len());
        let n = retaining
            .iter()
            .find(|c| matches(c.spec.pattern.as_bytes(), route))
            .and_then(|c| c.spec.retain)
            .unwrap_or(0);
        let from = end.saturating_sub(n).max(i);
        for m in stored.get(from..end).unwrap_or(&[]) {
            hub.send(caller, m)?;
        }
        i = end;
    }
    Ok(())
}

fn stored_route(m: Option<&Vec<u8>>) -> &[u8] {
    m.and_then(|m| Message::parse(m).ok())
        .map_or(&[][..], |p| p.route)
}

#[cfg(test)]
mod tests {
    //! What an `on_publish` hook's changes make of a publication. The Lua
    //! files that define hooks in practice are tested by `lua_channels`,
    //! which a mutation run leaves out; these hooks are Rust.
    use super::super::tests::Hooks;
    use super::super::{define, ChannelHooks, ChannelSpec, Origin};
    use super::*;
    use crate::server::test_server::accept_client;
    use crate::server::{Reactor, Settings};
    use std::net::{SocketAddr, TcpStream};

    /// How a test hook changes a publication.
    type Edit = fn(&mut Publication);

    /// `n` clients of the listener at `addr`: their streams and hub keys.
    fn clients(r: &mut Reactor, addr: SocketAddr, n: usize) -> (Vec<TcpStream>, Vec<usize>) {
        (0..n).map(|_| accept_client(r, addr)).unzip()
    }

    fn reactor(settings: Settings) -> Reactor {
        let mut r = Reactor::new(settings).unwrap();
        r.hub_mut().logger_mut().stderr = false;
        r
    }

    fn add(hub: &mut Hub, name: &str, spec: &str, hooks: Option<Rc<dyn ChannelHooks>>) {
        let spec = ChannelSpec::parse(spec, 1024).unwrap();
        define(hub, Origin::Command, Channel::new(name, spec, hooks)).unwrap();
    }

    fn publish(hub: &mut Hub, caller: usize, route: &str) -> Result<Admitted, State> {
        let raw = format!("pub {route}\nxy");
        publication(hub, caller, &Message::parse(raw.as_bytes()).unwrap())
    }

    #[test]
    fn a_hooks_change_is_what_gets_published_and_must_still_fit() {
        let mut r = reactor(Settings {
            max_message: 64,
            ..Settings::default()
        });
        let addr = r.listen_tcp("127.0.0.1:0").unwrap();
        let (_streams, keys) = clients(&mut r, addr, 1);
        let caller = keys[0];
        let hooks: [(&str, Edit); 6] = [
            ("same", |_| {}),
            ("route", |p| p.route = b"route/moved".to_vec()),
            ("payload", |p| p.payload.push(b'!')),
            ("command", |p| p.command = b"publish".to_vec()),
            // 64 bytes in all: `pub fits/x\n` and 53 of payload; one more.
            ("fits", |p| p.payload = vec![b'y'; 53]),
            ("over", |p| p.payload = vec![b'y'; 54]),
        ];
        let hub = r.hub_mut();
        for (name, f) in hooks {
            add(
                hub,
                name,
                &format!("pattern={name}/#"),
                Some(Rc::new(Hooks {
                    publish: true,
                    subscribe: false,
                    edit: Some(f),
                })),
            );
        }
        let mut publish = |route: &str| publish(hub, caller, route);
        let rewritten = |route: &str, msg: &str| {
            Ok(Admitted::Rewritten {
                route: route.as_bytes().to_vec(),
                msg: msg.as_bytes().to_vec(),
            })
        };
        assert_eq!(publish("same/x"), Ok(Admitted::AsSent));
        assert_eq!(
            publish("route/x"),
            rewritten("route/moved", "pub route/moved\nxy")
        );
        assert_eq!(
            publish("payload/x"),
            rewritten("payload/x", "pub payload/x\nxy!")
        );
        assert_eq!(
            publish("command/x"),
            rewritten("command/x", "publish command/x\nxy")
        );
        let fits = format!("pub fits/x\n{}", "y".repeat(53));
        assert_eq!(fits.len(), 64);
        assert_eq!(publish("fits/x"), rewritten("fits/x", &fits));
        assert_eq!(publish("over/x"), Err(State::EMsgSize));
        // Routes no channel governs pass as sent.
        assert_eq!(publish("elsewhere"), Ok(Admitted::AsSent));
        // A stream cannot be shown to a hook whole: refused, opening or not.
        for opening in [true, false] {
            assert_eq!(
                stream_part(hub, caller, b"same/x", opening),
                Err(State::EAccess)
            );
        }
        assert_eq!(stream_part(hub, caller, b"elsewhere", true), Ok(()));
    }

    #[test]
    fn http_publishers_of_one_host_share_a_bucket_others_have_their_own() {
        let mut r = reactor(Settings::default());
        let http = r.listen_http("127.0.0.1:0").unwrap();
        let tcp = r.listen_tcp("127.0.0.1:0").unwrap();
        let (_h, http) = clients(&mut r, http, 2);
        let (_t, tcp) = clients(&mut r, tcp, 2);
        let hub = r.hub_mut();
        add(hub, "slow", "pattern=slow/# rate=1/h burst=1", None);
        // Plain HTTP requests come and go: their host is the publisher.
        assert_eq!(publish(hub, http[0], "slow/a"), Ok(Admitted::AsSent));
        assert_eq!(publish(hub, http[1], "slow/a"), Err(State::EMax));
        for &k in &tcp {
            assert_eq!(publish(hub, k, "slow/a"), Ok(Admitted::AsSent));
            assert_eq!(publish(hub, k, "slow/a"), Err(State::EMax));
        }
    }

    #[test]
    fn the_rate_sweep_keeps_the_buckets_of_open_publishers() {
        // Past 64 buckets the sweep drops those of closed publishers; an
        // open one that used its burst must stay refused.
        let mut r = reactor(Settings::default());
        let addr = r.listen_tcp("127.0.0.1:0").unwrap();
        let (_streams, keys) = clients(&mut r, addr, 66);
        let hub = r.hub_mut();
        add(hub, "slow", "pattern=slow/# rate=1/h burst=1", None);
        for &k in &keys {
            assert_eq!(publish(hub, k, "slow/a"), Ok(Admitted::AsSent));
        }
        assert_eq!(publish(hub, keys[0], "slow/a"), Err(State::EMax));
    }

    #[test]
    fn a_channel_retaining_nothing_does_not_speak_for_a_route() {
        // `a` retains nothing for `r/#`; `b` retains two of `r/x`. A
        // subscriber of `r/x` gets b's two: `a` comes first in name order
        // but is no retaining channel.
        let mut r = reactor(Settings::default());
        let addr = r.listen_tcp("127.0.0.1:0").unwrap();
        let (_streams, keys) = clients(&mut r, addr, 1);
        let hub = r.hub_mut();
        add(hub, "a", "pattern=r/# retain=0", None);
        add(hub, "b", "pattern=r/x retain=2", None);
        let sub = Message::parse(b"sub r/x\n").unwrap();
        let welcome = subscription(hub, keys[0], &sub).unwrap().unwrap();
        let names: Vec<&str> = welcome.retain.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["b"]);
    }
}
