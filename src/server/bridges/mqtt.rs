//! The MQTT remote: a bridge to an MQTT 3.1.1 or 5 broker, client side,
//! over the crate's MQTT codec (`transport::mqtt::codec`, the same one the
//! MQTT listener uses). It connects with a persistent session unless told
//! otherwise (the broker keeps the subscriptions and queues QoS 1 messages
//! while the bridge is away), subscribes to the `in` filters (MQTT 5: No
//! Local, so its own publications do not come back, and Retain As
//! Published), and publishes at the configured QoS with RETAIN set by
//! default (ducq keeps every route's last message; a retained topic is
//! MQTT's). QoS 1 publications wait in a window for their PUBACK; what a
//! lost connection left unacknowledged is sent again on the next. An
//! incoming retained message becomes the route's stored last message; one
//! without RETAIN is delivered without replacing it. It must not touch a
//! socket.

use std::borrow::Cow;

use super::config::BridgeConfig;
use super::link::{Link, Outgoing};
use super::mapping::{mqtt_filter, mqtt_topic};
use super::transport::{Inbound, Remote, Sent};
use crate::proto::message::format;
use crate::transport::mqtt::codec::{decode, encode, encoded_len};
use crate::transport::mqtt::packet::{
    Ack, Connect, Packet, Publish, QoS, SubOptions, Subscribe, Version,
};
use crate::transport::mqtt::props::Properties;
use crate::transport::mqtt::server::retention;

/// Largest packet accepted from the broker.
const MAX_PACKET: u32 = 64 << 20;
/// Most QoS 1 publications awaiting their PUBACK at once (lowered to the
/// broker's Receive Maximum).
const WINDOW: usize = 1024;
/// How long an MQTT 5 broker keeps the session after a disconnect.
const SESSION_EXPIRY: u32 = 3600;

/// Where the handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// CONNECT sent.
    Connecting,
    /// SUBSCRIBE sent with this packet identifier.
    Subscribing(u16),
    /// Publications may flow.
    Ready,
}

/// The client side of an MQTT bridge.
pub struct MqttRemote {
    version: Version,
    client_id: String,
    user: Option<String>,
    password: Option<String>,
    keep_alive: u16,
    clean: bool,
    filters: Vec<String>,
    qos: QoS,
    retain: bool,
    state: State,
    next_id: u16,
    window: usize,
    max_packet: u32,
    /// The packet identifier of the QoS 1 message being dispatched.
    ack_due: Option<u16>,
}

impl MqttRemote {
    /// A remote for `cfg`.
    pub fn new(cfg: &BridgeConfig) -> MqttRemote {
        let mut filters: Vec<String> = Vec::new();
        for p in cfg.mapping.remote_patterns() {
            let f = mqtt_filter(&p);
            if !filters.contains(&f) {
                filters.push(f);
            }
        }
        let secs = cfg.keepalive.as_secs_f64().ceil().clamp(1.0, 65_535.0);
        MqttRemote {
            version: if cfg.mqtt_version == 4 {
                Version::V311
            } else {
                Version::V5
            },
            client_id: cfg.mqtt_client_id(),
            user: cfg.user.clone(),
            password: cfg.password.clone(),
            keep_alive: secs as u16,
            clean: cfg.clean_session,
            filters,
            qos: if cfg.qos == 0 {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            },
            retain: cfg.retain,
            state: State::Connecting,
            next_id: 0,
            window: WINDOW,
            max_packet: MAX_PACKET,
            ack_due: None,
        }
    }

    /// A packet identifier no unconfirmed publication holds.
    fn packet_id(&mut self, link: &Link) -> u16 {
        loop {
            self.next_id = self.next_id.wrapping_add(1).max(1);
            let id = u64::from(self.next_id);
            if !link.unconfirmed.iter().any(|m| m.tag == id) {
                return self.next_id;
            }
        }
    }

    /// CONNACK: refused, or subscribe (or open when nothing comes in).
    fn connack(
        &mut self,
        link: &mut Link,
        code: u8,
        props: &Properties<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        if self.state != State::Connecting {
            return Err("a second CONNACK".into());
        }
        if code != 0 {
            return Err(format!(
                "the broker refused the connection (code {code:#04x})"
            ));
        }
        if let Some(rm) = props.receive_maximum {
            self.window = usize::from(rm).min(WINDOW);
        }
        if let Some(max) = props.maximum_packet_size {
            self.max_packet = max;
        }
        if props.maximum_qos == Some(0) {
            self.qos = QoS::AtMostOnce;
        }
        if props.retain_available == Some(0) {
            self.retain = false;
        }
        if self.filters.is_empty() {
            self.state = State::Ready;
            return Ok(());
        }
        let id = self.packet_id(link);
        // MQTT 3.1.1 reserves the option bits beyond the QoS.
        let v5 = self.version == Version::V5;
        let options = SubOptions {
            qos: self.qos,
            no_local: v5,
            retain_as_published: v5,
            retain_handling: 0,
        };
        let sub = Subscribe {
            packet_id: id,
            props: Properties::default(),
            filters: self
                .filters
                .iter()
                .map(|f| (Cow::Borrowed(f.as_str()), options))
                .collect(),
        };
        encode(&Packet::Subscribe(sub), self.version, out);
        self.state = State::Subscribing(id);
        Ok(())
    }

    /// A PUBLISH from the broker: the local message, or `None` when its
    /// topic is not brought in. QoS 1 is acknowledged once handled.
    fn publish(
        &mut self,
        link: &mut Link,
        p: &Publish<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Option<Inbound>, String> {
        if p.qos == QoS::ExactlyOnce {
            return Err("a QoS 2 delivery on a subscription of QoS 1 at most".into());
        }
        let local = link.cfg.mapping.inbound_route(p.topic.as_bytes());
        // MQTT 3.1.1 has no No Local: a message on a route the bridge also
        // forwards may be its own, back.
        let echo = self.version == Version::V311
            && local
                .as_deref()
                .is_some_and(|l| link.cfg.mapping.forwards(l));
        let Some(local) = local.filter(|_| !echo) else {
            link.counters.ignored += 1;
            if p.qos == QoS::AtLeastOnce {
                encode(&Packet::PubAck(Ack::new(p.packet_id)), self.version, out);
            }
            return Ok(None);
        };
        if p.qos == QoS::AtLeastOnce {
            self.ack_due = Some(p.packet_id);
        }
        Ok(Some(Inbound {
            message: format(b"pub", &local, &p.payload),
            last: retention(p.retain, &p.payload),
        }))
    }
}

impl Remote for MqttRemote {
    fn open(&mut self, _link: &mut Link, out: &mut Vec<u8>) {
        let props = Properties {
            session_expiry: (!self.clean).then_some(SESSION_EXPIRY),
            ..Properties::default()
        };
        let connect = Connect {
            version: self.version,
            clean_start: self.clean,
            keep_alive: self.keep_alive,
            props,
            client_id: Cow::Borrowed(&self.client_id),
            will: None,
            username: self.user.as_deref().map(Cow::Borrowed),
            password: self
                .password
                .as_deref()
                .map(|p| Cow::Borrowed(p.as_bytes())),
        };
        encode(&Packet::Connect(Box::new(connect)), self.version, out);
    }

    fn decode(
        &mut self,
        link: &mut Link,
        input: &mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<(usize, Option<Inbound>), String> {
        let input: &[u8] = input;
        let (packet, n) = match decode(input, self.version, MAX_PACKET) {
            Ok(None) => return Ok((0, None)),
            Ok(Some(p)) => p,
            Err(e) => return Err(format!("invalid MQTT from the broker: {e}")),
        };
        let inbound = match packet {
            Packet::ConnAck(c) => {
                self.connack(link, c.code, &c.props, out)?;
                None
            }
            Packet::SubAck(s) if self.state == State::Subscribing(s.packet_id) => {
                for (filter, code) in self.filters.iter().zip(&s.codes) {
                    if *code >= 0x80 {
                        link.notes.push(format!(
                            "the broker refused the subscription to {filter} (code {code:#04x})"
                        ));
                    }
                }
                self.state = State::Ready;
                None
            }
            Packet::Publish(p) if self.state != State::Connecting => self.publish(link, &p, out)?,
            Packet::PubAck(a) => {
                let id = u64::from(a.packet_id);
                link.confirm_where(a.code < 0x80, |m| m.tag == id);
                None
            }
            Packet::PingResp => None,
            Packet::Disconnect(d) => {
                return Err(format!("the broker disconnected (reason {:#04x})", d.code));
            }
            other => return Err(format!("unexpected MQTT packet of type {}", other.kind())),
        };
        Ok((n, inbound))
    }

    fn ready(&self) -> bool {
        self.state == State::Ready
    }

    fn outgoing(
        &mut self,
        link: &mut Link,
        route: &[u8],
        payload: &[u8],
        _seq: u64,
    ) -> Option<Outgoing> {
        link.mapped(mqtt_topic(route).map(|t| t.as_bytes().to_vec()), payload)
    }

    fn send(&mut self, link: &mut Link, msg: &mut Outgoing, out: &mut Vec<u8>) -> Sent {
        if self.state != State::Ready
            || (self.qos == QoS::AtLeastOnce && link.in_flight() >= self.window)
        {
            return Sent::Wait;
        }
        let Ok(topic) = std::str::from_utf8(&msg.name) else {
            link.counters.unmappable += 1;
            return Sent::Skipped;
        };
        let packet_id = match self.qos {
            QoS::AtMostOnce => 0,
            _ => self.packet_id(link),
        };
        let packet = Packet::Publish(Publish {
            dup: false,
            qos: self.qos,
            retain: self.retain,
            topic: Cow::Borrowed(topic),
            packet_id,
            props: Properties::default(),
            payload: Cow::Borrowed(&msg.payload),
        });
        if encoded_len(&packet, self.version) > self.max_packet as usize {
            link.counters.unmappable += 1;
            return Sent::Skipped;
        }
        encode(&packet, self.version, out);
        if self.qos == QoS::AtMostOnce {
            return Sent::Confirmed;
        }
        msg.tag = u64::from(packet_id);
        Sent::Unconfirmed
    }

    fn handled(&mut self, _link: &mut Link, out: &mut Vec<u8>) {
        if let Some(id) = self.ack_due.take() {
            encode(&Packet::PubAck(Ack::new(id)), self.version, out);
        }
    }

    fn ping(&mut self, out: &mut Vec<u8>) {
        encode(&Packet::PingReq, self.version, out);
    }
}

#[cfg(test)]
mod tests;
