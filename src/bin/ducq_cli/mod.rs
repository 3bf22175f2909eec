//! The `ducq` CLI's presentation helpers, kept beside the binary so that
//! `ducq.rs` stays argument parsing and calls: how output looks
//! (`output`: text, JSON, colour), the progress line of long transfers
//! (`progress`) and the shell completion scripts (`completions`). Nothing
//! here talks to a server.

pub mod completions;
pub mod output;
pub mod progress;
