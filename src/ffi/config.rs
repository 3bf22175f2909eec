//! The server side of secure deployment for C: TLS, HTTPS, MQTT (and
//! MQTT over TLS) and Unix socket listeners, users and the anonymous
//! access list, the configuration file and its reload. Conversion and
//! checks only; the work is in `crate::tls`, `crate::server` and
//! `crate::config`. Every call here takes the whole reactor, so it is
//! refused (`DUCQ_ERROR`) while the reactor runs or from its callbacks.

use std::ffi::{c_char, c_int};
use std::path::Path;

use super::reactor::{ducq_reactor, listen_error, reactor_ref, store_port};
use super::secure::opt_str;
use super::state::RawState;
use super::{boundary_state, nonnull, str_arg};
use crate::proto::State;
use crate::server::auth::{Acl, User};
use crate::server::{Level, Reactor};
use crate::tls::ServerTlsFiles;

/// Which listener a secure listen call opens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Secure {
    Tls,
    Https,
    Mqtts,
}

/// The body of the TLS, HTTPS and MQTTS listen calls.
///
/// # Safety
/// As for `ducq_reactor_listen_tls`.
unsafe fn listen_secure(
    reactor: *mut ducq_reactor,
    args: [*const c_char; 4],
    port: *mut u16,
    kind: Secure,
) -> RawState {
    boundary_state(|| {
        let [addr, cert, key, client_ca] = args;
        for p in [addr, cert, key] {
            nonnull(p)?;
        }
        nonnull(reactor)?;
        // SAFETY: NUL-terminated strings, or NULL for client_ca; a live
        // handle (caller contract).
        let (r, addr, cert, key, client_ca) = unsafe {
            (
                reactor_ref(reactor),
                str_arg(addr)?,
                str_arg(cert)?,
                str_arg(key)?,
                opt_str(client_ca)?,
            )
        };
        let files = ServerTlsFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
            client_ca,
        };
        let alpn: &[&[u8]] = if kind == Secure::Https {
            &[b"http/1.1"]
        } else {
            &[]
        };
        let config = crate::tls::server_config(&files, alpn).map_err(|_| State::EFile)?;
        let bound = r.ctx.with_reactor(|re| match kind {
            Secure::Tls => re.listen_tls(addr, config),
            Secure::Https => re.listen_https(addr, config),
            Secure::Mqtts => re.listen_mqtts(addr, config),
        })?;
        let bound = bound.map_err(|e| listen_error(&e))?;
        // SAFETY: NULL or writable (caller contract).
        unsafe { store_port(port, bound.port()) };
        Ok(())
    })
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
/// the reactor runs or is lent to a callback (call it before `ducq_loop`,
/// on the reactor's thread).
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
) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { listen_secure(reactor, [addr, cert, key, client_ca], port, Secure::Tls) }
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
) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { listen_secure(reactor, [addr, cert, key, client_ca], port, Secure::Https) }
}

/// Listens for MQTT 3.1.1 and 5 clients over TLS (`mqtts`, usually port
/// 8883) on `addr`; the rest as for `ducq_reactor_listen_tls`.
///
/// # Safety
/// As for `ducq_reactor_listen_tls`.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_listen_mqtts(
    reactor: *mut ducq_reactor,
    addr: *const c_char,
    cert: *const c_char,
    key: *const c_char,
    client_ca: *const c_char,
    port: *mut u16,
) -> RawState {
    // SAFETY: forwarded caller contract.
    unsafe { listen_secure(reactor, [addr, cert, key, client_ca], port, Secure::Mqtts) }
}

/// Listens for MQTT 3.1.1 and 5 clients on `addr` (docs/MQTT.md): their
/// PUBLISH and SUBSCRIBE reach the same routes as every other client. A
/// CONNECT's user name and password authenticate it as a ducq user. Each
/// call is a listener of its own (MQTT sessions are kept per listener).
/// The bound port goes to `*port` when `port` is not NULL.
///
/// `DUCQ_EMSGINV` for a malformed address or non-UTF-8, `DUCQ_ECOMMLAYER`
/// when binding fails, `DUCQ_ENULL` for a NULL reactor or addr,
/// `DUCQ_ERROR` while the reactor runs or is lent to a callback.
///
/// # Safety
/// `reactor` is NULL or a live handle; `addr` is NULL or NUL-terminated;
/// `port` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_listen_mqtt(
    reactor: *mut ducq_reactor,
    addr: *const c_char,
    port: *mut u16,
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(addr)?;
        // SAFETY: a live handle and a NUL-terminated string (contract).
        let (r, addr) = unsafe { (reactor_ref(reactor), str_arg(addr)?) };
        let bound = r.ctx.with_reactor(|re| re.listen_mqtt(addr))?;
        let bound = bound.map_err(|e| listen_error(&e))?;
        // SAFETY: NULL or writable (caller contract).
        unsafe { store_port(port, bound.port()) };
        Ok(())
    })
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
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(path)?;
        // SAFETY: a live handle and a NUL-terminated string (contract).
        let (r, path) = unsafe { (reactor_ref(reactor), str_arg(path)?) };
        let mode = u32::try_from(mode).ok();
        let bound = r
            .ctx
            .with_reactor(|re| re.listen_unix(Path::new(path), mode))?;
        bound.map_err(|_| State::ECommLayer)
    })
}

/// Route patterns, one per line (`""` for none).
fn pattern_lines(s: &str) -> Vec<Vec<u8>> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

/// Adds (or replaces) user `name` (until a configuration file is loaded
/// or reloaded: its users then replace these): `password_phc` is an
/// argon2id PHC string (`ducq_hash_password`, `ducq-server
/// hash-password`) or NULL for a user that authenticates only with a
/// client certificate; `publish` and `subscribe` hold route patterns, one
/// per line (`""` for none); `admin` non-zero allows the admin commands
/// (`reload`, `unsub` of another connection). Once any user exists,
/// anonymous clients keep what the anonymous list allows (everything,
/// unless `ducq_reactor_set_anonymous` or a configuration file says
/// otherwise).
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
) -> RawState {
    boundary_state(|| {
        for p in [name, publish, subscribe] {
            nonnull(p)?;
        }
        nonnull(reactor)?;
        // SAFETY: NUL-terminated strings or NULL for the hash; a live
        // handle (caller contract).
        let (r, name, password, publish, subscribe) = unsafe {
            (
                reactor_ref(reactor),
                str_arg(name)?,
                opt_str(password_phc)?,
                str_arg(publish)?,
                str_arg(subscribe)?,
            )
        };
        if name.is_empty() || name.contains([' ', '\n']) {
            return Err(State::EMsgInv);
        }
        if let Some(p) = &password {
            crate::server::auth::check_phc(p).map_err(|_| State::EMsgInv)?;
        }
        let user = User {
            name: name.to_owned(),
            password,
            acl: Acl {
                publish: pattern_lines(publish),
                subscribe: pattern_lines(subscribe),
            },
            admin: admin != 0,
        };
        r.ctx.with_reactor(|re| {
            let mut config = re.hub().auth_config().clone();
            config.users.retain(|u| u.name != user.name);
            config.users.push(user);
            re.hub_mut().set_auth(config);
        })
    })
}

/// Sets what clients that have not authenticated may do: `publish` and
/// `subscribe` hold route patterns, one per line (`""` for nothing; the
/// default is everything, `"*"`). Applies to every listener that admits
/// anonymous clients, from each client's next command on.
///
/// `DUCQ_ENULL` for NULL, `DUCQ_EMSGINV` for non-UTF-8, `DUCQ_ERROR` while
/// the reactor runs. Strings are read during the call only.
///
/// # Safety
/// `reactor` is NULL or a live handle; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_set_anonymous(
    reactor: *mut ducq_reactor,
    publish: *const c_char,
    subscribe: *const c_char,
) -> RawState {
    boundary_state(|| {
        for p in [publish, subscribe] {
            nonnull(p)?;
        }
        nonnull(reactor)?;
        // SAFETY: NUL-terminated strings and a live handle (contract).
        let (r, publish, subscribe) =
            unsafe { (reactor_ref(reactor), str_arg(publish)?, str_arg(subscribe)?) };
        let acl = Acl {
            publish: pattern_lines(publish),
            subscribe: pattern_lines(subscribe),
        };
        r.ctx.with_reactor(|re| {
            let mut config = re.hub().auth_config().clone();
            config.anonymous = acl;
            re.hub_mut().set_auth(config);
        })
    })
}

/// Applies a freshly loaded configuration, logging why it cannot be.
fn load_into(re: &mut Reactor, path: String) -> Result<(), State> {
    let overrides = crate::config::Overrides::default();
    let resolved = crate::config::load(&path, &overrides).map_err(|errors| {
        for e in errors {
            re.hub_mut()
                .log(Level::Error, "config", "server", &e.to_string());
        }
        State::EFile
    })?;
    let mut running = crate::config::start(re, resolved).map_err(|e| {
        re.hub_mut().log(Level::Error, "config", "server", &e);
        State::ECommLayer
    })?;
    re.set_reload_hook(Box::new(move |re| {
        let new = crate::config::load(&path, &overrides)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        crate::config::apply_reload(re, &mut running, new)
    }));
    Ok(())
}

/// Applies the configuration file at `path` (listeners, limits, users and
/// access lists, origin rules, Lua folders; see docs/CONFIG.md) to a
/// reactor that has not run yet, and makes `ducq_reactor_reload` (and the
/// `reload` command of an admin user) re-read it. Its `[queues] data_dir`
/// is not used here: the reactor keeps the queue store it was made with
/// (in memory for `ducq_reactor_new`).
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
) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        nonnull(path)?;
        // SAFETY: a live handle and a NUL-terminated string (contract).
        let (r, path) = unsafe { (reactor_ref(reactor), str_arg(path)?.to_owned()) };
        r.ctx.with_reactor(|re| load_into(re, path))?
    })
}

/// Re-reads the configuration file given to `ducq_reactor_load_config`
/// and applies users, access lists, limits, origin rules, Lua folders and
/// certificates without dropping a connection. A file that fails its check
/// is refused whole (errors logged) and the running configuration stays:
/// `DUCQ_ERROR`. `DUCQ_ENOIMPL` without a loaded file, `DUCQ_ENULL` for
/// NULL. Call it between `ducq_loop_once` turns; while the reactor runs
/// or from its own callbacks it is refused (`DUCQ_ERROR`; a client's
/// `reload` command or SIGHUP in `ducq-server` reloads a running one).
///
/// # Safety
/// `reactor` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_reactor_reload(reactor: *mut ducq_reactor) -> RawState {
    boundary_state(|| {
        nonnull(reactor)?;
        // SAFETY: a live handle (caller contract).
        let r = unsafe { reactor_ref(reactor) };
        match r.ctx.with_reactor(|re| re.reload())? {
            Ok(()) => Ok(()),
            Err(errors) if errors.iter().any(|e| e.starts_with("not started from")) => {
                Err(State::ENoImpl)
            }
            Err(_) => Err(State::Error),
        }
    })
}
