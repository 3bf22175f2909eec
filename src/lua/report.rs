//! What the host reports: why it could not start or take a path
//! ([`LuaError`]), what a path loaded ([`Loaded`]), and a one-line account
//! of a Lua error with its file and line, for logs and NACK texts.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::proto::State;

/// Why the host could not start or take a path.
#[derive(Debug)]
pub enum LuaError {
    /// A path could not be read or found.
    Io {
        /// The path given.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The Lua state could not be set up.
    Lua(mlua::Error),
}

impl LuaError {
    /// The ducq state for this error (`EFILE` or `ELUA`), for the C ABI.
    pub fn state(&self) -> State {
        match self {
            LuaError::Io { .. } => State::EFile,
            LuaError::Lua(_) => State::ELua,
        }
    }
}

impl fmt::Display for LuaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LuaError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LuaError::Lua(e) => write!(f, "lua: {e}"),
        }
    }
}

impl std::error::Error for LuaError {}

impl From<mlua::Error> for LuaError {
    fn from(e: mlua::Error) -> LuaError {
        LuaError::Lua(e)
    }
}

/// What `add_path` loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Files that loaded.
    pub files: usize,
    /// Commands those files define.
    pub commands: usize,
    /// One line (`file:line: message`) per file that failed to load; such
    /// files are retried when they are written again.
    pub failed: Vec<String>,
}

impl Loaded {
    /// `OK`, or `ELUA` when a file failed to load (for the C ABI).
    pub fn state(&self) -> State {
        if self.failed.is_empty() {
            State::Ok
        } else {
            State::ELua
        }
    }
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// `file:line` of the innermost Lua frame of a traceback.
pub(super) fn location(traceback: &str) -> Option<&str> {
    traceback
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("[C]") && !l.starts_with("stack traceback"))
        .find_map(|l| l.find(": in ").map(|i| &l[..i]))
}

/// A one-line account of a Lua error, with its file and line when known.
pub(super) fn describe(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { traceback, cause } => {
            let inner = describe(cause);
            match location(traceback) {
                Some(at) if !inner.contains(at) => format!("{at}: {inner}"),
                _ => inner,
            }
        }
        mlua::Error::WithContext { context, cause } => format!("{context}: {}", describe(cause)),
        mlua::Error::RuntimeError(s) => first_line(s).to_string(),
        mlua::Error::SyntaxError { message, .. } => first_line(message).to_string(),
        mlua::Error::MemoryError(_) => "out of memory (Lua memory limit reached)".to_string(),
        other => first_line(&other.to_string()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceback_location() {
        let tb = "stack traceback:\n\t[C]: in ?\n\t/tmp/d/a.lua:3: in function 'exec'";
        assert_eq!(location(tb), Some("/tmp/d/a.lua:3"));
        assert_eq!(location("stack traceback:\n\t[C]: in ?"), None);
    }
}
