//! `rep TOKEN\nP` and `rerr TOKEN\nTEXT`: a serving member's reply, or
//! error reply, to request TOKEN; sent on to the requester as
//! `rep CORR\nP` or `NACK CORR\n3\nTEXT`. Nothing is sent back to the
//! member; a reply nobody waits for any more is dropped and logged.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `rep`.
pub fn rep(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    reply(hub, caller, msg, true)
}

/// Runs `rerr`.
pub fn rerr(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    reply(hub, caller, msg, false)
}

fn reply(hub: &mut Hub, caller: usize, msg: &Message<'_>, ok: bool) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    hub.relay_reply(id, msg.route, msg.payload, ok);
    Ok(())
}
