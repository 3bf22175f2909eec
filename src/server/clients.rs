//! Walking the broker's clients from code outside Rust (`ducq_reactor_loop`,
//! the client iterator, Lua's `reactor:loop` and `ducq:clients()`), written
//! once. A walk visits a snapshot of (client, subscription) pairs, as
//! `lsconn` lists them, skipping clients closed since; the callback runs
//! with the hub lent (never borrowed), so it may send, publish, delete and
//! even walk again.

use super::conn::ConnId;
use super::hub::Hub;
use super::lend::{HubSlot, Unreachable};

/// Loop verdict bit: go on with the next pair (the value 0).
pub const LOOP_CONTINUE: i64 = 0;
/// Loop verdict bit: stop after this pair.
pub const LOOP_BREAK: i64 = 1;
/// Loop verdict bit: delete this client (combinable with `LOOP_BREAK`).
pub const LOOP_DELETE: i64 = 2;

/// Every client and subscription: one pair per subscription, and
/// `(client, "")` for a client with none, in connection order.
pub fn pairs(hub: &Hub) -> Vec<(ConnId, Vec<u8>)> {
    let mut out = Vec::new();
    for key in hub.clients() {
        let Some(id) = hub.conn_id(key) else { continue };
        let routes = hub.subs.routes_of(key);
        if routes.is_empty() {
            out.push((id, Vec::new()));
        }
        out.extend(routes.iter().map(|r| (id, r.to_vec())));
    }
    out
}

/// Whether `id` is still an open client.
pub fn is_open(hub: &Hub, id: ConnId) -> bool {
    hub.resolve(id).is_some()
}

/// Deletes a client as a loop's `LOOP_DELETE` or `ducq_reactor_delete`
/// does: it stops receiving publications at once and is closed once what
/// was already queued for it is written (a goodbye sent just before still
/// arrives). Returns whether it was an open client.
pub fn delete(hub: &mut Hub, id: ConnId) -> bool {
    let Some(key) = hub.resolve(id) else {
        return false;
    };
    hub.subs.remove_conn(key);
    hub.close_after_flush(key);
    true
}

/// Closes a client once what was queued for it is written (its own
/// `ducq_close`, a script's `ducq:close()`). Returns whether it was open.
pub fn close(hub: &mut Hub, id: ConnId) -> bool {
    match hub.resolve(id) {
        Some(key) => {
            hub.close_after_flush(key);
            true
        }
        None => false,
    }
}

/// Why a [`walk`] ended early.
#[derive(Debug)]
pub enum WalkError<E> {
    /// The hub could not be reached (see [`HubSlot::with`]).
    Unreachable,
    /// The callback failed.
    Callback(E),
}

impl<E> From<Unreachable> for WalkError<E> {
    fn from(_: Unreachable) -> Self {
        WalkError::Unreachable
    }
}

/// Calls `apply(client, route)` for each pair of a snapshot taken now,
/// skipping clients closed (or deleted) since, until a verdict holds
/// `LOOP_BREAK`; a verdict holding `LOOP_DELETE` deletes that client.
/// Returns the last verdict (`LOOP_CONTINUE` when there was no client).
pub fn walk<E>(
    slot: &HubSlot,
    mut apply: impl FnMut(ConnId, &[u8]) -> Result<i64, E>,
) -> Result<i64, WalkError<E>> {
    let snapshot = slot.with(|hub| pairs(hub))?;
    let mut deleted: Vec<ConnId> = Vec::new();
    let mut last = LOOP_CONTINUE;
    for (id, route) in snapshot {
        if deleted.contains(&id) || !slot.with(|hub| is_open(hub, id))? {
            continue;
        }
        last = apply(id, &route).map_err(WalkError::Callback)?;
        if last & LOOP_DELETE != 0 {
            slot.with(|hub| delete(hub, id))?;
            deleted.push(id);
        }
        if last & LOOP_BREAK != 0 {
            break;
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::State;
    use crate::server::{Reactor, Settings};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    /// A reactor with `n` accepted TCP clients (kept open by the streams).
    fn reactor_with(n: usize) -> (Reactor, Vec<TcpStream>, Vec<usize>) {
        let mut r = Reactor::new(Settings::default()).unwrap();
        r.hub_mut().logger_mut().stderr = false;
        let addr = r.listen_tcp("127.0.0.1:0").unwrap();
        let streams: Vec<_> = (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while r.hub().clients().len() < n {
            assert!(Instant::now() < deadline, "clients not accepted");
            r.run_once(Some(Duration::from_millis(10))).unwrap();
        }
        let keys = r.hub().clients();
        (r, streams, keys)
    }

    #[test]
    fn walk_visits_each_pair_deletes_and_breaks() {
        let (mut r, _streams, keys) = reactor_with(3);
        let subs = &mut r.hub_mut().subs;
        subs.subscribe(keys[0], b"a", false);
        subs.subscribe(keys[0], b"b", true);
        subs.subscribe(keys[2], b"c", false);
        let slot = HubSlot::new();
        let mut seen = Vec::new();
        let (walked, _) = slot.lend(r.hub_mut(), None, || {
            walk::<()>(&slot, |id, route| {
                seen.push((id.key, route.to_vec()));
                Ok(match route {
                    b"a" => LOOP_DELETE,
                    b"c" => LOOP_BREAK,
                    _ => LOOP_CONTINUE,
                })
            })
        });
        assert_eq!(walked.unwrap(), LOOP_BREAK);
        // The deleted client's second route is skipped; a client without a
        // route is visited with "".
        assert_eq!(
            seen,
            vec![
                (keys[0], b"a".to_vec()),
                (keys[1], Vec::new()),
                (keys[2], b"c".to_vec())
            ]
        );
        assert!(r.hub().subs.routes_of(keys[0]).is_empty());
        // Only the client whose verdict said so was deleted.
        let kept: Vec<&[u8]> = r
            .hub()
            .subs
            .routes_of(keys[2])
            .iter()
            .map(|r| &r[..])
            .collect();
        assert_eq!(kept, [b"c"]);
    }

    #[test]
    fn a_walk_without_a_lent_hub_is_unreachable() {
        let slot = HubSlot::new();
        let walked = walk::<()>(&slot, |_, _| Ok(LOOP_CONTINUE));
        assert!(matches!(walked, Err(WalkError::Unreachable)));
    }

    #[test]
    fn sends_to_the_caller_count_as_its_reply() {
        let (mut r, _streams, keys) = reactor_with(2);
        let (caller, other) = (
            r.hub().conn_id(keys[0]).unwrap(),
            r.hub().conn_id(keys[1]).unwrap(),
        );
        let slot = HubSlot::new();
        let (sent, replied) = slot.lend(r.hub_mut(), Some(caller), || slot.send(other, b"x"));
        assert_eq!((sent, replied), (Ok(()), false));
        let (sent, replied) = slot.lend(r.hub_mut(), Some(caller), || slot.send(caller, b"x"));
        assert_eq!((sent, replied), (Ok(()), true));
        let (sent, _) = slot.lend(r.hub_mut(), None, || slot.send(caller, b""));
        assert_eq!(sent, Err(State::EMsgInv));
        let max = r.hub().settings().max_message;
        let (sent, _) = slot.lend(r.hub_mut(), None, || {
            slot.send(caller, &vec![b'x'; max + 1])
        });
        assert_eq!(sent, Err(State::EMsgSize));
        assert!(delete(r.hub_mut(), other));
        assert!(!is_open(r.hub(), ConnId { key: 99, gen: 1 }));
    }

    #[test]
    fn delete_and_close_end_a_client_and_say_whether_it_was_open() {
        use std::io::Read;
        let (mut r, mut streams, keys) = reactor_with(2);
        let (a, b) = (
            r.hub().conn_id(keys[0]).unwrap(),
            r.hub().conn_id(keys[1]).unwrap(),
        );
        r.hub_mut().subs.subscribe(keys[1], b"x", false);
        assert!(close(r.hub_mut(), a));
        assert!(delete(r.hub_mut(), b));
        assert!(r.hub().subs.routes_of(keys[1]).is_empty());
        // Both peers see the end of the stream once the turns run.
        for s in &mut streams {
            s.set_nonblocking(true).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut ended = [false, false];
        while ended != [true, true] {
            assert!(Instant::now() < deadline, "not closed: {ended:?}");
            r.run_once(Some(Duration::from_millis(10))).unwrap();
            for (s, e) in streams.iter_mut().zip(&mut ended) {
                *e |= matches!(s.read(&mut [0u8; 16]), Ok(0));
            }
        }
        assert!(!is_open(r.hub(), a) && !is_open(r.hub(), b));
        assert!(!close(r.hub_mut(), a));
        assert!(!delete(r.hub_mut(), b));
    }
}
