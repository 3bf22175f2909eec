//! Streamed payloads on the server side (PROTOCOL.md §12): the open
//! streams, who receives each, and the window that keeps the server from
//! holding more than a bounded amount of any stream. Commands (`CONT`,
//! `END`) add parts; the hub ends the streams of a publisher that leaves;
//! the reactor asks once per turn which paused publishers may be read again.
//!
//! A stream's audience is fixed when it opens (the subscribers matching its
//! route then, less the connections that carry publications only: MQTT
//! clients and bridges), so nobody receives a stream from its middle. When
//! a part leaves any of them with more than the window queued, the
//! publisher is no longer read (TCP pushes back on it) until every one of
//! them is down to half the window; one that stays above it for the stream
//! timeout is closed as a slow consumer. A stream with no part for the
//! stream timeout (while not paused) is ended with an error for its
//! audience and refused to its publisher until it sends `END`. Nothing here
//! touches a socket.

use std::collections::HashMap;
use std::time::Instant;

use super::conn::ConnId;
use super::hub::Hub;
use crate::proto::stream::{format_failure, format_part};
use crate::proto::State;

/// Most streams one connection may have open at once.
pub const MAX_STREAMS_PER_CONN: usize = 64;

struct Stream {
    sid: u64,
    audience: Vec<ConnId>,
    last_part: Instant,
    /// Since when the window is full (the publisher is not read).
    blocked_since: Option<Instant>,
    /// Ended by the timeout; parts are refused until the publisher's `END`.
    timed_out: bool,
}

/// Every open stream, by publisher and route.
#[derive(Default)]
pub struct Streams {
    open: HashMap<(ConnId, Box<[u8]>), Stream>,
    next_sid: u64,
    /// Publishers to read again, taken by the reactor.
    resumed: Vec<usize>,
}

impl Streams {
    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Whether `publisher` has a stream open on `route`.
    pub fn is_open(&self, publisher: ConnId, route: &[u8]) -> bool {
        !self.open.is_empty() && self.open.contains_key(&(publisher, Box::from(route)))
    }

    /// Whether the publisher with slab key `key` must not be read now.
    pub fn is_paused(&self, key: usize) -> bool {
        !self.open.is_empty()
            && self
                .open
                .iter()
                .any(|((p, _), s)| p.key == key && s.blocked_since.is_some())
    }

    /// Publishers that were paused and may be read again.
    pub fn take_resumed(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.resumed)
    }
}

/// Delivers part `bytes` of the caller's stream on `route` (opening it on
/// the first part); `last` ends it.
pub fn part(
    hub: &mut Hub,
    caller: usize,
    route: &[u8],
    bytes: &[u8],
    last: bool,
) -> Result<(), State> {
    let publisher = hub.conn_id(caller).ok_or(State::ENotFound)?;
    let now = Instant::now();
    let key = (publisher, Box::<[u8]>::from(route));
    if !hub.streams.open.contains_key(&key) {
        let mine = hub
            .streams
            .open
            .keys()
            .filter(|(p, _)| *p == publisher)
            .count();
        if mine >= MAX_STREAMS_PER_CONN {
            return Err(State::EMax);
        }
        let mut keys = Vec::new();
        hub.subs.for_each_subscriber(route, |k| keys.push(k));
        keys.sort_unstable();
        keys.dedup();
        // Connections that carry publications only (MQTT, bridges) would
        // drop the parts: they are not part of the audience.
        let audience = keys
            .into_iter()
            .filter(|&k| hub.conn(k).is_some_and(|c| c.reads_ducq_messages()))
            .filter_map(|k| hub.conn_id(k))
            .collect();
        hub.streams.next_sid += 1;
        let stream = Stream {
            sid: hub.streams.next_sid,
            audience,
            last_part: now,
            blocked_since: None,
            timed_out: false,
        };
        hub.streams.open.insert(key.clone(), stream);
    }
    let Some(stream) = hub.streams.open.get_mut(&key) else {
        return Err(State::Error);
    };
    if stream.timed_out {
        if last {
            hub.streams.open.remove(&key);
        }
        return Err(State::ETimeout);
    }
    stream.last_part = now;
    let mut msg = Vec::with_capacity(route.len() + bytes.len() + 32);
    format_part(&mut msg, route, stream.sid, last, bytes);
    let mut audience = std::mem::take(&mut stream.audience);
    hub.send(caller, crate::proto::ACK)?;
    audience.retain(|&id| match hub.resolve(id) {
        Some(k) => hub.send(k, &msg).is_ok(),
        None => false,
    });
    if last {
        hub.streams.open.remove(&key);
        return Ok(());
    }
    let window = hub.settings().stream_window;
    let full = audience
        .iter()
        .any(|&id| pending(hub, id).is_some_and(|n| n > window));
    if let Some(stream) = hub.streams.open.get_mut(&key) {
        stream.audience = audience;
        if full && stream.blocked_since.is_none() {
            stream.blocked_since = Some(now);
        }
    }
    Ok(())
}

fn pending(hub: &Hub, id: ConnId) -> Option<usize> {
    hub.resolve(id)
        .and_then(|k| hub.conn(k))
        .map(|c| c.pending_output())
}

/// Ends every stream of the publisher with slab key `key` (it is closing):
/// its audience is told the stream was abandoned.
pub fn publisher_gone(hub: &mut Hub, key: usize) {
    if hub.streams.open.is_empty() {
        return;
    }
    let gone: Vec<(ConnId, Box<[u8]>)> = hub
        .streams
        .open
        .keys()
        .filter(|(p, _)| p.key == key)
        .cloned()
        .collect();
    for k in gone {
        if let Some(s) = hub.streams.open.remove(&k) {
            if !s.timed_out {
                fail(hub, &k.1, &s, State::EConnClosed);
            }
        }
    }
}

fn fail(hub: &mut Hub, route: &[u8], s: &Stream, state: State) {
    let msg = format_failure(route, s.sid, state);
    for &id in &s.audience {
        if let Some(k) = hub.resolve(id) {
            let _ = hub.send(k, &msg);
        }
    }
}

/// Once per turn, after output was written: resumes publishers whose
/// audience drained to half the window, closes audience members that kept
/// a stream paused past the timeout, and ends streams idle past it.
pub fn check(hub: &mut Hub, now: Instant) {
    if hub.streams.open.is_empty() {
        return;
    }
    let window = hub.settings().stream_window;
    let timeout = hub.settings().stream_timeout;
    let keys: Vec<(ConnId, Box<[u8]>)> = hub.streams.open.keys().cloned().collect();
    for key in keys {
        let Some(s) = hub.streams.open.get(&key) else {
            continue;
        };
        let expired =
            |t: Instant| !timeout.is_zero() && now.saturating_duration_since(t) >= timeout;
        match s.blocked_since {
            Some(since) => {
                let over: Vec<ConnId> = s
                    .audience
                    .iter()
                    .copied()
                    .filter(|&id| pending(hub, id).is_some_and(|n| n > window / 2))
                    .collect();
                if !over.is_empty() && !expired(since) {
                    continue;
                }
                let slow: Vec<usize> = if expired(since) {
                    over.iter()
                        .filter(|&&id| pending(hub, id).is_some_and(|n| n > window))
                        .filter_map(|&id| hub.resolve(id))
                        .collect()
                } else {
                    Vec::new()
                };
                for k in slow {
                    hub.close(
                        k,
                        "stream window full past the stream timeout: slow consumer",
                    );
                }
                if let Some(s) = hub.streams.open.get_mut(&key) {
                    s.blocked_since = None;
                    s.last_part = now;
                }
                if !hub.streams.is_paused(key.0.key) && hub.resolve(key.0).is_some() {
                    hub.streams.resumed.push(key.0.key);
                }
            }
            None if expired(s.last_part) => {
                if s.timed_out {
                    hub.streams.open.remove(&key);
                    continue;
                }
                let sid = s.sid;
                let audience = s.audience.clone();
                let dead = Stream {
                    sid,
                    audience,
                    last_part: now,
                    blocked_since: None,
                    timed_out: true,
                };
                fail(hub, &key.1, &dead, State::ETimeout);
                hub.streams.open.insert(key, dead);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::server::hub::tests::{frame, hub, read_now, tcp};

    /// A part as its audience receives it, framed.
    fn part_frame(route: &[u8], sid: u64, last: bool, bytes: &[u8]) -> Vec<u8> {
        let mut msg = Vec::new();
        format_part(&mut msg, route, sid, last, bytes);
        frame(&msg)
    }

    /// When the (one) paused stream's window filled.
    fn blocked_since(hub: &Hub) -> Instant {
        let mut since = hub.streams.open.values().filter_map(|s| s.blocked_since);
        since.next().unwrap()
    }

    #[test]
    fn parts_reach_the_audience_fixed_when_the_stream_opened() {
        let (mut hub, _poll) = hub();
        let (p, mut pp) = tcp(&mut hub);
        let (a, mut pa) = tcp(&mut hub);
        let (c, mut pc) = tcp(&mut hub);
        let pid = hub.conn_id(p).unwrap();
        hub.subs.subscribe(a, b"s", true);
        hub.subs.subscribe(a, b"+", true);
        assert!(hub.streams.is_empty());
        assert!(!hub.streams.is_open(pid, b"s"));
        part(&mut hub, p, b"s", b"x", false).unwrap();
        assert!(!hub.streams.is_empty());
        assert!(hub.streams.is_open(pid, b"s"));
        assert!(!hub.streams.is_open(pid, b"t"));
        assert!(!hub.streams.is_open(hub.conn_id(a).unwrap(), b"s"));
        // Too late for this stream; in time for the next.
        hub.subs.subscribe(c, b"s", true);
        check(&mut hub, Instant::now());
        part(&mut hub, p, b"s", b"y", true).unwrap();
        assert!(hub.streams.is_empty());
        part(&mut hub, p, b"s", b"z", true).unwrap();
        assert_eq!(part(&mut hub, 9, b"s", b"z", true), Err(State::ENotFound));
        hub.flush_dirty();
        let first = [
            part_frame(b"s", 1, false, b"x"),
            part_frame(b"s", 1, true, b"y"),
        ]
        .concat();
        let second = part_frame(b"s", 2, true, b"z");
        assert_eq!(read_now(&mut pa), [&first[..], &second].concat());
        assert_eq!(read_now(&mut pc), second);
        assert_eq!(read_now(&mut pp), frame(b"ACK").repeat(3));
    }

    #[test]
    fn a_connection_has_at_most_its_share_of_open_streams() {
        let (mut hub, _poll) = hub();
        let (p, _pp) = tcp(&mut hub);
        let (q, _pq) = tcp(&mut hub);
        for i in 0..MAX_STREAMS_PER_CONN {
            part(&mut hub, p, format!("r{i}").as_bytes(), b"", false).unwrap();
        }
        assert_eq!(part(&mut hub, p, b"more", b"", false), Err(State::EMax));
        // An open one takes more parts; another publisher has its own share.
        part(&mut hub, p, b"r0", b"", false).unwrap();
        part(&mut hub, q, b"r0", b"", false).unwrap();
    }

    #[test]
    fn a_full_window_pauses_the_publisher_until_half_drained_or_timed_out() {
        let (mut hub, _poll) = hub();
        let (p, _pp) = tcp(&mut hub);
        let (a, mut pa) = tcp(&mut hub);
        let (b, mut pb) = tcp(&mut hub);
        for k in [a, b] {
            hub.subs.subscribe(k, b"s", true);
        }
        // Each part queues `len` bytes for each member; two fill the window.
        let len = part_frame(b"s", 1, false, b"data").len();
        hub.settings.stream_window = 2 * len;
        let timeout = hub.settings().stream_timeout;
        assert!(!hub.streams.is_paused(p));
        part(&mut hub, p, b"s", b"data", false).unwrap();
        part(&mut hub, p, b"s", b"data", false).unwrap();
        // At the window, not past it.
        assert!(!hub.streams.is_paused(p));
        part(&mut hub, p, b"s", b"data", false).unwrap();
        assert!(hub.streams.is_paused(p));
        let t0 = blocked_since(&hub);
        assert!(!hub.streams.is_paused(a));
        // 1.5 windows queued: above half, still paused.
        check(&mut hub, t0);
        assert!(hub.streams.is_paused(p));
        assert_eq!(hub.streams.take_resumed(), Vec::<usize>::new());
        // Drained to exactly half: resumed, once.
        hub.flush_dirty();
        read_now(&mut pa);
        read_now(&mut pb);
        let mut msg = Vec::new();
        format_part(&mut msg, b"s", 1, false, b"data");
        hub.send(b, &msg).unwrap();
        assert_eq!(hub.conn(b).unwrap().pending_output(), len);
        check(&mut hub, t0);
        assert!(!hub.streams.is_paused(p));
        assert_eq!(hub.streams.take_resumed(), [p]);
        assert_eq!(hub.streams.take_resumed(), Vec::<usize>::new());
        // Paused again: a at the window (2 parts), b past it (3).
        part(&mut hub, p, b"s", b"data", false).unwrap();
        part(&mut hub, p, b"s", b"data", false).unwrap();
        assert!(hub.streams.is_paused(p));
        // Past the timeout only the member past the window is cut.
        let t1 = blocked_since(&hub) + timeout;
        check(&mut hub, t1 - Duration::from_millis(1));
        assert!(hub.streams.is_paused(p));
        check(&mut hub, t1);
        assert!(hub.conn(b).is_none());
        assert!(hub.conn(a).is_some());
        assert_eq!(hub.streams.take_resumed(), [p]);
        // Idle for the timeout: ended with an error for its audience, its
        // parts refused until the publisher's last one.
        hub.flush_dirty();
        read_now(&mut pa);
        check(&mut hub, t1 + timeout - Duration::from_millis(1));
        hub.flush_dirty();
        assert_eq!(read_now(&mut pa), b"");
        check(&mut hub, t1 + timeout);
        hub.flush_dirty();
        assert_eq!(
            read_now(&mut pa),
            frame(&format_failure(b"s", 1, State::ETimeout))
        );
        let pid = hub.conn_id(p).unwrap();
        assert_eq!(
            part(&mut hub, p, b"s", b"late", false),
            Err(State::ETimeout)
        );
        assert!(hub.streams.is_open(pid, b"s"));
        assert_eq!(part(&mut hub, p, b"s", b"", true), Err(State::ETimeout));
        assert!(!hub.streams.is_open(pid, b"s"));
    }

    #[test]
    fn a_timed_out_stream_left_alone_is_dropped_at_the_next_timeout() {
        let (mut hub, _poll) = hub();
        let (p, _pp) = tcp(&mut hub);
        let pid = hub.conn_id(p).unwrap();
        let timeout = hub.settings().stream_timeout;
        part(&mut hub, p, b"s", b"", false).unwrap();
        let t0 = Instant::now();
        check(&mut hub, t0 + timeout);
        assert!(hub.streams.is_open(pid, b"s"));
        check(&mut hub, t0 + timeout * 2);
        assert!(!hub.streams.is_open(pid, b"s"));
    }

    #[test]
    fn a_leaving_publisher_ends_its_streams_for_their_audience() {
        let (mut hub, _poll) = hub();
        let (p, _pp) = tcp(&mut hub);
        let (q, _pq) = tcp(&mut hub);
        let (a, mut pa) = tcp(&mut hub);
        hub.subs.subscribe(a, b"#", true);
        let timeout = hub.settings().stream_timeout;
        part(&mut hub, p, b"old", b"", false).unwrap();
        let t0 = Instant::now();
        check(&mut hub, t0 + timeout);
        part(&mut hub, p, b"s", b"", false).unwrap();
        part(&mut hub, q, b"s", b"", false).unwrap();
        hub.flush_dirty();
        read_now(&mut pa);
        // Paused, then gone before the audience drained: not resumed.
        hub.settings.stream_window = 0;
        part(&mut hub, p, b"s", b"", false).unwrap();
        assert!(hub.streams.is_paused(p));
        hub.close(p, "gone");
        hub.flush_dirty();
        read_now(&mut pa);
        check(&mut hub, t0);
        assert_eq!(hub.streams.take_resumed(), Vec::<usize>::new());
        hub.reap();
        // Only the stream not already ended by its timeout.
        assert_eq!(
            read_now(&mut pa),
            frame(&format_failure(b"s", 2, State::EConnClosed))
        );
        assert!(hub.streams.is_open(hub.conn_id(q).unwrap(), b"s"));
    }
}
