//! A bridge's settings as plain data ([`BridgeConfig`]), read from the
//! `--bridge` flag's `KIND=ADDR,key=value,...` text, and checked once, so
//! a bad bridge stops the start with a sentence naming the key. The
//! configuration file's `[[bridge]]` tables fill the same struct through
//! the same [`BridgeConfig::set`]. The only file it reads is a TLS
//! bridge's CA file ([`BridgeConfig::finish`]). It must not open sockets
//! or resolve names.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use super::jetstream::JetStreamConfig;
use super::mapping::Mapping;
use crate::backoff::Backoff;

/// What a bridge speaks to its remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Another ducq broker (length-framed TCP).
    Ducq,
    /// An MQTT 3.1.1 or 5 broker.
    Mqtt,
    /// A NATS server or cluster (core NATS).
    Nats,
}

impl Kind {
    /// `ducq`, `mqtt` or `nats`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ducq => "ducq",
            Kind::Mqtt => "mqtt",
            Kind::Nats => "nats",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Kind, String> {
        match s {
            "ducq" => Ok(Kind::Ducq),
            "mqtt" => Ok(Kind::Mqtt),
            "nats" => Ok(Kind::Nats),
            other => Err(format!(
                "unknown bridge kind '{other}' (ducq, mqtt or nats)"
            )),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One bridge.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeConfig {
    /// Its name in logs, `lsconn` (`bridge-<name>:<ip>:<port>`) and the
    /// `bridges` listing: letters, digits, `-` and `_`.
    pub name: String,
    /// What the remote speaks.
    pub kind: Kind,
    /// Remote addresses (`ip:port`), tried in turn: a NATS cluster's nodes.
    /// Numeric only, so connecting never waits for a name server.
    pub addrs: Vec<SocketAddr>,
    /// Routes in both directions and the prefix rewrite.
    pub mapping: Mapping,
    /// Waits between connection attempts.
    pub backoff: Backoff,
    /// A ping goes out after this long without sending anything; a remote
    /// silent for twice as long is taken as gone.
    pub keepalive: Duration,
    /// MQTT QoS of forwarded messages (0 or 1) and of the subscriptions
    /// (the broker delivers at most this).
    pub qos: u8,
    /// MQTT: forwarded messages are retained (ducq keeps the last message
    /// of every route; so does a retained MQTT topic).
    pub retain: bool,
    /// MQTT protocol level: 4 (3.1.1) or 5.
    pub mqtt_version: u8,
    /// MQTT client identifier (default `ducq-<name>`).
    pub client_id: Option<String>,
    /// MQTT: a clean session on every connection (default false: the
    /// broker keeps the subscriptions and queues QoS 1 messages while the
    /// bridge is away).
    pub clean_session: bool,
    /// User name for the remote.
    pub user: Option<String>,
    /// Password for the remote.
    pub password: Option<String>,
    /// Messages kept while the remote is not (yet) accepting them, and
    /// publications not yet confirmed; beyond it the oldest are dropped.
    pub buffer_messages: usize,
    /// The same bound in payload bytes.
    pub buffer_bytes: usize,
    /// NATS: durable queues mirrored to a JetStream stream.
    pub jetstream: JetStreamConfig,
    /// Speak TLS to the remote (NATS: after its plain-text `INFO`).
    pub tls: bool,
    /// PEM CA certificates the remote's certificate must be signed by;
    /// `None` trusts the system's store.
    pub ca: Option<String>,
    /// A PEM client certificate chain and its key, for remotes that ask
    /// for one (a ducq `client_ca`, Mosquitto's `require_certificate`).
    pub cert: Option<String>,
    /// The key of `cert`.
    pub key: Option<String>,
    /// The name the remote's certificate must carry (default: the IP
    /// address dialled).
    pub server_name: Option<String>,
    /// The loaded client configuration, once [`BridgeConfig::finish`] ran.
    pub tls_client: Option<TlsClient>,
}

/// A TLS bridge's loaded client configuration. Two are equal when their CA
/// files held the same bytes, so a reload notices a renewed CA under the
/// same file name.
#[derive(Clone)]
pub struct TlsClient {
    /// What rustls connects with.
    pub config: Arc<ClientConfig>,
    /// The CA file's bytes as read (empty: the system store), then the
    /// client certificate's and key's, if any.
    ca_bytes: Vec<u8>,
}

impl PartialEq for TlsClient {
    fn eq(&self, other: &TlsClient) -> bool {
        self.ca_bytes == other.ca_bytes
    }
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsClient({} CA bytes)", self.ca_bytes.len())
    }
}

impl BridgeConfig {
    /// A bridge of `kind` to `addr` named after its kind, carrying nothing
    /// until patterns are added.
    pub fn new(kind: Kind, addr: SocketAddr) -> BridgeConfig {
        BridgeConfig {
            name: kind.as_str().to_string(),
            kind,
            addrs: vec![addr],
            mapping: Mapping::default(),
            backoff: Backoff {
                max: Duration::from_secs(10),
                ..Backoff::default()
            },
            keepalive: Duration::from_secs(30),
            qos: 1,
            retain: true,
            mqtt_version: 5,
            client_id: None,
            clean_session: false,
            user: None,
            password: None,
            buffer_messages: 10_000,
            buffer_bytes: 16 << 20,
            jetstream: JetStreamConfig::default(),
            tls: false,
            ca: None,
            cert: None,
            key: None,
            server_name: None,
            tls_client: None,
        }
    }

    /// Parses the `--bridge` flag: `KIND=ADDR` then `key=value` pairs,
    /// comma-separated: `addr` (more remote addresses), `out`, `in`
    /// (repeatable), `name`, `local_prefix`, `remote_prefix`, `qos`,
    /// `retain`, `mqtt_version`, `client_id`, `clean_session`, `user`,
    /// `password`, `keepalive`, `backoff_initial` and `backoff_max`
    /// (seconds), `buffer` (messages), `tls`, `ca`, `server_name`, `cert`,
    /// `key`; NATS:
    /// `mirror` (queue patterns, repeatable), `stream`, `stream_prefix`,
    /// `stream_create`.
    pub fn parse_flag(text: &str) -> Result<BridgeConfig, String> {
        let mut parts = text.split(',');
        let head = parts.next().unwrap_or_default();
        let (kind, addr) = head
            .split_once('=')
            .ok_or_else(|| format!("'{head}': expected KIND=ADDR (ducq, mqtt or nats)"))?;
        let mut cfg = BridgeConfig::parse_head(kind.parse()?, addr)?;
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}': expected key=value"))?;
            cfg.set(key, value)?;
        }
        cfg.finish()?;
        Ok(cfg)
    }

    /// A bridge of `kind` to the address in `addr` (`ip:port`, or
    /// `localhost:port`): the flag's `KIND=ADDR` head, the file's `kind`
    /// and first `addr`.
    pub fn parse_head(kind: Kind, addr: &str) -> Result<BridgeConfig, String> {
        Ok(BridgeConfig::new(kind, parse_addr(addr)?))
    }

    /// Checks the whole (see [`BridgeConfig::check`]) and loads the TLS
    /// client configuration (reading the CA file): the last step after
    /// the keys are set, for the flag and the file alike.
    pub fn finish(&mut self) -> Result<(), String> {
        self.check()?;
        self.tls_client = None;
        if !self.tls {
            return Ok(());
        }
        let read = |key: &str, path: &Option<String>| match path {
            Some(path) => std::fs::read(path).map_err(|e| format!("{key}: {path}: {e}")),
            None => Ok(Vec::new()),
        };
        // What a reload compares: the files' bytes, so a renewed CA or
        // certificate under the same name is noticed.
        let mut ca_bytes = read("ca", &self.ca)?;
        ca_bytes.extend(read("cert", &self.cert)?);
        ca_bytes.extend(read("key", &self.key)?);
        let files = crate::tls::ClientTlsFiles {
            ca: self.ca.clone(),
            cert_key: self.cert.clone().zip(self.key.clone()),
        };
        let config =
            crate::tls::client_config(&files).map_err(|e| format!("bridge {}: {e}", self.name))?;
        self.tls_client = Some(TlsClient { config, ca_bytes });
        Ok(())
    }

    /// The name the remote's certificate is checked against.
    pub fn tls_server_name(&self, addr: SocketAddr) -> String {
        self.server_name
            .clone()
            .unwrap_or_else(|| addr.ip().to_string())
    }

    /// Sets one key from its text (the flag's keys).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let secs = |v: &str| -> Result<Duration, String> {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e6)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("{key}: '{v}' is not a positive number of seconds"))
        };
        let flag = |v: &str| match v {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(format!("{key}: '{v}' is not true or false")),
        };
        match key {
            "addr" => self.addrs.push(parse_addr(value)?),
            "out" => self.mapping.out.push(value.to_string()),
            "in" => self.mapping.inbound.push(value.to_string()),
            "name" => self.name = value.to_string(),
            "local_prefix" => self.mapping.local_prefix = value.to_string(),
            "remote_prefix" => self.mapping.remote_prefix = value.to_string(),
            "qos" => {
                self.qos = match value {
                    "0" => 0,
                    "1" => 1,
                    _ => return Err(format!("qos: '{value}' is not 0 or 1")),
                }
            }
            "retain" => self.retain = flag(value)?,
            "mqtt_version" => {
                self.mqtt_version = match value {
                    "3.1.1" | "4" => 4,
                    "5" => 5,
                    _ => return Err(format!("mqtt_version: '{value}' is not 3.1.1 or 5")),
                }
            }
            "client_id" => self.client_id = Some(value.to_string()),
            "clean_session" => self.clean_session = flag(value)?,
            "user" => self.user = Some(value.to_string()),
            "password" => self.password = Some(value.to_string()),
            "keepalive" => self.keepalive = secs(value)?,
            "backoff_max" => self.backoff.max = secs(value)?,
            "backoff_initial" => self.backoff.initial = secs(value)?,
            "tls" => self.tls = flag(value)?,
            "ca" => self.ca = Some(value.to_string()),
            "cert" => self.cert = Some(value.to_string()),
            "key" => self.key = Some(value.to_string()),
            "server_name" => {
                crate::tls::server_name(value).map_err(|e| format!("server_name: {e}"))?;
                self.server_name = Some(value.to_string());
            }
            "prefix" => {
                return Err(
                    "prefix: say local_prefix or remote_prefix (the side whose routes carry it)"
                        .into(),
                )
            }
            "buffer" => {
                self.buffer_messages = value
                    .parse()
                    .map_err(|_| format!("buffer: '{value}' is not a whole number"))?
            }
            other if self.jetstream.set(other, value)? => {}
            other => return Err(format!("unknown bridge key '{other}'")),
        }
        Ok(())
    }

    /// Checks what the keys cannot check one by one.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(format!(
                "bridge name '{}': 1 to 64 letters, digits, '-' or '_'",
                self.name
            ));
        }
        self.jetstream.check(&self.name, self.kind == Kind::Nats)?;
        if self.mapping.out.is_empty() && self.mapping.inbound.is_empty() && !self.jetstream.is_on()
        {
            return Err(format!(
                "bridge {}: carries nothing (give out=PATTERN and/or in=PATTERN)",
                self.name
            ));
        }
        let patterns = self.mapping.out.iter().chain(&self.mapping.inbound);
        if let Some(bad) = patterns
            .into_iter()
            .find(|p| p.is_empty() || p.contains('\n'))
        {
            return Err(format!("bridge {}: invalid pattern {bad:?}", self.name));
        }
        if self.kind == Kind::Mqtt && self.qos > 1 {
            return Err(format!("bridge {}: qos must be 0 or 1", self.name));
        }
        if self.password.is_some() && self.user.is_none() {
            return Err(format!("bridge {}: a password needs a user", self.name));
        }
        if self.cert.is_some() != self.key.is_some() {
            return Err(format!("bridge {}: cert and key go together", self.name));
        }
        let tls_keys = [&self.ca, &self.server_name, &self.cert];
        if !self.tls && tls_keys.iter().any(|k| k.is_some()) {
            return Err(format!(
                "bridge {}: ca, server_name, cert and key need tls=true",
                self.name
            ));
        }
        Ok(())
    }

    /// The MQTT client identifier.
    pub fn mqtt_client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("ducq-{}", self.name))
    }
}

/// `ip:port`, or `localhost:port` for 127.0.0.1.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let text = match text.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.to_string(),
    };
    text.parse()
        .map_err(|_| format!("'{text}': expected a numeric address, IP:PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_with_every_key() {
        let cfg = BridgeConfig::parse_flag(
            "mqtt=127.0.0.1:1883,addr=[::1]:1884,out=sensors/#,out=x,in=cmd/+,name=home,\
             local_prefix=l/,remote_prefix=r/,qos=0,retain=false,mqtt_version=3.1.1,\
             client_id=me,clean_session=true,user=u,password=p,keepalive=1.5,\
             backoff_initial=0.25,backoff_max=2,buffer=7",
        )
        .unwrap();
        assert_eq!(cfg.kind, Kind::Mqtt);
        assert_eq!(
            cfg.addrs,
            [
                "127.0.0.1:1883".parse::<SocketAddr>().unwrap(),
                "[::1]:1884".parse().unwrap()
            ]
        );
        assert_eq!(cfg.mapping.out, ["sensors/#", "x"]);
        assert_eq!(cfg.mapping.inbound, ["cmd/+"]);
        assert_eq!(cfg.name, "home");
        assert_eq!(
            (
                cfg.mapping.local_prefix.as_str(),
                cfg.mapping.remote_prefix.as_str()
            ),
            ("l/", "r/")
        );
        assert_eq!((cfg.qos, cfg.retain, cfg.mqtt_version), (0, false, 4));
        assert_eq!(cfg.mqtt_client_id(), "me");
        assert!(cfg.clean_session);
        assert_eq!(
            (cfg.user.as_deref(), cfg.password.as_deref()),
            (Some("u"), Some("p"))
        );
        assert_eq!(cfg.keepalive, Duration::from_millis(1500));
        assert_eq!(cfg.backoff.max, Duration::from_secs(2));
        assert_eq!(cfg.backoff.initial, Duration::from_millis(250));
        assert_eq!(cfg.buffer_messages, 7);
    }

    #[test]
    fn defaults_and_localhost() {
        let cfg = BridgeConfig::parse_flag("nats=localhost:4222,out=a").unwrap();
        assert_eq!(cfg.name, "nats");
        assert_eq!(cfg.addrs, ["127.0.0.1:4222".parse::<SocketAddr>().unwrap()]);
        assert_eq!(cfg.mqtt_client_id(), "ducq-nats");
        assert_eq!((cfg.qos, cfg.retain, cfg.mqtt_version), (1, true, 5));
        assert!(!cfg.clean_session);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let rows = [
            ("nats", "'nats': expected KIND=ADDR (ducq, mqtt or nats)"),
            (
                "amqp=127.0.0.1:1,out=a",
                "unknown bridge kind 'amqp' (ducq, mqtt or nats)",
            ),
            (
                "nats=host:4222,out=a",
                "'host:4222': expected a numeric address, IP:PORT",
            ),
            (
                "nats=127.0.0.1:1",
                "bridge nats: carries nothing (give out=PATTERN and/or in=PATTERN)",
            ),
            ("nats=127.0.0.1:1,out", "'out': expected key=value"),
            (
                "nats=127.0.0.1:1,out=a,colour=red",
                "unknown bridge key 'colour'",
            ),
            (
                "nats=127.0.0.1:1,out=a,name=a:b",
                "bridge name 'a:b': 1 to 64 letters, digits, '-' or '_'",
            ),
            ("mqtt=127.0.0.1:1,out=a,qos=2", "qos: '2' is not 0 or 1"),
            (
                "mqtt=127.0.0.1:1,out=a,keepalive=0",
                "keepalive: '0' is not a positive number of seconds",
            ),
            (
                "mqtt=127.0.0.1:1,out=a,retain=maybe",
                "retain: 'maybe' is not true or false",
            ),
            (
                "mqtt=127.0.0.1:1,out=a,password=p",
                "bridge mqtt: a password needs a user",
            ),
            (
                "mqtt=127.0.0.1:1,out=a,mqtt_version=3",
                "mqtt_version: '3' is not 3.1.1 or 5",
            ),
            ("ducq=127.0.0.1:1,out=", "bridge ducq: invalid pattern \"\""),
            (
                "mqtt=127.0.0.1:1,out=a,ca=x.pem",
                "bridge mqtt: ca, server_name, cert and key need tls=true",
            ),
            (
                "ducq=127.0.0.1:1,out=a,cert=me.pem,key=me.key",
                "bridge ducq: ca, server_name, cert and key need tls=true",
            ),
            (
                "mqtt=127.0.0.1:1,out=a,tls=true,cert=me.pem",
                "bridge mqtt: cert and key go together",
            ),
            (
                "nats=127.0.0.1:1,out=a,tls=true,cert=/nonexistent/me.pem,key=k",
                "cert: /nonexistent/me.pem: No such file or directory (os error 2)",
            ),
            (
                "mqtt=127.0.0.1:1,out=a,tls=true,ca=/nonexistent/ca.pem",
                "ca: /nonexistent/ca.pem: No such file or directory (os error 2)",
            ),
            (
                "mqtt=127.0.0.1:1,out=a,tls=true,server_name=a b",
                "server_name: 'a b' is not a valid server name",
            ),
        ];
        for (flag, want) in rows {
            assert_eq!(BridgeConfig::parse_flag(flag).unwrap_err(), want, "{flag}");
        }
    }

    fn flag(text: &str) -> Result<BridgeConfig, String> {
        match text {
            "" => BridgeConfig::parse_flag("mqtt=127.0.0.1:1,out=a"),
            _ => BridgeConfig::parse_flag(&format!("mqtt=127.0.0.1:1,out=a,{text}")),
        }
    }

    #[test]
    fn bounds_and_values_each_key_takes() {
        // Seconds: positive and below a million, both ends exact.
        assert_eq!(
            flag("keepalive=1000000").unwrap_err(),
            "keepalive: '1000000' is not a positive number of seconds"
        );
        assert_eq!(
            flag("keepalive=999999").unwrap().keepalive,
            Duration::from_secs(999_999)
        );
        // Every accepted spelling, each after the other value.
        let cfg = flag("qos=0,qos=1,mqtt_version=4,mqtt_version=5").unwrap();
        assert_eq!((cfg.qos, cfg.mqtt_version), (1, 5));
        let cfg = flag("mqtt_version=3.1.1,retain=no,retain=yes,clean_session=1").unwrap();
        assert_eq!(
            (cfg.mqtt_version, cfg.retain, cfg.clean_session),
            (4, true, true)
        );
        let cfg = flag("retain=true,retain=0,clean_session=yes,clean_session=false").unwrap();
        assert_eq!((cfg.retain, cfg.clean_session), (false, false));
        // Names: '-' and '_' are letters here; 64 bytes at most, 1 at least.
        assert_eq!(flag("name=a-b_c").unwrap().name, "a-b_c");
        let long = "n".repeat(64);
        assert_eq!(flag(&format!("name={long}")).unwrap().name, long);
        for bad in ["", "-:", "a.b"] {
            assert_eq!(
                flag(&format!("name={bad}")).unwrap_err(),
                format!("bridge name '{bad}': 1 to 64 letters, digits, '-' or '_'")
            );
        }
        assert!(flag(&format!("name={long}n")).is_err());
    }

    #[test]
    fn qos_above_one_is_refused_for_mqtt_alone() {
        // The file's and the flag's keys cannot say qos=2; a struct built
        // in code can, and `check` is what stops it.
        let addr = "127.0.0.1:1".parse().unwrap();
        let mut cfg = BridgeConfig::new(Kind::Mqtt, addr);
        cfg.mapping.out.push("a".into());
        cfg.qos = 2;
        assert_eq!(cfg.check().unwrap_err(), "bridge mqtt: qos must be 0 or 1");
        cfg.qos = 1;
        assert_eq!(cfg.check(), Ok(()));
        cfg.kind = Kind::Nats;
        cfg.qos = 2;
        assert_eq!(cfg.check(), Ok(()));
    }

    #[test]
    fn tls_names_and_the_loaded_ca() {
        let addr: SocketAddr = "[::1]:8883".parse().unwrap();
        let mut cfg = flag("tls=true").unwrap();
        assert_eq!(cfg.tls_server_name(addr), "::1");
        cfg.server_name = Some("broker.lan".into());
        assert_eq!(cfg.tls_server_name(addr), "broker.lan");
        // Two CA files: equal loaded configurations when their bytes are.
        let dir = std::env::temp_dir().join(format!("ducq-bridge-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut pems = Vec::new();
        for (i, name) in ["one", "two"].into_iter().enumerate() {
            let ca = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
            let path = dir.join(format!("{i}.pem"));
            std::fs::write(&path, ca.cert.pem()).unwrap();
            pems.push((path.to_string_lossy().into_owned(), ca.cert.pem()));
        }
        let load = |path: &str| {
            let c = flag(&format!("tls=true,ca={path}")).unwrap();
            c.tls_client.unwrap()
        };
        let (a, b, a2) = (load(&pems[0].0), load(&pems[1].0), load(&pems[0].0));
        assert!(a == a2);
        assert!(a != b);
        assert_eq!(a.ca_bytes, pems[0].1.as_bytes());
        assert_eq!(
            format!("{a:?}"),
            format!("TlsClient({} CA bytes)", pems[0].1.len())
        );
        // Not TLS: nothing loaded, whatever was before.
        let mut plain = flag("").unwrap();
        plain.tls_client = Some(a);
        plain.finish().unwrap();
        assert!(plain.tls_client.is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
