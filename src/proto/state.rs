//! The ducq state codes: the 24 of the original C library with their names,
//! numbers and texts exactly as it defined them (PROTOCOL.md §11), and the
//! codes added after them (24: access denied). Pure data; no I/O.

use std::fmt;

/// A ducq state (error) code. The numbers are part of the wire contract: NACK
/// replies carry them in decimal, and C programs compare against them.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// ok
    Ok = 0,
    /// protocol-layer message (not an error)
    Protocol = 1,
    /// received NACK from server
    Nack = 2,
    /// error
    Error = 3,
    /// null parameter
    ENull = 4,
    /// std c lib error
    EStdc = 5,
    /// os memory allocation failed
    EMemFail = 6,
    /// os file io error
    EFile = 7,
    /// os communication layer error
    ECommLayer = 8,
    /// could not connect to server
    EConnect = 9,
    /// connection closed
    EConnClosed = 10,
    /// communication write error
    EWrite = 11,
    /// communication read error
    ERead = 12,
    /// error closing connection
    EClose = 13,
    /// timeout
    ETimeout = 14,
    /// message invalid
    EMsgInv = 15,
    /// message too big
    EMsgSize = 16,
    /// command unknown
    ENoCmd = 17,
    /// no ack received
    EAck = 18,
    /// connection not found
    ENotFound = 19,
    /// not implemented yet
    ENoImpl = 20,
    /// collection reached maximum count
    EMax = 21,
    /// lua error
    ELua = 22,
    /// unknown error
    Unknown = 23,
    /// access denied: authentication failed or required, or a route outside
    /// the user's access list (beyond the original)
    EAccess = 24,
}

/// Every state in numeric order; `ALL[n as usize] as i32 == n`.
pub const ALL: [State; 25] = [
    State::Ok,
    State::Protocol,
    State::Nack,
    State::Error,
    State::ENull,
    State::EStdc,
    State::EMemFail,
    State::EFile,
    State::ECommLayer,
    State::EConnect,
    State::EConnClosed,
    State::EWrite,
    State::ERead,
    State::EClose,
    State::ETimeout,
    State::EMsgInv,
    State::EMsgSize,
    State::ENoCmd,
    State::EAck,
    State::ENotFound,
    State::ENoImpl,
    State::EMax,
    State::ELua,
    State::Unknown,
    State::EAccess,
];

const NAMES: [&str; 25] = [
    "DUCQ_OK",
    "DUCQ_PROTOCOL",
    "DUCQ_NACK",
    "DUCQ_ERROR",
    "DUCQ_ENULL",
    "DUCQ_ESTDC",
    "DUCQ_EMEMFAIL",
    "DUCQ_EFILE",
    "DUCQ_ECOMMLAYER",
    "DUCQ_ECONNECT",
    "DUCQ_ECONNCLOSED",
    "DUCQ_EWRITE",
    "DUCQ_EREAD",
    "DUCQ_ECLOSE",
    "DUCQ_ETIMEOUT",
    "DUCQ_EMSGINV",
    "DUCQ_EMSGSIZE",
    "DUCQ_ENOCMD",
    "DUCQ_EACK",
    "DUCQ_ENOTFOUND",
    "DUCQ_ENOIMPL",
    "DUCQ_EMAX",
    "DUCQ_ELUA",
    "DUCQ_UNKNOWN",
    "DUCQ_EACCESS",
];

const TEXTS: [&str; 25] = [
    "ok",
    "protocol-layer message (not an error)",
    "received NACK from server",
    "error",
    "null parameter",
    "std c lib error",
    "os memory allocation failed",
    "os file io error",
    "os communication layer error",
    "could not connect to server",
    "connection closed",
    "communication write error",
    "communication read error",
    "error closing connection",
    "timeout",
    "message invalid",
    "message too big",
    "command unknown",
    "no ack received",
    "connection not found",
    "not implemented yet",
    "collection reached maximum count",
    "lua error",
    "unknown error",
    "access denied",
];

impl State {
    /// The state for a number, as `ducq_state_tostr` reads it: a negative
    /// code counts as its absolute value, anything above the last code (24)
    /// is `Unknown`.
    pub fn from_code(code: i64) -> State {
        usize::try_from(code.unsigned_abs())
            .ok()
            .and_then(|n| ALL.get(n))
            .copied()
            .unwrap_or(State::Unknown)
    }

    /// The number on the wire and in C.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The C name, e.g. `"DUCQ_EMSGINV"`.
    pub fn name(self) -> &'static str {
        NAMES.get(self as usize).copied().unwrap_or("DUCQ_UNKNOWN")
    }

    /// The name without the `DUCQ_` prefix, e.g. `"EMSGINV"`.
    pub fn short_name(self) -> &'static str {
        let name = self.name();
        name.strip_prefix("DUCQ_").unwrap_or(name)
    }

    /// The human text, e.g. `"message invalid"`.
    pub fn text(self) -> &'static str {
        TEXTS.get(self as usize).copied().unwrap_or("unknown error")
    }

    /// States from 3 up are errors; `Ok`, `Protocol` and `Nack` are not.
    pub fn is_error(self) -> bool {
        self as i32 >= 3
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_names_and_texts_match_the_contract() {
        for (n, s) in ALL.iter().enumerate() {
            assert_eq!(s.code() as usize, n);
            assert_eq!(State::from_code(n as i64), *s);
        }
        assert_eq!(State::EMsgInv.code(), 15);
        assert_eq!(State::EMsgInv.name(), "DUCQ_EMSGINV");
        assert_eq!(State::EMsgInv.text(), "message invalid");
        assert_eq!(State::ENoCmd.text(), "command unknown");
        assert_eq!(State::ELua.name(), "DUCQ_ELUA");
        assert_eq!(State::Unknown.code(), 23);
        assert_eq!(State::ENotFound.short_name(), "ENOTFOUND");
    }

    #[test]
    fn from_code_folds_negative_and_large() {
        assert_eq!(State::from_code(-15), State::EMsgInv);
        assert_eq!(State::from_code(24), State::EAccess);
        assert_eq!(State::from_code(25), State::Unknown);
        assert_eq!(State::from_code(i64::MIN), State::Unknown);
        assert!(!State::Nack.is_error());
        assert!(State::Error.is_error());
    }
}
