//! `serve R\n`: serve requests to route R (requests are load-balanced
//! across R's serving members, one member per request); ACK. `unserve R\n`
//! stops; NACK 19 when the caller did not serve R. Refused with NACK 20 on
//! a plain HTTP request, which cannot carry requests.

use super::check_route;
use crate::proto::{Message, State, ACK};
use crate::server::hub::Hub;

/// Runs `serve`.
pub fn serve(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    if !hub.can_stream(caller) {
        return Err(State::ENoImpl);
    }
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    hub.queues_mut().rpc.serve(id, msg.route);
    hub.send(caller, ACK)
}

/// Runs `unserve`.
pub fn unserve(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    if !hub.queues_mut().rpc.unserve(id, msg.route) {
        return Err(State::ENotFound);
    }
    hub.send(caller, ACK)
}
