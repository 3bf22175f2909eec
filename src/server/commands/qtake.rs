//! `qtake Q\nN`: remove up to N ready messages of Q without acknowledgement
//! (at most once); PARTS, one `qmsg` each, END once the removal is durable.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `qtake`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    hub.queues_mut().take(id, msg.route, msg.payload)?;
    hub.defer_reply();
    Ok(())
}
