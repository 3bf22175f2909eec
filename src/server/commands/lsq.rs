//! `lsq`: PARTS, one `name,depth,ready,in_flight,consumers,oldest_ms\n`
//! line per queue (by name), END.

use std::time::Instant;

use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `lsq`.
pub fn exec(hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
    for line in hub.queues().list(Instant::now()) {
        hub.send(caller, &line)?;
    }
    Ok(())
}
