//! PUBLISH both ways for [`MqttServer`]: an incoming PUBLISH (topic
//! aliases, QoS 2 bookkeeping) becomes `pub T\nP`, acknowledged once the
//! broker answered; a ducq publication becomes a PUBLISH at the highest QoS
//! of the matching subscriptions and never above the publisher's, through
//! the in-flight window at QoS 1. No I/O.

use std::borrow::Cow;

use super::{Handled, MqttServer, Req};
use crate::proto::{Message, State};
use crate::transport::mqtt::codec;
use crate::transport::mqtt::packet::{Ack, Packet, Publish, QoS};
use crate::transport::mqtt::props::Properties;
use crate::transport::mqtt::reason;
use crate::transport::mqtt::session::{forwarded, Listener, Outgoing, Session};
use crate::transport::mqtt::topic;

impl MqttServer {
    pub(super) fn on_publish(&mut self, p: Publish<'_>, out: &mut Vec<u8>) -> Handled {
        let topic: Cow<'_, str> = match p.props.topic_alias {
            None => Cow::Borrowed(&p.topic),
            Some(a) if a > self.cfg.topic_alias_maximum => {
                return self.disconnect(reason::TOPIC_ALIAS_INVALID, out)
            }
            Some(a) if p.topic.is_empty() => match self.aliases.as_ref().and_then(|m| m.get(&a)) {
                Some(t) => Cow::Owned(t.clone()),
                None => return self.disconnect(reason::PROTOCOL_ERROR, out),
            },
            Some(a) => {
                self.aliases
                    .get_or_insert_with(Box::default)
                    .insert(a, p.topic.to_string());
                Cow::Borrowed(&p.topic)
            }
        };
        if !topic::valid_topic_name(&topic) {
            return self.disconnect(reason::TOPIC_NAME_INVALID, out);
        }
        // [MQTT-3.3.4-6]: a client never sends subscription identifiers.
        if !p.props.subscription_ids.is_empty() {
            return self.disconnect(reason::PROTOCOL_ERROR, out);
        }
        if p.qos == QoS::ExactlyOnce {
            let Some(s) = &self.session else {
                return self.disconnect(reason::PROTOCOL_ERROR, out);
            };
            let (seen, count) = {
                let s = s.borrow();
                s.incoming(p.packet_id)
            };
            if seen {
                // A resend before PUBREL: acknowledged, not published again.
                self.send(&Packet::PubRec(Ack::new(p.packet_id)), out);
                return Handled::Done;
            }
            if count >= usize::from(self.cfg.receive_maximum) {
                return self.disconnect(reason::RECEIVE_MAXIMUM_EXCEEDED, out);
            }
        }
        let req = Req::Publish {
            qos: p.qos,
            id: p.packet_id,
            retain: p.retain,
            last: super::retention(p.retain, &p.payload),
            props: Some(forwarded(&p.props))
                .filter(|f| !f.is_empty())
                .map(Box::new),
        };
        self.queue.push_back((pub_message(&topic, &p.payload), req));
        Handled::Messages
    }

    /// A ducq message addressed to this connection outside a reply: a
    /// publication fanned out (number `seq`), or one sent to it alone.
    pub(super) fn deliver(&mut self, msg: &[u8], seq: Option<u64>, out: &mut Vec<u8>) {
        if self.taken_over() {
            return;
        }
        let Some(session) = &self.session else {
            return;
        };
        let d = {
            let mut listener = self.listener.borrow_mut();
            let s = session.borrow();
            delivery(&s, &mut listener, self.conn, self.v5(), msg, seq)
        };
        let Some(d) = d else {
            return;
        };
        if d.qos == QoS::AtMostOnce {
            // Straight from the message's bytes: nothing kept, nothing copied.
            let p = Publish {
                dup: false,
                qos: d.qos,
                retain: d.retain,
                topic: Cow::Borrowed(d.topic),
                packet_id: 0,
                props: d.props,
                payload: Cow::Borrowed(d.payload),
            };
            self.write_packet(&Packet::Publish(p), out);
        } else {
            let now = self.now_ms();
            self.enqueue(d.owned(now), out);
        }
    }

    /// Queues a QoS 1 or 2 delivery and sends what the window allows.
    pub(super) fn enqueue(&mut self, o: Outgoing, out: &mut Vec<u8>) {
        if let Some(s) = &self.session {
            if !s.borrow_mut().queue(o, self.cfg.max_queued) {
                return;
            }
        }
        self.pump(out);
        self.touched();
    }

    /// Moves queued QoS 1 and 2 deliveries into the in-flight window and
    /// sends them.
    pub(super) fn pump(&mut self, out: &mut Vec<u8>) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let window = usize::from(self.cfg.max_inflight.min(self.peer_receive_max).max(1));
        let now = self.now_ms();
        loop {
            let next = {
                let mut s = session.borrow_mut();
                let Some(f) = s.flight.as_deref_mut() else {
                    return;
                };
                if f.inflight.len() >= window {
                    return;
                }
                let Some(o) = f.queued.pop_front() else {
                    return;
                };
                // Its expiry ran out while it waited for the window:
                // deleted, not sent [MQTT-3.3.2-5].
                if o.expired(now) {
                    continue;
                }
                let id = s.next_packet_id();
                (id, o)
            };
            if self.write_publish(&next.1, next.0, false, now, out) {
                session.borrow_mut().flight_mut().inflight.push_back(next);
            }
        }
    }

    /// Encodes a PUBLISH; false (nothing written) when it exceeds the
    /// client's Maximum Packet Size, which MQTT 5 says to drop.
    pub(super) fn write_publish(
        &self,
        o: &Outgoing,
        id: u16,
        dup: bool,
        now_ms: u64,
        out: &mut Vec<u8>,
    ) -> bool {
        let mut props = o.props.clone();
        if o.deadline.is_some() {
            // What is left of it now, resent or not [MQTT-3.3.2-6].
            props.message_expiry = o.expiry_left(now_ms);
        }
        let p = Packet::Publish(Publish {
            dup: dup && o.qos != QoS::AtMostOnce,
            qos: o.qos,
            retain: o.retain,
            topic: Cow::Borrowed(&o.topic),
            packet_id: id,
            props,
            payload: Cow::Borrowed(&o.payload),
        });
        self.write_packet(&p, out)
    }

    /// Encodes a packet unless it exceeds the client's Maximum Packet Size
    /// (MQTT 5 says to drop it then); returns whether it was written.
    fn write_packet(&self, p: &Packet<'_>, out: &mut Vec<u8>) -> bool {
        if self.peer_max_packet != u32::MAX
            && codec::encoded_len(p, self.version) > self.peer_max_packet as usize
        {
            return false;
        }
        self.send(p, out);
        true
    }

    /// The broker answered the message being dispatched.
    pub(super) fn finish_request(&mut self, req: Req, reply: Result<(), State>, out: &mut Vec<u8>) {
        match req {
            Req::Publish { qos, id, .. } => {
                let code = match reply {
                    Ok(()) => reason::SUCCESS,
                    Err(state) => reason::refused(state, false),
                };
                let mut ack = Ack::new(id);
                ack.code = code;
                match qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => self.send(&Packet::PubAck(ack), out),
                    QoS::ExactlyOnce => {
                        if !reason::is_error(code) {
                            if let Some(s) = &self.session {
                                s.borrow_mut().received_incoming(id);
                            }
                        }
                        self.send(&Packet::PubRec(ack), out);
                    }
                }
            }
            Req::Subscribe { index, .. } => {
                if let Err(state) = reply {
                    self.refuse_filter(index, state);
                }
                self.one_ack_done(out);
            }
            Req::Unsubscribe => self.one_ack_done(out),
            // Answered in `on_auth_reply`, which may be turns later.
            Req::Quiet | Req::Auth | Req::Takeover => {}
        }
    }
}

/// How one publication reaches one session.
pub(super) struct Delivery<'m> {
    pub(super) topic: &'m str,
    pub(super) payload: &'m [u8],
    /// The highest QoS of the matching subscriptions, never above the
    /// publisher's.
    pub(super) qos: QoS,
    pub(super) retain: bool,
    pub(super) props: Properties<'static>,
}

impl Delivery<'_> {
    /// The delivery as a message the session keeps until acknowledged,
    /// taken at `now_ms` (its Message Expiry counts from then).
    pub(super) fn owned(self, now_ms: u64) -> Outgoing {
        Outgoing {
            topic: self.topic.to_owned(),
            payload: self.payload.to_vec(),
            qos: self.qos,
            retain: self.retain,
            props: self.props,
            released: false,
            deadline: None,
        }
        .with_deadline(now_ms)
    }
}

/// What the ducq publication `msg` (fanned out as number `seq`) means for
/// `session`, held by connection `conn` (or last held, for a session kept
/// without one): None when no subscription of it takes the message (no
/// filter matches by MQTT's rules, No Local, another member's turn in a
/// shared subscription). The one place deliveries are decided, connected
/// or not.
pub(super) fn delivery<'m>(
    session: &Session,
    listener: &mut Listener,
    conn: u64,
    v5: bool,
    msg: &'m [u8],
    seq: Option<u64>,
) -> Option<Delivery<'m>> {
    let (topic, payload) = published(msg)?;
    let own = listener
        .current
        .as_ref()
        .is_some_and(|p| p.is(msg) && p.from == conn);
    let (mut qos, mut ids, mut keep_retain) = (None, Vec::new(), false);
    for s in &session.subs {
        if !topic::matches(&s.filter, topic) || (own && s.opts.no_local) {
            continue;
        }
        // A shared subscription delivers a fanned-out publication to one
        // member of its group, in turn.
        if let Some(share) = &s.share {
            let turn = seq.and_then(|n| listener.chosen(share, &s.filter, n));
            if turn != Some(conn) {
                continue;
            }
        }
        qos = qos.max(Some(s.opts.qos));
        ids.extend(s.id);
        keep_retain |= s.opts.retain_as_published;
    }
    let sub_qos = qos?;
    let meta = listener.current.as_ref().filter(|p| p.is(msg));
    let msg_qos = meta.map_or(QoS::AtMostOnce, |p| p.qos);
    let mut props = match (v5, meta) {
        (true, Some(p)) => p.props.clone(),
        _ => Properties::default(),
    };
    if v5 {
        props.subscription_ids = ids;
    }
    Some(Delivery {
        topic,
        payload,
        qos: sub_qos.min(msg_qos),
        retain: keep_retain && meta.is_some_and(|p| p.retain),
        props,
    })
}

/// `pub <topic>\n<payload>`.
pub(super) fn pub_message(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(5 + topic.len() + payload.len());
    m.extend_from_slice(b"pub ");
    m.extend_from_slice(topic.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(payload);
    m
}

/// The topic and payload of a ducq publication (`pub` or `publish`), if
/// its route can be an MQTT topic name.
pub(super) fn published(msg: &[u8]) -> Option<(&str, &[u8])> {
    let m = Message::parse(msg).ok()?;
    if !matches!(m.command, b"pub" | b"publish") || !m.has_newline {
        return None;
    }
    let topic = std::str::from_utf8(m.route).ok()?;
    topic::valid_topic_name(topic).then_some((topic, m.payload))
}
