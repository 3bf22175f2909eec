//! `reload`: an admin asks the server to re-read its configuration file
//! (as SIGHUP does). The reactor reloads at the end of the turn and
//! answers ACK, or NACK 3 when the file was refused (its errors are
//! logged, the running configuration stays). Only admin users get here
//! (the hub's `auth` gate), and only a server started from a file can.

use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `reload`.
pub fn exec(hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    hub.reload_asked = Some(id);
    Ok(())
}
