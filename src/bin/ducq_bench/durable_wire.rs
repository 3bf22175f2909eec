//! The clients `durable` measures with, hand-encoded over blocking
//! sockets: the shared connection, stamps and client traits, and ducq's
//! queues (`enq`/`qsub`/`qack`) and `serve`/`req`. NATS is in
//! `durable_nats`, Redis in `durable_redis`. Only what the benchmark needs.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use super::durable::IO_TIMEOUT;

/// Bytes of the stamp at the start of each payload.
pub const STAMP: usize = 24;

/// A payload of `size` bytes: send time (ns since `epoch`) and sequence
/// number in hex, then padding.
pub fn stamped(epoch: Instant, seq: usize, size: usize) -> Vec<u8> {
    let mut p = format!(
        "{:016x}{:08x}",
        epoch.elapsed().as_nanos() as u64,
        seq as u32
    )
    .into_bytes();
    p.resize(size.max(STAMP), b'x');
    p
}

/// The sequence number and send time of a stamped payload.
pub fn unstamp(p: &[u8]) -> Option<(usize, u64)> {
    let t = std::str::from_utf8(p.get(..16)?).ok()?;
    let s = std::str::from_utf8(p.get(16..STAMP)?).ok()?;
    Some((
        usize::from_str_radix(s, 16).ok()?,
        u64::from_str_radix(t, 16).ok()?,
    ))
}

fn err(e: std::io::Error) -> String {
    e.to_string()
}

/// A blocking connection with buffered reads and writes.
pub struct Conn {
    r: BufReader<TcpStream>,
    w: BufWriter<TcpStream>,
}

impl Conn {
    pub(super) fn connect(addr: SocketAddr) -> Result<Conn, String> {
        let s =
            TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
        s.set_nodelay(true).map_err(err)?;
        s.set_read_timeout(Some(IO_TIMEOUT)).map_err(err)?;
        let w = s.try_clone().map_err(err)?;
        Ok(Conn {
            r: BufReader::with_capacity(256 << 10, s),
            w: BufWriter::with_capacity(256 << 10, w),
        })
    }
    pub(super) fn put(&mut self, b: &[u8]) -> Result<(), String> {
        self.w.write_all(b).map_err(err)
    }
    pub(super) fn flush(&mut self) -> Result<(), String> {
        self.w.flush().map_err(err)
    }
    /// Whether more input is already buffered.
    pub(super) fn buffered(&self) -> bool {
        !self.r.buffer().is_empty()
    }
    pub(super) fn line(&mut self) -> Result<Vec<u8>, String> {
        let mut l = Vec::new();
        if self.r.read_until(b'\n', &mut l).map_err(err)? == 0 {
            return Err("connection closed".into());
        }
        while l.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            l.pop();
        }
        Ok(l)
    }
    pub(super) fn exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut b = vec![0; n];
        self.r.read_exact(&mut b).map_err(err)?;
        Ok(b)
    }
    /// A ducq TCP frame.
    fn ducq_put(&mut self, body: &[u8]) -> Result<(), String> {
        self.put(format!("{}\n", body.len()).as_bytes())?;
        self.put(body)
    }
    fn ducq_next(&mut self) -> Result<Vec<u8>, String> {
        let l = self.line()?;
        let n: usize = std::str::from_utf8(&l)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("bad ducq frame")?;
        self.exact(n)
    }
    fn ducq_call(&mut self, body: &[u8]) -> Result<Vec<u8>, String> {
        self.ducq_put(body)?;
        self.flush()?;
        self.ducq_next()
    }
}

/// A durable queue implementation under test.
pub trait Durable {
    /// Makes an empty queue (deleting an earlier one).
    fn setup(&self, window: usize) -> Result<(), String>;
    /// A producer connection.
    fn producer(&self) -> Result<Box<dyn Producer + Send>, String>;
    /// A consumer connection holding up to `window` unacknowledged.
    fn consumer(&self, window: usize) -> Result<Box<dyn Consumer>, String>;
}

/// Enqueues, answered once durable.
pub trait Producer {
    /// Buffers one enqueue.
    fn enqueue(&mut self, payload: &[u8]) -> Result<(), String>;
    /// Sends what is buffered.
    fn flush(&mut self) -> Result<(), String>;
    /// Waits for the next enqueue's confirmation.
    fn confirm(&mut self) -> Result<(), String>;
}

/// Receives and acknowledges.
pub trait Consumer {
    /// The next messages (at least one), each acknowledged.
    fn receive(&mut self) -> Result<Vec<Vec<u8>>, String>;
    /// Ends cleanly (acks sent).
    fn close(&mut self) -> Result<(), String>;
}

/// A request/reply implementation under test.
pub trait Rpc {
    /// A serving member, ready to serve when returned.
    fn member(&self) -> Result<Box<dyn Member + Send>, String>;
    /// A requester.
    fn requester(&self) -> Result<Box<dyn Requester>, String>;
}

/// Echoes requests until its connection ends.
pub trait Member {
    /// Serves.
    fn serve(&mut self) -> Result<(), String>;
}

/// Sends requests and reads replies.
pub trait Requester {
    /// Buffers request `i`.
    fn request(&mut self, i: usize, payload: &[u8]) -> Result<(), String>;
    /// Sends what is buffered.
    fn flush(&mut self) -> Result<(), String>;
    /// The next reply's payload.
    fn reply(&mut self) -> Result<Vec<u8>, String>;
}

// ------------------------------------------------------------------ ducq

const DQ: &str = "bench";

/// ducq's durable queues.
pub struct DucqQueue(pub SocketAddr);

struct DucqProducer(Conn);
struct DucqConsumer(Conn);

impl Durable for DucqQueue {
    fn setup(&self, _: usize) -> Result<(), String> {
        let mut c = Conn::connect(self.0)?;
        c.ducq_call(format!("qdel {DQ}\n").as_bytes())?;
        let r = c.ducq_call(format!("qcreate {DQ}\nvisibility=60 max_deliveries=0").as_bytes())?;
        (r == b"ACK")
            .then_some(())
            .ok_or_else(|| format!("qcreate: {}", String::from_utf8_lossy(&r)))
    }
    fn producer(&self) -> Result<Box<dyn Producer + Send>, String> {
        Ok(Box::new(DucqProducer(Conn::connect(self.0)?)))
    }
    fn consumer(&self, window: usize) -> Result<Box<dyn Consumer>, String> {
        let mut c = Conn::connect(self.0)?;
        let r = c.ducq_call(format!("qsub {DQ}\n{window}").as_bytes())?;
        if r != b"ACK" {
            return Err(format!("qsub: {}", String::from_utf8_lossy(&r)));
        }
        Ok(Box::new(DucqConsumer(c)))
    }
}

impl Producer for DucqProducer {
    fn enqueue(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut m = format!("enq {DQ}\n").into_bytes();
        m.extend_from_slice(payload);
        self.0.ducq_put(&m)
    }
    fn flush(&mut self) -> Result<(), String> {
        self.0.flush()
    }
    fn confirm(&mut self) -> Result<(), String> {
        let r = self.0.ducq_next()?;
        r.iter()
            .all(u8::is_ascii_digit)
            .then_some(())
            .ok_or_else(|| format!("enq: {}", String::from_utf8_lossy(&r)))
    }
}

impl Consumer for DucqConsumer {
    fn receive(&mut self) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        loop {
            let m = self.0.ducq_next()?;
            if let Some(rest) = m.strip_prefix(format!("qmsg {DQ}\n").as_bytes()) {
                let nl = rest.iter().position(|&b| b == b'\n').ok_or("bad qmsg")?;
                let id = rest[..nl].split(|&b| b == b' ').next().unwrap_or_default();
                let mut ack = format!("qack {DQ}\n").into_bytes();
                ack.extend_from_slice(id);
                self.0.ducq_put(&ack)?;
                out.push(rest[nl + 1..].to_vec());
            } else if m != b"ACK" {
                return Err(format!("consumer got {}", String::from_utf8_lossy(&m)));
            }
            if !out.is_empty() && !self.0.buffered() {
                self.0.flush()?;
                return Ok(out);
            }
        }
    }
    fn close(&mut self) -> Result<(), String> {
        self.0.flush()
    }
}

/// ducq's serve/req.
pub struct DucqRpc(pub SocketAddr);

struct DucqMember(Conn);
struct DucqRequester(Conn);

impl Rpc for DucqRpc {
    fn member(&self) -> Result<Box<dyn Member + Send>, String> {
        let mut c = Conn::connect(self.0)?;
        let r = c.ducq_call(b"serve bench.rpc\n")?;
        (r == b"ACK").then_some(()).ok_or("serve refused")?;
        Ok(Box::new(DucqMember(c)))
    }
    fn requester(&self) -> Result<Box<dyn Requester>, String> {
        Ok(Box::new(DucqRequester(Conn::connect(self.0)?)))
    }
}

impl Member for DucqMember {
    fn serve(&mut self) -> Result<(), String> {
        loop {
            let m = self.0.ducq_next()?;
            let rest = m.strip_prefix(b"req bench.rpc\n").ok_or("not a request")?;
            let nl = rest.iter().position(|&b| b == b'\n').ok_or("bad request")?;
            let mut rep = b"rep ".to_vec();
            rep.extend_from_slice(&rest[..nl]);
            rep.extend_from_slice(&rest[nl..]);
            self.0.ducq_put(&rep)?;
            if !self.0.buffered() {
                self.0.flush()?;
            }
        }
    }
}

impl Requester for DucqRequester {
    fn request(&mut self, i: usize, payload: &[u8]) -> Result<(), String> {
        let mut m = format!("req bench.rpc\nc{i}\n").into_bytes();
        m.extend_from_slice(payload);
        self.0.ducq_put(&m)
    }
    fn flush(&mut self) -> Result<(), String> {
        self.0.flush()
    }
    fn reply(&mut self) -> Result<Vec<u8>, String> {
        let m = self.0.ducq_next()?;
        if !m.starts_with(b"rep ") {
            return Err(format!("requester got {}", String::from_utf8_lossy(&m)));
        }
        let nl = m.iter().position(|&b| b == b'\n').ok_or("bad rep")?;
        Ok(m[nl + 1..].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let epoch = Instant::now();
        let p = stamped(epoch, 77, 40);
        assert_eq!(p.len(), 40);
        let (seq, _) = unstamp(&p).unwrap();
        assert_eq!(seq, 77);
        assert_eq!(stamped(epoch, 1, 3).len(), STAMP);
        assert_eq!(unstamp(b"short"), None);
    }
}
