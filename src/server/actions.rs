//! What commands written outside Rust (C commands, Lua scripts, the C API)
//! do to the broker state, with the checks the built-in commands apply:
//! publish, subscribe, store a last message. One function each, so a C
//! plugin, a Lua script and a TCP client meet the same broker.

use super::hub::Hub;
use super::rules::check_route;
use crate::proto::{message, State};

/// Publishes `payload` on `route` as a client's `pub route\npayload`
/// would: stored as the route's last message and sent to every matching
/// subscriber. Returns the number of deliveries. `EMsgInv` or `EMsgSize`
/// for a route the rule refuses, `EMsgSize` for a message past the largest.
pub fn publish(hub: &mut Hub, route: &[u8], payload: &[u8]) -> Result<usize, State> {
    check_route(route, hub.settings().max_route)?;
    let msg = message::format(b"pub", route, payload);
    if msg.len() > hub.settings().max_message {
        return Err(State::EMsgSize);
    }
    Ok(hub.publish(route, &msg))
}

/// Subscribes connection `key` to `route` as its own `sub route` would
/// (replacing its subscriptions unless `add`).
pub fn subscribe(hub: &mut Hub, key: usize, route: &[u8], add: bool) -> Result<(), State> {
    check_route(route, hub.settings().max_route)?;
    hub.subs.subscribe(key, route, add);
    Ok(())
}

/// Stores `msg` as the last message of `route`, as a publish would,
/// without sending it to anyone.
pub fn set_last(hub: &mut Hub, route: &[u8], msg: &[u8]) -> Result<(), State> {
    check_route(route, hub.settings().max_route)?;
    if msg.len() > hub.settings().max_message {
        return Err(State::EMsgSize);
    }
    hub.last.set(route, msg);
    Ok(())
}

#[cfg(test)]
mod tests {
    use mio::Poll;

    use super::*;
    use crate::server::hub::tests::{frame, read_now, tcp};
    use crate::server::settings::Settings;

    /// `pub r\n` and four payload bytes: the largest message of these tests.
    const LARGEST: usize = 10;

    fn hub() -> (Hub, Poll) {
        let poll = Poll::new().unwrap();
        let settings = Settings {
            max_message: LARGEST,
            max_route: 8,
            ..Settings::default()
        };
        (
            Hub::new(settings, poll.registry().try_clone().unwrap()),
            poll,
        )
    }

    #[test]
    fn publish_counts_deliveries_up_to_the_largest_message() {
        let (mut hub, _poll) = hub();
        assert_eq!(publish(&mut hub, b"r", b"abcd"), Ok(0));
        let (a, mut peer_a) = tcp(&mut hub);
        let (b, mut peer_b) = tcp(&mut hub);
        hub.subs.subscribe(a, b"r", true);
        hub.subs.subscribe(b, b"r", true);
        assert_eq!(publish(&mut hub, b"r", b"wxyz"), Ok(2));
        // One byte past the largest message: refused, nothing sent or stored.
        assert_eq!(publish(&mut hub, b"r", b"vwxyz"), Err(State::EMsgSize));
        hub.flush_dirty();
        assert_eq!(read_now(&mut peer_a), frame(b"pub r\nwxyz"));
        assert_eq!(read_now(&mut peer_b), frame(b"pub r\nwxyz"));
        assert_eq!(hub.last.get(b"r"), Some(&b"pub r\nwxyz"[..]));
        // A shorter message is no exception to the rule.
        assert_eq!(publish(&mut hub, b"r", b"x"), Ok(2));
    }

    #[test]
    fn publish_and_set_last_apply_the_route_rule() {
        let (mut hub, _poll) = hub();
        assert_eq!(publish(&mut hub, b"123456789", b""), Err(State::EMsgSize));
        assert_eq!(set_last(&mut hub, b"123456789", b"m"), Err(State::EMsgSize));
        assert_eq!(
            subscribe(&mut hub, 0, b"123456789", false),
            Err(State::EMsgSize)
        );
        assert_eq!(hub.last.get(b"123456789"), None);
        assert_eq!(publish(&mut hub, b"", b"m"), Err(State::EMsgInv));
        assert_eq!(set_last(&mut hub, b"a\nb", b"m"), Err(State::EMsgInv));
    }

    #[test]
    fn set_last_stores_without_sending_up_to_the_largest_message() {
        let (mut hub, _poll) = hub();
        let (a, mut peer) = tcp(&mut hub);
        hub.subs.subscribe(a, b"r", true);
        assert_eq!(set_last(&mut hub, b"r", b"pub r\nabcd"), Ok(()));
        assert_eq!(hub.last.get(b"r"), Some(&b"pub r\nabcd"[..]));
        assert_eq!(
            set_last(&mut hub, b"r", b"pub r\nabcde"),
            Err(State::EMsgSize)
        );
        assert_eq!(set_last(&mut hub, b"q", b"pub q\nab"), Ok(()));
        hub.flush_dirty();
        assert_eq!(read_now(&mut peer), b"");
        assert_eq!(hub.last.get(b"r"), Some(&b"pub r\nabcd"[..]));
        assert_eq!(hub.last.get(b"q"), Some(&b"pub q\nab"[..]));
    }

    #[test]
    fn subscribe_replaces_or_adds() {
        let (mut hub, _poll) = hub();
        let (a, mut peer) = tcp(&mut hub);
        assert_eq!(subscribe(&mut hub, a, b"r", false), Ok(()));
        assert_eq!(subscribe(&mut hub, a, b"s", true), Ok(()));
        assert_eq!(publish(&mut hub, b"r", b"1"), Ok(1));
        assert_eq!(publish(&mut hub, b"s", b"2"), Ok(1));
        assert_eq!(subscribe(&mut hub, a, b"t", false), Ok(()));
        assert_eq!(publish(&mut hub, b"r", b"3"), Ok(0));
        assert_eq!(publish(&mut hub, b"t", b"4"), Ok(1));
        hub.flush_dirty();
        let mut want = frame(b"pub r\n1");
        want.extend(frame(b"pub s\n2"));
        want.extend(frame(b"pub t\n4"));
        assert_eq!(read_now(&mut peer), want);
    }
}
