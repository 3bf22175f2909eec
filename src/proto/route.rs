//! Route patterns (PROTOCOL.md §7). Only subscription routes have wildcards;
//! matching is case-sensitive and works on bytes. Three wildcards:
//!
//! - `*` matches any byte sequence, `/` included, possibly empty (ducq's
//!   own glob, as the original had it);
//! - `+` as a whole level matches exactly one level (MQTT);
//! - `#` as the whole last level matches its parent level and every level
//!   below it (MQTT).
//!
//! A `+` or `#` that is not a whole level (`a+b`, `x/#y`, `a/#/b`) is an
//! ordinary character, so routes original clients use keep their meaning.
//! A route starting with `$` is not matched by a pattern whose first level
//! is `+` or `#` (MQTT §4.7.2); a leading `*` still matches it, as it did in
//! the original.
//!
//! The matcher is a two-pointer glob: `+` and `#` are deterministic (a
//! whole-level `+` can only end at the next `/`), so only `*` ever
//! backtracks, and only to the last `*` seen. Pure; no I/O, no allocation.

/// Whether the byte at `p` of `pattern` is a `+` standing for a whole level.
pub(crate) fn is_plus(pattern: &[u8], p: usize) -> bool {
    pattern.get(p) == Some(&b'+') && at_level_start(pattern, p) && at_level_end(pattern, p + 1)
}

/// Whether the byte at `p` of `pattern` is a `#` standing for the whole
/// last level.
pub(crate) fn is_hash(pattern: &[u8], p: usize) -> bool {
    pattern.get(p) == Some(&b'#') && at_level_start(pattern, p) && p + 1 == pattern.len()
}

fn at_level_start(pattern: &[u8], p: usize) -> bool {
    p == 0 || pattern.get(p - 1) == Some(&b'/')
}

fn at_level_end(pattern: &[u8], p: usize) -> bool {
    p == pattern.len() || pattern.get(p) == Some(&b'/')
}

/// Whether a subscription route is a pattern: it holds a `*`, a whole-level
/// `+` or a whole last-level `#`. Anything else matches only itself.
pub fn is_pattern(route: &[u8]) -> bool {
    route
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'*' || is_plus(route, i) || is_hash(route, i))
}

/// Whether the first level of `pattern` is a `+` or `#` wildcard (such a
/// pattern does not match routes starting with `$`).
pub fn leading_level_wildcard(pattern: &[u8]) -> bool {
    is_plus(pattern, 0) || is_hash(pattern, 0)
}

/// Whether `route` (a published route: its `*`, `+` and `#` are ordinary
/// bytes) matches `pattern` (a subscription route).
pub fn matches(pattern: &[u8], route: &[u8]) -> bool {
    if route.first() == Some(&b'$') && leading_level_wildcard(pattern) {
        return false;
    }
    glob(pattern, route)
}

/// `matches` without the `$` rule, for the part of a pattern that starts at
/// a level boundary after its first level (the route index matches pattern
/// tails this way). `pattern` and `route` must both start at a level start.
pub fn matches_tail(pattern: &[u8], route: &[u8]) -> bool {
    glob(pattern, route)
}

fn glob(pattern: &[u8], route: &[u8]) -> bool {
    // Two pointers; remember the last star and the route position it
    // matched up to; on a mismatch, let that star swallow one more byte.
    let (mut p, mut r) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&rc) = route.get(r) {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, r));
                p += 1;
                continue;
            }
            // The whole rest of the route, whatever it holds.
            Some(b'#') if is_hash(pattern, p) => return true,
            Some(b'+') if is_plus(pattern, p) => {
                // One level: up to the next `/` (or the end), possibly empty.
                let rest = route.get(r..).unwrap_or(&[]);
                r += rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
                p += 1;
                continue;
            }
            Some(&pc) if pc == rc => {
                p += 1;
                r += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, sr)) => {
                p = sp + 1;
                r = sr + 1;
                star = Some((sp, sr + 1));
            }
            None => return false,
        }
    }
    matches_empty(pattern, p)
}

/// Whether the rest of `pattern` from `p` matches an empty route rest:
/// stars, empty `+` levels, and a final `#` (with its `/`: `a/#` matches
/// `a`).
fn matches_empty(pattern: &[u8], mut p: usize) -> bool {
    loop {
        match pattern.get(p) {
            None => return true,
            Some(b'*') => p += 1,
            Some(b'+') if is_plus(pattern, p) => p += 1,
            Some(b'#') if is_hash(pattern, p) => return true,
            Some(b'/') if is_hash(pattern, p + 1) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of PROTOCOL.md §7, row by row.
    #[test]
    fn protocol_table() {
        let rows: &[(&str, &str, bool)] = &[
            ("a/b", "a/b", true),
            ("a/b", "a/bc", false),
            ("a/b", "a/b/", false),
            ("a/b", "A/b", false),
            ("a/*", "a/b", true),
            ("a/*", "a/b/c", true),
            ("a/*", "a/", true),
            ("a/*", "a", false),
            ("a/*", "b/a/x", false),
            ("*", "anything", true),
            ("*", "", true),
            ("a/*/c", "a/b/c", true),
            ("a/*/c", "a//c", true),
            ("a/b*", "a/b", true),
            ("*a", "bab", false),
            ("route/*!", "route/subroute!", true),
            ("route/*!", "route/subroute", false),
            ("a/b", "a/*", false),
            ("a/*", "a/*", true),
            ("a*b*c", "axbxbxc", true),
            ("*/c", "a/b/c", true),
            // + and #: whole levels only.
            ("a/+/c", "a/b/c", true),
            ("a/+/c", "a//c", true),
            ("a/+/c", "a/b/x/c", false),
            ("a/+", "a", false),
            ("a/+", "a/", true),
            ("+/+", "/finance", true),
            ("+", "/finance", false),
            ("a/#", "a", true),
            ("a/#", "a/", true),
            ("a/#", "a/b/c", true),
            ("a/#", "ab", false),
            ("#", "anything/at/all", true),
            ("+/#", "a", true),
            ("a/+/#", "a/b", true),
            ("a/+/#", "a", false),
            // Not whole levels: literal characters.
            ("a+", "a+", true),
            ("a+", "ab", false),
            ("a/b#", "a/b#", true),
            ("a/b#", "a/bc", false),
            ("a/#/b", "a/#/b", true),
            ("a/#/b", "a/x/b", false),
            ("+a/b", "xa/b", false),
            ("+a/b", "+a/b", true),
            // In a published route, wildcards are ordinary bytes.
            ("a/+", "a/+", true),
            ("a/b", "a/+", false),
            // $ routes: not matched by a leading + or #; a leading * keeps
            // matching them (compat).
            ("#", "$SYS/x", false),
            ("+/x", "$SYS/x", false),
            ("+", "$", false),
            ("$SYS/#", "$SYS/x", true),
            ("$SYS/+", "$SYS/x", true),
            ("*", "$SYS/x", true),
            ("*/x", "$SYS/x", true),
            ("x/+", "x/$y", true),
            // Mixed.
            ("a/+/*", "a/b/c/d", true),
            ("a/+/*", "a/b", false),
            ("*/+/c", "x/y/b/c", true),
            ("*/+/c", "c", false),
            ("a*/+", "abc/d", true),
            ("a*/#", "abc", true),
            ("*/#", "a", true),
        ];
        for (pattern, route, want) in rows {
            assert_eq!(
                matches(pattern.as_bytes(), route.as_bytes()),
                *want,
                "{pattern} vs {route}"
            );
        }
    }

    #[test]
    fn pattern_detection() {
        for p in ["a/*", "+", "a/+", "+/b", "a/+/b", "#", "a/#", "*"] {
            assert!(is_pattern(p.as_bytes()), "{p}");
        }
        for p in ["a/b", "a+", "+a", "a/b#", "a/#/b", "#/a", "a/+b", ""] {
            assert!(!is_pattern(p.as_bytes()), "{p}");
        }
        assert!(leading_level_wildcard(b"+/a"));
        assert!(leading_level_wildcard(b"#"));
        assert!(!leading_level_wildcard(b"*"));
        assert!(!leading_level_wildcard(b"a/+"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = b"*a*a*a*a*a*a*a*a*b";
        let route = vec![b'a'; 4096];
        assert!(!matches(pattern, &route));
        let pattern = b"*/+/*/+/*/+/*/+/b";
        let route: Vec<u8> = b"a/".repeat(2048);
        assert!(!matches(pattern, &route));
    }
}
