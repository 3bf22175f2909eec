//! Request/reply: serving members per route, requests load-balanced
//! across them (each request to one member, in turn — unlike pub/sub,
//! which gives every subscriber a copy), replies routed back to the
//! requester's connection by a server-made token. State only: it returns
//! the messages to send and never touches a connection itself.
//!
//! Wire (PROTOCOL.md §14): requester `req R\nCORR\nP`; member gets
//! `req R\nTOKEN\nP`; member answers `rep TOKEN\nP` or `rerr TOKEN\nTEXT`;
//! requester gets `rep CORR\nP` or `NACK CORR\n<code>\n<text>`.

use std::collections::{HashMap, HashSet};

use crate::proto::{message, State};
use crate::server::conn::ConnId;

/// Longest correlation id a requester may choose, in bytes.
pub const MAX_CORR: usize = 128;

/// A message for a connection.
pub type Out = (ConnId, Vec<u8>);

#[derive(Default)]
struct Members {
    list: Vec<ConnId>,
    cursor: usize,
}

struct Pending {
    requester: ConnId,
    corr: Vec<u8>,
    member: ConnId,
}

/// Serving members and requests in flight.
pub struct Rpc {
    routes: HashMap<Vec<u8>, Members>,
    serving: HashMap<ConnId, Vec<Vec<u8>>>,
    pending: HashMap<u64, Pending>,
    by_member: HashMap<ConnId, HashSet<u64>>,
    by_requester: HashMap<ConnId, HashSet<u64>>,
    next_token: u64,
    max_pending: usize,
}

/// `NACK CORR\n<code>\n<text>`: a failed request, with the correlation id
/// in the route slot so a client with many requests in flight knows which.
pub fn nack_for(corr: &[u8], state: State, text: &[u8]) -> Vec<u8> {
    let mut m = b"NACK ".to_vec();
    m.extend_from_slice(corr);
    m.extend_from_slice(format!("\n{}\n", state.code()).as_bytes());
    m.extend_from_slice(text);
    m
}

/// The correlation id of a request's payload (`CORR\nP`), when it is a
/// valid one: 1 to [`MAX_CORR`] bytes, no whitespace.
pub fn correlation(payload: &[u8]) -> Option<&[u8]> {
    let (corr, _) = split_line(payload);
    let bad = corr.is_empty() || corr.len() > MAX_CORR || corr.iter().any(u8::is_ascii_whitespace);
    (!bad).then_some(corr)
}

fn split_line(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().position(|&b| b == b'\n') {
        Some(i) => (p.get(..i).unwrap_or(&[]), p.get(i + 1..).unwrap_or(&[])),
        None => (p, &[]),
    }
}

impl Rpc {
    /// No member, no request; at most `max_pending` requests in flight.
    pub fn new(max_pending: usize) -> Rpc {
        Rpc {
            routes: HashMap::new(),
            serving: HashMap::new(),
            pending: HashMap::new(),
            by_member: HashMap::new(),
            by_requester: HashMap::new(),
            next_token: 1,
            max_pending,
        }
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Serving members of `route`.
    pub fn members(&self, route: &[u8]) -> usize {
        self.routes.get(route).map_or(0, |m| m.list.len())
    }

    /// `conn` serves `route` from now on (once, however often asked).
    pub fn serve(&mut self, conn: ConnId, route: &[u8]) {
        let m = self.routes.entry(route.to_vec()).or_default();
        if !m.list.contains(&conn) {
            m.list.push(conn);
            self.serving.entry(conn).or_default().push(route.to_vec());
        }
    }

    /// `conn` stops serving `route`; false when it did not serve it.
    pub fn unserve(&mut self, conn: ConnId, route: &[u8]) -> bool {
        let Some(m) = self.routes.get_mut(route) else {
            return false;
        };
        let Some(at) = m.list.iter().position(|c| *c == conn) else {
            return false;
        };
        m.list.remove(at);
        if m.cursor > at {
            m.cursor -= 1;
        }
        if m.list.is_empty() {
            self.routes.remove(route);
        }
        if let Some(r) = self.serving.get_mut(&conn) {
            r.retain(|x| x != route);
        }
        true
    }

    /// A request from `requester` on `route`, payload `CORR\nP`: forwarded
    /// to the next serving member still `alive`. Errors are answered to
    /// the requester by the caller: 15 for a bad correlation id, 19 when
    /// nobody serves the route, 21 when too many requests are in flight.
    pub fn request(
        &mut self,
        requester: ConnId,
        route: &[u8],
        payload: &[u8],
        alive: impl Fn(ConnId) -> bool,
    ) -> Result<Out, (Vec<u8>, State)> {
        let (_, body) = split_line(payload);
        let Some(corr) = correlation(payload) else {
            return Err((b"*".to_vec(), State::EMsgInv));
        };
        if self.pending.len() >= self.max_pending {
            return Err((corr.to_vec(), State::EMax));
        }
        let member = self.routes.get_mut(route).and_then(|m| {
            let n = m.list.len();
            let at = (0..n)
                .map(|i| (m.cursor + i) % n)
                .find(|&i| m.list.get(i).is_some_and(|c| alive(*c)))?;
            m.cursor = (at + 1) % n;
            m.list.get(at).copied()
        });
        let Some(member) = member else {
            return Err((corr.to_vec(), State::ENotFound));
        };
        let token = self.next_token;
        self.next_token += 1;
        self.pending.insert(
            token,
            Pending {
                requester,
                corr: corr.to_vec(),
                member,
            },
        );
        self.by_member.entry(member).or_default().insert(token);
        self.by_requester
            .entry(requester)
            .or_default()
            .insert(token);
        let mut fwd = message::format(b"req", route, token.to_string().as_bytes());
        fwd.push(b'\n');
        fwd.extend_from_slice(body);
        Ok((member, fwd))
    }

    fn finish(&mut self, token: u64) -> Option<Pending> {
        let p = self.pending.remove(&token)?;
        if let Some(s) = self.by_member.get_mut(&p.member) {
            s.remove(&token);
        }
        if let Some(s) = self.by_requester.get_mut(&p.requester) {
            s.remove(&token);
        }
        Some(p)
    }

    /// A member's reply (`ok`) or error reply to request `token`. Returns
    /// the message for the requester, or `Err(text)` for the log when no
    /// requester waits for it any more (it disconnected) or `from` is not
    /// the member the request went to.
    pub fn reply(
        &mut self,
        from: ConnId,
        token: &[u8],
        payload: &[u8],
        ok: bool,
    ) -> Result<Out, String> {
        let t = std::str::from_utf8(token)
            .ok()
            .and_then(|t| t.parse::<u64>().ok());
        let shown = String::from_utf8_lossy(token);
        let Some(t) = t else {
            return Err(format!("reply to '{shown}' dropped: not a request token"));
        };
        match self.pending.get(&t) {
            None => {
                return Err(format!(
                    "reply to request {t} dropped: its requester is gone"
                ))
            }
            Some(p) if p.member != from => {
                return Err(format!(
                    "reply to request {t} dropped: sent by a member it did not go to"
                ))
            }
            Some(_) => {}
        }
        let p = self
            .finish(t)
            .ok_or_else(|| format!("request {t} vanished"))?;
        let msg = if ok {
            message::format(b"rep", &p.corr, payload)
        } else {
            nack_for(&p.corr, State::Error, payload)
        };
        Ok((p.requester, msg))
    }

    /// `conn` closed: it serves nothing any more, its own requests are
    /// forgotten (their replies will be dropped), and requesters waiting
    /// on it as a member get `NACK CORR\n10\nconnection closed`.
    pub fn closed(&mut self, conn: ConnId) -> Vec<Out> {
        for route in self.serving.remove(&conn).unwrap_or_default() {
            self.unserve(conn, &route);
        }
        for token in self.by_requester.remove(&conn).unwrap_or_default() {
            self.finish(token);
        }
        let mut out = Vec::new();
        for token in self.by_member.remove(&conn).unwrap_or_default() {
            if let Some(p) = self.finish(token) {
                let text = State::EConnClosed.text().as_bytes();
                out.push((p.requester, nack_for(&p.corr, State::EConnClosed, text)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(key: usize) -> ConnId {
        ConnId {
            key,
            gen: key as u64 + 100,
        }
    }

    fn token_of(msg: &[u8]) -> Vec<u8> {
        let m = crate::proto::Message::parse(msg).unwrap();
        split_line(m.payload).0.to_vec()
    }

    #[test]
    fn requests_are_load_balanced_across_members() {
        let mut r = Rpc::new(100);
        for m in [1, 2, 3] {
            r.serve(c(m), b"svc");
        }
        r.serve(c(1), b"svc");
        assert_eq!(r.members(b"svc"), 3);
        let mut to = Vec::new();
        for i in 0..9 {
            let (member, msg) = r
                .request(c(9), b"svc", format!("k{i}\nbody").as_bytes(), |_| true)
                .unwrap();
            assert!(msg.starts_with(b"req svc\n"));
            assert!(msg.ends_with(b"\nbody"));
            to.push(member.key);
        }
        assert_eq!(to, [1, 2, 3, 1, 2, 3, 1, 2, 3]);
        // A member that is not alive is skipped.
        let (m, _) = r.request(c(9), b"svc", b"x\n", |c| c.key != 1).unwrap();
        assert_eq!(m.key, 2);
        assert_eq!(r.in_flight(), 10);
    }

    #[test]
    fn reply_goes_back_with_the_correlation_id() {
        let mut r = Rpc::new(100);
        r.serve(c(1), b"svc");
        let (m, fwd) = r.request(c(5), b"svc", b"abc-1\nping", |_| true).unwrap();
        let token = token_of(&fwd);
        assert_eq!(
            fwd,
            [b"req svc\n".to_vec(), token.clone(), b"\nping".to_vec()].concat()
        );
        // Only the member it went to may answer.
        assert!(r.reply(c(2), &token, b"x", true).is_err());
        let (to, msg) = r.reply(m, &token, b"pong", true).unwrap();
        assert_eq!(to, c(5));
        assert_eq!(msg, b"rep abc-1\npong");
        assert_eq!(r.in_flight(), 0);
        // Twice: dropped.
        let e = r.reply(m, &token, b"pong", true).unwrap_err();
        assert!(e.contains("requester is gone"), "{e}");
        let e = r.reply(m, b"zz", b"", true).unwrap_err();
        assert!(e.contains("not a request token"), "{e}");
    }

    #[test]
    fn error_replies_become_nacks_with_the_correlation_id() {
        let mut r = Rpc::new(100);
        r.serve(c(1), b"svc");
        let (m, fwd) = r.request(c(5), b"svc", b"q7\n", |_| true).unwrap();
        let (_, msg) = r
            .reply(m, &token_of(&fwd), b"exit status 3", false)
            .unwrap();
        assert_eq!(msg, b"NACK q7\n3\nexit status 3");
        assert_eq!(crate::proto::message::nack_state(&msg), Some(State::Error));
    }

    #[test]
    fn refusals() {
        let mut r = Rpc::new(1);
        assert_eq!(
            r.request(c(5), b"svc", b"k\n", |_| true).unwrap_err(),
            (b"k".to_vec(), State::ENotFound)
        );
        r.serve(c(1), b"svc");
        assert_eq!(
            r.request(c(5), b"svc", b"k\n", |_| false).unwrap_err().1,
            State::ENotFound
        );
        for bad in [&b"\nbody"[..], b"a b\nx", &[b'x'; MAX_CORR + 1]] {
            assert_eq!(
                r.request(c(5), b"svc", bad, |_| true).unwrap_err(),
                (b"*".to_vec(), State::EMsgInv)
            );
        }
        r.request(c(5), b"svc", b"k\n", |_| true).unwrap();
        assert_eq!(
            r.request(c(5), b"svc", b"k2\n", |_| true).unwrap_err(),
            (b"k2".to_vec(), State::EMax)
        );
        assert!(!r.unserve(c(2), b"svc"));
        assert!(r.unserve(c(1), b"svc"));
        assert_eq!(r.members(b"svc"), 0);
    }

    #[test]
    fn a_member_that_closes_fails_its_requests() {
        let mut r = Rpc::new(100);
        r.serve(c(1), b"a");
        r.serve(c(1), b"b");
        r.serve(c(2), b"a");
        let (m1, _) = r.request(c(5), b"a", b"x1\n", |_| true).unwrap();
        let (m2, _) = r.request(c(6), b"a", b"x2\n", |_| true).unwrap();
        assert_eq!((m1.key, m2.key), (1, 2));
        let out = r.closed(c(1));
        assert_eq!(out, [(c(5), b"NACK x1\n10\nconnection closed".to_vec())]);
        assert_eq!((r.members(b"a"), r.members(b"b")), (1, 0));
        assert_eq!(r.in_flight(), 1);
    }

    #[test]
    fn a_correlation_id_may_be_as_long_as_the_limit() {
        let longest = [b'c'; MAX_CORR];
        let payload = [&longest[..], b"\nbody"].concat();
        assert_eq!(correlation(&payload), Some(&longest[..]));
        assert_eq!(correlation(b"k\n"), Some(&b"k"[..]));
        assert_eq!(correlation(b"k"), Some(&b"k"[..]));
        assert_eq!(correlation(b"a\tb\n"), None);
    }

    #[test]
    fn the_turn_goes_on_where_it_was_when_a_member_leaves() {
        let mut r = Rpc::new(100);
        for m in [1, 2, 3, 4] {
            r.serve(c(m), b"svc");
        }
        let next = |r: &mut Rpc| r.request(c(9), b"svc", b"k\n", |_| true).unwrap().0.key;
        assert_eq!(next(&mut r), 1);
        // The next in turn leaves: the one after it is next.
        assert!(r.unserve(c(2), b"svc"));
        assert_eq!(next(&mut r), 3);
        // One before the turn leaves: still the same one next.
        assert!(r.unserve(c(1), b"svc"));
        assert_eq!(next(&mut r), 4);
        assert_eq!(next(&mut r), 3);
        // One after the turn leaves.
        assert!(r.unserve(c(4), b"svc"));
        assert_eq!(next(&mut r), 3);
        assert_eq!(r.members(b"svc"), 1);
        // Among five, one before the turn leaves: the turn stays on the
        // member it was on (3), not two further.
        let mut r = Rpc::new(100);
        for m in 1..=5 {
            r.serve(c(m), b"svc");
        }
        assert_eq!((next(&mut r), next(&mut r)), (1, 2));
        assert!(r.unserve(c(1), b"svc"));
        assert_eq!((next(&mut r), next(&mut r)), (3, 4));
    }

    #[test]
    fn a_member_that_stopped_serving_one_route_still_leaves_the_others_when_it_closes() {
        let mut r = Rpc::new(100);
        for route in [&b"a"[..], b"b", b"c"] {
            r.serve(c(1), route);
        }
        assert!(r.unserve(c(1), b"b"));
        assert!(!r.unserve(c(1), b"b"));
        assert!(r.closed(c(1)).is_empty());
        assert_eq!(
            (r.members(b"a"), r.members(b"b"), r.members(b"c")),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_requester_that_closes_has_its_replies_dropped() {
        let mut r = Rpc::new(100);
        r.serve(c(1), b"a");
        let (m, fwd) = r.request(c(5), b"a", b"x\n", |_| true).unwrap();
        assert!(r.closed(c(5)).is_empty());
        assert_eq!(r.in_flight(), 0);
        let e = r.reply(m, &token_of(&fwd), b"late", true).unwrap_err();
        assert!(e.contains("requester is gone"), "{e}");
    }
}
