//! `PING R\nP` answers `PONG R\nP`; `PONG` answers nothing (original clients
//! stop at the first NACK, so a PONG is never refused).

use crate::proto::{message::pong_for, Message, State};
use crate::server::hub::Hub;

/// Runs `PING`.
pub fn ping(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    hub.send(caller, &pong_for(msg.raw))
}

/// Runs `PONG`: the peer answered a keep-alive; nothing to send.
pub fn pong(_: &mut Hub, _: usize, _: &Message<'_>) -> Result<(), State> {
    Ok(())
}
