//! Browser origin and `Host` rules for HTTP and WebSocket requests. A page
//! from any web site a LAN user opens can send requests to the broker; the
//! browser attaches an `Origin` header that says where the page came from.
//! Requests with an allowed origin get a CORS header naming it; others get
//! none (the browser hides the answer from the page), and their WebSocket
//! upgrades and state-changing requests are refused with 403 before they
//! reach the broker. Requests without `Origin` (curl, devices, other
//! programs) are not browsers' and pass. An optional `Host` allow-list
//! refuses names that are not the broker's (DNS rebinding) with 421.
//!
//! Allowed by default: the same origin (the page was served from this very
//! host and port) and loopback origins (`localhost`, `127.0.0.0/8`,
//! `[::1]`). It must not render responses: `request` does.

/// The origin and Host rules of the HTTP listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPolicy {
    /// Origins allowed besides the same origin, exactly as browsers send
    /// them (`http://dash.lan:8080`); `*` allows every origin.
    pub allow_origins: Vec<String>,
    /// Whether pages served from a loopback address are allowed (default
    /// `true`).
    pub allow_loopback: bool,
    /// Host names (optionally with `:port`) the broker answers to; empty
    /// (the default) accepts any `Host`.
    pub allow_hosts: Vec<String>,
}

impl Default for OriginPolicy {
    fn default() -> OriginPolicy {
        OriginPolicy {
            allow_origins: Vec::new(),
            allow_loopback: true,
            allow_hosts: Vec::new(),
        }
    }
}

/// What a request's `Origin` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No `Origin` header: not a browser's cross-site request.
    Absent,
    /// An allowed origin, to be named in `Access-Control-Allow-Origin`.
    Allowed(String),
    /// Another site's page.
    Foreign,
}

impl OriginPolicy {
    /// Judges an `Origin` header value against the rules, for a request
    /// whose `Host` header is `host`.
    pub fn judge(&self, origin: Option<&[u8]>, host: Option<&[u8]>) -> Verdict {
        let Some(origin) = origin else {
            return Verdict::Absent;
        };
        let Ok(origin) = std::str::from_utf8(origin) else {
            return Verdict::Foreign;
        };
        let origin = origin.trim();
        let allowed = self
            .allow_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
            || host.is_some_and(|h| same_origin(origin, h))
            || (self.allow_loopback && is_loopback_origin(origin));
        if allowed {
            Verdict::Allowed(origin.to_owned())
        } else {
            Verdict::Foreign
        }
    }

    /// Whether the `Host` header is one the broker answers to.
    pub fn host_allowed(&self, host: Option<&[u8]>) -> bool {
        if self.allow_hosts.is_empty() {
            return true;
        }
        let Some(host) = host.and_then(|h| std::str::from_utf8(h).ok()) else {
            return false;
        };
        let host = host.trim();
        let bare = host_part(host);
        self.allow_hosts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(bare))
    }
}

/// `scheme://authority` split, or `None` for `null` and other oddities.
fn split_origin(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    if authority.is_empty() || authority.contains('/') {
        return None;
    }
    Some((scheme, authority))
}

/// The host of `host[:port]` (brackets kept for IPv6).
fn host_part(authority: &str) -> &str {
    if let Some(end) = authority.find(']') {
        return authority.get(..=end).unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// `authority` with the scheme's default port removed.
fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = if scheme.eq_ignore_ascii_case("https") {
        ":443"
    } else {
        ":80"
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// The page came from the host and port this request was sent to.
fn same_origin(origin: &str, host: &[u8]) -> bool {
    let (Some((scheme, authority)), Ok(host)) = (split_origin(origin), std::str::from_utf8(host))
    else {
        return false;
    };
    let a = without_default_port(scheme, authority);
    let h = without_default_port(scheme, host.trim());
    a.eq_ignore_ascii_case(h)
}

fn is_loopback_origin(origin: &str) -> bool {
    let Some((_, authority)) = split_origin(origin) else {
        return false;
    };
    let host = host_part(authority).to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host == "[::1]" {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(p: &OriginPolicy, origin: &str, host: &str) -> Verdict {
        p.judge(Some(origin.as_bytes()), Some(host.as_bytes()))
    }

    #[test]
    fn default_allows_same_origin_and_loopback_only() {
        let p = OriginPolicy::default();
        assert_eq!(p.judge(None, Some(b"x")), Verdict::Absent);
        for (origin, host) in [
            ("http://box.lan:59091", "box.lan:59091"),
            ("http://BOX.lan", "box.lan:80"),
            ("https://box.lan", "box.lan:443"),
            ("http://localhost:3000", "box.lan:59091"),
            ("http://127.0.0.5", "box.lan"),
            ("http://[::1]:8080", "box.lan"),
        ] {
            assert_eq!(
                judge(&p, origin, host),
                Verdict::Allowed(origin.to_owned()),
                "{origin}"
            );
        }
        for foreign in [
            "http://evil.example",
            "http://box.lan:8080",
            "null",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example",
            "file://",
        ] {
            assert_eq!(
                judge(&p, foreign, "box.lan:59091"),
                Verdict::Foreign,
                "{foreign}"
            );
        }
    }

    #[test]
    fn listed_origins_and_the_wildcard() {
        let mut p = OriginPolicy {
            allow_origins: vec!["https://dash.lan".into()],
            allow_loopback: false,
            allow_hosts: vec![],
        };
        assert_eq!(
            judge(&p, "https://dash.lan", "b:1"),
            Verdict::Allowed("https://dash.lan".into())
        );
        assert_eq!(judge(&p, "http://localhost", "b:1"), Verdict::Foreign);
        p.allow_origins.push("*".into());
        assert_eq!(
            judge(&p, "http://evil.example", "b:1"),
            Verdict::Allowed("http://evil.example".into())
        );
    }

    #[test]
    fn host_allow_list() {
        let mut p = OriginPolicy::default();
        assert!(p.host_allowed(Some(b"anything")));
        assert!(p.host_allowed(None));
        p.allow_hosts = vec!["box.lan".into(), "10.0.0.2:59091".into()];
        assert!(p.host_allowed(Some(b"box.lan")));
        assert!(p.host_allowed(Some(b"BOX.lan:59091")));
        assert!(p.host_allowed(Some(b"10.0.0.2:59091")));
        assert!(!p.host_allowed(Some(b"10.0.0.2:80")));
        assert!(!p.host_allowed(Some(b"rebind.evil.example")));
        assert!(!p.host_allowed(None));
    }
}
