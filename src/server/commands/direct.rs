//! `to ID\nP`: a direct (point-to-point) message to the one connection whose
//! id is ID, as `lsconn` lists it (`TCP:127.0.0.1:50312`, `WS:…`,
//! `HTTP:…`). The caller gets `ACK`, the target `from <caller id>\nP`, in
//! its own protocol; `NACK 19` when no open connection has that id or it
//! cannot take a message now (a plain HTTP request, not an event stream)
//! or at all (an MQTT client, a bridge: they carry publications only).
//! Direct messages are not stored and reach no subscriber.

use super::{check_route, find_client};
use crate::proto::message::format;
use crate::proto::{Message, State, ACK};
use crate::server::hub::Hub;

/// The command word of a delivered direct message.
pub const FROM: &[u8] = b"from";

/// Runs `to`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let target = find_client(hub, msg.route).ok_or(State::ENotFound)?;
    if !hub
        .conn(target)
        .is_some_and(|c| c.accepts_push() && c.reads_ducq_messages())
    {
        return Err(State::ENotFound);
    }
    let from = hub.client_id(caller).unwrap_or_default();
    let delivered = format(FROM, from.as_bytes(), msg.payload);
    hub.send(caller, ACK)?;
    // A target over its output bound is closed as a slow consumer, as a
    // subscriber would be; the sender's ACK stands, as for `pub`.
    let _ = hub.send(target, &delivered);
    Ok(())
}
