//! SUBSCRIBE and UNSUBSCRIBE for [`MqttServer`]: filters checked and
//! turned into ducq `sub R\nadd [last]` / `unsubscribe R\n` messages (a
//! pattern shared by several filters is subscribed once), the SUBACK or
//! UNSUBACK once the broker has answered each, then the retained messages
//! the subscription brought. No I/O.

use super::publish::published;
use super::{Acks, Handled, MqttServer, Req};
use crate::proto::State;
use crate::transport::mqtt::packet::{Packet, QoS, SubAck, Subscribe, Unsubscribe};
use crate::transport::mqtt::props::Properties;
use crate::transport::mqtt::reason;
use crate::transport::mqtt::session::{Outgoing, Sub};
use crate::transport::mqtt::topic;

impl MqttServer {
    pub(super) fn on_subscribe(&mut self, s: Subscribe<'_>, out: &mut Vec<u8>) -> Handled {
        let Some(session) = self.session.clone() else {
            return self.disconnect(reason::PROTOCOL_ERROR, out);
        };
        let sub_id = s.props.subscription_ids.first().copied();
        let mut acks = Acks {
            packet_id: s.packet_id,
            unsubscribe: false,
            codes: Vec::new(),
            filters: Vec::new(),
            outstanding: 0,
            retained: Vec::new(),
        };
        for (index, (raw, opts)) in s.filters.iter().enumerate() {
            let parsed = match topic::parse_filter(raw) {
                // [MQTT-3.8.3-4]: No Local on a shared subscription.
                Some(f) if f.share.is_some() && opts.no_local => {
                    return self.disconnect(reason::PROTOCOL_ERROR, out)
                }
                Some(f) if f.share.is_some() && !self.cfg.shared_subscriptions => {
                    Err(reason::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED)
                }
                Some(f) => Ok(f),
                None => Err(reason::TOPIC_FILTER_INVALID),
            };
            let f = match parsed {
                Ok(f) => f,
                Err(code) => {
                    acks.codes.push(code);
                    acks.filters.push(None);
                    continue;
                }
            };
            let qos = opts.qos;
            let pattern = topic::ducq_pattern(f.filter, self.cfg.wildcards);
            let mut granted = *opts;
            granted.qos = qos;
            let (new_pattern, old) = session.borrow_mut().subscribe(Sub {
                filter: f.filter.into(),
                share: f.share.map(Box::from),
                opts: granted,
                id: sub_id,
                glob: (pattern != f.filter).then(|| pattern.as_str().into()),
            });
            if let Some((o, true)) = &old {
                let m = format!("unsubscribe {}\n", o.pattern()).into_bytes();
                self.queue.push_back((m, Req::Quiet));
            }
            if let Some(share) = f.share {
                self.listener.borrow_mut().join(share, f.filter, self.conn);
            }
            let retained = f.share.is_none()
                && match opts.retain_handling {
                    0 => true,
                    1 => old.is_none(),
                    _ => false,
                };
            acks.codes.push(qos.bits());
            acks.filters
                .push(Some((f.filter.to_owned(), f.share.map(str::to_owned))));
            if new_pattern || retained {
                let last = if retained { " last" } else { "" };
                let m = format!("sub {pattern}\nadd{last}").into_bytes();
                self.queue
                    .push_back((m, Req::Subscribe { index, retained }));
                acks.outstanding += 1;
            }
        }
        self.start_acks(acks, out)
    }

    pub(super) fn on_unsubscribe(&mut self, u: Unsubscribe<'_>, out: &mut Vec<u8>) -> Handled {
        let Some(session) = self.session.clone() else {
            return self.disconnect(reason::PROTOCOL_ERROR, out);
        };
        let mut acks = Acks {
            packet_id: u.packet_id,
            unsubscribe: true,
            codes: Vec::new(),
            filters: Vec::new(),
            outstanding: 0,
            retained: Vec::new(),
        };
        for raw in &u.filters {
            let removed = topic::parse_filter(raw)
                .and_then(|f| session.borrow_mut().unsubscribe(f.filter, f.share));
            match removed {
                Some((sub, unused)) => {
                    acks.codes.push(reason::SUCCESS);
                    if let Some(share) = &sub.share {
                        self.listener
                            .borrow_mut()
                            .leave(share, &sub.filter, self.conn);
                    }
                    if unused {
                        let m = format!("unsubscribe {}\n", sub.pattern()).into_bytes();
                        self.queue.push_back((m, Req::Unsubscribe));
                        acks.outstanding += 1;
                    }
                }
                None => acks.codes.push(reason::NO_SUBSCRIPTION_EXISTED),
            }
        }
        self.start_acks(acks, out)
    }

    pub(super) fn start_acks(&mut self, acks: Acks, out: &mut Vec<u8>) -> Handled {
        if acks.outstanding == 0 {
            self.finish_acks(acks, out);
        } else {
            self.acks = Some(Box::new(acks));
        }
        if self.queue.is_empty() {
            Handled::Done
        } else {
            Handled::Messages
        }
    }

    /// Sends the SUBACK / UNSUBACK, then the retained messages it brought.
    pub(super) fn finish_acks(&mut self, acks: Acks, out: &mut Vec<u8>) {
        let v5 = self.v5();
        let codes = if acks.unsubscribe || v5 {
            acks.codes
        } else {
            acks.codes.into_iter().map(reason::suback_v3).collect()
        };
        let ack = SubAck {
            packet_id: acks.packet_id,
            props: Properties::default(),
            codes,
        };
        if acks.unsubscribe {
            self.send(&Packet::UnsubAck(ack), out);
        } else {
            self.send(&Packet::SubAck(ack), out);
        }
        out.extend_from_slice(&acks.retained);
    }

    /// A stored message answering `sub … last` for SUBACK entry `index`.
    pub(super) fn retained(&mut self, index: usize, msg: &[u8]) {
        let Some((topic, payload)) = published(msg) else {
            return;
        };
        // MQTT never delivers an empty retained message (it deletes one).
        if payload.is_empty() {
            return;
        }
        let Some(acks) = &self.acks else {
            return;
        };
        let wanted = matches!(
            acks.filters.get(index),
            Some(Some((f, None))) if topic::matches(f, topic)
        );
        if !wanted {
            return;
        }
        let o = Outgoing {
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            qos: QoS::AtMostOnce,
            retain: true,
            props: Properties::default(),
            released: false,
            deadline: None,
        };
        let mut buf = Vec::new();
        if self.write_publish(&o, 0, false, 0, &mut buf) {
            if let Some(acks) = &mut self.acks {
                acks.retained.extend_from_slice(&buf);
            }
        }
    }

    /// The broker refused the subscription of SUBACK entry `index`.
    pub(super) fn refuse_filter(&mut self, index: usize, state: State) {
        let Some(acks) = &mut self.acks else {
            return;
        };
        if let Some(code) = acks.codes.get_mut(index) {
            *code = reason::refused(state, true);
        }
        if let (Some(Some((f, share))), Some(s)) = (acks.filters.get(index), &self.session) {
            s.borrow_mut().unsubscribe(f, share.as_deref());
            if let Some(share) = share {
                self.listener.borrow_mut().leave(share, f, self.conn);
            }
        }
    }

    pub(super) fn one_ack_done(&mut self, out: &mut Vec<u8>) {
        let Some(acks) = &mut self.acks else {
            return;
        };
        acks.outstanding = acks.outstanding.saturating_sub(1);
        if acks.outstanding == 0 {
            if let Some(acks) = self.acks.take() {
                self.finish_acks(*acks, out);
            }
        }
    }
}
