//! `qack Q\nID`: acknowledge message ID of queue Q; ACK once durable,
//! NACK 19 when the message is not in flight for the caller.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `qack`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    hub.queues_mut().ack(id, msg.route, msg.payload)?;
    hub.defer_reply();
    Ok(())
}
