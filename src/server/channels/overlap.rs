//! Whether two route patterns can match a common route: the test that
//! decides which channels govern a subscription (`sub #` must meet the
//! channel of `secret/#`, or a refusing `on_subscribe` could be walked
//! around). Pure; no I/O. It leans towards "yes" in the one corner it does
//! not decide exactly (see `overlaps`), which only means a hook is asked
//! once more than needed.

use crate::proto::route::{is_hash, is_plus, leading_level_wildcard};

/// One element of a pattern.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    /// A byte that must be there.
    Byte(u8),
    /// `*`: any bytes, `/` included.
    Star,
    /// A whole-level `+`: any bytes but `/`.
    Plus,
}

/// A pattern as the alternatives it stands for, wildcards as tokens. A
/// final whole-level `#` is two alternatives: the parent level alone
/// (`a/#` matches `a`) and the parent, a `/`, anything (`#` alone: anything).
fn alternatives(pattern: &[u8]) -> Vec<Vec<Tok>> {
    let hash = pattern
        .len()
        .checked_sub(1)
        .is_some_and(|p| is_hash(pattern, p));
    let body = if hash {
        pattern.get(..pattern.len() - 1).unwrap_or(&[])
    } else {
        pattern
    };
    let toks: Vec<Tok> = body
        .iter()
        .enumerate()
        .map(|(i, &b)| match b {
            b'*' => Tok::Star,
            b'+' if is_plus(pattern, i) => Tok::Plus,
            b => Tok::Byte(b),
        })
        .collect();
    if !hash {
        return vec![toks];
    }
    // `body` is empty (`#`) or ends with the `/` before the `#`.
    let mut anything = toks.clone();
    anything.push(Tok::Star);
    match toks.split_last() {
        Some((Tok::Byte(b'/'), parent)) => vec![parent.to_vec(), anything],
        _ => vec![anything],
    }
}

/// Whether some route matches both `a` and `b` (patterns as `sub` takes
/// them; a route without wildcards stands for itself).
///
/// The `$` rule (a leading `+` or `#` does not match a route starting with
/// `$`) is applied where a pattern starts with a literal `$`; a pattern
/// that could start with `$` only through a `*` is taken to overlap, the
/// cautious answer.
pub fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let dollar = |p: &[u8]| p.first() == Some(&b'$');
    if (leading_level_wildcard(a) && dollar(b)) || (leading_level_wildcard(b) && dollar(a)) {
        return false;
    }
    let (alts_a, alts_b) = (alternatives(a), alternatives(b));
    alts_a
        .iter()
        .any(|x| alts_b.iter().any(|y| intersect(x, y)))
}

/// Whether the languages of two token strings intersect: a search over
/// pairs of positions, each visited once, so at most `(|a|+1)·(|b|+1)`
/// steps and no recursion.
fn intersect(a: &[Tok], b: &[Tok]) -> bool {
    let width = b.len() + 1;
    let mut seen = vec![false; (a.len() + 1) * width];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, j)) = stack.pop() {
        let Some(slot) = seen.get_mut(i * width + j) else {
            continue;
        };
        if *slot {
            continue;
        }
        *slot = true;
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        if x.is_none() && y.is_none() {
            return true;
        }
        // A wildcard may match nothing more.
        if matches!(x, Some(Tok::Star | Tok::Plus)) {
            stack.push((i + 1, j));
        }
        if matches!(y, Some(Tok::Star | Tok::Plus)) {
            stack.push((i, j + 1));
        }
        // One byte both accept. Two wildcards taking a byte each stay
        // where they are, which adds nothing.
        match (x, y) {
            (Some(Tok::Byte(p)), Some(Tok::Byte(q))) if p == q => stack.push((i + 1, j + 1)),
            (Some(Tok::Byte(p)), Some(w)) if takes(w, p) => stack.push((i + 1, j)),
            (Some(w), Some(Tok::Byte(q))) if takes(w, q) => stack.push((i, j + 1)),
            _ => {}
        }
    }
    false
}

/// Whether wildcard `w` can take byte `b` and stay where it is.
fn takes(w: Tok, b: u8) -> bool {
    match w {
        Tok::Star => true,
        Tok::Plus => b != b'/',
        Tok::Byte(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::route::matches;

    #[test]
    fn table() {
        let rows: &[(&str, &str, bool)] = &[
            ("a/b", "a/b", true),
            ("a/b", "a/c", false),
            ("#", "secret/x", true),
            ("#", "secret/#", true),
            ("*", "secret/#", true),
            ("+/x", "secret/#", true),
            ("+", "secret/#", true),
            ("+/+/+", "a/#", true),
            ("a/+", "b/#", false),
            ("a/#", "a", true),
            ("a/#", "ab", false),
            ("a/*", "a", false),
            ("a*", "a", true),
            ("a/+/c", "a/*/d", false),
            ("a/+/c", "*/c", true),
            ("x/+", "x/a/b", false),
            ("x/*", "x/a/b", true),
            ("#", "$SYS/x", false),
            ("+/#", "$SYS/#", false),
            ("$SYS/#", "$SYS/+", true),
            ("*", "$SYS/x", true),
            ("a+", "a/+", false),
            ("a+", "a+", true),
            ("a/#/b", "a/x/b", false),
            ("a/#/b", "a/+/b", true),
        ];
        for (a, b, want) in rows {
            assert_eq!(overlaps(a.as_bytes(), b.as_bytes()), *want, "{a} ∩ {b}");
            assert_eq!(overlaps(b.as_bytes(), a.as_bytes()), *want, "{b} ∩ {a}");
        }
    }

    /// Every route over a small alphabet up to a length, to compare with.
    fn routes(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut out = vec![Vec::new()];
        let mut layer = vec![Vec::new()];
        for _ in 0..max {
            let mut next = Vec::new();
            for r in &layer {
                for &c in alphabet {
                    let mut r = r.clone();
                    r.push(c);
                    next.push(r);
                }
            }
            out.extend(next.iter().cloned());
            layer = next;
        }
        out
    }

    /// Against brute force: every pattern of up to three bytes over `a`,
    /// `/` and the wildcards, against every route of up to six bytes over
    /// `a`, `/`, `+`, `#` (a literal `+` or `#` is an ordinary byte; six
    /// bytes are enough for any two such patterns to meet).
    #[test]
    fn agrees_with_enumeration() {
        let pats: Vec<Vec<u8>> = routes(b"a/*+#", 3)
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        let all = routes(b"a/+#", 6);
        let words = all.len().div_ceil(64);
        let sets: Vec<Vec<u64>> = pats
            .iter()
            .map(|p| {
                let mut set = vec![0u64; words];
                for (i, r) in all.iter().enumerate() {
                    if matches(p, r) {
                        set[i / 64] |= 1 << (i % 64);
                    }
                }
                set
            })
            .collect();
        for (a, sa) in pats.iter().zip(&sets) {
            for (b, sb) in pats.iter().zip(&sets) {
                let both = sa.iter().zip(sb).any(|(x, y)| x & y != 0);
                assert_eq!(
                    overlaps(a, b),
                    both,
                    "{} ∩ {}",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                );
            }
        }
    }

    #[test]
    fn long_patterns_stay_cheap() {
        let a = b"*/".repeat(500);
        let b = [b"+/x/".repeat(250), b"y".to_vec()].concat();
        assert!(!overlaps(&a, &b));
        assert!(overlaps(&a, &b"+/x/".repeat(250)));
        let c = [b"a".repeat(1000), b"b".to_vec()].concat();
        assert!(!overlaps(&c, &b"a".repeat(1001)));
    }
}
