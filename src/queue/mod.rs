//! Durable named queues: enqueue answered with an id once durable,
//! competing consumers with acknowledgement, prefetch, visibility timeouts,
//! redelivery with a count, dead-letter queues.
//!
//! # Layout
//! - [`config`]: a queue's options and which names are accepted.
//! - [`clock`]: `Instant`s to unix times and back.
//! - [`single`]: one queue as a pure state machine (consumers, credit, timers).
//! - [`book`]: every queue by name, dead-lettering, the journal of a turn and
//!   how to undo it.
//! - [`store`]: the [`store::Store`] trait, in-memory and redb stores.
//! - [`durable`]: the queues plus a store: group commit, replies released
//!   once durable, recovery.
//!
//! Nothing here touches a socket or reads the clock by itself: every call is
//! given its `Instant`, so the logic is tested without sleeping. The
//! server's commands and reactor drive it; this module does not know them.
// Driven by what peers send: no panicking unwraps, indexing or panics.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::fmt;

use crate::proto::State;

pub mod book;
pub mod clock;
pub mod config;
pub mod durable;
pub mod single;
pub mod store;

pub use book::{Delivery, Limits, Listing, Queues};
pub use clock::Clock;
pub use config::Config;
pub use durable::{Answer, Durable};
pub use single::{ConsumerId, MsgId, Stats};
pub use store::{DiskStore, MemStore, Store, StoreError};

/// Why a queue operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueError {
    /// The queue name is empty, too long or has a character outside
    /// `A-Z a-z 0-9 . _ - / :`.
    BadName,
    /// An option, id or count could not be read.
    BadOption,
    /// No such queue, or no such consumer on it.
    NotFound,
    /// The message is not in flight for whoever acknowledged it.
    NotInFlight,
    /// A limit was reached (bytes held, number of queues).
    Full,
    /// The store failed to commit; nothing of the turn was kept.
    Store(StoreError),
}

impl QueueError {
    /// The state code a NACK for this error carries: 15 (message invalid)
    /// for bad names and options, 19 (not found) for a missing queue or a
    /// message not in flight, 21 (maximum reached) for a limit, 7 (file
    /// I/O error) for a failed commit.
    pub fn state(&self) -> State {
        match self {
            QueueError::BadName | QueueError::BadOption => State::EMsgInv,
            QueueError::NotFound | QueueError::NotInFlight => State::ENotFound,
            QueueError::Full => State::EMax,
            QueueError::Store(_) => State::EFile,
        }
    }
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::BadName => f.write_str("bad queue name"),
            QueueError::BadOption => f.write_str("bad option"),
            QueueError::NotFound => f.write_str("no such queue or consumer"),
            QueueError::NotInFlight => f.write_str("message not in flight for this consumer"),
            QueueError::Full => f.write_str("queue limit reached"),
            QueueError::Store(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for QueueError {}
