//! `qsub Q\nPREFETCH`: consume queue Q (created with defaults when
//! missing), holding at most PREFETCH (default 1) unacknowledged messages;
//! ACK, then `qmsg Q\n<id> <deliveries>\n<payload>` per message. Refused
//! with NACK 20 on a plain HTTP request, which cannot carry deliveries
//! (`qget` is HTTP's way).

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `qsub`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    if !hub.can_stream(caller) {
        return Err(State::ENoImpl);
    }
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    let reply = hub.queues_mut().consume(id, msg.route, msg.payload)?;
    hub.send(caller, &reply)
}
