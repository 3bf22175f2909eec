//! The few operating-system facts the bench needs: more file descriptors
//! for thousands of idle connections, and a broker's resident memory read
//! from /proc. Linux only; each returns an error instead of guessing.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_rss_is_readable() {
        assert!(vm_rss_kib(std::process::id()).unwrap() > 0);
    }
}
