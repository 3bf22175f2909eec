//! `pub R\nP` (alias `publish`): store as R's last message, ACK the
//! publisher, then forward the message unchanged to every matching
//! subscriber (PROTOCOL.md §6).

use super::check_route;
use crate::proto::{Message, State, ACK};
use crate::server::hub::Hub;

/// Runs `pub`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    hub.last.set(msg.route, msg.raw);
    let _ = hub.send(caller, ACK);
    hub.fan_out(msg.route, msg.raw);
    Ok(())
}
