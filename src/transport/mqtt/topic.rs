//! MQTT topic names and filters (3.1.1 §4.7, 5.0 §4.7–4.8): validation,
//! matching with `+` and `#` (and the rule that a leading wildcard does not
//! match a topic starting with `$`), shared subscriptions
//! (`$share/<group>/<filter>`), and the ducq route pattern a filter is
//! subscribed under.
//!
//! The ducq pattern only has to match a superset of what the filter matches:
//! the MQTT connection checks every delivery against its filters with
//! [`matches()`], so a broker pattern that is wider (`*` crossing levels, a `*`
//! that MQTT reads as a literal) never lets a wrong message through.

/// A subscription request, taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter<'a> {
    /// The filter matched against topics.
    pub filter: &'a str,
    /// The share group of a `$share/<group>/<filter>` subscription.
    pub share: Option<&'a str>,
}

/// Whether `topic` can be published to: not empty, no wildcard, and
/// representable as a ducq route (no line break). UTF-8 and the absence of
/// U+0000 are the codec's checks.
pub fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.bytes().any(|b| matches!(b, b'+' | b'#' | b'\n'))
}

/// Parses and validates a topic filter: `+` and `#` only as whole levels,
/// `#` only last; `$share/<group>/<filter>` with a group without `/`, `+`
/// or `#`. `None` when invalid (or not representable as a ducq route).
pub fn parse_filter(raw: &str) -> Option<Filter<'_>> {
    let (filter, share) = match raw.strip_prefix("$share/") {
        Some(rest) => {
            let (group, filter) = rest.split_once('/')?;
            if group.is_empty() || group.contains(['+', '#']) {
                return None;
            }
            (filter, Some(group))
        }
        None => (raw, None),
    };
    if filter.is_empty() || filter.contains('\n') {
        return None;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        let ok = match level {
            "#" => last,
            "+" => true,
            _ => !level.contains(['+', '#']),
        };
        if !ok {
            return None;
        }
    }
    Some(Filter { filter, share })
}

/// Whether `filter` (valid, without `$share`) matches the topic name
/// `topic` (§4.7): `+` matches one whole level, `#` the parent level and
/// every level below it; a filter starting with a wildcard does not match a
/// topic starting with `$`.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// How the broker matches subscription routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerWildcards {
    /// Only ducq's `*` glob: `+` and `#` levels become `*`.
    Glob,
    /// `+` and `#` as whole levels, like MQTT: the filter is the route.
    Levels,
}

/// The ducq route pattern to subscribe to for `filter` (valid, without
/// `$share`): it matches every topic the filter matches, and maybe more.
pub fn ducq_pattern(filter: &str, wildcards: BrokerWildcards) -> String {
    if wildcards == BrokerWildcards::Levels {
        return filter.to_owned();
    }
    let mut out = String::with_capacity(filter.len());
    for (i, level) in filter.split('/').enumerate() {
        match level {
            // `a/#` also matches `a`: `a*` covers both.
            "#" => out.push('*'),
            "+" => {
                if i > 0 {
                    out.push('/');
                }
                out.push('*');
            }
            _ => {
                if i > 0 {
                    out.push('/');
                }
                out.push_str(level);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::route;

    /// Examples of 3.1.1 §4.7.1 and 5.0 §4.7.1–4.7.2.
    #[test]
    fn spec_examples() {
        let rows: &[(&str, &str, bool)] = &[
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/ranking",
                true,
            ),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/score/wimbledon",
                true,
            ),
            ("sport/#", "sport", true),
            ("#", "anything/at/all", true),
            ("#", "/", true),
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+", "/finance", false),
            ("+/tennis/#", "sport/tennis/x", true),
            ("#", "$SYS/uptime", false),
            ("+/monitor/Clients", "$SYS/monitor/Clients", false),
            ("$SYS/#", "$SYS/monitor/Clients", true),
            ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
            ("a/b", "a/b", true),
            ("a/b", "A/b", false),
            ("a/*", "a/b", false),
            ("a/*", "a/*", true),
        ];
        for &(f, t, want) in rows {
            assert_eq!(matches(f, t), want, "{f} vs {t}");
        }
    }

    #[test]
    fn filter_validation() {
        for ok in [
            "#", "+", "a/+/b", "a/#", "+/+", "/", "a//b", "$SYS/#", "a*b",
        ] {
            let f = parse_filter(ok).unwrap();
            assert_eq!((f.filter, f.share), (ok, None));
        }
        for bad in [
            "",
            "a#",
            "a/#/b",
            "a+",
            "a/b+",
            "#/a",
            "a\nb",
            "$share/g",
            "$share//a",
        ] {
            assert_eq!(parse_filter(bad), None, "{bad:?}");
        }
        let f = parse_filter("$share/g1/a/+/c").unwrap();
        assert_eq!((f.filter, f.share), ("a/+/c", Some("g1")));
        assert_eq!(parse_filter("$share/g+/a"), None);
        assert_eq!(parse_filter("$share/g/"), None);
        // `$share` alone is an ordinary topic level.
        assert_eq!(parse_filter("$shared/a").unwrap().share, None);
    }

    #[test]
    fn topic_names() {
        assert!(valid_topic_name("a/b"));
        assert!(valid_topic_name("/"));
        assert!(valid_topic_name("a*"));
        for bad in ["", "a/+", "#", "a\nb"] {
            assert!(!valid_topic_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn glob_pattern_is_a_superset() {
        assert_eq!(ducq_pattern("a/+/c", BrokerWildcards::Glob), "a/*/c");
        assert_eq!(ducq_pattern("a/#", BrokerWildcards::Glob), "a*");
        assert_eq!(ducq_pattern("#", BrokerWildcards::Glob), "*");
        assert_eq!(ducq_pattern("+", BrokerWildcards::Glob), "*");
        assert_eq!(ducq_pattern("+/b", BrokerWildcards::Glob), "*/b");
        assert_eq!(ducq_pattern("a/#", BrokerWildcards::Levels), "a/#");
        // Every topic a filter matches, its glob matches too.
        let filters = ["a/#", "#", "+", "a/+", "+/b", "a/+/c/#", "/+", "a*"];
        let topics = [
            "a", "a/", "a/b", "a/b/c", "a/b/c/d", "/x", "b", "", "a*", "$x/b",
        ];
        for f in filters {
            let p = ducq_pattern(f, BrokerWildcards::Glob);
            for t in topics {
                if matches(f, t) {
                    assert!(route::matches(p.as_bytes(), t.as_bytes()), "{f} ({p}) {t}");
                }
            }
        }
    }
}
