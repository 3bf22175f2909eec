//! `ducq_state` for C: the 24 codes with the original names and numbers
//! (PROTOCOL.md §11), 24 (`DUCQ_EACCESS`) added after them, their texts,
//! and the library version. There is one
//! state enum, [`crate::proto::State`]; C sees it as `enum ducq_state`,
//! whose definition `build.rs` writes into the header from that same
//! table. Across the boundary a state travels as a plain C int
//! ([`RawState`]), since C may hand back any int where a state is due.

use core::ffi::{c_char, c_int};

use super::boundary;
use crate::proto::State;

/// A state as it crosses the boundary: `ducq_state` in the header, any
/// int C hands back. Read it with [`RawState::state`] (out-of-range values
/// folded as in `ducq_state_tostr`).
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawState(pub c_int);

impl RawState {
    /// `DUCQ_OK`.
    pub const OK: RawState = RawState(0);

    /// The state it names: a negative code counts as its absolute value,
    /// anything above the last code (24) is `Unknown` (23).
    pub fn state(self) -> State {
        State::from_code(i64::from(self.0))
    }
}

impl From<State> for RawState {
    fn from(s: State) -> RawState {
        RawState(s.code())
    }
}

impl From<Result<(), State>> for RawState {
    fn from(r: Result<(), State>) -> RawState {
        match r {
            Ok(()) => RawState::OK,
            Err(s) => s.into(),
        }
    }
}

fn text_of(state: c_int, short: bool) -> *const c_char {
    let state = State::from_code(i64::from(state));
    match state {
        // The original's short name of DUCQ_OK is "ok".
        State::Ok if short => c"ok".as_ptr(),
        _ if short => state.c_short_name().as_ptr(),
        _ => state.c_text().as_ptr(),
    }
}

/// The text of a state, e.g. `"message invalid"` for `DUCQ_EMSGINV`.
///
/// Takes any int: a negative code counts as its absolute value, and a code
/// no `ducq_state` holds (anything above 24, `DUCQ_EACCESS`, the one code
/// added after the original's 23) gives the text of `DUCQ_UNKNOWN`. Never
/// returns NULL. The string
/// is static: never free it. Safe from any thread and from callbacks.
#[no_mangle]
pub extern "C" fn ducq_state_tostr(state: c_int) -> *const c_char {
    boundary(|| text_of(state, false))
}

/// The short name of a state without its `DUCQ_` prefix, e.g. `"EMSGINV"`
/// (`"ok"` for `DUCQ_OK`, as the original names it).
///
/// Folds its argument like `ducq_state_tostr`. Never returns NULL. The string
/// is static: never free it. Safe from any thread and from callbacks.
#[no_mangle]
pub extern "C" fn ducq_state_short(state: c_int) -> *const c_char {
    boundary(|| text_of(state, true))
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
    use core::ffi::CStr;

    fn text(p: *const c_char) -> &'static str {
        // SAFETY: the functions return static NUL-terminated strings.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    }

    #[test]
    fn tostr_folds_negative_and_large() {
        assert_eq!(text(ducq_state_tostr(15)), "message invalid");
        assert_eq!(text(ducq_state_tostr(-15)), "message invalid");
        // 24 is ducq's code after the original's table; only what no
        // `ducq_state` holds folds to DUCQ_UNKNOWN.
        assert_eq!(text(ducq_state_tostr(24)), "access denied");
        assert_eq!(text(ducq_state_short(24)), "EACCESS");
        assert_eq!(text(ducq_state_tostr(25)), "unknown error");
        assert_eq!(text(ducq_state_tostr(-24)), "access denied");
        assert_eq!(text(ducq_state_tostr(i32::MIN)), "unknown error");
        assert_eq!(text(ducq_state_short(4)), "ENULL");
        assert_eq!(text(ducq_state_short(0)), "ok");
    }

    #[test]
    fn raw_states_fold_like_the_texts() {
        assert_eq!(RawState(-17).state(), State::ENoCmd);
        assert_eq!(RawState(99).state(), State::Unknown);
        assert_eq!(RawState(24).state(), State::EAccess);
        assert_eq!(RawState(25).state(), State::Unknown);
        assert_eq!(RawState::from(Err(State::EAck)), RawState(18));
    }
}
