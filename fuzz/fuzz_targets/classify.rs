//! Fuzz target: how a client classifies what it receives (PROTOCOL.md §4)
//! and reads NACKs and state codes (§11).
//!
//! The input is one received message; its first bytes also serve as a state
//! code. Checks the prefix rules, that a NACK carries what `nack_state`
//! reads, that ducq's own NACKs read back exactly, and that `pong_for`
//! changes one byte at most. It must not depend on anything but the input.
#![no_main]

use ducq::proto::message::{classify, nack, nack_state, nack_text, pong_for, Kind};
use ducq::proto::State;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let kind = classify(data);
    let state = nack_state(data);
    let _ = nack_text(data);
    assert_eq!(oracle::kind_name(kind), oracle::kind_by_prefix(data));
    if let Kind::Nack(s) = kind {
        assert_eq!(s, state.unwrap_or(State::Unknown));
    }
    assert_eq!(
        kind.is_protocol(),
        !matches!(kind, Kind::Nack(_) | Kind::Data)
    );

    // Any number names a state, the way ducq_state_tostr reads it.
    let mut word = [0u8; 8];
    let n = data.len().min(8);
    word[..n].copy_from_slice(&data[..n]);
    let code = i64::from_le_bytes(word);
    let s = State::from_code(code);
    if code.unsigned_abs() <= 23 {
        assert_eq!(s.code() as u64, code.unsigned_abs());
    } else {
        assert_eq!(s, State::Unknown);
    }
    assert!(s.name().ends_with(s.short_name()));
    assert!(!s.text().is_empty());

    // ducq's own NACK for that state reads back exactly.
    let own = nack(s);
    assert_eq!(classify(&own), Kind::Nack(s));
    assert_eq!(nack_state(&own), Some(s));
    assert_eq!(nack_text(&own), s.text());

    let pong = pong_for(data);
    assert_eq!(pong.len(), data.len());
    for (i, (a, b)) in data.iter().zip(&pong).enumerate() {
        assert!(a == b || (i == 1 && *b == b'O'));
    }
});
