//! The ducq state codes: the 24 of the original C library with their names,
//! numbers and texts exactly as it defined them (PROTOCOL.md §11), and the
//! codes added after them (24: access denied). Pure data; no I/O.

use core::ffi::CStr;
use core::fmt;

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
    /// access denied: a channel or an access rule refused the operation
    /// (beyond the original)
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

// Names and texts end in NUL so C callers get them as they are (`c_name`,
// `c_text`); the Rust accessors leave the NUL out.
const NAMES: [&str; 25] = [
    "DUCQ_OK\0",
    "DUCQ_PROTOCOL\0",
    "DUCQ_NACK\0",
    "DUCQ_ERROR\0",
    "DUCQ_ENULL\0",
    "DUCQ_ESTDC\0",
    "DUCQ_EMEMFAIL\0",
    "DUCQ_EFILE\0",
    "DUCQ_ECOMMLAYER\0",
    "DUCQ_ECONNECT\0",
    "DUCQ_ECONNCLOSED\0",
    "DUCQ_EWRITE\0",
    "DUCQ_EREAD\0",
    "DUCQ_ECLOSE\0",
    "DUCQ_ETIMEOUT\0",
    "DUCQ_EMSGINV\0",
    "DUCQ_EMSGSIZE\0",
    "DUCQ_ENOCMD\0",
    "DUCQ_EACK\0",
    "DUCQ_ENOTFOUND\0",
    "DUCQ_ENOIMPL\0",
    "DUCQ_EMAX\0",
    "DUCQ_ELUA\0",
    "DUCQ_UNKNOWN\0",
    "DUCQ_EACCESS\0",
];

const TEXTS: [&str; 25] = [
    "ok\0",
    "protocol-layer message (not an error)\0",
    "received NACK from server\0",
    "error\0",
    "null parameter\0",
    "std c lib error\0",
    "os memory allocation failed\0",
    "os file io error\0",
    "os communication layer error\0",
    "could not connect to server\0",
    "connection closed\0",
    "communication write error\0",
    "communication read error\0",
    "error closing connection\0",
    "timeout\0",
    "message invalid\0",
    "message too big\0",
    "command unknown\0",
    "no ack received\0",
    "connection not found\0",
    "not implemented yet\0",
    "collection reached maximum count\0",
    "lua error\0",
    "unknown error\0",
    "access denied\0",
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
        without_nul(self.c_name())
    }

    /// The name without the `DUCQ_` prefix, e.g. `"EMSGINV"`.
    pub fn short_name(self) -> &'static str {
        let name = self.name();
        name.strip_prefix("DUCQ_").unwrap_or(name)
    }

    /// The human text, e.g. `"message invalid"`.
    pub fn text(self) -> &'static str {
        without_nul(self.c_text())
    }

    /// [`State::name`] as a C string.
    pub fn c_name(self) -> &'static CStr {
        with_nul(NAMES.get(self as usize), c"DUCQ_UNKNOWN")
    }

    /// [`State::short_name`] as a C string (`"EMSGINV"`).
    pub fn c_short_name(self) -> &'static CStr {
        let name = self.c_name().to_bytes_with_nul();
        CStr::from_bytes_with_nul(name.strip_prefix(b"DUCQ_").unwrap_or(name)).unwrap_or(c"UNKNOWN")
    }

    /// [`State::text`] as a C string.
    pub fn c_text(self) -> &'static CStr {
        with_nul(TEXTS.get(self as usize), c"unknown error")
    }

    /// States from 3 up are errors; `Ok`, `Protocol` and `Nack` are not.
    pub fn is_error(self) -> bool {
        self as i32 >= 3
    }
}

/// The C string of a table entry (each ends in one NUL).
fn with_nul(entry: Option<&&'static str>, fallback: &'static CStr) -> &'static CStr {
    entry
        .and_then(|s| CStr::from_bytes_with_nul(s.as_bytes()).ok())
        .unwrap_or(fallback)
}

fn without_nul(s: &'static CStr) -> &'static str {
    s.to_str().unwrap_or("unknown error")
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
        for s in ALL {
            assert_eq!(s.c_name().to_str(), Ok(s.name()));
            assert_eq!(s.c_short_name().to_str(), Ok(s.short_name()));
            assert_eq!(s.c_text().to_str(), Ok(s.text()));
            assert!(!s.text().contains('\0') && !s.name().contains('\0'));
        }
        assert_eq!(State::Ok.text(), "ok");
        assert_eq!(State::Unknown.c_short_name(), c"UNKNOWN");
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
