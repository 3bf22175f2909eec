//! Fuzz target: route pattern matching (PROTOCOL.md §7) against a dynamic
//! programming reference.
//!
//! Input layout: the pattern, a `\n`, the route (routes never hold `\n`, so
//! the first one is a safe separator; without one the input is both). It must
//! not depend on anything but the input.
#![no_main]

use ducq::proto::route::{is_pattern, matches};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let (pattern, route) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let got = matches(pattern, route);
    assert_eq!(
        got,
        oracle::glob(pattern, route),
        "pattern {pattern:?} route {route:?}"
    );

    assert_eq!(is_pattern(pattern), pattern.contains(&b'*'));
    if !is_pattern(pattern) {
        assert_eq!(got, pattern == route);
    }
    // A pattern matches itself: its stars may stand for themselves.
    assert!(matches(pattern, pattern));
    assert!(matches(b"*", route));
    // Doubling a star changes nothing.
    if let Some(i) = pattern.iter().position(|&b| b == b'*') {
        let mut doubled = pattern.to_vec();
        doubled.insert(i, b'*');
        assert_eq!(matches(&doubled, route), got);
    }
});
