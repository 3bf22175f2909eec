//! Process-level helpers for programs that run a server: stop on SIGINT and
//! SIGTERM, take SIGHUP as a reload request, raise the open-file limit so
//! thousands of clients fit, and keep running past a file-size limit. These touch process-wide state and are for
//! `main`, never for library code paths.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::reactor::StopHandle;

/// Blocks SIGINT and SIGTERM in the calling thread (and every thread it
/// creates afterwards) and starts a thread that waits for them and stops
/// the reactor. Call it from `main` before starting other threads.
pub fn stop_on_signals(handle: StopHandle) -> io::Result<()> {
    wait_for_signals(handle, None)
}

/// A reload asked for by SIGHUP, taken by the reactor thread.
#[derive(Clone, Debug, Default)]
pub struct Hangup(Arc<AtomicBool>);

impl Hangup {
    /// Whether SIGHUP arrived since the last call (clears it).
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

/// `stop_on_signals`, and SIGHUP too: it no longer ends the process but
/// sets the returned flag and wakes the reactor, whose thread then does the
/// reload (so the reload runs between turns, with the hub to itself).
pub fn stop_and_reload_on_signals(handle: StopHandle) -> io::Result<Hangup> {
    let hangup = Hangup::default();
    wait_for_signals(handle, Some(hangup.clone()))?;
    Ok(hangup)
}

fn wait_for_signals(handle: StopHandle, hangup: Option<Hangup>) -> io::Result<()> {
    // SAFETY: `set` is initialised by sigemptyset before use; the calls only
    // read and write that local set and the calling thread's signal mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if hangup.is_some() {
            libc::sigaddset(&mut set, libc::SIGHUP);
        }
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        set
    };
    std::thread::Builder::new()
        .name("ducq-signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is a valid, initialised signal set owned by this
            // closure; `sig` is a valid out-pointer.
            let rc = unsafe { libc::sigwait(&set, &mut sig) };
            if rc != 0 {
                continue;
            }
            match &hangup {
                Some(h) if sig == libc::SIGHUP => {
                    h.0.store(true, Ordering::SeqCst);
                    handle.wake();
                }
                _ => {
                    handle.stop();
                    return;
                }
            }
        })?;
    Ok(())
}

/// Raises the soft limit on open files to the hard limit. Returns the new
/// soft limit.
pub fn raise_fd_limit() -> io::Result<u64> {
    // SAFETY: getrlimit/setrlimit read and write a plain struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(lim.rlim_cur as u64)
    }
}

/// Ignores SIGXFSZ, so a write past the file-size limit (`ulimit -f`,
/// systemd's `LimitFSIZE=`) fails with `EFBIG` instead of killing the
/// process: the queue store then refuses that turn's changes with a clear
/// NACK, as on a full disk, and works again once the limit is raised.
pub fn survive_file_size_limit() -> io::Result<()> {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler
    // code and touches nothing of ours.
    let old = unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    if old == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
