//! `qdel Q\n`: delete queue Q and its messages; ACK once durable.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `qdel`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    hub.queues_mut().delete(id, msg.route)?;
    hub.defer_reply();
    Ok(())
}
