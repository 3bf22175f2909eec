//! `CONT R\nP` and `END R\nP`: a part, and the last part, of the caller's
//! streamed payload on R (PROTOCOL.md §12). Each is answered `ACK` and
//! forwarded to the stream's audience by `server::streams`. The channels
//! governing R (§15) may refuse it.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::channels::gate;
use crate::server::hub::Hub;
use crate::server::streams;

/// Runs `CONT`.
pub fn cont(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    admit(hub, caller, msg)?;
    streams::part(hub, caller, msg.route, msg.payload, false)
}

/// Runs `END`.
pub fn end(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    admit(hub, caller, msg)?;
    streams::part(hub, caller, msg.route, msg.payload, true)
}

/// The channels' say on a part; the first part of a stream opens it.
fn admit(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    if hub.channels.is_empty() {
        return Ok(());
    }
    let opening = hub
        .conn_id(caller)
        .is_some_and(|id| !hub.streams.is_open(id, msg.route));
    gate::stream_part(hub, caller, msg.route, opening)
}
