//! The input checks every side of the protocol shares, written once: what
//! a route and a command word may hold. The broker's built-ins, Lua, C
//! commands and the C client calls all use them (through
//! `server::rules` on the server side), so a message refused from one side
//! is refused from every side. Pure checks, no allocation: a client built
//! without the server keeps them.

use super::message::has_zero_byte;
use super::State;

/// Checks a route to publish on or subscribe to: not empty, no newline or
/// NUL byte (a newline would end the route inside the message), at most
/// `max_route` bytes (`EMsgSize` beyond).
pub fn check_route(route: &[u8], max_route: usize) -> Result<(), State> {
    if route.is_empty() || has_newline_or_nul(route) {
        return Err(State::EMsgInv);
    }
    if route.len() > max_route {
        return Err(State::EMsgSize);
    }
    Ok(())
}

/// Whether `route` holds a newline or a NUL byte, eight bytes at a time
/// (the last word overlapping the one before it, so there is no byte loop
/// at the end): two `contains` calls, each through the generic `memchr`,
/// were about a tenth of the server's instructions for a small
/// publication, whose route is checked on every `pub`. A plain loop over
/// whole words: the `step_by(8).chain(..)` iterator this replaced was
/// left as a call per publication (about 110 instructions for a 22-byte
/// route, under callgrind).
fn has_newline_or_nul(route: &[u8]) -> bool {
    const NEWLINE: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let hit = |bytes: &[u8]| {
        let word = u64::from_ne_bytes(bytes.try_into().unwrap_or([0; 8]));
        has_zero_byte(word) || has_zero_byte(word ^ NEWLINE)
    };
    let Some(last) = route.len().checked_sub(8) else {
        return route.iter().any(|&b| b == b'\n' || b == 0);
    };
    let mut words = route.chunks_exact(8);
    if words.by_ref().any(hit) {
        return true;
    }
    !words.remainder().is_empty() && route.get(last..).is_some_and(hit)
}

/// Checks a command word: not empty, no space, newline or NUL byte (each
/// would end the word inside a message).
pub fn check_command_name(name: &[u8]) -> Result<(), State> {
    if name.is_empty() || name.iter().any(|&b| b == b' ' || b == b'\n' || b == 0) {
        return Err(State::EMsgInv);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(check_route(b"a/b", 8), Ok(()));
        assert_eq!(check_route(b"12345678", 8), Ok(()));
        assert_eq!(check_route(b"123456789", 8), Err(State::EMsgSize));
        for bad in [&b""[..], b"a\nb", b"a\0b", b"\n"] {
            assert_eq!(check_route(bad, 8), Err(State::EMsgInv), "{bad:?}");
        }
    }

    #[test]
    fn a_newline_or_nul_is_found_at_every_position_of_every_length() {
        // Past the lengths a vector loop handles in one step, and the
        // bytes next to the two refused ones, which must pass.
        for len in 1..70 {
            let good: Vec<u8> = (0..len)
                .map(|i| [b'a', 0x0b, 0x01, 0x09, 0xff][i % 5])
                .collect();
            assert_eq!(check_route(&good, 100), Ok(()), "{len}");
            for at in 0..len {
                for byte in [b'\n', 0] {
                    let mut bad = good.clone();
                    bad[at] = byte;
                    assert_eq!(
                        check_route(&bad, 100),
                        Err(State::EMsgInv),
                        "{len} {at} {byte}"
                    );
                }
            }
        }
        // Refused for what it holds before its length is looked at.
        assert_eq!(check_route(b"123456789\n", 8), Err(State::EMsgInv));
    }

    #[test]
    fn command_names() {
        assert_eq!(check_command_name(b"lsconn"), Ok(()));
        assert_eq!(check_command_name(b"x.y-z"), Ok(()));
        for bad in [&b""[..], b"a b", b"a\n", b"\0", b" "] {
            assert_eq!(check_command_name(bad), Err(State::EMsgInv), "{bad:?}");
        }
    }
}
