//! `auth <user>\n<password>`: authenticates the connection as `<user>`.
//! ACK at once when the password matches; NACK 24 after the failure delay
//! otherwise (the hub's `auth` gate holds the connection's input until
//! then). The password is the whole payload, newlines and all.

use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `auth`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    if !msg.has_newline || msg.route.is_empty() {
        return Err(State::EMsgInv);
    }
    hub.authenticate(caller, msg.route, msg.payload);
    Ok(())
}
