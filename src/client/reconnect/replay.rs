//! Resubscribing after a reconnect, and the de-duplication of what `last`
//! replays: the one rule the Rust [`super::Reconnecting`] client and the C
//! client's reconnect policy (`ducq_set_reconnect`) both call.
//!
//! [`resubscribe`] makes every subscription again, pipelined, each followed
//! by a PING whose PONG marks the end of its replies, so a NACK is told
//! apart per route and every replayed stored message is collected before
//! any live one is handed out. [`Seen`] remembers the last message handed
//! out per route and keeps, of a replay, only what follows it. It must not
//! decide what a refused subscription means to the caller, nor keep
//! connections.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::client::{Client, Error, Stream};
use crate::proto::message::{classify, nack_text, pong_for, Kind};
use crate::proto::Message;

/// Routes whose last message is remembered for de-duplicating replays;
/// beyond it the memory is dropped and a replay may repeat a message.
const MAX_TRACKED_ROUTES: usize = 65_536;

/// What a resubscription brought.
#[derive(Debug, Default)]
pub(crate) struct Resubscribed {
    /// Stored messages replayed (`last`), in arrival order.
    pub(crate) replay: Vec<Vec<u8>>,
    /// The subscriptions refused now (their index), with the NACK.
    pub(crate) refused: Vec<(usize, Error)>,
}

/// Sends `sub ROUTE\nOPTIONS` for each of `subs`, each followed by a PING
/// (`tag` makes the markers unlikely to match a payload), and reads every
/// reply up to the last PONG.
pub(crate) fn resubscribe<'a, S: Stream>(
    c: &mut Client<S>,
    subs: impl Iterator<Item = (&'a str, &'a str)>,
    tag: u64,
) -> Result<Resubscribed, Error> {
    let mut markers = Vec::new();
    for (i, (route, options)) in subs.enumerate() {
        let marker = format!("PING _\nducq-resubscribed-{tag:x}-{i}").into_bytes();
        c.emit("sub", route, options.as_bytes())?;
        c.send(&marker)?;
        markers.push(marker);
    }
    let mut out = Resubscribed::default();
    for (i, marker) in markers.iter().enumerate() {
        let pong = pong_for(marker);
        loop {
            let m = c.receive()?;
            if m == pong {
                break;
            }
            match classify(&m) {
                Kind::Nack(state) => out.refused.push((
                    i,
                    Error::Nack {
                        state,
                        text: nack_text(&m),
                    },
                )),
                Kind::Data => out.replay.push(m),
                _ => {}
            }
        }
    }
    Ok(out)
}

/// The last message handed out per route, as a hash.
pub(crate) struct Seen {
    last: HashMap<Vec<u8>, u64>,
    hasher: RandomState,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            last: HashMap::new(),
            hasher: RandomState::new(),
        }
    }
}

impl Seen {
    /// Notes data message `m` as the last handed out on its route.
    pub(crate) fn remember(&mut self, m: &[u8]) {
        if let Some(route) = route_of(m) {
            if self.last.len() >= MAX_TRACKED_ROUTES && !self.last.contains_key(route) {
                self.last.clear();
            }
            let h = self.hasher.hash_one(m);
            self.last.insert(route.to_vec(), h);
        }
    }

    /// The replayed messages not handed out before: per route, everything
    /// after the last occurrence of the message handed out last.
    pub(crate) fn unseen(&self, replay: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let mut cut: HashMap<Vec<u8>, usize> = HashMap::new();
        for (i, m) in replay.iter().enumerate() {
            if let Some(route) = route_of(m) {
                if self.last.get(route) == Some(&self.hasher.hash_one(m)) {
                    cut.insert(route.to_vec(), i);
                }
            }
        }
        replay
            .into_iter()
            .enumerate()
            .filter(|(i, m)| {
                route_of(m)
                    .and_then(|r| cut.get(r))
                    .is_none_or(|&last_dup| *i > last_dup)
            })
            .map(|(_, m)| m)
            .collect()
    }
}

/// The route of a data message (`pub R\nP`).
fn route_of(m: &[u8]) -> Option<&[u8]> {
    Message::parse(m).ok().map(|p| p.route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_keeps_what_follows_the_last_seen_message_per_route() {
        let mut seen = Seen::default();
        seen.remember(b"pub a\n2");
        seen.remember(b"pub b\nx");
        let replay = [
            "pub a\n1", "pub a\n2", "pub b\ny", "pub a\n3", "pub c\n1", "pub a\n2", "pub a\n4",
        ];
        let replay = replay.iter().map(|m| m.as_bytes().to_vec()).collect();
        let kept: Vec<Vec<u8>> = seen.unseen(replay);
        let want: Vec<Vec<u8>> = ["pub b\ny", "pub c\n1", "pub a\n4"]
            .iter()
            .map(|m| m.as_bytes().to_vec())
            .collect();
        assert_eq!(kept, want);
    }
}
