//! Tells a service manager how the server is doing, systemd's `Type=notify`
//! protocol: `READY=1` once the listeners are open, `WATCHDOG=1` from the
//! reactor thread while its turns keep coming, `RELOADING=1` and
//! `STOPPING=1` around a reload and a stop, and a `STATUS=` line.
//!
//! Each notification is one datagram to the unix socket named by
//! `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket). Without that
//! variable every call does nothing, so a server started by hand behaves as
//! before. This module must never block the loop: datagrams are sent
//! non-blocking, and a failed send is returned to the caller, not retried.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to the service manager's notification socket, or nothing
/// when the process was not started by one.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// A notifier for this process, from `$NOTIFY_SOCKET`, `$WATCHDOG_USEC`
    /// and `$WATCHDOG_PID`. An error means the variable is set but unusable
    /// (the service manager would wait for a readiness that never comes, so
    /// say so).
    pub fn from_env() -> io::Result<Notifier> {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        Notifier::from_vars(
            socket.as_deref(),
            usec.as_deref(),
            pid.as_deref(),
            std::process::id(),
        )
    }

    /// A notifier from the values of those variables, for process `me`.
    /// The watchdog is on when `watchdog_usec` is a positive number and
    /// `watchdog_pid`, if given, is `me`.
    pub fn from_vars(
        socket: Option<&OsStr>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
        me: u32,
    ) -> io::Result<Notifier> {
        let Some(path) = socket.filter(|p| !p.is_empty()) else {
            return Ok(Notifier::disabled());
        };
        let addr = socket_addr(path.as_bytes())?;
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        let for_me = watchdog_pid.is_none_or(|p| p.trim().parse::<u32>().ok() == Some(me));
        let watchdog = watchdog_usec
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&u| u > 0 && for_me)
            .map(Duration::from_micros);
        Ok(Notifier {
            target: Some((socket, addr)),
            watchdog,
        })
    }

    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier {
            target: None,
            watchdog: None,
        }
    }

    /// Whether a service manager listens.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// How often to send `WATCHDOG=1`: half the manager's timeout, as
    /// sd_watchdog_enabled(3) advises, or `None` when no watchdog is on.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|t| t / 2)
    }

    /// Sends `state` (newline-separated `KEY=value` assignments) as one
    /// datagram. Does nothing when no manager listens.
    pub fn notify(&self, state: &str) -> io::Result<()> {
        match &self.target {
            Some((socket, addr)) => socket.send_to_addr(state.as_bytes(), addr).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The server is serving: `READY=1` with a status line.
    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.notify(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// The loop is alive: `WATCHDOG=1`.
    pub fn watchdog(&self) -> io::Result<()> {
        self.notify("WATCHDOG=1")
    }

    /// A reload starts; `ready` again once it is done.
    pub fn reloading(&self) -> io::Result<()> {
        self.notify(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()))
    }

    /// The server is shutting down.
    pub fn stopping(&self) -> io::Result<()> {
        self.notify("STOPPING=1")
    }
}

/// The address `$NOTIFY_SOCKET` names: an absolute path, or `@name` for
/// a socket in the abstract namespace.
fn socket_addr(path: &[u8]) -> io::Result<SocketAddr> {
    match path.split_first() {
        Some((b'@', name)) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        Some((b'/', _)) => SocketAddr::from_pathname(OsStr::from_bytes(path)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "NOTIFY_SOCKET '{}' is neither an absolute path nor @abstract",
                String::from_utf8_lossy(path)
            ),
        )),
    }
}

/// A `STATUS=` value cannot hold a line break: it would start a new
/// assignment.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// CLOCK_MONOTONIC in microseconds, which `RELOADING=1` carries.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec owned by this frame.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener() -> (tempdir::Dir, UnixDatagram, std::path::PathBuf) {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (dir, sock, path)
    }

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "ducq-notify-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn without_notify_socket_nothing_is_sent_and_nothing_fails() {
        let n = Notifier::from_vars(None, Some("1000000"), None, 1).unwrap();
        assert!(!n.is_enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.ready("x").unwrap();
        n.watchdog().unwrap();
        let empty = Notifier::from_vars(Some(OsStr::new("")), None, None, 1).unwrap();
        assert!(!empty.is_enabled());
    }

    #[test]
    fn each_notification_is_one_datagram_on_the_path_socket() {
        let (_dir, sock, path) = listener();
        let n = Notifier::from_vars(Some(path.as_os_str()), None, None, 7).unwrap();
        assert!(n.is_enabled());
        n.ready("serving tcp 127.0.0.1:1\nand more").unwrap();
        assert_eq!(
            recv(&sock),
            "READY=1\nSTATUS=serving tcp 127.0.0.1:1 and more"
        );
        n.watchdog().unwrap();
        assert_eq!(recv(&sock), "WATCHDOG=1");
        n.reloading().unwrap();
        let reload = recv(&sock);
        let usec = reload
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .unwrap_or_else(|| panic!("{reload:?}"));
        assert!(usec.parse::<u64>().unwrap() > 0, "{reload:?}");
        n.stopping().unwrap();
        assert_eq!(recv(&sock), "STOPPING=1");
    }

    #[test]
    fn abstract_socket_names_start_with_at() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("ducq-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let var = format!("@{name}");
        let n = Notifier::from_vars(Some(OsStr::new(&var)), None, None, 1).unwrap();
        n.watchdog().unwrap();
        assert_eq!(recv(&sock), "WATCHDOG=1");
    }

    #[test]
    fn watchdog_is_half_the_timeout_and_only_for_the_named_pid() {
        let (_dir, _sock, path) = listener();
        let p = Some(path.as_os_str());
        let on = Notifier::from_vars(p, Some("3000000"), Some("42"), 42).unwrap();
        assert_eq!(on.watchdog_interval(), Some(Duration::from_millis(1500)));
        let no_pid = Notifier::from_vars(p, Some("200000"), None, 42).unwrap();
        assert_eq!(no_pid.watchdog_interval(), Some(Duration::from_millis(100)));
        let other = Notifier::from_vars(p, Some("3000000"), Some("43"), 42).unwrap();
        assert_eq!(other.watchdog_interval(), None);
        let zero = Notifier::from_vars(p, Some("0"), None, 42).unwrap();
        assert_eq!(zero.watchdog_interval(), None);
        let junk = Notifier::from_vars(p, Some("soon"), None, 42).unwrap();
        assert_eq!(junk.watchdog_interval(), None);
    }

    #[test]
    fn monotonic_usec_is_clock_monotonic_in_microseconds() {
        // systemd compares RELOADING's MONOTONIC_USEC with its own reading
        // of this clock: the same clock, in the same unit.
        let read = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid, writable timespec owned by this frame.
            let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            assert_eq!(rc, 0);
            ts.tv_sec as u128 * 1_000_000 + ts.tv_nsec as u128 / 1_000
        };
        let before = read();
        let got = u128::from(monotonic_usec());
        let after = read();
        assert!(
            before <= got && got <= after,
            "{before} <= {got} <= {after}"
        );
    }

    #[test]
    fn a_relative_socket_path_is_refused_clearly() {
        let err = Notifier::from_vars(Some(OsStr::new("run/notify")), None, None, 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("run/notify"), "{err}");
    }

    #[test]
    fn a_missing_listener_is_an_error_not_a_hang() {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("nobody.sock");
        let n = Notifier::from_vars(Some(path.as_os_str()), None, None, 1).unwrap();
        assert!(n.ready("x").is_err());
    }
}
