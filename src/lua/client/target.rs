//! Where a client script connects: `Ducq.connect`'s argument (nothing,
//! an address, a URL or a table) read into a [`Target`] and a timeout,
//! with the command line's defaults. Parsing only; no socket.

use std::time::Duration;

use mlua::Value;

use super::ScriptOptions;

/// Where a connection goes: host, port and protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) ws: bool,
}

impl Target {
    pub(crate) fn addr(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub(crate) fn url(&self) -> String {
        let scheme = if self.ws { "ws" } else { "tcp" };
        format!("{scheme}://{}", self.addr())
    }
}

/// Reads `Ducq.connect`'s argument: nothing (the defaults), `"host"`,
/// `"host:port"`, `"tcp://host:port"`, `"ws://host:port"`, or a table
/// `{ host =, port =, ws =, timeout = }`.
pub(crate) fn target(arg: &Value, defaults: &ScriptOptions) -> Result<(Target, Duration), String> {
    let mut t = Target {
        host: defaults.host.clone(),
        port: 0,
        ws: defaults.ws,
    };
    let mut port = defaults.port;
    let mut timeout = defaults.timeout;
    match arg {
        Value::Nil => {}
        Value::String(s) => {
            let s = s
                .to_str()
                .map_err(|_| "the address is not UTF-8".to_string())?;
            let rest = if let Some(r) = s.strip_prefix("ws://") {
                t.ws = true;
                r
            } else if let Some(r) = s.strip_prefix("tcp://") {
                t.ws = false;
                r
            } else {
                &s
            };
            let rest = rest.trim_end_matches('/');
            let (host, p) = split_host_port(rest)?;
            if !host.is_empty() {
                t.host = host;
            }
            if p.is_some() {
                port = p;
            }
        }
        Value::Table(tbl) => {
            let get = |k: &str| tbl.raw_get::<Value>(k).map_err(|e| e.to_string());
            if let Value::String(h) = get("host")? {
                t.host = h.to_str().map_err(|e| e.to_string())?.to_string();
            }
            match get("port")? {
                Value::Nil => {}
                Value::Integer(n) => port = Some(port_of(&n.to_string())?),
                Value::String(s) => port = Some(port_of(&s.to_string_lossy())?),
                other => return Err(format!("port is a {}", other.type_name())),
            }
            match get("ws")? {
                Value::Nil => {}
                Value::Boolean(b) => t.ws = b,
                other => return Err(format!("ws is a {}, not a boolean", other.type_name())),
            }
            match get("timeout")? {
                Value::Nil => {}
                Value::Integer(n) if n > 0 => timeout = Duration::from_secs(n as u64),
                Value::Number(n) if n > 0.0 && n.is_finite() => {
                    timeout = Duration::from_secs_f64(n)
                }
                other => return Err(format!("timeout {other:?} is not a positive number")),
            }
        }
        other => {
            return Err(format!(
                "Ducq.connect takes an address or a table, not a {}",
                other.type_name()
            ))
        }
    }
    t.port = port.unwrap_or(if t.ws { 59091 } else { 59090 });
    Ok((t, timeout))
}

fn port_of(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("'{s}' is not a port (1-65535)"))
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{s}': missing ']'"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(port_of(p)?),
            None if after.is_empty() => None,
            None => return Err(format!("'{s}' is not host:port")),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((h.to_string(), Some(port_of(p)?))),
        _ => Ok((s.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::Lua;

    fn opts() -> ScriptOptions {
        ScriptOptions::default()
    }

    #[test]
    fn addresses() {
        let lua = Lua::new();
        let t = |v: Value| target(&v, &opts()).map(|(t, _)| t);
        let s = |x: &str| Value::String(lua.create_string(x).unwrap());
        let tgt = |host: &str, port: u16, ws: bool| Target {
            host: host.into(),
            port,
            ws,
        };
        assert_eq!(t(Value::Nil), Ok(tgt("127.0.0.1", 59090, false)));
        assert_eq!(t(s("example")), Ok(tgt("example", 59090, false)));
        assert_eq!(t(s("h:1234")), Ok(tgt("h", 1234, false)));
        assert_eq!(t(s("ws://h:80/")), Ok(tgt("h", 80, true)));
        assert_eq!(t(s("ws://h")), Ok(tgt("h", 59091, true)));
        assert_eq!(t(s("tcp://[::1]:7")), Ok(tgt("::1", 7, false)));
        assert_eq!(t(s("[::1]")), Ok(tgt("::1", 59090, false)));
        assert!(t(s("h:0")).is_err());
        assert!(t(s("h:x")).is_err());
        let tbl = lua.create_table().unwrap();
        tbl.set("port", 9).unwrap();
        tbl.set("ws", true).unwrap();
        tbl.set("timeout", 0.5).unwrap();
        let (got, timeout) = target(&Value::Table(tbl), &opts()).unwrap();
        assert_eq!(got, tgt("127.0.0.1", 9, true));
        assert_eq!(timeout, Duration::from_millis(500));
        assert_eq!(tgt("::1", 7, false).addr(), "[::1]:7");
        assert!(t(Value::Boolean(true)).is_err());
    }
}
