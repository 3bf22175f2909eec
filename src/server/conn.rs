//! One client connection: its socket, its codec, its input and output
//! buffers, and the bookkeeping the reactor needs (identity, idle time,
//! close-after-flush). Buffers are allocated lazily and released when empty,
//! so an idle subscribed connection costs a few hundred bytes.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::net::TcpStream;

use crate::transport::Transport;

/// Output kept allocated after a full flush; larger buffers are released.
const KEEP_OUT_CAPACITY: usize = 16 << 10;

/// A connection identity: slab key plus a generation number, so a handle to
/// a closed connection is never mistaken for the one that reuses its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId {
    /// Slab key (and mio token).
    pub key: usize,
    /// Generation, unique for the life of the reactor.
    pub gen: u64,
}

/// The state of one client connection.
pub struct Conn {
    pub(crate) socket: TcpStream,
    pub(crate) transport: Box<dyn Transport>,
    pub(crate) peer: SocketAddr,
    pub(crate) gen: u64,
    /// Unprocessed input (a partial frame). Empty most of the time.
    pub(crate) input: Vec<u8>,
    /// Output not yet written; bytes before `out_pos` are already sent.
    pub(crate) out: Vec<u8>,
    pub(crate) out_pos: usize,
    /// Registered for WRITABLE as well as READABLE.
    pub(crate) want_write: bool,
    /// Queued in the hub's list of connections to flush.
    pub(crate) dirty: bool,
    /// Close once the output is written.
    pub(crate) close_after_flush: bool,
    /// The peer finished sending (EOF).
    pub(crate) peer_done: bool,
    /// Marked for closing; its input is ignored from now on.
    pub(crate) closing: bool,
    pub(crate) last_rx: Instant,
    /// Since when an incomplete message (or handshake) waits in `input`.
    pub(crate) partial_since: Option<Instant>,
    pub(crate) pinged: bool,
    /// Sequence number of the last publication delivered here (dedup when
    /// several of its patterns match one route).
    pub(crate) last_delivery: u64,
}

/// What a flush achieved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// Everything written.
    Done,
    /// The socket is full; wait for WRITABLE.
    Blocked,
}

impl Conn {
    pub(crate) fn new(
        socket: TcpStream,
        transport: Box<dyn Transport>,
        peer: SocketAddr,
        gen: u64,
        now: Instant,
    ) -> Conn {
        Conn {
            socket,
            transport,
            peer,
            gen,
            input: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            want_write: false,
            dirty: false,
            close_after_flush: false,
            peer_done: false,
            closing: false,
            last_rx: now,
            partial_since: None,
            pinged: false,
            last_delivery: 0,
        }
    }

    /// `<transport>:<ip>:<port>`, e.g. `TCP:127.0.0.1:50312`.
    pub fn id_string(&self) -> String {
        format!("{}:{}", self.transport.name(), self.peer)
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Bytes queued and not yet written.
    pub fn pending_output(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Reads until WouldBlock, EOF, `limit` bytes in `buf`, or `budget`
    /// bytes read this call. Returns (bytes read, eof).
    pub(crate) fn read_into(
        &mut self,
        buf: &mut Vec<u8>,
        limit: usize,
        budget: usize,
    ) -> io::Result<(usize, bool)> {
        let mut total = 0;
        while buf.len() < limit && total < budget {
            let want = (limit - buf.len()).min(64 << 10);
            buf.reserve(want);
            match read_spare(&self.socket, buf, want) {
                Ok(0) => return Ok((total, true)),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((total, false))
    }

    /// Writes pending output until done or WouldBlock.
    pub(crate) fn flush(&mut self) -> io::Result<Flushed> {
        while self.out_pos < self.out.len() {
            let pending = self.out.get(self.out_pos..).unwrap_or(&[]);
            match self.socket.write(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out_pos = 0;
        if self.out.capacity() > KEEP_OUT_CAPACITY {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
        Ok(Flushed::Done)
    }
}

/// Reads at most `want` bytes into the spare capacity of `buf` without
/// zero-filling it first (a 64 KiB memset per small message adds up).
fn read_spare(socket: &TcpStream, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let len = want.min(spare.len());
    // SAFETY: the pointer and length describe spare capacity owned by `buf`;
    // read(2) writes at most `len` bytes there and returns how many.
    let n = unsafe { libc::read(socket.as_raw_fd(), spare.as_mut_ptr().cast(), len) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: the kernel initialised exactly `n` bytes past the old length.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}
