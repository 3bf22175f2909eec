//! `forget R\n`: removes the stored messages of R (of every stored route
//! matching R when it is a pattern), so `last`, `sub R\nlast` and new MQTT
//! subscribers find none; `ACK` whether or not any were stored
//! (PROTOCOL.md §5). The same rule an MQTT retained PUBLISH with an empty
//! payload applies (`LastStore::remove`). Subscribers are told nothing.
//! A read-only channel (§15) refuses it.

use super::check_route;
use crate::proto::{route, Message, State, ACK};
use crate::server::channels::gate;
use crate::server::hub::Hub;

/// Runs `forget`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    gate::forgetting(hub, msg.route)?;
    if route::is_pattern(msg.route) {
        hub.last.remove_matching(msg.route);
    } else {
        hub.last.remove(msg.route);
    }
    hub.send(caller, ACK)
}
