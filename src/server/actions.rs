//! What commands written outside Rust (C commands, Lua scripts, the C API)
//! do to the broker state, with the checks the built-in commands apply:
//! publish, subscribe, store a last message. One function each, so a C
//! plugin, a Lua script and a TCP client meet the same broker.

use super::hub::Hub;
use super::rules::check_route;
use crate::proto::{message, State};

/// Publishes `payload` on `route` as a client's `pub route\npayload`
/// would: stored as the route's last message and sent to every matching
/// subscriber. Returns the number of deliveries. `EMsgInv` or `EMsgSize`
/// for a route the rule refuses, `EMsgSize` for a message past the largest.
pub fn publish(hub: &mut Hub, route: &[u8], payload: &[u8]) -> Result<usize, State> {
    check_route(route, hub.settings().max_route)?;
    let msg = message::format(b"pub", route, payload);
    if msg.len() > hub.settings().max_message {
        return Err(State::EMsgSize);
    }
    Ok(hub.publish(route, &msg))
}

/// Subscribes connection `key` to `route` as its own `sub route` would
/// (replacing its subscriptions unless `add`).
pub fn subscribe(hub: &mut Hub, key: usize, route: &[u8], add: bool) -> Result<(), State> {
    check_route(route, hub.settings().max_route)?;
    hub.subs.subscribe(key, route, add);
    Ok(())
}

/// Stores `msg` as the last message of `route`, as a publish would,
/// without sending it to anyone.
pub fn set_last(hub: &mut Hub, route: &[u8], msg: &[u8]) -> Result<(), State> {
    check_route(route, hub.settings().max_route)?;
    if msg.len() > hub.settings().max_message {
        return Err(State::EMsgSize);
    }
    hub.last.set(route, msg);
    Ok(())
}
