//! One client connection: its socket, its codec, its input buffer, its
//! output queue, and the bookkeeping the reactor needs (identity, idle time,
//! close-after-flush). Buffers are allocated lazily and released when empty,
//! so an idle subscribed connection costs a few hundred bytes.
//!
//! The output queue holds the connection's own bytes (replies its codec
//! encoded for it alone) and references to bytes shared with other
//! connections (a fan-out encoded once): a message published to N
//! subscribers is stored once and written N times with `sendmsg`, never
//! copied per subscriber.
//!
//! A TLS connection (`tls` is set) reads and writes through its
//! `server::tls::TlsLayer`, which encrypts the same queue per connection at
//! flush time; a plain one takes the direct path and pays one branch.
//!
//! Over 600 lines because about 580 of them are the unit tests of the
//! output queue, the read and the writes, kept beside the code they pin;
//! the code itself is ~700 since the TLS path joined it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Instant;

use super::auth::ConnAuth;
use super::socket::{PeerAddr, Socket};
use super::tls::TlsLayer;
use crate::transport::Transport;

/// Own output kept allocated after a full flush; larger buffers are released.
const KEEP_OUT_CAPACITY: usize = 4 << 10;
/// Queue slots kept allocated after a full flush.
const KEEP_SEGMENTS: usize = 8;
/// Shared bytes this small are copied behind the connection's own bytes
/// rather than referenced (which would first turn those into a segment).
const COPY_SHARED_BELOW: usize = 512;
/// Most buffers one `sendmsg` call gathers.
const MAX_IOV: usize = 64;

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
    pub(crate) socket: Socket,
    pub(crate) transport: Box<dyn Transport>,
    pub(crate) peer: PeerAddr,
    /// TLS state on a `tls`/`https` listener's connection.
    pub(crate) tls: Option<Box<TlsLayer>>,
    /// Who the peer is (user, anonymous policy) and its pending answer.
    pub(crate) auth: ConnAuth,
    pub(crate) gen: u64,
    /// Unprocessed input (a partial frame). Empty most of the time.
    pub(crate) input: Vec<u8>,
    /// When non-zero, `input` holds one large frame still arriving, this
    /// long in all: reads stop there, so the buffer holds that frame alone
    /// and can be shared as it is once complete.
    pub(crate) input_end: usize,
    /// Length of the last large frame this peer sent: the next read goes
    /// into a buffer of that size rather than the shared scratch buffer, so
    /// a stream of large frames is read without copying.
    pub(crate) frame_hint: usize,
    /// Output not yet written.
    pub(crate) out: OutQueue,
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
    /// Its queued output passed the high-water mark and has not yet
    /// drained to the low-water mark (the hub's back-pressure).
    pub(crate) congested: bool,
    /// How many congested queues hold this connection back: while
    /// non-zero it is not read.
    pub(crate) holds: u32,
    pub(crate) last_rx: Instant,
    /// Since when an incomplete message (or handshake) waits in `input`.
    pub(crate) partial_since: Option<Instant>,
    pub(crate) pinged: bool,
    /// `Transport::last_words` was asked (it is asked once).
    pub(crate) last_words_asked: bool,
    /// Sequence number of the last publication delivered here (dedup when
    /// several of its patterns match one route).
    pub(crate) last_delivery: u64,
    /// The address of the listener that accepted it, when known.
    pub(crate) listener: Option<SocketAddr>,
    /// When it was accepted.
    pub(crate) opened: Instant,
    /// Bytes read from and written to its socket.
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
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
        socket: Socket,
        transport: Box<dyn Transport>,
        peer: PeerAddr,
        gen: u64,
        now: Instant,
    ) -> Conn {
        let peer = match peer {
            PeerAddr::Unix { path, .. } => PeerAddr::Unix { path, n: gen },
            inet => inet,
        };
        Conn {
            socket,
            transport,
            peer,
            tls: None,
            auth: ConnAuth::default(),
            gen,
            input: Vec::new(),
            input_end: 0,
            frame_hint: 0,
            out: OutQueue::default(),
            want_write: false,
            dirty: false,
            close_after_flush: false,
            peer_done: false,
            closing: false,
            congested: false,
            holds: 0,
            last_rx: now,
            partial_since: None,
            pinged: false,
            last_words_asked: false,
            last_delivery: 0,
            listener: None,
            opened: now,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// `<transport>:<ip>:<port>`, e.g. `TCP:127.0.0.1:50312`. Over TLS the
    /// kinds read `TLS`, `HTTPS` and `WSS`; a Unix socket's client is
    /// `UNIX:<path>:<n>`.
    pub fn id_string(&self) -> String {
        format!("{}:{}", self.id_kind(), self.peer)
    }

    /// The part of the id before its `:`: the transport's name, or what TLS
    /// or a Unix socket make of it.
    fn id_kind(&self) -> &str {
        match (&self.peer, self.tls.is_some(), self.transport.name()) {
            (PeerAddr::Unix { .. }, _, "TCP") => "UNIX",
            (_, true, "TCP") => "TLS",
            (_, true, "HTTP") => "HTTPS",
            (_, true, "WS") => "WSS",
            (_, _, n) => n,
        }
    }

    /// Whether its input waits unread: held back by back-pressure, or
    /// until the answer to its `auth` is sent.
    pub(crate) fn input_held(&self) -> bool {
        self.holds > 0 || self.auth.held
    }

    /// The id as listings show it: `<user>@<id>` once authenticated.
    pub fn label(&self) -> String {
        match self.user() {
            Some(user) => format!("{user}@{}", self.id_string()),
            None => self.id_string(),
        }
    }

    /// Whether `id` names this connection, as [`Conn::id_string`] or
    /// [`Conn::label`] writes it (`to ID`, `unsub ID` accept both).
    pub fn answers_to(&self, id: &str) -> bool {
        let id = match (self.user(), id.split_once('@')) {
            (Some(user), Some((u, rest))) if u == user => rest,
            _ => id,
        };
        // Compared piece by piece: a scan for `to`/`unsub` asks every
        // connection, and formatting each id would allocate each time.
        let Some(addr) = id
            .strip_prefix(self.id_kind())
            .and_then(|r| r.strip_prefix(':'))
        else {
            return false;
        };
        let mut rest = StripWriter(addr);
        fmt::Write::write_fmt(&mut rest, format_args!("{}", self.peer)).is_ok() && rest.0.is_empty()
    }

    /// The transport's kind as ids show it (`TCP`, `WS`, `HTTP`, …).
    pub fn kind(&self) -> &str {
        self.transport.name()
    }

    /// Whether a message nobody asked for can be sent now (see
    /// `Transport::accepts_push`).
    pub fn accepts_push(&self) -> bool {
        self.transport.accepts_push()
    }

    /// Whether it reads direct messages and streamed parts (see
    /// `Transport::reads_ducq_messages`).
    pub fn reads_ducq_messages(&self) -> bool {
        self.transport.reads_ducq_messages()
    }

    /// The peer's IP address (unspecified, port 0, for a Unix socket's
    /// client: see [`Conn::peer_addr`]).
    pub fn peer(&self) -> SocketAddr {
        match &self.peer {
            PeerAddr::Inet(a) => *a,
            PeerAddr::Unix { .. } => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// The peer, IP or Unix socket.
    pub fn peer_addr(&self) -> &PeerAddr {
        &self.peer
    }

    /// The user this connection authenticated as, if any.
    pub fn user(&self) -> Option<&str> {
        self.auth.user.as_deref()
    }

    /// Bytes queued and not yet written.
    pub fn pending_output(&self) -> usize {
        self.out.pending() + self.tls.as_ref().map_or(0, |t| t.pending())
    }

    /// Whether a TLS connection holds encrypted bytes the socket has not
    /// taken yet (handshake records, an alert).
    pub(crate) fn tls_wants_write(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.wants_write())
    }

    /// The protocol it speaks (`TCP`, `WS`, `HTTP`, a C protocol's name).
    pub fn protocol(&self) -> &str {
        self.transport.name()
    }

    /// The address of the listener that accepted it, when known.
    pub fn listener(&self) -> Option<SocketAddr> {
        self.listener
    }

    /// How long ago it was accepted.
    pub fn age(&self) -> std::time::Duration {
        self.opened.elapsed()
    }

    /// Bytes read from its socket so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Bytes written to its socket so far.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// Reads until WouldBlock, EOF, `limit` bytes in `buf`, or `budget`
    /// bytes read this call; unless `to_end`, also stops after a read that
    /// returned less than asked for (the socket had no more). Returns the
    /// bytes read and why reading stopped.
    pub(crate) fn read_into(
        &mut self,
        buf: &mut Vec<u8>,
        limit: usize,
        budget: usize,
        to_end: bool,
    ) -> io::Result<(usize, ReadEnd)> {
        if let Some(tls) = &mut self.tls {
            // A NATS bridge reads the server's greeting in the clear.
            if !tls.plain_for_now() {
                return tls.read_into(self.socket.as_raw_fd(), buf, limit, budget);
            }
        }
        let mut total = 0;
        while buf.len() < limit && total < budget {
            // Whatever room the buffer already has (all of a large frame's
            // own buffer, all of the scratch buffer) within the budget, and
            // at least 64 KiB.
            let room = (buf.capacity() - buf.len()).min(budget - total);
            let want = (limit - buf.len()).min(room.max(64 << 10));
            buf.reserve(want);
            let got = read_spare(&self.socket, buf, want);
            if let Ok(n) = got {
                self.bytes_in += n as u64;
            }
            match got {
                Ok(0) => return Ok((total, ReadEnd::Eof)),
                Ok(n) if n < want && !to_end => return Ok((total + n, ReadEnd::Drained)),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((total, ReadEnd::Drained))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((total, ReadEnd::Full))
    }

    /// Writes pending output until done or WouldBlock, gathering the queued
    /// buffers into as few system calls as possible.
    pub(crate) fn flush(&mut self) -> io::Result<Flushed> {
        let fd = self.socket.as_raw_fd();
        if let Some(tls) = &mut self.tls {
            if !tls.plain_for_now() {
                return tls.flush(fd, &mut self.out);
            }
        }
        while self.out.pending() > 0 {
            match self.out.send_to(fd) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.bytes_out += n as u64;
                    self.out.advance(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.finished();
        Ok(Flushed::Done)
    }
}

/// Why `Conn::read_into` stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// The socket had nothing more (WouldBlock, or a short read): a new
    /// edge comes when more arrives.
    Drained,
    /// The peer closed its side.
    Eof,
    /// The buffer reached its limit or the budget ran out. The socket may
    /// still hold data and no new edge will announce it, so the caller
    /// must read again (now, or next turn).
    Full,
    /// The connection cannot go on (a TLS error, plain text on a TLS
    /// port): its last words are queued; close once they are written.
    Failed,
}

/// Reads at most `want` bytes into the spare capacity of `buf` without
/// zero-filling it first (a 64 KiB memset per small message adds up).
fn read_spare(socket: &Socket, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
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

/// Bytes several output queues can point into.
#[derive(Clone)]
pub(crate) enum Shared {
    /// A buffer the hub appends encoded frames to while it is shared. Bytes
    /// already handed out are never changed, only bytes added after them.
    Arena(Rc<RefCell<Vec<u8>>>),
    /// Bytes that never change (a large message body, shared with the
    /// last-message store).
    Frozen(Rc<Vec<u8>>),
}

impl Shared {
    /// Whether this is the buffer `other` refers to.
    fn is(&self, other: SharedRef<'_>) -> bool {
        match (self, other) {
            (Shared::Arena(a), SharedRef::Arena(b)) => Rc::ptr_eq(a, b),
            (Shared::Frozen(a), SharedRef::Frozen(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Start and length of the buffer. The pointer stays valid until the
    /// buffer is appended to or dropped; callers use it at once.
    fn raw(&self) -> Option<(*const u8, usize)> {
        match self {
            Shared::Arena(a) => a.try_borrow().ok().map(|v| (v.as_ptr(), v.len())),
            Shared::Frozen(f) => Some((f.as_ptr(), f.len())),
        }
    }

    /// Appends bytes `start..end` to `out`; false if out of range.
    #[cfg(test)]
    fn copy_range(&self, start: usize, end: usize, out: &mut Vec<u8>) -> bool {
        let borrowed = match self {
            Shared::Arena(a) => SharedRef::Arena(a),
            Shared::Frozen(f) => SharedRef::Frozen(f),
        };
        borrowed.copy_range(start, end, out)
    }
}

/// A borrowed [`Shared`], so a caller can offer bytes to a queue without
/// cloning the `Rc` first (the queue clones it only if it keeps it).
#[derive(Clone, Copy)]
pub(crate) enum SharedRef<'a> {
    /// See [`Shared::Arena`].
    Arena(&'a Rc<RefCell<Vec<u8>>>),
    /// See [`Shared::Frozen`].
    Frozen(&'a Rc<Vec<u8>>),
}

impl SharedRef<'_> {
    fn to_shared(self) -> Shared {
        match self {
            SharedRef::Arena(a) => Shared::Arena(Rc::clone(a)),
            SharedRef::Frozen(f) => Shared::Frozen(Rc::clone(f)),
        }
    }

    /// Appends bytes `start..end` to `out`; false if out of range.
    fn copy_range(self, start: usize, end: usize, out: &mut Vec<u8>) -> bool {
        let mut copy = |b: &[u8]| {
            b.get(start..end)
                .map(|b| out.extend_from_slice(b))
                .is_some()
        };
        match self {
            SharedRef::Arena(a) => a.try_borrow().is_ok_and(|v| copy(&v)),
            SharedRef::Frozen(f) => copy(f),
        }
    }
}

/// A range of shared bytes waiting to be written.
struct Segment {
    bytes: Shared,
    start: usize,
    end: usize,
}

/// What a connection has to send, in order: shared segments first, then the
/// connection's own bytes. Own bytes that must go before a shared segment
/// are turned into a segment of their own (moved, not copied), so the order
/// of everything queued is the order it was queued in.
#[derive(Default)]
pub(crate) struct OutQueue {
    segs: VecDeque<Segment>,
    /// Unwritten bytes in `segs`.
    seg_bytes: usize,
    /// Bytes encoded for this connection alone, after every segment.
    own: Vec<u8>,
    /// How much of `own` is written.
    own_pos: usize,
}

impl OutQueue {
    /// Bytes queued and not yet written.
    pub(crate) fn pending(&self) -> usize {
        self.seg_bytes + self.own.len().saturating_sub(self.own_pos)
    }

    /// The buffer a codec appends this connection's own bytes to.
    pub(crate) fn own(&mut self) -> &mut Vec<u8> {
        &mut self.own
    }

    /// Queues bytes `start..end` of `bytes` after everything queued so far.
    /// Consecutive ranges of one buffer become one segment.
    pub(crate) fn push_shared(&mut self, bytes: SharedRef<'_>, start: usize, end: usize) {
        if start >= end {
            return;
        }
        if self.own_pos >= self.own.len() {
            self.own.clear();
            self.own_pos = 0;
        } else {
            if end - start < COPY_SHARED_BELOW && bytes.copy_range(start, end, &mut self.own) {
                return;
            }
            self.seal_own();
        }
        self.seg_bytes += end - start;
        if let Some(last) = self.segs.back_mut() {
            if last.end == start && last.bytes.is(bytes) {
                last.end = end;
                return;
            }
        }
        self.segs.push_back(Segment {
            bytes: bytes.to_shared(),
            start,
            end,
        });
    }

    /// Turns the unwritten own bytes into a segment, so shared bytes can
    /// follow them.
    fn seal_own(&mut self) {
        let own = std::mem::take(&mut self.own);
        let (start, end) = (self.own_pos, own.len());
        self.own_pos = 0;
        if start < end {
            self.seg_bytes += end - start;
            self.segs.push_back(Segment {
                bytes: Shared::Arena(Rc::new(RefCell::new(own))),
                start,
                end,
            });
        }
    }

    /// Marks the first `n` pending bytes as written.
    pub(crate) fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.segs.front_mut() else {
                break;
            };
            let len = front.end - front.start;
            if n < len {
                front.start += n;
                self.seg_bytes -= n;
                return;
            }
            n -= len;
            self.seg_bytes -= len;
            self.segs.pop_front();
        }
        self.own_pos = (self.own_pos + n).min(self.own.len());
    }

    /// Writes the front of the queue (one segment, or the own bytes), at
    /// most `max` bytes, to `w` (a TLS layer encrypting it). Returns how
    /// many `w` took; the caller `advance`s by that much.
    pub(crate) fn write_front(&self, w: &mut impl io::Write, max: usize) -> io::Result<usize> {
        let take = |b: &[u8], w: &mut dyn io::Write| {
            let b = b.get(..b.len().min(max)).unwrap_or(b);
            if b.is_empty() {
                Ok(0)
            } else {
                w.write(b)
            }
        };
        match self.segs.front() {
            Some(seg) => match &seg.bytes {
                Shared::Arena(a) => {
                    let v = a
                        .try_borrow()
                        .map_err(|_| io::Error::other("arena in use"))?;
                    take(v.get(seg.start..seg.end).unwrap_or(&[]), w)
                }
                Shared::Frozen(f) => take(f.get(seg.start..seg.end).unwrap_or(&[]), w),
            },
            None => take(self.own.get(self.own_pos..).unwrap_or(&[]), w),
        }
    }

    /// Everything is written: reset, keeping only small buffers.
    pub(crate) fn finished(&mut self) {
        self.segs.clear();
        self.seg_bytes = 0;
        if self.segs.capacity() > KEEP_SEGMENTS {
            self.segs = VecDeque::new();
        }
        self.own_pos = 0;
        if self.own.capacity() > KEEP_OUT_CAPACITY {
            self.own = Vec::new();
        } else {
            self.own.clear();
        }
    }

    /// Drops everything queued and frees the buffers.
    pub(crate) fn clear(&mut self) {
        *self = OutQueue::default();
    }

    /// Frees the buffers of an empty queue (an idle connection).
    pub(crate) fn release(&mut self) {
        if self.pending() == 0 {
            self.clear();
        }
    }

    /// One `sendmsg` of as much pending output as fits in `MAX_IOV` buffers
    /// (`send` when there is only one).
    fn send_to(&self, fd: std::os::fd::RawFd) -> io::Result<usize> {
        // One buffer, the usual case (a reply; one shared range, as every
        // subscriber of a fan-out has): send(2) does less work than
        // sendmsg(2) (no header or vector to copy in, about 6% of a small
        // send here), and no vector is built.
        let own = self.own.get(self.own_pos..).unwrap_or(&[]);
        match (self.segs.front(), self.segs.len(), own.is_empty()) {
            (None, _, false) => return send_one(fd, own.as_ptr(), own.len()),
            (Some(seg), 1, true) => {
                let (base, _) = seg
                    .bytes
                    .raw()
                    .filter(|&(_, len)| seg.start < seg.end && seg.end <= len)
                    .ok_or_else(|| io::Error::other("output segment out of range"))?;
                return send_one(fd, base.wrapping_add(seg.start), seg.end - seg.start);
            }
            _ => {}
        }
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut iov = [empty; MAX_IOV];
        let mut count = 0;
        for (slot, seg) in iov.iter_mut().zip(self.segs.iter()) {
            let (base, _) = seg
                .bytes
                .raw()
                .filter(|&(_, len)| seg.start < seg.end && seg.end <= len)
                .ok_or_else(|| io::Error::other("output segment out of range"))?;
            slot.iov_base = base.wrapping_add(seg.start).cast_mut().cast();
            slot.iov_len = seg.end - seg.start;
            count += 1;
        }
        if let (Some(slot), Some(own)) = (iov.get_mut(count), self.own.get(self.own_pos..)) {
            if !own.is_empty() {
                slot.iov_base = own.as_ptr().cast_mut().cast();
                slot.iov_len = own.len();
                count += 1;
            }
        }
        // SAFETY: an all-zero msghdr is valid (no address, no control data);
        // the fields that matter are set below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = count as _;
        // SAFETY: each of the `count` iovecs points into a buffer owned by
        // this queue (an `Rc` held by a segment, or `own`) and lies within
        // its length, checked above; nothing can append to or free those
        // buffers before the call returns (one thread, no callbacks), and
        // sendmsg only reads them. MSG_NOSIGNAL: a closed peer is an error
        // result, not a SIGPIPE to the host process.
        let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// One send(2) of `len` bytes at `ptr`, which must lie within a buffer the
/// caller holds unchanged until the call returns.
fn send_one(fd: std::os::fd::RawFd, ptr: *const u8, len: usize) -> io::Result<usize> {
    // SAFETY: `ptr..ptr + len` lies within a buffer the output queue holds
    // (checked by the caller), unchanged until the call returns (one thread,
    // no callbacks); send only reads it. MSG_NOSIGNAL: a closed peer is an
    // error result, not a SIGPIPE to the host process.
    let n = unsafe { libc::send(fd, ptr.cast(), len, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Takes what is written off the front of a string, failing at the first
/// difference: compares a `Display` with a string without allocating.
struct StripWriter<'a>(&'a str);

impl fmt::Write for StripWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.strip_prefix(s).ok_or(fmt::Error)?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn strip_writer_matches_a_display_exactly() {
        use std::fmt::Write as _;
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let matches = |text: &str| {
            let mut w = StripWriter(text);
            write!(w, "{addr}").is_ok() && w.0.is_empty()
        };
        assert!(matches("127.0.0.1:4000"));
        assert!(!matches("127.0.0.1:400"));
        assert!(!matches("127.0.0.1:40000"));
        assert!(!matches("127.0.0.2:4000"));
        assert!(!matches(""));
    }
    use std::io::Read;

    fn arena(bytes: &[u8]) -> Rc<RefCell<Vec<u8>>> {
        Rc::new(RefCell::new(bytes.to_vec()))
    }

    /// Everything pending, in order, as one buffer.
    fn contents(q: &OutQueue) -> Vec<u8> {
        let mut v = Vec::new();
        for s in &q.segs {
            assert!(s.bytes.copy_range(s.start, s.end, &mut v));
        }
        v.extend_from_slice(&q.own[q.own_pos..]);
        v
    }

    #[test]
    fn adjacent_ranges_of_one_buffer_coalesce() {
        let a = arena(b"0123456789");
        let mut q = OutQueue::default();
        q.push_shared(SharedRef::Arena(&a), 0, 3);
        q.push_shared(SharedRef::Arena(&a), 3, 7);
        assert_eq!(q.segs.len(), 1);
        q.push_shared(SharedRef::Arena(&a), 8, 10);
        assert_eq!(q.segs.len(), 2);
        assert_eq!(q.pending(), 9);
        assert_eq!(contents(&q), b"012345689");
    }

    #[test]
    fn own_bytes_keep_their_place() {
        let big = vec![b'x'; COPY_SHARED_BELOW];
        let a = arena(&big);
        let small = arena(b"small");
        // Small shared bytes behind own bytes are copied, from anywhere
        // in their buffer.
        let mut q = OutQueue::default();
        q.own().extend_from_slice(b"ACK");
        q.push_shared(SharedRef::Arena(&a), 300, 310);
        assert!(q.segs.is_empty());
        assert_eq!(q.own, b"ACKxxxxxxxxxx");
        let mut q = OutQueue::default();
        q.own().extend_from_slice(b"ACK");
        q.push_shared(SharedRef::Arena(&small), 0, 5);
        assert!(q.segs.is_empty());
        // Large ones turn the own bytes into a segment first.
        q.push_shared(SharedRef::Arena(&a), 0, big.len());
        assert_eq!(q.segs.len(), 2);
        q.own().extend_from_slice(b"END");
        let mut want = b"ACKsmall".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"END");
        assert_eq!(contents(&q), want);
        assert_eq!(q.pending(), want.len());
        q.advance(10);
        assert_eq!(contents(&q), want[10..]);
        q.advance(want.len() - 12);
        assert_eq!(contents(&q), b"ND");
        q.advance(2);
        assert_eq!(q.pending(), 0);
    }

    #[test]
    fn partly_written_own_bytes_are_sealed_from_where_they_stopped() {
        let big = vec![b'y'; 2 * COPY_SHARED_BELOW];
        let a = arena(&big);
        let mut q = OutQueue::default();
        q.own().extend_from_slice(b"abcdef");
        q.advance(4);
        q.push_shared(SharedRef::Arena(&a), 0, big.len());
        let mut want = b"ef".to_vec();
        want.extend_from_slice(&big);
        assert_eq!(contents(&q), want);
        assert_eq!(q.pending(), want.len());
    }

    #[test]
    fn flush_writes_everything_in_order() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let transport = Box::new(crate::transport::tcp::TcpCodec::new(1024));
        let mut conn = Conn::new(
            Socket::Tcp(mio::net::TcpStream::from_std(server)),
            transport,
            PeerAddr::Inet(peer),
            1,
            Instant::now(),
        );
        let body: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let a = arena(&body);
        conn.out.own().extend_from_slice(b"first");
        conn.out.push_shared(SharedRef::Arena(&a), 0, 1000);
        conn.out.push_shared(SharedRef::Arena(&a), 1000, 3000);
        conn.out.own().extend_from_slice(b"last");
        let total = conn.pending_output();
        assert_eq!(total, 3009);
        assert_eq!(conn.flush().unwrap(), Flushed::Done);
        assert_eq!(conn.pending_output(), 0);
        assert_eq!(conn.bytes_out(), 3009);
        let mut got = vec![0; total];
        (&client).read_exact(&mut got).unwrap();
        let mut want = b"first".to_vec();
        want.extend_from_slice(&body);
        want.extend_from_slice(b"last");
        assert_eq!(got, want);
    }

    /// Sets `socket`'s receive buffer to `size` bytes (the kernel doubles
    /// it), so that much can wait in it unread.
    pub(crate) fn set_rcvbuf(socket: &impl AsRawFd, size: libc::c_int) {
        // SAFETY: a valid socket and a pointer to a live c_int of its size.
        let r = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0);
    }

    /// A connected pair: our end as the server's socket (with a receive
    /// buffer of 1 MiB), the peer's end.
    fn socket_pair() -> (mio::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set_rcvbuf(&listener, 1 << 20);
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (mio::net::TcpStream::from_std(server), client)
    }

    #[test]
    fn more_buffers_than_one_sendmsg_gathers_are_all_written_in_order() {
        let (server, client) = socket_pair();
        let mut q = OutQueue::default();
        let mut want = Vec::new();
        // 3 * MAX_IOV segments of distinct buffers, own bytes between.
        for i in 0..3 * MAX_IOV {
            let bytes: Vec<u8> = (0..COPY_SHARED_BELOW + i).map(|j| (i + j) as u8).collect();
            let a = arena(&bytes);
            q.own().extend_from_slice(format!("[{i}]").as_bytes());
            want.extend_from_slice(format!("[{i}]").as_bytes());
            q.push_shared(SharedRef::Arena(&a), 0, bytes.len());
            want.extend_from_slice(&bytes);
        }
        q.own().extend_from_slice(b"end");
        want.extend_from_slice(b"end");
        assert_eq!(q.pending(), want.len());
        let fd = server.as_raw_fd();
        while q.pending() > 0 {
            let n = q.send_to(fd).unwrap();
            assert!(n > 0);
            q.advance(n);
        }
        let mut got = vec![0; want.len()];
        (&client).read_exact(&mut got).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn a_segment_outside_its_buffer_is_an_error_not_a_read() {
        let (server, _client) = socket_pair();
        let fd = server.as_raw_fd();
        let buf = Rc::new(b"abc".to_vec());
        for (start, end) in [(0, 4), (2, 2), (3, 1)] {
            let mut q = OutQueue::default();
            q.segs.push_back(Segment {
                bytes: Shared::Frozen(Rc::clone(&buf)),
                start,
                end,
            });
            q.seg_bytes = end.saturating_sub(start);
            let e = q.send_to(fd).unwrap_err();
            assert_eq!(
                e.to_string(),
                "output segment out of range",
                "{start}..{end}"
            );
        }
        // In range, it is written.
        let mut q = OutQueue::default();
        q.push_shared(SharedRef::Frozen(&buf), 1, 3);
        assert_eq!(q.send_to(fd).unwrap(), 2);
        // Behind another segment (one sendmsg for both), the same.
        let good = Rc::new(vec![b'g'; 600]);
        for (start, end) in [(0, 4), (2, 2), (3, 1)] {
            let mut q = OutQueue::default();
            q.push_shared(SharedRef::Frozen(&good), 0, 600);
            q.segs.push_back(Segment {
                bytes: Shared::Frozen(Rc::clone(&buf)),
                start,
                end,
            });
            q.seg_bytes += end.saturating_sub(start);
            let e = q.send_to(fd).unwrap_err();
            assert_eq!(
                e.to_string(),
                "output segment out of range",
                "{start}..{end}"
            );
        }
    }

    #[test]
    fn only_small_buffers_are_kept_after_a_full_flush() {
        // 4 KiB of own output stay allocated, one byte more does not.
        let mut q = OutQueue::default();
        q.own().reserve_exact(4 << 10);
        assert_eq!(q.own.capacity(), 4096);
        q.own().extend_from_slice(b"abc");
        q.advance(3);
        q.finished();
        assert_eq!((q.own.capacity(), q.own.len(), q.own_pos), (4096, 0, 0));
        q.own().reserve_exact(4097);
        q.finished();
        assert_eq!(q.own.capacity(), 0);

        // Queue slots: as many as KEEP_SEGMENTS are kept, more are not.
        for (count, kept) in [(KEEP_SEGMENTS, true), (KEEP_SEGMENTS + 1, false)] {
            let mut q = OutQueue::default();
            let bufs: Vec<_> = (0..count).map(|_| arena(&[0; COPY_SHARED_BELOW])).collect();
            for b in &bufs {
                q.push_shared(SharedRef::Arena(b), 0, COPY_SHARED_BELOW);
            }
            assert_eq!(q.segs.len(), count);
            let cap = q.segs.capacity();
            q.advance(q.pending());
            q.finished();
            assert_eq!((q.segs.len(), q.seg_bytes), (0, 0));
            assert_eq!(q.segs.capacity(), if kept { cap } else { 0 }, "{count}");
            // Nothing keeps the buffers once written.
            assert!(bufs.iter().all(|b| Rc::strong_count(b) == 1));
        }
    }

    #[test]
    fn release_frees_an_empty_queue_and_nothing_else() {
        let a = arena(&[1; COPY_SHARED_BELOW]);
        let mut q = OutQueue::default();
        q.own().extend_from_slice(b"pending");
        q.push_shared(SharedRef::Arena(&a), 0, COPY_SHARED_BELOW);
        q.release();
        assert_eq!(q.pending(), 7 + COPY_SHARED_BELOW);
        assert_eq!(Rc::strong_count(&a), 2);
        q.advance(q.pending());
        assert_eq!(q.pending(), 0);
        q.release();
        assert_eq!((q.own.capacity(), q.segs.capacity()), (0, 0));
        assert_eq!(Rc::strong_count(&a), 1);
        // clear drops even what is pending.
        q.own().extend_from_slice(b"dropped");
        q.push_shared(SharedRef::Arena(&a), 0, COPY_SHARED_BELOW);
        q.clear();
        assert_eq!((q.pending(), q.own.capacity(), q.segs.len()), (0, 0, 0));
        assert_eq!(Rc::strong_count(&a), 1);
    }

    #[test]
    fn advance_walks_segments_then_own_bytes() {
        let a = arena(&[b'a'; 600]);
        let b = arena(&[b'b'; 700]);
        let mut q = OutQueue::default();
        q.push_shared(SharedRef::Arena(&a), 0, 600);
        q.push_shared(SharedRef::Arena(&b), 0, 700);
        q.own().extend_from_slice(b"tail");
        assert_eq!(q.pending(), 1304);
        // Part of the first segment.
        q.advance(100);
        assert_eq!((q.segs.len(), q.seg_bytes, q.pending()), (2, 1200, 1204));
        assert_eq!(q.segs[0].start, 100);
        // The rest of it exactly.
        q.advance(500);
        assert_eq!((q.segs.len(), q.seg_bytes, q.pending()), (1, 700, 704));
        // Past the last segment into the own bytes.
        q.advance(702);
        assert_eq!(
            (q.segs.len(), q.seg_bytes, q.own_pos, q.pending()),
            (0, 0, 2, 2)
        );
        assert_eq!(contents(&q), b"il");
        // More than is queued is held to what is there.
        q.advance(10);
        assert_eq!((q.own_pos, q.pending()), (4, 0));
    }

    #[test]
    fn shared_ranges_join_only_when_adjacent_in_the_same_buffer() {
        let a = arena(&[b'a'; 2000]);
        let b = arena(&[b'b'; 2000]);
        let f = Rc::new(vec![b'f'; 2000]);
        let mut q = OutQueue::default();
        q.push_shared(SharedRef::Arena(&a), 0, 600);
        q.push_shared(SharedRef::Arena(&b), 600, 1200);
        q.push_shared(SharedRef::Arena(&a), 1200, 1800);
        q.push_shared(SharedRef::Frozen(&f), 1800, 2000);
        q.push_shared(SharedRef::Frozen(&f), 0, 600);
        assert_eq!(q.segs.len(), 5);
        q.push_shared(SharedRef::Frozen(&f), 600, 1300);
        assert_eq!(q.segs.len(), 5);
        assert_eq!((q.segs[4].start, q.segs[4].end), (0, 1300));
        // An empty range queues nothing.
        q.push_shared(SharedRef::Frozen(&f), 1300, 1300);
        assert_eq!((q.segs.len(), q.pending()), (5, 600 * 3 + 200 + 1300));
        // Own bytes all written are dropped rather than sealed.
        let mut q = OutQueue::default();
        q.own().extend_from_slice(b"done");
        q.advance(4);
        q.push_shared(SharedRef::Arena(&a), 0, 600);
        assert_eq!((q.segs.len(), q.own.len(), q.own_pos), (1, 0, 0));
        assert_eq!(contents(&q), vec![b'a'; 600]);
    }

    /// Waits until `n` bytes wait in `socket`'s receive queue.
    pub(crate) fn queued(socket: &impl AsRawFd, n: usize) {
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let mut avail: libc::c_int = 0;
            // SAFETY: FIONREAD writes one c_int to the pointer given.
            let r = unsafe { libc::ioctl(socket.as_raw_fd(), libc::FIONREAD, &mut avail) };
            assert_eq!(r, 0);
            if avail as usize >= n {
                return;
            }
            assert!(Instant::now() < deadline, "{avail} of {n} bytes arrived");
            std::thread::yield_now();
        }
    }

    #[test]
    fn reads_stop_short_unless_read_to_the_end() {
        let (server, mut client) = socket_pair();
        let transport = Box::new(crate::transport::tcp::TcpCodec::new(1024));
        let peer = client.local_addr().unwrap();
        let mut conn = Conn::new(
            Socket::Tcp(server),
            transport,
            PeerAddr::Inet(peer),
            1,
            Instant::now(),
        );
        std::io::Write::write_all(&mut client, &[7; 1000]).unwrap();
        queued(&conn.socket, 1000);
        // A short read: drained, without asking again.
        let mut buf = Vec::new();
        assert_eq!(
            conn.read_into(&mut buf, 1 << 20, 1 << 20, false).unwrap(),
            (1000, ReadEnd::Drained)
        );
        assert_eq!(buf, [7; 1000]);
        // The buffer's limit stops it, as Full.
        std::io::Write::write_all(&mut client, &[8; 3000]).unwrap();
        queued(&conn.socket, 3000);
        let mut buf = Vec::new();
        assert_eq!(
            conn.read_into(&mut buf, 100, 1 << 20, false).unwrap(),
            (100, ReadEnd::Full)
        );
        // Read to the end: past the short read, to WouldBlock.
        let mut rest = Vec::new();
        assert_eq!(
            conn.read_into(&mut rest, 1 << 20, 1 << 20, true).unwrap(),
            (2900, ReadEnd::Drained)
        );
        // So does the budget, after whole reads of at least 64 KiB.
        std::io::Write::write_all(&mut client, &[9; 200_000]).unwrap();
        queued(&conn.socket, 200_000);
        let mut big = Vec::new();
        assert_eq!(
            conn.read_into(&mut big, 1 << 20, 100_000, false).unwrap(),
            (128 << 10, ReadEnd::Full)
        );
        assert_eq!(
            conn.read_into(&mut big, 1 << 20, 1 << 20, false).unwrap(),
            (200_000 - (128 << 10), ReadEnd::Drained)
        );
        assert_eq!(big, vec![9; 200_000]);
        // A read takes the room the buffer already has (within the
        // budget), not more: 100 000 bytes here, then 64 KiB reads until
        // the budget is used, so 150 000 waiting with a budget of 120 000
        // are all read, and the socket found empty.
        std::io::Write::write_all(&mut client, &[6; 150_000]).unwrap();
        queued(&conn.socket, 150_000);
        let mut part = Vec::with_capacity(200_000);
        part.extend_from_slice(&[5; 100_000]);
        assert_eq!(
            conn.read_into(&mut part, 1 << 20, 120_000, false).unwrap(),
            (150_000, ReadEnd::Drained)
        );
        // The budget is checked between reads; each takes the buffer's
        // room left within the budget, at least 64 KiB (the buffer grows
        // as Vec does, to twice its size): 100 000, 65 536, 65 536, 65 536.
        std::io::Write::write_all(&mut client, &[4; 400_000]).unwrap();
        queued(&conn.socket, 400_000);
        let mut steps = Vec::with_capacity(100_000);
        assert_eq!(
            conn.read_into(&mut steps, 1 << 20, 250_000, false).unwrap(),
            (100_000 + 3 * 65_536, ReadEnd::Full)
        );
        let mut rest = Vec::new();
        conn.read_into(&mut rest, 1 << 20, 1 << 20, true).unwrap();
        assert_eq!(steps.len() + rest.len(), 400_000);
        // A short read ends a call that is not reading to the end, even
        // with the end of the stream right behind it.
        std::io::Write::write_all(&mut client, &[3; 1000]).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        queued(&conn.socket, 1000);
        let mut last = Vec::new();
        assert_eq!(
            conn.read_into(&mut last, 1 << 20, 1 << 20, false).unwrap(),
            (1000, ReadEnd::Drained)
        );
        assert_eq!(
            conn.read_into(&mut last, 1 << 20, 1 << 20, false).unwrap(),
            (0, ReadEnd::Eof)
        );
        assert_eq!(conn.id_string(), format!("TCP:{peer}"));
        assert_eq!(conn.peer(), peer);
    }

    /// A connection on our end of a loopback TCP pair, its peer's end.
    fn tcp_conn() -> (Conn, std::net::TcpStream) {
        let (server, client) = socket_pair();
        let transport = Box::new(crate::transport::tcp::TcpCodec::new(1024));
        let peer = client.local_addr().unwrap();
        let conn = Conn::new(
            Socket::Tcp(server),
            transport,
            PeerAddr::Inet(peer),
            1,
            Instant::now(),
        );
        (conn, client)
    }

    #[test]
    fn a_connection_answers_to_its_id_and_its_label_only() {
        let (mut conn, client) = tcp_conn();
        let id = format!("TCP:{}", client.local_addr().unwrap());
        assert!(conn.answers_to(&id));
        assert!(!conn.answers_to(&format!("{id}0")));
        assert!(!conn.answers_to(&id[..id.len() - 1]));
        assert!(!conn.answers_to(&format!("WS:{}", &id[4..])));
        assert!(!conn.answers_to(&format!("alice@{id}")));
        conn.auth.user = Some("alice".into());
        assert_eq!(conn.user(), Some("alice"));
        assert_eq!(conn.label(), format!("alice@{id}"));
        assert!(conn.answers_to(&id));
        assert!(conn.answers_to(&format!("alice@{id}")));
        assert!(!conn.answers_to(&format!("bob@{id}")));
        assert!(!conn.answers_to(&format!("alice@{id}0")));
    }

    #[test]
    fn age_counts_from_when_it_was_accepted() {
        let (server, client) = socket_pair();
        let opened = Instant::now() - std::time::Duration::from_secs(5);
        let conn = Conn::new(
            Socket::Tcp(server),
            Box::new(crate::transport::tcp::TcpCodec::new(1024)),
            PeerAddr::Inet(client.local_addr().unwrap()),
            1,
            opened,
        );
        assert!(conn.age() >= std::time::Duration::from_secs(5));
    }

    #[test]
    fn a_reset_is_a_read_error_and_a_write_error() {
        // The peer closes with our bytes unread: its kernel answers RST.
        let (mut conn, client) = tcp_conn();
        conn.out.own().extend_from_slice(b"unread");
        assert_eq!(conn.flush().unwrap(), Flushed::Done);
        queued(&client, 6);
        drop(client);
        let mut buf = Vec::new();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let e = loop {
            match conn.read_into(&mut buf, 1 << 20, 1 << 20, true) {
                Err(e) => break e,
                Ok((0, ReadEnd::Drained)) => {
                    assert!(Instant::now() < deadline, "no reset");
                    std::thread::yield_now();
                }
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        // Writing to it fails too, rather than waiting for room: one
        // buffer (send), or several (sendmsg).
        conn.out.own().extend_from_slice(b"more");
        let e = conn.flush().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(conn.pending_output(), 4);
        let body = Rc::new(vec![b'b'; 600]);
        conn.out.push_shared(SharedRef::Frozen(&body), 0, 600);
        conn.out.own().extend_from_slice(b"end");
        assert_eq!(conn.out.segs.len(), 2);
        let e = conn.flush().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(conn.pending_output(), 607);
    }

    /// A codec that takes no pushes and reads publications only.
    struct PublicationsOnly;

    impl Transport for PublicationsOnly {
        fn name(&self) -> &str {
            "PUBS"
        }
        fn decode<'a>(&mut self, _: &'a mut [u8], _: &mut Vec<u8>) -> crate::transport::Step<'a> {
            crate::transport::Step::need_more()
        }
        fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
            out.extend_from_slice(msg);
        }
        fn accepts_push(&self) -> bool {
            false
        }
        fn reads_ducq_messages(&self) -> bool {
            false
        }
    }

    #[test]
    fn what_a_connection_says_of_itself_comes_from_its_codec_and_socket() {
        let (mut conn, client) = tcp_conn();
        let peer = client.local_addr().unwrap();
        assert_eq!((conn.kind(), conn.protocol()), ("TCP", "TCP"));
        assert!(conn.accepts_push() && conn.reads_ducq_messages());
        assert_eq!(conn.peer_addr(), &PeerAddr::Inet(peer));
        assert_eq!(conn.listener(), None);
        let at: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        conn.listener = Some(at);
        assert_eq!(conn.listener(), Some(at));
        conn.transport = Box::new(PublicationsOnly);
        assert_eq!((conn.kind(), conn.protocol()), ("PUBS", "PUBS"));
        assert!(!conn.accepts_push() && !conn.reads_ducq_messages());
        assert_eq!(conn.id_string(), format!("PUBS:{peer}"));
    }

    #[test]
    fn a_partly_written_segment_is_gathered_from_where_it_stopped() {
        let (server, mut client) = socket_pair();
        let fd = server.as_raw_fd();
        // Room past the bytes queued: a wrong length would send what lies
        // there rather than fault.
        let mut bytes = Vec::with_capacity(2000);
        bytes.extend((0..600u32).map(|i| i as u8));
        let a = Rc::new(RefCell::new(bytes));
        let mut q = OutQueue::default();
        q.push_shared(SharedRef::Arena(&a), 0, 600);
        q.advance(100);
        q.own().extend_from_slice(b"end");
        assert_eq!(q.send_to(fd).unwrap(), 503);
        let mut got = vec![0; 503];
        client.read_exact(&mut got).unwrap();
        let mut want: Vec<u8> = (100..600u32).map(|i| i as u8).collect();
        want.extend_from_slice(b"end");
        assert_eq!(got, want);
    }
}
