//! `sub R\nP` (alias `subscribe`): replace the caller's subscription with R,
//! or add R with the `add` option; with `last [N]`, answer the up to N
//! stored messages of R instead of ACK (PROTOCOL.md §6). The subscription
//! and the stored messages are taken in the same turn of the reactor, so
//! no publication falls between them or reaches the caller twice. The
//! channels the subscription may receive messages of (§15) may refuse it,
//! and add retained messages and greetings after the reply.

use super::check_route;
use super::last::{count, send_stored};
use crate::proto::{Message, State, ACK};
use crate::server::channels::gate;
use crate::server::hub::Hub;

/// Runs `sub`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let (mut last, mut add) = (None, false);
    let mut opts = msg.payload.split(|b| b.is_ascii_whitespace()).peekable();
    while let Some(opt) = opts.next() {
        match opt {
            b"last" => {
                last = Some(
                    opts.next_if(|t| count(t).is_some())
                        .and_then(count)
                        .unwrap_or(1),
                );
            }
            b"add" => add = true,
            // Unknown options are ignored, as they always were.
            _ => {}
        }
    }
    let Some(welcome) = gate::subscription(hub, caller, msg)? else {
        return Ok(());
    };
    crate::server::actions::subscribe(hub, caller, msg.route, add)?;
    match last {
        Some(n) => send_stored(hub, caller, msg.route, n)?,
        None => hub.send(caller, ACK)?,
    }
    welcome.send(hub, caller, msg.route, last.is_some())
}
