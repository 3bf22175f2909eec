//! The `ducq` CLI's presentation helpers, kept beside the binary so that
//! `ducq.rs` stays argument parsing and calls: how output looks
//! (`output`: text, JSON, colour), streamed payloads written out whole
//! (`assemble`), the progress line of long transfers (`progress`), the
//! lines about a lost and remade connection (`events`) and the shell
//! completion scripts (`completions`). Nothing here talks to a server,
//! except `queue` (the queue and request/reply subcommands, through the
//! library's client) and `reconnect` (the reconnecting connection of
//! `sub`, `deq` and `serve`).

pub mod assemble;
pub mod completions;
pub mod events;
pub mod output;
pub mod progress;
pub mod queue;
pub mod reconnect;
