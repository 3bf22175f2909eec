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

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    use super::*;
    use crate::server::Settings;

    /// MQTT 3.1.1 CONNECT of client `c1`, keeping its session
    /// (clean session 0), keep-alive 60 s.
    const CONNECT: [u8; 16] = [
        0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0, 0, 60, 0, 2, b'c', b'1',
    ];
    /// SUBSCRIBE to `a/b` at QoS 1, packet id 1.
    const SUBSCRIBE: [u8; 10] = [0x82, 8, 0, 1, 0, 3, b'a', b'/', b'b', 1];
    const DISCONNECT: [u8; 2] = [0xe0, 0];

    /// Sends `bytes` and turns the reactor until `n` bytes came back.
    fn exchange(r: &mut Reactor, s: &mut TcpStream, bytes: &[u8], n: usize) -> Vec<u8> {
        s.write_all(bytes).unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 64];
        while got.len() < n {
            assert!(Instant::now() < deadline, "no answer: {got:?}");
            r.run_once(Some(Duration::from_millis(10))).unwrap();
            match s.read(&mut buf) {
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        got
    }

    /// Connects `c1` to `addr`: whether the server had a session for it.
    fn session_present(r: &mut Reactor, addr: SocketAddr) -> (TcpStream, bool) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_nonblocking(true).unwrap();
        let ack = exchange(r, &mut s, &CONNECT, 4);
        assert_eq!(ack[..2], [0x20, 2]);
        assert_eq!(ack[3], 0, "accepted");
        (s, ack[2] == 1)
    }

    fn reactor(dir: &std::path::Path) -> (Reactor, SocketAddr, SocketAddr) {
        let settings = Settings {
            data_dir: Some(dir.to_path_buf()),
            ..Settings::default()
        };
        let mut r = Reactor::new(settings).unwrap();
        r.hub_mut().logger_mut().stderr = false;
        let a = r.listen_mqtt("127.0.0.1:0").unwrap();
        let b = r.listen_mqtt("127.0.0.1:0").unwrap();
        (r, a, b)
    }

    #[test]
    fn each_mqtt_listener_gets_its_own_sessions_back_after_a_restart() {
        let dir = std::env::temp_dir().join(format!("ducq-mqtt-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let (mut r, _first, second) = reactor(&dir);
            let (mut s, present) = session_present(&mut r, second);
            assert!(!present);
            let ack = exchange(&mut r, &mut s, &SUBSCRIBE, 5);
            assert_eq!(ack, [0x90, 3, 0, 1, 1]);
            s.write_all(&DISCONNECT).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while !r.hub().clients().is_empty() {
                assert!(Instant::now() < deadline, "not closed");
                r.run_once(Some(Duration::from_millis(10))).unwrap();
            }
            // The turn that parked the session committed it.
            r.run_once(Some(Duration::from_millis(1))).unwrap();
        }
        let (mut r, first, second) = reactor(&dir);
        // Each listener's own: the first has no session of c1.
        let (_s1, present) = session_present(&mut r, first);
        assert!(!present);
        let (_s2, present) = session_present(&mut r, second);
        assert!(present);
        drop(r);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
