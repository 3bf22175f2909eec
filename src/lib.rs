//! ducq: a minimalist, extensible message broker for a LAN, shipped as a
//! library with a C ABI.
//!
//! # Layout
//! - [`proto`]: state codes, message parse/format, replies, route matching (no I/O).
//! - [`transport`]: protocol codecs (TCP framing, …) behind the [`transport::Transport`] trait (no I/O).
//! - [`server`]: the single-threaded mio reactor, broker state, dispatcher and built-in commands.
//! - [`client`]: a blocking client over any transport (TCP, TLS, Unix sockets), and one that reconnects.
//! - [`backoff`]: the back-off rule of reconnecting clients and bridges.
//! - [`queue`]: durable named queues: the state machine, group commit, the redb store.
//! - [`tls`]: certificates, keys and rustls configurations for both ends.
//! - [`config`]: the server's TOML configuration file: parse, check, apply, reload.
//! - [`lua`]: Lua-scripted commands, reloaded when their files change.
//! - [`ffi`]: the C ABI (`include/ducq.h`): the only exported symbols.
//!
//! # Features
//! `std` (on by default) brings everything that needs an operating system:
//! `server`, `lua`, the server half of `ffi`, the HTTP codec, TCP sockets
//! and clocks for the client. Without it the crate is `#![no_std]` +
//! `alloc`: `proto`, the TCP and WebSocket codecs, the blocking client
//! over a stream the embedder supplies, and the client half of the C API
//! over a socket layer written in C, for small devices (ARCHITECTURE.md,
//! "The portable core"). Unit tests build with std either way, for their
//! harness.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

// Linked for its bundled Lua objects only: C programs get them in libducq.a.
#[cfg(feature = "std")]
use ducq_lua_bundle as _;

pub mod backoff;
pub mod client;
#[cfg(feature = "std")]
pub mod config;
pub mod ffi;
#[cfg(feature = "std")]
pub mod lua;
pub mod proto;
#[cfg(feature = "std")]
pub mod queue;
#[cfg(feature = "std")]
pub mod server;
#[cfg(feature = "std")]
pub mod tls;
pub mod transport;

pub use proto::State;
