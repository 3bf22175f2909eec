//! Logging for C: the original's log function (`ducq_log_f`, printf-style
//! with a `va_list`, given to `ducq_reactor_new_with_log` or
//! `ducq_reactor_set_log`), ducq's plain-text one (`ducq_log_text_f`), the
//! `LOG` route switch, levels. Every line goes through the server's logger
//! ([`crate::server::log`]); here a C function is installed as its hook.
//! The printf-style entry points (`ducq_reactor_log`, `ducq_log_tofile`)
//! and the call of a `va_list` function are C (`src/ffi/c/log.c`): stable
//! Rust can neither define a variadic function nor build a `va_list`.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::OnceLock;

use super::reactor::{ducq_reactor, reactor_ref};
use super::state::RawState;
use super::{boundary, boundary_state, nonnull, str_arg};
use crate::server::log::{Logger, Record};
use crate::server::Level;

/// Severity of a log line.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ducq_log_level {
    /// Detail for debugging: every command.
    DUCQ_LOG_DEBUG = 0,
    /// Normal events: connections opening and closing.
    DUCQ_LOG_INFO = 1,
    /// Something was refused or dropped.
    DUCQ_LOG_WARNING = 2,
    /// Something failed.
    DUCQ_LOG_ERROR = 3,
    /// Nothing is logged (a ducq addition, only as a level to set).
    DUCQ_LOG_OFF = 4,
}

/// A log level as C passes it in: any int. `ducq_log_level` in the header.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct RawLogLevel(pub c_int);

impl RawLogLevel {
    pub(crate) fn level(self) -> Level {
        match self.0 {
            i32::MIN..=0 => Level::Debug,
            1 => Level::Info,
            2 => Level::Warn,
            3 => Level::Error,
            _ => Level::Off,
        }
    }
}

impl From<Level> for RawLogLevel {
    fn from(level: Level) -> RawLogLevel {
        RawLogLevel(level as c_int)
    }
}

/// C's `va_list`, only ever passed through (never built or read in Rust).
#[repr(transparent)]
pub struct va_list(*mut c_void);

/// The original's log function: `logger` as given with it, the line's
/// level, where it happened, who it concerns (a client id or `server`), and
/// a printf format with its arguments (`vfprintf(file, fmt, args)` prints
/// it). The strings are borrowed for the call. It runs on the reactor's
/// thread in the middle of reactor work: calls on the reactor from it are
/// refused with `DUCQ_ERROR`. Its return value is ignored.
pub type ducq_log_f = Option<
    unsafe extern "C" fn(
        logger: *mut c_void,
        level: RawLogLevel,
        function_name: *const c_char,
        sender_id: *const c_char,
        fmt: *const c_char,
        args: va_list,
    ) -> c_int,
>;

/// ducq's plain-text log function (`ducq_reactor_set_log_text`), for hosts
/// that cannot take a `va_list`: as `ducq_log_f` with the line formatted.
pub type ducq_log_text_f = Option<
    unsafe extern "C" fn(
        logger: *mut c_void,
        level: RawLogLevel,
        function: *const c_char,
        sender: *const c_char,
        text: *const c_char,
    ),
>;

extern "C" {
    /// Calls a `ducq_log_f` with `"%s"` and `text` (src/ffi/c/log.c).
    fn ducq__call_log_f(
        f: *const c_void,
        logger: *mut c_void,
        level: c_int,
        function: *const c_char,
        sender: *const c_char,
        text: *const c_char,
    ) -> c_int;
}

/// A record's strings as C strings (a NUL byte becomes a space).
fn c_strings(rec: &Record<'_>) -> [CString; 3] {
    let c = |s: &str| CString::new(s.replace('\0', " ")).unwrap_or_default();
    [c(rec.function), c(rec.sender), c(rec.text)]
}

/// A logger hook calling the original's log function.
fn va_hook(logger: *mut c_void, f: *const c_void) -> crate::server::log::LogHook {
    Box::new(move |rec: &Record<'_>| {
        let [function, sender, text] = c_strings(rec);
        // SAFETY: a `ducq_log_f` and its logger, handed over together by
        // the C program; the strings live for the call; the trampoline
        // only builds the va_list and calls it.
        unsafe {
            ducq__call_log_f(
                f,
                logger,
                rec.level as c_int,
                function.as_ptr(),
                sender.as_ptr(),
                text.as_ptr(),
            )
        };
    })
}

/// A logger hook calling ducq's plain-text log function.
fn text_hook(
    logger: *mut c_void,
    f: unsafe extern "C" fn(*mut c_void, RawLogLevel, *const c_char, *const c_char, *const c_char),
) -> crate::server::log::LogHook {
    Box::new(move |rec: &Record<'_>| {
        let [function, sender, text] = c_strings(rec);
        // SAFETY: as in `va_hook`.
        unsafe {
            f(
                logger,
                rec.level.into(),
                function.as_ptr(),
                sender.as_ptr(),
                text.as_ptr(),
            )
        };
    })
}

/// Installs the original's log function on a logger (NULL: no local log).
pub(crate) fn install(logger: &mut Logger, owner: *mut c_void, f: ducq_log_f) {
    match f {
        Some(f) => logger.set_hook(va_hook(owner, f as *const c_void)),
        None => logger.clear_hook(),
    }
}

/// Replaces the reactor's log function with `logfunc(logger, …)` (NULL:
/// lines go to the `LOG` route only). The original's call; as for
/// `ducq_reactor_new_with_log`. Ignored for NULL or when the reactor cannot
/// be reached (from a log callback).
///
/// # Safety
/// `reactor` is NULL or a live handle; `logfunc` NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_set_log(
    reactor: *mut ducq_reactor,
    logger: *mut c_void,
    logfunc: ducq_log_f,
) {
    boundary(|| {
        if reactor.is_null() {
            return;
        }
        // SAFETY: a live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        let _ = r
            .ctx
            .with_hub(|hub| install(hub.logger_mut(), logger, logfunc));
    })
}

/// Sends the reactor's log lines, formatted, to `log(logger, …)` (NULL:
/// lines go to the `LOG` route only): `ducq_reactor_set_log` for a host
/// that cannot take a `va_list`. `DUCQ_ENULL` for a NULL reactor,
/// `DUCQ_ERROR` when it cannot be reached (from a log callback).
///
/// # Safety
/// `reactor` is NULL or a live handle; `log` NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_set_log_text(
    reactor: *mut ducq_reactor,
    logger: *mut c_void,
    log: ducq_log_text_f,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        // SAFETY: a live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        r.ctx.with_hub(|hub| match log {
            Some(f) => hub.logger_mut().set_hook(text_hook(logger, f)),
            None => hub.logger_mut().clear_hook(),
        })
    })
}

/// Whether log lines also go to the subscribers of the `LOG` route (and
/// `__MONITOR__`), as they do by default; returns the previous setting
/// (false for NULL or when the reactor cannot be reached).
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_allow_log_route(
    reactor: *mut ducq_reactor,
    is_allowed: bool,
) -> bool {
    boundary(|| {
        if reactor.is_null() {
            return false;
        }
        // SAFETY: a live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        r.ctx
            .with_hub(|hub| std::mem::replace(&mut hub.logger_mut().to_routes, is_allowed))
            .unwrap_or(false)
    })
}

/// Sets the lowest level that is logged (default `DUCQ_LOG_INFO`;
/// `DUCQ_LOG_OFF` silences the log). `DUCQ_ENULL` for a NULL reactor,
/// `DUCQ_ERROR` when it cannot be reached.
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_set_log_level(
    reactor: *mut ducq_reactor,
    level: RawLogLevel,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        // SAFETY: a live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        r.ctx.with_hub(|hub| hub.logger_mut().level = level.level())
    })
}

/// Logs a line through the reactor: to its log function and to the
/// subscribers of `LOG` (`level,function,sender,text`, level in lower case)
/// and `__MONITOR__` (the older `LEVEL,…` form). `ducq_reactor_log` without
/// the format: `text` is the whole line.
///
/// `sender` may be NULL (`server`). The strings are copied; NUL-terminated
/// strings that are not UTF-8 give `DUCQ_EMSGINV`. `DUCQ_ENULL` for a NULL
/// reactor, function or text; `DUCQ_ERROR` when the reactor cannot be
/// reached (from a log callback, or a signal handler while it runs).
///
/// # Safety
/// `reactor` is NULL or a live handle; the strings are NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_log_text(
    reactor: *mut ducq_reactor,
    level: RawLogLevel,
    function: *const c_char,
    sender: *const c_char,
    text: *const c_char,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(function)?;
        nonnull(text)?;
        // SAFETY: a live handle, NUL-terminated strings (caller contract).
        let (r, function, text) =
            unsafe { (reactor_ref(reactor), str_arg(function)?, str_arg(text)?) };
        let sender = if sender.is_null() {
            "server"
        } else {
            // SAFETY: NUL-terminated (caller contract).
            unsafe { str_arg(sender) }?
        };
        r.ctx
            .with_hub(|hub| hub.log(level.level(), function, sender, text))
    })
}

/// The original's name of a level: `"debug"`, `"info"`, `"warning"`,
/// `"error"` (`"off"` for `DUCQ_LOG_OFF`), `"unknown"` for any other value.
/// Static; safe from any thread.
#[no_mangle]
pub extern "C" fn ducq_level_tostr(level: RawLogLevel) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    boundary(|| {
        let names = NAMES.get_or_init(|| {
            (0..=4)
                .map(|n| CString::new(RawLogLevel(n).level().lower()).unwrap_or_default())
                .collect()
        });
        usize::try_from(level.0)
            .ok()
            .and_then(|n| names.get(n))
            .map_or(c"unknown".as_ptr(), |s| s.as_ptr())
    })
}
