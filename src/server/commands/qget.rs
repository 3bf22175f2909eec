//! `qget Q\nN`: lease up to N ready messages of Q: PARTS, one `qmsg` each,
//! END. Each comes back after the queue's visibility timeout unless
//! acknowledged (by anyone with its id) — the consuming pattern for HTTP.

use std::time::Instant;

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `qget`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let replies = hub
        .queues_mut()
        .lease(msg.route, msg.payload, Instant::now())?;
    for r in replies {
        hub.send(caller, &r)?;
    }
    Ok(())
}
