//! ducq: a minimalist, extensible message broker for a LAN, shipped as a
//! library with a C ABI.
//!
//! # Layout
//! - [`proto`]: state codes, message parse/format, replies, route matching (no I/O).
//! - [`transport`]: protocol codecs (TCP framing, …) behind the [`transport::Transport`] trait (no I/O).
//! - [`server`]: the single-threaded mio reactor, broker state, dispatcher and built-in commands.
//! - [`client`]: a blocking client over any transport.
//! - [`ffi`]: the C ABI (`include/ducq.h`): the only exported symbols.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod client;
pub mod ffi;
pub mod proto;
pub mod server;
pub mod transport;

pub use proto::State;
