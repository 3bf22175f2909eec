//! The ducq remote: a bridge to another ducq broker over length-framed TCP
//! (PROTOCOL.md §16), in the clear or through the connection's TLS layer.
//! Given a user, it authenticates first (`auth U\nP`, PROTOCOL.md §1.2;
//! a refusal ends the connection). It introduces itself with `bridge <id>\n1`,
//! subscribes to the `in` patterns with `sub P\nadd`, sends publications
//! as `bpub R\n<trace>\nP` and receives them the same way; each `bpub` it
//! sends is confirmed by the remote's ACK, in order. A remote that answers
//! the introduction with a NACK (an original ducq server, which knows no
//! `bridge`) gets plain `pub R\nP`: then nothing stops a loop, and an
//! incoming message on a route the bridge also forwards is taken for an
//! echo of its own and dropped. It must not touch a socket.

use std::collections::VecDeque;
use std::rc::Rc;

use super::config::BridgeConfig;
use super::link::{Link, Outgoing};
use super::peer::{Shared, VERSION};
use super::trace::{broker_id, Trace};
use super::transport::{Inbound, Remote, Sent};
use crate::proto::message::{classify, format, nack_text, pong_for, Kind};
use crate::proto::{Message, State};
use crate::transport::tcp::{encode_frame, TcpCodec};
use crate::transport::{Decoded, LastMessage, Transport};

/// Largest frame accepted from the remote.
const MAX_FRAME: usize = 64 << 20;

/// A reply the remote owes, in the order the requests went out.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Auth,
    Hello,
    Sub(String),
    Pub,
}

/// How the remote takes publications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not known yet: the introduction is unanswered.
    Unknown,
    /// A ducq broker with bridge support, whose id this is.
    Bridge(u64),
    /// A broker without it: plain `pub`.
    Plain,
}

/// The client side of a ducq bridge.
pub struct DucqRemote {
    shared: Rc<Shared>,
    codec: TcpCodec,
    expect: VecDeque<Expect>,
    mode: Mode,
    patterns: Vec<String>,
    /// `auth` sent first on every connection, when a user is configured.
    credentials: Option<(String, String)>,
}

impl DucqRemote {
    /// A remote for `cfg`, with this broker's `shared` bridge state.
    pub fn new(shared: Rc<Shared>, cfg: &BridgeConfig) -> DucqRemote {
        DucqRemote {
            shared,
            codec: TcpCodec::new(MAX_FRAME),
            expect: VecDeque::new(),
            mode: Mode::Unknown,
            patterns: cfg.mapping.remote_patterns(),
            credentials: cfg
                .user
                .clone()
                .map(|u| (u, cfg.password.clone().unwrap_or_default())),
        }
    }

    /// A reply (ACK, NACK, the introduction's answer) to the oldest
    /// request; an error ends the connection.
    fn reply(&mut self, link: &mut Link, msg: &[u8]) -> Result<(), String> {
        let (nack, state) = match classify(msg) {
            Kind::Nack(state) => (Some(nack_text(msg)), Some(state)),
            _ => (None, None),
        };
        match (self.expect.pop_front(), nack) {
            (Some(Expect::Auth), None) => {}
            (Some(Expect::Auth), Some(text)) => {
                let user = self.credentials.as_ref().map_or("", |c| c.0.as_str());
                return Err(format!(
                    "the remote refused the credentials of {user}: {text}"
                ));
            }
            // Refused for want of rights, not for want of the command: a
            // plain fallback would only collect refusals.
            (Some(Expect::Hello), Some(text)) if state == Some(State::EAccess) => {
                return Err(format!(
                    "the remote refused the bridge: {text} (does it need a user and password?)"
                ));
            }
            (Some(Expect::Hello), None) => {
                let id = Message::parse(msg)
                    .ok()
                    .and_then(|m| std::str::from_utf8(m.route).ok().and_then(broker_id));
                self.mode = id.map_or(Mode::Plain, Mode::Bridge);
            }
            (Some(Expect::Hello), Some(text)) => {
                self.mode = Mode::Plain;
                link.notes.push(format!(
                    "the remote has no bridge support ({text}): plain pub/sub, \
                     no loop protection; incoming messages on forwarded routes are dropped"
                ));
            }
            (Some(Expect::Sub(route)), Some(text)) => {
                link.notes.push(format!(
                    "the remote refused the subscription to {route}: {text}"
                ));
            }
            (Some(Expect::Sub(_)), None) => {}
            (Some(Expect::Pub), nack) => link.confirm_oldest(nack.is_none()),
            (None, _) => {}
        }
        Ok(())
    }

    /// A publication from the remote, as the local message to run.
    fn inbound(&self, link: &mut Link, m: &Message<'_>) -> Option<Inbound> {
        let bridged = m.command == b"bpub";
        if !bridged && m.command != b"pub" && m.command != b"publish" {
            return None;
        }
        let local = link.cfg.mapping.inbound_route(m.route)?;
        if self.mode == Mode::Plain && link.cfg.mapping.forwards(&local) {
            // It may be our own, echoed: a plain remote cannot say.
            return None;
        }
        let message = if bridged {
            format(b"bpub", &local, m.payload)
        } else {
            format(b"pub", &local, m.payload)
        };
        Some(Inbound {
            message,
            last: LastMessage::Store,
        })
    }
}

impl Remote for DucqRemote {
    fn open(&mut self, _link: &mut Link, out: &mut Vec<u8>) {
        // The remote reads nothing more until it has answered `auth`, so
        // what follows is judged as the user.
        if let Some((user, password)) = &self.credentials {
            encode_frame(&format(b"auth", user.as_bytes(), password.as_bytes()), out);
            self.expect.push_back(Expect::Auth);
        }
        let id = format!("{:016x}", self.shared.id);
        encode_frame(&format(b"bridge", id.as_bytes(), VERSION), out);
        self.expect.push_back(Expect::Hello);
        for p in &self.patterns {
            encode_frame(&format(b"sub", p.as_bytes(), b"add"), out);
            self.expect.push_back(Expect::Sub(p.clone()));
        }
    }

    fn decode(
        &mut self,
        link: &mut Link,
        input: &mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, Option<Inbound>), String> {
        let step = self.codec.decode(input, out);
        let msg = match step.decoded {
            Decoded::Nothing => return Ok((step.consumed, None)),
            Decoded::Close => return Err("invalid framing from the remote".into()),
            Decoded::Message(m) => m,
        };
        let inbound = match classify(&msg) {
            Kind::Ping => {
                encode_frame(&pong_for(&msg), out);
                None
            }
            Kind::Ack | Kind::Nack(_) => {
                self.reply(link, &msg)?;
                None
            }
            Kind::Data if self.expect.front() == Some(&Expect::Hello) => {
                self.reply(link, &msg)?;
                None
            }
            Kind::Data => match Message::parse(&msg) {
                Ok(m) => {
                    let got = self.inbound(link, &m);
                    if got.is_none() {
                        link.counters.ignored += 1;
                    }
                    got
                }
                Err(_) => None,
            },
            _ => None,
        };
        Ok((step.consumed, inbound))
    }

    fn ready(&self) -> bool {
        !self
            .expect
            .iter()
            .any(|e| matches!(e, Expect::Auth | Expect::Hello | Expect::Sub(_)))
    }

    fn outgoing(
        &mut self,
        _link: &mut Link,
        route: &[u8],
        payload: &[u8],
        seq: u64,
    ) -> Option<Outgoing> {
        let trace = self.shared.trace_for(seq).to_bytes();
        Some(Outgoing::new(route.to_vec(), payload, Some(trace)))
    }

    fn send(&mut self, link: &mut Link, msg: &mut Outgoing, out: &mut Vec<u8>) -> Sent {
        let body = match self.mode {
            Mode::Unknown => return Sent::Wait,
            Mode::Plain => format(b"pub", &msg.name, &msg.payload),
            Mode::Bridge(remote) => {
                let trace = msg.trace.as_deref().unwrap_or_default();
                if Trace::parse(trace).is_some_and(|t| t.names(remote)) {
                    link.counters.looped += 1;
                    return Sent::Skipped;
                }
                Shared::bpub(&msg.name, trace, &msg.payload)
            }
        };
        encode_frame(&body, out);
        self.expect.push_back(Expect::Pub);
        Sent::Unconfirmed
    }

    fn ping(&mut self, out: &mut Vec<u8>) {
        encode_frame(b"PING _\nping", out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::message::nack;
    use crate::server::bridges::config::Kind as BridgeKind;

    fn setup() -> (DucqRemote, Link, Rc<Shared>) {
        let mut cfg = BridgeConfig::new(BridgeKind::Ducq, "127.0.0.1:1".parse().unwrap());
        cfg.mapping.out = vec!["o/#".into(), "both/#".into()];
        cfg.mapping.inbound = vec!["i/+".into(), "both/#".into()];
        let shared = Rc::new(Shared::new());
        let remote = DucqRemote::new(Rc::clone(&shared), &cfg);
        (remote, Link::new(Rc::new(cfg)), shared)
    }

    /// The bodies of the length-framed messages in `out`.
    fn frames(mut out: &[u8]) -> Vec<String> {
        let mut got = Vec::new();
        while let Some(nl) = out.iter().position(|&b| b == b'\n') {
            let len: usize = std::str::from_utf8(&out[..nl]).unwrap().parse().unwrap();
            got.push(String::from_utf8(out[nl + 1..nl + 1 + len].to_vec()).unwrap());
            out = &out[nl + 1 + len..];
        }
        assert!(out.is_empty());
        got
    }

    fn feed(r: &mut DucqRemote, link: &mut Link, body: &[u8], out: &mut Vec<u8>) -> Option<String> {
        let mut buf = Vec::new();
        encode_frame(body, &mut buf);
        let (n, inbound) = r.decode(link, &mut buf, out).unwrap();
        assert_eq!(n, buf.len());
        inbound.map(|i| {
            assert_eq!(i.last, LastMessage::Store);
            String::from_utf8(i.message).unwrap()
        })
    }

    /// Opens `r` with the remote answering the introduction with `hello`
    /// and acknowledging both subscriptions.
    fn open(r: &mut DucqRemote, link: &mut Link, hello: &[u8]) {
        r.open(link, &mut Vec::new());
        feed(r, link, hello, &mut Vec::new());
        feed(r, link, b"ACK *\n", &mut Vec::new());
        feed(r, link, b"ACK *\n", &mut Vec::new());
        assert!(r.ready());
    }

    fn send(r: &mut DucqRemote, link: &mut Link, mut m: Outgoing) -> (Sent, Vec<String>) {
        let mut out = Vec::new();
        let sent = r.send(link, &mut m, &mut out);
        if sent == Sent::Unconfirmed {
            link.sent_unconfirmed(m);
        }
        (sent, frames(&out))
    }

    #[test]
    fn introduces_itself_subscribes_and_sends_bpub_with_its_trace() {
        let (mut r, mut link, shared) = setup();
        let mut out = Vec::new();
        r.open(&mut link, &mut out);
        assert_eq!(
            frames(&out),
            [
                format!("bridge {:016x}\n1", shared.id),
                "sub i/+\nadd".into(),
                "sub both/#\nadd".into()
            ]
        );
        assert!(!r.ready());
        // Nothing goes before the introduction is answered.
        let m = r.outgoing(&mut link, b"o/x", b"p", 5).unwrap();
        assert_eq!(send(&mut r, &mut link, m.clone()).0, Sent::Wait);
        feed(&mut r, &mut link, b"bridge 00000000000000ab\n1", &mut out);
        assert!(!r.ready());
        feed(&mut r, &mut link, b"ACK *\n", &mut out);
        let refusal = nack(State::EAccess);
        feed(&mut r, &mut link, &refusal, &mut out);
        assert!(r.ready());
        assert_eq!(
            link.notes,
            [format!(
                "the remote refused the subscription to both/#: {}",
                nack_text(&refusal)
            )]
        );
        // A publication made here: its trace is this broker's, number 5.
        let trace = Trace::new(shared.id, 5).to_bytes();
        assert_eq!(m, Outgoing::new(b"o/x".to_vec(), b"p", Some(trace.clone())));
        let (sent, wire) = send(&mut r, &mut link, m);
        assert_eq!(sent, Sent::Unconfirmed);
        let trace = String::from_utf8(trace).unwrap();
        assert_eq!(wire, [format!("bpub o/x\n{trace}\np")]);
        // One that has been on the remote already is not sent back.
        let mut been = Trace::new(1, 1);
        been.hops.push(0xab);
        let back = Outgoing::new(b"o/y".to_vec(), b"q", Some(been.to_bytes()));
        assert_eq!(send(&mut r, &mut link, back), (Sent::Skipped, vec![]));
        assert_eq!(link.counters.looped, 1);
        // ACKs and NACKs confirm the publications in order.
        let m = r.outgoing(&mut link, b"o/z", b"r", 6).unwrap();
        send(&mut r, &mut link, m);
        feed(&mut r, &mut link, b"ACK *\n", &mut out);
        feed(&mut r, &mut link, &nack(State::EAccess), &mut out);
        let c = link.counters;
        assert_eq!((c.sent, c.confirmed, c.rejected), (2, 1, 1));
        // Pings both ways.
        out.clear();
        feed(&mut r, &mut link, b"PING _\nx", &mut out);
        r.ping(&mut out);
        assert_eq!(frames(&out), ["PONG _\nx", "PING _\nping"]);
    }

    #[test]
    fn messages_in_from_a_bridging_remote() {
        let (mut r, mut link, _) = setup();
        open(&mut r, &mut link, b"bridge 00000000000000ab\n1");
        let mut out = Vec::new();
        let got = feed(
            &mut r,
            &mut link,
            b"bpub i/a\n00000000000000ab:1\nv",
            &mut out,
        );
        assert_eq!(got.as_deref(), Some("bpub i/a\n00000000000000ab:1\nv"));
        // A remote with bridge support says where a message came from: one
        // on a forwarded route is not taken for an echo.
        let got = feed(&mut r, &mut link, b"pub both/x\nw", &mut out);
        assert_eq!(got.as_deref(), Some("pub both/x\nw"));
        assert_eq!(link.counters.ignored, 0);
        assert!(out.is_empty());
    }

    #[test]
    fn a_remote_without_bridge_support_gets_plain_pub_and_echoes_are_dropped() {
        let (mut r, mut link, _) = setup();
        // The original server knows no `bridge` command.
        let refusal = nack(State::ENoCmd);
        open(&mut r, &mut link, &refusal);
        assert_eq!(
            link.notes,
            [format!(
                "the remote has no bridge support ({}): plain pub/sub, no loop protection; \
                 incoming messages on forwarded routes are dropped",
                nack_text(&refusal)
            )]
        );
        let m = r.outgoing(&mut link, b"o/x", b"p", 1).unwrap();
        assert_eq!(
            send(&mut r, &mut link, m),
            (Sent::Unconfirmed, vec!["pub o/x\np".to_string()])
        );
        let mut out = Vec::new();
        let rows: [(&[u8], Option<&str>); 5] = [
            (b"pub i/a\nv", Some("pub i/a\nv")),
            (b"publish i/b\nw", Some("pub i/b\nw")),
            // Echo of a forwarded route, another command, another route.
            (b"pub both/x\nv", None),
            (b"sub i/a\nadd", None),
            (b"pub other\nz", None),
        ];
        for (body, want) in rows {
            assert_eq!(feed(&mut r, &mut link, body, &mut out).as_deref(), want);
        }
        assert_eq!(link.counters.ignored, 3);
        // An introduction answered without a broker id: plain too.
        let (mut r, mut link, _) = setup();
        open(&mut r, &mut link, b"bridge zz\n1");
        let m = r.outgoing(&mut link, b"o/x", b"p", 1).unwrap();
        assert_eq!(send(&mut r, &mut link, m).1, ["pub o/x\np"]);
        // Framing that is not ducq's ends the connection.
        let mut junk = b"x\n".to_vec();
        assert_eq!(
            r.decode(&mut link, &mut junk, &mut out).unwrap_err(),
            "invalid framing from the remote"
        );
    }

    #[test]
    fn with_a_user_it_authenticates_before_anything_else() {
        let mut cfg = BridgeConfig::new(BridgeKind::Ducq, "127.0.0.1:1".parse().unwrap());
        cfg.mapping.inbound = vec!["i/#".into()];
        cfg.user = Some("bridge".into());
        cfg.password = Some("pw\nwith a line".into());
        let shared = Rc::new(Shared::new());
        let mut r = DucqRemote::new(Rc::clone(&shared), &cfg);
        let mut link = Link::new(Rc::new(cfg));
        let mut out = Vec::new();
        r.open(&mut link, &mut out);
        assert_eq!(
            frames(&out),
            [
                "auth bridge\npw\nwith a line".to_string(),
                format!("bridge {:016x}\n1", shared.id),
                "sub i/#\nadd".into()
            ]
        );
        // Accepted: the introduction and the subscription follow.
        feed(&mut r, &mut link, b"ACK *\n", &mut out);
        assert!(!r.ready());
        feed(&mut r, &mut link, b"bridge 00000000000000ab\n1", &mut out);
        feed(&mut r, &mut link, b"ACK *\n", &mut out);
        assert!(r.ready());
        assert!(link.notes.is_empty(), "{:?}", link.notes);
        // Refused: the connection ends, saying whose credentials.
        r.open(&mut link, &mut Vec::new());
        let mut refusal = Vec::new();
        encode_frame(&nack(State::EAccess), &mut refusal);
        assert_eq!(
            r.decode(&mut link, &mut refusal, &mut out).unwrap_err(),
            format!(
                "the remote refused the credentials of bridge: {}",
                nack_text(&nack(State::EAccess))
            )
        );
    }

    #[test]
    fn an_introduction_refused_for_want_of_rights_ends_the_connection() {
        let (mut r, mut link, _) = setup();
        r.open(&mut link, &mut Vec::new());
        let mut refusal = Vec::new();
        encode_frame(&nack(State::EAccess), &mut refusal);
        let err = r
            .decode(&mut link, &mut refusal, &mut Vec::new())
            .unwrap_err();
        assert_eq!(
            err,
            format!(
                "the remote refused the bridge: {} (does it need a user and password?)",
                nack_text(&nack(State::EAccess))
            )
        );
        assert!(!r.ready());
    }
}
