//! The input checks every side of the protocol shares, written once: what
//! a route and a command word may hold. The broker's built-ins, Lua, C
//! commands and the C client calls all use them (through
//! `server::rules` on the server side), so a message refused from one side
//! is refused from every side. Pure checks, no allocation: a client built
//! without the server keeps them.

use super::State;

/// Checks a route to publish on or subscribe to: not empty, no newline or
/// NUL byte (a newline would end the route inside the message), at most
/// `max_route` bytes (`EMsgSize` beyond).
pub fn check_route(route: &[u8], max_route: usize) -> Result<(), State> {
    if route.is_empty() || route.contains(&b'\n') || route.contains(&0) {
        return Err(State::EMsgInv);
    }
    if route.len() > max_route {
        return Err(State::EMsgSize);
    }
    Ok(())
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
    fn command_names() {
        assert_eq!(check_command_name(b"lsconn"), Ok(()));
        assert_eq!(check_command_name(b"x.y-z"), Ok(()));
        for bad in [&b""[..], b"a b", b"a\n", b"\0", b" "] {
            assert_eq!(check_command_name(bad), Err(State::EMsgInv), "{bad:?}");
        }
    }
}
