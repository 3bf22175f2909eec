//! Which routes a bridge carries and what they are called on the other
//! side: the `out` patterns (local routes forwarded to the remote), the `in`
//! patterns (remote routes brought in), and the optional prefix rewrite,
//! plus the spelling of a route, and of a pattern, in each remote's syntax
//! (ducq, MQTT topics and filters, NATS subjects). Pure: no I/O, no state.
//!
//! Patterns are written in ducq syntax (`*`, `+`, `#`) without prefixes.
//! The bridge subscribes locally to `local_prefix + out` and remotely to
//! `remote_prefix + in` (translated); a forwarded route trades its local
//! prefix for the remote one, an incoming route the other way round. A
//! remote subscription may be wider than its ducq pattern (ducq's `*` has
//! no MQTT or NATS spelling), so every incoming route is checked against
//! the ducq pattern again before it is brought in.

use crate::proto::route;

/// A bridge's routes and prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// Prepended to `out` patterns locally; replaced by `remote_prefix`
    /// when a route goes out.
    pub local_prefix: String,
    /// Prepended to `in` patterns remotely; replaced by `local_prefix`
    /// when a route comes in.
    pub remote_prefix: String,
    /// Local route patterns forwarded to the remote (without prefix).
    pub out: Vec<String>,
    /// Remote route patterns brought in (without prefix).
    pub inbound: Vec<String>,
}

impl Mapping {
    /// The patterns the bridge subscribes to locally.
    pub fn local_patterns(&self) -> Vec<String> {
        self.out
            .iter()
            .map(|p| format!("{}{p}", self.local_prefix))
            .collect()
    }

    /// The patterns the bridge subscribes to remotely, in ducq syntax.
    pub fn remote_patterns(&self) -> Vec<String> {
        self.inbound
            .iter()
            .map(|p| format!("{}{p}", self.remote_prefix))
            .collect()
    }

    /// The remote name of a local route being forwarded; `None` when the
    /// route is not one the bridge forwards.
    pub fn outbound_route(&self, local: &[u8]) -> Option<Vec<u8>> {
        let rest = local.strip_prefix(self.local_prefix.as_bytes())?;
        if !self.out.iter().any(|p| route::matches(p.as_bytes(), rest)) {
            return None;
        }
        Some([self.remote_prefix.as_bytes(), rest].concat())
    }

    /// The local name of a remote route; `None` when it is not one the
    /// bridge brings in (a remote subscription wider than its pattern).
    pub fn inbound_route(&self, remote: &[u8]) -> Option<Vec<u8>> {
        let rest = remote.strip_prefix(self.remote_prefix.as_bytes())?;
        if !self
            .inbound
            .iter()
            .any(|p| route::matches(p.as_bytes(), rest))
        {
            return None;
        }
        Some([self.local_prefix.as_bytes(), rest].concat())
    }

    /// Whether a local route is one the bridge forwards (an incoming
    /// message on such a route, from a remote that cannot say where a
    /// message came from, may be an echo of its own).
    pub fn forwards(&self, local: &[u8]) -> bool {
        self.outbound_route(local).is_some()
    }
}

/// The NATS subject for a route: levels become tokens (`a/b` → `a.b`).
/// `None` when the route has no faithful subject: an empty level, or a
/// level holding `.`, a space or a tab, or a level that is exactly `*` or
/// `>` (a wildcard token cannot be published to).
pub fn nats_subject(route: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(route).ok()?;
    let mut out = String::with_capacity(text.len());
    for (i, level) in text.split('/').enumerate() {
        if level.is_empty()
            || level == "*"
            || level == ">"
            || level.contains(['.', ' ', '\t', '\r', '\n'])
        {
            return None;
        }
        if i > 0 {
            out.push('.');
        }
        out.push_str(level);
    }
    Some(out)
}

/// The route for a NATS subject: tokens become levels (`a.b` → `a/b`).
pub fn nats_route(subject: &[u8]) -> Vec<u8> {
    subject
        .iter()
        .map(|&b| if b == b'.' { b'/' } else { b })
        .collect()
}

/// The NATS subscription subjects covering a ducq pattern (at least what
/// it matches; the caller filters). `+` levels become `*`, a last `#`
/// becomes `>` (and the parent subject itself, which `#` also matches);
/// from the first level NATS cannot spell (a `*` glob, a partial
/// wildcard, a `.` or a space, an empty level) on, everything is `>`.
pub fn nats_filters(pattern: &str) -> Vec<String> {
    let levels: Vec<&str> = pattern.split('/').collect();
    let mut tokens: Vec<&str> = Vec::new();
    let mut also_parent = false;
    for (i, level) in levels.iter().enumerate() {
        let last = i + 1 == levels.len();
        match *level {
            "+" => tokens.push("*"),
            "#" if last => {
                also_parent = i > 0;
                tokens.push(">");
            }
            l if l.is_empty()
                || l.contains(['*', '+', '#', '.', '>', ' ', '\t'])
                || (l == "#" && !last) =>
            {
                tokens.push(">");
                break;
            }
            l => tokens.push(l),
        }
        if tokens.last() == Some(&">") {
            break;
        }
    }
    let mut out = vec![tokens.join(".")];
    if also_parent {
        out.push(tokens.get(..tokens.len() - 1).unwrap_or(&[]).join("."));
    }
    out
}

/// The MQTT topic name for a route: the same text, when it is one MQTT
/// accepts for publishing (UTF-8, not empty, no `+`, `#` or NUL).
pub fn mqtt_topic(route: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(route).ok()?;
    if text.is_empty() || text.contains(['+', '#', '\0']) {
        return None;
    }
    Some(text)
}

/// The MQTT topic filter covering a ducq pattern (at least what it
/// matches; the caller filters). Whole-level `+` and a last `#` are the
/// same in MQTT; from the first level MQTT cannot spell (a `*` glob, or a
/// `+`/`#` that is part of a level) on, the filter is `#`.
pub fn mqtt_filter(pattern: &str) -> String {
    let levels: Vec<&str> = pattern.split('/').collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        let last = i + 1 == levels.len();
        match *level {
            "+" => out.push("+"),
            "#" if last => out.push("#"),
            l if l.contains(['*', '+', '#', '\0']) => {
                out.push("#");
                break;
            }
            l => out.push(l),
        }
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            local_prefix: "site/".into(),
            remote_prefix: "fleet/a/".into(),
            out: vec!["sensors/#".into(), "x/*".into()],
            inbound: vec!["cmd/+".into()],
        }
    }

    #[test]
    fn prefixes_are_traded_both_ways() {
        let m = mapping();
        assert_eq!(m.local_patterns(), ["site/sensors/#", "site/x/*"]);
        assert_eq!(m.remote_patterns(), ["fleet/a/cmd/+"]);
        assert_eq!(
            m.outbound_route(b"site/sensors/t1").unwrap(),
            b"fleet/a/sensors/t1"
        );
        assert_eq!(m.outbound_route(b"site/x/y/z").unwrap(), b"fleet/a/x/y/z");
        assert_eq!(m.outbound_route(b"other/sensors/t1"), None);
        assert_eq!(m.outbound_route(b"site/cmd/go"), None);
        assert_eq!(m.inbound_route(b"fleet/a/cmd/go").unwrap(), b"site/cmd/go");
        // Wider than the pattern (one level only), or another prefix.
        assert_eq!(m.inbound_route(b"fleet/a/cmd/go/now"), None);
        assert_eq!(m.inbound_route(b"fleet/b/cmd/go"), None);
        assert!(m.forwards(b"site/sensors"));
        assert!(!m.forwards(b"site/cmd/go"));
    }

    #[test]
    fn no_prefix_is_the_identity() {
        let m = Mapping {
            out: vec!["#".into()],
            inbound: vec!["#".into()],
            ..Mapping::default()
        };
        assert_eq!(m.outbound_route(b"a/b").unwrap(), b"a/b");
        assert_eq!(m.inbound_route(b"a/b").unwrap(), b"a/b");
        // `#` keeps `$` routes out, as ducq does.
        assert_eq!(m.outbound_route(b"$SYS/x"), None);
    }

    #[test]
    fn routes_and_subjects() {
        assert_eq!(nats_subject(b"a/b/c").unwrap(), "a.b.c");
        assert_eq!(nats_subject(b"a/+/#").unwrap(), "a.+.#");
        for bad in [
            &b"a//b"[..],
            b"/a",
            b"a/",
            b"a.b/c",
            b"a b",
            b"a/*",
            b"a/>",
            b"\xff",
        ] {
            assert_eq!(nats_subject(bad), None, "{bad:?}");
        }
        assert_eq!(nats_route(b"a.b.c"), b"a/b/c");
    }

    #[test]
    fn patterns_as_nats_filters() {
        let rows: &[(&str, &[&str])] = &[
            ("a/b", &["a.b"]),
            ("a/+/c", &["a.*.c"]),
            ("a/#", &["a.>", "a"]),
            ("#", &[">"]),
            ("a/*", &["a.>"]),
            ("a/b*/c", &["a.>"]),
            ("*", &[">"]),
            ("a/x.y/c", &["a.>"]),
            ("a//b", &["a.>"]),
            ("a/#/b", &["a.>"]),
        ];
        for (pattern, want) in rows {
            assert_eq!(nats_filters(pattern), *want, "{pattern}");
        }
    }

    #[test]
    fn routes_and_topics() {
        assert_eq!(mqtt_topic(b"a/b"), Some("a/b"));
        assert_eq!(mqtt_topic(b"$SYS/x"), Some("$SYS/x"));
        for bad in [&b""[..], b"a/+", b"a#", b"a\0b", b"\xff"] {
            assert_eq!(mqtt_topic(bad), None, "{bad:?}");
        }
        let rows = [
            ("a/b", "a/b"),
            ("a/+/c", "a/+/c"),
            ("a/#", "a/#"),
            ("a/*", "a/#"),
            ("*", "#"),
            ("a/b*/c", "a/#"),
            ("a+/b", "#"),
            ("a/#/b", "a/#"),
        ];
        for (pattern, want) in rows {
            assert_eq!(mqtt_filter(pattern), want, "{pattern}");
        }
    }
}
