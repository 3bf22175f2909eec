//! `sub R\nP` (alias `subscribe`): replace the caller's subscription with R,
//! or add R with the `add` option; with `last`, answer the stored last
//! message(s) instead of ACK (PROTOCOL.md §6).

use super::check_route;
use crate::proto::{route, Message, State, ACK};
use crate::server::hub::Hub;

/// Runs `sub`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let (mut last, mut add) = (false, false);
    for opt in msg.payload.split(|b| b.is_ascii_whitespace()) {
        match opt {
            b"last" => last = true,
            b"add" => add = true,
            _ => {}
        }
    }
    crate::server::actions::subscribe(hub, caller, msg.route, add)?;
    if !last {
        return hub.send(caller, ACK);
    }
    let stored: Vec<Vec<u8>> = if route::is_pattern(msg.route) {
        hub.last
            .matching(msg.route)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        hub.last
            .get(msg.route)
            .map(<[u8]>::to_vec)
            .into_iter()
            .collect()
    };
    if stored.is_empty() {
        return hub.send(caller, ACK);
    }
    for m in stored {
        hub.send(caller, &m)?;
    }
    Ok(())
}
