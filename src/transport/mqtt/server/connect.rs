//! CONNECT and DISCONNECT for [`MqttServer`]: client identifier rules,
//! clean session / clean start, session expiry, the will, MQTT 5 CONNACK
//! properties, and resuming a session (re-subscribing, redelivering what
//! was in flight with DUP set, releasing again what was released). No I/O.

use std::borrow::Cow;
use std::rc::Rc;

use super::{display_name, Handled, MqttServer, Pending, Phase, Req};
use crate::proto::message::{classify, Kind};
use crate::proto::State;
use crate::transport::mqtt::packet::{Ack, ConnAck, Connect, Packet, Reasoned, Will};
use crate::transport::mqtt::props::Properties;
use crate::transport::mqtt::reason;
use crate::transport::mqtt::session::{Outgoing, SharedSession};
use crate::transport::mqtt::topic;

impl MqttServer {
    pub(super) fn on_connect(&mut self, c: Connect<'_>, out: &mut Vec<u8>) -> Handled {
        self.version = c.version;
        if let Err(code) = self.check_connect(&c) {
            return self.refuse_connect(code, out);
        }
        // Without users on the server there is nobody to be: a user name
        // is ignored (a device configured with one keeps working).
        let user = c
            .username
            .as_deref()
            .filter(|u| !u.is_empty() && self.users);
        if user.is_none() && self.anonymous {
            return self.accept_connect(c, None, out);
        }
        // The broker decides: `auth` with the credentials, or with none to
        // ask whether this connection is someone already (a client
        // certificate) on a listener without anonymous access.
        let msg = match user {
            Some(u) if u.contains(['\n', '\0']) => {
                return self.refuse_connect(reason::BAD_USER_NAME_OR_PASSWORD, out)
            }
            Some(u) => {
                let mut m = format!("auth {u}\n").into_bytes();
                m.extend_from_slice(c.password.as_deref().unwrap_or_default());
                m
            }
            None => b"auth \n".to_vec(),
        };
        let user = user.map(str::to_owned);
        self.pending = Some(Box::new(Pending {
            connect: owned(c),
            user,
        }));
        self.phase = Phase::Authing;
        self.queue.push_back((msg, Req::Auth));
        Handled::Messages
    }

    /// What CONNECT must satisfy before credentials are even looked at.
    fn check_connect(&self, c: &Connect<'_>) -> Result<(), u8> {
        if c.props.auth_method.is_some() {
            return Err(reason::BAD_AUTHENTICATION_METHOD);
        }
        if c.will
            .as_ref()
            .is_some_and(|w| !topic::valid_topic_name(&w.topic))
        {
            return Err(reason::TOPIC_NAME_INVALID);
        }
        // 3.1.1 [MQTT-3.1.3-8]: an empty id needs a clean session.
        if c.client_id.is_empty() && !self.v5() && !c.clean_start {
            return Err(reason::CLIENT_ID_NOT_VALID);
        }
        if c.client_id.len() > self.cfg.max_client_id {
            return Err(reason::CLIENT_ID_NOT_VALID);
        }
        Ok(())
    }

    /// The broker answered CONNECT's `auth`: accept the connection, or
    /// refuse it (bad credentials, or none where they are needed).
    pub(super) fn on_auth_reply(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        let refused = match classify(msg) {
            Kind::Ack => None,
            Kind::Nack(state) => Some(state),
            // Nothing else is an answer (a direct message, say): dropped.
            _ => return,
        };
        let Some(pending) = self.pending.take() else {
            return;
        };
        match refused {
            None => {
                self.accept_connect(pending.connect, pending.user.as_deref(), out);
            }
            Some(state) => {
                let code = match (state, &pending.user) {
                    (State::EAccess, Some(_)) => reason::BAD_USER_NAME_OR_PASSWORD,
                    (State::EAccess, None) => reason::NOT_AUTHORIZED,
                    _ => reason::UNSPECIFIED,
                };
                self.refuse_connect(code, out);
            }
        }
    }

    /// Accepts a checked CONNECT from `user` (none: anonymous, or named by
    /// a certificate): the session (a user's sessions are apart from
    /// everyone else's, so nobody takes over another user's), the CONNACK,
    /// and what a resumed session had in flight.
    fn accept_connect(&mut self, c: Connect<'_>, user: Option<&str>, out: &mut Vec<u8>) -> Handled {
        let v5 = self.v5();
        let mut assigned = None;
        let client_id = if c.client_id.is_empty() {
            let id = self.listener.borrow_mut().assign_client_id();
            assigned = Some(id.clone());
            id
        } else {
            c.client_id.to_string()
        };
        let (session, present, previous) =
            self.listener
                .borrow_mut()
                .attach(user, &client_id, self.conn, c.clean_start);
        self.name = display_name(&client_id);
        {
            let mut s = session.borrow_mut();
            // [MQTT-3.1.4-2]: the connection that held this client id is
            // closed, by the admin command that closes a listed connection.
            // Same client id, so the same listing name but for its address.
            if let Some(old) = previous {
                let m = format!("unsub takeover\n{}:{old}", self.name).into_bytes();
                self.queue.push_back((m, Req::Takeover));
            }
            s.owner_peer = self.peer.take().map(|p| *p);
            s.expiry = c.props.session_expiry.unwrap_or(0);
            s.persistent = if v5 { s.expiry > 0 } else { !c.clean_start };
            s.v5 = v5;
        }
        self.keep_alive = c.keep_alive;
        self.peer_max_packet = c.props.maximum_packet_size.unwrap_or(u32::MAX);
        self.peer_receive_max = c.props.receive_maximum.unwrap_or(u16::MAX);
        self.will = c.will.map(|w| Box::new(owned_will(w)));
        self.phase = Phase::Open;
        let props = self.connack_props(assigned);
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

    /// The CONNACK's properties: the server's limits to an MQTT 5
    /// client (none to a 3.1.1 one), and the client id it was given.
    fn connack_props(&self, assigned: Option<String>) -> Properties<'static> {
        if !self.v5() {
            return Properties::default();
        }
        Properties {
            receive_maximum: Some(self.cfg.receive_maximum.max(1)),
            maximum_packet_size: Some(self.cfg.max_packet.max(1)),
            topic_alias_maximum: Some(self.cfg.topic_alias_maximum),
            assigned_client_id: assigned.map(Cow::Owned),
            shared_available: (!self.cfg.shared_subscriptions).then_some(0),
            ..Properties::default()
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
        // What expired while it waited, in flight or queued, is not sent
        // again; what is sent carries what is left of its expiry.
        let now = self.now_ms();
        session.borrow_mut().drop_expired(now);
        let inflight: Vec<(u16, Outgoing)> = session.borrow().inflight().cloned().collect();
        for (id, o) in &inflight {
            if o.released {
                // [MQTT-4.4.0-1]: PUBREL again, not the message.
                self.send(&Packet::PubRel(Ack::new(*id)), out);
            } else {
                self.write_publish(o, *id, true, now, out);
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

fn owned_will(w: Will<'_>) -> Will<'static> {
    Will {
        topic: Cow::Owned(w.topic.into_owned()),
        payload: Cow::Owned(w.payload.into_owned()),
        qos: w.qos,
        retain: w.retain,
        props: w.props.into_owned(),
    }
}

/// A CONNECT kept while its credentials are checked (the password is not
/// kept: it went to the broker).
fn owned(c: Connect<'_>) -> Connect<'static> {
    Connect {
        version: c.version,
        clean_start: c.clean_start,
        keep_alive: c.keep_alive,
        props: c.props.into_owned(),
        client_id: Cow::Owned(c.client_id.into_owned()),
        will: c.will.map(owned_will),
        username: None,
        password: None,
    }
}
