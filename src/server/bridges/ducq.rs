//! The ducq remote: a bridge to another ducq broker over length-framed TCP
//! (PROTOCOL.md §16). It introduces itself with `bridge <id>\n1`,
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
use crate::proto::Message;
use crate::transport::tcp::{encode_frame, TcpCodec};
use crate::transport::{Decoded, LastMessage, Transport};

/// Largest frame accepted from the remote.
const MAX_FRAME: usize = 64 << 20;

/// A reply the remote owes, in the order the requests went out.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
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
        }
    }

    /// A reply (ACK, NACK, the introduction's answer) to the oldest request.
    fn reply(&mut self, link: &mut Link, msg: &[u8]) {
        let nack = match classify(msg) {
            Kind::Nack(_) => Some(nack_text(msg)),
            _ => None,
        };
        match (self.expect.pop_front(), nack) {
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
                self.reply(link, &msg);
                None
            }
            Kind::Data if self.expect.front() == Some(&Expect::Hello) => {
                self.reply(link, &msg);
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
            .any(|e| matches!(e, Expect::Hello | Expect::Sub(_)))
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
