//! The client side of secure deployment for C: TLS and Unix socket client
//! handles (`ducq_new_tls`, `ducq_new_unix`), `ducq_authenticate`, and
//! `ducq_hash_password`. Conversion and checks only; the work is in
//! `crate::tls`, `crate::client::net` and `crate::server::auth`. The
//! server side (listeners, users, the configuration file) is `config`.

use std::ffi::c_char;
use std::path::Path;
use std::sync::Arc;

use super::client::{new_handle, on_client, NetConnector, Target};
use super::handle::Handle;
use super::state::RawState;
use super::vtbl::ducq_i;
use super::{boundary, boundary_state, bytes_arg, nonnull, str_arg};
use crate::client::{Client, Wire};
use crate::proto::State;
use crate::tls::ClientTlsFiles;

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn opt_str(p: *const c_char) -> Result<Option<String>, State> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null, NUL-terminated (caller contract).
    unsafe { str_arg(p) }.map(|s| Some(s.to_owned()))
}

/// Creates an unconnected client handle for a TLS listener of a server
/// (`ducq-server --tls`, length-framed ducq over TLS): `host` (a name or an
/// IP address, also the name the server's certificate must carry) and
/// `port` (decimal). `ca_file` is a PEM file of the CA certificates to
/// trust; NULL trusts the system's store. `ducq_conn` connects and
/// completes the TLS handshake within the handle's timeout; a certificate
/// that does not verify is `DUCQ_ECONNECT` with the reason in
/// `ducq_last_error`.
///
/// Every client function then works on it as on a TCP handle. `ducq_id`
/// gives `TLS:<host>:<port>` before connecting. The CA file is read when
/// the handle is made: NULL is returned when it cannot be read, or when
/// `host` or `port` is NULL or not UTF-8. Strings are copied. The caller
/// owns the handle and frees it with `ducq_free`; it may move between
/// threads but is used by one thread at a time.
///
/// # Safety
/// Non-null arguments are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_tls(
    host: *const c_char,
    port: *const c_char,
    ca_file: *const c_char,
) -> *mut ducq_i {
    boundary(|| {
        if host.is_null() || port.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: non-null NUL-terminated strings, or NULL for ca_file
        // (caller contract).
        let args = unsafe { (str_arg(host), str_arg(port), opt_str(ca_file)) };
        let (Ok(host), Ok(port), Ok(ca)) = args else {
            return std::ptr::null_mut();
        };
        let files = ClientTlsFiles { ca, cert_key: None };
        let Ok(config) = crate::tls::client_config(&files) else {
            return std::ptr::null_mut();
        };
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let label = format!("TLS:{host}:{port}");
        let connect: NetConnector = Arc::new(move |timeout| {
            Client::connect_tls(&addr, timeout, Arc::clone(&config), Wire::Framed)
        });
        new_handle(Target::Net { connect, label })
    })
}

/// Creates an unconnected client handle for the Unix domain socket at
/// `path` (`ducq-server --unix PATH`, length-framed ducq). `ducq_conn`
/// connects it; every client function then works on it. `ducq_id` gives
/// `UNIX:<path>`. `path` is copied; NULL or non-UTF-8 gives NULL. The
/// caller owns the handle and frees it with `ducq_free`; threads as for
/// `ducq_new_tls`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_unix(path: *const c_char) -> *mut ducq_i {
    boundary(|| {
        if path.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: non-null, NUL-terminated (caller contract).
        let Ok(path) = (unsafe { str_arg(path) }).map(str::to_owned) else {
            return std::ptr::null_mut();
        };
        let label = format!("UNIX:{path}");
        let connect: NetConnector =
            Arc::new(move |timeout| Client::connect_unix(Path::new(&path), timeout));
        new_handle(Target::Net { connect, label })
    })
}

/// Authenticates a connected client handle as `user` with `password`
/// (`auth <user>\n<password>`, PROTOCOL.md §1.2) and waits for the
/// answer: `DUCQ_OK` once the server accepted it; `DUCQ_EACCESS` for a
/// wrong user or password (answered after the server's failure delay, so
/// this call takes at least that long); `DUCQ_EMSGINV` for an empty user
/// or one with a line break; `DUCQ_ETIMEOUT` when no answer came within
/// the handle's timeout; `DUCQ_ENOIMPL` on a handle written in C or lent
/// by a reactor; `DUCQ_ENULL` for NULL. The detail is in
/// `ducq_last_error`. Accepted credentials are kept by a handle's
/// reconnect policy (`ducq_set_reconnect`), which authenticates again with
/// them on every new connection.
///
/// Strings are read during the call only. One thread at a time per
/// handle.
///
/// # Safety
/// `ducq` is NULL or a live handle; `user` and `password` are NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_authenticate(
    ducq: *mut ducq_i,
    user: *const c_char,
    password: *const c_char,
) -> RawState {
    boundary_state(|| {
        nonnull(ducq)?;
        // SAFETY: NULL or NUL-terminated strings (caller contract).
        let (user, password) = unsafe { (bytes_arg(user)?, bytes_arg(password)?) };
        let user = std::str::from_utf8(user).map_err(|_| State::EMsgInv)?;
        if user.is_empty() || user.contains(['\n', '\0']) {
            return Err(State::EMsgInv);
        }
        // SAFETY: a live handle (caller contract).
        let h = unsafe { Handle::from_ptr(ducq) }.ok_or(State::ENoImpl)?;
        // A NACK's own state (24) comes back, its text in ducq_last_error.
        h.with_client(|c| on_client!(c, cl => cl.authenticate(user, password)))?;
        // A reconnect policy authenticates again the same way.
        h.authenticated(user, password);
        Ok(())
    })
}

/// Hashes `password` (NUL-terminated) into an argon2id PHC string written
/// to `out` (NUL-terminated) when it fits in `out_len` bytes (100 is
/// enough): what a `[[user]]` of the configuration file and
/// `ducq_reactor_add_user` take. `DUCQ_EMAX` when it does not fit (nothing
/// written), `DUCQ_ENULL` for NULL, `DUCQ_ERROR` when no random salt could
/// be had. Takes tens of milliseconds on purpose; any thread.
///
/// # Safety
/// `password` is NULL or NUL-terminated; `out` is NULL or writable for
/// `out_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_hash_password(
    password: *const c_char,
    out: *mut c_char,
    out_len: usize,
) -> RawState {
    boundary_state(|| {
        nonnull(out)?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let pw = unsafe { bytes_arg(password) }?;
        let phc = crate::server::auth::hash_password(pw).map_err(|_| State::Error)?;
        if phc.len() + 1 > out_len {
            return Err(State::EMax);
        }
        // SAFETY: `out` is writable for `out_len` bytes (caller contract)
        // and `phc.len() + 1 <= out_len`.
        unsafe {
            std::ptr::copy_nonoverlapping(phc.as_ptr().cast::<c_char>(), out, phc.len());
            *out.add(phc.len()) = 0;
        }
        Ok(())
    })
}
