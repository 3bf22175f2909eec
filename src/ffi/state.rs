//! `ducq_state` for C: the 24 codes with the original names and numbers, and
//! 24 (`DUCQ_EACCESS`) added after them
//! (PROTOCOL.md §11), their texts, and the library version. Conversion only;
//! the table itself lives in [`crate::proto::state`].

use std::ffi::{c_char, c_int, CString};
use std::sync::OnceLock;

use super::boundary;
use crate::proto::state::ALL;
use crate::proto::State;

/// A ducq state code: `DUCQ_OK` (0) is success, `DUCQ_PROTOCOL` (1) and
/// `DUCQ_NACK` (2) describe a received message, and every code from
/// `DUCQ_ERROR` (3) up is an error. The numbers never change.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ducq_state {
    /// ok
    DUCQ_OK = 0,
    /// protocol-layer message (not an error)
    DUCQ_PROTOCOL = 1,
    /// received NACK from server
    DUCQ_NACK = 2,
    /// error
    DUCQ_ERROR = 3,
    /// null parameter
    DUCQ_ENULL = 4,
    /// std c lib error
    DUCQ_ESTDC = 5,
    /// os memory allocation failed
    DUCQ_EMEMFAIL = 6,
    /// os file io error
    DUCQ_EFILE = 7,
    /// os communication layer error
    DUCQ_ECOMMLAYER = 8,
    /// could not connect to server
    DUCQ_ECONNECT = 9,
    /// connection closed
    DUCQ_ECONNCLOSED = 10,
    /// communication write error
    DUCQ_EWRITE = 11,
    /// communication read error
    DUCQ_EREAD = 12,
    /// error closing connection
    DUCQ_ECLOSE = 13,
    /// timeout
    DUCQ_ETIMEOUT = 14,
    /// message invalid
    DUCQ_EMSGINV = 15,
    /// message too big
    DUCQ_EMSGSIZE = 16,
    /// command unknown
    DUCQ_ENOCMD = 17,
    /// no ack received
    DUCQ_EACK = 18,
    /// connection not found
    DUCQ_ENOTFOUND = 19,
    /// not implemented yet
    DUCQ_ENOIMPL = 20,
    /// collection reached maximum count
    DUCQ_EMAX = 21,
    /// lua error
    DUCQ_ELUA = 22,
    /// unknown error
    DUCQ_UNKNOWN = 23,
    /// access denied (beyond the original): authentication failed or
    /// required, or a route outside the user's access list
    DUCQ_EACCESS = 24,
}

/// Every `ducq_state` in numeric order.
const C_ALL: [ducq_state; 25] = {
    use ducq_state::*;
    [
        DUCQ_OK,
        DUCQ_PROTOCOL,
        DUCQ_NACK,
        DUCQ_ERROR,
        DUCQ_ENULL,
        DUCQ_ESTDC,
        DUCQ_EMEMFAIL,
        DUCQ_EFILE,
        DUCQ_ECOMMLAYER,
        DUCQ_ECONNECT,
        DUCQ_ECONNCLOSED,
        DUCQ_EWRITE,
        DUCQ_EREAD,
        DUCQ_ECLOSE,
        DUCQ_ETIMEOUT,
        DUCQ_EMSGINV,
        DUCQ_EMSGSIZE,
        DUCQ_ENOCMD,
        DUCQ_EACK,
        DUCQ_ENOTFOUND,
        DUCQ_ENOIMPL,
        DUCQ_EMAX,
        DUCQ_ELUA,
        DUCQ_UNKNOWN,
        DUCQ_EACCESS,
    ]
};

impl From<State> for ducq_state {
    fn from(s: State) -> ducq_state {
        C_ALL[s.code() as usize]
    }
}

impl From<ducq_state> for State {
    fn from(s: ducq_state) -> State {
        ALL[s as usize]
    }
}

impl ducq_state {
    /// The state for any int a C program hands back: negative counts as its
    /// absolute value, beyond the last code (24) is `DUCQ_UNKNOWN`.
    pub fn from_code(code: c_int) -> ducq_state {
        State::from_code(i64::from(code)).into()
    }

    /// Whether this is an error (3 and up).
    pub fn is_error(self) -> bool {
        self as i32 >= 3
    }
}

/// A state as C code returns it from a callback: any int. Shown as
/// `ducq_state` in the header; read with [`RawState::state`].
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawState(pub c_int);

impl RawState {
    /// The state it names (out-of-range values folded as in `from_code`).
    pub fn state(self) -> ducq_state {
        ducq_state::from_code(self.0)
    }
}

impl From<ducq_state> for RawState {
    fn from(s: ducq_state) -> RawState {
        RawState(s as c_int)
    }
}

fn texts() -> &'static [(CString, CString)] {
    static TEXTS: OnceLock<Vec<(CString, CString)>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        ALL.iter()
            .map(|s| {
                let text = CString::new(s.text()).expect("state texts hold no NUL");
                let short = CString::new(s.short_name()).expect("state names hold no NUL");
                (text, short)
            })
            .collect()
    })
}

/// The text of a state, e.g. `"message invalid"` for `DUCQ_EMSGINV`.
///
/// Takes any int: a negative code counts as its absolute value, and anything
/// above 24 gives the text of `DUCQ_UNKNOWN`. Never returns NULL. The string
/// is static: never free it. Safe from any thread and from callbacks.
#[no_mangle]
pub extern "C" fn ducq_state_tostr(state: c_int) -> *const c_char {
    boundary(|| texts()[ducq_state::from_code(state) as usize].0.as_ptr())
}

/// The short name of a state without its `DUCQ_` prefix, e.g. `"EMSGINV"`.
///
/// Folds its argument like `ducq_state_tostr`. Never returns NULL. The string
/// is static: never free it. Safe from any thread and from callbacks.
#[no_mangle]
pub extern "C" fn ducq_state_short(state: c_int) -> *const c_char {
    boundary(|| texts()[ducq_state::from_code(state) as usize].1.as_ptr())
}

/// The version of the linked library, e.g. `"0.1.0"`; compare with the
/// `DUCQ_VERSION` macro of the header you compiled against.
///
/// The string is static: never free it. Safe from any thread.
#[no_mangle]
pub extern "C" fn ducq_version() -> *const c_char {
    boundary(|| concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_and_numbers_match_the_protocol_table() {
        for (n, s) in ALL.iter().enumerate() {
            let c = ducq_state::from(*s);
            assert_eq!(c as usize, n);
            assert_eq!(format!("{c:?}"), s.name());
            assert_eq!(State::from(c), *s);
        }
    }

    #[test]
    fn tostr_folds_negative_and_large() {
        let text = |n| {
            // SAFETY: ducq_state_tostr returns a static NUL-terminated string.
            unsafe { CStr::from_ptr(ducq_state_tostr(n)) }
                .to_str()
                .unwrap()
        };
        assert_eq!(text(15), "message invalid");
        assert_eq!(text(-15), "message invalid");
        assert_eq!(text(24), "access denied");
        assert_eq!(text(25), "unknown error");
        assert_eq!(text(i32::MIN), "unknown error");
        // SAFETY: as above.
        let short = unsafe { CStr::from_ptr(ducq_state_short(4)) };
        assert_eq!(short.to_str().unwrap(), "ENULL");
    }
}
