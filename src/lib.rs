//! ducq: a minimalist, extensible message broker for a LAN, shipped as a
//! library with a C ABI.
//!
//! # Layout
//! - [`proto`]: state codes, message parse/format, replies, route matching (no I/O).
//! - [`transport`]: protocol codecs (TCP framing, …) behind the [`transport::Transport`] trait (no I/O).
//! - [`server`]: the single-threaded mio reactor, broker state, dispatcher and built-in commands.
//! - [`client`]: a blocking client over any transport (TCP, TLS, Unix sockets).
//! - [`tls`]: certificates, keys and rustls configurations for both ends.
//! - [`config`]: the server's TOML configuration file: parse, check, apply, reload.
//! - [`lua`]: Lua-scripted commands, reloaded when their files change.
//! - [`ffi`]: the C ABI (`include/ducq.h`): the only exported symbols.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

// Linked for its bundled Lua objects only: C programs get them in libducq.a.
use ducq_lua_bundle as _;

pub mod client;
pub mod config;
pub mod ffi;
pub mod lua;
pub mod proto;
pub mod server;
pub mod tls;
pub mod transport;

pub use proto::State;
