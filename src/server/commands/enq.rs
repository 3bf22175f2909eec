//! `enq Q\nP`: enqueue P in queue Q (created with defaults when missing);
//! answered with the message's id once it is durable (PROTOCOL.md §14).

use std::time::Instant;

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `enq`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    hub.queues_mut()
        .enqueue(id, msg.route, msg.payload, Instant::now())?;
    hub.defer_reply();
    Ok(())
}
