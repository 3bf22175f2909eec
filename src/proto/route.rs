//! Route patterns (PROTOCOL.md §7): only subscription routes have wildcards,
//! `*` matches any byte sequence (`/` included, possibly empty), matching is
//! case-sensitive. A real glob with backtracking, linear in practice.
//! Pure; no I/O.

/// Whether a subscription route is a pattern (holds a `*`).
pub fn is_pattern(route: &[u8]) -> bool {
    route.contains(&b'*')
}

/// Whether `route` (a published route; its `*` are ordinary bytes) matches
/// `pattern` (a subscription route).
pub fn matches(pattern: &[u8], route: &[u8]) -> bool {
    // Classic two-pointer glob: remember the last star and the route position
    // it matched up to; on a mismatch, let that star swallow one more byte.
    let (mut p, mut r) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&rc) = route.get(r) {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, r));
                p += 1;
            }
            Some(&pc) if pc == rc => {
                p += 1;
                r += 1;
            }
            _ => match star {
                Some((sp, sr)) => {
                    p = sp + 1;
                    r = sr + 1;
                    star = Some((sp, sr + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).unwrap_or(&[]).iter().all(|&b| b == b'*')
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
        assert!(is_pattern(b"a/*"));
        assert!(!is_pattern(b"a/b"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = b"*a*a*a*a*a*a*a*a*b";
        let route = vec![b'a'; 4096];
        assert!(!matches(pattern, &route));
    }
}
