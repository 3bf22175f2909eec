//! `unsub R\n<id>`: an admin command closing connection `<id>` (as listed by
//! lsconn). ACK first, so a caller closing itself still gets its answer.

use super::find_client;
use crate::proto::{Message, State, ACK};
use crate::server::hub::Hub;

/// Runs `unsub`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    // `<id>`, or `<user>@<id>` as lsconn lists authenticated connections.
    let id = msg.payload.trim_ascii();
    if id.is_empty() {
        return Err(State::EMsgInv);
    }
    let target = find_client(hub, id).ok_or(State::ENotFound)?;
    hub.send(caller, ACK)?;
    let by = hub.client_id(caller).unwrap_or_default();
    if target == caller {
        hub.close_after_flush(caller);
    } else {
        hub.close(target, &format!("unsub by {by}"));
    }
    Ok(())
}
