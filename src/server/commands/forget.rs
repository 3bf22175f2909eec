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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::tests::{frame, hub, read_now, tcp};

    #[test]
    fn forgets_one_route_or_every_route_a_pattern_matches() {
        let (mut hub, _poll) = hub();
        let (a, mut peer) = tcp(&mut hub);
        for r in [&b"a/1"[..], b"a/2", b"b"] {
            hub.last.set(r, b"m");
        }
        let run = |hub: &mut Hub, raw: &[u8]| exec(hub, a, &Message::parse(raw).unwrap());
        assert_eq!(run(&mut hub, b"forget a/1\n"), Ok(()));
        assert_eq!(hub.last.get(b"a/1"), None);
        assert_eq!(hub.last.get(b"a/2"), Some(&b"m"[..]));
        // Nothing stored there: still an ACK.
        assert_eq!(run(&mut hub, b"forget a/1\n"), Ok(()));
        assert_eq!(run(&mut hub, b"forget a/*\n"), Ok(()));
        assert_eq!(hub.last.get(b"a/2"), None);
        assert_eq!(hub.last.get(b"b"), Some(&b"m"[..]));
        // A route without its newline is not a route.
        assert_eq!(run(&mut hub, b"forget b"), Err(State::EMsgInv));
        assert_eq!(hub.last.get(b"b"), Some(&b"m"[..]));
        hub.flush_dirty();
        assert_eq!(
            read_now(&mut peer),
            [frame(ACK), frame(ACK), frame(ACK)].concat()
        );
    }
}
