//! The protocol core: state codes, message parse/format and replies, route
//! matching. No I/O and no dependency beyond `core`/`alloc`-level std, so it
//! can be fuzzed directly and later built for small targets.
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

pub mod checks;
pub mod listing;
pub mod message;
pub mod queue;
pub mod route;
pub mod state;
pub mod stream;

pub use message::{classify, nack, Kind, Message, ACK, END, PARTS};
pub use state::State;
