//! `last R\nN`: the up to N newest stored messages of R (of every route
//! matching R when it is a pattern), oldest first, without subscribing;
//! `ACK` when none is stored. N defaults to 1. The same reply as
//! `sub R\nlast N` (PROTOCOL.md §6), which shares `send_stored` with it.
//! A channel's `on_subscribe` hook (§15) sees it as a subscription would.

use super::check_route;
use crate::proto::{route, Message, State, ACK};
use crate::server::channels::gate;
use crate::server::hub::Hub;

/// Runs `last`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let n = match msg.payload.trim_ascii() {
        b"" => 1,
        n => count(n).ok_or(State::EMsgInv)?,
    };
    let Some(welcome) = gate::subscription(hub, caller, msg)? else {
        return Ok(());
    };
    send_stored(hub, caller, msg.route, n)?;
    welcome.send(hub, caller, msg.route, true)
}

/// A message count: decimal digits (too many of them mean "all").
pub(crate) fn count(token: &[u8]) -> Option<usize> {
    if token.is_empty() || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = std::str::from_utf8(token).ok()?;
    Some(text.parse().unwrap_or(usize::MAX))
}

/// Sends the caller up to `n` stored messages per route matching `r`
/// (routes in route order, each route's oldest first), byte-identical to
/// what their publishers sent, or `ACK` when there is none.
pub(crate) fn send_stored(hub: &mut Hub, caller: usize, r: &[u8], n: usize) -> Result<(), State> {
    let stored: Vec<Vec<u8>> = if route::is_pattern(r) {
        hub.last
            .matching_history(r, n)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        hub.last.history(r, n).map(<[u8]>::to_vec).collect()
    };
    if stored.is_empty() {
        return hub.send(caller, ACK);
    }
    for m in stored {
        hub.send(caller, &m)?;
    }
    Ok(())
}
