//! The broker's input rules, written once: what a route and a command name
//! may hold, and how a command's doc is cleaned for `lscmd`. The built-in
//! commands, Lua scripts, C commands and the C API all call these, so a
//! route refused over TCP is refused from C too. Pure checks; no I/O.

use super::commands;
use crate::proto::State;

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

/// Whether `name` belongs to the core protocol (`pub`, `sub`, `PING`,
/// `lscmd`, … and their aliases), which no C or Lua command may replace.
pub fn is_core_command(name: &[u8]) -> bool {
    commands::core().iter().any(|b| b.name.as_bytes() == name)
}

/// A doc fit for one `lscmd` line (`"name","doc"`): control characters
/// become spaces and double quotes single ones, so no doc can cut the line.
pub fn clean_doc(doc: &str) -> String {
    doc.chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
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

    #[test]
    fn core_names() {
        for core in [
            "pub",
            "publish",
            "sub",
            "subscribe",
            "PING",
            "PONG",
            "lscmd",
            "help",
        ] {
            assert!(is_core_command(core.as_bytes()), "{core}");
        }
        for other in ["lsconn", "unsub", "time", "epoch", "hello"] {
            assert!(!is_core_command(other.as_bytes()), "{other}");
        }
    }

    #[test]
    fn docs_cannot_cut_a_listing_line() {
        assert_eq!(clean_doc("send \"x\"\r\nto\ta room"), "send 'x'  to a room");
        assert_eq!(clean_doc("plain"), "plain");
    }
}
