//! The broker's input rules, written once: what a route and a command name
//! may hold (the pure checks live in [`crate::proto::checks`], shared with
//! the client side, and are re-exported here), which names are the core
//! protocol's, and how a command's doc is cleaned for `lscmd`. The
//! built-in commands, Lua scripts, C commands and the C API all call
//! these, so a route refused over TCP is refused from C too. No I/O.

use super::commands;
pub use crate::proto::checks::{check_command_name, check_route};

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
