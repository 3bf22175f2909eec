//! The C face of secure deployment: TLS and Unix socket client handles,
//! TLS, HTTPS and Unix listeners, users, the configuration file and its
//! reload, and password hashing. Conversion and checks only; the work is
//! in `crate::tls`, `crate::client::net`, `crate::server` and
//! `crate::config`.

use std::ffi::{c_char, c_int};
use std::path::Path;
use std::sync::Arc;

use super::client::{ducq_i, NetConnector};
use super::reactor::{ducq_reactor, listen_error, store_port};
use super::state::ducq_state;
use super::{boundary, nonnull, str_arg};
use crate::client::{Client, Wire};
use crate::server::auth::{Acl, User};
use crate::tls::{ClientTlsFiles, ServerTlsFiles};

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn opt_str(p: *const c_char) -> Result<Option<String>, ducq_state> {
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
/// owns the handle and frees it with `ducq_free`; it is used by one thread
/// at a time.
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
        ducq_i::net_client(connect, label)
    })
}

/// Creates an unconnected client handle for the Unix domain socket at
/// `path` (`ducq-server --unix PATH`, length-framed ducq). `ducq_conn`
/// connects it; every client function then works on it. `ducq_id` gives
/// `UNIX:<path>`. `path` is copied; NULL or non-UTF-8 gives NULL. The
/// caller owns the handle and frees it with `ducq_free`.
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
        ducq_i::net_client(connect, label)
    })
}

/// The body of the TLS and HTTPS listen calls.
///
/// # Safety
/// As for `ducq_reactor_listen_tls`.
unsafe fn listen_secure(
    reactor: *mut ducq_reactor,
    args: [*const c_char; 4],
    port: *mut u16,
    https: bool,
) -> ducq_state {
    let [addr, cert, key, client_ca] = args;
    nonnull!(reactor, addr, cert, key);
    // SAFETY: NUL-terminated strings or NULL for client_ca (caller contract).
    let parsed = unsafe {
        (
            str_arg(addr),
            str_arg(cert),
            str_arg(key),
            opt_str(client_ca),
        )
    };
    let (Ok(addr), Ok(cert), Ok(key), Ok(client_ca)) = parsed else {
        return ducq_state::DUCQ_EMSGINV;
    };
    let files = ServerTlsFiles {
        cert: cert.to_owned(),
        key: key.to_owned(),
        client_ca,
    };
    let alpn: &[&[u8]] = if https { &[b"http/1.1"] } else { &[] };
    let Ok(config) = crate::tls::server_config(&files, alpn) else {
        return ducq_state::DUCQ_EFILE;
    };
    // SAFETY: a live handle (caller contract).
    let r = unsafe { &*reactor };
    let bound = r.with_reactor_pub(|re| {
        if https {
            re.listen_https(addr, config)
        } else {
            re.listen_tls(addr, config)
        }
    });
    match bound {
        Ok(Ok(a)) => {
            // SAFETY: NULL or writable (caller contract).
            unsafe { store_port(port, a.port()) };
            ducq_state::DUCQ_OK
        }
        Ok(Err(e)) => listen_error(&e),
        Err(state) => state,
    }
}

/// Listens for length-framed ducq over TLS on `addr` (`"0.0.0.0:59092"`,
/// port 0 for any), with the PEM certificate chain `cert` and private key
/// `key`; with `client_ca` (a PEM file, or NULL) clients must present a
/// certificate signed by one of its CAs, and one whose subject CN names a
/// user is that user. The bound port goes to `*port` when `port` is not
/// NULL. Strings are read during the call only.
///
/// `DUCQ_EFILE` when a file cannot be read or used, `DUCQ_EMSGINV` for a
/// malformed address or non-UTF-8, `DUCQ_ECOMMLAYER` when binding fails,
/// `DUCQ_ENULL` for a NULL reactor, addr, cert or key, `DUCQ_ERROR` while
/// the reactor runs (call it before `ducq_loop`, on the reactor's thread).
///
/// # Safety
/// `reactor` is NULL or a live handle; strings are NULL or NUL-terminated;
/// `port` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_listen_tls(
    reactor: *mut ducq_reactor,
    addr: *const c_char,
    cert: *const c_char,
    key: *const c_char,
    client_ca: *const c_char,
    port: *mut u16,
) -> ducq_state {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { listen_secure(reactor, [addr, cert, key, client_ca], port, false) })
}

/// Listens for HTTPS and secure WebSocket (WSS) clients on `addr`; the
/// rest as for `ducq_reactor_listen_tls`.
///
/// # Safety
/// As for `ducq_reactor_listen_tls`.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_listen_https(
    reactor: *mut ducq_reactor,
    addr: *const c_char,
    cert: *const c_char,
    key: *const c_char,
    client_ca: *const c_char,
    port: *mut u16,
) -> ducq_state {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { listen_secure(reactor, [addr, cert, key, client_ca], port, true) })
}

/// Listens for length-framed ducq clients on a Unix domain socket at
/// `path`, its permission bits set to `mode` (e.g. `0660`) unless `mode`
/// is negative. A stale socket file is replaced; a socket someone listens
/// on, or any other file, is `DUCQ_ECOMMLAYER`. The file is removed when
/// the reactor is freed. `path` is read during the call only. Other
/// errors as for `ducq_reactor_listen_tls`.
///
/// # Safety
/// `reactor` is NULL or a live handle; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_listen_unix(
    reactor: *mut ducq_reactor,
    path: *const c_char,
    mode: c_int,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, path);
        // SAFETY: non-null, NUL-terminated (caller contract).
        let Ok(path) = (unsafe { str_arg(path) }) else {
            return ducq_state::DUCQ_EMSGINV;
        };
        let mode = u32::try_from(mode).ok();
        // SAFETY: a live handle (caller contract).
        let r = unsafe { &*reactor };
        match r.with_reactor_pub(|re| re.listen_unix(Path::new(path), mode)) {
            Ok(Ok(())) => ducq_state::DUCQ_OK,
            Ok(Err(_)) => ducq_state::DUCQ_ECOMMLAYER,
            Err(state) => state,
        }
    })
}

/// Adds (or replaces) user `name` (until a configuration file is loaded
/// or reloaded: its users then replace these): `password_phc` is an argon2id PHC
/// string (`ducq_hash_password`, `ducq-server hash-password`) or NULL for
/// a user that authenticates only with a client certificate; `publish` and
/// `subscribe` hold route patterns, one per line (`""` for none); `admin` non-zero allows the admin commands. Once any
/// user exists, anonymous clients keep what the anonymous list allows
/// (everything, unless a configuration file says otherwise).
///
/// `DUCQ_EMSGINV` for a malformed hash or name, `DUCQ_ENULL` for a NULL
/// reactor, name, publish or subscribe, `DUCQ_ERROR` while the reactor
/// runs. Strings are read during the call only.
///
/// # Safety
/// `reactor` is NULL or a live handle; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_add_user(
    reactor: *mut ducq_reactor,
    name: *const c_char,
    password_phc: *const c_char,
    publish: *const c_char,
    subscribe: *const c_char,
    admin: c_int,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, name, publish, subscribe);
        // SAFETY: NUL-terminated strings or NULL for the hash (contract).
        let parsed = unsafe {
            (
                str_arg(name),
                opt_str(password_phc),
                str_arg(publish),
                str_arg(subscribe),
            )
        };
        let (Ok(name), Ok(password), Ok(publish), Ok(subscribe)) = parsed else {
            return ducq_state::DUCQ_EMSGINV;
        };
        if name.is_empty() || name.contains([' ', '\n']) {
            return ducq_state::DUCQ_EMSGINV;
        }
        if password
            .as_deref()
            .is_some_and(|p| crate::server::auth::check_phc(p).is_err())
        {
            return ducq_state::DUCQ_EMSGINV;
        }
        let list = |s: &str| -> Vec<Vec<u8>> {
            s.lines()
                .filter(|l| !l.is_empty())
                .map(|l| l.as_bytes().to_vec())
                .collect()
        };
        let user = User {
            name: name.to_owned(),
            password,
            acl: Acl {
                publish: list(publish),
                subscribe: list(subscribe),
            },
            admin: admin != 0,
        };
        // SAFETY: a live handle (caller contract).
        let r = unsafe { &*reactor };
        let done = r.with_reactor_pub(|re| {
            let mut config = re.hub().auth_config().clone();
            config.users.retain(|u| u.name != user.name);
            config.users.push(user);
            re.hub_mut().set_auth(config);
        });
        match done {
            Ok(()) => ducq_state::DUCQ_OK,
            Err(state) => state,
        }
    })
}

/// Applies the configuration file at `path` (listeners, limits, users and
/// access lists, origin rules, Lua folders; see docs/CONFIG.md) to a
/// reactor that has not run yet, and makes `ducq_reactor_reload` (and the
/// `reload` command of an admin user) re-read it.
///
/// `DUCQ_EFILE` when the file cannot be read or fails its check (each
/// error is logged with its line; nothing is applied), `DUCQ_ECOMMLAYER`
/// when a listener cannot be opened, `DUCQ_ENULL` for NULL arguments,
/// `DUCQ_ERROR` while the reactor runs. `path` is copied.
///
/// # Safety
/// `reactor` is NULL or a live handle; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_load_config(
    reactor: *mut ducq_reactor,
    path: *const c_char,
) -> ducq_state {
    boundary(|| {
        nonnull!(reactor, path);
        // SAFETY: non-null, NUL-terminated (caller contract).
        let Ok(path) = (unsafe { str_arg(path) }).map(str::to_owned) else {
            return ducq_state::DUCQ_EMSGINV;
        };
        // SAFETY: a live handle (caller contract).
        let r = unsafe { &*reactor };
        let overrides = crate::config::Overrides::default();
        let applied = r.with_reactor_pub(|re| {
            let resolved = match crate::config::load(&path, &overrides) {
                Ok(c) => c,
                Err(errors) => {
                    for e in errors {
                        let text = e.to_string();
                        re.hub_mut()
                            .log(crate::server::Level::Error, "config", "server", &text);
                    }
                    return ducq_state::DUCQ_EFILE;
                }
            };
            let mut running = match crate::config::start(re, resolved) {
                Ok(r) => r,
                Err(e) => {
                    re.hub_mut()
                        .log(crate::server::Level::Error, "config", "server", &e);
                    return ducq_state::DUCQ_ECOMMLAYER;
                }
            };
            re.set_reload_hook(Box::new(move |re| {
                let new = crate::config::load(&path, &overrides)
                    .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
                crate::config::apply_reload(re, &mut running, new)
            }));
            ducq_state::DUCQ_OK
        });
        applied.unwrap_or_else(|state| state)
    })
}

/// Re-reads the configuration file given to `ducq_reactor_load_config`
/// and applies users, access lists, limits, origin rules, Lua folders and
/// certificates without dropping a connection. A file that fails its check
/// is refused whole (errors logged) and the running configuration stays:
/// `DUCQ_ERROR`. `DUCQ_ENOIMPL` without a loaded file, `DUCQ_ENULL` for
/// NULL. Call it between `ducq_loop_once` turns, or from a command or loop
/// callback's own reactor thread is refused (`DUCQ_ERROR`).
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_reload(reactor: *mut ducq_reactor) -> ducq_state {
    boundary(|| {
        nonnull!(reactor);
        // SAFETY: a live handle (caller contract).
        let r = unsafe { &*reactor };
        match r.with_reactor_pub(|re| re.reload()) {
            Ok(Ok(())) => ducq_state::DUCQ_OK,
            Ok(Err(errors)) if errors.iter().any(|e| e.starts_with("not started from")) => {
                ducq_state::DUCQ_ENOIMPL
            }
            Ok(Err(_)) => ducq_state::DUCQ_ERROR,
            Err(state) => state,
        }
    })
}

/// Hashes `password` (NUL-terminated) into an argon2id PHC string written
/// to `out` (NUL-terminated) when it fits in `out_len` bytes (100 is
/// enough). `DUCQ_EMAX` when it does not fit (nothing written), `DUCQ_ENULL`
/// for NULL, `DUCQ_ERROR` when no random salt could be had. Takes tens of
/// milliseconds on purpose; any thread.
///
/// # Safety
/// `password` is NULL or NUL-terminated; `out` is NULL or writable for
/// `out_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ducq_hash_password(
    password: *const c_char,
    out: *mut c_char,
    out_len: usize,
) -> ducq_state {
    boundary(|| {
        nonnull!(password, out);
        // SAFETY: non-null, NUL-terminated (caller contract).
        let pw = unsafe { super::bytes_arg(password) };
        let Ok(phc) = crate::server::auth::hash_password(pw) else {
            return ducq_state::DUCQ_ERROR;
        };
        if phc.len() + 1 > out_len {
            return ducq_state::DUCQ_EMAX;
        }
        // SAFETY: `out` is writable for `out_len` bytes (caller contract)
        // and `phc.len() + 1 <= out_len`.
        unsafe {
            std::ptr::copy_nonoverlapping(phc.as_ptr().cast::<c_char>(), out, phc.len());
            *out.add(phc.len()) = 0;
        }
        ducq_state::DUCQ_OK
    })
}
