//! Ctrl-C in a client script: SIGINT and SIGTERM are caught for the whole
//! run of the script and become the Lua error `interrupted (signal N)`,
//! raised wherever the script is — in Lua code (an instruction hook checks
//! the flag), in `Ducq.run` (a self-pipe wakes its `poll(2)`), in a wait
//! for a message or in `Ducq.sleep` (they wait in slices). A script can
//! catch it with `pcall` to clean up; the original client's style calls
//! `finalize`. Uncaught, the script ends with status 128 + N.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// The signal caught (0: none).
static CAUGHT: AtomicI32 = AtomicI32::new(0);
/// The write end of the self-pipe (-1: none).
static WAKE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// The read end, polled by `Ducq.run`.
static WAKE_READ: AtomicI32 = AtomicI32::new(-1);

/// Longest a wait goes without looking at the flag.
pub(crate) const SLICE: Duration = Duration::from_millis(100);

extern "C" fn on_signal(sig: libc::c_int) {
    CAUGHT.store(sig, Ordering::SeqCst);
    let fd = WAKE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; `b` is a live byte; the
        // pipe is non-blocking, so a full pipe only drops the byte.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

const SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// The handlers in place while a script runs; the previous ones come back
/// when it is dropped.
pub(crate) struct Catch {
    old: [libc::sigaction; 2],
}

impl Catch {
    /// Catches SIGINT and SIGTERM (and unblocks them: a parent may have
    /// started us with them blocked).
    pub(crate) fn install() -> Catch {
        let mut fds = [-1; 2];
        // SAFETY: pipe2 writes two descriptors into the live array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } == 0 {
            WAKE_READ.store(fds[0], Ordering::SeqCst);
            WAKE_WRITE.store(fds[1], Ordering::SeqCst);
        }
        // SAFETY: zeroed sigaction structs and signal sets are valid
        // values; sigaction and pthread_sigmask read and write only these
        // live locals; the handler does only async-signal-safe things. No
        // SA_RESTART: a blocked call returns EINTR, so waits notice soon.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut act.sa_mask);
            let mut old: [libc::sigaction; 2] = std::mem::zeroed();
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for (sig, old) in SIGNALS.iter().zip(old.iter_mut()) {
                libc::sigaction(*sig, &act, old);
                libc::sigaddset(&mut set, *sig);
            }
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Catch { old }
        }
    }
}

impl Drop for Catch {
    fn drop(&mut self) {
        for (sig, old) in SIGNALS.iter().zip(self.old.iter()) {
            // SAFETY: puts back the handler `install` read, from a live
            // field.
            unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        }
        for fd in [&WAKE_WRITE, &WAKE_READ] {
            let fd = fd.swap(-1, Ordering::SeqCst);
            if fd >= 0 {
                // SAFETY: the descriptor came from pipe2 and is closed once
                // (swapped out first).
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// The signal caught, if any.
pub(crate) fn caught() -> Option<i32> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The Lua error for a caught signal.
pub(crate) fn check() -> mlua::Result<()> {
    match caught() {
        Some(sig) => Err(mlua::Error::runtime(format!("interrupted (signal {sig})"))),
        None => Ok(()),
    }
}

/// The descriptor that becomes readable when a signal is caught.
pub(crate) fn wake_fd() -> Option<RawFd> {
    Some(WAKE_READ.load(Ordering::SeqCst)).filter(|&fd| fd >= 0)
}

/// Sleeps `d`, in slices, ending early with the error when a signal comes.
pub(crate) fn sleep(d: Duration) -> mlua::Result<()> {
    let end = std::time::Instant::now() + d;
    loop {
        check()?;
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(SLICE));
    }
}
