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
pub mod packet;
pub mod props;
pub mod reason;
pub mod server;
pub mod session;
pub mod topic;
pub mod wire;

pub use codec::{decode, encode, packet_len};
pub use packet::{Packet, QoS, Version};
pub use server::{Config, MqttServer};
pub use wire::Error;

use std::rc::Rc;

use super::TransportFactory;

/// The sessions of one MQTT listener (by client id, with the publication
/// being dispatched): every connection of the listener shares them, and
/// no other listener's connection may.
#[derive(Clone, Default)]
pub struct Sessions(session::SharedListener);

impl Sessions {
    /// An empty registry, for a new listener.
    pub fn new() -> Sessions {
        Sessions::default()
    }

    /// The codec of a new connection of this listener.
    pub fn connection(&self, cfg: Rc<Config>) -> MqttServer {
        MqttServer::new(cfg, Rc::clone(&self.0))
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
