//! `pub R\nP` (alias `publish`): store as R's last message, ACK the
//! publisher, then forward the message unchanged to every matching
//! subscriber (PROTOCOL.md §6). The channels governing R (§15) may refuse,
//! drop, transform or reroute it first.

use super::check_route;
use crate::proto::{Message, State, ACK};
use crate::server::channels::gate::{self, Admitted};
use crate::server::hub::Hub;

/// Runs `pub`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    // The ACK is queued first, so a publisher subscribed to its own route
    // gets it before its message.
    match gate::publication(hub, caller, msg)? {
        Admitted::AsSent => {
            let _ = hub.send(caller, ACK);
            hub.publish(msg.route, msg.raw);
            // The next publications with this head, in the same input, may
            // skip the way here (`hub/repeat.rs`).
            hub.arm_repeat(caller, msg);
        }
        Admitted::Rewritten { route, msg } => {
            let _ = hub.send(caller, ACK);
            hub.publish(&route, &msg);
        }
        Admitted::Dropped => {
            let _ = hub.send(caller, ACK);
        }
        Admitted::Answered => {}
    }
    Ok(())
}
