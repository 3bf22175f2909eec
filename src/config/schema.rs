//! The configuration file as serde reads it (unknown keys are errors, so a
//! typo is never silently ignored), and the overrides the command line
//! adds on top. Plain data: no checks beyond types, no I/O.

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[[listener]]` tables.
    #[serde(default, rename = "listener")]
    pub listeners: Vec<Spanned<ListenerConfig>>,
    /// `[limits]`.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[lua]`.
    #[serde(default)]
    pub lua: LuaConfig,
    /// `[[user]]` tables.
    #[serde(default, rename = "user")]
    pub users: Vec<Spanned<UserConfig>>,
    /// `[anonymous]`.
    #[serde(default)]
    pub anonymous: Option<Spanned<AclConfig>>,
    /// `[auth]`.
    #[serde(default)]
    pub auth: AuthTable,
    /// `[http]`.
    #[serde(default)]
    pub http: HttpConfig,
    /// `[log]`.
    #[serde(default)]
    pub log: LogConfig,
    /// `[queues]`.
    #[serde(default)]
    pub queues: QueuesConfig,
    /// `[[bridge]]` tables, read key by key by `config::bridges` with the
    /// `--bridge` flag's setter.
    #[serde(default, rename = "bridge")]
    pub bridges: Vec<Spanned<toml::Table>>,
    /// `[[channel]]` tables (`super::channels`).
    #[serde(default, rename = "channel")]
    pub channels: Vec<Spanned<super::channels::ChannelConfig>>,
}

/// One `[[listener]]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// `tcp`, `tls`, `http`, `https`, `mqtt`, `mqtts` or `unix`.
    pub kind: String,
    /// `host:port` (all kinds but unix).
    pub addr: Option<String>,
    /// Socket path (unix).
    pub path: Option<String>,
    /// Permission bits of a unix socket, octal text (`"0660"`).
    pub mode: Option<String>,
    /// PEM certificate chain (tls, https, mqtts).
    pub cert: Option<String>,
    /// PEM private key (tls, https, mqtts).
    pub key: Option<String>,
    /// PEM CA certificates clients must be signed by (tls, https, mqtts).
    pub client_ca: Option<String>,
    /// Whether unauthenticated clients get the anonymous access list
    /// (default true).
    pub anonymous: Option<bool>,
    /// mqtt, mqtts: QoS 1 and 2 deliveries in flight to one client.
    pub max_inflight: Option<u32>,
    /// mqtt, mqtts: deliveries waiting behind the window, or for a client
    /// that is away, per session.
    pub max_queued: Option<usize>,
    /// mqtt, mqtts: persistent sessions kept without a connection.
    pub max_sessions: Option<usize>,
    /// mqtt, mqtts: QoS 2 publications a client may have unreleased.
    pub receive_maximum: Option<u32>,
    /// mqtt, mqtts: topic aliases a client may set.
    pub topic_alias_maximum: Option<u32>,
    /// mqtt, mqtts: longest client identifier, bytes.
    pub max_client_id: Option<u32>,
    /// mqtt, mqtts: whether `$share/<group>/…` subscriptions are served.
    pub shared_subscriptions: Option<bool>,
}

/// `[limits]`: the `--max-*` flags and the timeouts.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// `--max-message`.
    pub max_message: Option<usize>,
    /// `--max-route`.
    pub max_route: Option<usize>,
    /// `--max-stored-routes`.
    pub max_stored_routes: Option<usize>,
    /// `--max-stored-bytes`.
    pub max_stored_bytes: Option<usize>,
    /// `--history`: messages stored per route.
    pub history: Option<usize>,
    /// `--max-queue-bytes`: payload bytes all durable queues may hold.
    pub max_queue_bytes: Option<usize>,
    /// `--max-queues`: number of durable queues.
    pub max_queues: Option<usize>,
    /// `--max-connections`.
    pub max_connections: Option<usize>,
    /// `--max-output`.
    pub max_output: Option<usize>,
    /// `--output-high-water`: queued output that holds its feeder back.
    pub output_high_water: Option<usize>,
    /// `--output-low-water`: the feeder is read again below it.
    pub output_low_water: Option<usize>,
    /// `--output-timeout`: seconds above the high-water mark with nothing
    /// written before a slow consumer is disconnected (0: never).
    pub output_timeout: Option<u64>,
    /// `--idle-timeout`, seconds.
    pub idle_timeout: Option<u64>,
    /// `--frame-timeout`, seconds.
    pub frame_timeout: Option<u64>,
    /// `--stream-window`, bytes.
    pub stream_window: Option<usize>,
    /// `--stream-timeout`, seconds.
    pub stream_timeout: Option<u64>,
}

/// `[lua]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LuaConfig {
    /// Folders (or files) of Lua commands.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// `--lua-instructions`.
    pub instructions: Option<u64>,
    /// `--lua-memory`.
    pub memory: Option<usize>,
}

/// One `[[user]]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Its name.
    pub name: String,
    /// argon2id PHC string; absent for certificate-only users.
    pub password: Option<String>,
    /// Route patterns it may publish to.
    #[serde(default)]
    pub publish: Vec<String>,
    /// Route patterns it may subscribe within.
    #[serde(default)]
    pub subscribe: Vec<String>,
    /// May run admin commands.
    #[serde(default)]
    pub admin: bool,
}

/// `[anonymous]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AclConfig {
    /// Route patterns anonymous clients may publish to.
    #[serde(default)]
    pub publish: Vec<String>,
    /// Route patterns anonymous clients may subscribe within.
    #[serde(default)]
    pub subscribe: Vec<String>,
}

/// `[auth]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthTable {
    /// Seconds before a failed authentication is answered.
    pub fail_delay: Option<f64>,
    /// Failures per address answered after `fail_delay` alone.
    pub free_failures: Option<u32>,
    /// Longest delay, seconds.
    pub max_fail_delay: Option<f64>,
}

/// `[http]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Origins allowed besides the same origin (`*`: all).
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// Whether loopback origins are allowed (default true).
    pub allow_loopback: Option<bool>,
    /// Host names answered (empty: any).
    #[serde(default)]
    pub allow_hosts: Vec<String>,
}

/// `[log]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// debug, info, warn, error or off.
    pub level: Option<String>,
}

/// `[queues]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QueuesConfig {
    /// `--data-dir`: where durable queues are kept (relative to the file's
    /// folder); `"none"` keeps them in memory only.
    pub data_dir: Option<String>,
}

/// What the command line says on top of the file: listeners given as
/// flags replace the file's, each limit flag replaces its key, `--lua`
/// folders replace `[lua] dirs`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Listeners from flags (replace the file's when not empty).
    pub listeners: Vec<ListenerConfig>,
    /// Limits from flags.
    pub limits: LimitsConfig,
    /// `--lua` paths (replace the file's when not empty).
    pub lua_dirs: Vec<String>,
    /// `--lua-instructions`.
    pub lua_instructions: Option<u64>,
    /// `--lua-memory`.
    pub lua_memory: Option<usize>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// `--data-dir` (`"none"`: queues in memory only).
    pub data_dir: Option<String>,
    /// `--bridge` flags (added to the file's bridges).
    pub bridges: Vec<crate::server::bridges::config::BridgeConfig>,
}
