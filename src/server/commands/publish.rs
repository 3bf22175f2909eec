//! `pub R\nP` (alias `publish`): store as R's last message, ACK the
//! publisher, then forward the message unchanged to every matching
//! subscriber (PROTOCOL.md §6).

use super::check_route;
use crate::proto::{Message, State, ACK};
use crate::server::hub::Hub;

/// Runs `pub`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    // The ACK is queued first, so a publisher subscribed to its own route
    // gets it before its message.
    let _ = hub.send(caller, ACK);
    hub.publish(msg.route, msg.raw);
    Ok(())
}
