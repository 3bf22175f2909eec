//! Fuzz target: message parse and format (PROTOCOL.md §3).
//!
//! The whole input is parsed and compared with the reference split; then the
//! input is cut (at offsets taken from its first two bytes) into a command,
//! a route and a payload, made formattable, formatted and parsed back, which
//! must give the same three parts. It must not depend on anything but the
//! input.
#![no_main]

use ducq::proto::message::{format, format_into, Message};
use ducq::proto::State;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    check_parse(data);

    let [a, b, rest @ ..] = data else {
        return;
    };
    let cut1 = usize::from(*a).min(rest.len());
    let cut2 = (cut1 + usize::from(*b)).min(rest.len());
    // What the format contract excludes is removed rather than the input
    // skipped, so most inputs still exercise the round trip.
    let command: Vec<u8> = rest[..cut1]
        .iter()
        .copied()
        .filter(|&c| c != b' ' && c != b'\n')
        .collect();
    let route: Vec<u8> = rest[cut1..cut2]
        .iter()
        .copied()
        .filter(|&c| c != b'\n' && c != 0)
        .collect();
    let payload = &rest[cut2..];

    let raw = format(&command, &route, payload);
    let mut appended = b"prefix".to_vec();
    format_into(&mut appended, &command, &route, payload);
    assert_eq!(&appended[6..], &raw[..]);

    let m = Message::parse(&raw).expect("a formatted message parses");
    assert_eq!(m.command, &command[..]);
    assert_eq!(m.route, &route[..]);
    assert_eq!(m.payload, payload);
    assert!(m.has_newline);
    assert_eq!(m.raw, &raw[..]);
});

/// Parses `raw`, checks it against the reference, and checks that
/// formatting the parts and parsing again is stable.
fn check_parse(raw: &[u8]) {
    let got = Message::parse(raw);
    match (got, oracle::split_message(raw)) {
        (Err(e), None) => assert_eq!(e, State::EMsgInv),
        (Ok(m), Some((command, route, payload, has_newline))) => {
            assert_eq!(m.command, command);
            assert_eq!(m.route, route);
            assert_eq!(m.payload, payload);
            assert_eq!(m.has_newline, has_newline);
            assert_eq!(m.raw, raw);
            let _ = m.command_str();

            let again = format(m.command, m.route, m.payload);
            let m2 = Message::parse(&again).expect("reformatted message parses");
            assert_eq!(
                (m2.command, m2.route, m2.payload),
                (command, route, payload)
            );
            // With both separators present, formatting gives the bytes back.
            let had_space = raw.len() > command.len() && raw[command.len()] == b' ';
            if has_newline && had_space {
                assert_eq!(again, raw);
            }
        }
        (got, want) => panic!("parse gave {got:?}, reference {want:?}"),
    }
}
