//! `auth <user>\n<password>`: authenticates the connection as `<user>`.
//! ACK at once when the password matches; NACK 24 after the failure delay
//! otherwise (the hub's `auth` gate holds the connection's input until
//! then). The password is the whole payload, newlines and all.
//!
//! `auth \n` (no user) asks whether the connection may act already: ACK
//! when it authenticated (a client certificate counts) or its listener
//! admits anonymous clients, NACK 24 otherwise, both at once. MQTT's
//! CONNECT without a user name asks this on a listener without anonymous
//! access.

use crate::proto::{Message, State, ACK};
use crate::server::hub::Hub;

/// Runs `auth`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    if !msg.has_newline {
        return Err(State::EMsgInv);
    }
    if msg.route.is_empty() {
        if !hub.may_act(caller) {
            return Err(State::EAccess);
        }
        return hub.send(caller, ACK);
    }
    hub.authenticate(caller, msg.route, msg.payload);
    Ok(())
}
