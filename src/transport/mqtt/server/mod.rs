//! The server side of one MQTT connection as a ducq [`Transport`]: MQTT
//! packets in, ducq messages (`pub T\nP`, `sub R\nadd last`,
//! `unsubscribe R\n`) out to the dispatcher; ducq replies and deliveries in,
//! MQTT packets out. docs/MQTT.md has the mapping, and the `Transport`
//! hooks the server calls for the rest (`last_words` for the will,
//! `idle_timeout` for keep-alive, `last_message` for RETAIN,
//! `encode_publication` for shared subscriptions, `accepted` for
//! takeovers, `park` for a persistent session that outlives its
//! connection).
//!
//! The reactor's contract is used as it is: a message returned by `decode`
//! is dispatched at once, every reply to it is `encode`d, then
//! `after_dispatch` runs. So the replies to a message are exactly the ACK or
//! NACK (or stored messages) seen between the two, and everything else is a
//! delivery. An MQTT packet that needs several ducq messages (one per filter
//! of a SUBSCRIBE) hands them out one per call, each consuming part of the
//! packet's bytes, so a message always consumes input.
//!
//! QoS 2 is complete both ways: incoming (PUBREC, PUBREL, PUBCOMP,
//! duplicates not republished) and outgoing (PUBLISH, PUBREC → PUBREL,
//! PUBCOMP, released again on reconnect). No I/O and no clock here.
//!
//! This file holds the connection's state and the `Transport` entry
//! points; `connect`, `publish` and `subscribe` handle their packets,
//! `park` the session once the connection is gone. It is longer than
//! most (about 700 lines) because the `Transport` implementation, the
//! request bookkeeping it drives (`Req`, `next_message`) and the state
//! they share are one job: splitting them would expose the connection's
//! private state to another file without making either part simpler.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use crate::proto::message::{classify, Kind};
use crate::proto::State;
use crate::transport::mqtt::codec;
use crate::transport::mqtt::packet::{Ack, Connect, Packet, QoS, Reasoned, Version, Will};
use crate::transport::mqtt::props::Properties;
use crate::transport::mqtt::reason;
use crate::transport::mqtt::session::{
    forwarded, Listener, Publication, SharedListener, SharedSession,
};
use crate::transport::mqtt::topic::BrokerWildcards;
use crate::transport::mqtt::wire::Error;
use crate::transport::{Decoded, LastMessage, Parked, Step, Transport};
use outbox::Outbox;
pub(crate) use park::restored as restored_parked;
use publish::pub_message;

/// Limits and capabilities of an MQTT listener.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest packet accepted from a client, fixed header included.
    pub max_packet: u32,
    /// Longest client identifier accepted, in bytes.
    pub max_client_id: usize,
    /// Most QoS 2 publications a client may have unreleased (announced as
    /// Receive Maximum to MQTT 5 clients).
    pub receive_maximum: u16,
    /// Most QoS 1 deliveries in flight to one client (lowered to the
    /// client's Receive Maximum).
    pub max_inflight: u16,
    /// Most QoS 1 deliveries waiting behind the in-flight window; beyond,
    /// new ones are dropped and counted.
    pub max_queued: usize,
    /// Most persistent sessions kept without a connection.
    pub max_sessions: usize,
    /// Topic aliases a client may set (MQTT 5).
    pub topic_alias_maximum: u16,
    /// How the broker matches subscription routes.
    pub wildcards: BrokerWildcards,
    /// Whether `$share/<group>/…` subscriptions are served (each
    /// publication to one member of the group, in turn); refused with
    /// SUBACK 0x9E when off.
    pub shared_subscriptions: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_packet: (1 << 20) + 4096,
            max_client_id: 256,
            receive_maximum: 64,
            max_inflight: 32,
            max_queued: 1000,
            max_sessions: 1000,
            topic_alias_maximum: 32,
            wildcards: BrokerWildcards::Levels,
            shared_subscriptions: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    /// CONNECT's credentials went to the broker as `auth`; the CONNACK
    /// waits for its answer.
    Authing,
    Open,
    Closed,
}

/// What a ducq message handed to the dispatcher was for.
#[derive(Debug)]
enum Req {
    Publish {
        qos: QoS,
        id: u16,
        retain: bool,
        /// What it does to the stored messages of its topic.
        last: LastMessage,
        /// Forwarded properties (boxed: rare, and large).
        props: Option<Box<Properties<'static>>>,
    },
    /// Filter `index` of the SUBSCRIBE being answered.
    Subscribe {
        index: usize,
        /// Whether it wants retained messages (Retain Handling): messages
        /// that come with the reply when it does not (a channel's
        /// `retain`, an `on_subscribe` greeting) are not delivered.
        retained: bool,
    },
    Unsubscribe,
    /// Re-subscription of a resumed session: the reply needs no answer.
    Quiet,
    /// CONNECT's credentials (`auth <user>\n<password>`, or `auth \n` to
    /// ask whether the connection may act without them): the answer comes
    /// through `encode`, maybe turns later.
    Auth,
    /// Closes the connection that held this session (`unsub takeover`):
    /// the codec's own bookkeeping, not the client's request.
    Takeover,
}

/// A CONNECT waiting for the broker to accept its credentials.
#[derive(Debug)]
struct Pending {
    connect: Connect<'static>,
    /// The user name it authenticates as (none: asked without).
    user: Option<String>,
}

/// A SUBACK or UNSUBACK waiting for the broker's replies.
#[derive(Debug)]
struct Acks {
    packet_id: u16,
    unsubscribe: bool,
    codes: Vec<u8>,
    /// Filter and share group per SUBSCRIBE entry (retained messages are
    /// matched against it; a refusal removes it).
    filters: Vec<Option<(String, Option<String>)>>,
    outstanding: usize,
    /// Retained messages, encoded, sent after the SUBACK.
    retained: Vec<u8>,
}

/// What handling one packet led to.
enum Handled {
    Done,
    Messages,
    Close,
}

/// The MQTT codec and state machine of one accepted connection.
pub struct MqttServer {
    /// Shared by every connection of the listener.
    cfg: Rc<Config>,
    listener: SharedListener,
    conn: u64,
    phase: Phase,
    version: Version,
    name: Box<str>,
    keep_alive: u16,
    session: Option<SharedSession>,
    /// Boxed: most clients have none, and it is large.
    will: Option<Box<Will<'static>>>,
    peer_max_packet: u32,
    peer_receive_max: u16,
    /// Topic aliases the client set (MQTT 5); allocated on first use.
    // Boxed: 8 bytes instead of 48 in every connection, most never use it.
    #[allow(clippy::box_collection)]
    aliases: Option<Box<HashMap<u16, String>>>,
    /// ducq messages to hand out, with what they are for.
    queue: Outbox<(Vec<u8>, Req)>,
    /// Bytes of the last packet not consumed yet (spread over its messages).
    owed: usize,
    current: Option<Req>,
    reply: Option<Result<(), State>>,
    acks: Option<Box<Acks>>,
    /// The client's address, as the server lists it, until CONNECT moves
    /// it into the session (boxed: 8 bytes instead of 32 in every
    /// connection).
    peer: Option<Box<SocketAddr>>,
    /// What the message handed out last does to its route's stored
    /// messages (`Skip`: a PUBLISH without RETAIN; `Forget`: a retained
    /// one with an empty payload).
    last: LastMessage,
    /// The listener admits clients without credentials.
    anonymous: bool,
    /// The server has users: CONNECT's credentials are checked (else
    /// ignored, as before users existed).
    users: bool,
    /// A CONNECT waiting for the answer to its credentials.
    pending: Option<Box<Pending>>,
    /// The message handed out last is a takeover (`Req::Takeover`).
    takeover: bool,
}

impl MqttServer {
    /// A connection of the listener whose shared state is `listener`.
    pub fn new(cfg: Rc<Config>, listener: SharedListener) -> MqttServer {
        let conn = listener.borrow_mut().conn_id();
        MqttServer {
            cfg,
            listener,
            conn,
            phase: Phase::Connecting,
            version: Version::V311,
            name: "MQTT".into(),
            keep_alive: 0,
            session: None,
            will: None,
            peer_max_packet: u32::MAX,
            peer_receive_max: u16::MAX,
            aliases: None,
            queue: Outbox::default(),
            owed: 0,
            current: None,
            reply: None,
            acks: None,
            peer: None,
            last: LastMessage::Store,
            anonymous: true,
            users: false,
            pending: None,
            takeover: false,
        }
    }

    /// Whether the listener admits clients without credentials (default
    /// true). When it does not, a CONNECT without a user name asks the
    /// broker (`auth \n`) whether this connection is someone already (a
    /// client certificate) before it is accepted.
    pub fn set_anonymous(&mut self, anonymous: bool) {
        self.anonymous = anonymous;
    }

    /// Whether the server has users (default false): then a CONNECT with
    /// a user name authenticates as that user (`auth`), and a wrong
    /// password is refused; without users, credentials are ignored and
    /// the client is anonymous, as before users existed.
    pub fn set_users(&mut self, users: bool) {
        self.users = users;
    }

    /// The client identifier, once connected.
    pub fn client_id(&self) -> Option<String> {
        self.session
            .as_ref()
            .map(|s| s.borrow().client_id().to_owned())
    }

    /// Keep alive the client asked for, in seconds (0: none). The server
    /// closes a connection silent for one and a half times this.
    pub fn keep_alive(&self) -> u16 {
        self.keep_alive
    }

    /// The will as a ducq message to publish for this connection, unless
    /// the client ended it with a DISCONNECT (docs/MQTT.md: the server calls
    /// this when a connection ends any other way). Taken once.
    pub fn take_will(&mut self) -> Option<Vec<u8>> {
        let w = self.will.take()?;
        let (msg, last) = will_publication(&w, self.conn, &mut self.listener.borrow_mut());
        self.last = last;
        Some(msg)
    }

    /// Whether another connection took this client identifier over.
    pub fn taken_over(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.borrow().owner != self.conn)
    }

    fn v5(&self) -> bool {
        self.version == Version::V5
    }

    /// Now, by the listener's clock (unix milliseconds).
    fn now_ms(&self) -> u64 {
        self.listener.borrow().clock.now_ms()
    }

    /// The session may have changed: the listener notes it for the
    /// durable store, if there is one.
    fn touched(&self) {
        if let (Some(s), Ok(mut l)) = (&self.session, self.listener.try_borrow_mut()) {
            if l.durable() {
                l.touch(&s.borrow());
            }
        }
    }

    fn send(&self, p: &Packet<'_>, out: &mut Vec<u8>) {
        codec::encode(p, self.version, out);
    }

    /// Ends the connection, with an MQTT 5 DISCONNECT carrying `code` when
    /// the client speaks MQTT 5 and is connected.
    fn disconnect(&mut self, code: u8, out: &mut Vec<u8>) -> Handled {
        if self.v5() && self.phase == Phase::Open {
            self.send(&Packet::Disconnect(Reasoned::new(code)), out);
        }
        self.phase = Phase::Closed;
        Handled::Close
    }

    /// Answers a packet the decoder refused.
    fn refuse(&mut self, e: Error, out: &mut Vec<u8>) -> Handled {
        if let (Error::UnsupportedProtocol(_), Phase::Connecting) = (e, self.phase) {
            // 3.1.1 §3.1.2.2: return code 1 in the 3.1.1 CONNACK layout.
            out.extend_from_slice(b"\x20\x02\x00\x01");
        }
        let code = match e {
            Error::Malformed(_) => reason::MALFORMED,
            Error::Protocol(_) => reason::PROTOCOL_ERROR,
            Error::TooLarge { .. } => reason::PACKET_TOO_LARGE,
            Error::UnsupportedProtocol(_) => reason::UNSUPPORTED_PROTOCOL_VERSION,
        };
        self.disconnect(code, out)
    }

    fn handle(&mut self, packet: Packet<'_>, out: &mut Vec<u8>) -> Handled {
        if self.phase == Phase::Connecting {
            return match packet {
                Packet::Connect(c) => self.on_connect(*c, out),
                // [MQTT-3.1.0-1]: the first packet must be CONNECT.
                _ => self.disconnect(reason::PROTOCOL_ERROR, out),
            };
        }
        match packet {
            Packet::Publish(p) => self.on_publish(p, out),
            Packet::PubAck(a) => {
                if let Some(s) = &self.session {
                    s.borrow_mut().acknowledge(a.packet_id);
                }
                self.pump(out);
                Handled::Done
            }
            Packet::PubRec(a) => {
                let failed = reason::is_error(a.code);
                let known = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.borrow_mut().received(a.packet_id, failed));
                // A failed delivery ends there (MQTT 5 §4.3.3); one
                // unknown is released with an error, as the spec says.
                if failed {
                    self.pump(out);
                } else {
                    let mut rel = Ack::new(a.packet_id);
                    if !known {
                        rel.code = reason::PACKET_ID_NOT_FOUND;
                    }
                    self.send(&Packet::PubRel(rel), out);
                }
                Handled::Done
            }
            Packet::PubRel(a) => {
                let known = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.borrow_mut().released_incoming(a.packet_id));
                let mut comp = Ack::new(a.packet_id);
                if !known {
                    comp.code = reason::PACKET_ID_NOT_FOUND;
                }
                self.send(&Packet::PubComp(comp), out);
                Handled::Done
            }
            Packet::PubComp(a) => {
                if let Some(s) = &self.session {
                    s.borrow_mut().complete(a.packet_id);
                }
                self.pump(out);
                Handled::Done
            }
            Packet::Subscribe(s) => self.on_subscribe(s, out),
            Packet::Unsubscribe(u) => self.on_unsubscribe(u, out),
            Packet::PingReq => {
                self.send(&Packet::PingResp, out);
                Handled::Done
            }
            Packet::Disconnect(d) => self.on_disconnect(d, out),
            // A second CONNECT, server-to-client packets, AUTH without an
            // authentication method: protocol errors.
            _ => self.disconnect(reason::PROTOCOL_ERROR, out),
        }
    }

    /// Hands out the next queued ducq message, consuming its share of the
    /// packet it came from.
    fn next_message(&mut self, available: usize) -> Option<Step<'static>> {
        let (msg, req) = self.queue.pop_front()?;
        let rest = self.queue.len();
        let take = if self.owed > rest {
            self.owed - rest
        } else {
            self.owed.min(1)
        }
        .min(available);
        self.owed -= take;
        self.takeover = matches!(req, Req::Takeover);
        let req = match req {
            Req::Publish {
                qos,
                id,
                retain,
                last,
                props,
            } => {
                self.last = last;
                self.listener.borrow_mut().current = Some(Publication {
                    at: (msg.as_ptr() as usize, msg.len()),
                    from: self.conn,
                    qos,
                    retain,
                    props: props.map(|p| *p).unwrap_or_default(),
                });
                Req::Publish {
                    qos,
                    id,
                    retain,
                    last,
                    props: None,
                }
            }
            other => {
                self.last = LastMessage::Store;
                other
            }
        };
        self.current = Some(req);
        self.reply = None;
        Some(Step {
            consumed: take,
            decoded: Decoded::Message(Cow::Owned(msg)),
        })
    }
}

/// A will as the ducq message to publish for connection `from`, and what
/// it does to its topic's stored messages: MQTT subscribers get it at its
/// QoS, with its properties (recorded as the listener's current
/// publication); the store keeps it only if it is retained.
pub(super) fn will_publication(
    w: &Will<'_>,
    from: u64,
    listener: &mut Listener,
) -> (Vec<u8>, LastMessage) {
    let msg = pub_message(&w.topic, &w.payload);
    listener.current = Some(Publication {
        at: (msg.as_ptr() as usize, msg.len()),
        from,
        qos: w.qos,
        retain: w.retain,
        props: forwarded(&w.props),
    });
    (msg, retention(w.retain, &w.payload))
}

/// What a publication with this RETAIN flag and payload does to the
/// stored messages of its topic: RETAIN 0 leaves them [MQTT-3.3.1-12];
/// RETAIN 1 replaces them, or with an empty payload removes them
/// [MQTT-3.3.1-6, -7].
pub(crate) fn retention(retain: bool, payload: &[u8]) -> LastMessage {
    match (retain, payload.is_empty()) {
        (false, _) => LastMessage::Skip,
        (true, false) => LastMessage::Store,
        (true, true) => LastMessage::Forget,
    }
}

/// How the connection is listed: `MQTT[<client id>]`, the id cut at 64
/// bytes and kept to characters that cannot break a listing line.
pub(super) fn display_name(client_id: &str) -> Box<str> {
    let mut name = String::from("MQTT[");
    for c in client_id.chars().take(64) {
        let safe = c.is_ascii_graphic() && !matches!(c, ',' | ':' | '[' | ']');
        name.push(if safe { c } else { '_' });
    }
    name.push(']');
    name.into_boxed_str()
}

impl Transport for MqttServer {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        if let Some(step) = self.next_message(input.len()) {
            return step;
        }
        if self.owed > 0 {
            let n = self.owed.min(input.len());
            self.owed -= n;
            return Step {
                consumed: n,
                decoded: Decoded::Nothing,
            };
        }
        let closed = Step {
            consumed: input.len(),
            decoded: Decoded::Close,
        };
        if self.phase == Phase::Closed {
            return closed;
        }
        if self.taken_over() {
            self.disconnect(reason::SESSION_TAKEN_OVER, out);
            return closed;
        }
        let handled = match codec::decode(input, self.version, self.cfg.max_packet) {
            Ok(None) => return Step::need_more(),
            Err(e) => self.refuse(e, out),
            Ok(Some((packet, n))) => {
                self.owed = n;
                self.handle(packet, out)
            }
        };
        self.touched();
        match handled {
            Handled::Close => {
                self.owed = 0;
                self.queue.clear();
                closed
            }
            Handled::Messages => self
                .next_message(input.len())
                .unwrap_or_else(Step::need_more),
            Handled::Done => {
                let n = std::mem::take(&mut self.owed);
                Step {
                    consumed: n,
                    decoded: Decoded::Nothing,
                }
            }
        }
    }

    fn frame_len(&self, input: &[u8]) -> Option<usize> {
        if self.owed > 0 || !self.queue.is_empty() || self.phase == Phase::Closed {
            return None;
        }
        codec::packet_len(input, self.cfg.max_packet).ok().flatten()
    }

    fn after_dispatch(&mut self, out: &mut Vec<u8>) {
        if let Some(req) = self.current.take() {
            let reply = self.reply.take().unwrap_or(Ok(()));
            self.finish_request(req, reply, out);
        }
        self.reply = None;
        self.touched();
        let mut listener = self.listener.borrow_mut();
        listener.end_current_from(self.conn);
    }

    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        if self.phase == Phase::Authing {
            self.on_auth_reply(msg, out);
            return;
        }
        if self.phase != Phase::Open {
            return;
        }
        let kind = classify(msg);
        let reply = match kind {
            Kind::Ack => Some(Ok(())),
            Kind::Nack(state) => Some(Err(state)),
            _ => None,
        };
        match (&self.current, reply) {
            // The answer to a publication or an unsubscription is
            // acknowledged at once, so it goes out before the deliveries
            // the same dispatch may bring (the client's own message).
            (Some(Req::Subscribe { .. }), Some(r)) if self.reply.is_none() => {
                self.reply = Some(r);
                return;
            }
            (Some(_), Some(r)) if self.reply.is_none() => {
                self.reply = Some(Ok(()));
                if let Some(req) = self.current.take() {
                    self.finish_request(req, r, out);
                }
                return;
            }
            (Some(Req::Subscribe { index, retained }), None) => {
                if *retained {
                    let index = *index;
                    self.retained(index, msg);
                }
                return;
            }
            _ => {}
        }
        if kind == Kind::Data {
            self.deliver(msg, None, out);
        }
    }

    /// A fan-out delivery, never a reply: shared subscriptions take turns
    /// by its number.
    fn encode_publication(&mut self, msg: &[u8], seq: u64, out: &mut Vec<u8>) {
        if self.phase == Phase::Open {
            self.deliver(msg, Some(seq), out);
        }
    }

    fn accepted(&mut self, peer: SocketAddr) {
        self.peer = Some(Box::new(peer));
    }

    /// One and a half times the keep-alive the client asked for (MQTT
    /// §3.1.2.10); none at all when it asked for 0. Before CONNECT, the
    /// server's own.
    fn idle_timeout(&self) -> Option<Duration> {
        match (self.phase, self.keep_alive) {
            (Phase::Open, 0) => Some(Duration::ZERO),
            (Phase::Open, k) => Some(Duration::from_millis(u64::from(k) * 1500)),
            _ => None,
        }
    }

    fn last_message(&self) -> LastMessage {
        self.last
    }

    /// It takes no more turns in shared subscriptions: a publication
    /// fanned out while it waits to be removed goes to a live member.
    fn closing(&mut self) {
        if let Ok(mut listener) = self.listener.try_borrow_mut() {
            listener.leave_all(self.conn);
        }
    }

    fn own_request(&self) -> bool {
        self.takeover
    }

    /// MQTT carries PUBLISH packets only: a direct message or a stream's
    /// parts would be dropped by `encode`.
    fn reads_ducq_messages(&self) -> bool {
        false
    }

    /// A CONNECT refused after the broker answered its credentials ends
    /// the connection once the CONNACK is written.
    fn close_after_flush(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// A persistent session outlives its connection: publications to its
    /// subscriptions are queued for the client until it comes back.
    fn park(&mut self) -> Option<Box<dyn Parked>> {
        self.park_session().map(|p| Box::new(p) as Box<dyn Parked>)
    }

    /// The will, unless the client said goodbye with DISCONNECT (or it
    /// waits for its delay with the session).
    fn last_words(&mut self) -> Option<Vec<u8>> {
        self.take_will()
    }

    /// MQTT servers do not ping: the client keeps the connection alive
    /// within its keep-alive interval, and a client that asked for none is
    /// not expected to answer anything.
    fn keepalive(&mut self, _out: &mut Vec<u8>) -> bool {
        self.keep_alive != 0
    }
}

impl Drop for MqttServer {
    fn drop(&mut self) {
        let Ok(mut listener) = self.listener.try_borrow_mut() else {
            return;
        };
        listener.end_current_from(self.conn);
        listener.leave_all(self.conn);
        if let Some(s) = self.session.take() {
            let max = self.cfg.max_sessions;
            listener.detach(&s, self.conn, max);
        }
    }
}

mod connect;
mod outbox;
mod park;
mod publish;
mod subscribe;

#[cfg(test)]
mod park_tests;
#[cfg(test)]
mod qos2_tests;
#[cfg(test)]
mod tests;
