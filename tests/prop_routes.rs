//! Property tests for route patterns (PROTOCOL.md §7): the matcher against
//! references written straight from the rules — MQTT 3.1.1 §4.7 plus ducq's
//! compatibility rule for `+` and `#`, the original's byte glob for `*`, and
//! a naive backtracking matcher for patterns that mix them — and the
//! server's subscription index against testing every pattern. No sockets.

mod oracle;

use std::collections::BTreeSet;

use ducq::proto::route::{is_pattern, matches};
use ducq::server::broker::Subscriptions;
use proptest::collection::vec;
use proptest::prelude::*;

/// Splits on `/` into levels (an empty input is one empty level, as in
/// MQTT).
fn levels(s: &[u8]) -> Vec<&[u8]> {
    s.split(|&b| b == b'/').collect()
}

/// MQTT 3.1.1 §4.7, level by level, with ducq's compatibility rule: a `+`
/// or `#` is a wildcard only as a whole level (`#` only as the last one);
/// anywhere else it is an ordinary character. `*` is not known here.
fn mqtt_reference(filter: &[u8], topic: &[u8]) -> bool {
    let f = levels(filter);
    let t = levels(topic);
    // §4.7.2: a filter starting with a wildcard does not match `$` topics.
    let leading = f[0] == b"+" || (f[0] == b"#" && f.len() == 1);
    if topic.first() == Some(&b'$') && leading {
        return false;
    }
    for (i, level) in f.iter().enumerate() {
        // §4.7.1.2: `#` matches the parent and any number of child levels.
        if *level == b"#" && i == f.len() - 1 {
            return true;
        }
        let Some(topic_level) = t.get(i) else {
            return false;
        };
        // §4.7.1.3: `+` matches exactly one level (possibly empty).
        if *level != b"+" && level != topic_level {
            return false;
        }
    }
    f.len() == t.len()
}

/// Whether a pattern has a `+` or `#` in wildcard position (by the rule
/// above).
fn has_level_wildcard(pattern: &[u8]) -> bool {
    let f = levels(pattern);
    f.iter().any(|l| *l == b"+") || f.last() == Some(&&b"#"[..])
}

#[derive(Debug, Clone, Copy)]
enum Tok {
    Lit(u8),
    /// `*`: any bytes.
    Star,
    /// A whole-level `+`: any bytes without `/`.
    Plus,
    /// A final `/#` (`slash`) or a pattern that is just `#`.
    Hash {
        slash: bool,
    },
}

fn tokens(pattern: &[u8]) -> Vec<Tok> {
    let f = levels(pattern);
    let mut toks = Vec::new();
    for (i, level) in f.iter().enumerate() {
        let last = i == f.len() - 1;
        if *level == b"#" && last {
            if i > 0 {
                toks.pop(); // the `/` before it
            }
            toks.push(Tok::Hash { slash: i > 0 });
            break;
        }
        if *level == b"+" {
            toks.push(Tok::Plus);
        } else {
            toks.extend(
                level
                    .iter()
                    .map(|&b| if b == b'*' { Tok::Star } else { Tok::Lit(b) }),
            );
        }
        if !last {
            toks.push(Tok::Lit(b'/'));
        }
    }
    toks
}

/// Every way of matching, tried one by one.
fn naive(toks: &[Tok], s: &[u8]) -> bool {
    match toks.split_first() {
        None => s.is_empty(),
        Some((Tok::Star, rest)) => (0..=s.len()).any(|i| naive(rest, &s[i..])),
        Some((Tok::Plus, rest)) => (0..=s.len())
            .take_while(|&i| !s[..i].contains(&b'/'))
            .any(|i| naive(rest, &s[i..])),
        Some((Tok::Hash { slash: true }, _)) => s.is_empty() || s[0] == b'/',
        Some((Tok::Hash { slash: false }, _)) => true,
        Some((Tok::Lit(b), rest)) => s.first() == Some(b) && naive(rest, &s[1..]),
    }
}

/// The whole rule set, by brute force.
fn naive_reference(pattern: &[u8], route: &[u8]) -> bool {
    let f = levels(pattern);
    let leading = f[0] == b"+" || (f[0] == b"#" && f.len() == 1);
    if route.first() == Some(&b'$') && leading {
        return false;
    }
    naive(&tokens(pattern), route)
}

fn from(alphabet: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(prop::sample::select(alphabet), 0..max)
}

/// Patterns built from levels, so whole-level wildcards are frequent.
fn level_pattern(with_star: bool) -> impl Strategy<Value = Vec<u8>> {
    let choices: &'static [&'static str] = if with_star {
        &[
            "a", "b", "", "+", "#", "*", "a*", "*b", "+a", "#b", "$", "$a",
        ]
    } else {
        &["a", "b", "", "+", "#", "+a", "a#", "$", "$a"]
    };
    vec(prop::sample::select(choices), 1..5).prop_map(|ls| ls.join("/").into_bytes())
}

fn level_route() -> impl Strategy<Value = Vec<u8>> {
    let choices: &'static [&'static str] = &["a", "b", "", "+", "#", "*", "ab", "$", "$a"];
    vec(prop::sample::select(choices), 1..6).prop_map(|ls| ls.join("/").into_bytes())
}

/// A route made from `pattern` by filling its wildcards with choices from
/// `seeds` (so matches, near misses and the `#` parent case are frequent).
fn instantiate(pattern: &[u8], seeds: &[u8]) -> Vec<u8> {
    let fills: [&[u8]; 6] = [b"", b"a", b"b", b"a/b", b"$", b"/"];
    let mut seeds = seeds.iter().cycle();
    let mut pick = || fills[usize::from(*seeds.next().unwrap_or(&0)) % fills.len()];
    let f = levels(pattern);
    let mut out = Vec::new();
    for (i, level) in f.iter().enumerate() {
        if *level == b"#" && i == f.len() - 1 {
            let fill = pick();
            if fill.is_empty() {
                out.pop(); // the parent itself
            } else {
                out.extend_from_slice(fill);
            }
            break;
        }
        if *level == b"+" {
            out.extend(pick().iter().filter(|&&b| b != b'/'));
        } else {
            for &b in *level {
                if b == b'*' {
                    out.extend_from_slice(pick());
                } else {
                    out.push(b);
                }
            }
        }
        if i < f.len() - 1 {
            out.push(b'/');
        }
    }
    out
}

fn near_pair(with_star: bool) -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (level_pattern(with_star), vec(any::<u8>(), 1..8), 0u8..8).prop_map(|(p, seeds, tweak)| {
        let mut r = instantiate(&p, &seeds);
        match tweak {
            0 => r.push(b'x'),
            1 => {
                r.pop();
            }
            2 => r.insert(0, b'$'),
            _ => {}
        }
        (p, r)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The same three properties on routes made from their patterns.
    #[test]
    fn near_routes_equal_the_references((pattern, route) in prop_oneof![near_pair(false), near_pair(true)]) {
        let got = matches(&pattern, &route);
        prop_assert_eq!(got, naive_reference(&pattern, &route));
        if !pattern.contains(&b'*') {
            prop_assert_eq!(got, mqtt_reference(&pattern, &route));
        }
        if !has_level_wildcard(&pattern) {
            prop_assert_eq!(got, oracle::glob(&pattern, &route));
        }
    }

    /// Without `*`, matching is MQTT's, plus the compatibility rule.
    #[test]
    fn without_star_equals_mqtt(
        pattern in prop_oneof![from(b"ab/+#$", 10), level_pattern(false)],
        route in prop_oneof![from(b"ab/+#$", 10), level_route()],
    ) {
        prop_assert_eq!(matches(&pattern, &route), mqtt_reference(&pattern, &route));
    }

    /// A pattern with no `+`/`#` in wildcard position matches exactly what
    /// the original's byte glob matches: routes used by original clients
    /// keep their meaning, `$` routes included.
    #[test]
    fn without_level_wildcards_equals_the_glob(
        pattern in prop_oneof![from(b"ab/*+#$", 10), level_pattern(true)],
        route in prop_oneof![from(b"ab/*+#$", 10), level_route()],
    ) {
        prop_assume!(!has_level_wildcard(&pattern));
        prop_assert_eq!(matches(&pattern, &route), oracle::glob(&pattern, &route));
    }

    /// Patterns mixing all three wildcards, against brute force.
    #[test]
    fn mixed_equals_brute_force(
        pattern in prop_oneof![from(b"ab/*+#$", 10), level_pattern(true)],
        route in prop_oneof![from(b"ab/*+#$", 12), level_route()],
    ) {
        prop_assert_eq!(matches(&pattern, &route), naive_reference(&pattern, &route));
    }

    /// `is_pattern` says whether anything but the pattern itself can match.
    #[test]
    fn plain_routes_match_only_themselves(
        pattern in prop_oneof![from(b"ab/*+#$", 8), level_pattern(true)],
        route in prop_oneof![from(b"ab/*+#$", 8), level_route()],
    ) {
        prop_assert!(matches(&pattern, &pattern));
        if !is_pattern(&pattern) {
            prop_assert_eq!(matches(&pattern, &route), pattern == route);
        }
    }
}

/// The references themselves, on the rows of MQTT 3.1.1 §4.7's examples,
/// so a wrong oracle cannot make the properties pass vacuously.
#[test]
fn references_follow_the_mqtt_examples() {
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
        ("#", "sport/tennis", true),
        ("sport/tennis/#", "sport/tennis", true),
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("#", "$SYS/x", false),
        ("+/monitor/Clients", "$SYS/monitor/Clients", false),
        ("$SYS/#", "$SYS/x", true),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
        // The compatibility rule: not whole levels, so literal.
        ("sport+", "sport+", true),
        ("sport+", "sports", false),
        ("sport/#/x", "sport/#/x", true),
        ("sport/#/x", "sport/a/x", false),
    ];
    for (p, r, want) in rows {
        let (p, r) = (p.as_bytes(), r.as_bytes());
        assert_eq!(mqtt_reference(p, r), *want, "mqtt {p:?} {r:?}");
        assert_eq!(naive_reference(p, r), *want, "naive {p:?} {r:?}");
        assert_eq!(matches(p, r), *want, "matches {p:?} {r:?}");
    }
    assert!(naive_reference(b"a*/+", b"abc/d"));
    assert!(!naive_reference(b"*/+/c", b"c"));
    assert!(naive_reference(b"*", b"$SYS"));
}

/// Keys the index reports for `route`, deduplicated.
fn indexed(s: &Subscriptions, route: &[u8]) -> BTreeSet<usize> {
    let mut got = BTreeSet::new();
    s.for_each_subscriber(route, |k| {
        got.insert(k);
    });
    got
}

/// Keys whose subscriptions match `route`, testing every one.
fn scanned(subs: &[(usize, Vec<u8>)], route: &[u8]) -> BTreeSet<usize> {
    subs.iter()
        .filter(|(_, p)| matches(p, route))
        .map(|&(k, _)| k)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The subscription index reports exactly the keys whose patterns
    /// match, through subscribes, re-subscribes and unsubscribes.
    #[test]
    fn index_equals_testing_every_pattern(
        ops in vec((0usize..6, prop_oneof![level_pattern(true), level_route()], 0u8..4), 1..40),
        routes in vec(level_route(), 1..12),
    ) {
        let mut index = Subscriptions::default();
        let mut model: Vec<(usize, Vec<u8>)> = Vec::new();
        for (key, pattern, op) in ops {
            match op {
                // sub R (replaces)
                0 => {
                    index.subscribe(key, &pattern, false);
                    model.retain(|(k, _)| *k != key);
                    model.push((key, pattern));
                }
                // unsubscribe R
                1 => {
                    let held = model.iter().position(|(k, p)| *k == key && *p == pattern);
                    prop_assert_eq!(index.unsubscribe(key, &pattern), held.is_some());
                    if let Some(i) = held {
                        model.remove(i);
                    }
                }
                // sub R add
                _ => {
                    index.subscribe(key, &pattern, true);
                    if !model.iter().any(|(k, p)| *k == key && *p == pattern) {
                        model.push((key, pattern));
                    }
                }
            }
            for r in &routes {
                prop_assert_eq!(indexed(&index, r), scanned(&model, r), "route {:?}", r);
            }
        }
        for key in 0..6 {
            index.remove_conn(key);
        }
        for r in &routes {
            prop_assert!(indexed(&index, r).is_empty());
        }
    }
}
