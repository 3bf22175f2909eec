//! One non-blocking benchmark connection: a loopback socket, its protocol
//! codec, an input buffer decoded in place and a pending output buffer.
//! Reads and writes run until `WouldBlock` (mio is edge-triggered); nothing
//! here waits, so one thread can drive thousands of these.
//!
//! With `--tls-ca` every connection speaks TLS (rustls, driven sans-IO like
//! the server does): plaintext is encrypted at most `TLS_AHEAD` bytes ahead
//! of the socket, so `pending` still counts what the broker has not taken.

use std::io::{ErrorKind, Read, Write};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mio::net::TcpStream;

use super::wire::{new_wire, Endpoint, Event, Kind, Wire};

/// Time allowed for one TCP connect on loopback.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Plaintext encrypted ahead of the socket, at most.
const TLS_AHEAD: usize = 64 << 10;

/// The TLS client configuration every connection uses, once set.
static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();

/// Makes every connection of this run speak TLS, trusting the CA
/// certificates in PEM file `ca`.
pub fn use_tls(ca: &str) -> Result<(), String> {
    let files = ducq::tls::ClientTlsFiles {
        ca: Some(ca.to_owned()),
        cert_key: None,
    };
    let config = ducq::tls::client_config(&files)?;
    TLS.set(config)
        .map_err(|_| "TLS configured twice".to_string())
}

/// nats-server (before 2.10's `handshake_first`, and by default after)
/// sends its `INFO` line in plain text and starts TLS only once the client
/// has read it: read that line, one byte at a time so nothing of the
/// handshake is taken, and check the server asks for TLS. The codec never
/// needs the INFO line.
fn plain_info(sock: &mut std::net::TcpStream) -> Result<(), String> {
    sock.set_read_timeout(Some(CONNECT_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if line.len() > 64 << 10 {
            return Err("NATS INFO line too long".into());
        }
        match sock.read(&mut byte) {
            Ok(0) => return Err("NATS server closed before its INFO line".into()),
            Ok(_) => line.extend_from_slice(&byte),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading NATS INFO: {e}")),
        }
    }
    let info = String::from_utf8_lossy(&line);
    if !info.starts_with("INFO ") {
        return Err(format!("expected a NATS INFO line, got {info:?}"));
    }
    if !info.contains("\"tls_required\":true") {
        return Err("the NATS server does not offer TLS on this port".into());
    }
    sock.set_read_timeout(None).map_err(|e| e.to_string())
}

/// A connection to a broker.
pub struct Conn {
    /// The socket, registered with a `mio::Poll` by the owner.
    pub sock: TcpStream,
    /// The protocol codec.
    pub wire: Box<dyn Wire>,
    inbuf: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    out_pos: usize,
    tls: Option<Box<rustls::ClientConnection>>,
}

/// What one [`Conn::read`] call saw.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    /// Bytes read from the socket.
    pub bytes: usize,
    /// The peer closed its side.
    pub eof: bool,
}

impl Conn {
    /// Connects to `ep` (a loopback address) with TCP_NODELAY and a codec
    /// named `name`; `buf` is the initial input buffer size.
    pub fn connect(ep: &Endpoint, name: &str, buf: usize) -> Result<Conn, String> {
        let wire = new_wire(ep, name)?;
        let mut std_sock = std::net::TcpStream::connect_timeout(&ep.addr, CONNECT_TIMEOUT)
            .map_err(|e| format!("connect {}: {e}", ep.addr))?;
        std_sock.set_nodelay(true).map_err(|e| e.to_string())?;
        if TLS.get().is_some() && ep.kind == Kind::Nats {
            plain_info(&mut std_sock)?;
        }
        std_sock.set_nonblocking(true).map_err(|e| e.to_string())?;
        let tls = match TLS.get() {
            Some(config) => {
                let name = rustls::pki_types::ServerName::IpAddress(ep.addr.ip().into());
                let c = rustls::ClientConnection::new(Arc::clone(config), name)
                    .map_err(|e| format!("TLS: {e}"))?;
                Some(Box::new(c))
            }
            None => None,
        };
        Ok(Conn {
            tls,
            sock: TcpStream::from_std(std_sock),
            wire,
            inbuf: vec![0; buf.max(256)],
            start: 0,
            end: 0,
            out: Vec::new(),
            out_pos: 0,
        })
    }

    /// Queues the session opening; returns whether the broker confirms it.
    pub fn hello(&mut self) -> bool {
        self.wire.hello(&mut self.out)
    }

    /// Queues a subscription to `topic`.
    pub fn subscribe(&mut self, topic: &str) {
        self.wire.subscribe(topic, &mut self.out);
    }

    /// Queues one publication.
    pub fn publish(&mut self, topic: &str, payload: &[u8]) {
        self.wire.publish(topic, payload, &mut self.out);
    }

    /// Bytes encoded but not yet written.
    pub fn pending(&self) -> usize {
        let tls = self.tls.as_ref().is_some_and(|t| t.wants_write());
        self.out.len() - self.out_pos + usize::from(tls)
    }

    /// Writes pending output until done or `WouldBlock`; returns bytes written.
    pub fn flush(&mut self) -> Result<usize, String> {
        if self.tls.is_some() {
            return self.flush_tls();
        }
        let mut written = 0;
        while self.out_pos < self.out.len() {
            match self.sock.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err("write returned 0".into()),
                Ok(n) => {
                    self.out_pos += n;
                    written += n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        } else if self.out_pos > (1 << 20) {
            // Keep the buffer from creeping forward forever.
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        Ok(written)
    }

    /// `flush` over TLS: write what is encrypted, encrypt more, until the
    /// socket is full or everything is written. Returns ciphertext bytes.
    fn flush_tls(&mut self) -> Result<usize, String> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(0);
        };
        let mut written = 0;
        loop {
            while tls.wants_write() {
                match tls.write_tls(&mut self.sock) {
                    Ok(0) => return Err("write returned 0".into()),
                    Ok(n) => written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(written),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("write: {e}")),
                }
            }
            if self.out_pos == self.out.len() {
                self.out.clear();
                self.out_pos = 0;
                return Ok(written);
            }
            let end = self.out.len().min(self.out_pos + TLS_AHEAD);
            let n = tls
                .writer()
                .write(&self.out[self.out_pos..end])
                .map_err(|e| format!("TLS write: {e}"))?;
            if n == 0 && !tls.wants_write() {
                // Before the handshake completes rustls may refuse more.
                return Ok(written);
            }
            self.out_pos += n;
        }
    }

    /// `read` over TLS: ciphertext until `WouldBlock`, plaintext decoded as
    /// it comes out.
    fn read_tls(
        &mut self,
        on: &mut impl FnMut(Event<'_>) -> Result<(), String>,
    ) -> Result<ReadOutcome, String> {
        let mut outcome = ReadOutcome::default();
        while let Some(tls) = self.tls.as_mut() {
            match tls.read_tls(&mut self.sock) {
                Ok(0) => {
                    outcome.eof = true;
                    break;
                }
                Ok(n) => {
                    outcome.bytes += n;
                    tls.process_new_packets().map_err(|e| format!("TLS: {e}"))?;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
            loop {
                self.make_room();
                let Some(tls) = self.tls.as_mut() else {
                    break;
                };
                match tls.reader().read(&mut self.inbuf[self.end..]) {
                    Ok(0) => {
                        outcome.eof = true;
                        break;
                    }
                    Ok(n) => {
                        self.end += n;
                        self.decode(on)?;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(format!("TLS read: {e}")),
                }
            }
        }
        self.decode(on)?;
        Ok(outcome)
    }

    /// Reads until `WouldBlock` or end of stream, decoding as it goes and
    /// handing each event to `on`. Replies the protocol requires are queued
    /// (call [`Conn::flush`] after).
    pub fn read(
        &mut self,
        mut on: impl FnMut(Event<'_>) -> Result<(), String>,
    ) -> Result<ReadOutcome, String> {
        if self.tls.is_some() {
            return self.read_tls(&mut on);
        }
        let mut outcome = ReadOutcome::default();
        loop {
            self.make_room();
            match self.sock.read(&mut self.inbuf[self.end..]) {
                Ok(0) => {
                    outcome.eof = true;
                    break;
                }
                Ok(n) => {
                    self.end += n;
                    outcome.bytes += n;
                    self.decode(&mut on)?;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        // A codec may have an event that needs no bytes (a handshake that
        // completed); give it its chance even when nothing was read.
        self.decode(&mut on)?;
        Ok(outcome)
    }

    fn decode(
        &mut self,
        on: &mut impl FnMut(Event<'_>) -> Result<(), String>,
    ) -> Result<(), String> {
        while let Some((n, ev)) = self
            .wire
            .decode(&mut self.inbuf[self.start..self.end], &mut self.out)?
        {
            self.start += n;
            on(ev)?;
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(())
    }

    /// Makes sure a read has a useful amount of space: moves a partial item
    /// to the front, and grows the buffer when one item does not fit.
    fn make_room(&mut self) {
        let free = self.inbuf.len() - self.end;
        if free >= self.inbuf.len() / 4 {
            return;
        }
        if self.start > 0 {
            self.inbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.inbuf.len() - self.end < self.inbuf.len() / 4 {
            let len = self.inbuf.len() * 2;
            self.inbuf.resize(len, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use super::plain_info;

    /// A server that sends `info` and then returns the first bytes the
    /// client sends after reading it.
    fn nats_like(info: &'static [u8]) -> (TcpStream, std::thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(info).unwrap();
            let mut next = vec![0; 8];
            let n = s.read(&mut next).unwrap_or(0);
            next.truncate(n);
            next
        });
        (TcpStream::connect(addr).unwrap(), t)
    }

    #[test]
    fn the_plain_info_line_is_read_whole_and_nothing_more() {
        let (mut c, t) = nats_like(b"INFO {\"server_id\":\"x\",\"tls_required\":true}\r\n");
        plain_info(&mut c).unwrap();
        // What follows is the client's: here the start of a ClientHello.
        c.write_all(&[0x16, 0x03, 0x01]).unwrap();
        assert_eq!(t.join().unwrap(), [0x16, 0x03, 0x01]);
    }

    #[test]
    fn a_server_without_tls_or_info_is_refused_clearly() {
        let (mut c, t) = nats_like(b"INFO {\"server_id\":\"x\"}\r\n");
        assert_eq!(
            plain_info(&mut c).unwrap_err(),
            "the NATS server does not offer TLS on this port"
        );
        drop(c);
        t.join().unwrap();
        let (mut c, t) = nats_like(b"+OK\r\n");
        assert_eq!(
            plain_info(&mut c).unwrap_err(),
            "expected a NATS INFO line, got \"+OK\\r\\n\""
        );
        drop(c);
        t.join().unwrap();
    }
}
