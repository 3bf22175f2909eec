//! Server limits and knobs, with the defaults documented in the README.
//! Plain data: nothing here reads files or the environment.

use std::time::Duration;

use super::log::Level;

/// Every limit of a ducq server. `Settings::default()` are the embedded
/// defaults `ducq-server` runs with when given no flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest message body accepted, in bytes (default 1 MiB). Longer
    /// frames are refused with NACK 16 and skipped.
    pub max_message: usize,
    /// Longest route accepted in `pub`/`sub`, in bytes (default 1024).
    pub max_route: usize,
    /// Most routes whose last message is stored (default 10 000); the least
    /// recently published are dropped first.
    pub max_stored_routes: usize,
    /// Most bytes of stored messages (default 64 MiB); over it the oldest
    /// stored messages are dropped first.
    pub max_stored_bytes: usize,
    /// Messages stored per route for `sub R\nlast N` and `last R\nN`
    /// (default 1: the last message, as in the original). Bounded by
    /// `max_stored_bytes` and `max_stored_routes`; 0 stores nothing.
    pub history: usize,
    /// Most client connections at once (default 16 384). Beyond it a new
    /// connection is answered NACK 21 and closed.
    pub max_connections: usize,
    /// Hard limit of bytes queued for one connection (default 64 MiB): a
    /// connection whose queue passes it is disconnected at once as a slow
    /// consumer, with the reason logged. Back-pressure (below) keeps a
    /// healthy reader far from it.
    pub max_output: usize,
    /// High-water mark of one connection's queued output (default 1 MiB).
    /// When a message takes a queue past it, the connection that sent the
    /// message (the publisher, or the caller whose replies they are) is no
    /// longer read until that queue drains to `output_low_water`.
    /// At or above `max_output` there is no back-pressure: the hard limit
    /// alone applies.
    pub output_high_water: usize,
    /// Low-water mark (default 256 KiB): a queue that passed the high-water
    /// mark lets its held publishers go once it is at or below this (0:
    /// once it is empty).
    pub output_low_water: usize,
    /// A connection above the high-water mark of which not one byte could
    /// be written this long is disconnected as a slow consumer (default
    /// 10 s), so a stuck reader holds its publishers back at most that
    /// long; a slow reader that keeps draining is never cut (every write
    /// restarts the time). Zero disables it (the hard limit still applies).
    pub output_timeout: Duration,
    /// A connection silent this long is closed (default 300 s); at half of
    /// it the server sends `PING _\nping`. Zero disables the timeout.
    pub idle_timeout: Duration,
    /// A message (or handshake, or HTTP request) left incomplete this long
    /// is given up and its connection closed (default 30 s): a peer that
    /// trickles bytes cannot hold a connection slot forever.
    pub frame_timeout: Duration,
    /// Most bytes of a streamed payload (`CONT`/`END`) queued for any one
    /// subscriber before the server stops reading its publisher until the
    /// subscriber is down to half of it (default 4 MiB). Keep it below
    /// `max_output` minus `max_message`.
    pub stream_window: usize,
    /// A stream with no part this long is ended with an error for its
    /// subscribers; a subscriber that keeps a stream's window full this
    /// long is closed as a slow consumer (default 30 s; zero disables).
    pub stream_timeout: Duration,
    /// Lowest level written to the log (default `Info`).
    pub log_level: Level,
    /// Where durable queues are kept: a directory holding `queues.redb`
    /// (created by the first commit), or `None` for queues in memory only
    /// (the library's default; `ducq-server` defaults to `./ducq-data`).
    pub data_dir: Option<std::path::PathBuf>,
    /// What queues may hold (bytes, number of queues).
    pub queue_limits: crate::queue::Limits,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_message: 1 << 20,
            max_route: 1024,
            max_stored_routes: 10_000,
            max_stored_bytes: 64 << 20,
            history: 1,
            max_connections: 16_384,
            max_output: 64 << 20,
            output_high_water: 1 << 20,
            output_low_water: 256 << 10,
            output_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            frame_timeout: Duration::from_secs(30),
            stream_window: 4 << 20,
            stream_timeout: Duration::from_secs(30),
            log_level: Level::Info,
            data_dir: None,
            queue_limits: crate::queue::Limits::default(),
        }
    }
}
