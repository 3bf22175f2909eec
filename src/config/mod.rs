//! The server's configuration file (TOML): its schema, parsing, the check
//! that turns it into settings the server can use (every error with its
//! line), and applying it to a reactor at start and on reload.
//!
//! ```toml
//! [[listener]]                 # repeatable
//! kind = "tcp"                 # tcp | tls | http | https | mqtt | mqtts | unix
//! addr = "127.0.0.1:59090"     # or path = "/run/ducq.sock" for unix
//! mode = "0660"                # unix: permission bits (octal)
//! cert = "server.pem"          # tls, https
//! key  = "server.key"
//! client_ca = "ca.pem"         # optional: require client certificates
//! anonymous = true             # clients that have not authenticated may
//!                              # do what [anonymous] allows
//! max_queued = 1000            # mqtt, mqtts: also max_inflight,
//!                              # max_sessions, receive_maximum,
//!                              # topic_alias_maximum, max_client_id,
//!                              # shared_subscriptions
//!
//! [limits]                     # every --max-* flag, `_` for `-`
//! max_message = 1048576        # also: max_route, max_stored_routes,
//! idle_timeout = 300           # max_stored_bytes, max_connections,
//! frame_timeout = 30           # max_output; stream_window, stream_timeout
//!                              # (seconds for the timeouts)
//!
//! [lua]
//! dirs = ["extensions"]        # also: instructions, memory
//!
//! [[user]]
//! name = "sensor1"
//! password = "$argon2id$v=19$..."   # ducq-server hash-password
//! publish = ["sensors/*"]
//! subscribe = ["cmd/sensor1/*"]
//! admin = false                # may run `reload`
//!
//! [anonymous]                  # default: publish and subscribe anywhere
//! publish = []
//! subscribe = ["public/*"]
//!
//! [auth]
//! fail_delay = 1.0             # seconds before a failed auth is answered
//! free_failures = 3            # failures per address before it doubles
//! max_fail_delay = 60.0
//!
//! [http]
//! allow_origins = ["https://dash.lan"]   # besides the same origin
//! allow_loopback = true        # pages from localhost / 127.0.0.0/8 / [::1]
//! allow_hosts = []             # Host names answered; empty: any
//!
//! [log]
//! level = "info"
//!
//! [[bridge]]                   # repeatable; keys as --bridge's
//! kind = "mqtt"                # ducq | mqtt | nats
//! addr = "127.0.0.1:1883"
//! out = ["sensors/#"]
//! in = ["cmd/+"]
//!
//! [[channel]]                  # built-in channels (see `channels`)
//! name = "doors"
//! pattern = "home/door/+"
//! history = 10                 # retain, rate, burst, max_payload, read_only
//! ```
//!
//! - `schema`: the file as serde reads it, and the flags' overrides.
//! - `check`: file + flags → [`Resolved`], or every error with its line.
//! - `apply`: a `Resolved` onto a reactor, at start and on reload.
//! - `bridges`: `[[bridge]]` tables, through the `--bridge` flag's setter.
//! - `channels`: the `[[channel]]` tables, checked and applied.
//! - `mqtt`: an MQTT listener's limits, checked.
//!
//! It must not run the server: the binary (or an embedder) does.

mod apply;
mod bridges;
mod channels;
mod check;
mod mqtt;
mod schema;
#[cfg(test)]
mod tests;

pub use apply::{apply_reload, start, Running};
pub use channels::{ChannelConfig, ConfigChannel};
pub use check::{check, load, ConfigError, ListenerKindName, ListenerSpec, Resolved, Where};
pub use schema::{FileConfig, LimitsConfig, ListenerConfig, Overrides};
