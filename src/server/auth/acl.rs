//! Route access lists: which routes a principal may publish to, and which
//! patterns it may subscribe to. Pure; no I/O.
//!
//! # What "widening" means
//! A subscription pattern `S` is allowed when one entry `A` of the
//! subscribe list *contains* it: every route `S` matches, `A` matches too
//! (the language of `S` is a subset of the language of `A`). A pattern
//! that would also match one route outside every entry *widens* the
//! subscription beyond the list and is refused. With `sensors/*` listed:
//! `sensors/temp`, `sensors/*`, `sensors/a/*/b` are allowed; `sensors*`
//! (matches `sensorsX`), `*` and `*/temp` are refused. The check is per
//! entry: a pattern covered only by the union of two entries is refused
//! (conservative, and simple to explain). Publishing to route `R` is
//! allowed when an entry of the publish list matches `R`.
//!
//! # How containment is decided
//! Both patterns become tokens (`tokens`): literal bytes and wildcards.
//! `A` contains `S` when `A` matches `S` *symbolically*: `A`'s literals
//! match `S`'s literals, and each wildcard of `S` is absorbed by a wildcard
//! of `A` that matches everything it can produce. That is sound for every
//! pattern (if it says yes, every route of `S` matches `A`) and exact when
//! some byte value is absent from `A` (replace each wildcard of `S` by a
//! long run of that byte: the resulting route can only be matched through
//! `A`'s wildcards).
//!
//! The tokens follow route matching exactly (`proto::route`): `*`
//! anywhere, `+` only as a whole level, `#` only as the whole last level;
//! elsewhere `+` and `#` are literal bytes. One more rule mirrors the
//! matcher: a pattern whose first level is `+` or `#` matches no route
//! starting with `$`, so such an entry never contains a pattern that can
//! (a leading `$` or a leading `*`).

use crate::proto::route;

/// One token of a route pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// A literal byte.
    Lit(u8),
    /// `*`: any bytes, `/` included, possibly none.
    Star,
    /// `+`: any bytes except `/`, possibly none (one level).
    Level,
    /// A trailing `#` after `/`: any bytes, and the parent without the `/`.
    Rest,
}

/// The tokens of a pattern, its wildcards where route matching sees them.
pub fn tokens(pattern: &[u8]) -> Vec<Tok> {
    pattern
        .iter()
        .enumerate()
        .map(|(i, &b)| match b {
            b'*' => Tok::Star,
            b'+' if route::is_plus(pattern, i) => Tok::Level,
            b'#' if route::is_hash(pattern, i) => Tok::Rest,
            b => Tok::Lit(b),
        })
        .collect()
}

/// Whether list entry `outer` contains pattern `inner` (both as text).
pub fn within(outer: &[u8], inner: &[u8]) -> bool {
    if outer == b"*" {
        return true;
    }
    let inner_t = tokens(inner);
    // `+/x` and `#` skip `$` routes; `$x` and `*` reach them.
    let dollar = matches!(inner_t.first(), Some(Tok::Lit(b'$') | Tok::Star));
    if dollar && route::leading_level_wildcard(outer) {
        return false;
    }
    contains(&tokens(outer), &inner_t)
}

/// Whether every route matched by `inner` is matched by `outer`.
pub fn contains(outer: &[Tok], inner: &[Tok]) -> bool {
    // A trailing `/#` also matches the parent: both forms must be covered.
    if let [head @ .., Tok::Lit(b'/'), Tok::Rest] = inner {
        return covers(outer, inner) && covers(outer, head);
    }
    covers(outer, inner)
}

/// Whether wildcard `a` of the outer pattern can absorb token `s`.
fn absorbs(a: Tok, s: Tok) -> bool {
    match a {
        Tok::Star | Tok::Rest => true,
        Tok::Level => matches!(s, Tok::Level) || matches!(s, Tok::Lit(b) if b != b'/'),
        Tok::Lit(_) => false,
    }
}

/// The symbolic match, by dynamic programming over suffixes: `ok[i][j]`
/// says whether `outer[i..]` covers `inner[j..]`.
fn covers(outer: &[Tok], inner: &[Tok]) -> bool {
    let (m, n) = (outer.len(), inner.len());
    let width = n + 1;
    let mut ok = vec![false; (m + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    if let Some(cell) = ok.get_mut(at(m, n)) {
        *cell = true;
    }
    for i in (0..m).rev() {
        for j in (0..=n).rev() {
            let a = outer.get(i).copied();
            let s = inner.get(j).copied();
            let get = |v: &Vec<bool>, i: usize, j: usize| v.get(at(i, j)).copied().unwrap_or(false);
            let value = match a {
                Some(Tok::Lit(c)) => s == Some(Tok::Lit(c)) && get(&ok, i + 1, j + 1),
                // A trailing `/#` of the outer pattern also covers the
                // parent: `a/#` covers `a`.
                Some(Tok::Rest) => true,
                Some(w) => {
                    // Match nothing more, or absorb one more inner token.
                    get(&ok, i + 1, j) || s.is_some_and(|s| absorbs(w, s) && get(&ok, i, j + 1))
                }
                None => j == n,
            };
            let value = value || parent_of_rest(outer, i, j == n);
            if let Some(cell) = ok.get_mut(at(i, j)) {
                *cell = value;
            }
        }
    }
    ok.first().copied().unwrap_or(false)
}

/// `outer[i..]` is `/#` and the inner pattern has ended: the parent level
/// matches.
fn parent_of_rest(outer: &[Tok], i: usize, inner_done: bool) -> bool {
    inner_done && matches!(outer.get(i..), Some([Tok::Lit(b'/'), Tok::Rest]))
}

/// Route patterns one principal (a user, or anonymous clients) may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// Patterns of the routes it may publish to.
    pub publish: Vec<Vec<u8>>,
    /// Patterns it may subscribe within.
    pub subscribe: Vec<Vec<u8>>,
}

impl Acl {
    /// Everything allowed: `*` in both lists (ducq's behaviour without any
    /// configuration).
    pub fn everything() -> Acl {
        Acl {
            publish: vec![b"*".to_vec()],
            subscribe: vec![b"*".to_vec()],
        }
    }

    /// Nothing allowed.
    pub fn nothing() -> Acl {
        Acl::default()
    }

    /// Whether publishing to `route` is allowed.
    pub fn may_publish(&self, route: &[u8]) -> bool {
        self.publish.iter().any(|p| route::matches(p, route))
    }

    /// Whether publishing to every route `pattern` matches is allowed
    /// (`forget` of a pattern): one publish entry contains it.
    pub fn may_publish_all(&self, pattern: &[u8]) -> bool {
        if !route::is_pattern(pattern) {
            return self.may_publish(pattern);
        }
        self.publish.iter().any(|p| within(p, pattern))
    }

    /// Whether subscribing to `pattern` stays within the list.
    pub fn may_subscribe(&self, pattern: &[u8]) -> bool {
        self.subscribe.iter().any(|p| within(p, pattern))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<Tok> {
        tokens(s.as_bytes())
    }

    /// MQTT-style tokens for the extension tests: `+` and a trailing `#`.
    fn mq(s: &str) -> Vec<Tok> {
        let b = s.as_bytes();
        b.iter()
            .enumerate()
            .map(|(i, &c)| match c {
                b'*' => Tok::Star,
                b'+' => Tok::Level,
                b'#' if i + 1 == b.len() => Tok::Rest,
                c => Tok::Lit(c),
            })
            .collect()
    }

    #[test]
    fn star_containment_table() {
        let rows: &[(&str, &str, bool)] = &[
            ("*", "anything/at/all", true),
            ("*", "*", true),
            ("sensors/*", "sensors/temp", true),
            ("sensors/*", "sensors/*", true),
            ("sensors/*", "sensors/a/*/b", true),
            ("sensors/*", "sensors/t*", true),
            ("sensors/*", "sensors*", false),
            ("sensors/*", "*", false),
            ("sensors/*", "*/temp", false),
            ("sensors/*", "sensors", false),
            ("sensors/*", "sensor/x", false),
            ("a/*/c", "a/b/c", true),
            ("a/*/c", "a/*/c", true),
            ("a/*/c", "a/*/*/c", true),
            ("a/*/c", "a/*", false),
            ("a/*/c", "a/*c", false),
            ("*a*", "x*a*y", true),
            ("*ab*", "*a*b*", false),
            ("a*", "a", true),
            ("a", "a", true),
            ("a", "a*", false),
            ("a", "b", false),
            ("", "", true),
        ];
        for &(outer, inner, want) in rows {
            assert_eq!(contains(&t(outer), &t(inner)), want, "{outer} ⊇ {inner}");
        }
    }

    /// Soundness, checked by brute force: whenever containment is claimed,
    /// every route built from the inner pattern matches the outer one.
    #[test]
    fn claimed_containment_holds_on_sample_routes() {
        let pats = [
            "*", "a*", "*a", "a/*", "*/b", "a/*/b", "a*b", "ab*", "*ab", "a**", "*/*", "a/b", "",
        ];
        let fills = ["", "a", "b", "/", "ab", "a/b", "xx/"];
        for outer in pats {
            for inner in pats {
                if !contains(&t(outer), &t(inner)) {
                    continue;
                }
                // Every way of filling the inner pattern's stars.
                let parts: Vec<&str> = inner.split('*').collect();
                let stars = parts.len() - 1;
                let mut idx = vec![0usize; stars];
                loop {
                    let mut route = String::from(parts[0]);
                    for k in 0..stars {
                        route.push_str(fills[idx[k]]);
                        route.push_str(parts[k + 1]);
                    }
                    assert!(
                        route::matches(outer.as_bytes(), route.as_bytes()),
                        "{outer} claimed to contain {inner}, but not {route}"
                    );
                    let mut k = 0;
                    while k < stars {
                        idx[k] += 1;
                        if idx[k] < fills.len() {
                            break;
                        }
                        idx[k] = 0;
                        k += 1;
                    }
                    if k == stars {
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn level_and_rest_wildcards_extend_the_rules() {
        let rows: &[(&str, &str, bool)] = &[
            ("a/+", "a/b", true),
            ("a/+", "a/+", true),
            ("a/+", "a/b/c", false),
            ("a/+", "a/*", false),
            ("a/+", "a/#", false),
            ("a/*", "a/+", true),
            ("a/*", "a/+/c", true),
            ("a/*", "a/#", false), // `a/#` also matches `a`
            ("a/#", "a", true),
            ("a/#", "a/#", true),
            ("a/#", "a/+/c", true),
            ("a/#", "a/*", true),
            ("a/#", "b/#", false),
            ("+/c", "a/c", true),
            ("+/c", "+/c", true),
            ("+/c", "*/c", false),
            ("#", "anything/+/#", true),
            ("a/+/c", "a/+/c", true),
            ("a/+/c", "a/b/c", true),
            ("a/+/c", "a/b/d/c", false),
        ];
        for &(outer, inner, want) in rows {
            assert_eq!(contains(&mq(outer), &mq(inner)), want, "{outer} ⊇ {inner}");
        }
    }

    #[test]
    fn acl_lists() {
        let acl = Acl {
            publish: vec![b"sensors/*".to_vec()],
            subscribe: vec![b"cmd/sensor1/*".to_vec(), b"public".to_vec()],
        };
        assert!(acl.may_publish(b"sensors/temp"));
        assert!(!acl.may_publish(b"cmd/x"));
        // A published `*` is an ordinary byte.
        assert!(!acl.may_publish(b"sens*"));
        assert!(acl.may_subscribe(b"cmd/sensor1/on"));
        assert!(acl.may_subscribe(b"cmd/sensor1/*"));
        assert!(acl.may_subscribe(b"public"));
        assert!(!acl.may_subscribe(b"cmd/*"));
        assert!(!acl.may_subscribe(b"public*"));
        assert!(Acl::everything().may_subscribe(b"*"));
        assert!(!Acl::nothing().may_publish(b"a"));
        assert!(!Acl::nothing().may_subscribe(b"a"));
    }
    #[test]
    fn level_wildcards_as_routing_reads_them() {
        let rows: &[(&str, &str, bool)] = &[
            ("sensors/+", "sensors/temp", true),
            ("sensors/+", "sensors/+", true),
            ("sensors/+", "sensors/a/b", false),
            ("sensors/+", "sensors/*", false),
            ("sensors/+", "sensors/#", false),
            ("sensors/#", "sensors", true),
            ("sensors/#", "sensors/a/+/b", true),
            ("sensors/#", "sensors/*", true),
            ("sensors/*", "sensors/#", false),
            ("sensors/*", "sensors/+", true),
            // Not whole levels: literal bytes, as the matcher reads them.
            ("a/+*", "a/+", false),
            ("a/+x", "a/+x", true),
            ("a/#b", "a/+", false),
            // `$` routes: a leading `+` or `#` never reaches them.
            ("#", "$SYS/x", false),
            ("#", "*", false),
            ("+/temp", "$s/temp", false),
            ("+/temp", "x/temp", true),
            ("#", "a/#", true),
            ("*", "$SYS/#", true),
        ];
        for &(outer, inner, want) in rows {
            assert_eq!(
                within(outer.as_bytes(), inner.as_bytes()),
                want,
                "{outer} ⊇ {inner}"
            );
        }
    }

    /// Soundness with every wildcard: when `within` says yes, each sample
    /// route the inner pattern matches, the outer one matches too.
    #[test]
    fn claimed_containment_holds_with_level_wildcards() {
        let pats = [
            "*", "#", "+", "a/#", "a/+", "+/b", "a/+/b", "a/*", "+/#", "$x/#", "a+", "a/b", "a",
            "$x/+", "*/b", "a/+*",
        ];
        let levels = ["", "a", "b", "$x", "a+", "+", "ab"];
        let mut routes = Vec::new();
        for x in levels {
            routes.push(x.to_string());
            for y in levels {
                routes.push(format!("{x}/{y}"));
                for z in levels {
                    routes.push(format!("{x}/{y}/{z}"));
                }
            }
        }
        for outer in pats {
            for inner in pats {
                if !within(outer.as_bytes(), inner.as_bytes()) {
                    continue;
                }
                for r in &routes {
                    if route::matches(inner.as_bytes(), r.as_bytes()) {
                        assert!(
                            route::matches(outer.as_bytes(), r.as_bytes()),
                            "{outer} claimed to contain {inner}, but not {r}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn forgetting_a_pattern_needs_it_contained() {
        let acl = Acl {
            publish: vec![b"x/+".to_vec(), b"p/*".to_vec()],
            subscribe: Vec::new(),
        };
        assert!(acl.may_publish_all(b"x/a"));
        assert!(acl.may_publish_all(b"x/+"));
        assert!(acl.may_publish_all(b"p/a/#"));
        // `p/#` also matches `p` itself, which `p/*` does not.
        assert!(!acl.may_publish_all(b"p/#"));
        // As a route `x/*` is one level under x; as a pattern it is more.
        assert!(acl.may_publish(b"x/*"));
        assert!(!acl.may_publish_all(b"x/*"));
        assert!(!acl.may_publish_all(b"#"));
    }
}
