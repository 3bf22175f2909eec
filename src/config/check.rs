//! Checks a configuration (file text plus command-line overrides) and
//! resolves it into what the server runs with: settings, listeners with
//! their TLS configurations loaded, users, origin rules, Lua folders.
//! Every problem found is reported, each with the line of the table or key
//! it comes from; nothing is half-accepted. Relative paths in the file are
//! taken from the file's folder. It must not touch a reactor: `apply` does.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;

use super::schema::{FileConfig, LimitsConfig, ListenerConfig, Overrides};
use crate::lua::LuaLimits;
use crate::server::auth::{check_phc, Acl, AuthConfig, User};
use crate::server::{Level, Settings};
use crate::tls::{server_config, ServerTlsFiles};
use crate::transport::http::OriginPolicy;

/// Where an error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    /// A line of the file (1-based).
    Line(usize),
    /// The command line.
    Flags,
    /// The file as a whole (it could not be read).
    File,
}

/// One problem with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file's name as given.
    pub file: String,
    /// Where in it.
    pub at: Where,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Where::Line(n) => write!(f, "{}:{}: {}", self.file, n, self.message),
            Where::Flags => write!(f, "command line: {}", self.message),
            Where::File => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A listener kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKindName {
    /// Length-framed ducq over TCP.
    Tcp,
    /// Length-framed ducq over TLS.
    Tls,
    /// HTTP and WebSocket.
    Http,
    /// HTTPS and WSS.
    Https,
    /// Length-framed ducq over a Unix socket.
    Unix,
    /// MQTT 3.1.1 and 5.
    Mqtt,
    /// MQTT over TLS.
    Mqtts,
}

impl ListenerKindName {
    /// Whether its clients speak TLS.
    pub fn is_tls(self) -> bool {
        matches!(
            self,
            ListenerKindName::Tls | ListenerKindName::Https | ListenerKindName::Mqtts
        )
    }
}

/// A checked listener.
#[derive(Clone)]
pub struct ListenerSpec {
    /// Its kind.
    pub kind: ListenerKindName,
    /// `host:port`, or the socket path for unix.
    pub addr: String,
    /// Unix socket permission bits.
    pub mode: Option<u32>,
    /// The loaded TLS configuration (tls, https).
    pub tls: Option<Arc<ServerConfig>>,
    /// Admits anonymous clients.
    pub anonymous: bool,
    /// An MQTT listener's limits (mqtt, mqtts).
    pub mqtt: Option<crate::transport::mqtt::Config>,
    /// The listener as configured (to tell a reload what changed).
    pub source: ListenerConfig,
}

/// A configuration ready to apply.
#[derive(Clone)]
pub struct Resolved {
    /// Limits and log level.
    pub settings: Settings,
    /// Listeners, in file (or flag) order.
    pub listeners: Vec<ListenerSpec>,
    /// Users, access lists, failure policy.
    pub auth: AuthConfig,
    /// Browser origin and Host rules.
    pub http: OriginPolicy,
    /// Lua folders or files.
    pub lua_dirs: Vec<String>,
    /// Lua budgets.
    pub lua_limits: LuaLimits,
    /// Bridges: the file's `[[bridge]]` tables, then `--bridge` flags.
    pub bridges: Vec<crate::server::bridges::config::BridgeConfig>,
    /// `[[channel]]` tables, in file order.
    pub channels: Vec<super::channels::ConfigChannel>,
}

/// Reads and checks the file at `path` with `overrides` on top.
pub fn load(path: &str, overrides: &Overrides) -> Result<Resolved, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            file: path.to_owned(),
            at: Where::File,
            message: e.to_string(),
        }]
    })?;
    let base = Path::new(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    check(&text, path, &base, overrides)
}

/// Collects errors while checking.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    base: &'a Path,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    fn line(&self, offset: usize) -> Where {
        let upto = self.text.get(..offset).unwrap_or(self.text);
        Where::Line(upto.matches('\n').count() + 1)
    }

    fn err(&mut self, at: Where, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            at,
            message: message.into(),
        });
    }

    /// The line where `key` is set (`key = ...`), for errors about a value.
    fn key_at(&self, key: &str) -> Where {
        for (i, line) in self.text.lines().enumerate() {
            let t = line.trim_start();
            if t.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
            {
                return Where::Line(i + 1);
            }
        }
        Where::File
    }

    /// A path from the file, relative to the file's folder.
    fn path(&self, p: &str, at: &Where) -> String {
        if *at == Where::Flags || Path::new(p).is_absolute() {
            return p.to_owned();
        }
        let joined: PathBuf = self.base.join(p);
        joined.to_string_lossy().into_owned()
    }
}

/// Checks file text `text` (named `file`, relative paths from `base`) with
/// `overrides` on top.
pub fn check(
    text: &str,
    file: &str,
    base: &Path,
    overrides: &Overrides,
) -> Result<Resolved, Vec<ConfigError>> {
    let mut c = Checker {
        file,
        text,
        base,
        errors: Vec::new(),
    };
    let parsed: FileConfig = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            let at = e.span().map_or(Where::File, |s| c.line(s.start));
            c.err(at, e.message().to_owned());
            return Err(c.errors);
        }
    };
    let settings = settings(&mut c, &parsed, overrides);
    let listeners = listeners(&mut c, &parsed, overrides);
    let auth = auth(&mut c, &parsed);
    let http = OriginPolicy {
        allow_origins: parsed.http.allow_origins.clone(),
        allow_loopback: parsed.http.allow_loopback.unwrap_or(true),
        allow_hosts: parsed.http.allow_hosts.clone(),
    };
    let (lua_dirs, lua_limits) = lua(&mut c, &parsed, overrides);
    let (bridges, problems) = {
        let path = |p: &str| c.path(p, &Where::File);
        super::bridges::resolve(&parsed.bridges, &overrides.bridges, &path)
    };
    for (at, message) in problems {
        let at = at.map_or(Where::Flags, |offset| c.line(offset));
        c.err(at, message);
    }
    let (channels, refused) = super::channels::check(&parsed.channels, settings.max_route);
    for (offset, e) in refused {
        c.err(c.line(offset), e);
    }
    if !c.errors.is_empty() {
        // In file order: the command line, the file as a whole, then lines.
        c.errors.sort_by_key(|e| match e.at {
            Where::Flags => 0,
            Where::File => 1,
            Where::Line(n) => 2 + n,
        });
        return Err(c.errors);
    }
    Ok(Resolved {
        settings,
        listeners,
        auth,
        http,
        lua_dirs,
        lua_limits,
        bridges,
        channels,
    })
}

fn settings(c: &mut Checker<'_>, f: &FileConfig, o: &Overrides) -> Settings {
    let mut s = Settings::default();
    let pick = |flag: &LimitsConfig, file: &LimitsConfig| LimitsConfig {
        max_message: flag.max_message.or(file.max_message),
        max_route: flag.max_route.or(file.max_route),
        max_stored_routes: flag.max_stored_routes.or(file.max_stored_routes),
        max_stored_bytes: flag.max_stored_bytes.or(file.max_stored_bytes),
        history: flag.history.or(file.history),
        max_queue_bytes: flag.max_queue_bytes.or(file.max_queue_bytes),
        max_queues: flag.max_queues.or(file.max_queues),
        max_connections: flag.max_connections.or(file.max_connections),
        max_output: flag.max_output.or(file.max_output),
        output_high_water: flag.output_high_water.or(file.output_high_water),
        output_low_water: flag.output_low_water.or(file.output_low_water),
        output_timeout: flag.output_timeout.or(file.output_timeout),
        idle_timeout: flag.idle_timeout.or(file.idle_timeout),
        frame_timeout: flag.frame_timeout.or(file.frame_timeout),
        stream_window: flag.stream_window.or(file.stream_window),
        stream_timeout: flag.stream_timeout.or(file.stream_timeout),
    };
    let l = pick(&o.limits, &f.limits);
    s.max_message = l.max_message.unwrap_or(s.max_message);
    s.max_route = l.max_route.unwrap_or(s.max_route);
    s.max_stored_routes = l.max_stored_routes.unwrap_or(s.max_stored_routes);
    s.max_stored_bytes = l.max_stored_bytes.unwrap_or(s.max_stored_bytes);
    s.history = l.history.unwrap_or(s.history);
    let q = &mut s.queue_limits;
    q.max_bytes = l.max_queue_bytes.unwrap_or(q.max_bytes);
    q.max_queues = l.max_queues.unwrap_or(q.max_queues);
    s.data_dir = data_dir(c, f, o);
    s.max_connections = l.max_connections.unwrap_or(s.max_connections);
    s.max_output = l.max_output.unwrap_or(s.max_output);
    s.output_high_water = l.output_high_water.unwrap_or(s.output_high_water);
    s.output_low_water = l.output_low_water.unwrap_or(s.output_low_water);
    if let Some(t) = l.output_timeout {
        s.output_timeout = Duration::from_secs(t);
    }
    if s.output_low_water >= s.output_high_water {
        let (low, high) = (s.output_low_water, s.output_high_water);
        if o.limits.output_low_water.is_some() || o.limits.output_high_water.is_some() {
            let text =
                format!("--output-low-water ({low}) must be below --output-high-water ({high})");
            c.err(Where::Flags, text);
        } else {
            let at = c.key_at("output_low_water");
            let text = format!(
                "[limits] output_low_water ({low}) must be below output_high_water ({high})"
            );
            c.err(at, text);
        }
    }
    if let Some(t) = l.idle_timeout {
        s.idle_timeout = Duration::from_secs(t);
    }
    if let Some(t) = l.frame_timeout {
        s.frame_timeout = Duration::from_secs(t);
    }
    s.stream_window = l.stream_window.unwrap_or(s.stream_window);
    if let Some(t) = l.stream_timeout {
        s.stream_timeout = Duration::from_secs(t);
    }
    for (name, v) in [
        ("max_message", s.max_message),
        ("max_route", s.max_route),
        ("max_connections", s.max_connections),
    ] {
        if v == 0 {
            let at = c.key_at(name);
            c.err(at, format!("[limits] {name} must be at least 1"));
        }
    }
    let level = o.log_level.clone().or_else(|| f.log.level.clone());
    if let Some(level) = level {
        match level.parse::<Level>() {
            Ok(l) => s.log_level = l,
            Err(e) => {
                let at = if o.log_level.is_some() {
                    Where::Flags
                } else {
                    c.key_at("level")
                };
                c.err(at, format!("[log] level: {e}"));
            }
        }
    }
    s
}

/// The queues' folder: the flag, else the file's `[queues] data_dir`
/// (from the file's folder), else `ducq-server`'s default; `"none"` keeps
/// queues in memory.
fn data_dir(c: &Checker<'_>, f: &FileConfig, o: &Overrides) -> Option<PathBuf> {
    let (dir, at) = match (&o.data_dir, &f.queues.data_dir) {
        (Some(d), _) => (d.as_str(), Where::Flags),
        (None, Some(d)) => (d.as_str(), Where::File),
        (None, None) => (crate::queue::store::DEFAULT_DATA_DIR, Where::Flags),
    };
    (dir != "none").then(|| PathBuf::from(c.path(dir, &at)))
}

fn listeners(c: &mut Checker<'_>, f: &FileConfig, o: &Overrides) -> Vec<ListenerSpec> {
    let entries: Vec<(ListenerConfig, Where)> = if o.listeners.is_empty() {
        f.listeners
            .iter()
            .map(|l| (l.get_ref().clone(), c.line(l.span().start)))
            .collect()
    } else {
        o.listeners
            .iter()
            .map(|l| (l.clone(), Where::Flags))
            .collect()
    };
    let mut out = Vec::new();
    for (l, at) in entries {
        if let Some(spec) = listener(c, &l, at) {
            out.push(spec);
        }
    }
    out
}

fn listener(c: &mut Checker<'_>, l: &ListenerConfig, at: Where) -> Option<ListenerSpec> {
    let kind = match l.kind.as_str() {
        "tcp" => ListenerKindName::Tcp,
        "tls" => ListenerKindName::Tls,
        "http" => ListenerKindName::Http,
        "https" => ListenerKindName::Https,
        "unix" => ListenerKindName::Unix,
        "mqtt" => ListenerKindName::Mqtt,
        "mqtts" => ListenerKindName::Mqtts,
        other => {
            c.err(
                at,
                format!(
                    "listener kind '{other}' is not one of tcp, tls, http, https, mqtt, mqtts, unix"
                ),
            );
            return None;
        }
    };
    let secure = kind.is_tls();
    let addr = if kind == ListenerKindName::Unix {
        if l.addr.is_some() {
            c.err(at.clone(), "a unix listener takes path, not addr");
        }
        match &l.path {
            Some(p) => c.path(p, &at),
            None => {
                c.err(at, "a unix listener needs path");
                return None;
            }
        }
    } else {
        match &l.addr {
            Some(a) if std::net::ToSocketAddrs::to_socket_addrs(a.as_str()).is_ok() => a.clone(),
            Some(a) => {
                c.err(at, format!("addr '{a}' is not host:port"));
                return None;
            }
            None => {
                c.err(at, format!("a {} listener needs addr", l.kind));
                return None;
            }
        }
    };
    let mode = match (&l.mode, kind) {
        (None, _) => None,
        (Some(m), ListenerKindName::Unix) => match u32::from_str_radix(m, 8) {
            Ok(m) if m <= 0o777 => Some(m),
            _ => {
                c.err(
                    at.clone(),
                    format!("mode '{m}' is not octal permission bits like \"0660\""),
                );
                None
            }
        },
        (Some(_), _) => {
            c.err(at.clone(), "mode is for unix listeners");
            None
        }
    };
    let tls = if secure {
        match (&l.cert, &l.key) {
            (Some(cert), Some(key)) => {
                let files = ServerTlsFiles {
                    cert: c.path(cert, &at),
                    key: c.path(key, &at),
                    client_ca: l.client_ca.as_ref().map(|p| c.path(p, &at)),
                };
                let alpn: &[&[u8]] = if kind == ListenerKindName::Https {
                    &[b"http/1.1"]
                } else {
                    &[]
                };
                match server_config(&files, alpn) {
                    Ok(cfg) => Some(cfg),
                    Err(e) => {
                        c.err(at.clone(), e);
                        None
                    }
                }
            }
            _ => {
                c.err(
                    at.clone(),
                    format!("a {} listener needs cert and key", l.kind),
                );
                None
            }
        }
    } else {
        if l.cert.is_some() || l.key.is_some() || l.client_ca.is_some() {
            c.err(
                at.clone(),
                format!(
                    "cert, key and client_ca are for tls, https and mqtts listeners, not {}",
                    l.kind
                ),
            );
        }
        None
    };
    let is_mqtt = matches!(kind, ListenerKindName::Mqtt | ListenerKindName::Mqtts);
    let (mqtt, errors) = super::mqtt::limits(l, is_mqtt);
    for e in errors {
        c.err(at.clone(), e);
    }
    Some(ListenerSpec {
        kind,
        addr,
        mode,
        tls,
        anonymous: l.anonymous.unwrap_or(true),
        mqtt,
        source: l.clone(),
    })
}

/// Route patterns of a list: non-empty, no line break or NUL.
fn routes(c: &mut Checker<'_>, at: &Where, what: &str, list: &[String]) -> Vec<Vec<u8>> {
    for r in list {
        if r.is_empty() || r.contains('\n') || r.contains('\0') {
            c.err(
                at.clone(),
                format!("{what}: '{}' is not a route pattern", r.escape_debug()),
            );
        }
    }
    list.iter().map(|r| r.as_bytes().to_vec()).collect()
}

fn auth(c: &mut Checker<'_>, f: &FileConfig) -> AuthConfig {
    let mut a = AuthConfig::default();
    for u in &f.users {
        let at = c.line(u.span().start);
        let u = u.get_ref();
        if u.name.is_empty() || u.name.contains(['\n', '\0', ' ']) {
            c.err(
                at.clone(),
                format!("user name '{}' must be one word", u.name.escape_debug()),
            );
        }
        if a.users.iter().any(|x| x.name == u.name) {
            c.err(at.clone(), format!("user '{}' is defined twice", u.name));
        }
        if let Some(p) = &u.password {
            if let Err(e) = check_phc(p) {
                c.err(
                    at.clone(),
                    format!(
                        "user '{}': password: {e} (use ducq-server hash-password)",
                        u.name
                    ),
                );
            }
        }
        let acl = Acl {
            publish: routes(c, &at, "publish", &u.publish),
            subscribe: routes(c, &at, "subscribe", &u.subscribe),
        };
        a.users.push(User {
            name: u.name.clone(),
            password: u.password.clone(),
            acl,
            admin: u.admin,
        });
    }
    if let Some(anon) = &f.anonymous {
        let at = c.line(anon.span().start);
        let anon = anon.get_ref();
        a.anonymous = Acl {
            publish: routes(c, &at, "publish", &anon.publish),
            subscribe: routes(c, &at, "subscribe", &anon.subscribe),
        };
    }
    let secs = |c: &mut Checker<'_>, name: &str, v: Option<f64>, dflt: Duration| match v {
        None => dflt,
        Some(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => Duration::from_secs_f64(s),
        Some(s) => {
            let at = c.key_at(name);
            c.err(
                at,
                format!("[auth] {name} = {s}: seconds between 0 and 86400"),
            );
            dflt
        }
    };
    a.fail_delay = secs(c, "fail_delay", f.auth.fail_delay, a.fail_delay);
    a.max_fail_delay = secs(c, "max_fail_delay", f.auth.max_fail_delay, a.max_fail_delay);
    a.free_failures = f.auth.free_failures.unwrap_or(a.free_failures);
    a
}

fn lua(c: &mut Checker<'_>, f: &FileConfig, o: &Overrides) -> (Vec<String>, LuaLimits) {
    let (dirs, at) = if o.lua_dirs.is_empty() {
        (f.lua.dirs.clone(), c.key_at("dirs"))
    } else {
        (o.lua_dirs.clone(), Where::Flags)
    };
    let rel = if at == Where::Flags {
        Where::Flags
    } else {
        Where::File
    };
    let dirs: Vec<String> = dirs.iter().map(|d| c.path(d, &rel)).collect();
    for d in &dirs {
        if !Path::new(d).exists() {
            c.err(at.clone(), format!("[lua] dirs: {d} does not exist"));
        }
    }
    let mut limits = LuaLimits::default();
    if let Some(n) = o.lua_instructions.or(f.lua.instructions) {
        limits.instructions = n;
    }
    if let Some(n) = o.lua_memory.or(f.lua.memory) {
        limits.memory = n;
    }
    (dirs, limits)
}
