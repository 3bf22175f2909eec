//! CONNECT and DISCONNECT for [`MqttServer`]: client identifier rules,
//! clean session / clean start, session expiry, the will, MQTT 5 CONNACK
//! properties, and resuming a session (re-subscribing, redelivering what
//! was in flight with DUP set, releasing again what was released). No I/O.

use std::borrow::Cow;
use std::rc::Rc;

use super::{display_name, Handled, MqttServer, Phase, Req};
use crate::transport::mqtt::packet::{Ack, ConnAck, Connect, Packet, Reasoned, Will};
use crate::transport::mqtt::props::Properties;
use crate::transport::mqtt::reason;
use crate::transport::mqtt::session::{Outgoing, SharedSession};
use crate::transport::mqtt::topic;

impl MqttServer {
    pub(super) fn on_connect(&mut self, c: Connect<'_>, out: &mut Vec<u8>) -> Handled {
        self.version = c.version;
        let v5 = self.v5();
        if c.props.auth_method.is_some() {
            return self.refuse_connect(reason::BAD_AUTHENTICATION_METHOD, out);
        }
        if c.will
            .as_ref()
            .is_some_and(|w| !topic::valid_topic_name(&w.topic))
        {
            return self.refuse_connect(reason::TOPIC_NAME_INVALID, out);
        }
        let mut assigned = None;
        let client_id = if c.client_id.is_empty() {
            // 3.1.1 [MQTT-3.1.3-8]: an empty id needs a clean session.
            if !v5 && !c.clean_start {
                return self.refuse_connect(reason::CLIENT_ID_NOT_VALID, out);
            }
            let id = self.listener.borrow_mut().assign_client_id();
            assigned = Some(id.clone());
            id
        } else if c.client_id.len() > self.cfg.max_client_id {
            return self.refuse_connect(reason::CLIENT_ID_NOT_VALID, out);
        } else {
            c.client_id.to_string()
        };
        let (session, present, previous) =
            self.listener
                .borrow_mut()
                .attach(&client_id, self.conn, c.clean_start);
        self.name = display_name(&client_id);
        {
            let mut s = session.borrow_mut();
            // [MQTT-3.1.4-2]: the connection that held this client id is
            // closed, by the admin command that closes a listed connection.
            // Same client id, so the same listing name but for its address.
            if let Some(old) = previous {
                let m = format!("unsub takeover\n{}:{old}", self.name).into_bytes();
                self.queue.push_back((m, Req::Quiet));
            }
            s.owner_peer = self.peer;
            s.expiry = c.props.session_expiry.unwrap_or(0);
            s.persistent = if v5 { s.expiry > 0 } else { !c.clean_start };
        }
        self.keep_alive = c.keep_alive;
        self.peer_max_packet = c.props.maximum_packet_size.unwrap_or(u32::MAX);
        self.peer_receive_max = c.props.receive_maximum.unwrap_or(u16::MAX);
        self.will = c.will.map(|w| {
            Box::new(Will {
                topic: Cow::Owned(w.topic.into_owned()),
                payload: Cow::Owned(w.payload.into_owned()),
                qos: w.qos,
                retain: w.retain,
                props: w.props.into_owned(),
            })
        });
        self.phase = Phase::Open;
        let props = if v5 {
            Properties {
                receive_maximum: Some(self.cfg.receive_maximum.max(1)),
                maximum_packet_size: Some(self.cfg.max_packet.max(1)),
                topic_alias_maximum: Some(self.cfg.topic_alias_maximum),
                assigned_client_id: assigned.map(Cow::Owned),
                shared_available: (!self.cfg.shared_subscriptions).then_some(0),
                ..Properties::default()
            }
        } else {
            Properties::default()
        };
        self.send(
            &Packet::ConnAck(ConnAck {
                session_present: present,
                code: reason::SUCCESS,
                props,
            }),
            out,
        );
        self.session = Some(Rc::clone(&session));
        if present {
            self.resume(&session, out);
        }
        if self.queue.is_empty() {
            Handled::Done
        } else {
            Handled::Messages
        }
    }

    pub(super) fn refuse_connect(&mut self, code: u8, out: &mut Vec<u8>) -> Handled {
        let code = if self.v5() {
            code
        } else {
            reason::connack_v3(code)
        };
        self.send(
            &Packet::ConnAck(ConnAck {
                session_present: false,
                code,
                props: Properties::default(),
            }),
            out,
        );
        self.phase = Phase::Closed;
        Handled::Close
    }

    /// A resumed session: subscribe its patterns again for this connection
    /// and send what was in flight again, DUP set, then what was queued.
    pub(super) fn resume(&mut self, session: &SharedSession, out: &mut Vec<u8>) {
        for pattern in session.borrow().patterns() {
            self.queue
                .push_back((format!("sub {pattern}\nadd").into_bytes(), Req::Quiet));
        }
        for sub in &session.borrow().subs {
            if let Some(share) = &sub.share {
                self.listener
                    .borrow_mut()
                    .join(share, &sub.filter, self.conn);
            }
        }
        let inflight: Vec<(u16, Outgoing)> = session.borrow().inflight().cloned().collect();
        for (id, o) in &inflight {
            if o.released {
                // [MQTT-4.4.0-1]: PUBREL again, not the message.
                self.send(&Packet::PubRel(Ack::new(*id)), out);
            } else {
                self.write_publish(o, *id, true, out);
            }
        }
        self.pump(out);
    }

    pub(super) fn on_disconnect(&mut self, d: Reasoned<'_>, out: &mut Vec<u8>) -> Handled {
        if !(self.v5() && d.code == reason::DISCONNECT_WITH_WILL) {
            self.will = None;
        }
        if let (Some(e), Some(s)) = (d.props.session_expiry, &self.session) {
            let mut s = s.borrow_mut();
            // MQTT 5 §3.14.2.2.2: an expiry of 0 cannot become non-zero.
            if s.expiry == 0 && e > 0 {
                drop(s);
                return self.disconnect(reason::PROTOCOL_ERROR, out);
            }
            s.expiry = e;
            s.persistent = e > 0;
        }
        self.phase = Phase::Closed;
        Handled::Close
    }
}
