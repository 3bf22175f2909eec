//! The `ducq` CLI's parts, kept beside the binary so that `ducq.rs` stays
//! the dispatch: the command line (`args`), connecting (`connect`), the
//! commands (`publish`, `sub`, `send`, `queue`), how output looks
//! (`output`: text, JSON, colour), streamed payloads written out whole
//! (`assemble`), the progress line of long transfers (`progress`), the
//! lines about a lost and remade connection (`events`, `reconnect`) and
//! the shell completion scripts (`completions`).

pub mod args;
pub mod assemble;
pub mod completions;
pub mod connect;
pub mod events;
pub mod output;
pub mod progress;
pub mod publish;
pub mod queue;
pub mod reconnect;
pub mod send;
pub mod sub;
