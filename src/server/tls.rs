//! TLS on a server connection: a rustls `ServerConnection` driven sans-IO
//! between the socket and the connection's codec. Input: ciphertext read
//! from the socket, plaintext handed to the read path in the caller's
//! buffer. Output: the connection's `OutQueue` (its own bytes and bytes
//! shared with other subscribers, exactly as on plain TCP) is encrypted
//! per connection at flush time, a bounded amount ahead of the socket.
//! Plain connections never reach this file (`Conn::tls` is `None`).
//! A bridge dialling a TLS remote uses the same layer with a rustls
//! `ClientConnection` ([`TlsLayer::client`]): its codec's opening bytes
//! wait in the `OutQueue` until the handshake is done. A NATS server greets
//! in plain text and expects the handshake after that line: such a layer
//! ([`TlsLayer::client_after_greeting`]) lets bytes through unencrypted
//! until the codec opens its gate.
//!
//! Bounds: rustls holds at most one read's worth of ciphertext and its
//! plaintext is drained into the read path at once; on output, at most
//! `AHEAD` bytes of plaintext are encrypted before the socket has taken
//! what was encrypted, the rest waits in the `OutQueue`, where the
//! slow-consumer limit counts it. So a TLS peer can no more make the server
//! buffer without bound, or block the loop, than a plain one.
//!
//! It must not decide what a failure means for the connection: it records
//! it (`failure`) and the read path logs it and closes.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::conn::{Flushed, OutQueue, ReadEnd};

/// Plaintext encrypted ahead of the socket, at most.
const AHEAD: usize = 64 << 10;
/// The first byte of every TLS handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;

/// What a peer that speaks plain text on a TLS port is told (in plain
/// text, since it cannot read anything else) before the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainRefusal {
    /// A length-framed NACK 15 (a ducq client on a `tls` port).
    Framed,
    /// An HTTP 400 saying the port speaks HTTPS.
    Http,
    /// Nothing (an MQTT client on an `mqtts` port): no plain-text answer
    /// reads right in both MQTT versions, so the connection just closes
    /// (logged like the others).
    Close,
}

/// One connection's TLS state.
pub struct TlsLayer {
    conn: Connection,
    /// Since when the handshake runs; `None` once complete. The frame
    /// timeout applies to it as to an incomplete message.
    pub(crate) handshake_since: Option<Instant>,
    /// No byte has been read yet (the first one tells TLS from plain text).
    first: bool,
    refusal: PlainRefusal,
    /// Bytes written before anything else, unencrypted: a plain-text
    /// refusal.
    raw: Vec<u8>,
    /// Why the connection cannot go on, for the log.
    failure: Option<String>,
    /// The handshake completed during the last read and the client's
    /// certificate (if any) is not yet looked at.
    fresh: bool,
    /// Client side: the handshake completed and what the codec queued
    /// meanwhile is not encrypted yet (so the layer wants a flush).
    opened: bool,
    /// Client side, TLS after a plain-text greeting: until the codec sets
    /// it, the connection reads and writes in the clear.
    gate: Option<Rc<Cell<bool>>>,
}

impl TlsLayer {
    /// A layer for a freshly accepted connection.
    pub(crate) fn new(
        config: Arc<ServerConfig>,
        refusal: PlainRefusal,
        now: Instant,
    ) -> Result<TlsLayer, String> {
        let conn = ServerConnection::new(config).map_err(|e| format!("TLS: {e}"))?;
        Ok(TlsLayer {
            conn: conn.into(),
            handshake_since: Some(now),
            first: true,
            refusal,
            raw: Vec::new(),
            failure: None,
            fresh: false,
            opened: false,
            gate: None,
        })
    }

    /// A layer for a connection this process dials (a bridge), checking
    /// the remote's certificate against `name`. Its first flight is
    /// queued at once.
    pub(crate) fn client(
        config: Arc<ClientConfig>,
        name: &str,
        now: Instant,
    ) -> Result<TlsLayer, String> {
        let name: ServerName<'static> = crate::tls::server_name(name)?;
        let conn = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
        Ok(TlsLayer {
            conn: conn.into(),
            handshake_since: Some(now),
            // A server's first byte is not checked, nor answered in plain.
            first: false,
            refusal: PlainRefusal::Close,
            raw: Vec::new(),
            failure: None,
            fresh: false,
            opened: false,
            gate: None,
        })
    }

    /// As [`TlsLayer::client`], for a server that greets in plain text
    /// first (NATS): the connection is plain until `gate` is set, and the
    /// handshake (its timeout too) starts at the first read or flush after.
    pub(crate) fn client_after_greeting(
        config: Arc<ClientConfig>,
        name: &str,
        now: Instant,
        gate: Rc<Cell<bool>>,
    ) -> Result<TlsLayer, String> {
        let mut layer = TlsLayer::client(config, name, now)?;
        layer.handshake_since = None;
        layer.gate = Some(gate);
        Ok(layer)
    }

    /// Whether the connection is still in the clear (a greeting not yet
    /// answered); the first call after the gate opened starts the TLS part.
    pub(crate) fn plain_for_now(&mut self) -> bool {
        match &self.gate {
            Some(g) if !g.get() => true,
            Some(_) => {
                self.gate = None;
                self.handshake_since = Some(Instant::now());
                false
            }
            None => false,
        }
    }

    /// Whether the gate is still closed (nothing of TLS to write yet).
    fn gated(&self) -> bool {
        self.gate.as_ref().is_some_and(|g| !g.get())
    }

    /// The reason the connection failed, once (the read path logs it).
    pub(crate) fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    /// Once, after the handshake completed: the DER of the client's
    /// verified certificate, if it sent one.
    pub(crate) fn take_peer_cert(&mut self) -> Option<Option<Vec<u8>>> {
        if !std::mem::take(&mut self.fresh) {
            return None;
        }
        let der = self
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec());
        Some(der)
    }

    /// Encrypted bytes (or a refusal) waiting for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        !self.gated() && (!self.raw.is_empty() || self.conn.wants_write() || self.opened)
    }

    /// Bytes waiting here beyond the `OutQueue` (approximately: rustls does
    /// not say how much ciphertext it holds, only whether).
    pub(crate) fn pending(&self) -> usize {
        if self.gated() {
            return 0;
        }
        self.raw.len() + if self.conn.wants_write() { 1 } else { 0 }
    }

    /// Reads ciphertext until the socket is drained (`WouldBlock`), `limit`
    /// bytes of plaintext are in `buf`, or `budget` bytes of plaintext were
    /// read. Same contract as `Conn::read_into`, except that it always reads
    /// to `WouldBlock`: a short read says nothing about TLS records.
    pub(crate) fn read_into(
        &mut self,
        fd: RawFd,
        buf: &mut Vec<u8>,
        limit: usize,
        budget: usize,
    ) -> io::Result<(usize, ReadEnd)> {
        let mut total = 0;
        loop {
            // Plaintext first: rustls holds little, so drain it before
            // reading more ciphertext.
            while buf.len() < limit && total < budget {
                let room = (limit - buf.len()).min(budget - total).min(16 << 10);
                let start = buf.len();
                buf.resize(start + room, 0);
                let got = self
                    .conn
                    .reader()
                    .read(buf.get_mut(start..).unwrap_or(&mut []));
                match got {
                    Ok(0) => {
                        buf.truncate(start);
                        return Ok((total, ReadEnd::Eof));
                    }
                    Ok(n) => {
                        buf.truncate(start + n);
                        total += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        buf.truncate(start);
                        break;
                    }
                    Err(e) => {
                        buf.truncate(start);
                        return self.fail(total, format!("TLS: {e}"));
                    }
                }
            }
            if buf.len() >= limit || total >= budget {
                return Ok((total, ReadEnd::Full));
            }
            let mut plain = false;
            let mut src = FdIo {
                fd,
                first: &mut self.first,
                plain: &mut plain,
            };
            match self.conn.read_tls(&mut src) {
                Ok(0) => return Ok((total, ReadEnd::Eof)),
                Ok(_) if plain => return self.refuse_plain(total),
                Ok(_) => self.process(total)?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((total, ReadEnd::Drained))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if self.failure.is_some() {
                return Ok((total, ReadEnd::Failed));
            }
        }
    }

    /// Processes the records just read; a TLS error becomes the failure
    /// (rustls queues the alert that tells the peer).
    fn process(&mut self, total: usize) -> io::Result<()> {
        let handshaking = self.conn.is_handshaking();
        if let Err(e) = self.conn.process_new_packets() {
            let what = if handshaking {
                "TLS handshake failed"
            } else {
                "TLS error"
            };
            let _ = self.fail(total, format!("{what}: {e}"));
            return Ok(());
        }
        if handshaking && !self.conn.is_handshaking() {
            self.handshake_since = None;
            // A server's certificate names no user; only a server looks.
            match self.conn {
                Connection::Server(_) => self.fresh = true,
                Connection::Client(_) => self.opened = true,
            }
        }
        Ok(())
    }

    fn fail(&mut self, total: usize, why: String) -> io::Result<(usize, ReadEnd)> {
        self.failure = Some(why);
        Ok((total, ReadEnd::Failed))
    }

    /// A peer that spoke plain text: answer it in plain text, then close.
    fn refuse_plain(&mut self, total: usize) -> io::Result<(usize, ReadEnd)> {
        match self.refusal {
            PlainRefusal::Framed => {
                let nack = crate::proto::message::nack(crate::proto::State::EMsgInv);
                crate::transport::tcp::encode_frame(&nack, &mut self.raw);
            }
            PlainRefusal::Http => {
                let body = b"this port speaks HTTPS (TLS)\n";
                self.raw.extend_from_slice(
                    format!(
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                self.raw.extend_from_slice(body);
            }
            PlainRefusal::Close => {}
        }
        self.fail(total, "plain-text client on a TLS port (refused)".into())
    }

    /// Writes what is encrypted, encrypting more of `out` (at most `AHEAD`
    /// bytes ahead of the socket) until everything is written or the socket
    /// is full. Before the handshake is done, `out` waits.
    pub(crate) fn flush(&mut self, fd: RawFd, out: &mut OutQueue) -> io::Result<Flushed> {
        self.opened = false;
        while !self.raw.is_empty() {
            let n = write_fd(fd, &self.raw)?;
            match n {
                None => return Ok(Flushed::Blocked),
                Some(0) => return Err(io::ErrorKind::WriteZero.into()),
                Some(n) => {
                    self.raw.drain(..n.min(self.raw.len()));
                }
            }
        }
        loop {
            while self.conn.wants_write() {
                let mut dst = FdIo {
                    fd,
                    first: &mut false,
                    plain: &mut false,
                };
                match self.conn.write_tls(&mut dst) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if self.failure.is_some() || self.conn.is_handshaking() || out.pending() == 0 {
                if out.pending() == 0 {
                    out.finished();
                }
                return Ok(Flushed::Done);
            }
            let mut ahead = 0;
            while ahead < AHEAD && out.pending() > 0 {
                let n = out.write_front(&mut self.conn.writer(), AHEAD - ahead)?;
                if n == 0 {
                    break;
                }
                out.advance(n);
                ahead += n;
            }
        }
    }
}

/// `read`/`write` on a raw descriptor for rustls' `read_tls`/`write_tls`.
/// On the first read it notes whether the peer's first byte can start a
/// TLS handshake at all.
struct FdIo<'a> {
    fd: RawFd,
    first: &'a mut bool,
    plain: &'a mut bool,
}

impl Read for FdIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is a valid, writable slice of `buf.len()` bytes and
        // read(2) writes at most that many.
        let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if std::mem::take(self.first) && n > 0 && buf.first() != Some(&HANDSHAKE_RECORD) {
            *self.plain = true;
        }
        Ok(n)
    }
}

impl Write for FdIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_fd(self.fd, buf)?.ok_or_else(|| io::ErrorKind::WouldBlock.into())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One `send(2)`: `Some(n)` written, `None` when the socket is full.
fn write_fd(fd: RawFd, buf: &[u8]) -> io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is a valid slice for the duration of the call, which
        // only reads it. MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE.
        let n = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock => return Ok(None),
            io::ErrorKind::Interrupted => {}
            _ => return Err(e),
        }
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
pub(crate) mod tests;
