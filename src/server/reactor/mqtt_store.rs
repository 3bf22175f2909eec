//! MQTT persistent sessions kept in the queue store (`--data-dir`): when
//! an MQTT listener is added, the sessions its records hold are put back
//! and parked with their subscriptions; at the end of every turn the
//! sessions that changed are handed to the queue store, which commits them
//! with the turn's queue changes (one transaction). Records of the n-th
//! MQTT listener are keyed `mqtt<n>/<session key>`, so each listener gets
//! its own sessions back, in the order the listeners are given. Without a
//! data directory nothing here runs. It must not decide anything about a
//! session (the MQTT module does) nor touch the store directly.

use std::rc::Rc;
use std::time::Instant;

use super::listeners::ListenerKind;
use super::Reactor;
use crate::queue::store::Op;
use crate::server::log::Level;

impl Reactor {
    /// The record key prefix of MQTT listener `index` (its rank among the
    /// MQTT listeners), if it is one.
    fn mqtt_prefix(&self, index: usize) -> Option<String> {
        let mut rank = 0;
        for (i, l) in self.listeners.iter().enumerate() {
            if let ListenerKind::Mqtt(_) = l.opts.kind {
                if i == index {
                    return Some(format!("mqtt{rank}/"));
                }
                rank += 1;
            }
        }
        None
    }

    /// Listener `index` was just added: if it speaks MQTT and a data
    /// directory is set, its sessions are read back and parked.
    pub(super) fn restore_mqtt_sessions(&mut self, index: usize) {
        if self.hub.settings().data_dir.is_none() {
            return;
        }
        let Some(prefix) = self.mqtt_prefix(index) else {
            return;
        };
        let Some(cfg) = self.mqtt_config(index) else {
            return;
        };
        let Some(ListenerKind::Mqtt(sessions)) = self.listeners.get(index).map(|l| &l.opts.kind)
        else {
            return;
        };
        let sessions = sessions.clone();
        sessions.set_durable();
        let records: Vec<(String, Vec<u8>)> = self
            .hub
            .queues
            .take_records(&prefix)
            .into_iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), v)))
            .collect();
        if records.is_empty() {
            return;
        }
        let (kept, bad) = sessions.restore(Rc::clone(&cfg), records);
        for key in &bad {
            let text = format!("stored MQTT session {key:?} unreadable, deleted");
            self.hub.log(Level::Warn, "mqtt", "server", &text);
        }
        let text = format!("{} MQTT sessions restored", kept.len());
        for (parked, patterns) in kept {
            self.hub.adopt_parked(parked, &patterns, Instant::now());
        }
        self.hub.log(Level::Info, "mqtt", "server", &text);
    }

    /// Hands the MQTT sessions changed this turn to the queue store, to be
    /// committed with the turn's queue changes.
    pub(super) fn save_mqtt_sessions(&mut self) {
        if self.hub.settings().data_dir.is_none() {
            return;
        }
        let mut ops = Vec::new();
        let mut rank = 0;
        for l in &self.listeners {
            let ListenerKind::Mqtt(sessions) = &l.opts.kind else {
                continue;
            };
            for (key, bytes) in sessions.take_records() {
                let key: Rc<str> = Rc::from(format!("mqtt{rank}/{key}"));
                ops.push(match bytes {
                    Some(b) => Op::PutRecord {
                        key,
                        bytes: Rc::from(b),
                    },
                    None => Op::DelRecord { key },
                });
            }
            rank += 1;
        }
        if !ops.is_empty() {
            self.hub.queues.put_records(ops);
        }
    }
}
