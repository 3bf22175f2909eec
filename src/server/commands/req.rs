//! `req R\nCORR\nP`: a request to route R with the caller's correlation id
//! CORR: forwarded to one serving member as `req R\nTOKEN\nP`; its answer
//! comes back as `rep CORR\n<reply>` or `NACK CORR\n<code>\n<text>`. No
//! serving member is an immediate `NACK CORR\n19\nconnection not found`.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;
use crate::server::queues::rpc::nack_for;

/// Runs `req`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    match hub.forward_request(id, msg.route, msg.payload) {
        Ok(()) => {
            // The reply completes an HTTP request, whenever it comes.
            hub.defer_reply();
            Ok(())
        }
        Err((corr, state)) if corr != b"*" => {
            hub.send(caller, &nack_for(&corr, state, state.text().as_bytes()))
        }
        Err((_, state)) => Err(state),
    }
}
