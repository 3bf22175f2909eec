//! The broker server: a single-threaded mio reactor over a slab of
//! connections, the broker state, the dispatcher and the built-in commands.
//!
//! ```no_run
//! use ducq::server::{Reactor, Settings};
//! let mut reactor = Reactor::new(Settings::default())?;
//! reactor.listen_tcp("127.0.0.1:59090")?;
//! reactor.run()?;
//! # Ok::<(), std::io::Error>(())
//! ```
// Peer bytes flow through here: no panicking unwraps, indexing or panics.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod actions;
pub mod adopt;
pub mod auth;
pub mod bridge;
pub mod bridges;
pub mod broker;
pub mod channels;
pub mod clients;
pub mod commands;
pub mod conn;
pub mod dispatcher;
pub mod history;
pub mod hub;
pub mod keys;
pub mod lend;
pub mod log;
pub mod metrics;
pub mod notify;
pub mod observe;
pub mod os;
pub mod plugins;
pub mod queues;
pub mod reactor;
pub mod route_index;
pub mod rules;
pub mod settings;
pub mod socket;
pub mod streams;
#[cfg(test)]
pub(crate) mod test_codecs;
#[cfg(test)]
pub(crate) mod test_server;
pub(crate) mod tls;

pub use conn::ConnId;
pub use dispatcher::{CommandSet, Dispatcher};
pub use hub::Hub;
pub use lend::HubSlot;
pub use log::Level;
pub use reactor::{Reactor, StopHandle};
pub use settings::Settings;
pub use socket::PeerAddr;
