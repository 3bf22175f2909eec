//! Process-level helpers for programs that run a server: stop on SIGINT and
//! SIGTERM, and raise the open-file limit so thousands of clients fit. These
//! touch process-wide state and are for `main`, never for library code paths.

use std::io;

use super::reactor::StopHandle;

/// Blocks SIGINT and SIGTERM in the calling thread (and every thread it
/// creates afterwards) and starts a thread that waits for them and stops
/// the reactor. Call it from `main` before starting other threads.
pub fn stop_on_signals(handle: StopHandle) -> io::Result<()> {
    // SAFETY: `set` is initialised by sigemptyset before use; the calls only
    // read and write that local set and the calling thread's signal mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
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
            if rc == 0 {
                handle.stop();
                return;
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

/// Blocks SIGHUP in the calling thread and the threads it creates
/// afterwards, so it neither kills the process nor lands in a thread that
/// does not wait for it. Call it first thing in `main`.
pub fn block_sighup() -> io::Result<libc::sigset_t> {
    // SAFETY: as in `stop_on_signals`: a local set, initialised before use,
    // and the calling thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGHUP);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(set)
    }
}

/// Starts a thread that asks the reactor to reload its configuration at
/// each SIGHUP (blocked first, see [`block_sighup`]).
pub fn reload_on_sighup(handle: super::reactor::ReloadHandle) -> io::Result<()> {
    let set = block_sighup()?;
    std::thread::Builder::new()
        .name("ducq-sighup".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is a valid signal set owned by this closure;
            // `sig` is a valid out-pointer.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                handle.request();
            }
        })?;
    Ok(())
}
