//! `qcreate Q\nOPTIONS`: create queue Q, or change its options
//! (`visibility=SECS max_deliveries=N dlq=NAME`); ACK once durable.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `qcreate`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    hub.queues_mut().create(id, msg.route, msg.payload)?;
    hub.defer_reply();
    Ok(())
}
