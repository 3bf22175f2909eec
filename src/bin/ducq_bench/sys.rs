//! The few operating-system facts the bench needs: more file descriptors
//! for thousands of idle connections, and a broker's resident memory and
//! CPU time read from /proc. Linux only; each returns an error instead of
//! guessing.

/// Raises this process's soft RLIMIT_NOFILE to at least `want` (bounded by
/// the hard limit). Returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> Result<u64, String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call's duration.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
    }
    let target = (want as libc::rlim_t).min(lim.rlim_max);
    if lim.rlim_cur < target {
        lim.rlim_cur = target;
        // SAFETY: `lim` is a valid rlimit read just above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
    }
    // rlim_t is not u64 on every target.
    #[allow(clippy::unnecessary_cast)]
    let now = lim.rlim_cur as u64;
    Ok(now)
}

/// VmRSS of process `pid`, in KiB.
pub fn vm_rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{path}: no VmRSS line"))
}

/// CPU time process `pid` has used so far, in nanoseconds: the sum over
/// its threads of `/proc/PID/task/TID/schedstat`'s first field (time on a
/// CPU, at nanosecond resolution, where `stat`'s ticks are 10 ms). A
/// thread that ends between two readings takes its time with it; the
/// brokers measured keep their threads.
pub fn cpu_ns(pid: u32) -> Result<u64, String> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))?;
    let mut total = 0;
    for task in tasks {
        let path = task
            .map_err(|e| format!("{dir}: {e}"))?
            .path()
            .join("schedstat");
        // A thread may end between listing and reading: it no longer counts.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let ns: u64 = text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{}: unexpected {text:?}", path.display()))?;
        total += ns;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_time_grows_with_work() {
        // Work until the reading has grown by 10 ms, however long a busy
        // machine makes that take (a wall-clock spin could be descheduled
        // for most of its time); a reading that never grows fails at the
        // deadline.
        let before = cpu_ns(std::process::id()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut x = 0u64;
        let grown = loop {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            let now = cpu_ns(std::process::id()).unwrap();
            if now - before >= 10_000_000 {
                break true;
            }
            if std::time::Instant::now() > deadline {
                break false;
            }
        };
        assert!(grown, "CPU time stayed near {before} ns");
        assert!(cpu_ns(u32::MAX).is_err());
    }

    #[test]
    fn own_rss_is_readable() {
        assert!(vm_rss_kib(std::process::id()).unwrap() > 0);
    }
}
