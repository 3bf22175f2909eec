//! The configuration file's `[[bridge]]` tables: each is turned into a
//! [`BridgeConfig`] through the very setter the `--bridge` flag uses
//! ([`BridgeConfig::set`], then [`BridgeConfig::finish`]), so a key means
//! the same, and is checked the same, in both places. A list value sets
//! its key once per item (`out`, `in`, `addr`); `addr` may also be a list
//! whose first item is the first address. Bridges given as flags come
//! after the file's; every name must be unique. It must not touch a
//! reactor: `apply` and the reload do.
//!
//! ```toml
//! [[bridge]]
//! kind = "mqtt"                  # ducq | mqtt | nats
//! addr = "127.0.0.1:8883"        # or a list: tried in turn
//! out = ["sensors/#"]            # local routes forwarded
//! in  = ["cmd/+"]                # remote routes brought in
//! name = "home"                  # default: the kind
//! tls = true                     # mqtt: TLS to the broker
//! ca = "mosquitto-ca.pem"        # relative to this file's folder
//! user = "bridge"
//! password = "secret"
//! ```

use toml::{Spanned, Table, Value};

use crate::server::bridges::config::BridgeConfig;

/// One problem: the byte offset of its table in the file (`None`: the
/// command line), and what is wrong.
pub(super) type Problem = (Option<usize>, String);

/// The file's bridges, then the flags', each finished; problems name the
/// table. `path` makes a file's relative path absolute.
pub(super) fn resolve(
    tables: &[Spanned<Table>],
    flags: &[BridgeConfig],
    path: &dyn Fn(&str) -> String,
) -> (Vec<BridgeConfig>, Vec<Problem>) {
    let mut out: Vec<BridgeConfig> = Vec::new();
    let mut problems = Vec::new();
    let mut add = |cfg: BridgeConfig, at: Option<usize>, problems: &mut Vec<Problem>| {
        if out.iter().any(|b| b.name == cfg.name) {
            let text = format!(
                "bridge name '{}' is used twice (give each bridge its own name = \"...\")",
                cfg.name
            );
            problems.push((at, text));
        } else {
            out.push(cfg);
        }
    };
    for t in tables {
        let at = t.span().start;
        match table(t.get_ref(), path) {
            Ok(cfg) => add(cfg, Some(at), &mut problems),
            Err(e) => problems.push((Some(at), format!("[[bridge]] {e}"))),
        }
    }
    for cfg in flags {
        add(cfg.clone(), None, &mut problems);
    }
    (out, problems)
}

/// One `[[bridge]]` table.
fn table(t: &Table, path: &dyn Fn(&str) -> String) -> Result<BridgeConfig, String> {
    let kind = match t.get("kind") {
        Some(Value::String(k)) => k.parse()?,
        Some(_) => return Err("kind: expected text (ducq, mqtt or nats)".into()),
        None => return Err("needs kind (ducq, mqtt or nats)".into()),
    };
    let addrs = match t.get("addr") {
        Some(v) => texts("addr", v)?,
        None => Vec::new(),
    };
    let Some((first, more)) = addrs.split_first() else {
        return Err("needs addr (\"IP:PORT\", or a list of them)".into());
    };
    // The first address through the flag's own head rule.
    let mut cfg = BridgeConfig::parse_head(kind, first)?;
    for a in more {
        cfg.set("addr", a)?;
    }
    for (key, value) in t {
        if key == "kind" || key == "addr" {
            continue;
        }
        for v in texts(key, value)? {
            let v = if matches!(key.as_str(), "ca" | "cert" | "key") {
                path(&v)
            } else {
                v
            };
            cfg.set(key, &v)?;
        }
    }
    cfg.finish()?;
    Ok(cfg)
}

/// A value as the flag would spell it; a list gives one text per item.
fn texts(key: &str, v: &Value) -> Result<Vec<String>, String> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Float(f) => Ok(f.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        _ => Err(format!(
            "{key}: expected text, a number, true or false, or a list of them"
        )),
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{check, ConfigError, Overrides, Resolved, Where};
    use crate::server::bridges::config::{BridgeConfig, Kind};

    fn resolve(text: &str, o: &Overrides) -> Result<Resolved, Vec<ConfigError>> {
        let text = format!("[queues]\ndata_dir = \"none\"\n{text}");
        check(&text, "t.toml", Path::new("/etc/ducq"), o)
    }

    fn errors(text: &str, o: &Overrides) -> Vec<(Where, String)> {
        match resolve(text, o) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.into_iter().map(|e| (e.at, e.message)).collect(),
        }
    }

    #[test]
    fn tables_mean_what_the_flag_means() {
        let text = r#"
[[bridge]]
kind = "mqtt"
addr = ["127.0.0.1:1883", "localhost:1884"]
name = "home"
out = ["sensors/#", "x"]
in = "cmd/+"
qos = 0
retain = false
mqtt_version = "3.1.1"
keepalive = 1.5
user = "u"
password = "p"
local_prefix = "l/"

[[bridge]]
kind = "nats"
addr = "127.0.0.1:4222"
out = ["a"]
"#;
        let mut o = Overrides::default();
        o.bridges
            .push(BridgeConfig::parse_flag("ducq=127.0.0.1:59090,in=b,name=peer").unwrap());
        let r = resolve(text, &o).unwrap();
        let flag = BridgeConfig::parse_flag(
            "mqtt=127.0.0.1:1883,addr=127.0.0.1:1884,name=home,out=sensors/#,out=x,in=cmd/+,\
             qos=0,retain=false,mqtt_version=3.1.1,keepalive=1.5,user=u,password=p,local_prefix=l/",
        )
        .unwrap();
        assert_eq!(r.bridges[0], flag);
        assert_eq!(r.bridges[0].keepalive, Duration::from_millis(1500));
        assert_eq!(
            (r.bridges[1].kind, r.bridges[1].name.as_str()),
            (Kind::Nats, "nats")
        );
        assert_eq!(r.bridges[2].name, "peer");
        assert_eq!(r.bridges.len(), 3);
    }

    #[test]
    fn every_problem_is_named_at_its_table() {
        let text = r#"
[[bridge]]
addr = "127.0.0.1:1"
out = ["a"]

[[bridge]]
kind = "mqtt"
out = ["a"]

[[bridge]]
kind = "amqp"
addr = "127.0.0.1:1"

[[bridge]]
kind = "mqtt"
addr = "127.0.0.1:1"
out = ["a"]
colour = "red"

[[bridge]]
kind = "mqtt"
addr = "127.0.0.1:1"
prefix = "site/"

[[bridge]]
kind = "nats"
addr = "127.0.0.1:1"
out = [{ a = 1 }]

[[bridge]]
kind = "nats"
addr = "127.0.0.1:1"
out = ["a"]

[[bridge]]
kind = "nats"
addr = "127.0.0.2:1"
in = ["b"]

[[bridge]]
kind = "nats"
addr = "127.0.0.1:1"
out = ["a"]
server_name = "nats.lan"
name = "secure"

[[bridge]]
kind = "mqtt"
addr = "127.0.0.1:1"
out = ["a"]
tls = true
ca = "missing-ca.pem"
"#;
        let mut o = Overrides::default();
        o.bridges
            .push(BridgeConfig::parse_flag("mqtt=127.0.0.1:2,out=b,name=nats").unwrap());
        let got = errors(text, &o);
        let want = [
            (Where::Flags, "bridge name 'nats' is used twice (give each bridge its own name = \"...\")"),
            (Where::Line(4), "[[bridge]] needs kind (ducq, mqtt or nats)"),
            (Where::Line(8), "[[bridge]] needs addr (\"IP:PORT\", or a list of them)"),
            (Where::Line(12), "[[bridge]] unknown bridge kind 'amqp' (ducq, mqtt or nats)"),
            (Where::Line(16), "[[bridge]] unknown bridge key 'colour'"),
            (
                Where::Line(22),
                "[[bridge]] prefix: say local_prefix or remote_prefix (the side whose routes carry it)",
            ),
            (
                Where::Line(27),
                "[[bridge]] out: expected text, a number, true or false, or a list of them",
            ),
            (Where::Line(37), "bridge name 'nats' is used twice (give each bridge its own name = \"...\")"),
            (Where::Line(42), "[[bridge]] bridge secure: ca, server_name, cert and key need tls=true"),
            (
                Where::Line(49),
                "[[bridge]] ca: /etc/ducq/missing-ca.pem: No such file or directory (os error 2)",
            ),
        ];
        let want: Vec<(Where, String)> =
            want.into_iter().map(|(w, m)| (w, m.to_string())).collect();
        assert_eq!(got, want);
    }
}
