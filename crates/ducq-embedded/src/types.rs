//! The C declarations of the device header that `ducq.h` has too: the
//! state codes, the callbacks' return type, the callbacks of
//! `ducq_listen`. They are declarations only (a test compares them with
//! `ducq.h`, so the two headers never disagree); the behaviour lives in
//! `exports`.

use core::ffi::{c_char, c_int, c_void};

use crate::exports::ducq_i;
use ducq::proto::State;

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
    /// access denied
    DUCQ_EACCESS = 24,
}

/// A state as C code returns it from a callback: any int. Shown as
/// `ducq_state` in the header; read with [`RawState::state`].
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawState(pub c_int);

impl RawState {
    /// The state it names (negative counts as its absolute value, beyond
    /// the last code is `DUCQ_UNKNOWN`).
    pub fn state(self) -> State {
        State::from_code(i64::from(self.0))
    }
}

impl From<State> for RawState {
    fn from(s: State) -> RawState {
        RawState(s.code())
    }
}

/// The callbacks of `ducq_listen`. Every callback gets the listening handle
/// and `ctx`, and returns `DUCQ_OK` to keep listening; any other value ends
/// `ducq_listen`, which returns it. A NULL callback ignores that kind of
/// message (for `on_error`: `ducq_listen` returns the error).
///
/// The `char *` arguments are NUL-terminated copies the callback may modify;
/// they are freed when it returns. Callbacks run on the listening thread;
/// they may call any client function, on this handle too; they must not
/// throw C++ exceptions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ducq_listen_ctx {
    /// A data message: its route and payload (`payload_size` bytes, which
    /// may hold NUL bytes). With `recv_raw`, `route` is NULL and `payload`
    /// is the whole message as received (`pub a/b\nhello`).
    pub on_message: Option<
        unsafe extern "C" fn(
            ducq: *mut ducq_i,
            route: *mut c_char,
            payload: *mut c_char,
            payload_size: usize,
            ctx: *mut c_void,
        ) -> RawState,
    >,
    /// ACK, PARTS, END or PONG (PINGs are answered by ducq and not shown).
    pub on_protocol: Option<
        unsafe extern "C" fn(
            ducq: *mut ducq_i,
            message: *mut c_char,
            size: usize,
            ctx: *mut c_void,
        ) -> RawState,
    >,
    /// A NACK: the state it carries and its text.
    pub on_nack: Option<
        unsafe extern "C" fn(
            ducq: *mut ducq_i,
            state: RawState,
            text: *mut c_char,
            ctx: *mut c_void,
        ) -> RawState,
    >,
    /// A receive failed with `state` (`DUCQ_ETIMEOUT` when the handle's
    /// timeout passed with nothing to read). Returning `DUCQ_OK` keeps
    /// listening if the handle is still connected (after a timeout, or when
    /// the callback reconnected it with `ducq_conn`); otherwise
    /// `ducq_listen` returns `state`.
    pub on_error: Option<
        unsafe extern "C" fn(ducq: *mut ducq_i, state: RawState, ctx: *mut c_void) -> RawState,
    >,
    /// Deliver data messages whole instead of split (see `on_message`).
    pub recv_raw: bool,
    /// Passed to every callback; ducq never reads it.
    pub ctx: *mut c_void,
}
