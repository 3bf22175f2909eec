//! MQTT 3.1.1 and 5 (OASIS standards): a sans-IO codec for every control
//! packet, topic filters, and the state machine that lets an MQTT client
//! talk to ducq through the `Transport` trait (docs/MQTT.md).
//!
//! Own code rather than a crate: none of the codec crates fits a
//! single-threaded reactor and covers MQTT 5 (the reasons are in the
//! commit that added this module). Like the other codecs it is fuzzed
//! (`fuzz/fuzz_targets/mqtt_packet.rs`) and property-tested
//! (`tests/prop_mqtt.rs`). Nothing here touches a socket.

pub mod codec;
pub mod detached;
pub mod listener;
pub mod packet;
pub mod props;
pub mod reason;
pub mod record;
pub mod server;
pub mod session;
pub mod topic;
pub mod wire;

pub use codec::{decode, encode, packet_len};
pub use packet::{Packet, QoS, Version};
pub use server::{Config, MqttServer};
pub use wire::Error;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::{Parked, TransportFactory};

/// The sessions of one MQTT listener (by client id, with the publication
/// being dispatched): every connection of the listener shares them, and
/// no other listener's connection may.
#[derive(Clone, Default)]
pub struct Sessions(session::SharedListener, Rc<Config>);

impl Sessions {
    /// An empty registry, for a new listener.
    pub fn new() -> Sessions {
        Sessions::default()
    }

    /// An empty registry, for a new listener whose connections get
    /// `limits` (the server sets [`Config::max_packet`] from its own).
    pub fn with_limits(limits: Config) -> Sessions {
        Sessions(session::SharedListener::default(), Rc::new(limits))
    }

    /// The limits set for this listener's connections.
    pub fn limits(&self) -> &Config {
        &self.1
    }

    /// Sets the limits of connections made from now on.
    pub fn set_limits(&mut self, limits: Config) {
        self.1 = Rc::new(limits);
    }

    /// The codec of a new connection of this listener.
    pub fn connection(&self, cfg: Rc<Config>) -> MqttServer {
        MqttServer::new(cfg, Rc::clone(&self.0))
    }

    /// Keeps persistent sessions in a durable store from now on: the
    /// server writes what [`Sessions::take_records`] gives every turn.
    pub fn set_durable(&self) {
        self.0.borrow_mut().set_durable(true);
    }

    /// The listener's clock (a test sets its own).
    pub fn set_clock(&self, clock: session::Clock) {
        self.0.borrow_mut().clock = clock;
    }

    /// The persistent sessions changed since the last call, as records
    /// for the store: each key with its bytes, or None to delete it.
    pub fn take_records(&self) -> Vec<(String, Option<Vec<u8>>)> {
        let Ok(mut l) = self.0.try_borrow_mut() else {
            return Vec::new();
        };
        let changes = l.take_changes();
        let mut out = Vec::with_capacity(changes.len());
        for (key, kept) in changes {
            let bytes = kept.map(|(s, since)| {
                let s = s.borrow();
                // Only a detached session has a will waiting.
                let will = since.and_then(|_| l.waiting_will(&key));
                record::encode(&s, s.v5, since.unwrap_or(0), will)
            });
            out.push((key.to_string(), bytes));
        }
        out
    }

    /// Puts back sessions read from the store (key, bytes), as sessions
    /// whose connections ended when the record says, or when the server
    /// stopped. Returns each one kept as a parked state with the ducq
    /// patterns it subscribes (the server subscribes them for it), and
    /// the keys of records that could not be read (they are deleted).
    /// A session whose expiry passed while the server was down is
    /// deleted, not restored; a will it kept waiting comes back alone, as
    /// a parked state with no patterns that publishes it at once.
    #[allow(clippy::type_complexity)]
    pub fn restore(
        &self,
        cfg: Rc<Config>,
        records: Vec<(String, Vec<u8>)>,
    ) -> (Vec<(Box<dyn Parked>, Vec<String>)>, Vec<String>) {
        let (mut kept, mut bad) = (Vec::new(), Vec::new());
        let now = self.0.borrow().clock.now_ms();
        for (key, bytes) in records {
            let Some(saved) = record::decode(&bytes) else {
                self.0.borrow_mut().discard_saved(&key);
                bad.push(key);
                continue;
            };
            let mut session = saved.session;
            session.v5 = saved.v5;
            let since = if saved.detached_ms == 0 {
                now
            } else {
                saved.detached_ms
            };
            let before = Duration::from_millis(now.saturating_sub(since));
            if *session.key() != *key {
                self.0.borrow_mut().discard_saved(&key);
                continue;
            }
            let ended = session.expired(before);
            let (shared, patterns) = if ended {
                self.0.borrow_mut().discard_saved(&key);
                if saved.will.is_none() {
                    continue;
                }
                (Rc::new(RefCell::new(session)), Vec::new())
            } else {
                let patterns = session.patterns();
                let shared = self
                    .0
                    .borrow_mut()
                    .restore(session, since, cfg.max_sessions);
                (shared, patterns)
            };
            let parked = server::restored_parked(
                Rc::clone(&cfg),
                Rc::clone(&self.0),
                shared,
                saved.v5,
                before,
                saved.will,
            );
            kept.push((parked, patterns));
        }
        (kept, bad)
    }
}

/// A factory for an MQTT listener: every connection it makes shares one
/// [`Sessions`], so give each listener its own factory.
///
/// ```no_run
/// use ducq::server::{Reactor, Settings};
/// use ducq::transport::mqtt;
/// let mut reactor = Reactor::new(Settings::default())?;
/// reactor.listen("127.0.0.1:1883", mqtt::factory(mqtt::Config::default()))?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn factory(cfg: Config) -> TransportFactory {
    let sessions = Sessions::new();
    let cfg = Rc::new(cfg);
    Box::new(move || Box::new(sessions.connection(Rc::clone(&cfg))))
}
