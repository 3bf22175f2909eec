//! Unit tests of the configuration checks that need no listener: every key
//! of the file landing on its setting, the defaults without it, each flag
//! over its key, and the limits' cross-checks.

use std::path::Path;
use std::time::Duration;

use super::{check, ListenerKindName, Overrides, Where};
use crate::server::auth::{Acl, AuthConfig, User};
use crate::transport::http::OriginPolicy;

fn resolve(text: &str, o: &Overrides) -> Result<super::Resolved, Vec<super::ConfigError>> {
    check(text, "t.toml", Path::new("/"), o)
}

const BASE: &str = "[queues]\ndata_dir = \"none\"\n";

#[test]
fn back_pressure_limits_come_from_the_file_and_flags_win() {
    let text = format!(
        "{BASE}[limits]\nmax_output = 5000\noutput_high_water = 2000\noutput_low_water = 1000\noutput_timeout = 7\n"
    );
    let s = resolve(&text, &Overrides::default()).unwrap().settings;
    assert_eq!(
        (
            s.max_output,
            s.output_high_water,
            s.output_low_water,
            s.output_timeout
        ),
        (5000, 2000, 1000, Duration::from_secs(7))
    );
    let mut o = Overrides::default();
    o.limits.output_timeout = Some(0);
    o.limits.output_high_water = Some(3000);
    let s = resolve(&text, &o).unwrap().settings;
    assert_eq!(
        (s.output_high_water, s.output_low_water, s.output_timeout),
        (3000, 1000, Duration::ZERO)
    );
}

#[test]
fn a_low_water_mark_not_below_the_high_one_is_refused_at_its_line() {
    let text = format!("{BASE}[limits]\noutput_high_water = 1000\noutput_low_water = 1000\n");
    let errors = resolve(&text, &Overrides::default()).err().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].at, Where::Line(5));
    assert_eq!(
        errors[0].message,
        "[limits] output_low_water (1000) must be below output_high_water (1000)"
    );
    // Given as flags, the flags are blamed.
    let mut o = Overrides::default();
    o.limits.output_low_water = Some(1 << 30);
    let errors = resolve(BASE, &o).err().unwrap();
    assert_eq!(errors[0].at, Where::Flags);
}

/// A file that sets every key of `[limits]`, `[queues]`, `[lua]`,
/// `[[user]]`, `[anonymous]`, `[auth]`, `[http]` and `[log]`, each to a
/// value other than its default, and listeners of the kinds that need no
/// certificate (TLS listeners load theirs: tests/config.rs), the MQTT
/// one with every limit of its own.
const EVERY_KEY: &str = r#"
[[listener]]
kind = "tcp"
addr = "127.0.0.1:7001"
anonymous = false

[[listener]]
kind = "http"
addr = "127.0.0.1:7002"

[[listener]]
kind = "mqtt"
addr = "127.0.0.1:7003"
max_inflight = 7004
max_queued = 7005
max_sessions = 7006
receive_maximum = 7007
topic_alias_maximum = 7008
max_client_id = 7009
shared_subscriptions = false

[[listener]]
kind = "unix"
path = "d.sock"
mode = "0640"

[limits]
max_message = 1001
max_route = 1002
max_stored_routes = 1003
max_stored_bytes = 1004
history = 1005
max_queue_bytes = 1006
max_queues = 1007
max_connections = 1008
max_output = 1009
output_high_water = 1010
output_low_water = 1011
output_timeout = 1012
idle_timeout = 1013
frame_timeout = 1014
stream_window = 1015
stream_timeout = 1016

[queues]
data_dir = "q"

[lua]
dirs = ["."]
instructions = 1017
memory = 1018

[[user]]
name = "sensor1"
password = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$qBk4uXb5Vm0Ew1TeY2g2w0lYwQK5S4fYwVvVq1VQ3nY"
publish = ["sensors/*"]
subscribe = ["cmd/sensor1/+", "cmd/all"]

[[user]]
name = "root"
admin = true

[anonymous]
publish = []
subscribe = ["public/#"]

[auth]
fail_delay = 0.25
free_failures = 7
max_fail_delay = 9.5

[http]
allow_origins = ["https://dash.lan"]
allow_loopback = false
allow_hosts = ["broker.lan"]

[log]
level = "warn"
"#;

fn strings(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// The settings every key of `EVERY_KEY` asks for.
fn every_key_settings(base: &Path) -> crate::server::Settings {
    crate::server::Settings {
        max_message: 1001,
        max_route: 1002,
        max_stored_routes: 1003,
        max_stored_bytes: 1004,
        history: 1005,
        max_connections: 1008,
        max_output: 1009,
        output_high_water: 1010,
        output_low_water: 1011,
        output_timeout: Duration::from_secs(1012),
        idle_timeout: Duration::from_secs(1013),
        frame_timeout: Duration::from_secs(1014),
        stream_window: 1015,
        stream_timeout: Duration::from_secs(1016),
        log_level: crate::server::Level::Warn,
        data_dir: Some(base.join("q")),
        queue_limits: crate::queue::Limits {
            max_bytes: 1006,
            max_queues: 1007,
        },
    }
}

#[test]
fn every_key_lands_on_its_setting() {
    let base = std::env::temp_dir();
    // output_low_water must be below output_high_water: 1011 is not, so
    // the file is refused for that alone...
    let errors = check(EVERY_KEY, "t.toml", &base, &Overrides::default())
        .err()
        .unwrap();
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        ["[limits] output_low_water (1011) must be below output_high_water (1010)"]
    );
    // ... and accepted with the two in order.
    let text = EVERY_KEY.replace("output_low_water = 1011", "output_low_water = 999");
    let r = check(&text, "t.toml", &base, &Overrides::default()).unwrap();
    let mut want = every_key_settings(&base);
    want.output_low_water = 999;
    // Settings has no PartialEq: its Debug form lists every field.
    assert_eq!(format!("{:?}", r.settings), format!("{want:?}"));
    let listeners: Vec<_> = r
        .listeners
        .iter()
        .map(|l| (l.kind, l.addr.clone(), l.mode, l.anonymous, l.tls.is_some()))
        .collect();
    assert_eq!(
        listeners,
        [
            (
                ListenerKindName::Tcp,
                "127.0.0.1:7001".into(),
                None,
                false,
                false
            ),
            (
                ListenerKindName::Http,
                "127.0.0.1:7002".into(),
                None,
                true,
                false
            ),
            (
                ListenerKindName::Mqtt,
                "127.0.0.1:7003".into(),
                None,
                true,
                false
            ),
            (
                ListenerKindName::Unix,
                base.join("d.sock").to_string_lossy().into_owned(),
                Some(0o640),
                true,
                false
            ),
        ]
    );
    // The MQTT listener's limits; the others have none.
    let m = r.listeners[2].mqtt.as_ref().expect("mqtt limits");
    assert_eq!(
        (
            m.max_inflight,
            m.max_queued,
            m.max_sessions,
            m.receive_maximum
        ),
        (7004, 7005, 7006, 7007)
    );
    assert_eq!(
        (
            m.topic_alias_maximum,
            m.max_client_id,
            m.shared_subscriptions
        ),
        (7008, 7009, false)
    );
    assert!([0, 1, 3].iter().all(|&i| r.listeners[i].mqtt.is_none()));
    assert_eq!(r.lua_dirs, [base.join(".").to_string_lossy().into_owned()]);
    assert_eq!(
        r.lua_limits,
        crate::lua::LuaLimits {
            instructions: 1017,
            memory: 1018
        }
    );
    let phc =
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$qBk4uXb5Vm0Ew1TeY2g2w0lYwQK5S4fYwVvVq1VQ3nY";
    assert_eq!(
        r.auth,
        AuthConfig {
            users: vec![
                User {
                    name: "sensor1".into(),
                    password: Some(phc.into()),
                    acl: Acl {
                        publish: strings(&["sensors/*"]),
                        subscribe: strings(&["cmd/sensor1/+", "cmd/all"]),
                    },
                    admin: false,
                },
                User {
                    name: "root".into(),
                    password: None,
                    acl: Acl::nothing(),
                    admin: true,
                },
            ],
            anonymous: Acl {
                publish: Vec::new(),
                subscribe: strings(&["public/#"]),
            },
            fail_delay: Duration::from_millis(250),
            free_failures: 7,
            max_fail_delay: Duration::from_millis(9500),
        }
    );
    assert_eq!(
        r.http,
        OriginPolicy {
            allow_origins: vec!["https://dash.lan".into()],
            allow_loopback: false,
            allow_hosts: vec!["broker.lan".into()],
        }
    );
}

#[test]
fn without_a_file_section_the_defaults_hold() {
    let r = check(BASE, "t.toml", Path::new("/"), &Overrides::default()).unwrap();
    let want = crate::server::Settings::default();
    assert_eq!(format!("{:?}", r.settings), format!("{want:?}"));
    assert!(r.listeners.is_empty() && r.lua_dirs.is_empty());
    assert_eq!(r.lua_limits, crate::lua::LuaLimits::default());
    // No [anonymous]: anonymous clients may do anything, as before users.
    assert_eq!(r.auth, AuthConfig::default());
    assert_eq!(r.auth.anonymous, Acl::everything());
    assert_eq!(r.http, OriginPolicy::default());
}

#[test]
fn each_flag_wins_over_its_key() {
    let base = std::env::temp_dir();
    let text = EVERY_KEY.replace("output_low_water = 1011", "output_low_water = 999");
    let limits = crate::config::LimitsConfig {
        max_message: Some(2001),
        max_route: Some(2002),
        max_stored_routes: Some(2003),
        max_stored_bytes: Some(2004),
        history: Some(2005),
        max_queue_bytes: Some(2006),
        max_queues: Some(2007),
        max_connections: Some(2008),
        max_output: Some(2009),
        output_high_water: Some(2010),
        output_low_water: Some(1999),
        output_timeout: Some(2012),
        idle_timeout: Some(2013),
        frame_timeout: Some(2014),
        stream_window: Some(2015),
        stream_timeout: Some(2016),
    };
    let mut o = Overrides {
        limits,
        lua_dirs: vec!["/".into()],
        lua_instructions: Some(2017),
        lua_memory: Some(2018),
        log_level: Some("error".into()),
        data_dir: Some("none".into()),
        // --no-anonymous with --tcp: the flags' listeners replace the file's.
        listeners: vec![crate::config::ListenerConfig {
            kind: "tcp".into(),
            addr: Some("127.0.0.1:7009".into()),
            anonymous: Some(false),
            ..Default::default()
        }],
        ..Overrides::default()
    };
    let r = check(&text, "t.toml", &base, &o).unwrap();
    let want = crate::server::Settings {
        max_message: 2001,
        max_route: 2002,
        max_stored_routes: 2003,
        max_stored_bytes: 2004,
        history: 2005,
        max_connections: 2008,
        max_output: 2009,
        output_high_water: 2010,
        output_low_water: 1999,
        output_timeout: Duration::from_secs(2012),
        idle_timeout: Duration::from_secs(2013),
        frame_timeout: Duration::from_secs(2014),
        stream_window: 2015,
        stream_timeout: Duration::from_secs(2016),
        log_level: crate::server::Level::Error,
        data_dir: None,
        queue_limits: crate::queue::Limits {
            max_bytes: 2006,
            max_queues: 2007,
        },
    };
    assert_eq!(format!("{:?}", r.settings), format!("{want:?}"));
    assert_eq!(r.lua_dirs, ["/"]);
    assert_eq!(
        r.lua_limits,
        crate::lua::LuaLimits {
            instructions: 2017,
            memory: 2018
        }
    );
    let listeners: Vec<_> = r
        .listeners
        .iter()
        .map(|l| (l.kind, l.addr.as_str(), l.anonymous))
        .collect();
    assert_eq!(
        listeners,
        [(ListenerKindName::Tcp, "127.0.0.1:7009", false)]
    );
    // A flag's data dir is taken as given, not from the file's folder.
    o.data_dir = Some("rel".into());
    let r = check(&text, "t.toml", &base, &o).unwrap();
    assert_eq!(r.settings.data_dir, Some(std::path::PathBuf::from("rel")));
}
