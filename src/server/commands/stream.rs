//! `CONT R\nP` and `END R\nP`: a part, and the last part, of the caller's
//! streamed payload on R (PROTOCOL.md §12). Each is answered `ACK` and
//! forwarded to the stream's audience by `server::streams`.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;
use crate::server::streams;

/// Runs `CONT`.
pub fn cont(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    streams::part(hub, caller, msg.route, msg.payload, false)
}

/// Runs `END`.
pub fn end(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    streams::part(hub, caller, msg.route, msg.payload, true)
}
