//! `unsubscribe R\n`: remove R from the caller's subscriptions; NACK 19 when
//! the caller was not subscribed to R.

use crate::proto::{Message, State, ACK};
use crate::server::hub::Hub;

/// Runs `unsubscribe`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    if msg.route.is_empty() {
        return Err(State::EMsgInv);
    }
    if hub.subs.unsubscribe(caller, msg.route) {
        hub.send(caller, ACK)
    } else {
        Err(State::ENotFound)
    }
}
