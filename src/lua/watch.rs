//! The folder watcher behind hot reload: one inotify descriptor, non-blocking,
//! that the reactor polls with mio like any socket. It reports which names
//! changed in which watched folder and nothing more: it does not read files,
//! filter names or decide what to reload (the host does).

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// What a folder watch reacts to: a file written and closed, moved in,
/// deleted or moved out (editors that save through a temporary file and a
/// rename show up as a move in), and the folder itself deleted or moved.
const MASK: u32 = libc::IN_CLOSE_WRITE
    | libc::IN_MOVED_TO
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;

/// Size of `struct inotify_event` without its name.
const HEADER: usize = 16;

/// One thing the watcher saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// `name` in the folder watched as `wd` changed (written, moved in,
    /// deleted or moved out: the host looks at the file to know which).
    File {
        /// The watch descriptor of the folder.
        wd: i32,
        /// The file's name inside that folder.
        name: OsString,
    },
    /// The folder watched as `wd` is gone (deleted, moved, unmounted).
    Gone {
        /// The watch descriptor that ended.
        wd: i32,
    },
    /// The kernel dropped events: every watched folder must be rescanned.
    Overflow,
}

/// An inotify instance and its folder watches.
pub(crate) struct Watcher {
    file: File,
    buf: Vec<u8>,
}

impl Watcher {
    /// A watcher with no folder yet.
    pub(crate) fn new() -> io::Result<Watcher> {
        // SAFETY: inotify_init1 takes no pointer; it returns a new descriptor
        // or -1, checked before use.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created, is valid and owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Watcher {
            file: File::from(owned),
            buf: vec![0; 64 << 10],
        })
    }

    /// Watches `dir`; returns its watch descriptor (the same one when the
    /// folder is already watched).
    pub(crate) fn watch(&mut self, dir: &Path) -> io::Result<i32> {
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
        // SAFETY: the descriptor is ours and open; `c` is a NUL-terminated
        // string that outlives the call.
        let wd = unsafe { libc::inotify_add_watch(self.file.as_raw_fd(), c.as_ptr(), MASK) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(wd)
    }

    /// The descriptor to poll for readability.
    pub(crate) fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Reads every pending event (until the descriptor would block).
    pub(crate) fn drain(&mut self) -> io::Result<Vec<Change>> {
        let mut out = Vec::new();
        loop {
            match self.file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => parse(&self.buf[..n], &mut out),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        for c in &out {
            if let Change::Gone { wd } = *c {
                // A moved folder is still watched under its new name: end
                // that watch, its path is no longer the one we were given.
                // SAFETY: plain integers; an already ended watch gives an
                // error, which is ignored.
                unsafe { libc::inotify_rm_watch(self.file.as_raw_fd(), wd) };
            }
        }
        Ok(out)
    }
}

/// Decodes a buffer of `struct inotify_event` records: a 16-byte header
/// (wd, mask, cookie, len) then `len` bytes of NUL-padded name.
fn parse(mut buf: &[u8], out: &mut Vec<Change>) {
    let word = |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    while buf.len() >= HEADER {
        let wd = word(buf, 0) as i32;
        let mask = word(buf, 4);
        let len = word(buf, 12) as usize;
        let end = (HEADER + len).min(buf.len());
        let raw = &buf[HEADER..end];
        let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
        buf = &buf[end..];
        if mask & libc::IN_Q_OVERFLOW != 0 {
            out.push(Change::Overflow);
        } else if mask & (libc::IN_IGNORED | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0 {
            out.push(Change::Gone { wd });
        } else if !name.is_empty() && mask & libc::IN_ISDIR == 0 {
            out.push(Change::File {
                wd,
                name: OsString::from_vec(name.to_vec()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(wd: i32, mask: u32, name: &[u8], padded: usize) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&wd.to_ne_bytes());
        v.extend_from_slice(&mask.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&(padded as u32).to_ne_bytes());
        let mut n = name.to_vec();
        n.resize(padded, 0);
        v.extend_from_slice(&n);
        v
    }

    #[test]
    fn parses_names_overflow_and_ignored() {
        let mut buf = record(1, libc::IN_CLOSE_WRITE, b"a.lua", 16);
        buf.extend(record(1, libc::IN_MOVED_TO | libc::IN_ISDIR, b"sub", 16));
        buf.extend(record(-1, libc::IN_Q_OVERFLOW, b"", 0));
        buf.extend(record(2, libc::IN_IGNORED, b"", 0));
        buf.extend(record(1, libc::IN_DELETE, b"b.lua", 8));
        let mut out = Vec::new();
        parse(&buf, &mut out);
        assert_eq!(
            out,
            vec![
                Change::File {
                    wd: 1,
                    name: "a.lua".into()
                },
                Change::Overflow,
                Change::Gone { wd: 2 },
                Change::File {
                    wd: 1,
                    name: "b.lua".into()
                },
            ]
        );
    }

    #[test]
    fn a_truncated_record_does_not_panic() {
        let buf = record(1, libc::IN_CLOSE_WRITE, b"a.lua", 16);
        let mut out = Vec::new();
        parse(&buf[..20], &mut out);
        parse(&buf[..3], &mut out);
        assert_eq!(out.len(), 1);
    }
}
