//! `qunsub Q\n`: stop consuming queue Q; what the caller held is handed
//! out again. ACK; NACK 19 when the caller did not consume Q.

use std::time::Instant;

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `qunsub`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    let reply = hub.queues_mut().cancel(id, msg.route, Instant::now())?;
    hub.send(caller, &reply)
}
