//! `CONT R\nP` and `END R\nP`: a part, and the last part, of the caller's
//! streamed payload on R (PROTOCOL.md §12). Each is answered `ACK` and
//! forwarded to the stream's audience by `server::streams`. The channels
//! governing R (§15) may refuse it.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::channels::gate;
use crate::server::hub::Hub;
use crate::server::streams;

/// Runs `CONT`.
pub fn cont(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    admit(hub, caller, msg)?;
    streams::part(hub, caller, msg.route, msg.payload, false)
}

/// Runs `END`.
pub fn end(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    admit(hub, caller, msg)?;
    streams::part(hub, caller, msg.route, msg.payload, true)
}

/// The channels' say on a part; the first part of a stream opens it.
fn admit(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    if hub.channels.is_empty() {
        return Ok(());
    }
    let opening = hub
        .conn_id(caller)
        .is_some_and(|id| !hub.streams.is_open(id, msg.route));
    gate::stream_part(hub, caller, msg.route, opening)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::channels::{self, Channel, ChannelSpec, Origin};
    use crate::server::hub::tests::{hub, tcp};

    fn channel(hub: &mut Hub, name: &str, spec: &str) {
        let spec = ChannelSpec::parse(spec, 64).unwrap();
        channels::define(hub, Origin::Command, Channel::new(name, spec, None)).unwrap();
    }

    #[test]
    fn channels_admit_stream_parts_and_count_each_stream_once() {
        let (mut hub, _poll) = hub();
        let (a, _peer) = tcp(&mut hub);
        channel(&mut hub, "slow", "pattern=s/* rate=1/h burst=1");
        channel(&mut hub, "ro", "pattern=ro/* read_only");
        let run = |hub: &mut Hub, raw: &[u8]| {
            let msg = Message::parse(raw).unwrap();
            match msg.command {
                b"CONT" => cont(hub, a, &msg),
                _ => end(hub, a, &msg),
            }
        };
        assert_eq!(run(&mut hub, b"CONT ro/x\npart"), Err(State::EAccess));
        assert_eq!(run(&mut hub, b"END ro/x\npart"), Err(State::EAccess));
        // The opening part takes the one token; the stream's later parts
        // take none.
        assert_eq!(run(&mut hub, b"CONT s/a\n1"), Ok(()));
        assert_eq!(run(&mut hub, b"CONT s/a\n2"), Ok(()));
        assert_eq!(run(&mut hub, b"END s/a\n3"), Ok(()));
        // A new stream finds the bucket empty.
        assert_eq!(run(&mut hub, b"CONT s/b\n1"), Err(State::EMax));
    }
}
