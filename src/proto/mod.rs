//! The protocol core: state codes, message parse/format and replies, route
//! matching. No I/O and no dependency beyond `core`/`alloc`-level std, so it
//! can be fuzzed directly and later built for small targets.

pub mod message;
pub mod route;
pub mod state;

pub use message::{classify, nack, Kind, Message, ACK, END, PARTS};
pub use state::State;
